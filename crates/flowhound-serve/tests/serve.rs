//! `flowhound serve` end to end, on loopback: a spam bot's flows through
//! real UDP, the alert in every sink (a JSON-lines file, a syslog listener,
//! a webhook server, a command), once, and in the SQLite store, once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flowhound_detect::AlertDb;
use flowhound_generate::{send, Proto, Scenario, SendConfig, Traffic};
use flowhound_serve::{start, ServeConfig};

const SEED: u64 = 11;

/// Datagrams a test syslog server received.
fn syslog_server(stop: Arc<AtomicBool>) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind syslog");
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let addr = sock.local_addr().expect("addr");
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65_536];
        while !stop.load(Ordering::Relaxed) {
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                g.lock()
                    .expect("lock")
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
    });
    (addr, got)
}

/// Bodies POSTed to a test webhook server (answers `status`).
fn webhook_server(stop: Arc<AtomicBool>, status: u16) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind webhook");
    l.set_nonblocking(true).expect("nonblocking");
    let addr = l.local_addr().expect("addr");
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let Ok((s, _)) = l.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            let _ = s.set_nonblocking(false);
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut r = BufReader::new(s.try_clone().expect("clone"));
            let mut line = String::new();
            let mut len = 0usize;
            let mut request = String::new();
            let _ = r.read_line(&mut request);
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            if request.starts_with("POST /alerts ") {
                g.lock()
                    .expect("lock")
                    .push(String::from_utf8_lossy(&body).into_owned());
            }
            let mut s = s;
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (addr, got)
}

fn get_metrics(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).expect("connect metrics");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("request");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read metrics");
    out
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

/// The spam bot's address: the generator picks it from the seed alone.
fn bot() -> IpAddr {
    IpAddr::V4(Traffic::new(SEED, 0, Scenario::SpamBot).incidents()[0].host)
}

/// Send a spam bot's traffic (half of all connections) for two seconds.
fn send_spam(to: SocketAddr) {
    let mut cfg = SendConfig::new(to, Proto::V9);
    cfg.scenario = Scenario::SpamBot;
    cfg.seed = SEED;
    cfg.incident_share = 0.5;
    cfg.rate_flows_per_s = 20_000;
    cfg.total_flows = Some(40_000);
    let report = send(&cfg, &AtomicBool::new(false)).expect("send");
    assert_eq!(report.flows, 40_000);
}

fn write_config(dir: &Path, sinks: &str) -> std::path::PathBuf {
    let text = format!(
        r#"
[site]
internal = ["10.0.0.0/16"]
[roles]
mail_servers = ["10.0.0.25"]
[detect.tune.mass-mailer]
enabled = false                 # the bot's source ports meet MyDoom's now and then
[serve]
listen = ["127.0.0.1:0"]
data = "data"
metrics = "127.0.0.1:0"
file_interval = "5s"
{sinks}
"#
    );
    let p = dir.join("flowhound.toml");
    std::fs::write(&p, text).expect("config");
    p
}

fn lines_for(text: &str, host: IpAddr, rule: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["host"] == host.to_string() && v["rule"] == rule)
        .collect()
}

