//! `flowhound demo`, the README's first command, end to end: yesterday with
//! its seeded incidents through a collector on loopback from three
//! exporters, then the summary, the SMTP senders, the detections and the
//! spam bot's story.

mod common;

use std::process::Command;

use common::*;

#[test]
fn the_demo_finds_the_spam_bot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("demo");
    let out = run_ok(Command::new(bin()).args(["demo", "--data"]).arg(&data));
    let text = String::from_utf8_lossy(&out.stdout);
    // Every flow sent is stored.
    let stored = text
        .lines()
        .find(|l| l.starts_with("collector received"))
        .unwrap_or_else(|| panic!("no collector line in:\n{text}"));
    let numbers: Vec<u64> = stored
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 4, "{stored}");
    assert_eq!(numbers[2], numbers[3], "stored = sent: {stored}");
    assert_eq!(numbers[1], numbers[3], "decoded = sent: {stored}");
    // The SMTP senders, then the bot's story: the same address, and it is
    // not the site's mail server.
    assert!(text.contains("Who sends mail?"), "{text}");
    let host_line = text
        .lines()
        .find(|l| l.starts_with("Host "))
        .unwrap_or_else(|| panic!("no host report in:\n{text}"));
    let addr = host_line.split_whitespace().nth(1).expect("address");
    // The one the generator made a spam bot, not just the top sender.
    // The demo plays yesterday (UTC).
    let day_ms = 86_400_000;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let yesterday = (now_ms - day_ms) - (now_ms - day_ms).rem_euclid(day_ms);
    let day = flowhound_generate::Day::new(&flowhound_generate::DayPlan::new(yesterday));
    let bot = day
        .seeded()
        .iter()
        .find(|s| {
            s.what == flowhound_generate::Seed::Incident(flowhound_generate::IncidentKind::SpamBot)
        })
        .expect("the day has a spam bot")
        .host
        .to_string();
    assert_eq!(addr, bot, "{text}");
    assert!(
        text.contains(&format!("{addr} is not the site's mail server")),
        "{text}"
    );
    // Every seeded incident found, no look-alike flagged.
    let story = text
        .lines()
        .find(|l| l.starts_with("The generator seeded"))
        .unwrap_or_else(|| panic!("no detection story in:\n{text}"));
    assert!(
        story.contains("found 11 of the incidents and flagged 0 of the look-alikes"),
        "{story}"
    );
    // The store the demo kept answers the same question the same way.
    let top = query_json(
        None,
        &data,
        &[
            "-s",
            "srcip/flows",
            "-n",
            "2",
            "-o",
            "json",
            "proto tcp and dst port 25 and not ip 10.0.0.25",
        ],
    );
    assert_eq!(top["statistics"][0]["rows"][0]["srcip"], addr);

    // The abuse desk: the bot's case, its notice to the owner as an .eml
    // file (dry run), and the daily SMTP report with the bot in it.
    let notices: Vec<String> = std::fs::read_dir(data.join("notices"))
        .expect("the demo writes its notices")
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .collect();
    let bot_notice = notices
        .iter()
        .find(|m| m.contains(&format!("your computer {addr}")))
        .unwrap_or_else(|| panic!("no notice about {addr} in {} messages", notices.len()));
    assert!(
        bot_notice.contains("To: it-helpdesk@campus.example"),
        "{bot_notice}"
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data.join("report/report.json")).expect("report.json"),
    )
    .expect("json");
    let senders = report["top_senders"]["rows"].as_array().expect("rows");
    assert!(senders.iter().any(|r| r["srcip"] == addr), "{senders:?}");
    assert!(report["open_cases"]["rows"]
        .as_array()
        .expect("cases")
        .iter()
        .any(|c| c["host"] == addr && c["category"] == "spam"));
    assert!(data.join("report/report.html").exists());
    // The next command it suggests opens the bot's case.
    let show = text
        .lines()
        .find(|l| l.contains("cases show FH-"))
        .unwrap_or_else(|| panic!("no `cases show` suggested in:\n{text}"));
    let id = show
        .split_whitespace()
        .find(|w| w.starts_with("FH-"))
        .expect("a case id");
    let out = run_ok(
        Command::new(bin())
            .args(["cases", "show", id, "-o", "json", "--data"])
            .arg(&data),
    );
    let case: serde_json::Value = serde_json::from_slice(&out.stdout).expect("case JSON");
    assert_eq!(case["host"], addr, "{case}");
    assert_eq!(case["state"], "notified", "{case}");
    assert_eq!(case["owner"], "Campus IT", "{case}");
}
