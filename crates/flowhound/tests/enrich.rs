//! Enrichment end to end, on the real registry files: one generated stream
//! to a collector that asks the registry about every flow (`--config`) and
//! to one that does not. Countries and AS numbers stored at ingest, and
//! those given at query time to the flows stored without them, must both
//! equal a second reader's answer for every flow: the `maxminddb` crate
//! walking the country database itself, and a scan of the AS CSV rows.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use common::*;
use serde_json::Value;

#[derive(serde::Deserialize)]
struct CountryRecord {
    country_code: Option<String>,
}

/// The second reader: what the country database says of `ip`, `??` for nothing.
fn country_of(reader: &maxminddb::Reader<Vec<u8>>, ip: IpAddr) -> String {
    reader
        .lookup(ip)
        .expect("maxminddb lookup")
        .decode::<CountryRecord>()
        .expect("maxminddb decode")
        .and_then(|r| r.country_code)
        .unwrap_or_else(|| "??".into())
}

/// `first,last,asn,org` rows of the IPv4 AS CSV, for a linear scan.
fn asn_rows(registry: &Path) -> Vec<(u32, u32, u32, String)> {
    let text = std::fs::read_to_string(registry.join("asn-ipv4.csv")).expect("asn csv");
    text.lines()
        .filter_map(|l| {
            let mut f = l.splitn(4, ',');
            let first: std::net::Ipv4Addr = f.next()?.parse().ok()?;
            let last: std::net::Ipv4Addr = f.next()?.parse().ok()?;
            let asn: u32 = f.next()?.parse().ok()?;
            let org = f.next().unwrap_or("");
            // CSV quoting: "PJSC ""Vimpelcom""" is PJSC "Vimpelcom".
            let org = match org.strip_prefix('"').and_then(|o| o.strip_suffix('"')) {
                Some(quoted) => quoted.replace("\"\"", "\""),
                None => org.to_string(),
            };
            Some((first.into(), last.into(), asn, org))
        })
        .collect()
}

/// The narrowest CSV range holding `ip`, by scanning all of them.
fn asn_of(rows: &[(u32, u32, u32, String)], ip: IpAddr) -> u32 {
    let IpAddr::V4(v4) = ip else { return 0 };
    let a = u32::from(v4);
    rows.iter()
        .filter(|r| r.0 <= a && a <= r.1)
        .min_by_key(|r| r.1 - r.0)
        .map_or(0, |r| r.2)
}

fn flows(config: Option<&Path>, data: &Path, filter: &str) -> Vec<Value> {
    let v = query_json(config, data, &["-n", "0", "-o", "json", filter]);
    v.as_array().expect("a JSON listing").clone()
}

fn geo_stat(config: Option<&Path>, data: &Path, filter: &str) -> BTreeMap<String, u64> {
    let v = query_json(
        config,
        data,
        &["-s", "dstgeo/flows", "-n", "0", "-o", "json", filter],
    );
    v["statistics"][0]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["dstgeo"].as_str().expect("country").to_string(),
                r["flows"].as_u64().expect("flows"),
            )
        })
        .collect()
}

