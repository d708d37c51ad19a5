//! `flowhound detect` end to end: a spam bot sent through the real
//! collector is found, its alert's filter and window reproduce the
//! evidence in `flowhound query`, and bad rules exit 2 naming the spot.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{bin, collect, free_udp_port, generate_to, run_ok, terminate};
use flowhound_generate::{Scenario, Traffic};

const SEED: u64 = 7;

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("site.toml");
    std::fs::write(
        &p,
        "[site]\ninternal = [\"10.0.0.0/16\"]\n[roles]\nmail_servers = [\"10.0.0.25\"]\n",
    )
    .expect("config");
    p
}

/// The alert's filter and window, as a user pastes them into `query -s
/// srcip/flows`.
fn evidence(data: &std::path::Path, alert: &serde_json::Value) -> serde_json::Value {
    let out = run_ok(
        Command::new(bin())
            .args(["query", "-o", "json", "-s", "srcip/flows", "-t"])
            .arg(alert["window"].as_str().expect("window"))
            .arg("--data")
            .arg(data)
            .arg(alert["filter"].as_str().expect("filter")),
    );
    serde_json::from_slice(&out.stdout).expect("query JSON")
}

#[test]
fn a_spam_bot_is_found_and_its_evidence_reproduces_in_query() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let port = free_udp_port();
    let collector = collect(port, &data, &[]);
    // 60 000 flows over two hours of flow time, 5 % of them the bot's.
    generate_to(
        &[port],
        &[
            "--proto",
            "v9",
            "--flows",
            "60000",
            "--rate",
            "20000",
            "--time-scale",
            "2400",
            "--start",
            "2026-11-26T14:00:00Z",
            "--scenario",
            "spambot",
            "--seed",
            &SEED.to_string(),
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    terminate(collector);
    let cfg = config(dir.path());
    let out = run_ok(
        Command::new(bin())
            .arg("--config")
            .arg(&cfg)
            .args(["detect", "-o", "json", "--data"])
            .arg(&data),
    );
    let alerts: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON array");
    let alerts = alerts.as_array().expect("array");
    let bot = Traffic::new(SEED, 0, Scenario::SpamBot).incidents()[0]
        .host
        .to_string();
    let spam: Vec<&serde_json::Value> = alerts.iter().filter(|a| a["rule"] == "spam-bot").collect();
    assert_eq!(spam.len(), 1, "one alert for the incident: {alerts:?}");
    let a = spam[0];
    assert_eq!(a["host"], bot.as_str());
    assert_eq!(a["category"], "spam");
    assert_eq!(a["severity"], "high");
    for k in [
        "flows",
        "packets",
        "bytes",
        "distinct_peers",
        "distinct_ports",
    ] {
        assert!(a[k].is_u64(), "{k} is a plain integer: {a}");
    }
    assert!(a["window_start"].as_str().expect("start").ends_with('Z'));
    assert_eq!(a["top_ports"][0]["port"], 25);
    // Nothing else is flagged: the mail server is registered, and the
    // rest of the site is ordinary.
    assert!(
        alerts.iter().all(|x| x["host"] == bot.as_str()),
        "only the bot: {alerts:?}"
    );

    // The alert's filter and window, as a user pastes them into query.
    let q = evidence(&data, a);
    let text = q.to_string();
    assert!(text.contains(&bot), "{text}");
    let flows = q["statistics"][0]["rows"][0]["flows"].as_u64();
    assert_eq!(
        flows,
        a["flows"].as_u64(),
        "query agrees with the alert: {text}"
    );

    // The table names the alert and the evidence command.
    let out = run_ok(
        Command::new(bin())
            .arg("--config")
            .arg(&cfg)
            .args(["detect", "--data"])
            .arg(&data),
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("spam-bot") && table.contains(&bot),
        "{table}"
    );
    assert!(table.contains("flowhound query --data"), "{table}");

    // A blocklist in Spamhaus DROP's format holding the bot's busiest
    // destination: the bot is flagged for talking to it, and that alert's
    // filter reproduces its evidence too.
    let out = run_ok(
        Command::new(bin())
            .args([
                "query",
                "-o",
                "json",
                "-s",
                "dstip/flows",
                "-n",
                "1",
                "--data",
            ])
            .arg(&data)
            .arg(format!("src ip {bot}")),
    );
    let q: serde_json::Value = serde_json::from_slice(&out.stdout).expect("query JSON");
    let listed = q["statistics"][0]["rows"][0]["dstip"]
        .as_str()
        .expect("a destination")
        .to_string();
    std::fs::write(
        dir.path().join("drop.txt"),
        format!(
            "; Spamhaus DROP List (test)\n; Expires: never\n{listed}/32 ; SBL000001\n{}",
            // Networks nobody here talks to: the alert names only the one hit.
            (0..10)
                .map(|i| format!("240.0.{}.0/24 ; SBL00010{i}\n", 2 * i))
                .collect::<String>()
        ),
    )
    .expect("drop.txt");
    let cfg2 = dir.path().join("site-drop.toml");
    std::fs::write(
        &cfg2,
        format!(
            "{}[[detect.blocklist]]\nname = \"drop\"\nfile = \"drop.txt\"\n",
            std::fs::read_to_string(&cfg).expect("config")
        ),
    )
    .expect("config");
    let out = run_ok(
        Command::new(bin())
            .arg("--config")
            .arg(&cfg2)
            .args(["detect", "-o", "json", "--data"])
            .arg(&data),
    );
    let alerts: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON array");
    let listed_alerts: Vec<&serde_json::Value> = alerts
        .as_array()
        .expect("array")
        .iter()
        .filter(|a| a["rule"] == "drop-to")
        .collect();
    assert!(!listed_alerts.is_empty(), "{alerts:#}");
    assert!(
        listed_alerts.iter().all(|a| a["host"] == bot.as_str()),
        "{alerts:#}"
    );
    let a = listed_alerts[0];
    assert_eq!(a["category"], "blocklist");
    assert_eq!(
        a["filter"],
        format!("(dst ip in [ {listed}/32 ]) and src ip {bot}").as_str(),
        "the evidence names the listed network reached, not the whole list"
    );
    let q = evidence(&data, a);
    assert_eq!(
        q["statistics"][0]["rows"][0]["flows"].as_u64(),
        a["flows"].as_u64(),
        "the blocklist alert's filter reproduces it: {a}"
    );
}

#[test]
fn a_bad_rule_exits_2_with_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("local.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"x\"\nfilter = \"proto tcp and dst prot 25\"\nwindow = \"1h\"\nthreshold = { flows = 1 }\n",
    )
    .expect("rules");
    let out = Command::new(bin())
        .args(["detect", "--list-rules", "--rules"])
        .arg(&rules)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:1: rule \"x\": filter: filter error",
            rules.display()
        )),
        "{err}"
    );
    assert!(err.contains("^"), "the caret points at the token: {err}");

    let out = Command::new(bin())
        .args(["detect", "--data"])
        .arg(dir.path().join("none"))
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn list_rules_shows_the_pack_and_user_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("local.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"telnet\"\ncategory = \"scan\"\nfilter = \"dst port 23\"\nwindow = \"10m\"\nthreshold = { distinct_peers = 50 }\n",
    )
    .expect("rules");
    let out = run_ok(
        Command::new(bin())
            .args(["detect", "--list-rules", "-o", "json", "--rules"])
            .arg(&rules),
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let names: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(
        names.contains(&"sasser") && names.contains(&"telnet"),
        "{names:?}"
    );
}
