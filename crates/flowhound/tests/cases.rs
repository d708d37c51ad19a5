//! The abuse desk end to end: three generated days of a persisting spam bot
//! go through the real collector; `flowhound cases update` after each day
//! opens the case and sends notice 1 to the owner from the inventory, then
//! notice 2, then recommends suspension to the desk. Every message is
//! checked as a real SMTP server (Python's aiosmtpd) received it.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{bin, header, run_ok, SmtpSink};
use flowhound_generate::{Day, DayPlan, IncidentKind, Seed};
use serde_json::Value as Json;

/// 2026-11-26 00:00 UTC.
const DAY1_MS: i64 = 1_795_651_200_000;
const DAY_MS: i64 = 86_400_000;
const DAYS: [&str; 3] = ["2026-11-26", "2026-11-27", "2026-11-28"];

/// Day `n` (0-based): the spam bot again, the look-alikes, a light
/// background.
fn day(n: i64) -> Day {
    let mut plan = DayPlan::new(DAY1_MS + n * DAY_MS);
    plan.peak_rate = 0.1;
    plan.incidents = vec![IncidentKind::SpamBot];
    Day::new(&plan)
}

fn bot_of(day: &Day) -> String {
    day.seeded()
        .iter()
        .find(|s| s.what == Seed::Incident(IncidentKind::SpamBot))
        .expect("the spam bot is seeded")
        .host
        .to_string()
}

