//! The generated day: what it carries, where and when, and that it is the
//! same for the same seed.

use flowhound_generate::traffic::{ACTIVE_TIMEOUT_MS, IDLE_TIMEOUT_MS};
use flowhound_generate::{Day, DayPlan, FlowRecord, IncidentKind, LookalikeKind, Seed, Seeded};
use flowhound_model::{addr_from_v4, addr_to_ip};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;

/// 2025-11-26T00:00:00Z
const DAY: i64 = 1_764_115_200_000;
const H: i64 = 3_600_000;
const M: i64 = 60_000;

const TCP: u8 = 6;
const UDP: u8 = 17;
const SYN: u8 = 0x02;
const FIN: u8 = 0x01;
const RST: u8 = 0x04;

fn v4(a: u128) -> Ipv4Addr {
    match addr_to_ip(a) {
        IpAddr::V4(x) => x,
        IpAddr::V6(x) => panic!("v6 {x}"),
    }
}

fn ip(a: Ipv4Addr) -> u128 {
    addr_from_v4(u32::from(a))
}

fn internal(a: u128) -> bool {
    v4(a).octets()[..2] == [10, 0]
}

fn client(a: Ipv4Addr) -> bool {
    let o = a.octets();
    o[..2] == [10, 0] && (16..32).contains(&o[2]) && (10..250).contains(&o[3])
}

/// The default plan with the seed from `FLOWHOUND_DAY_SEED` (default 1), so
/// that the shapes can be checked for other seeds too.
fn plan() -> DayPlan {
    let mut plan = DayPlan::new(DAY);
    if let Ok(s) = std::env::var("FLOWHOUND_DAY_SEED") {
        plan.seed = s.parse().expect("FLOWHOUND_DAY_SEED is a number");
    }
    plan
}

/// The default day, generated once for the tests that read it.
fn default_day() -> &'static (Vec<Seeded>, Vec<FlowRecord>) {
    static DAY_FLOWS: OnceLock<(Vec<Seeded>, Vec<FlowRecord>)> = OnceLock::new();
    DAY_FLOWS.get_or_init(|| {
        let day = Day::new(&plan());
        (day.seeded().to_vec(), day.collect())
    })
}

/// A day with only `incidents` (and the look-alikes if asked), no background.
fn only(incidents: &[IncidentKind], lookalikes: bool) -> (Vec<Seeded>, Vec<FlowRecord>) {
    let mut plan = plan();
    plan.incidents = incidents.to_vec();
    plan.lookalikes = lookalikes;
    plan.peak_rate = 0.0;
    let day = Day::new(&plan);
    (day.seeded().to_vec(), day.collect())
}

fn incident(kind: IncidentKind) -> (Seeded, Vec<FlowRecord>) {
    let (s, f) = only(&[kind], false);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].what, Seed::Incident(kind));
    (s[0].clone(), f)
}

fn fingerprint(flows: &[FlowRecord]) -> u64 {
    flows.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, f| {
        let x = (f.src_ip as u64)
            ^ (f.dst_ip as u64).rotate_left(17)
            ^ u64::from(f.src_port) << 7
            ^ u64::from(f.dst_port) << 23
            ^ f.bytes.rotate_left(40)
            ^ (f.time_end as u64).rotate_left(5);
        (h ^ x).wrapping_mul(0x0100_0000_01b3)
    })
}

fn syn_only(f: &FlowRecord) -> bool {
    f.proto == TCP && f.tcp_flags == SYN
}

fn distinct<T: std::hash::Hash + Eq>(it: impl Iterator<Item = T>) -> usize {
    it.collect::<HashSet<T>>().len()
}

