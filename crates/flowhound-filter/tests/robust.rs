//! No input makes the parser panic, overflow the stack or report a position
//! outside the text; whatever parses prints to text that parses the same.
//! A fuzz harness without a fuzzer: seeded, mutated filters, 100k of them.

use flowhound_filter::parse;
use flowhound_model::{addr_from_v4, addr_from_v6, FlowRecord};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
}

const SEEDS: &[&str] = &[
    "proto tcp and dst port 25",
    "src ip 10.0.0.1 or dst net 192.168.0.0/16",
    "not (proto udp and port in [ 53 123 ]) and flags SA",
    "ip in [ 10.0.0.0/8, 2001:db8::/32 172.16/12 ]",
    "src and dst as in [ 3320 6695 ] || bytes > 1k && pps < 2m",
    "net 10.0.0.0 255.0.0.0 and icmp-type 8 and icmp-code 0",
    "router ip 192.0.2.1 and next ip 2001:db8::1 and flowdir egress",
    "in if 3 or out if 4 and src vlan 100 and dst mask 24 and tos > 0",
    "duration > 1000 and bpp < 100 and bps >= 8k # comment\n and src geo DE",
    "((any)) and !ipv6 and inet",
];

const WORDS: &[&str] = &[
    "proto",
    "tcp",
    "udp",
    "src",
    "dst",
    "ip",
    "host",
    "net",
    "port",
    "in",
    "[",
    "]",
    "(",
    ")",
    "and",
    "or",
    "not",
    "!",
    "&&",
    "||",
    "=",
    "==",
    "<",
    ">",
    "<=",
    ">=",
    "eq",
    "gt",
    "/",
    ",",
    "10.0.0.1",
    "2001:db8::",
    "::",
    "::ffff:1.2.3.4",
    "0",
    "65535",
    "65536",
    "4294967296",
    "99999999999999999999",
    "1k",
    "2m",
    "3g",
    "0x",
    "0xffffffffffffffffff",
    "flags",
    "SAX",
    "Z",
    "icmp-type",
    "as",
    "if",
    "mask",
    "vlan",
    "geo",
    "router",
    "next",
    "flowdir",
    "#",
    "\n",
    " ",
    "\t",
    "é",
    "\u{0}",
    "\"",
    "'",
    "-",
    ".",
    ":",
    "packets",
    "bytes",
    "duration",
    "pps",
    "bps",
    "bpp",
    "tos",
    "any",
    "ipv4",
    "ipv6",
    "255.255.0.0",
    "/0",
    "/128",
    "/33",
    "ingress",
];

const BYTES: &[u8] = b" ()[],/!&|=<>#\n\t.:-_0123456789abcdefxXSAFRPUkmgt";

fn mutate(rng: &mut Rng, s: &str) -> String {
    let mut out: String = s.to_owned();
    for _ in 0..1 + rng.below(4) {
        let boundaries: Vec<usize> = (0..=out.len())
            .filter(|&i| out.is_char_boundary(i))
            .collect();
        let at = boundaries[rng.below(boundaries.len())];
        match rng.below(6) {
            0 => out.insert_str(at, rng.pick(WORDS)),
            1 => out.insert(at, BYTES[rng.below(BYTES.len())] as char),
            2 => {
                let end = boundaries[rng.below(boundaries.len())];
                if end > at {
                    out.replace_range(at..end, "");
                }
            }
            3 => out.truncate(at),
            4 => {
                let w = format!(" {} ", rng.pick(WORDS));
                out.insert_str(at, &w);
            }
            _ => {
                let dup = out[at..].to_owned();
                out.push_str(&dup);
            }
        }
    }
    out
}

fn random_words(rng: &mut Rng) -> String {
    let n = 1 + rng.below(12);
    (0..n)
        .map(|_| rng.pick(WORDS))
        .collect::<Vec<_>>()
        .join(" ")
}

fn records() -> Vec<FlowRecord> {
    vec![
        FlowRecord::default(),
        FlowRecord {
            src_ip: addr_from_v4(0x0a00_0001),
            dst_ip: addr_from_v4(0xc0a8_0101),
            proto: 6,
            dst_port: 25,
            tcp_flags: 0x12,
            packets: 10,
            bytes: 1500,
            time_start: 0,
            time_end: 999,
            ..FlowRecord::default()
        },
        FlowRecord {
            src_ip: addr_from_v6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            dst_ip: addr_from_v6([0xff; 16]),
            proto: 58,
            dst_port: 0x0800,
            packets: u64::MAX,
            bytes: u64::MAX,
            time_start: i64::MIN,
            time_end: i64::MAX,
            ..FlowRecord::default()
        },
    ]
}

