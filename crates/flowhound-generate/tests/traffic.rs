use flowhound_generate::traffic::{ACTIVE_TIMEOUT_MS, IDLE_TIMEOUT_MS};
use flowhound_generate::{intensity, FlowRecord, Scenario, Traffic};
use flowhound_model::{addr_from_v4, addr_to_ip};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

/// 2025-11-26T00:00:00Z
const DAY: i64 = 1_764_115_200_000;
const H: i64 = 3_600_000;

fn sample(seed: u64, scenario: Scenario, now: i64, n: usize) -> (Traffic, Vec<FlowRecord>) {
    let mut t = Traffic::new(seed, now, scenario);
    let v = (0..n).map(|i| t.next_flow(now + i as i64)).collect();
    (t, v)
}

fn site_internal(a: u128) -> bool {
    v4(a).octets()[..2] == [10, 0]
}

fn v4(a: u128) -> Ipv4Addr {
    match addr_to_ip(a) {
        IpAddr::V4(x) => x,
        IpAddr::V6(x) => panic!("v6 {x}"),
    }
}

#[test]
fn same_seed_same_flows() {
    for sc in Scenario::ALL {
        let (_, a) = sample(99, sc, DAY + 14 * H, 20_000);
        let (_, b) = sample(99, sc, DAY + 14 * H, 20_000);
        assert_eq!(a, b, "{sc}");
        let (_, c) = sample(100, sc, DAY + 14 * H, 20_000);
        assert_ne!(a, c, "{sc}");
    }
    let a: Vec<_> = Traffic::new(5, DAY, Scenario::Worm).take(5000).collect();
    let b: Vec<_> = Traffic::new(5, DAY, Scenario::Worm).take(5000).collect();
    assert_eq!(a, b);
}

#[test]
fn flows_are_well_formed() {
    let now = DAY + 14 * H;
    let (t, flows) = sample(1, Scenario::All, now, 200_000);
    let site = t.site().clone();
    let mut protos = HashMap::new();
    let mut src_as = HashSet::new();
    for f in &flows {
        assert!(f.is_ipv4());
        assert!(f.time_start <= f.time_end, "{f:?}");
        assert!(f.time_end <= now + 200_000);
        assert!(f.time_end >= now - IDLE_TIMEOUT_MS - 1000);
        assert!(f.time_end - f.time_start <= ACTIVE_TIMEOUT_MS);
        assert!(f.packets >= 1);
        let bpp = f.bytes / f.packets;
        assert!((20..=1500).contains(&bpp), "bytes/packet {bpp}: {f:?}");
        assert!(f.bytes < u64::from(u32::MAX), "fits v5");
        assert_eq!(f.sampling_rate, 1);
        if f.proto != 6 {
            assert_eq!(f.tcp_flags, 0, "{f:?}");
        } else {
            assert_ne!(f.tcp_flags, 0, "{f:?}");
        }
        if f.proto == 1 {
            assert_eq!(f.src_port, 0);
        }
        let (s, d) = (v4(f.src_ip), v4(f.dst_ip));
        assert!(
            site.is_internal(s) || site.is_internal(d) || f.dst_port == 445,
            "{f:?}"
        );
        if !site.is_internal(d) && f.dst_port != 445 {
            assert_eq!(f.out_if, 1);
            assert_eq!(
                f.next_hop,
                addr_from_v4(u32::from(Ipv4Addr::new(198, 51, 100, 1)))
            );
            assert!(f.dst_as > 0);
        }
        if !site.is_internal(s) {
            assert_eq!(f.in_if, 1);
        }
        *protos.entry(f.proto).or_insert(0u64) += 1;
        src_as.insert(f.src_as);
    }
    for p in [1u8, 6, 17] {
        assert!(
            protos.get(&p).copied().unwrap_or(0) > 100,
            "proto {p}: {protos:?}"
        );
    }
    assert!(src_as.len() > 30, "peers from many ASes: {}", src_as.len());
    // heavy tail: the biggest flow dwarfs the median
    let mut bytes: Vec<u64> = flows.iter().map(|f| f.bytes).collect();
    bytes.sort_unstable();
    assert!(bytes[bytes.len() - 1] > 1000 * bytes[bytes.len() / 2]);
}

