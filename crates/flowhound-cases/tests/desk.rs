//! The desk's state machine on flow time, against a real SQLite file:
//! escalation, idempotence, resolution, closing, owners without contact.

use std::path::Path;

use flowhound_cases::{CaseError, Desk, Mailer, NotifyConfig, State};
use flowhound_detect::{Alert, CountryFlows, PeerFlows, PortFlows, Severity};
use flowhound_enrich::{Config, Site};

const H: i64 = 3_600_000;
/// 2026-11-26T00:00:00Z
const DAY1: i64 = 1_795_651_200_000;

fn alert(host: &str, start: i64, hours: i64) -> Alert {
    Alert {
        host: host.parse().expect("ip"),
        rule: "spam-bot".into(),
        category: "spam".into(),
        severity: Severity::High,
        description: "direct-to-MX SMTP".into(),
        window_start_ms: start,
        window_end_ms: start + hours * H,
        flows: 3000,
        packets: 30000,
        bytes: 3_000_000,
        distinct_peers: 800,
        distinct_ports: 1,
        syn_only_percent: 0,
        peak_window_flows: 1500,
        top_ports: vec![PortFlows {
            port: 25,
            flows: 3000,
        }],
        top_countries: vec![
            CountryFlows {
                country: "US".into(),
                flows: 1200,
            },
            CountryFlows {
                country: "CN".into(),
                flows: 800,
            },
        ],
        top_peers: vec![PeerFlows {
            ip: "203.0.113.25".parse().expect("ip"),
            country: Some("CN".into()),
            flows: 40,
        }],
        foreign_percent: Some(95),
        filter: format!("src ip {host} and proto tcp and dst port 25"),
        window: "2026/11/26.08:00:00-2026/11/26.10:00:00".into(),
        references: vec![],
    }
}

fn site(dir: &Path) -> Site {
    std::fs::write(
        dir.join("owners.csv"),
        "network,owner,contact,account\n10.0.0.0/16,Campus IT,it@example.net,campus\n\
         10.0.7.0/24,Ann Example,ann@example.net,acct-7\n10.0.9.0/24,Lab 9,,lab9\n",
    )
    .expect("owners");
    let cfg = dir.join("site.toml");
    std::fs::write(
        &cfg,
        "[site]\ninternal = [\"10.0.0.0/16\"]\n[inventory]\nowners = \"owners.csv\"\n",
    )
    .expect("config");
    Config::load(&cfg).expect("site config").site
}

fn notify(extra: &str) -> NotifyConfig {
    NotifyConfig::parse(
        &format!(
            "[notify]\nfrom = \"abuse@example.net\"\ndesk = \"desk@example.net\"\nrenotify_after = \"24h\"\n\
             max_notices = 2\nresolve_after = \"72h\"\n{extra}"
        ),
        Path::new("flowhound.toml"),
    )
    .expect("notify config")
}