#[test]
fn same_seed_same_day_other_seed_other_day() {
    let (seeded, flows) = default_day();
    let again = Day::new(&plan());
    assert_eq!(again.seeded(), &seeded[..]);
    let again: Vec<FlowRecord> = again.collect();
    assert_eq!(again.len(), flows.len());
    assert_eq!(fingerprint(&again), fingerprint(flows));
    assert!(again == *flows);

    let mut plan = plan();
    plan.seed += 1;
    let other = Day::new(&plan);
    let hosts = |s: &[Seeded]| s.iter().map(|s| s.host).collect::<Vec<_>>();
    assert_ne!(hosts(other.seeded()), hosts(seeded));
    let other: Vec<FlowRecord> = other.collect();
    assert_ne!(fingerprint(&other), fingerprint(flows));
}

#[test]
fn default_day_is_about_half_a_million_well_formed_flows() {
    let (seeded, flows) = default_day();
    assert!(
        (450_000..=560_000).contains(&flows.len()),
        "{} flows",
        flows.len()
    );
    assert_eq!(
        seeded
            .iter()
            .filter(|s| matches!(s.what, Seed::Incident(_)))
            .count(),
        IncidentKind::ALL.len()
    );
    // one entry per benign host: the two resolvers have one each
    assert_eq!(
        seeded
            .iter()
            .filter(|s| matches!(s.what, Seed::Lookalike(_)))
            .count(),
        LookalikeKind::ALL.len() + 1
    );
    let mut latest = DAY;
    for f in flows {
        assert!(f.time_start >= DAY && f.time_end < DAY + 24 * H, "{f:?}");
        assert!(f.time_start <= f.time_end, "{f:?}");
        assert!(f.time_end - f.time_start <= ACTIVE_TIMEOUT_MS, "{f:?}");
        assert!(f.packets >= 1 && f.bytes >= 20 * f.packets, "{f:?}");
        assert!(f.is_ipv4());
        assert!(internal(f.src_ip) || internal(f.dst_ip), "{f:?}");
        // export order: time_end goes back by at most the idle timeout
        assert!(f.time_end >= latest - IDLE_TIMEOUT_MS - 1000, "{f:?}");
        latest = latest.max(f.time_end);
    }
    // the background is there, by day more than by night
    let hour = |f: &&FlowRecord| (f.time_end - DAY) / H;
    let at = |h: i64| flows.iter().filter(|f| hour(f) == h).count();
    assert!(at(14) > 3 * at(3), "14h {} 3h {}", at(14), at(3));
}

#[test]
fn incident_hosts_are_distinct_and_fixed_by_the_seed() {
    let (seeded, _) = default_day();
    let incidents: Vec<&Seeded> = seeded
        .iter()
        .filter(|s| matches!(s.what, Seed::Incident(_)))
        .collect();
    assert_eq!(
        distinct(incidents.iter().map(|s| s.host)),
        incidents.len(),
        "{incidents:?}"
    );
    for s in &incidents {
        let Seed::Incident(kind) = s.what else {
            unreachable!()
        };
        assert_eq!(s.categories, kind.categories());
        assert!(!s.categories.is_empty());
        assert!(s.start_ms >= DAY && s.end_ms <= DAY + 24 * H && s.start_ms < s.end_ms);
        // the same host whichever incidents are seeded
        let (alone, _) = incident(kind);
        assert_eq!(alone.host, s.host, "{kind}");
        assert_eq!((alone.start_ms, alone.end_ms), (s.start_ms, s.end_ms));
        let internal_host = s.host.octets()[..2] == [10, 0];
        match kind {
            IncidentKind::HorizontalScan
            | IncidentKind::VerticalScan
            | IncidentKind::SshBruteForce
            | IncidentKind::RdpBruteForce => assert!(!internal_host, "{kind} {}", s.host),
            IncidentKind::MailRelay => assert_eq!(s.host, Ipv4Addr::new(10, 0, 0, 25)),
            IncidentKind::Slammer => assert!(internal_host && !client(s.host)),
            _ => assert!(client(s.host), "{kind} {}", s.host),
        }
    }
    // some incidents run in the quiet hours (22:00-06:00)
    let quiet = incidents
        .iter()
        .filter(|s| (s.start_ms - DAY) < 6 * H || (s.start_ms - DAY) >= 22 * H)
        .count();
    assert!(quiet >= 3, "{quiet}");
    for s in seeded
        .iter()
        .filter(|s| matches!(s.what, Seed::Lookalike(_)))
    {
        assert!(s.categories.is_empty());
    }
}

