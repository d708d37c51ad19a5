//! The SMTP report over a store of hand-made flows, counted by hand: a site
//! two hours east of UTC, a registered mail server busy at night, a bot,
//! an outside sender, and traffic that is not SMTP or not of the day.

use std::net::Ipv4Addr;

use flowhound_detect::Detection;
use flowhound_model::{addr_from_v4, FlowRecord};
use flowhound_report::{OpenCase, ReportDay, SmtpReport};
use flowhound_store::{FlowBatch, ParquetWriter, WriteOptions};

/// 2026-11-26 00:00 at +02:00, in UTC.
const LOCAL_MIDNIGHT: i64 = 1_795_651_200_000 - 2 * HOUR;
const HOUR: i64 = 3_600_000;

fn ip(a: u8, b: u8, c: u8, d: u8) -> u128 {
    addr_from_v4(u32::from(Ipv4Addr::new(a, b, c, d)))
}

fn flow(src: u128, dst: u128, proto: u8, port: u16, start: i64) -> FlowRecord {
    FlowRecord {
        time_start: start,
        time_end: start + 2_000,
        src_ip: src,
        dst_ip: dst,
        src_port: 40_000,
        dst_port: port,
        proto,
        packets: 7,
        bytes: 1_500,
        ..FlowRecord::default()
    }
}

fn site() -> flowhound_enrich::Site {
    flowhound_enrich::Config::parse(
        "[site]\ninternal = [\"10.0.0.0/16\"]\ntimezone = \"+02:00\"\n\
         quiet_hours = \"22:00-06:00\"\n[roles]\nmail_servers = [\"10.0.0.25\"]\n",
        "site.toml".as_ref(),
    )
    .expect("config")
    .site
}