#[test]
fn a_spam_bot_reaches_every_sink_once_and_the_store_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stop = Arc::new(AtomicBool::new(false));
    let (syslog, syslog_got) = syslog_server(stop.clone());
    let (webhook, webhook_got) = webhook_server(stop.clone(), 200);
    let cmd_out = dir.path().join("cmd");
    std::fs::create_dir(&cmd_out).expect("mkdir");
    let script = dir.path().join("sink.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nf=$(mktemp -p {out} alert.XXXXXX)\ncat > \"$f\"\necho \"$FLOWHOUND_HOST $FLOWHOUND_RULE $FLOWHOUND_CATEGORY\" > \"$f.env\"\n",
            out = cmd_out.display()
        ),
    )
    .expect("script");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .expect("chmod");
    let config = write_config(
        dir.path(),
        &format!(
            r#"
[[serve.sink]]
type = "jsonl"
path = "alerts.jsonl"
[[serve.sink]]
type = "syslog"
address = "{syslog}"
[[serve.sink]]
type = "webhook"
url = "http://{webhook}/alerts"
[[serve.sink]]
type = "command"
command = ["./sink.sh"]
"#
        ),
    );
    let serving = start(ServeConfig::load(&config).expect("config")).expect("serve starts");
    let metrics_addr = serving.metrics_addr.expect("metrics bound");
    let host = bot();
    let jsonl = dir.path().join("alerts.jsonl");

    let sent = Instant::now();
    send_spam(serving.listen[0]);
    let cmd_alerts = || -> Vec<(String, String)> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&cmd_out).expect("read cmd dir").flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "env") {
                let env = std::fs::read_to_string(&p).unwrap_or_default();
                let json = std::fs::read_to_string(p.with_extension("")).unwrap_or_default();
                out.push((env.trim().to_string(), json));
            }
        }
        out
    };
    let arrived = |rule: &str| {
        let j = std::fs::read_to_string(&jsonl).unwrap_or_default();
        !lines_for(&j, host, rule).is_empty()
            && syslog_got
                .lock()
                .expect("lock")
                .iter()
                .any(|m| m.contains(&format!("host=\"{host}\"")))
            && !webhook_got.lock().expect("lock").is_empty()
            && !cmd_alerts().is_empty()
    };
    while !arrived("spam-bot") {
        assert!(
            sent.elapsed() < Duration::from_secs(60),
            "no alert in every sink within 60 s: {}",
            std::fs::read_to_string(&jsonl).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let latency = sent.elapsed();
    // More of the same incident must not be delivered again.
    send_spam(serving.listen[0]);
    std::thread::sleep(Duration::from_secs(2));
    let m = get_metrics(metrics_addr);
    serving.stop().expect("serve stops cleanly");
    stop.store(true, Ordering::Relaxed);
    eprintln!("alert in every sink {latency:?} after the first flow was sent");

    let j = std::fs::read_to_string(&jsonl).expect("jsonl");
    let spam = lines_for(&j, host, "spam-bot");
    assert_eq!(spam.len(), 1, "{j}");
    assert_eq!(spam[0]["category"], "spam");
    assert_eq!(spam[0]["severity"], "high");
    assert!(spam[0]["flows"].as_u64().unwrap_or(0) >= 300);
    assert_eq!(j.lines().count(), 1, "nothing else raised: {j}");

    let syslog = syslog_got.lock().expect("lock").clone();
    assert_eq!(syslog.len(), 1, "{syslog:?}");
    assert!(syslog[0].starts_with("<35>1 "), "{}", syslog[0]);
    assert!(syslog[0].contains(&format!(
        "[flowhound@32473 rule=\"spam-bot\" host=\"{host}\" category=\"spam\" severity=\"high\"]"
    )));

    let hooks = webhook_got.lock().expect("lock").clone();
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(lines_for(&hooks[0], host, "spam-bot").len(), 1);

    let cmds = cmd_alerts();
    assert_eq!(cmds.len(), 1, "{cmds:?}");
    assert_eq!(cmds[0].0, format!("{host} spam-bot spam"));
    assert_eq!(lines_for(&cmds[0].1, host, "spam-bot").len(), 1);

    let db = AlertDb::open(&dir.path().join("data/alerts.sqlite")).expect("store");
    let stored = db.alerts().expect("alerts");
    let rows: Vec<_> = stored
        .iter()
        .filter(|s| s.alert.host == host && s.alert.rule == "spam-bot")
        .collect();
    assert_eq!(rows.len(), 1, "{stored:?}");
    assert!(
        rows[0].updates >= 1,
        "both window phases crossed: one row, updated"
    );

    assert!(metric(&m, "flowhound_flows_total") >= 80_000, "{m}");
    assert_eq!(metric(&m, "flowhound_alerts_raised_total"), 1, "{m}");
    assert!(metric(&m, "flowhound_alerts_updated_total") >= 1, "{m}");
    assert!(metric(&m, "flowhound_detect_rules") >= 8, "{m}");
    assert_eq!(metric(&m, "flowhound_tap_dropped_batches_total"), 0, "{m}");
    assert!(
        m.contains("flowhound_sink_delivered_total{sink=\"jsonl:alerts.jsonl\"} 1"),
        "{m}"
    );
}

#[test]
fn a_failing_sink_is_counted_and_the_others_still_deliver() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stop = Arc::new(AtomicBool::new(false));
    let (webhook, webhook_got) = webhook_server(stop.clone(), 500);
    let config = write_config(
        dir.path(),
        &format!(
            r#"
[[serve.sink]]
type = "webhook"
url = "http://{webhook}/alerts"
[[serve.sink]]
type = "command"
command = ["/bin/false"]
[[serve.sink]]
type = "jsonl"
path = "alerts.jsonl"
"#
        ),
    );
    let serving = start(ServeConfig::load(&config).expect("config")).expect("serve starts");
    let metrics_addr = serving.metrics_addr.expect("metrics bound");
    let host = bot();
    let jsonl = dir.path().join("alerts.jsonl");
    let sent = Instant::now();
    send_spam(serving.listen[0]);
    let m = loop {
        let m = get_metrics(metrics_addr);
        let j = std::fs::read_to_string(&jsonl).unwrap_or_default();
        if !lines_for(&j, host, "spam-bot").is_empty()
            && m.contains(&format!(
                "flowhound_sink_errors_total{{sink=\"webhook:http://{webhook}/alerts\"}} 1"
            ))
            && m.contains("flowhound_sink_errors_total{sink=\"command:/bin/false\"} 1")
        {
            break m;
        }
        assert!(sent.elapsed() < Duration::from_secs(60), "{m}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!serving.is_finished(), "serve goes on");
    serving.stop().expect("serve stops cleanly");
    stop.store(true, Ordering::Relaxed);
    assert_eq!(webhook_got.lock().expect("lock").len(), 1, "it was tried");
    assert!(m.contains("flowhound_sink_delivered_total{sink=\"jsonl:alerts.jsonl\"} 1"));
    let db = AlertDb::open(&dir.path().join("data/alerts.sqlite")).expect("store");
    assert!(db
        .alerts()
        .expect("alerts")
        .iter()
        .any(|s| s.alert.host == host && s.alert.rule == "spam-bot"));
}
