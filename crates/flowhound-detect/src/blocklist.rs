//! IP blocklists as rules: flows to or from a listed network raise an
//! alert on the site's end of the flow.
//!
//! Formats, one entry per line: a CIDR or address (`192.0.2.0/24`),
//! Spamhaus DROP's `192.0.2.0/24 ; SBL123456`, DROP's JSON lines
//! (`{"cidr":"192.0.2.0/24","sblid":"SBL123456",…}`); `#` and `;` start
//! comments, blank lines are skipped.

use std::path::Path;

use flowhound_filter::{AddrSet, Direction, Expr, Filter};
use flowhound_model::Addr;
use flowhound_query::HostSide;

use crate::error::DetectError;
use crate::rule::{Conditions, Rule, Severity, Thresholds};

/// The networks of one list file, as inclusive address ranges.
pub fn parse_blocklist(text: &str, origin: &Path) -> Result<Vec<(Addr, Addr)>, DetectError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        let entry = if line.starts_with('{') {
            // DROP's JSON lines: the "cidr" member; other objects (the
            // file's metadata line) carry none and are skipped.
            match json_cidr(line) {
                Some(c) => c,
                None => continue,
            }
        } else {
            line.split(['#', ';'])
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        };
        if entry.is_empty() {
            continue;
        }
        let ranges = cidr_ranges(&entry).ok_or_else(|| DetectError::Rule {
            file: origin.display().to_string(),
            line: i + 1,
            reason: format!("{entry:?} is not an address or network (e.g. 192.0.2.0/24)"),
        })?;
        out.extend(ranges);
    }
    if out.is_empty() {
        return Err(DetectError::File {
            file: origin.display().to_string(),
            reason: "the blocklist holds no network (one CIDR a line, or DROP's \"CIDR ; SBL…\")"
                .into(),
        });
    }
    Ok(out)
}

fn json_cidr(line: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    Some(v.get("cidr")?.as_str()?.to_string())
}

/// `a.b.c.d/n` or `x::/n` or a bare address, as inclusive ranges, read as
/// filters read networks (an IPv6 prefix never covers IPv4 addresses), so
/// that a rule's filter text matches what the rule matches.
fn cidr_ranges(s: &str) -> Option<Vec<(Addr, Addr)>> {
    let (ip, len) = match s.split_once('/') {
        Some((ip, len)) => (ip, Some(len.trim().parse::<u8>().ok()?)),
        None => (s, None),
    };
    let ip = ip.trim().parse::<std::net::IpAddr>().ok()?;
    let len = len.unwrap_or(if ip.is_ipv4() { 32 } else { 128 });
    flowhound_filter::network_ranges(ip, len)
}

/// Two rules for one list: the site's hosts talking to listed networks
/// (`NAME-to`, blamed on the source) and listed networks reaching the
/// site's hosts with an answer expected (`NAME-from`, blamed on the
/// destination). Any flow in an hour is enough.
pub fn blocklist_rules(
    name: &str,
    networks: Vec<(Addr, Addr)>,
    severity: Severity,
    origin: &str,
) -> Vec<Rule> {
    let set = AddrSet::from_ranges(networks);
    let n = set.ranges().len();
    let cidrs: Vec<String> = set
        .ranges()
        .iter()
        .flat_map(|&(lo, hi)| cidrs_of(lo, hi))
        .collect();
    let make = |suffix: &str, dir: Direction, key: HostSide, what: &str| Rule {
        name: format!("{name}-{suffix}"),
        description: format!("{what} a network on the blocklist {name} ({n} networks)"),
        category: "blocklist".into(),
        severity,
        references: Vec::new(),
        // The whole list: a valid filter. An alert over stored flows
        // narrows it to the networks its host reached (history.rs).
        filter_text: format!(
            "{} ip in [ {} ]",
            if dir == Direction::Dst { "dst" } else { "src" },
            cidrs.join(" ")
        ),
        filter: Filter {
            expr: Expr::Addr {
                dir,
                set: set.clone(),
            },
        },
        key,
        window_ms: 3_600_000,
        sliding: false,
        threshold: Thresholds {
            flows: 1,
            ..Thresholds::default()
        },
        when: Conditions {
            internal: Some(true),
            ..Conditions::default()
        },
        also: None,
        origin: origin.to_string(),
    };
    vec![
        make("to", Direction::Dst, HostSide::Src, "Flows to"),
        make("from", Direction::Src, HostSide::Dst, "Flows from"),
    ]
}

