//! Flow listings: written as the engine produces them, in one order every
//! time, and quiet when the reader goes away (`… | head`).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;

#[test]
fn listings_are_stable_and_stop_quietly_when_the_reader_leaves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_udp_port();
    let collector = collect(port, dir.path(), &[]);
    // Many flows per millisecond of start time: ties for the time order.
    generate(
        port,
        &[
            "--proto",
            "ipfix",
            "--flows",
            "30000",
            "--rate",
            "30000",
            "--seed",
            "11",
            "--exporters",
            "3",
        ],
    );
    terminate(collector);

    let list = |format: &str| {
        run_ok(
            Command::new(bin())
                .args(["query", "-o", format, "--data"])
                .arg(dir.path()),
        )
        .stdout
    };
    let csv = list("csv");
    assert_eq!(csv.iter().filter(|&&b| b == b'\n').count(), 30_001);
    // Ties in the time order, or the stability below proves nothing.
    let starts: Vec<&str> = std::str::from_utf8(&csv)
        .expect("utf-8")
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().expect("time_start"))
        .collect();
    let ties = starts.windows(2).filter(|w| w[0] == w[1]).count();
    assert!(ties > 1000, "only {ties} flows share a start time");
    for _ in 0..3 {
        assert!(list("csv") == csv, "two listings of the same flows differ");
    }
    assert_eq!(
        list("ndjson").iter().filter(|&&b| b == b'\n').count(),
        30_000
    );

    // Under a memory cap (the sort spills to disk beyond it): the same
    // listing.
    let capped = run_ok(
        Command::new(bin())
            .env("FLOWHOUND_QUERY_MEMORY", "24M")
            .args(["query", "-o", "csv", "--data"])
            .arg(dir.path()),
    )
    .stdout;
    assert!(capped == csv, "the listing differs when the sort spills");
    // A grouping that cannot spill says what to do, exit 2.
    let out = Command::new(bin())
        .env("FLOWHOUND_QUERY_MEMORY", "1M")
        .args([
            "query",
            "-s",
            "srcip/flows",
            "--distinct",
            "dstip,dstport",
            "--data",
        ])
        .arg(dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("FLOWHOUND_QUERY_MEMORY"), "{err}");

    // `flowhound query | head -1`: the first line, then the pipe closes.
    for format in ["table", "json", "ndjson"] {
        first_line_then_close(dir.path(), format);
    }
    // So for a statistic as JSON.
    first_line_then_close_args(
        dir.path(),
        &["-s", "dstport/flows", "-n", "0", "-o", "json"],
    );
}

fn first_line_then_close(data: &std::path::Path, format: &str) {
    first_line_then_close_args(data, &["-o", format]);
}

fn first_line_then_close_args(data: &std::path::Path, args: &[&str]) {
    let mut child = Command::new(bin())
        .args(["query"])
        .args(args)
        .arg("--data")
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run query");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("a line");
    assert!(!first.is_empty(), "{args:?}: no first line");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{args:?}: exit {}", out.status);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