#[test]
fn incidents_stay_in_their_interval_and_involve_their_host() {
    for kind in IncidentKind::ALL {
        let (s, flows) = incident(kind);
        let (from, to) = (s.start_ms, s.end_ms);
        let minutes = (to - from) as f64 / M as f64;
        assert!(!flows.is_empty(), "{kind}");
        let host = ip(s.host);
        for f in &flows {
            assert!(f.time_start >= from && f.time_end < to, "{kind}: {f:?}");
            assert!(f.src_ip == host || f.dst_ip == host, "{kind}: {f:?}");
        }
        // at least the advertised rate's worth of flows from the host
        let from_host = flows.iter().filter(|f| f.src_ip == host).count() as f64;
        let per_min = from_host / minutes;
        let per_s = match kind {
            IncidentKind::Slammer => 36.0,
            IncidentKind::HorizontalScan | IncidentKind::VerticalScan => 9.0,
            IncidentKind::Sasser | IncidentKind::Blaster => 4.5,
            IncidentKind::SpamBot => 2.7,
            IncidentKind::MailRelay | IncidentKind::Conficker => 1.8,
            IncidentKind::MassMailer => 1.6,
            IncidentKind::SshBruteForce | IncidentKind::RdpBruteForce => 0.9,
        };
        assert!(
            per_min >= per_s * 60.0,
            "{kind}: {per_min:.0} flows/min from the host"
        );
    }
}

#[test]
fn incidents_do_not_depend_on_the_background() {
    let (_, day) = default_day();
    for kind in [
        IncidentKind::Slammer,
        IncidentKind::SshBruteForce,
        IncidentKind::HorizontalScan,
    ] {
        let (s, alone) = incident(kind);
        let host = ip(s.host);
        // (the day's vulnerability scanner probes the Slammer server too)
        // (the background's eyeball hosts may, rarely, be the attacker's
        // address at another hour)
        let mine = |f: &&FlowRecord| {
            (f.src_ip == host || f.dst_ip == host && kind != IncidentKind::Slammer)
                && f.time_start >= s.start_ms
                && f.time_end < s.end_ms
        };
        let in_day: Vec<FlowRecord> = day.iter().filter(mine).copied().collect();
        let alone: Vec<FlowRecord> = alone.iter().filter(mine).copied().collect();
        assert!(alone.len() > 1000, "{kind}");
        assert_eq!(in_day.len(), alone.len(), "{kind}");
        assert!(in_day == alone, "{kind}: other flows");
    }
}

#[test]
fn spam_bot_sends_smtp_to_thousands_of_mail_servers() {
    let (s, flows) = incident(IncidentKind::SpamBot);
    assert_ne!(s.host, Ipv4Addr::new(10, 0, 0, 25));
    let host = ip(s.host);
    let smtp: Vec<&FlowRecord> = flows
        .iter()
        .filter(|f| f.src_ip == host && f.proto == TCP && f.dst_port == 25)
        .collect();
    assert!(smtp.len() >= 18_000, "{}", smtp.len());
    assert!(distinct(smtp.iter().map(|f| f.dst_ip)) >= 10_000);
    assert!(smtp.iter().all(|f| !internal(f.dst_ip)));
    let failed = smtp.iter().filter(|f| syn_only(f)).count();
    assert!(failed * 100 >= smtp.len() * 35, "{failed} SYN-only");
    assert_eq!(s.end_ms - s.start_ms, 2 * H);
}