#[test]
fn a_persisting_bot_is_noticed_twice_then_escalated_and_replays_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = site(dir.path());
    let db = dir.path().join("data/cases.sqlite");
    let eml = dir.path().join("eml");
    let mailer = Mailer::dry_run(&eml);
    let mut desk = Desk::open(&db, notify("")).expect("open");

    let day1 = alert("10.0.7.42", DAY1 + 8 * H, 2);
    let u = desk
        .apply(std::slice::from_ref(&day1), &site, DAY1 + 24 * H)
        .expect("day 1");
    assert_eq!(u.opened.len(), 1);
    assert_eq!(u.notices.len(), 1);
    let id = u.opened[0].case.clone();
    assert_eq!(id, "FH-2026-0001");
    let d = desk.deliver(&mailer, 0).expect("deliver");
    assert_eq!(d.sent.len(), 1);
    assert_eq!(d.sent[0].to, "ann@example.net");
    let notice = std::fs::read_to_string(&d.sent[0].outcome).expect("the .eml file");
    assert!(
        notice.contains("Most contacted") && notice.contains("203.0.113.25"),
        "the evidence names the top destinations with their countries: {notice}"
    );
    let c = desk.case(&id).expect("case");
    assert_eq!(c.row.state, State::Notified);
    assert_eq!(
        c.row.owner.as_deref(),
        Some("Ann Example"),
        "the longest prefix wins"
    );
    assert_eq!(c.row.account.as_deref(), Some("acct-7"));
    assert_eq!(c.row.notices, 1);

    // The same day again: nothing new, nothing sent.
    let u = desk
        .apply(std::slice::from_ref(&day1), &site, DAY1 + 24 * H)
        .expect("replay");
    assert_eq!((u.new_alerts, u.known_alerts), (0, 1));
    assert!(u.opened.is_empty() && u.notices.is_empty());
    assert!(desk.deliver(&mailer, 0).expect("deliver").sent.is_empty());

    // Another alert the same day, an hour later: persisting, but not yet due.
    let later = alert("10.0.7.42", DAY1 + 11 * H, 1);
    let u = desk.apply(&[later], &site, DAY1 + 24 * H).expect("later");
    assert!(u.notices.is_empty(), "{u:?}");

    // Day 2, 24 h after the first notice: notice 2.
    let day2 = alert("10.0.7.42", DAY1 + 32 * H, 2);
    let u = desk.apply(&[day2], &site, DAY1 + 48 * H).expect("day 2");
    assert_eq!(u.notices.len(), 1, "{u:?}");
    assert!(u.notices[0].note.starts_with("notice 2 of 2"), "{u:?}");
    // Day 3: suspension recommended, the desk is told.
    let day3 = alert("10.0.7.42", DAY1 + 56 * H, 2);
    let u = desk
        .apply(std::slice::from_ref(&day3), &site, DAY1 + 72 * H)
        .expect("day 3");
    assert_eq!(u.escalated.len(), 1, "{u:?}");
    let d = desk.deliver(&mailer, 0).expect("deliver");
    let labels: Vec<(&str, &str)> = d
        .sent
        .iter()
        .map(|s| (s.label.as_str(), s.to.as_str()))
        .collect();
    assert_eq!(
        labels,
        [
            ("notice-2", "ann@example.net"),
            ("suspend", "desk@example.net")
        ]
    );
    let c = desk.case(&id).expect("case");
    assert_eq!(c.row.state, State::SuspensionRecommended);
    let events: Vec<&str> = c.history.iter().map(|t| t.event.as_str()).collect();
    assert_eq!(
        events,
        [
            "opened",
            "notice",
            "alert",
            "alert",
            "notice",
            "alert",
            "suspension-recommended"
        ]
    );
    assert!(
        c.history.iter().all(|t| t.time_ms >= DAY1),
        "flow time, not wall time"
    );
    assert_eq!(
        c.history[0].evidence.as_ref().expect("evidence")["rule"],
        "spam-bot"
    );
    let json = c.to_json();
    assert_eq!(json["first_seen"], "2026-11-26T08:00:00Z");
    assert_eq!(json["last_seen"], "2026-11-28T10:00:00Z");

    // All three days at once, on a fresh database, give the same case.
    let mut fresh = Desk::open(&dir.path().join("fresh.sqlite"), notify("")).expect("open");
    let all = [
        day3,
        alert("10.0.7.42", DAY1 + 32 * H, 2),
        day1,
        alert("10.0.7.42", DAY1 + 11 * H, 1),
    ];
    fresh.apply(&all, &site, DAY1 + 72 * H).expect("all");
    let again = fresh.case(&id).expect("case");
    let ev2: Vec<&str> = again.history.iter().map(|t| t.event.as_str()).collect();
    assert_eq!(ev2, events);
    assert_eq!(again.row, c.row);

    // Quiet for 72 h: resolved, at flow time last seen + 72 h.
    let u = desk
        .apply(&[], &site, DAY1 + 58 * H + 72 * H)
        .expect("quiet");
    assert_eq!(u.resolved.len(), 1);
    let c = desk.case(&id).expect("case");
    assert_eq!(c.row.state, State::Resolved);
    assert_eq!(c.row.ended_ms, Some(DAY1 + 58 * H + 72 * H));
    // A close now is refused; a new incident opens a new case.
    let e = desk.close(&id, "fixed", 0).expect_err("refused");
    assert!(
        e.is_user() && e.to_string().contains("already resolved"),
        "{e}"
    );
    let u = desk
        .apply(
            &[alert("10.0.7.42", DAY1 + 200 * H, 1)],
            &site,
            DAY1 + 210 * H,
        )
        .expect("recurrence");
    assert_eq!(u.opened[0].case, "FH-2026-0002");
}