/// `flowhound --config CONFIG cases ARGS… --data DATA -o json`, parsed.
fn cases(config: &Path, data: &Path, args: &[&str]) -> Json {
    let out = run_ok(
        Command::new(bin())
            .arg("--config")
            .arg(config)
            .arg("cases")
            .args(args)
            .arg("--data")
            .arg(data)
            .args(["-o", "json"]),
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn a_persisting_spam_bot_gets_two_notices_then_suspension_is_recommended() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cases-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("mkdir");
    let data = root.join("data");
    let smtp = SmtpSink::start(&root.join("received"));

    let first = day(0);
    let bot = bot_of(&first);
    // With the registry, the notices name the destinations' countries.
    let registry = common::shared_registry();
    let extra = registry.as_ref().map_or(String::new(), |r| {
        format!(
            "[registry]\ncountry = \"{}/geo-whois-asn-country.mmdb\"\n",
            r.display()
        )
    });
    let config = common::desk_site(
        &root,
        &first,
        &bot,
        smtp.port,
        &format!("renotify_after = \"24h\"\nmax_notices = 2\n{extra}"),
    );

    let mut received = 0;
    for (n, name) in DAYS.iter().enumerate() {
        let today = day(n as i64);
        assert_eq!(bot_of(&today), bot, "the same bot every day");
        let sent = common::collect_day(&data, today);
        assert!(sent > 10_000, "a day's worth: {sent}");
        let window = format!(
            "{name}T00:00:00Z/{}",
            DAYS.get(n + 1)
                .map_or("2026-11-29".to_string(), |d| d.to_string())
                + "T00:00:00Z"
        );
        let up = cases(&config, &data, &["update", "-t", &window]);
        // Nothing but the bot gets a case: the look-alikes (busy mail
        // server, DNS resolver, proxy, file server, backup, scanner) do not.
        for c in up["opened"].as_array().expect("opened") {
            assert_eq!(c["host"], bot.as_str(), "only the bot: {up:#}");
        }
        assert!(
            up["failed"].as_array().expect("failed").is_empty(),
            "{up:#}"
        );
        let delivered = up["delivered"].as_array().expect("delivered").clone();
        let messages = smtp.wait_for(received + delivered.len(), Duration::from_secs(10));
        assert_eq!(
            messages.len(),
            received + delivered.len(),
            "every delivery reached the server"
        );
        let new = &messages[received..];
        received = messages.len();

        match n {
            0 => {
                let opened: Vec<&Json> = up["opened"].as_array().expect("opened").iter().collect();
                assert_eq!(opened.len(), 1, "{up:#}");
                assert_eq!(opened[0]["category"], "spam");
                assert_eq!(opened[0]["case"], "FH-2026-0001");
                assert_eq!(new.len(), 1, "notice 1 only: {new:?}");
                let m = &new[0];
                assert_eq!(header(m, "X-RcptTo"), Some("dana@campus.example"), "{m}");
                assert_eq!(header(m, "X-MailFrom"), Some("abuse@campus.example"), "{m}");
                let subject = header(m, "Subject").expect("subject");
                assert!(
                    subject.contains("[FH-2026-0001]") && subject.contains("Notice 1"),
                    "{subject}"
                );
                let b = smtp.text(received - 1);
                for want in [
                    bot.as_str(),
                    "Dear Dana Student",
                    "acct-dana",
                    "First seen: 2026-11-26 0",
                ] {
                    assert!(b.contains(want), "{want:?} in notice 1:\n{b}");
                }
                // The evidence table: SMTP, with flows and the busiest
                // destinations.
                assert!(b.contains("25 (smtp, e-mail)"), "{b}");
                assert!(b.contains("Most contacted"), "{b}");
                if registry.is_some() {
                    assert!(!b.contains("25 (smtp, e-mail)       -"), "countries: {b}");
                }
            }
            1 => {
                assert!(
                    up["opened"].as_array().expect("opened").is_empty(),
                    "{up:#}"
                );
                let notices = up["notices"].as_array().expect("notices");
                assert_eq!(notices.len(), 1, "{up:#}");
                assert!(
                    notices[0]["note"]
                        .as_str()
                        .expect("note")
                        .starts_with("notice 2 of 2"),
                    "{up:#}"
                );
                assert_eq!(new.len(), 1, "notice 2 only: {new:?}");
                let m = &new[0];
                assert_eq!(header(m, "X-RcptTo"), Some("dana@campus.example"), "{m}");
                assert!(
                    header(m, "Subject").expect("subject").contains("Notice 2"),
                    "{m}"
                );
                let first_id = header(&messages[0], "Message-ID").expect("message id");
                assert_eq!(
                    header(m, "In-Reply-To"),
                    Some(first_id),
                    "a follow-up of notice 1"
                );
            }
            _ => {
                let escalated = up["escalated"].as_array().expect("escalated");
                assert_eq!(escalated.len(), 1, "{up:#}");
                assert_eq!(new.len(), 1, "the desk is told: {new:?}");
                let m = &new[0];
                assert_eq!(
                    header(m, "X-RcptTo"),
                    Some("abuse-desk@campus.example"),
                    "{m}"
                );
                let b = smtp.text(received - 1);
                assert!(b.contains(&bot) && b.contains("FH-2026-0001"), "{b}");
                assert!(b.to_lowercase().contains("suspen"), "{b}");
            }
        }
    }

    // The case as the desk sees it.
    let case = cases(&config, &data, &["show", "FH-2026-0001"]);
    assert_eq!(case["host"], bot.as_str());
    assert_eq!(case["category"], "spam");
    assert_eq!(case["state"], "suspension-recommended");
    assert_eq!(case["notices"], 2);
    assert_eq!(case["owner"], "Dana Student");
    assert_eq!(case["contact"], "dana@campus.example");
    assert_eq!(case["account"], "acct-dana");
    assert!(
        case["first_seen"]
            .as_str()
            .expect("first_seen")
            .starts_with("2026-11-26T0"),
        "{case:#}"
    );
    assert!(
        case["last_seen"]
            .as_str()
            .expect("last_seen")
            .starts_with("2026-11-28T1"),
        "{case:#}"
    );
    let events: Vec<&str> = case["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|t| t["event"].as_str())
        .filter(|e| *e != "alert")
        .collect();
    assert_eq!(
        events,
        ["opened", "notice", "notice", "suspension-recommended"],
        "{case:#}"
    );

    // Running day 3 again changes nothing and sends nothing.
    let again = cases(
        &config,
        &data,
        &["update", "-t", "2026-11-28T00:00:00Z/2026-11-29T00:00:00Z"],
    );
    assert_eq!(again["new_alerts"], 0, "{again:#}");
    assert!(again["delivered"].as_array().expect("delivered").is_empty());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(smtp.messages().len(), received, "nothing sent twice");

    // The analyst closes it, with a reason.
    let closed = cases(
        &config,
        &data,
        &["close", "FH-2026-0001", "--reason", "machine reinstalled"],
    );
    assert_eq!(closed["state"], "closed");
    let last = closed["history"]
        .as_array()
        .expect("history")
        .last()
        .expect("a transition")
        .clone();
    assert!(
        last["note"]
            .as_str()
            .unwrap_or("")
            .contains("machine reinstalled"),
        "{last:#}"
    );
    let list = cases(&config, &data, &["list"]);
    assert_eq!(list.as_array().expect("list").len(), 1, "{list:#}");
}
