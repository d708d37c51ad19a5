//! Golden filter cases: `tests/*.slt`, hand-written expectations of nfdump's
//! semantics.
//!
//! ```text
//! filter proto tcp and dst port 25        # consecutive `filter` lines join
//! record proto=6 dst_port=25              # fields by column name; unset ones are 0
//! ----
//! match                                   # or `no match`, or `error <substring>`
//! ```
//!
//! After `error <substring>`, the lines up to the next blank line, if any, are
//! the rest of the rendered error (the quoted filter and the carets), exactly.
//! Further `record`/`----`/expectation groups reuse the filter above them.
//! Every filter that parses must also print (`Display`) to text that parses to
//! the same tree.

use flowhound_filter::{parse, Filter};
use flowhound_model::{addr_from_v4, addr_from_v6, FlowRecord};
use std::net::IpAddr;
use std::path::Path;

fn addr(s: &str) -> Result<u128, String> {
    match s.parse::<IpAddr>().map_err(|e| format!("{s}: {e}"))? {
        IpAddr::V4(a) => Ok(addr_from_v4(a.into())),
        IpAddr::V6(a) => Ok(addr_from_v6(a.octets())),
    }
}

fn num<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("bad number '{s}'"))
}

fn record(spec: &str) -> Result<FlowRecord, String> {
    let zero = addr_from_v4(0);
    let mut r = FlowRecord {
        src_ip: zero,
        dst_ip: zero,
        next_hop: zero,
        exporter: zero,
        ..FlowRecord::default()
    };
    for kv in spec.split_whitespace() {
        let (k, v) = kv
            .split_once('=')
            .ok_or(format!("'{kv}' is not key=value"))?;
        match k {
            "src_ip" => r.src_ip = addr(v)?,
            "dst_ip" => r.dst_ip = addr(v)?,
            "next_hop" => r.next_hop = addr(v)?,
            "exporter" => r.exporter = addr(v)?,
            "src_port" => r.src_port = num(v)?,
            "dst_port" => r.dst_port = num(v)?,
            "icmp_type" => r.dst_port = (r.dst_port & 0xff) | (num::<u16>(v)? << 8),
            "icmp_code" => r.dst_port = (r.dst_port & 0xff00) | num::<u16>(v)?,
            "proto" => r.proto = num(v)?,
            "tcp_flags" => {
                r.tcp_flags = match v.parse() {
                    Ok(n) => n,
                    Err(_) => v.chars().try_fold(0u8, |m, c| {
                        let bit = match c {
                            'F' => 1,
                            'S' => 2,
                            'R' => 4,
                            'P' => 8,
                            'A' => 16,
                            'U' => 32,
                            'E' => 64,
                            'C' => 128,
                            _ => return Err(format!("bad flag '{c}'")),
                        };
                        Ok(m | bit)
                    })?,
                }
            }
            "tos" => r.tos = num(v)?,
            "direction" => r.direction = num(v)?,
            "src_mask" => r.src_mask = num(v)?,
            "dst_mask" => r.dst_mask = num(v)?,
            "in_if" => r.in_if = num(v)?,
            "out_if" => r.out_if = num(v)?,
            "src_as" => r.src_as = num(v)?,
            "dst_as" => r.dst_as = num(v)?,
            "packets" => r.packets = num(v)?,
            "bytes" => r.bytes = num(v)?,
            "time_start" => r.time_start = num(v)?,
            "time_end" => r.time_end = num(v)?,
            "src_vlan" => r.src_vlan = num(v)?,
            "dst_vlan" => r.dst_vlan = num(v)?,
            _ => return Err(format!("unknown field '{k}'")),
        }
    }
    Ok(r)
}

struct Case {
    line: usize,
    filter: String,
    record: String,
    expect: String,
    rendered: Vec<String>,
}

fn read_cases(text: &str) -> Result<Vec<Case>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut cases = Vec::new();
    let mut filter: Option<String> = None;
    let mut filter_open = false; // more `filter` lines extend it
    let mut record = String::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let n = i + 1;
        i += 1;
        if line.trim().is_empty() || line.starts_with('#') {
            filter_open = false;
            continue;
        }
        if line == "filter" || line.starts_with("filter ") || line.starts_with("filter\t") {
            let t = line.strip_prefix("filter").unwrap_or("");
            let t = t.strip_prefix([' ', '\t']).unwrap_or(t);
            match (&mut filter, filter_open) {
                (Some(f), true) => {
                    f.push('\n');
                    f.push_str(t);
                }
                _ => filter = Some(t.to_owned()),
            }
            filter_open = true;
            record.clear();
        } else if let Some(spec) = line.strip_prefix("record") {
            filter_open = false;
            record = spec.trim().to_owned();
        } else if line == "----" {
            filter_open = false;
            let f = filter
                .clone()
                .ok_or(format!("line {n}: '----' before any filter"))?;
            let expect = lines
                .get(i)
                .ok_or(format!("line {n}: nothing after '----'"))?
                .trim()
                .to_owned();
            i += 1;
            let mut rendered = Vec::new();
            if expect.starts_with("error") {
                while i < lines.len() && !lines[i].trim().is_empty() {
                    rendered.push(lines[i].to_owned());
                    i += 1;
                }
            }
            cases.push(Case {
                line: n,
                filter: f,
                record: std::mem::take(&mut record),
                expect,
                rendered,
            });
        } else {
            return Err(format!("line {n}: cannot read '{line}'"));
        }
    }
    Ok(cases)
}

fn check(c: &Case) -> Result<(), String> {
    let parsed = parse(&c.filter);
    if let Some(want) = c.expect.strip_prefix("error") {
        let want = want.trim();
        let e = match parsed {
            Ok(f) => return Err(format!("parsed as `{f}`, expected error '{want}'")),
            Err(e) => e,
        };
        if !e.message.contains(want) {
            return Err(format!("error '{}' lacks '{want}'", e.message));
        }
        if !c.rendered.is_empty() {
            let got = e.to_string();
            let got_rest: Vec<&str> = got.lines().skip(1).collect();
            if got_rest != c.rendered {
                return Err(format!("rendered error differs; got:\n{got}"));
            }
        }
        return Ok(());
    }
    let f: Filter = parsed.map_err(|e| format!("did not parse:\n{e}"))?;
    let r = record(&c.record)?;
    let want = match c.expect.as_str() {
        "match" => true,
        "no match" => false,
        other => return Err(format!("unknown expectation '{other}'")),
    };
    if f.matches(&r) != want {
        return Err(format!("expected {}, AST {:?}", c.expect, f.expr));
    }
    // The printed form is canonical: it parses to the same tree.
    let printed = f.to_string();
    let again = parse(&printed).map_err(|e| format!("printed form `{printed}` fails:\n{e}"))?;
    if again != f {
        return Err(format!("printed form `{printed}` parses differently"));
    }
    Ok(())
}

#[test]
fn golden_filters() {
    let dir = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"),
    )
    .join("tests");
    let mut total = 0;
    let mut failures = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("tests directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable .slt");
        let cases = read_cases(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for c in &cases {
            total += 1;
            if let Err(e) = check(c) {
                failures.push(format!(
                    "{}:{}: filter `{}`: {e}",
                    path.display(),
                    c.line,
                    c.filter
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(total >= 150, "only {total} golden cases");
    eprintln!("{total} golden filter cases passed");
}
