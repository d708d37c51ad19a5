//! Rules as users write them: the pack, their own files, tuning, and the
//! errors that name the file and the line.

use std::path::{Path, PathBuf};

use flowhound_detect::{parse_rules, RuleSet, Severity};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn the_builtin_pack_parses_and_covers_every_category() {
    let set = RuleSet::builtin().expect("the pack parses");
    let names: Vec<&str> = set.rules.iter().map(|r| r.name.as_str()).collect();
    for want in [
        "spam-bot",
        "mail-quiet-hours",
        "mail-baseline",
        "sasser",
        "blaster",
        "slammer",
        "conficker",
        "mass-mailer",
        "horizontal-scan",
        "vertical-scan",
        "ssh-brute-force",
        "rdp-brute-force",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    for cat in ["spam", "mail-anomaly", "worm", "scan"] {
        assert!(set.rules.iter().any(|r| r.category == cat), "{cat}");
    }
    for r in &set.rules {
        assert!(!r.description.is_empty(), "{} has no description", r.name);
        assert!(!r.references.is_empty(), "{} has no references", r.name);
        assert_eq!(r.origin, "built-in");
    }
    let raw = flowhound_detect::BUILTIN_RULES;
    assert_eq!(
        raw.matches("[[rule]]").count(),
        set.rules.len(),
        "every [[rule]] of the pack builds"
    );
}

#[test]
fn a_user_rule_file_adds_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(
        dir.path(),
        "local.toml",
        r#"
[[rule]]
name = "telnet-sweep"
category = "scan"
severity = "low"
filter = "proto tcp and dst port 23"
window = "10m"
threshold = { distinct_peers = 50 }
"#,
    );
    let set = RuleSet::load(None, std::slice::from_ref(&f)).expect("loads");
    let r = set
        .rules
        .iter()
        .find(|r| r.name == "telnet-sweep")
        .expect("added");
    assert_eq!(r.severity, Severity::Low);
    assert_eq!(r.window_ms, 600_000);
    assert_eq!(r.origin, format!("{}:2", f.display()));
    assert!(
        set.rules.iter().any(|r| r.name == "sasser"),
        "pack still there"
    );
}

#[test]
fn a_bad_rule_names_file_line_and_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "[[rule]]\nname = \"ok\"\nfilter = \"port 25\"\nwindow = \"1h\"\nthreshold = { flows = 1 }\n\n[[rule]]\nname = \"bad\"\nfilter = \"prot tcp\"\nwindow = \"1h\"\nthreshold = { flows = 1 }\n";
    let e = parse_rules(text, Path::new("local.toml")).expect_err("bad filter");
    let msg = e.to_string();
    assert!(
        msg.starts_with("local.toml:7: rule \"bad\": filter: filter error: unknown keyword 'prot'"),
        "{msg}"
    );
    assert!(e.is_user());

    let cases = [
        ("[[rule]]\nname = \"x\"\nfilter = \"any\"\nwindow = \"1h\"\nthreshold = { flowz = 1 }\n", "local.toml:5:", "unknown field `flowz`"),
        ("[[rule]]\nname = \"x\"\nfilter = \"any\"\nwindow = \"1 hour\"\nthreshold = { flows = 1 }\n", "local.toml:1:", "window \"1 hour\""),
        ("[[rule]]\nname = \"x\"\nfilter = \"any\"\nwindow = \"1h\"\n", "local.toml:1:", "needs a threshold"),
        ("[[rule]]\nname = \"x\"\nfilter = \"any\"\nwindow = \"1h\"\nkey = \"both\"\nthreshold = { flows = 1 }\n", "local.toml:1:", "key \"both\""),
        ("[[rule]]\nname = \"x\"\nfilter = \"any\"\nwindow = \"1h\"\nthreshold = { flows = 1, syn_only_share = 1.5 }\n", "local.toml:1:", "between 0 and 1"),
        ("[[rule]]\nname = \"x\"\nwindow = \"1h\"\nthreshold = { flows = 1 }\n", "local.toml:1:", "needs a filter"),
        ("[[rule]]\nname = \"x\"\nfilter = \"any\"\nwindow = \"1h\"\nthreshold = { flows = 1 }\n[[rule]]\nname = \"x\"\nfilter = \"any\"\nwindow = \"1h\"\nthreshold = { flows = 1 }\n", "local.toml:6:", "a second rule named"),
        ("[[rule]]\nname = \"x\"\nfilter = \"any\"\nwindow = \"7m\"\nthreshold = { flows = 1 }\nwhen = { baseline = { factor = 5.0, days = 7 } }\n", "local.toml:1:", "the window must divide a day"),
        ("[[rule]\nname = \"x\"\n", "local.toml:1:", ""),
    ];
    for (text, at, why) in cases {
        let e = parse_rules(text, Path::new("local.toml")).expect_err(text);
        let msg = e.to_string();
        assert!(
            msg.starts_with(at) && msg.contains(why),
            "{text:?} gave {msg:?}"
        );
    }
    let _ = dir;
}

