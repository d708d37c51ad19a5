//! The rule pack on a generated day sent through the real collector: every
//! seeded incident is found with the right category and window, and none
//! of the busy but honest look-alikes is flagged. Prints precision and
//! recall per rule.
//!
//! Real parts: UDP on 127.0.0.1, the collector's WAL and Parquet files, the
//! registry files of `../shared/registry` (countries for the foreign share).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use flowhound_collect::{start, CollectConfig};
use flowhound_detect::{detect, Alert, Context, RuleSet};
use flowhound_enrich::Config;
use flowhound_generate::{send_flows, Day, DayPlan, IncidentKind, Proto, Seed, Seeded, SendConfig};
use flowhound_model::Enricher;
use flowhound_store::{LocalStore, TimeWindow};

fn registry_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/registry");
    if dir.join("geo-whois-asn-country.mmdb").exists() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("FLOWHOUND_REQUIRE_SHARED").is_none(),
        "../shared is missing and FLOWHOUND_REQUIRE_SHARED is set"
    );
    eprintln!("skipping: no registry in {}", dir.display());
    None
}

/// The rule each incident is there to exercise.
fn intended(kind: IncidentKind) -> &'static str {
    match kind {
        IncidentKind::SpamBot => "spam-bot",
        IncidentKind::MailRelay => "mail-quiet-hours",
        IncidentKind::Sasser => "sasser",
        IncidentKind::Blaster => "blaster",
        IncidentKind::Slammer => "slammer",
        IncidentKind::Conficker => "conficker",
        IncidentKind::MassMailer => "mass-mailer",
        IncidentKind::HorizontalScan => "horizontal-scan",
        IncidentKind::VerticalScan => "vertical-scan",
        IncidentKind::SshBruteForce => "ssh-brute-force",
        IncidentKind::RdpBruteForce => "rdp-brute-force",
    }
}

fn config_text(day: &Day, registry: &std::path::Path) -> String {
    let mut roles = String::new();
    for (role, hosts) in day.site_roles() {
        let list: Vec<String> = hosts.iter().map(|h| format!("\"{h}\"")).collect();
        roles.push_str(&format!("{role} = [{}]\n", list.join(", ")));
    }
    format!(
        "[site]\ninternal = [\"10.0.0.0/16\"]\ntimezone = \"UTC\"\nquiet_hours = \"22:00-06:00\"\n\
         countries = [\"US\"]\n[roles]\n{roles}[registry]\ncountry = \"{}\"\n",
        registry.join("geo-whois-asn-country.mmdb").display()
    )
}

/// An alert finds an incident when it blames the incident's host, its
/// category is one the incident accepts (a worm's sweep is also a
/// horizontal scan), and its window overlaps the incident's activity.
fn finds(a: &Alert, s: &Seeded) -> bool {
    let Seed::Incident(_) = s.what else {
        return false;
    };
    let category_ok = s.categories.contains(&a.category.as_str())
        || (s.categories.contains(&"worm") && a.category == "scan");
    // The right window: it overlaps the activity and reaches past it by
    // less than the longest rule window (sliding windows start early).
    const SLACK_MS: i64 = 3_600_000;
    a.host == IpAddr::V4(s.host)
        && category_ok
        && a.window_start_ms < s.end_ms
        && a.window_end_ms > s.start_ms
        && a.window_start_ms >= s.start_ms - SLACK_MS
        && a.window_end_ms <= s.end_ms + SLACK_MS
}

