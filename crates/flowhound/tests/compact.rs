//! `flowhound compact` on a collector's store of a file per second: one
//! file per hour after, the same answers before and after, and nothing to
//! do the second time.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

fn parquet_files(dir: &Path) -> usize {
    fn walk(d: &Path) -> usize {
        std::fs::read_dir(d)
            .map(|rd| {
                rd.flatten()
                    .map(|e| {
                        let p = e.path();
                        if p.is_dir() {
                            walk(&p)
                        } else {
                            usize::from(p.extension().is_some_and(|x| x == "parquet"))
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(&dir.join("flows"))
}

fn answers(dir: &Path) -> (serde_json::Value, serde_json::Value) {
    let stat = query_json(
        None,
        dir,
        &["-s", "srcip/flows", "-n", "0", "-o", "json", "proto tcp"],
    );
    (stat["statistics"].clone(), summary(dir)["flows"].clone())
}

#[test]
fn compact_merges_each_hour_and_changes_no_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_udp_port();
    let collector = collect(
        port,
        dir.path(),
        &["--file-interval", "300ms", "--no-compact"],
    );
    // Three hours of flow time, sent over ~2 s: a file per 300 ms each.
    let sent = generate(
        port,
        &[
            "--proto",
            "v9",
            "--flows",
            "30000",
            "--rate",
            "15000",
            "--seed",
            "3",
            "--start",
            "2026-11-26T10:00:00Z",
            "--time-scale",
            "5400",
        ],
    );
    std::thread::sleep(Duration::from_millis(800));
    terminate(collector);
    let before_files = parquet_files(dir.path());
    let before = answers(dir.path());
    assert_eq!(before.1, sent["flows"], "all flows stored");

    let out = run_ok(
        Command::new(bin())
            .args(["compact", "--data"])
            .arg(dir.path()),
    );
    let said = String::from_utf8_lossy(&out.stderr);
    let hours = std::fs::read_dir(dir.path().join("flows/2026/11/26"))
        .expect("day dir")
        .count();
    assert!(hours >= 3, "{hours} hour directories");
    assert!(
        before_files > hours,
        "{before_files} files in {hours} hours: nothing to merge, the test proves nothing"
    );
    assert!(said.starts_with("merged "), "{said}");
    assert!(
        said.contains("removed"),
        "no collector runs, so at once: {said}"
    );
    assert_eq!(parquet_files(dir.path()), hours, "{said}");
    assert_eq!(answers(dir.path()), before);

    let out = run_ok(
        Command::new(bin())
            .args(["compact", "--data"])
            .arg(dir.path()),
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.starts_with("nothing to merge"), "{said}");
}

/// An import into a directory that already holds the hours it writes
/// merges them: importing one capture twice leaves one file per hour with
/// every flow twice.
#[test]
fn import_merges_the_hours_it_wrote() {
    let Some(registry) = shared_registry() else {
        return;
    };
    let capture = registry.join("../captures/payloads-as-pcap/ipfixcol2_example_flows.pcap");
    let dir = tempfile::tempdir().expect("tempdir");
    let import = || {
        run_ok(
            Command::new(bin())
                .args(["import", "pcap"])
                .arg(&capture)
                .arg("--data")
                .arg(dir.path()),
        )
    };
    import();
    let once = summary(dir.path())["flows"].as_u64().expect("flows");
    let files_once = parquet_files(dir.path());
    assert!(once > 1000, "{once} flows");
    import();
    assert_eq!(summary(dir.path())["flows"].as_u64(), Some(2 * once));
    assert_eq!(
        parquet_files(dir.path()),
        files_once,
        "the second import's files merged with the first's"
    );
}