#[test]
fn the_config_tunes_and_disables_builtin_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write(
        dir.path(),
        "flowhound.toml",
        r#"
[site]
internal = ["10.0.0.0/8"]

[detect.tune.spam-bot]
threshold = { flows = 50 }
severity = "critical"

[detect.tune.conficker]
enabled = false
"#,
    );
    let set = RuleSet::load(Some(&cfg), &[]).expect("loads");
    let spam = set
        .rules
        .iter()
        .find(|r| r.name == "spam-bot")
        .expect("spam");
    assert_eq!(spam.threshold.flows, 50);
    assert_eq!(spam.threshold.distinct_peers, 50, "untouched bounds stay");
    assert_eq!(spam.severity, Severity::Critical);
    assert!(spam.origin.starts_with("built-in, tuned at "));
    assert!(!set.rules.iter().any(|r| r.name == "conficker"));
    assert_eq!(set.disabled, vec!["conficker".to_string()]);

    let bad = write(
        dir.path(),
        "bad.toml",
        "[detect.tune.spambot]\nenabled = false\n",
    );
    let e = RuleSet::load(Some(&bad), &[]).expect_err("unknown rule");
    assert!(
        e.to_string()
            .contains("bad.toml:1: detect.tune.spambot: no built-in rule"),
        "{e}"
    );

    let bad = write(dir.path(), "bad2.toml", "[site]\n\n[detect]\nrulez = []\n");
    let e = RuleSet::load(Some(&bad), &[]).expect_err("unknown key");
    assert!(
        e.to_string().starts_with("bad2.toml:4:") || e.to_string().contains("rulez"),
        "{e}"
    );

    let bad = write(
        dir.path(),
        "bad3.toml",
        "[detect.tune.sasser]\nwindow = \"soon\"\n",
    );
    let e = RuleSet::load(Some(&bad), &[]).expect_err("bad tuning");
    assert!(
        e.to_string()
            .contains("bad3.toml:1: rule \"sasser\": window \"soon\""),
        "{e}"
    );
}

#[test]
fn blocklists_become_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "drop.txt",
        "; Spamhaus DROP\n192.0.2.0/24 ; SBL1\n198.51.100.0/24 ; SBL2\n",
    );
    let cfg = write(
        dir.path(),
        "flowhound.toml",
        "[[detect.blocklist]]\nname = \"drop\"\nfile = \"drop.txt\"\n",
    );
    let set = RuleSet::load(Some(&cfg), &[]).expect("loads");
    let to = set
        .rules
        .iter()
        .find(|r| r.name == "drop-to")
        .expect("drop-to");
    assert_eq!(to.category, "blocklist");
    assert_eq!(to.severity, Severity::High);
    let flow = flowhound_model::FlowRecord {
        src_ip: flowhound_model::addr_from_v4(0x0a00_0001),
        dst_ip: flowhound_model::addr_from_v4(0xc000_0205),
        ..Default::default()
    };
    assert!(to.filter.matches(&flow));
    assert!(set.rules.iter().any(|r| r.name == "drop-from"));

    let cfg = write(
        dir.path(),
        "missing.toml",
        "\n[[detect.blocklist]]\nname = \"drop\"\nfile = \"nope.txt\"\n",
    );
    let e = RuleSet::load(Some(&cfg), &[]).expect_err("missing list");
    assert!(
        e.to_string()
            .contains("missing.toml:2: detect.blocklist \"drop\": cannot read"),
        "{e}"
    );
}