#[test]
fn an_owner_without_contact_gets_a_case_and_the_desk_is_told() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = site(dir.path());
    let mut desk = Desk::open(&dir.path().join("c.sqlite"), notify("")).expect("open");
    let u = desk
        .apply(
            &[alert("10.0.9.5", DAY1, 1), alert("10.1.0.1", DAY1, 1)],
            &site,
            DAY1 + 2 * H,
        )
        .expect("apply");
    assert_eq!(u.opened.len(), 2);
    let lab = desk
        .list(None)
        .expect("list")
        .into_iter()
        .find(|c| c.host == "10.0.9.5")
        .expect("lab");
    let c = desk.case(&lab.id).expect("case");
    let last = c.history.last().expect("history");
    assert_eq!(last.event, "notice-not-sent");
    assert!(
        last.note.contains("the owner Lab 9 has no contact"),
        "{}",
        last.note
    );
    assert_eq!(c.messages[0].to, "desk@example.net");
    assert_eq!(c.messages[0].label, "no-contact-1");
    let stranger = desk
        .list(None)
        .expect("list")
        .into_iter()
        .find(|c| c.host == "10.1.0.1")
        .expect("stranger");
    assert_eq!(stranger.owner, None);
    assert_eq!(desk.open_cases().expect("open").len(), 2);
    // Without a mailer the messages wait, then go once one is given.
    let d = desk.deliver(&Mailer::None, 0).expect("deliver");
    assert_eq!((d.sent.len(), d.waiting), (0, 2));
    let d = desk
        .deliver(&Mailer::dry_run(dir.path().join("eml")), 0)
        .expect("deliver");
    assert_eq!(d.sent.len(), 2);
}

#[test]
fn closing_records_the_reason_cancels_waiting_messages_and_refuses_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = site(dir.path());
    let mut desk = Desk::open(&dir.path().join("c.sqlite"), notify("")).expect("open");
    desk.apply(&[alert("10.0.7.1", DAY1, 1)], &site, DAY1 + H)
        .expect("apply");
    let c = desk
        .close(
            "FH-2026-0001",
            "a newsletter server, registered now",
            DAY1 + 5 * H,
        )
        .expect("close");
    assert_eq!(c.row.state, State::Closed);
    assert!(c.messages[0].cancelled);
    assert!(c.history.last().expect("h").note.contains("newsletter"));
    assert!(desk
        .deliver(&Mailer::dry_run(dir.path()), 0)
        .expect("d")
        .sent
        .is_empty());
    let e = desk.close("FH-2026-0001", "again", 0).expect_err("twice");
    assert!(
        matches!(e, CaseError::Refused { .. }) && e.to_string().contains("already closed"),
        "{e}"
    );
    let e = desk.close("FH-2026-0042", "x", 0).expect_err("unknown");
    assert_eq!(
        e.to_string(),
        "no case FH-2026-0042 (`flowhound cases list` shows them)"
    );
    assert_eq!(desk.list(Some(State::Closed)).expect("list").len(), 1);
    // Activity before the close stays with the closed case.
    let u = desk
        .apply(&[alert("10.0.7.1", DAY1 + H, 1)], &site, DAY1 + 3 * H)
        .expect("late");
    assert!(u.opened.is_empty());
}

#[test]
fn the_suspend_command_gets_the_case_on_stdin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = site(dir.path());
    let out = dir.path().join("suspended.json");
    let cfg = notify(&format!(
        "suspend_command = \"cat > '{0}' && echo $FLOWHOUND_ACCOUNT >> '{0}'\"\n",
        out.display()
    ));
    let mut desk = Desk::open(&dir.path().join("c.sqlite"), cfg).expect("open");
    let alerts: Vec<Alert> = (0..3)
        .map(|d| alert("10.0.7.9", DAY1 + d * 25 * H, 1))
        .collect();
    let u = desk.apply(&alerts, &site, DAY1 + 80 * H).expect("apply");
    assert_eq!(u.escalated.len(), 1);
    // Without a mailer the mail waits, but the command runs; once.
    let d = desk.deliver(&Mailer::None, 0).expect("deliver");
    assert_eq!(d.sent.len(), 1, "{d:?}");
    assert_eq!(d.sent[0].label, "suspend-command");
    let text = std::fs::read_to_string(&out).expect("the command ran");
    let (json, account) = text.split_once('\n').expect("two lines");
    let case: serde_json::Value = serde_json::from_str(json).expect("case JSON");
    assert_eq!(case["state"], "suspension-recommended");
    assert_eq!(account.trim(), "acct-7");
    assert_eq!(desk.deliver(&Mailer::None, 0).expect("again").sent.len(), 0);
}
