//! After `kill -9`, every flow received more than a second before the kill
//! is there after the next start.

mod common;

use std::process::Command;
use std::time::Duration;

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