#[test]
fn mail_relay_runs_at_night_to_foreign_destinations() {
    let (s, flows) = incident(IncidentKind::MailRelay);
    let h = (s.start_ms - DAY) / H;
    assert!(
        (0..6).contains(&h) && s.end_ms - DAY <= 6 * H,
        "quiet hours"
    );
    let smtp: Vec<&FlowRecord> = flows
        .iter()
        .filter(|f| f.src_ip == ip(s.host) && f.dst_port == 25)
        .collect();
    assert!(smtp.len() >= 12_000, "{}", smtp.len());
    assert!(distinct(smtp.iter().map(|f| f.dst_ip)) >= 5_000);
    // not the big US platforms the server usually talks to
    const BIG_US: [u32; 8] = [15169, 8075, 8068, 16509, 13335, 32934, 714, 20940];
    let us = smtp.iter().filter(|f| BIG_US.contains(&f.dst_as)).count();
    assert!(us * 20 < smtp.len(), "{us} to big US platforms");
    assert!(distinct(smtp.iter().map(|f| f.dst_as)) >= 20);
}

#[test]
fn sasser_scans_445_and_victims_fetch_the_worm_from_5554() {
    let (s, flows) = incident(IncidentKind::Sasser);
    let host = ip(s.host);
    assert!(s.end_ms - s.start_ms <= 30 * M);
    let mut syns: Vec<&FlowRecord> = flows
        .iter()
        .filter(|f| f.src_ip == host && f.dst_port == 445 && syn_only(f))
        .collect();
    assert!(syns.len() >= 6_000, "{}", syns.len());
    assert!(distinct(syns.iter().map(|f| f.dst_ip)) >= 5_500);
    assert!(syns.iter().all(|f| f.bytes / f.packets == 48));
    // sequential source ports
    syns.sort_by_key(|f| f.time_start);
    let seq = syns
        .windows(2)
        .filter(|w| w[1].src_port == w[0].src_port + 1)
        .count();
    assert!(seq * 10 >= syns.len() * 8, "{seq} sequential");
    // a few victims: the shell on 9996, the worm over FTP from 5554
    let shells: HashSet<u128> = flows
        .iter()
        .filter(|f| f.src_ip == host && f.dst_port == 9996)
        .map(|f| f.dst_ip)
        .collect();
    let ftp: Vec<&FlowRecord> = flows
        .iter()
        .filter(|f| f.dst_ip == host && f.dst_port == 5554)
        .collect();
    assert!((1..=30).contains(&shells.len()), "{} victims", shells.len());
    // (a chain cut by the end of the interval may lack its download)
    let fetched: HashSet<u128> = ftp.iter().map(|f| f.src_ip).collect();
    assert!(fetched.is_subset(&shells) && fetched.len() + 1 >= shells.len());
    for f in &ftp {
        assert!(shells.contains(&f.src_ip));
        let worm = flows
            .iter()
            .find(|r| r.src_ip == host && r.src_port == 5554 && r.dst_ip == f.src_ip)
            .expect("the FTP server answers");
        assert!(worm.bytes >= 15_872);
    }
}

#[test]
fn blaster_sweeps_135_and_victims_fetch_msblast_by_tftp() {
    let (s, flows) = incident(IncidentKind::Blaster);
    let host = ip(s.host);
    let mut syns: Vec<&FlowRecord> = flows
        .iter()
        .filter(|f| f.src_ip == host && f.dst_port == 135 && f.proto == TCP)
        .collect();
    assert!(syns.len() >= 6_000, "{}", syns.len());
    let dsts = distinct(syns.iter().map(|f| f.dst_ip));
    assert!(dsts * 100 >= syns.len() * 99, "a sweep: every target once");
    assert!(syns.iter().filter(|f| syn_only(f)).count() * 10 >= syns.len() * 9);
    // sequential, starting in its own /16
    syns.sort_by_key(|f| f.time_start);
    assert!(syns.iter().take(100).all(|f| internal(f.dst_ip)));
    let up = syns
        .windows(2)
        .filter(|w| w[1].dst_ip > w[0].dst_ip)
        .count();
    assert!(up * 10 >= syns.len() * 9);
    let shells = flows
        .iter()
        .filter(|f| f.src_ip == host && f.dst_port == 4444)
        .count();
    let rrq = flows
        .iter()
        .filter(|f| f.dst_ip == host && f.proto == UDP && f.dst_port == 69)
        .count();
    let data: Vec<&FlowRecord> = flows
        .iter()
        .filter(|f| f.src_ip == host && f.proto == UDP && f.packets == 13)
        .collect();
    // (a chain cut by the end of the interval may lack its download)
    assert!(
        rrq >= 1 && rrq <= shells && shells <= rrq + 1,
        "{shells} {rrq}"
    );
    assert_eq!(rrq, data.len());
    assert!(data.iter().all(|f| f.bytes == 12 * 544 + 64), "msblast.exe");
}