fn check_one(text: &str, recs: &[FlowRecord]) -> Result<(), String> {
    match parse(text) {
        Ok(f) => {
            for r in recs {
                let _ = f.matches(r);
            }
            let printed = f.to_string();
            match parse(&printed) {
                Ok(again) if again == f => {}
                Ok(again) => {
                    return Err(format!(
                        "printed `{printed}` parses differently: {:?} vs {:?}",
                        again.expr, f.expr
                    ))
                }
                Err(e) => return Err(format!("printed `{printed}` fails: {e}")),
            }
            for r in recs {
                let again = parse(&printed).map_err(|e| e.to_string())?;
                if again.matches(r) != f.matches(r) {
                    return Err(format!("printed `{printed}` matches differently"));
                }
            }
        }
        Err(e) => {
            if e.position > text.len() || e.position + e.len > text.len() {
                return Err(format!("error span {}+{} outside text", e.position, e.len));
            }
            if !text.is_char_boundary(e.position) || !text.is_char_boundary(e.position + e.len) {
                return Err("error span splits a character".to_owned());
            }
            let shown = e.to_string();
            if !shown.starts_with("filter error: ") || !shown.contains('^') {
                return Err(format!("badly rendered error:\n{shown}"));
            }
            let _ = e.line_col();
        }
    }
    Ok(())
}

#[test]
fn hundred_thousand_mutated_filters_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let recs = records();
    let mut parsed = 0usize;
    for i in 0..100_000 {
        let text = if i % 4 == 0 {
            random_words(&mut rng)
        } else {
            let seed = SEEDS[rng.below(SEEDS.len())];
            mutate(&mut rng, seed)
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| check_one(&text, &recs)));
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("input {text:?}: {e}"),
            Err(_) => panic!("input {text:?}: panicked"),
        }
        if parse(&text).is_ok() {
            parsed += 1;
        }
    }
    // The mutations must exercise both paths.
    assert!(parsed > 1_000, "only {parsed} inputs parsed");
    assert!(parsed < 99_000, "{parsed} inputs parsed");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for (open, close) in [("(", ")"), ("not ", ""), ("! (", ")")] {
        let text = format!("{}any{}", open.repeat(100_000), close.repeat(100_000));
        let e = parse(&text).expect_err("too deep");
        assert!(e.message.contains("nests deeper"), "{}", e.message);
    }
    let ok = format!("{}any{}", "(".repeat(100), ")".repeat(100));
    assert!(parse(&ok).is_ok());
}

#[test]
fn long_lines_are_shown_as_a_window() {
    let list: Vec<String> = (0..5000)
        .map(|i| format!("10.{}.{}.1", i / 256, i % 256))
        .collect();
    let text = format!("ip in [ {} 10.0.0.300 ]", list.join(" "));
    let e = parse(&text).expect_err("bad address");
    let shown = e.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[1].len() < 200, "{}", lines[1]);
    let caret_col = lines[2].find('^').expect("caret");
    assert_eq!(&lines[1][caret_col..caret_col + 10], "10.0.0.300");
}

/// A 10k-entry `ip in [list]` (addresses and /30 prefixes) matches exactly
/// the flows a linear walk of the list finds. Its speed is a benchmark
/// (`cargo bench -p flowhound-filter --bench list`).
#[test]
fn a_ten_thousand_entry_list_matches_exactly() {
    use flowhound_model::addr_from_v4;
    let entries: Vec<(u32, u32)> = (0..10_000u32)
        .map(|i| {
            let a = 0x0a00_0000 + i * 97;
            (a, if i % 10 == 0 { 30 } else { 32 })
        })
        .collect();
    let text: Vec<String> = entries
        .iter()
        .map(|&(a, len)| {
            format!(
                "{}.{}.{}.{}/{len}",
                a >> 24,
                (a >> 16) & 255,
                (a >> 8) & 255,
                a & 255
            )
        })
        .collect();
    let filter =
        flowhound_filter::parse(&format!("src ip in [ {} ]", text.join(" "))).expect("valid list");
    let mut hits = 0;
    for i in 0..200_000u32 {
        let ip = 0x0a00_0000 + i * 5;
        let flow = flowhound_model::FlowRecord {
            src_ip: addr_from_v4(ip),
            ..Default::default()
        };
        let want = entries.iter().any(|&(a, len)| (ip ^ a) >> (32 - len) == 0);
        assert_eq!(filter.matches(&flow), want, "{ip:#x}");
        hits += u32::from(want);
    }
    assert!(hits > 1_000, "{hits}");
}