#[test]
fn more_traffic_by_day_than_by_night() {
    assert!(intensity(DAY + 14 * H) > 5.0 * intensity(DAY + 3 * H));
    // volume: the iterator's own clock over a day
    let mut per_hour = [0u64; 24];
    for f in Traffic::new(3, DAY, Scenario::Normal)
        .with_peak_rate(20.0)
        .take_while(|f| f.time_end < DAY + 24 * H - 20_000)
    {
        let h = ((f.time_end - DAY).max(0) / H) as usize;
        per_hour[h.min(23)] += 1;
    }
    assert!(per_hour[14] > 3 * per_hour[3], "{per_hour:?}");
    // mix: web's share is larger at 14:00 than at 03:00
    let web_share = |hour: i64| {
        let (_, v) = sample(4, Scenario::Normal, DAY + hour * H, 50_000);
        let web = v
            .iter()
            .filter(|f| matches!(f.dst_port, 80 | 443) || matches!(f.src_port, 80 | 443))
            .count();
        web as f64 / v.len() as f64
    };
    let (day, night) = (web_share(14), web_share(3));
    assert!(day > night + 0.2, "web share day {day} night {night}");
}

/// Source hosts by flows among flows matching `filter`, biggest first.
fn top_src(flows: &[FlowRecord], filter: impl Fn(&FlowRecord) -> bool) -> Vec<(Ipv4Addr, u64)> {
    let mut m: HashMap<Ipv4Addr, u64> = HashMap::new();
    for f in flows.iter().filter(|f| filter(f)) {
        *m.entry(v4(f.src_ip)).or_default() += 1;
    }
    let mut v: Vec<_> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

#[test]
fn spambot_tops_smtp_senders() {
    let (t, flows) = sample(11, Scenario::SpamBot, DAY + 14 * H, 100_000);
    let bot = t.incidents()[0].host;
    assert_eq!(t.incidents()[0].kind, Scenario::SpamBot);
    let site = t.site();
    assert!(site.is_internal(bot));
    assert!(!site.mail_servers.contains(&bot));
    let smtp = |f: &FlowRecord| f.proto == 6 && f.dst_port == 25;
    let top = top_src(&flows, smtp);
    assert_eq!(top[0].0, bot, "{:?}", &top[..3]);
    assert!(top[0].1 > 2 * top[1].1, "{:?}", &top[..3]);
    let dests: HashSet<_> = flows
        .iter()
        .filter(|f| smtp(f) && v4(f.src_ip) == bot)
        .map(|f| f.dst_ip)
        .collect();
    assert!(dests.len() as u64 > top[0].1 * 9 / 10, "many destinations");
    // the bot stands out among all sources too: above every other client,
    // among the few servers at the top
    let all = top_src(&flows, |_| true);
    let rank = all.iter().position(|(h, _)| *h == bot).expect("bot sends");
    assert!(rank < 4, "{:?}", &all[..5]);
    let clients = top_src(&flows, |f| {
        v4(f.src_ip).octets()[2] >= 16 && site_internal(f.src_ip)
    });
    assert_eq!(clients[0].0, bot);
    assert!(clients[0].1 > 10 * clients[1].1, "{:?}", &clients[..3]);
    // without the scenario, only the mail server sends SMTP out
    let (t, flows) = sample(11, Scenario::Normal, DAY + 14 * H, 100_000);
    for (h, _) in top_src(&flows, smtp) {
        assert!(!t.site().is_internal(h) || t.site().mail_servers.contains(&h));
    }
}

#[test]
fn worm_hammers_445() {
    let (t, flows) = sample(12, Scenario::Worm, DAY + 10 * H, 100_000);
    let worm = t.incidents()[0].host;
    let f445 = |f: &FlowRecord| f.proto == 6 && f.dst_port == 445;
    let top = top_src(&flows, f445);
    assert_eq!(top[0].0, worm);
    assert!(top[0].1 > 2000, "{}", top[0].1);
    assert!(top[0].1 > 5 * top[1].1);
    let syn_only = flows
        .iter()
        .filter(|f| f445(f) && v4(f.src_ip) == worm && f.tcp_flags == 0x02)
        .count() as u64;
    assert!(syn_only * 10 > top[0].1 * 9);
    let targets: HashSet<_> = flows
        .iter()
        .filter(|f| f445(f) && v4(f.src_ip) == worm)
        .map(|f| f.dst_ip)
        .collect();
    assert!(targets.len() as u64 > top[0].1 * 9 / 10);
    // Sasser's other ports show up
    assert!(flows
        .iter()
        .any(|f| f.dst_port == 9996 && v4(f.src_ip) == worm));
    assert!(flows
        .iter()
        .any(|f| f.dst_port == 5554 && v4(f.dst_ip) == worm));
}

#[test]
fn scan_probes_many_addresses_and_ports() {
    let (t, flows) = sample(13, Scenario::Scan, DAY + 2 * H, 100_000);
    let scanner = t.incidents()[0].host;
    assert!(!t.site().is_internal(scanner));
    let probes: Vec<_> = flows.iter().filter(|f| v4(f.src_ip) == scanner).collect();
    assert!(probes.len() > 2000);
    assert!(probes.iter().all(|f| f.tcp_flags == 0x02 && f.packets == 1));
    let addrs: HashSet<_> = probes.iter().map(|f| f.dst_ip).collect();
    let ports: HashSet<_> = probes.iter().map(|f| f.dst_port).collect();
    assert!(addrs.len() > 1000 && ports.len() > 500);
    let external = top_src(&flows, |f| !site_internal(f.src_ip));
    assert_eq!(external[0].0, scanner);
    assert!(
        external[0].1 > 3 * external[1].1 / 2,
        "{:?}",
        &external[..3]
    );
}

#[test]
fn mail_relay_floods_from_the_registered_server() {
    let (t, flows) = sample(14, Scenario::MailRelay, DAY + 3 * H, 50_000);
    let mx = t.site().mail_servers[0];
    assert_eq!(t.incidents()[0].host, mx);
    let (n, _) = sample(14, Scenario::Normal, DAY + 3 * H, 50_000);
    let _ = n;
    let count = |v: &[FlowRecord]| {
        v.iter()
            .filter(|f| v4(f.src_ip) == mx && f.dst_port == 25)
            .count()
    };
    let (_, normal) = sample(14, Scenario::Normal, DAY + 3 * H, 50_000);
    assert!(
        count(&flows) > 3 * count(&normal),
        "{} vs {}",
        count(&flows),
        count(&normal)
    );
}

#[test]
fn scenario_names() {
    for s in Scenario::ALL {
        assert_eq!(s.name().parse::<Scenario>(), Ok(s));
        assert_eq!(s.to_string(), s.name());
    }
    assert_eq!("Spam-Bot".parse::<Scenario>(), Ok(Scenario::SpamBot));
    let e = "nope".parse::<Scenario>().expect_err("unknown");
    assert!(e.to_string().contains("spambot"));
    // All carries every incident, each on its own host
    let t = Traffic::new(1, DAY, Scenario::All);
    assert_eq!(t.incidents().len(), 4);
}

#[test]
fn extreme_inputs_do_not_panic() {
    let mut t = Traffic::new(u64::MAX, i64::MIN, Scenario::All)
        .with_incident_share(f64::NAN)
        .with_peak_rate(-1.0);
    for now in [i64::MIN, -1, 0, i64::MAX] {
        for _ in 0..1000 {
            t.next_flow(now);
        }
    }
    let mut t = Traffic::new(0, i64::MAX - 1000, Scenario::Scan).with_incident_share(7.0);
    for _ in 0..1000 {
        t.next();
    }
}
