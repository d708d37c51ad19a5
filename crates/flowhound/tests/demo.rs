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
}
