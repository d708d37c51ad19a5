//! Live-detection latency under load: `flowhound serve` (in this process,
//! on loopback) takes background traffic from the generator at `--rate`
//! flows/s; a spam bot then sends 299 SMTP flows to distinct mail servers
//! (one under the `spam-bot` threshold of 300), waits, and sends the flow
//! that crosses it. The figure is the time from sending that datagram to
//! the alert's line in the JSON-lines sink. Each run uses a new bot address.
//!
//!     cargo run --release -p flowhound-serve --example live_latency -- \
//!         [--rate 500000] [--runs 5] [--warmup 20]
//!
//! Prints one JSON object: every run's latency, the median, and what the
//! collector and detection counted (rates sent and decoded, tap drops).

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use flowhound_generate::{send, Encoder, FlowRecord, Proto, SendConfig};
use flowhound_model::addr_from_v4;
use flowhound_serve::{start, ServeConfig};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `n` completed SMTP flows from `bot` to distinct public mail servers.
fn spam(bot: Ipv4Addr, n: u32, at_ms: i64) -> Vec<FlowRecord> {
    (0..n)
        .map(|i| FlowRecord {
            time_start: at_ms - 2_000,
            time_end: at_ms - 1_000,
            src_ip: addr_from_v4(u32::from(bot)),
            dst_ip: addr_from_v4(u32::from(Ipv4Addr::new(
                198,
                18,
                (i / 250) as u8,
                (i % 250) as u8 + 1,
            ))),
            src_port: 20_000 + i as u16,
            dst_port: 25,
            proto: 6,
            tcp_flags: 0x1b,
            packets: 12,
            bytes: 6_000,
            ..FlowRecord::default()
        })
        .collect()
}

fn send_all(sock: &UdpSocket, enc: &mut Encoder, flows: &[FlowRecord], to: SocketAddr) {
    let mut buf = Vec::with_capacity(65_536);
    let mut rest = flows;
    while !rest.is_empty() {
        let r = enc.encode(rest, now_ms(), &mut buf);
        if r.consumed == 0 {
            break;
        }
        rest = &rest[r.consumed..];
        if !buf.is_empty() {
            let _ = sock.send_to(&buf, to);
        }
    }
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

fn get_metrics(addr: SocketAddr) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// The process's peak resident memory (collector, detection and sender).
fn peak_rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmHWM:")?
                    .trim()
                    .strip_suffix("kB")?
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        })
        .map_or(0, |kb| kb / 1024)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rate = arg("--rate", 500_000);
    let runs = arg("--runs", 5).clamp(1, 100) as u8;
    let warmup = arg("--warmup", 20);
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("flowhound.toml");
    std::fs::write(
        &config,
        r#"
[site]
internal = ["10.0.0.0/16"]
[roles]
mail_servers = ["10.0.0.25"]
[serve]
listen = ["127.0.0.1:0"]
data = "data"
metrics = "127.0.0.1:0"
[[serve.sink]]
type = "jsonl"
path = "alerts.jsonl"
"#,
    )?;
    let jsonl = dir.path().join("alerts.jsonl");
    let serving = start(ServeConfig::load(&config)?)?;
    let to = serving.listen[0];
    let metrics = serving.metrics_addr.ok_or("no metrics address")?;

    let stop = Arc::new(AtomicBool::new(false));
    let background = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut c = SendConfig::new(to, Proto::V9);
            c.rate_flows_per_s = rate;
            c.seed = 3;
            send(&c, &stop)
        })
    };
    std::thread::sleep(Duration::from_secs(warmup));
    let before = get_metrics(metrics);
    let t_before = Instant::now();

    let sock = UdpSocket::bind("127.0.0.200:0")?;
    let mut latencies = Vec::new();
    let mut early = 0;
    for run in 0..runs {
        let bot = Ipv4Addr::new(10, 0, 99, 10 + run);
        let needle = format!("\"host\":\"{bot}\",\"rule\":\"spam-bot\"");
        let flows = spam(bot, 320, now_ms());
        let mut enc = Encoder::new(Proto::V9, 100 + u32::from(run), now_ms() - 3_600_000);
        send_all(&sock, &mut enc, &flows[..299], to);
        std::thread::sleep(Duration::from_secs(3));
        if std::fs::read_to_string(&jsonl)
            .unwrap_or_default()
            .contains(&needle)
        {
            early += 1;
            continue;
        }
        let t0 = Instant::now();
        send_all(&sock, &mut enc, &flows[299..], to);
        loop {
            if std::fs::read_to_string(&jsonl)
                .unwrap_or_default()
                .contains(&needle)
            {
                latencies.push(t0.elapsed().as_secs_f64());
                break;
            }
            if t0.elapsed() > Duration::from_secs(120) {
                latencies.push(f64::INFINITY);
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    let after = get_metrics(metrics);
    let secs = t_before.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let sent = background.join().map_err(|_| "sender panicked")??;
    serving.stop()?;

    let decoded =
        metric(&after, "flowhound_flows_total") - metric(&before, "flowhound_flows_total");
    let detected = metric(&after, "flowhound_detect_flows_total")
        - metric(&before, "flowhound_detect_flows_total");
    let mut sorted = latencies.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN);
    let report = serde_json::json!({
        "rate_asked": rate,
        "rate_sent": sent.flows_per_s().round(),
        "rate_decoded": (decoded as f64 / secs).round(),
        "rate_detected": (detected as f64 / secs).round(),
        "tap_dropped_batches": metric(&after, "flowhound_tap_dropped_batches_total"),
        "socket_drops": after.lines().filter(|l| l.starts_with("flowhound_socket_drops{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok()).sum::<u64>(),
        "untracked_flows": metric(&after, "flowhound_detect_untracked_flows_total"),
        "windows_held": metric(&after, "flowhound_detect_windows"),
        "alerts_early": early,
        "latency_s": latencies,
        "median_s": median,
        "peak_rss_mb": peak_rss_mb(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
