//! The flattened tables against the real registry files in
//! `../shared/registry/`, checked by second readers: the `maxminddb` crate's
//! own tree lookup for countries, and a scan of the CSV rows for AS numbers.
//! Skipped, with a message, where the folder is missing.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use flowhound_enrich::{Registry, RegistryConfig};
use flowhound_model::{addr_from_v4, addr_from_v6, Addr};

fn registry_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"),
    )
    .join("../../../shared/registry");
    if dir.join("geo-whois-asn-country.mmdb").exists() && dir.join("asn-ipv4.csv").exists() {
        Some(dir)
    } else {
        assert!(
            std::env::var_os("FLOWHOUND_REQUIRE_SHARED").is_none(),
            "../shared is missing and FLOWHOUND_REQUIRE_SHARED is set"
        );
        eprintln!(
            "skipping: the real registry files are not in {} (see ../shared/registry/README.md)",
            dir.display()
        );
        None
    }
}

fn registry() -> Option<&'static Registry> {
    static REG: OnceLock<Option<Registry>> = OnceLock::new();
    REG.get_or_init(|| {
        let dir = registry_dir()?;
        let config = RegistryConfig {
            country: vec![dir.join("geo-whois-asn-country.mmdb")],
            asn: vec![dir.join("asn-ipv4.csv"), dir.join("asn-ipv6.csv")],
            ..Default::default()
        };
        Some(Registry::load(&config).expect("the real registry files load"))
    })
    .as_ref()
}

fn addr(s: &str) -> Addr {
    match s.parse::<IpAddr>().expect("test address") {
        IpAddr::V4(v4) => addr_from_v4(u32::from(v4)),
        IpAddr::V6(v6) => addr_from_v6(v6.octets()),
    }
}

fn ip(a: Addr) -> IpAddr {
    flowhound_model::addr_to_ip(a)
}

/// A small deterministic generator (splitmix64), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u128) -> u128 {
        ((u128::from(self.next()) << 64) | u128::from(self.next())) % n
    }
}

#[test]
fn readme_spot_checks() {
    let Some(reg) = registry() else { return };
    let cc = |s: &str| reg.country(addr(s)).map(|c| c.to_string());
    assert_eq!(cc("8.8.8.8").as_deref(), Some("US"));
    assert_eq!(cc("1.1.1.1").as_deref(), Some("AU"));
    assert_eq!(cc("193.0.6.139").as_deref(), Some("NL"));
    assert_eq!(reg.asn(addr("1.0.0.1")), Some((13335, "Cloudflare, Inc.")));
    assert_eq!(
        reg.asn(addr("2.26.200.1")).map(|a| a.1),
        Some("LLC \"SPUTNIK\"")
    );
    assert_eq!(
        reg.country(addr("10.1.2.3")),
        None,
        "private space has no country"
    );
    assert_eq!(reg.asn(addr("192.168.1.1")), None);
    assert_eq!(reg.as_org(13335), Some("Cloudflare, Inc."));
    let s = reg.stats();
    assert!(
        s.country_v4 > 10_000 && s.country_v6 > 1_000 && s.asn_v4 > 100_000 && s.asn_v6 > 10_000
    );
}

/// Random addresses: half uniform over the space, half inside (and at the
/// edges of) the CSV's ranges, so that both hits and misses are checked.
fn sample(rng: &mut Rng, rows: &[Row], v6: bool, n: usize) -> Vec<Addr> {
    let family: Vec<&Row> = rows.iter().filter(|r| r.v6 == v6).collect();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let a = match rng.below(4) {
            0 if v6 => {
                // Global unicast 2000::/3, less Teredo 2001::/32 (which
                // MaxMind DB readers alias into the IPv4 tree).
                let a = (0x2000u128 << 112) | rng.below(1 << 125);
                if a >> 96 == 0x2001_0000 {
                    continue;
                }
                a
            }
            0 => addr_from_v4(rng.below(1 << 32) as u32),
            1 => {
                let r = family[rng.below(family.len() as u128) as usize];
                r.first + rng.below(r.last - r.first + 1)
            }
            2 => {
                let r = family[rng.below(family.len() as u128) as usize];
                if rng.below(2) == 0 {
                    r.first
                } else {
                    r.last
                }
            }
            _ => {
                let r = family[rng.below(family.len() as u128) as usize];
                if rng.below(2) == 0 {
                    r.first.wrapping_sub(1)
                } else {
                    r.last.wrapping_add(1)
                }
            }
        };
        if !v6 && a >> 32 != 0xffff || (v6 && a >> 32 == 0xffff) {
            continue;
        }
        out.push(a);
    }
    out
}