#[test]
fn slammer_sends_single_404_byte_packets_to_1434() {
    let (s, flows) = incident(IncidentKind::Slammer);
    assert_eq!(s.end_ms - s.start_ms, 10 * M);
    assert!(flows.len() >= 22_000, "{}", flows.len());
    for f in &flows {
        assert_eq!(
            (f.proto, f.dst_port, f.packets, f.bytes),
            (UDP, 1434, 1, 404),
            "{f:?}"
        );
        assert_eq!(f.src_ip, ip(s.host));
    }
    assert!(distinct(flows.iter().map(|f| f.dst_ip)) * 100 >= flows.len() * 99);
    assert_eq!(distinct(flows.iter().map(|f| f.src_port)), 1);
}

#[test]
fn conficker_fans_out_on_445_mostly_locally_without_sasser_ports() {
    let (s, flows) = incident(IncidentKind::Conficker);
    let host = ip(s.host);
    let syns: Vec<&FlowRecord> = flows
        .iter()
        .filter(|f| f.src_ip == host && f.dst_port == 445 && syn_only(f))
        .collect();
    assert!(syns.len() >= 6_000, "{}", syns.len());
    let local = syns.iter().filter(|f| internal(f.dst_ip)).count();
    assert!((40..=60).contains(&(local * 100 / syns.len())), "{local}");
    assert!(distinct(syns.iter().map(|f| f.dst_ip)) >= 5_000);
    assert!(!flows
        .iter()
        .any(|f| [9996, 5554].contains(&f.dst_port) || [9996, 5554].contains(&f.src_port)));
}

#[test]
fn mass_mailer_mails_many_mx_hosts_and_is_probed_on_mydoom_ports() {
    let (s, flows) = incident(IncidentKind::MassMailer);
    let host = ip(s.host);
    let smtp: Vec<&FlowRecord> = flows
        .iter()
        .filter(|f| f.src_ip == host && f.dst_port == 25)
        .collect();
    assert!(smtp.len() >= 5_500, "{}", smtp.len());
    assert!(distinct(smtp.iter().map(|f| f.dst_ip)) >= 5_000);
    let mut sizes: Vec<u64> = smtp
        .iter()
        .filter(|f| f.tcp_flags & FIN != 0)
        .map(|f| f.bytes)
        .collect();
    sizes.sort_unstable();
    let median = sizes[sizes.len() / 2];
    assert!((20_000..60_000).contains(&median), "{median}");
    let probes: Vec<&FlowRecord> = flows
        .iter()
        .filter(|f| f.dst_ip == host && (3127..=3198).contains(&f.dst_port))
        .collect();
    assert!(probes.len() >= 500, "{}", probes.len());
    assert!(distinct(probes.iter().map(|f| f.src_ip)) >= 400);
    assert!(probes.iter().all(|f| !internal(f.src_ip)));
}