#[test]
fn countries_and_as_numbers_at_ingest_and_at_query_time_match_the_registry() {
    let Some(registry) = shared_registry() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = registry_config(dir.path(), &registry);
    let (at_ingest, plain) = (dir.path().join("enriched"), dir.path().join("plain"));
    let (p1, p2) = (free_udp_port(), free_udp_port());
    let c1 = collect(
        p1,
        &at_ingest,
        &["--config", config.to_str().expect("utf-8 path")],
    );
    let c2 = collect(p2, &plain, &[]);
    generate_to(
        &[p1, p2],
        &[
            "--proto",
            "v9",
            "--scenario",
            "spambot",
            "--flows",
            "20000",
            "--rate",
            "20000",
            "--seed",
            "11",
            "--start",
            "2026-11-26T14:00:00Z",
        ],
    );
    terminate(c1);
    terminate(c2);

    // The spam bot: the top SMTP sender.
    let top = query_json(
        None,
        &at_ingest,
        &[
            "-s",
            "srcip/flows",
            "-n",
            "1",
            "-o",
            "json",
            "proto tcp and dst port 25",
        ],
    );
    let bot = top["statistics"][0]["rows"][0]["srcip"]
        .as_str()
        .expect("a top SMTP sender")
        .to_string();
    let host = format!("src ip {bot}");

    // Flow for flow: what was stored at ingest is what the second reader says.
    let reader = maxminddb::Reader::open_readfile(registry.join("geo-whois-asn-country.mmdb"))
        .expect("maxminddb opens the country database");
    let rows = asn_rows(&registry);
    let stored = flows(None, &at_ingest, &host);
    assert!(stored.len() > 500, "the bot sent {} flows", stored.len());
    // What the exporter sent, from the store that asked no registry.
    let key = |f: &Value| {
        format!(
            "{} {} {} {}",
            f["time_start"], f["src_port"], f["dst_ip"], f["dst_port"]
        )
    };
    let sent: BTreeMap<String, u64> = flows(None, &plain, &host)
        .iter()
        .map(|f| (key(f), f["dst_as"].as_u64().expect("dst_as")))
        .collect();
    assert_eq!(sent.len(), stored.len(), "flows with the same key");
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    let mut known = 0;
    for f in &stored {
        let dst: IpAddr = f["dst_ip"].as_str().expect("dst_ip").parse().expect("ip");
        let cc = country_of(&reader, dst);
        assert_eq!(f["dst_country"], cc.as_str(), "country of {dst}");
        known += usize::from(cc != "??");
        *want.entry(cc).or_default() += 1;
        // An exporter's own AS number is kept; where it sent none, the
        // registry's is stored.
        let exported = sent[&key(f)];
        let expected = if exported != 0 {
            exported
        } else {
            u64::from(asn_of(&rows, dst))
        };
        assert_eq!(f["dst_as"], expected, "dst_as of {dst}");
    }
    assert!(
        known * 2 > stored.len(),
        "only {known} of {} destinations have a country",
        stored.len()
    );

    // -s dstgeo/flows, stored at ingest, and given at query time to flows
    // stored without a registry: both equal the lookups above.
    assert_eq!(geo_stat(None, &at_ingest, &host), want);
    assert_eq!(geo_stat(Some(&config), &plain, &host), want);

    // Without a registry at either time there are no countries to tell,
    // and the user is told how to get them.
    let out = std::process::Command::new(bin())
        .args(["query", "-s", "dstgeo/flows", "--data"])
        .arg(&plain)
        .arg(&host)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("without countries") && err.contains("--config"),
        "{err}"
    );
    // So does a geo filter, instead of silently matching nothing.
    let out = std::process::Command::new(bin())
        .args(["query", "--data"])
        .arg(&plain)
        .arg(format!("{host} and not dst geo US"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("asks for countries") && err.contains("--config"),
        "{err}"
    );

    // The geo filter selects exactly the flows of that country, both ways.
    let (top_cc, top_n) = want
        .iter()
        .filter(|(c, _)| c.as_str() != "??")
        .max_by_key(|(_, n)| **n)
        .map(|(c, n)| (c.clone(), *n))
        .expect("a known country");
    let filter = format!("{host} and dst geo {top_cc}");
    assert_eq!(flows(None, &at_ingest, &filter).len() as u64, top_n);
    assert_eq!(flows(Some(&config), &plain, &filter).len() as u64, top_n);
    let not = format!("{host} and not dst geo {top_cc}");
    assert_eq!(
        flows(None, &at_ingest, &not).len() as u64,
        stored.len() as u64 - top_n
    );

    // `flowhound host`'s peer countries: the outside end of every flow of
    // the bot with the outside (the config's internal networks are 10/8),
    // both directions, looked up by the second reader.
    let mut peers_want: BTreeMap<String, u64> = BTreeMap::new();
    for f in flows(None, &plain, &format!("host {bot}")) {
        let other = if f["src_ip"] == bot.as_str() {
            "dst_ip"
        } else {
            "src_ip"
        };
        let peer = f[other].as_str().expect("ip");
        if peer.starts_with("10.") {
            continue;
        }
        let ip: IpAddr = peer.parse().expect("ip");
        *peers_want.entry(country_of(&reader, ip)).or_default() += 1;
    }
    // The site's flows, for what is usual (the same in both stores).
    let all = flows(None, &plain, "any");
    for data in [&at_ingest, &plain] {
        let mut cmd = std::process::Command::new(bin());
        cmd.arg("--config").arg(&config);
        let out = run_ok(
            cmd.args(["host", &bot, "-n", "0", "-o", "json", "--data"])
                .arg(data),
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("host JSON");
        // What is usual for the site: the outside end's country of every
        // flow between 10/8 and the outside, the bot's own left out.
        let internal =
            |f: &Value, side: &str| f[side].as_str().is_some_and(|ip| ip.starts_with("10."));
        let mut site: BTreeMap<String, u64> = BTreeMap::new();
        for f in &all {
            if f["src_ip"] == bot.as_str() || f["dst_ip"] == bot.as_str() {
                continue;
            }
            let outside = match (internal(f, "src_ip"), internal(f, "dst_ip")) {
                (true, false) => "dst_ip",
                (false, true) => "src_ip",
                _ => continue,
            };
            let ip: IpAddr = f[outside].as_str().expect("ip").parse().expect("ip");
            *site.entry(country_of(&reader, ip)).or_default() += 1;
        }
        let total: u64 = site.values().sum();
        assert_eq!(v["countries"]["site_flows_total"], total);
        assert_eq!(v["countries"]["baseline"], "internal_peers");
        let mut rare = 0;
        for c in v["countries"]["countries"].as_array().expect("countries") {
            let code = c["country"].as_str().expect("code");
            let n = site.get(code).copied().unwrap_or(0);
            assert_eq!(c["site_flows"], n, "site flows of {code}");
            let want = code != "??" && n * 1000 < total * 10;
            assert_eq!(c["rare_for_site"], want, "{code}: {n} of {total}");
            rare += usize::from(want);
        }
        assert!(rare > 0, "no country is rare for the site");
        let got: BTreeMap<String, u64> = v["countries"]["countries"]
            .as_array()
            .expect("countries")
            .iter()
            .map(|c| {
                (
                    c["country"].as_str().expect("code").to_string(),
                    c["flows"].as_u64().expect("flows"),
                )
            })
            .collect();
        assert_eq!(got, peers_want, "host {bot} peer countries ({data:?})");
    }

    // AS statistics name the organisation; query-time AS numbers for flows
    // stored without them equal those stored at ingest.
    let by_as = |config: Option<&Path>, data: &Path| {
        let v = query_json(
            config,
            data,
            &["-s", "dstas/flows", "-n", "0", "-o", "json", &host],
        );
        v["statistics"][0]["rows"].as_array().expect("rows").clone()
    };
    let enriched = by_as(Some(&config), &at_ingest);
    let late = by_as(Some(&config), &plain);
    let pairs = |rows: &[Value]| {
        rows.iter()
            .map(|r| (r["dstas"].as_u64(), r["flows"].as_u64()))
            .collect::<Vec<_>>()
    };
    assert_eq!(pairs(&enriched), pairs(&late));
    let named = enriched
        .iter()
        .filter(|r| r["dstas"] != 0)
        .filter(|r| {
            let asn = r["dstas"].as_u64().unwrap_or(0) as u32;
            let org = rows
                .iter()
                .find(|row| row.2 == asn)
                .map(|row| row.3.as_str());
            match org {
                Some(o) if !o.is_empty() => {
                    assert_eq!(r["as_org"], o, "organisation of AS{asn}");
                    true
                }
                _ => false,
            }
        })
        .count();
    assert!(named > 0, "no AS row was named: {enriched:?}");
}

/// A real capture whose exporter sent no AS numbers for most public
/// destinations: imported with the registry, they get the registry's, flow
/// for flow, and the exporter's own stay as they were.
#[test]
fn imported_flows_get_the_registry_as_number_where_the_exporter_sent_none() {
    let Some(registry) = shared_registry() else {
        return;
    };
    let capture = registry.join("../captures/payloads-as-pcap/ipfixcol2_example_flows.pcap");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = registry_config(dir.path(), &registry);
    let (enriched, plain) = (dir.path().join("enriched"), dir.path().join("plain"));
    for (data, cfg) in [(&enriched, Some(&config)), (&plain, None)] {
        let mut cmd = std::process::Command::new(bin());
        if let Some(c) = cfg {
            cmd.arg("--config").arg(c);
        }
        run_ok(
            cmd.args(["import", "pcap"])
                .arg(&capture)
                .arg("--data")
                .arg(data),
        );
    }
    let reader = maxminddb::Reader::open_readfile(registry.join("geo-whois-asn-country.mmdb"))
        .expect("maxminddb opens the country database");
    let rows = asn_rows(&registry);
    let list = |data: &Path| {
        let v = query_json(None, data, &["-n", "0", "-o", "json", "ipv4"]);
        v.as_array().expect("listing").clone()
    };
    // The same flow in both stores: every field but the enriched ones.
    let key = |f: &Value| {
        let mut f = f.clone();
        if let Value::Object(m) = &mut f {
            for k in ["src_as", "dst_as", "src_country", "dst_country"] {
                m.remove(k);
            }
        }
        f.to_string()
    };
    let (with, without) = (list(&enriched), list(&plain));
    assert_eq!(with.len(), without.len());
    assert!(with.len() > 1000, "{} flows", with.len());
    let plain_by_key: BTreeMap<String, &Value> = without.iter().map(|g| (key(g), g)).collect();
    let mut filled = 0;
    for f in &with {
        let g = plain_by_key[&key(f)];
        for side in ["src", "dst"] {
            let ip: IpAddr = f[format!("{side}_ip")]
                .as_str()
                .expect("ip")
                .parse()
                .expect("ip");
            assert_eq!(
                g[format!("{side}_ip")],
                f[format!("{side}_ip")],
                "same flow"
            );
            let exported = g[format!("{side}_as")].as_u64().expect("as");
            let stored = f[format!("{side}_as")].as_u64().expect("as");
            if exported != 0 {
                assert_eq!(
                    stored, exported,
                    "{side}_as of {ip}: the exporter's is kept"
                );
            } else {
                assert_eq!(stored, u64::from(asn_of(&rows, ip)), "{side}_as of {ip}");
                filled += usize::from(stored != 0);
            }
            assert_eq!(
                f[format!("{side}_country")],
                country_of(&reader, ip).as_str(),
                "{side}_country of {ip}"
            );
            assert_eq!(g[format!("{side}_country")], Value::Null);
        }
    }
    assert!(
        filled > 100,
        "only {filled} AS numbers came from the registry"
    );
}

#[test]
fn a_registry_file_that_is_missing_is_named_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("site.toml");
    std::fs::write(
        &config,
        "[registry]\ncountry = \"/nonexistent/country.mmdb\"\n",
    )
    .expect("config");
    for args in [
        vec!["query", "--data", "/tmp", "-s", "dstgeo"],
        vec!["collect", "--listen", "127.0.0.1:0", "--data", "/tmp/x"],
    ] {
        let out = std::process::Command::new(bin())
            .arg("--config")
            .arg(&config)
            .args(&args)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("registry.country") && err.contains("site.toml"),
            "{err}"
        );
    }
}