#[derive(Clone)]
struct Row {
    first: Addr,
    last: Addr,
    asn: u32,
    org: String,
    v6: bool,
}

/// The CSV read by the test itself, independently of the crate's reader.
fn csv_rows() -> &'static [Row] {
    static ROWS: OnceLock<Vec<Row>> = OnceLock::new();
    ROWS.get_or_init(|| {
        let Some(dir) = registry_dir() else {
            return Vec::new();
        };
        let mut rows = Vec::new();
        for file in ["asn-ipv4.csv", "asn-ipv6.csv"] {
            let text = std::fs::read_to_string(dir.join(file)).expect("read csv");
            for line in text.lines() {
                let mut parts = line.splitn(4, ',');
                let first = addr(parts.next().expect("first"));
                let last = addr(parts.next().expect("last"));
                let asn = parts.next().expect("asn").parse().expect("asn number");
                let org = parts.next().unwrap_or("");
                let org = match org.strip_prefix('"').and_then(|o| o.strip_suffix('"')) {
                    Some(q) => q.replace("\"\"", "\""),
                    None => org.to_string(),
                };
                rows.push(Row {
                    first,
                    last,
                    asn,
                    org,
                    v6: first >> 32 != 0xffff,
                });
            }
        }
        rows
    })
}

/// For each address, the narrowest CSV row holding it (ties: the first
/// row), found by scanning every row over the sorted addresses.
fn brute_force_asn(rows: &[Row], addrs: &[Addr]) -> Vec<Option<(u32, String)>> {
    let mut order: Vec<usize> = (0..addrs.len()).collect();
    order.sort_by_key(|&i| addrs[i]);
    let sorted: Vec<Addr> = order.iter().map(|&i| addrs[i]).collect();
    let mut best: Vec<Option<(u128, usize)>> = vec![None; addrs.len()];
    for (ri, r) in rows.iter().enumerate() {
        let lo = sorted.partition_point(|&a| a < r.first);
        let hi = sorted.partition_point(|&a| a <= r.last);
        let span = r.last - r.first;
        for slot in &mut best[lo..hi] {
            if slot.is_none_or(|(s, _)| span < s) {
                *slot = Some((span, ri));
            }
        }
    }
    let mut out = vec![None; addrs.len()];
    for (k, &i) in order.iter().enumerate() {
        out[i] = best[k].map(|(_, ri)| (rows[ri].asn, rows[ri].org.clone()));
    }
    out
}

fn compare_asn(v6: bool, seed: u64) {
    let Some(reg) = registry() else { return };
    let rows = csv_rows();
    let mut rng = Rng(seed);
    let addrs = sample(&mut rng, rows, v6, 100_000);
    let expected = brute_force_asn(rows, &addrs);
    let mut hits = 0;
    for (a, want) in addrs.iter().zip(&expected) {
        let got = reg.asn(*a).map(|(n, o)| (n, o.to_string()));
        assert_eq!(&got, want, "AS of {}", ip(*a));
        hits += usize::from(got.is_some());
    }
    assert!(hits > 40_000, "only {hits} of 100000 addresses had an AS");
}

#[test]
fn asn_v4_matches_a_scan_of_the_csv() {
    compare_asn(false, 4);
}

#[test]
fn asn_v6_matches_a_scan_of_the_csv() {
    compare_asn(true, 6);
}

#[derive(serde::Deserialize)]
struct CountryRecord {
    country_code: Option<String>,
}

fn compare_country(v6: bool, seed: u64) {
    let Some(reg) = registry() else { return };
    let Some(dir) = registry_dir() else { return };
    let reader = maxminddb::Reader::open_readfile(dir.join("geo-whois-asn-country.mmdb"))
        .expect("maxminddb opens the file");
    let mut rng = Rng(seed);
    let mut addrs = sample(&mut rng, csv_rows(), v6, 100_000);
    if v6 {
        // 6to4 addresses: this file says nothing of them, and neither may we.
        addrs.extend((0..1000).map(|_| (0x2002u128 << 112) | rng.below(1 << 112)));
    }
    let mut hits = 0;
    for a in &addrs {
        let want: Option<String> = reader
            .lookup(ip(*a))
            .expect("maxminddb lookup")
            .decode::<CountryRecord>()
            .expect("maxminddb decode")
            .and_then(|r| r.country_code);
        let got = reg.country(*a).map(|c| c.to_string());
        assert_eq!(got, want, "country of {}", ip(*a));
        hits += usize::from(got.is_some());
    }
    assert!(hits > 40_000, "only {hits} addresses had a country");
}

#[test]
fn country_v4_matches_maxminddb() {
    compare_country(false, 44);
}

#[test]
fn country_v6_matches_maxminddb() {
    compare_country(true, 66);
}