#[test]
fn horizontal_scan_hits_one_port_on_thousands_of_addresses() {
    let (s, flows) = incident(IncidentKind::HorizontalScan);
    let host = ip(s.host);
    let probes: Vec<&FlowRecord> = flows.iter().filter(|f| f.src_ip == host).collect();
    assert!(probes.len() >= 16_000, "{}", probes.len());
    assert_eq!(distinct(probes.iter().map(|f| f.dst_port)), 1);
    assert!([23, 1433].contains(&probes[0].dst_port));
    assert!(probes
        .iter()
        .all(|f| internal(f.dst_ip) && f.tcp_flags & SYN != 0));
    assert!(probes.iter().filter(|f| syn_only(f)).count() * 100 >= probes.len() * 99);
    assert!(distinct(probes.iter().map(|f| f.dst_ip)) >= 12_000);
    let replies = flows.len() - probes.len();
    assert!(replies * 50 < probes.len(), "{replies} replies");
}

#[test]
fn vertical_scan_hits_thousands_of_ports_on_one_host() {
    let (s, flows) = incident(IncidentKind::VerticalScan);
    let host = ip(s.host);
    let probes: Vec<&FlowRecord> = flows.iter().filter(|f| f.src_ip == host).collect();
    assert!(probes.len() >= 5_000, "{}", probes.len());
    assert_eq!(distinct(probes.iter().map(|f| f.dst_ip)), 1);
    assert!(internal(probes[0].dst_ip));
    assert!(distinct(probes.iter().map(|f| f.dst_port)) == probes.len());
    assert!(probes.iter().all(|f| (1..=10_000).contains(&f.dst_port)));
    assert!(probes.iter().filter(|f| syn_only(f)).count() * 100 >= probes.len() * 99);
}

#[test]
fn brute_forces_are_many_short_complete_sessions() {
    for (kind, port) in [
        (IncidentKind::SshBruteForce, 22),
        (IncidentKind::RdpBruteForce, 3389),
    ] {
        let (s, flows) = incident(kind);
        let host = ip(s.host);
        let logins: Vec<&FlowRecord> = flows.iter().filter(|f| f.src_ip == host).collect();
        assert!(logins.len() >= 3_000, "{kind} {}", logins.len());
        assert_eq!(distinct(logins.iter().map(|f| f.dst_ip)), 1);
        let target = v4(logins[0].dst_ip);
        if kind == IncidentKind::SshBruteForce {
            assert_eq!(target, Ipv4Addr::new(10, 0, 0, 22));
        } else {
            assert!(client(target));
        }
        assert_eq!(flows.len(), 2 * logins.len(), "{kind}: all answered");
        for f in &logins {
            assert_eq!(f.dst_port, port);
            assert_eq!(f.tcp_flags & (SYN | FIN), SYN | FIN, "complete");
            if kind == IncidentKind::SshBruteForce {
                assert!((10..=25).contains(&f.packets), "{f:?}");
                assert!((2_000..=5_000).contains(&f.bytes), "{f:?}");
            }
            assert!(f.time_end - f.time_start <= 6_000);
        }
    }
}

fn lookalikes() -> &'static (Vec<Seeded>, Vec<FlowRecord>) {
    static FLOWS: OnceLock<(Vec<Seeded>, Vec<FlowRecord>)> = OnceLock::new();
    FLOWS.get_or_init(|| only(&[], true))
}

fn lookalike(kind: LookalikeKind) -> Vec<&'static Seeded> {
    lookalikes()
        .0
        .iter()
        .filter(|s| s.what == Seed::Lookalike(kind))
        .collect()
}