/// A registry of AS numbers only: flows get AS numbers but no `??`
/// countries, so a country source added later still fills them.
#[test]
fn a_registry_without_countries_leaves_them_to_be_looked_up() {
    let Some(registry) = shared_registry() else {
        return;
    };
    let capture = registry.join("../captures/payloads-as-pcap/ipfixcol2_example_flows.pcap");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("asn-only.toml");
    std::fs::write(
        &config,
        format!(
            "[registry]\nasn = [\"{}/asn-ipv4.csv\"]\n",
            registry.display()
        ),
    )
    .expect("config");
    let data = dir.path().join("data");
    run_ok(
        std::process::Command::new(bin())
            .arg("--config")
            .arg(&config)
            .args(["import", "pcap"])
            .arg(&capture)
            .arg("--data")
            .arg(&data),
    );
    let listed = flows(None, &data, "ipv4");
    assert!(listed.len() > 1000);
    assert!(listed
        .iter()
        .all(|f| f["src_country"].is_null() && f["dst_country"].is_null()));
    assert!(listed.iter().any(|f| f["dst_as"] != 0));
    // A registry with AS files only tells no countries either: a geo
    // filter says so instead of matching nothing.
    let out = std::process::Command::new(bin())
        .arg("--config")
        .arg(&config)
        .args(["query", "--data"])
        .arg(&data)
        .arg("dst geo CN")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("without countries"), "{err}");
    // The full registry at query time gives them their countries.
    let full = registry_config(dir.path(), &registry);
    let with = flows(Some(&full), &data, "ipv4");
    assert!(with
        .iter()
        .any(|f| f["dst_country"].is_string() && f["dst_country"] != "??"));
}
