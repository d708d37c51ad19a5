//! `flowhound serve` runs the `[[schedule]]` jobs: yesterday's flows (sent
//! through the real collector) become cases with their notices, and the
//! day's SMTP report is written and mailed to the desk, each checked at a
//! real SMTP server. A restart does not run the same day again.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{bin, free_udp_port, header, terminate, SmtpSink};
use flowhound_generate::{Day, DayPlan, IncidentKind, Seed};
use serde_json::Value as Json;

const DAY_MS: i64 = 86_400_000;

/// `flowhound serve`, killed if the test fails before it stops it.
struct Serve(Option<std::process::Child>);

impl Serve {
    /// Its log goes to `log`.
    fn start(config: &Path, log: &Path) -> Serve {
        let child = Command::new(bin())
            .arg("--config")
            .arg(config)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).expect("serve's log"))
            .spawn()
            .expect("start flowhound serve");
        Serve(Some(child))
    }

    /// SIGTERM; serve must exit 0.
    fn stop(mut self) {
        terminate(self.0.take().expect("running"));
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn serve_writes_and_mails_yesterdays_report_and_sends_the_notices_due() {
    let root =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("schedule-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("mkdir");
    let data = root.join("data");
    let smtp = SmtpSink::start(&root.join("received"));

    // Yesterday, UTC (the site's time zone here): the test and serve must
    // agree on it, so not in the last minutes before midnight.
    let clock = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis() as i64
    };
    let to_midnight = DAY_MS - clock().rem_euclid(DAY_MS);
    if to_midnight < 180_000 {
        std::thread::sleep(Duration::from_millis(to_midnight as u64 + 5_000));
    }
    let now = clock();
    let yesterday_ms = now.div_euclid(DAY_MS) * DAY_MS - DAY_MS;
    let yesterday = chrono::DateTime::from_timestamp_millis(yesterday_ms)
        .expect("date")
        .format("%Y-%m-%d")
        .to_string();
    let mut plan = DayPlan::new(yesterday_ms);
    plan.peak_rate = 0.1;
    plan.incidents = vec![IncidentKind::SpamBot];
    let day = Day::new(&plan);
    let bot = day
        .seeded()
        .iter()
        .find(|s| s.what == Seed::Incident(IncidentKind::SpamBot))
        .expect("seeded")
        .host
        .to_string();

    let serve_port = free_udp_port();
    let config = common::desk_site(
        &root,
        &day,
        &bot,
        smtp.port,
        &format!(
            "[serve]\nlisten = [\"127.0.0.1:{serve_port}\"]\ndata = \"data\"\n\
             [[schedule]]\ncases = \"update\"\nat = \"00:00\"\n\
             [[schedule]]\nreport = \"smtp\"\nat = \"00:00\"\n"
        ),
    );

    // Yesterday's flows, through the real collector.
    common::collect_day(&data, day);

    // serve starts after 00:00: both jobs are due for yesterday at once,
    // in the order of the config.
    let log = root.join("serve.log");
    let server = Serve::start(&config, &log);
    let messages = smtp.wait_for(2, Duration::from_secs(120));
    assert_eq!(messages.len(), 2, "a notice and the report: {messages:?}");
    let notice = &messages[0];
    assert_eq!(
        header(notice, "X-RcptTo"),
        Some("dana@campus.example"),
        "{notice}"
    );
    assert!(
        header(notice, "Subject")
            .expect("subject")
            .contains("Notice 1"),
        "{notice}"
    );
    let report_mail = &messages[1];
    assert_eq!(
        header(report_mail, "X-RcptTo"),
        Some("abuse-desk@campus.example")
    );
    assert_eq!(
        header(report_mail, "Subject"),
        Some(format!("flowhound: the SMTP report of {yesterday}").as_str())
    );
    assert!(
        report_mail.contains("multipart/alternative"),
        "{report_mail}"
    );
    assert!(report_mail.contains("text/html"), "{report_mail}");
    let shown = smtp.text(1);
    assert!(shown.contains(&format!("the busiest {bot}")), "{shown}");
    assert!(shown.contains("<svg"), "the page with its charts: {shown}");

    let dir = data.join("reports").join(&yesterday);
    let report: Json =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).expect("report.json"))
            .expect("json");
    assert!(dir.join("report.html").exists());
    let unregistered = report["unregistered_senders"]["rows"]
        .as_array()
        .expect("rows");
    assert_eq!(unregistered[0]["srcip"], bot.as_str(), "{unregistered:?}");
    let cases = report["open_cases"]["rows"].as_array().expect("cases");
    assert!(
        cases
            .iter()
            .any(|c| c["host"] == bot.as_str() && c["state"] == "notified"),
        "the report lists the case the job before it opened: {cases:?}"
    );
    server.stop();
    let state: Json =
        serde_json::from_slice(&std::fs::read(data.join("schedule.json")).expect("schedule.json"))
            .expect("json");
    assert_eq!(state["done"]["cases update at 00:00"], yesterday.as_str());
    assert_eq!(state["done"]["report smtp at 00:00"], yesterday.as_str());
    let log = std::fs::read_to_string(&log).expect("serve's log");
    assert_eq!(
        log.matches("the rules ran over the day").count(),
        1,
        "the two jobs of the day share one detection: {log}"
    );

    // A restart: the day ran already, nothing is sent again.
    let server = Serve::start(&config, &root.join("serve-again.log"));
    std::thread::sleep(Duration::from_secs(3));
    server.stop();
    assert_eq!(smtp.messages().len(), 2, "nothing ran twice");
}