/// The fewest networks (`a.b.c.d/len`, `x::/len`) that cover `lo..=hi`
/// exactly. IPv4 stays IPv4 (mapped addresses).
pub(crate) fn cidrs_of(lo: Addr, hi: Addr) -> Vec<String> {
    let end_of = |at: Addr, bits: u32| {
        if bits >= 128 {
            u128::MAX
        } else {
            at | ((1u128 << bits) - 1)
        }
    };
    let mut out = Vec::new();
    let mut at = lo;
    loop {
        // The largest block aligned at `at` that ends by `hi`.
        let mut bits = at.trailing_zeros();
        while bits > 0 && end_of(at, bits) > hi {
            bits -= 1;
        }
        let len = if flowhound_model::is_v4(at) {
            32 - bits.min(32)
        } else {
            128 - bits
        };
        out.push(format!("{}/{len}", flowhound_model::addr_to_ip(at)));
        let end = end_of(at, bits);
        if end >= hi {
            return out;
        }
        at = end + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowhound_model::{addr_from_v4, addr_from_v6};

    #[test]
    fn ranges_become_the_fewest_networks() {
        let v4 = |s: &str| {
            let a: std::net::Ipv4Addr = s.parse().expect("v4");
            addr_from_v4(u32::from(a))
        };
        assert_eq!(cidrs_of(v4("10.0.0.0"), v4("10.0.0.255")), ["10.0.0.0/24"]);
        assert_eq!(
            cidrs_of(v4("10.0.0.0"), v4("10.0.2.255")),
            ["10.0.0.0/23", "10.0.2.0/24"]
        );
        assert_eq!(cidrs_of(v4("1.2.3.4"), v4("1.2.3.4")), ["1.2.3.4/32"]);
        assert_eq!(
            cidrs_of(v4("1.2.3.5"), v4("1.2.3.8")),
            ["1.2.3.5/32", "1.2.3.6/31", "1.2.3.8/32"]
        );
        assert_eq!(
            cidrs_of(v4("0.0.0.0"), v4("255.255.255.255")),
            ["0.0.0.0/0"]
        );
        let v6: std::net::Ipv6Addr = "2001:db8::".parse().expect("v6");
        let lo = addr_from_v6(v6.octets());
        assert_eq!(cidrs_of(lo, lo | ((1u128 << 96) - 1)), ["2001:db8::/32"]);
    }

    #[test]
    fn a_blocklist_rule_s_filter_is_a_filter_of_its_networks() {
        let text = "192.0.2.0/24 ; SBL1\n198.51.100.0/25\n198.51.100.128/25\n";
        let nets = parse_blocklist(text, Path::new("drop.txt")).expect("parses");
        let rules = blocklist_rules("drop", nets, Severity::High, "test");
        assert_eq!(
            rules[0].filter_text,
            "dst ip in [ 192.0.2.0/24 198.51.100.0/24 ]"
        );
        let parsed = flowhound_filter::parse(&rules[1].filter_text).expect("a valid filter");
        assert_eq!(parsed, rules[1].filter);
    }

    /// Found by fuzzing (fuzz/regressions/detect_rules): `::/32` covers the
    /// IPv4-mapped block in 128 bits, but a filter's IPv6 network never
    /// covers IPv4 addresses. The list flagged every IPv4 flow while the
    /// alert's filter matched none of them.
    #[test]
    fn an_ipv6_network_in_a_list_covers_no_ipv4_address() {
        let text = "10.0.0.1\n::/32\n2001:db8::/32\n";
        let nets = parse_blocklist(text, Path::new("drop.txt")).expect("parses");
        let rules = blocklist_rules("drop", nets, Severity::High, "test");
        assert!(!rules[0].filter.matches(&flowhound_model::FlowRecord {
            dst_ip: addr_from_v4(0xc000_0201),
            ..Default::default()
        }));
        for r in &rules {
            let again = flowhound_filter::parse(&r.filter_text).expect("a valid filter");
            assert_eq!(again, r.filter, "{}", r.filter_text);
        }
    }

    #[test]
    fn an_empty_list_is_refused_naming_the_file() {
        let e = parse_blocklist("; nothing yet\n\n", Path::new("drop.txt")).expect_err("empty");
        assert!(
            e.to_string().contains("drop.txt") && e.to_string().contains("no network"),
            "{e}"
        );
    }

    #[test]
    fn drop_formats() {
        let text = "; Spamhaus DROP List 2026/12/05\n\
                    1.10.16.0/20 ; SBL256894\n\
                    # a comment\n\n\
                    192.0.2.7\n\
                    2001:db8::/32 ; SBL1\n\
                    {\"cidr\":\"203.0.113.0/24\",\"sblid\":\"SBL2\",\"rir\":\"apnic\"}\n\
                    {\"type\":\"metadata\",\"timestamp\":1}\n";
        let r = parse_blocklist(text, Path::new("drop.txt")).expect("parses");
        assert_eq!(r.len(), 4);
        assert_eq!(r[0], (addr_from_v4(0x010a_1000), addr_from_v4(0x010a_1fff)));
        assert_eq!(r[1], (addr_from_v4(0xc000_0207), addr_from_v4(0xc000_0207)));
        assert_eq!(r[3], (addr_from_v4(0xcb00_7100), addr_from_v4(0xcb00_71ff)));
    }

    #[test]
    fn bad_entry_names_file_and_line() {
        let e = parse_blocklist("10.0.0.0/8\n10.0.0.0/33 ; SBL1\n", Path::new("drop.txt"))
            .expect_err("bad prefix");
        assert_eq!(
            e.to_string(),
            "drop.txt:2: \"10.0.0.0/33\" is not an address or network (e.g. 192.0.2.0/24)"
        );
    }
}
