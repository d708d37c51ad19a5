//! Golden `.slt`-style files for `flowhound query` and `flowhound sql`: a
//! command line, `----`, then the expected output, over a fixed generated
//! data set. `OVERWRITE=true cargo test --test golden_query` rewrites them.

mod common;

use std::path::Path;
use std::process::Command;

use common::bin;
use flowhound_generate::{Scenario, Traffic};
use flowhound_store::{FlowBatch, ParquetWriter, WriteOptions};

const START: i64 = 1_795_701_600_000; // 2026-11-26 14:00 UTC

/// 5000 flows of a spam bot's afternoon, the same on every run.
fn data_set(dir: &Path) {
    let mut t = Traffic::new(5, START, Scenario::SpamBot);
    let batch: FlowBatch = (0..5000i64).map(|i| t.next_flow(START + i * 300)).collect();
    ParquetWriter::new(dir, WriteOptions::default())
        .write(&[batch.to_record_batch()])
        .expect("write parquet");
}

/// Words of a command line, with '…' and "…" quoting.
fn split(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (_, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

struct Case {
    command: String,
    expected: String,
}

fn parse(text: &str) -> (String, Vec<Case>) {
    let mut preamble = String::new();
    let mut cases: Vec<Case> = Vec::new();
    let mut in_output = false;
    for line in text.lines() {
        if line.starts_with("query ") || line.starts_with("sql ") {
            cases.push(Case {
                command: line.to_string(),
                expected: String::new(),
            });
            in_output = false;
        } else if let Some(c) = cases.last_mut() {
            if !in_output && line == "----" {
                in_output = true;
            } else if in_output {
                c.expected.push_str(line);
                c.expected.push('\n');
            }
        } else {
            preamble.push_str(line);
            preamble.push('\n');
        }
    }
    (preamble, cases)
}

fn normalise(s: &str) -> String {
    let lines: Vec<&str> = s.lines().map(str::trim_end).collect();
    lines.join("\n").trim_end().to_string()
}

#[test]
fn query_output_is_golden() {
    let dir = tempfile::tempdir().expect("tempdir");
    data_set(dir.path());
    let path = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"),
    )
    .join("tests/golden/query.slt");
    let text = std::fs::read_to_string(&path).expect("read golden file");
    let (preamble, cases) = parse(&text);
    assert!(cases.len() >= 10, "only {} cases", cases.len());
    let overwrite = std::env::var("OVERWRITE").is_ok_and(|v| v == "true");
    let mut rewritten = preamble;
    let mut failures = Vec::new();
    for c in &cases {
        let words = split(&c.command);
        let out = Command::new(bin())
            .arg(&words[0])
            .arg("--data")
            .arg(dir.path())
            .args(&words[1..])
            .output()
            .expect("run flowhound");
        let mut got = String::from_utf8_lossy(&out.stdout).to_string();
        if !out.status.success() {
            got = format!(
                "exit {}\n{}",
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let got = normalise(&got);
        if got != normalise(&c.expected) {
            failures.push(format!(
                "{}\n--- expected\n{}\n--- got\n{got}",
                c.command,
                normalise(&c.expected)
            ));
        }
        rewritten.push_str(&format!("{}\n----\n{got}\n\n", c.command));
    }
    if overwrite {
        std::fs::write(&path, rewritten.trim_end().to_string() + "\n").expect("rewrite");
        return;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
