//! After `kill -9`, every flow received more than a second before the kill
//! is there after the next start.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

#[test]
fn flows_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_udp_port();
    // Parquet files only hourly: what survives must come from the WAL.
    let mut collector = collect(port, dir.path(), &["--file-interval", "1h"]);
    let sent = generate(
        port,
        &[
            "--proto", "ipfix", "--flows", "60000", "--rate", "30000", "--seed", "7",
        ],
    );
    std::thread::sleep(Duration::from_millis(1500));
    let pid = collector.id().to_string();
    assert!(Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .expect("kill")
        .success());
    let _ = collector.wait();
    assert!(
        std::fs::read_dir(dir.path().join("flows"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "nothing should be in Parquet yet, or the test proves nothing"
    );

    // The next start recovers the write-ahead log into Parquet.
    let port2 = free_udp_port();
    let collector = collect(port2, dir.path(), &[]);
    terminate(collector);
    let s = summary(dir.path());
    assert_eq!(s["flows"], sent["flows"], "summary {s} vs sent {sent}");
    assert_eq!(s["packets"], sent["packets"]);
    assert_eq!(s["bytes"], sent["bytes"]);
}

#[test]
fn sigterm_stores_every_flow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_udp_port();
    let collector = collect(port, dir.path(), &["--file-interval", "1h"]);
    let sent = generate(
        port,
        &[
            "--proto", "v9", "--flows", "40000", "--rate", "40000", "--seed", "3",
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    terminate(collector);
    let s = summary(dir.path());
    assert_eq!(s["flows"], sent["flows"]);
    assert_eq!(s["bytes"], sent["bytes"]);
    assert!(
        std::fs::read_dir(dir.path().join("wal"))
            .map(|d| d
                .filter_map(|e| e.ok())
                .all(|e| e.metadata().map(|m| m.len()).unwrap_or(0) < 1024))
            .unwrap_or(true),
        "WAL should be checkpointed after a clean stop"
    );
}

/// Killed mid-stream, with epochs being cut and written meanwhile: every
/// flow received more than a second before the kill is there after the next
/// start, and none twice.
#[test]
fn flows_received_before_a_sigkill_mid_stream_survive_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_udp_port();
    let mut collector = collect(port, dir.path(), &["--file-interval", "1s"]);
    let rate = 20_000.0;
    let started = Instant::now();
    let sender = Command::new(bin())
        .args([
            "generate",
            "--to",
            &format!("127.0.0.1:{port}"),
            "--proto",
            "ipfix",
        ])
        .args(["--rate", "20000", "--flows", "200000", "--seed", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start generate");
    std::thread::sleep(Duration::from_millis(4000));
    let at_kill = started.elapsed().as_secs_f64();
    assert!(Command::new("kill")
        .args(["-KILL", &collector.id().to_string()])
        .status()
        .expect("kill")
        .success());
    let _ = collector.wait();
    let _ = sender.wait_with_output();

    let port2 = free_udp_port();
    terminate(collect(port2, dir.path(), &[]));
    let stored = summary(dir.path())["flows"].as_f64().expect("flows");
    // Slack for the sender's start-up on a busy machine.
    let must = rate * (at_kill - 1.0 - 0.8);
    let could = rate * (at_kill + 0.3);
    assert!(
        stored >= must,
        "stored {stored} flows; at least {must} were received a second before the kill"
    );
    assert!(
        stored <= could,
        "stored {stored} flows; at most {could} were sent before the kill: duplicates?"
    );
}