#[test]
fn a_generated_day_every_incident_found_no_lookalike_flagged() {
    let Some(registry) = registry_dir() else {
        return;
    };
    let day_start = 1_764_547_200_000; // 2025-12-01T00:00:00Z
    let plan = DayPlan::new(day_start);
    let day = Day::new(&plan);
    let seeded: Vec<Seeded> = day.seeded().to_vec();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg_path = dir.path().join("flowhound.toml");
    std::fs::write(&cfg_path, config_text(&day, &registry)).expect("config");
    let config = Config::load(&cfg_path).expect("config parses");
    let registry: Arc<dyn Enricher> = Arc::new(config.load_registry().expect("registry"));

    // Through the real collector, over UDP on loopback.
    let data = dir.path().join("data");
    let mut c = CollectConfig::new(vec!["127.0.0.1:0".parse().expect("addr")], data.clone());
    c.file_interval = Duration::from_secs(5);
    c.enricher = Some(registry.clone());
    let running = start(c).expect("collector starts");
    let mut send = SendConfig::new(running.listen[0], Proto::V9);
    send.rate_flows_per_s = 150_000;
    let stop = AtomicBool::new(false);
    let sent = send_flows(&send, day, &stop).expect("sent");
    std::thread::sleep(Duration::from_millis(500));
    let metrics = running.metrics.clone();
    running.stop().expect("collector stops");
    assert_eq!(
        metrics.flows_written(),
        sent.flows,
        "the collector stored every flow sent"
    );

    let set = RuleSet::builtin().expect("pack");
    let ctx = Context {
        site: config.site.clone(),
        enricher: Some(registry),
    };
    let started = std::time::Instant::now();
    let found = detect(
        &LocalStore::new(&data),
        TimeWindow::new(day_start, day_start + 86_400_000),
        &set.rules,
        &ctx,
    )
    .expect("detect runs");
    let took = started.elapsed();
    eprintln!(
        "{} flows sent; {} rules ran in {:.2} s, {} skipped: {:?}",
        sent.flows,
        found.rules_run,
        took.as_secs_f64(),
        found.skipped.len(),
        found.skipped
    );
    for a in &found.alerts {
        eprintln!(
            "alert {:<16} {:<12} {:<15} {} – {}  flows {} peers {} ports {} syn {}% foreign {:?}",
            a.rule,
            a.category,
            a.host,
            flowhound_detect::iso_time(a.window_start_ms),
            flowhound_detect::iso_time(a.window_end_ms),
            a.flows,
            a.distinct_peers,
            a.distinct_ports,
            a.syn_only_percent,
            a.foreign_percent
        );
    }

    // Precision and recall per rule.
    let mut table: BTreeMap<String, (u32, u32, u32, u32)> = BTreeMap::new(); // tp, fp, found, intended
    for r in &set.rules {
        table.entry(r.name.clone()).or_default();
    }
    for a in &found.alerts {
        let e = table.entry(a.rule.clone()).or_default();
        if seeded.iter().any(|s| finds(a, s)) {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    for s in &seeded {
        if let Seed::Incident(kind) = s.what {
            let rule = intended(kind);
            let e = table.entry(rule.to_string()).or_default();
            e.3 += 1;
            if found.alerts.iter().any(|a| a.rule == rule && finds(a, s)) {
                e.2 += 1;
            }
        }
    }
    let mut report = format!(
        "{:<18} {:>9} {:>7} {:>7}\n",
        "rule", "precision", "recall", "alerts"
    );
    for (rule, (tp, fp, hit, want)) in &table {
        let p = if tp + fp == 0 {
            "-".to_string()
        } else {
            format!("{:.2}", *tp as f64 / (tp + fp) as f64)
        };
        let r = if *want == 0 {
            "-".to_string()
        } else {
            format!("{:.2}", *hit as f64 / *want as f64)
        };
        report.push_str(&format!("{rule:<18} {p:>9} {r:>7} {:>7}\n", tp + fp));
    }
    eprintln!("\n{report}");
    // For the end of scripts/test.sh, which prints it: cargo shows a
    // passing test's output to no one.
    let _ = std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("precision_recall.txt"),
        format!(
            "Precision and recall per rule on a generated day ({} flows, every incident and look-alike):\n{report}",
            sent.flows
        ),
    );

    let mut problems = Vec::new();
    for s in &seeded {
        match s.what {
            Seed::Incident(kind) => {
                if !found.alerts.iter().any(|a| finds(a, s)) {
                    problems.push(format!("missed {kind:?} by {} ({})", s.host, s.description));
                }
                if !found
                    .alerts
                    .iter()
                    .any(|a| a.rule == intended(kind) && finds(a, s))
                {
                    problems.push(format!(
                        "{} did not find {kind:?} by {}",
                        intended(kind),
                        s.host
                    ));
                }
            }
            Seed::Lookalike(kind) => {
                // The registered mail server is both a look-alike (busy by
                // day) and an incident (relaying at night): only an alert
                // in its honest hours that no incident explains counts.
                for a in found.alerts.iter().filter(|a| {
                    a.host == IpAddr::V4(s.host)
                        && a.window_start_ms < s.end_ms
                        && a.window_end_ms > s.start_ms
                        && !seeded.iter().any(|i| finds(a, i))
                }) {
                    problems.push(format!(
                        "look-alike {kind:?} {} flagged by {}",
                        s.host, a.rule
                    ));
                }
            }
        }
    }
    for a in &found.alerts {
        if !seeded.iter().any(|s| finds(a, s)) {
            problems.push(format!(
                "false alert: {} on {} ({})",
                a.rule, a.host, a.window
            ));
        }
        assert!(
            a.filter.contains(&a.host.to_string()),
            "the evidence filter names the host"
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