/// Request flows from `s.host` (to `port` if given), checked to be inside
/// its interval, and how many of them were answered. The vulnerability
/// scanner probes the other look-alike hosts: its flows are left out.
fn requests(s: &Seeded, port: Option<u16>) -> (Vec<&'static FlowRecord>, usize) {
    let flows = &lookalikes().1;
    let host = ip(s.host);
    let scanner = ip(Ipv4Addr::new(10, 0, 0, 99));
    let req: Vec<&FlowRecord> = flows
        .iter()
        .filter(|f| f.src_ip == host && port.is_none_or(|p| f.dst_port == p))
        .filter(|f| host == scanner || f.dst_ip != scanner)
        .collect();
    let answers: HashSet<(u128, u16, u128, u16)> = flows
        .iter()
        .filter(|f| f.dst_ip == host)
        .map(|f| (f.dst_ip, f.dst_port, f.src_ip, f.src_port))
        .collect();
    let answered = req
        .iter()
        .filter(|f| answers.contains(&(f.src_ip, f.src_port, f.dst_ip, f.dst_port)))
        .count();
    for f in &req {
        assert!(f.time_start >= s.start_ms && f.time_end < s.end_ms, "{f:?}");
    }
    (req, answered)
}

#[test]
fn lookalikes_stay_in_their_intervals() {
    let (seeded, flows) = lookalikes();
    for f in flows {
        let owner = seeded.iter().any(|s| {
            let h = ip(s.host);
            (f.src_ip == h || f.dst_ip == h) && f.time_start >= s.start_ms && f.time_end < s.end_ms
        });
        assert!(owner, "{f:?}");
    }
}

#[test]
fn busy_mail_server_sends_much_mail_to_few_destinations() {
    let s = lookalike(LookalikeKind::BusyMailServer);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].host, Ipv4Addr::new(10, 0, 0, 25));
    assert!((s[0].start_ms - DAY) >= 8 * H && (s[0].end_ms - DAY) <= 18 * H);
    let (req, answered) = requests(s[0], Some(25));
    assert!(req.len() >= 25_000, "{}", req.len());
    assert!(answered * 100 >= req.len() * 93);
    let dsts = distinct(req.iter().map(|f| f.dst_ip));
    assert!(dsts * 10 < req.len(), "{dsts} destinations");
}

#[test]
fn resolvers_query_thousands_of_authoritative_servers() {
    let s = lookalike(LookalikeKind::DnsResolverFanout);
    assert_eq!(
        s.iter().map(|s| s.host).collect::<Vec<_>>(),
        [Ipv4Addr::new(10, 0, 0, 53), Ipv4Addr::new(10, 0, 0, 54)]
    );
    for s in s {
        let (req, answered) = requests(s, Some(53));
        assert!(req.iter().all(|f| f.proto == UDP && !internal(f.dst_ip)));
        assert!(distinct(req.iter().map(|f| f.dst_ip)) >= 3_000);
        assert!(answered * 100 >= req.len() * 95);
    }
}

#[test]
fn web_proxy_fetches_from_thousands_of_sites() {
    let s = lookalike(LookalikeKind::WebProxy);
    assert_eq!(s[0].host, Ipv4Addr::new(10, 0, 0, 8));
    let (req, answered) = requests(s[0], None);
    assert!(req.len() >= 45_000, "{}", req.len());
    assert!(req.iter().all(|f| [80, 443].contains(&f.dst_port)));
    assert!(distinct(req.iter().map(|f| f.dst_ip)) >= 20_000);
    assert!(answered * 100 >= req.len() * 93, "{answered}");
    // as fast as a scanner: thousands of destinations in ten minutes
    let first = s[0].start_ms;
    let ten = distinct(
        req.iter()
            .filter(|f| f.time_start < first + 10 * M)
            .map(|f| f.dst_ip),
    );
    assert!(ten >= 2_500, "{ten}");
}

#[test]
fn file_server_serves_about_two_thousand_clients() {
    let s = lookalike(LookalikeKind::FileServer);
    let fs = ip(s[0].host);
    assert_eq!(s[0].host, Ipv4Addr::new(10, 0, 1, 10));
    let flows = &lookalikes().1;
    let scanner = ip(Ipv4Addr::new(10, 0, 0, 99));
    let smb: Vec<&FlowRecord> = flows
        .iter()
        .filter(|f| f.dst_ip == fs && f.dst_port == 445 && f.src_ip != scanner)
        .collect();
    let clients = distinct(smb.iter().map(|f| f.src_ip));
    assert!((1_900..=2_000).contains(&clients), "{clients}");
    assert!(smb.iter().all(|f| client(v4(f.src_ip))));
    let complete = smb.iter().filter(|f| f.tcp_flags & FIN != 0).count();
    assert!(complete * 100 >= smb.len() * 80, "{complete}");
}