#[test]
fn a_local_day_counted_by_hand() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mail, bot, outside) = (ip(10, 0, 0, 25), ip(10, 0, 5, 5), ip(198, 51, 100, 7));
    let mut flows = Vec::new();
    // The mail server: 10 flows at 23:30 local (quiet), 5 at noon.
    for i in 0..10 {
        flows.push(flow(
            mail,
            ip(203, 0, 113, i),
            6,
            25,
            LOCAL_MIDNIGHT + 23 * HOUR + 1_800_000 + i64::from(i),
        ));
    }
    for i in 0..5 {
        flows.push(flow(
            mail,
            ip(203, 0, 113, 1),
            6,
            25,
            LOCAL_MIDNIGHT + 12 * HOUR + i,
        ));
    }
    // The bot: 30 flows to 30 servers at 14:00 local.
    for i in 0..30 {
        flows.push(flow(
            bot,
            ip(192, 0, 2, i),
            6,
            25,
            LOCAL_MIDNIGHT + 14 * HOUR + i64::from(i) * 1000,
        ));
    }
    // Mail from outside to the server.
    for i in 0..3 {
        flows.push(flow(outside, mail, 6, 25, LOCAL_MIDNIGHT + 9 * HOUR + i));
    }
    // Not SMTP: submission, UDP to 25; not the day: an hour before it.
    for i in 0..7 {
        flows.push(flow(bot, mail, 6, 587, LOCAL_MIDNIGHT + 8 * HOUR + i));
    }
    flows.push(flow(bot, mail, 17, 25, LOCAL_MIDNIGHT + 8 * HOUR));
    flows.push(flow(bot, mail, 6, 25, LOCAL_MIDNIGHT - HOUR));
    let batch: FlowBatch = flows.iter().copied().collect();
    ParquetWriter::new(dir.path(), WriteOptions::default())
        .write(&[batch.to_record_batch()])
        .expect("write");

    let site = site();
    let day = ReportDay::parse("2026-11-26", &site).expect("day");
    let case = OpenCase {
        id: "FH-2026-0007".into(),
        host: "10.0.5.5".into(),
        category: "spam".into(),
        state: "notified".into(),
        notices: 1,
        owner: "Dorm <B>".into(),
        first_seen: "2026-11-26T12:00:00Z".into(),
        last_seen: "2026-11-26T12:30:00Z".into(),
    };
    let r = SmtpReport::build(
        dir.path(),
        &day,
        &site,
        None,
        &Detection::default(),
        Some(vec![case]),
    )
    .expect("report");

    assert_eq!(r.totals.flows, 48);
    assert_eq!(r.totals.packets, 48 * 7);
    assert_eq!(r.totals.bytes, 48 * 1_500);
    assert_eq!(
        (
            r.totals.senders,
            r.totals.internal_senders,
            r.totals.unregistered_internal_senders
        ),
        (3, 2, 1)
    );
    let top: Vec<(&str, u64, &str)> = r
        .top_senders
        .rows
        .iter()
        .map(|s| (s.srcip.as_str(), s.flows, s.kind.as_str()))
        .collect();
    assert_eq!(
        top,
        vec![
            ("10.0.5.5", 30, "unregistered internal sender"),
            ("10.0.0.25", 15, "registered mail server"),
            ("198.51.100.7", 3, "external"),
        ]
    );
    assert_eq!(r.top_senders.rows[0].distinct_dstip, 30);
    assert_eq!(r.unregistered_senders.rows.len(), 1);
    assert_eq!(
        r.unregistered_senders.filter,
        "proto tcp and dst port 25 and src net 10.0.0.0/16 and not src ip 10.0.0.25"
    );

    // 24 hours on the site's clock; the flows in theirs.
    let hours: Vec<(&str, u64)> = r
        .smtp_by_hour
        .rows
        .iter()
        .map(|h| (h.hour.as_str(), h.flows))
        .collect();
    assert_eq!(hours.len(), 24);
    assert_eq!(hours[0].0, "00:00");
    assert_eq!(r.smtp_by_hour.rows[0].start, "2026-11-25T22:00:00Z");
    for (h, n) in [(9, 3), (12, 5), (14, 30), (23, 10)] {
        assert_eq!(hours[h].1, n, "{hours:?}");
    }
    assert_eq!(hours.iter().map(|h| h.1).sum::<u64>(), 48);
    assert!(r.smtp_by_hour.rows[23].quiet && !r.smtp_by_hour.rows[12].quiet);

    // The night: only the mail server, only its 10 late flows.
    let quiet: Vec<(&str, &str, u64, u64, u64)> = r
        .quiet_hours
        .rows
        .iter()
        .map(|q| {
            (
                q.srcip.as_str(),
                q.quiet.as_str(),
                q.flows,
                q.day_flows,
                q.percent_of_day,
            )
        })
        .collect();
    assert_eq!(quiet, vec![("10.0.0.25", "22:00-24:00", 10, 15, 66)]);
    assert_eq!(
        r.quiet_hours.rows[0].window,
        "2026-11-26T20:00:00Z/2026-11-26T22:00:00Z"
    );

    // No registry and none at ingest: the report says so, plainly.
    assert!(!r.site.countries);
    assert!(r.sender_countries.rows.is_empty());
    assert!(r
        .sender_countries
        .note
        .as_deref()
        .is_some_and(|n| n.contains("not available")));

    let html = r.html();
    assert!(html.contains("Destination countries are not available"));
    assert_eq!(html.matches("<svg").count(), 2);
    assert!(html.contains("Dorm &lt;B&gt;"), "the case, escaped");
    assert!(html.contains("data-srcip=\"10.0.5.5\""));
    let summary = r.summary();
    assert!(summary.contains("48 SMTP flows"), "{summary}");
    assert!(summary.contains("10.0.5.5 (30 flows)"), "{summary}");
    assert!(summary.contains("Open cases: 1."), "{summary}");
    assert!(!summary.contains('\n'));

    let out = dir.path().join("out");
    let written = r.write(&out).expect("write");
    assert_eq!(written[0], out.join("report.html"));
    assert_eq!(written.len(), 9);
    for p in &written {
        assert!(p.exists(), "{}", p.display());
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("read"))
            .expect("json");
    assert_eq!(json["top_senders"]["rows"][0]["srcip"], "10.0.5.5");
    assert_eq!(json["open_cases"]["rows"][0]["id"], "FH-2026-0007");
    assert_eq!(json["day"]["timezone"], "+02:00");
}

#[test]
fn an_empty_day_and_a_missing_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = flowhound_enrich::Site::default();
    let day = ReportDay::parse("2026-11-26", &site).expect("day");
    let r = SmtpReport::build(dir.path(), &day, &site, None, &Detection::default(), None)
        .expect("an empty report");
    assert_eq!(r.totals.flows, 0);
    assert_eq!(r.smtp_by_hour.rows.len(), 24);
    assert!(r.top_senders.rows.is_empty());
    assert!(r
        .open_cases
        .note
        .as_deref()
        .is_some_and(|n| n.contains("No case database")));
    assert!(r
        .quiet_hours
        .note
        .as_deref()
        .is_some_and(|n| n.contains("quiet hours are not configured")));
    assert!(r.html().contains("no open cases"));
    let e = SmtpReport::build(
        &dir.path().join("none"),
        &day,
        &site,
        None,
        &Detection::default(),
        None,
    )
    .expect_err("no store");
    assert!(e.is_user());
    assert!(e.to_string().contains("does not exist"), "{e}");
}