#[test]
fn backup_moves_terabytes_at_night_in_a_few_long_flows() {
    let s = lookalike(LookalikeKind::Backup);
    let host = ip(s[0].host);
    assert!((s[0].end_ms - DAY) <= 6 * H);
    let flows: Vec<&FlowRecord> = lookalikes()
        .1
        .iter()
        .filter(|f| {
            f.src_ip == host && !internal(f.dst_ip) || f.dst_ip == host && !internal(f.src_ip)
        })
        .collect();
    assert!(flows.len() <= 200, "{}", flows.len());
    let up: u64 = flows
        .iter()
        .filter(|f| f.src_ip == host)
        .map(|f| f.bytes)
        .sum();
    assert!(up >= 1_000_000_000_000, "{up} bytes");
    assert_eq!(
        distinct(
            flows
                .iter()
                .map(|f| if f.src_ip == host { f.dst_ip } else { f.src_ip })
        ),
        1
    );
    let timed_out = flows.iter().filter(|f| f.end_reason == 2).count();
    assert!(
        timed_out * 10 >= flows.len() * 9,
        "split by the active timeout"
    );
    assert!(flows
        .iter()
        .all(|f| [22, 873].contains(&f.dst_port) || [22, 873].contains(&f.src_port)));
}

#[test]
fn vuln_scanner_sweeps_the_internal_network() {
    let s = lookalike(LookalikeKind::VulnScanner);
    assert_eq!(s[0].host, Ipv4Addr::new(10, 0, 0, 99));
    let (req, _) = requests(s[0], None);
    assert!(req.len() >= 15_000, "{}", req.len());
    assert!(req
        .iter()
        .all(|f| internal(f.dst_ip) && f.tcp_flags & SYN != 0));
    assert!(req.iter().all(|f| f.packets <= 2 && f.tcp_flags & FIN == 0));
    assert!(distinct(req.iter().map(|f| f.dst_ip)) >= 3_000);
    assert!(distinct(req.iter().map(|f| f.dst_port)) >= 100);
    let resets = req.iter().filter(|f| f.tcp_flags & RST != 0).count();
    assert!(resets > 0, "the scanner resets half-open connections");
}

#[test]
fn site_roles_name_the_benign_hosts() {
    let day = Day::new(&plan());
    let roles: HashMap<&str, Vec<Ipv4Addr>> = day.site_roles().into_iter().collect();
    let a = |s: &str| s.parse::<Ipv4Addr>().expect("ip");
    assert_eq!(roles["mail_servers"], [a("10.0.0.25")]);
    assert_eq!(roles["dns_resolvers"], [a("10.0.0.53"), a("10.0.0.54")]);
    assert_eq!(roles["web_proxies"], [a("10.0.0.8")]);
    assert_eq!(roles["vuln_scanners"], [a("10.0.0.99")]);
    assert_eq!(roles["backup_servers"], [a("10.0.0.200")]);
    assert!(roles["file_servers"].contains(&a("10.0.1.10")));
    // every look-alike host has a role; no incident host has one
    let with_role: HashSet<Ipv4Addr> = roles.values().flatten().copied().collect();
    for s in day.seeded() {
        match s.what {
            Seed::Lookalike(_) => assert!(with_role.contains(&s.host), "{s:?}"),
            Seed::Incident(IncidentKind::MailRelay) => {}
            Seed::Incident(_) => assert!(!with_role.contains(&s.host), "{s:?}"),
        }
    }
}
