//! The synthetic site and its traffic.
//!
//! The site is one organisation behind one edge router:
//!
//! | what | addresses |
//! | --- | --- |
//! | internal network | `10.0.0.0/16` |
//! | clients | `10.0.16.10`–`10.0.31.249` (16 subnets of /24, 3840 hosts) |
//! | registered mail server (MX, submission, IMAPS) | `10.0.0.25` |
//! | DNS resolvers | `10.0.0.53`, `10.0.0.54` |
//! | NTP server | `10.0.0.123` |
//! | public web server | `10.0.0.80` |
//! | SSH jump host | `10.0.0.22` |
//! | file servers (SMB) | `10.0.1.10`–`10.0.1.13` |
//!
//! Router interfaces: 1 is the uplink, 2 the client LAN, 3 the server VLAN.
//! Flows are exported on ingress (`direction` 0). Traffic towards the
//! Internet has the upstream router `198.51.100.1` as next hop; internal
//! destinations are directly connected (next hop 0). Internal addresses carry
//! AS 0 and mask 24; external ones the origin AS and the length of the real
//! prefix they were drawn from (see [`crate::prefixes`]).
//!
//! Every connection yields its request flow and, when the peer answers, the
//! reply flow (NetFlow is unidirectional). Hours are UTC.

use crate::prefixes::{Picker, Prefix, PREFIXES};
use crate::rng::{mix64, Rng};
use flowhound_model::{addr_from_v4, FlowRecord};
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

pub(crate) const TCP: u8 = 6;
pub(crate) const UDP: u8 = 17;
const ICMP: u8 = 1;

pub(crate) const FIN: u8 = 0x01;
pub(crate) const SYN: u8 = 0x02;
pub(crate) const RST: u8 = 0x04;
pub(crate) const PSH: u8 = 0x08;
pub(crate) const ACK: u8 = 0x10;
pub(crate) const FULL: u8 = FIN | SYN | PSH | ACK;

const IF_UPLINK: u32 = 1;
const IF_CLIENTS: u32 = 2;
const IF_SERVERS: u32 = 3;

/// Longest flow duration: the exporter's active timeout, in ms.
pub const ACTIVE_TIMEOUT_MS: i64 = 300_000;
/// How long after its last packet an idle flow is exported, in ms.
pub const IDLE_TIMEOUT_MS: i64 = 15_000;
/// The default share of connections that belong to the scenario's incident.
pub const DEFAULT_INCIDENT_SHARE: f64 = 0.05;

pub(crate) const fn v4(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from_be_bytes([a, b, c, d])
}

pub(crate) const NET: u32 = v4(10, 0, 0, 0);
pub(crate) const MAIL: u32 = v4(10, 0, 0, 25);
pub(crate) const DNS: [u32; 2] = [v4(10, 0, 0, 53), v4(10, 0, 0, 54)];
pub(crate) const NTP: u32 = v4(10, 0, 0, 123);
pub(crate) const WEB: u32 = v4(10, 0, 0, 80);
pub(crate) const JUMP: u32 = v4(10, 0, 0, 22);
pub(crate) const FILES: [u32; 4] = [
    v4(10, 0, 1, 10),
    v4(10, 0, 1, 11),
    v4(10, 0, 1, 12),
    v4(10, 0, 1, 13),
];
const UPSTREAM: u32 = v4(198, 51, 100, 1);
pub(crate) const CLIENT_SUBNETS: u32 = 16;
pub(crate) const CLIENT_FIRST_SUBNET: u32 = 16;
pub(crate) const CLIENT_HOSTS: u32 = 240;
pub(crate) const CLIENT_FIRST_HOST: u32 = 10;

/// An incident the traffic can carry besides normal activity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Normal activity only.
    Normal,
    /// One internal client, not a mail server, sends SMTP (tcp/25) to many
    /// foreign mail servers: a spam bot (story 1).
    SpamBot,
    /// One internal client probes random addresses on tcp/445 with SYNs,
    /// Sasser-like; the few it infects get its backdoor (tcp/9996) and pull
    /// the worm from its FTP server (tcp/5554) (story 5).
    Worm,
    /// One external host probes many internal addresses and ports with
    /// SYN-only flows.
    Scan,
    /// The registered mail server relays mail to many foreign destinations,
    /// day and night and three times as much in the quiet hours (UTC
    /// 20:00–08:00): a misbehaving registered server (story 2).
    MailRelay,
    /// All incidents at once, sharing the incident rate.
    All,
}

impl Scenario {
    /// Every scenario, in the order of [`Scenario::name`]s in help texts.
    pub const ALL: [Scenario; 6] = [
        Scenario::Normal,
        Scenario::SpamBot,
        Scenario::Worm,
        Scenario::Scan,
        Scenario::MailRelay,
        Scenario::All,
    ];

    /// The name used on command lines: `normal`, `spambot`, `worm`, `scan`,
    /// `mailrelay`, `all`.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Normal => "normal",
            Scenario::SpamBot => "spambot",
            Scenario::Worm => "worm",
            Scenario::Scan => "scan",
            Scenario::MailRelay => "mailrelay",
            Scenario::All => "all",
        }
    }

    fn kinds(self) -> &'static [Scenario] {
        match self {
            Scenario::Normal => &[],
            Scenario::SpamBot => &[Scenario::SpamBot],
            Scenario::Worm => &[Scenario::Worm],
            Scenario::Scan => &[Scenario::Scan],
            Scenario::MailRelay => &[Scenario::MailRelay],
            Scenario::All => &[
                Scenario::SpamBot,
                Scenario::Worm,
                Scenario::Scan,
                Scenario::MailRelay,
            ],
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown scenario name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownScenario(pub String);

impl fmt::Display for UnknownScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
        write!(
            f,
            "unknown scenario {:?} (expected one of: {})",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownScenario {}

impl FromStr for Scenario {
    type Err = UnknownScenario;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let l = s.trim().to_ascii_lowercase();
        let l = l.replace(['-', '_'], "");
        Scenario::ALL
            .iter()
            .copied()
            .find(|sc| sc.name() == l)
            .ok_or_else(|| UnknownScenario(s.to_string()))
    }
}

/// One incident carried by the traffic, so that tests and the demo know
/// what detections should find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Incident {
    /// What it is (never [`Scenario::Normal`] or [`Scenario::All`]).
    pub kind: Scenario,
    /// The offending host: the internal source for spam bot, worm and mail
    /// relay, the external scanner for a scan.
    pub host: Ipv4Addr,
}

/// The synthetic site's address plan (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// The internal network.
    pub internal_net: Ipv4Addr,
    /// Its prefix length.
    pub internal_prefix_len: u8,
    /// Registered mail servers.
    pub mail_servers: Vec<Ipv4Addr>,
    /// DNS resolvers.
    pub dns_servers: Vec<Ipv4Addr>,
    /// File (SMB) servers.
    pub file_servers: Vec<Ipv4Addr>,
    /// NTP servers.
    pub ntp_servers: Vec<Ipv4Addr>,
    /// Public web servers.
    pub web_servers: Vec<Ipv4Addr>,
    /// SSH jump hosts.
    pub ssh_servers: Vec<Ipv4Addr>,
    /// Client networks (each a /24).
    pub client_nets: Vec<Ipv4Addr>,
}

impl Site {
    fn new() -> Self {
        let ip = |v: u32| Ipv4Addr::from(v);
        Site {
            internal_net: ip(NET),
            internal_prefix_len: 16,
            mail_servers: vec![ip(MAIL)],
            dns_servers: DNS.iter().map(|&a| ip(a)).collect(),
            file_servers: FILES.iter().map(|&a| ip(a)).collect(),
            ntp_servers: vec![ip(NTP)],
            web_servers: vec![ip(WEB)],
            ssh_servers: vec![ip(JUMP)],
            client_nets: (0..CLIENT_SUBNETS)
                .map(|i| ip(NET | (CLIENT_FIRST_SUBNET + i) << 8))
                .collect(),
        }
    }

    /// Whether `a` is inside the internal network.
    pub fn is_internal(&self, a: Ipv4Addr) -> bool {
        u32::from(a) >> 16 == NET >> 16
    }
}

/// The normal activities, in the order of [`KIND_WEIGHTS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    WebOut,
    QuicOut,
    WebIn,
    DnsClient,
    DnsResolver,
    MailIn,
    MailOut,
    Submission,
    Smb,
    Ntp,
    SshOut,
    SshIn,
    Icmp,
    NoiseIn,
}

/// `(kind, weight at night, extra weight at the 14:00 peak)`.
const KIND_WEIGHTS: [(Kind, f64, f64); 14] = [
    (Kind::WebOut, 2.0, 45.0),
    (Kind::QuicOut, 1.0, 15.0),
    (Kind::WebIn, 1.0, 4.0),
    (Kind::DnsClient, 3.0, 14.0),
    (Kind::DnsResolver, 2.0, 8.0),
    (Kind::MailIn, 2.0, 2.0),
    (Kind::MailOut, 0.6, 2.0),
    (Kind::Submission, 0.3, 4.0),
    (Kind::Smb, 0.3, 8.0),
    (Kind::Ntp, 0.8, 0.2),
    (Kind::SshOut, 0.2, 1.2),
    (Kind::SshIn, 0.6, 0.0),
    (Kind::Icmp, 0.8, 1.5),
    (Kind::NoiseIn, 1.5, 0.0),
];

/// Daytime activity in `[0, 1]`: 1 at 14:00 UTC, 0 at 02:00.
fn daylight(ms: i64) -> f64 {
    let h = ms.rem_euclid(86_400_000) as f64 / 3_600_000.0;
    0.5 * (1.0 + ((h - 14.0) / 24.0 * std::f64::consts::TAU).cos())
}

fn total_weight(day: f64) -> f64 {
    KIND_WEIGHTS.iter().map(|(_, b, a)| b + a * day).sum()
}

/// Relative load of normal traffic at flow time `ms` (Unix ms, UTC): 1.0 at
/// the 14:00 peak, about 0.1 in the small hours.
pub fn intensity(ms: i64) -> f64 {
    total_weight(daylight(ms)) / total_weight(1.0)
}

/// Where an endpoint sits, which decides interfaces, masks, AS and next hop.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Side {
    Client,
    Server,
    External(usize),
}

/// One connection, from which the request flow and the reply flow are made.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Conn {
    pub(crate) src: u32,
    pub(crate) dst: u32,
    pub(crate) src_side: Side,
    pub(crate) dst_side: Side,
    pub(crate) sport: u16,
    pub(crate) dport: u16,
    pub(crate) proto: u8,
    pub(crate) tos: u8,
    pub(crate) fwd_pkts: u64,
    pub(crate) fwd_bytes: u64,
    pub(crate) fwd_flags: u8,
    /// No reply flow when `rev_pkts` is 0.
    pub(crate) rev_pkts: u64,
    pub(crate) rev_bytes: u64,
    pub(crate) rev_flags: u8,
    pub(crate) duration_ms: i64,
}

#[derive(Clone, Copy, Debug)]
struct Client {
    addr: u32,
    linux: bool,
}

/// A deterministic stream of synthetic flows for the site in [`Site`].
///
/// Two ways to drive it:
///
/// * [`Traffic::next_flow`] with a clock of your own: each flow ends at or a
///   little before `now_ms`; the *mix* follows the hour (more web by day).
/// * As an [`Iterator`]: the generator keeps its own simulated clock, starting
///   at `start_ms`, and spaces flows so that the *volume* follows the hour
///   too, at up to [`Traffic::with_peak_rate`] flows per simulated second.
///
/// The same seed, start time, scenario and calls give the same flows.
#[derive(Clone, Debug)]
pub struct Traffic {
    pub(crate) rng: Rng,
    site: Site,
    scenario: Scenario,
    incidents: Vec<Incident>,
    incident_share: f64,
    clients: Vec<Client>,
    client_cum: Vec<u64>,
    web: Picker,
    mail: Picker,
    dns: Picker,
    eyeball: Picker,
    pending: Option<FlowRecord>,
    clock_ms: f64,
    peak_rate: f64,
    cached_minute: i64,
    quiet: bool,
    kind_cum: [f64; 14],
    worm_port: u16,
    scan_port: u16,
}

impl Traffic {
    /// A traffic stream for `scenario`, its whole sequence fixed by `seed`;
    /// `start_ms` (Unix ms) starts the simulated clock of the iterator.
    pub fn new(seed: u64, start_ms: i64, scenario: Scenario) -> Self {
        let mut rng = Rng::new(seed);
        let mut clients = Vec::with_capacity((CLIENT_SUBNETS * CLIENT_HOSTS) as usize);
        let mut client_cum = Vec::with_capacity(clients.capacity());
        let mut acc = 0u64;
        for s in 0..CLIENT_SUBNETS {
            for h in 0..CLIENT_HOSTS {
                let addr = NET | (CLIENT_FIRST_SUBNET + s) << 8 | (CLIENT_FIRST_HOST + h);
                clients.push(Client {
                    addr,
                    linux: rng.chance(0.3),
                });
                // Activity differs a lot between machines (log-normal).
                acc += (rng.lognormal(1000.0, 1.0) as u64).max(1);
                client_cum.push(acc);
            }
        }
        let mut incidents = Vec::new();
        let mut used = Vec::new();
        for &kind in scenario.kinds() {
            let host = match kind {
                Scenario::SpamBot | Scenario::Worm => loop {
                    let c = clients[rng.below(clients.len() as u64) as usize].addr;
                    if !used.contains(&c) {
                        used.push(c);
                        break c;
                    }
                },
                Scenario::MailRelay => MAIL,
                _ => {
                    let eyeball = Picker::new(|p| p.eyeball);
                    let i = eyeball.pick(rng.below(eyeball.total()));
                    let p = &PREFIXES[i];
                    p.net | (rng.below(prefix_size(p)) as u32)
                }
            };
            incidents.push(Incident {
                kind,
                host: Ipv4Addr::from(host),
            });
        }
        let worm_port = rng.range(1024, 4000) as u16;
        let scan_port = rng.range(32768, 65000) as u16;
        Traffic {
            rng,
            site: Site::new(),
            scenario,
            incidents,
            incident_share: DEFAULT_INCIDENT_SHARE,
            clients,
            client_cum,
            web: Picker::new(|p| p.web),
            mail: Picker::new(|p| p.mail),
            dns: Picker::new(|p| p.dns),
            eyeball: Picker::new(|p| p.eyeball),
            pending: None,
            clock_ms: start_ms as f64,
            peak_rate: 1000.0,
            cached_minute: i64::MIN,
            quiet: false,
            kind_cum: [0.0; 14],
            worm_port,
            scan_port,
        }
    }

    /// Share of connections that belong to the incident (default
    /// [`DEFAULT_INCIDENT_SHARE`]), clamped to `0.0..=1.0`; with
    /// [`Scenario::All`] the incidents split it.
    pub fn with_incident_share(mut self, share: f64) -> Self {
        self.incident_share = if share.is_nan() {
            0.0
        } else {
            share.clamp(0.0, 1.0)
        };
        self
    }

    /// Connections per simulated second at the daily peak, for the iterator
    /// (default 1000; non-positive or non-finite values are ignored).
    pub fn with_peak_rate(mut self, connections_per_s: f64) -> Self {
        if connections_per_s.is_finite() && connections_per_s > 0.0 {
            self.peak_rate = connections_per_s;
        }
        self
    }

    /// The scenario.
    pub fn scenario(&self) -> Scenario {
        self.scenario
    }

    /// The site's address plan.
    pub fn site(&self) -> &Site {
        &self.site
    }

    /// The incidents this traffic carries, with their hosts.
    pub fn incidents(&self) -> &[Incident] {
        &self.incidents
    }

    /// The iterator's simulated clock, Unix ms.
    pub fn clock_ms(&self) -> i64 {
        self.clock_ms as i64
    }

    /// Fill `out` with flows ending at about `now_ms`.
    pub fn fill(&mut self, now_ms: i64, out: &mut [FlowRecord]) {
        for f in out {
            *f = self.next_flow(now_ms);
        }
    }

    /// The next flow; it ends at or before `now_ms` (up to about 16 s before
    /// for flows an exporter times out as idle) and lasts at most
    /// [`ACTIVE_TIMEOUT_MS`].
    pub fn next_flow(&mut self, now_ms: i64) -> FlowRecord {
        if let Some(f) = self.pending.take() {
            return f;
        }
        let conn = self.connection(now_ms);
        let lag = self.export_lag(&conn);
        let (fwd, rev) = self.flows_of(&conn, now_ms.saturating_sub(lag));
        self.pending = rev;
        fwd
    }

    /// How long after its last packet the exporter sends `conn`'s flows: at
    /// once after FIN or RST, after the idle timeout otherwise.
    pub(crate) fn export_lag(&mut self, conn: &Conn) -> i64 {
        let idle = conn.proto != TCP || conn.fwd_flags & (FIN | RST) == 0;
        if idle {
            IDLE_TIMEOUT_MS + self.rng.below(1000) as i64
        } else {
            self.rng.below(1000) as i64
        }
    }

    /// The request flow of `conn` and, when the peer answers, its reply,
    /// both ending at `end` and lasting at most [`ACTIVE_TIMEOUT_MS`].
    pub(crate) fn flows_of(&self, conn: &Conn, end: i64) -> (FlowRecord, Option<FlowRecord>) {
        let duration = conn.duration_ms.clamp(0, ACTIVE_TIMEOUT_MS);
        let fwd = self.record(conn, false, end, duration);
        let rev = (conn.rev_pkts > 0).then(|| self.record(conn, true, end, duration));
        (fwd, rev)
    }

    fn record(&self, c: &Conn, reverse: bool, end: i64, duration: i64) -> FlowRecord {
        let (src, dst, ss, ds, sport, dport, pkts, bytes, flags) = if reverse {
            (
                c.dst,
                c.src,
                c.dst_side,
                c.src_side,
                if c.proto == ICMP { 0 } else { c.dport },
                if c.proto == ICMP { 0 } else { c.sport },
                c.rev_pkts,
                c.rev_bytes,
                c.rev_flags,
            )
        } else {
            (
                c.src,
                c.dst,
                c.src_side,
                c.dst_side,
                c.sport,
                c.dport,
                c.fwd_pkts,
                c.fwd_bytes,
                c.fwd_flags,
            )
        };
        let (in_if, src_mask, src_as) = side_info(ss);
        let (out_if, dst_mask, dst_as) = side_info(ds);
        let next_hop = match ds {
            Side::External(_) => UPSTREAM,
            _ => 0,
        };
        // The reply starts a little after the request and ends with it.
        let start = if reverse && duration > 0 {
            end.saturating_sub(duration) + (duration / 50).min(200)
        } else {
            end.saturating_sub(duration)
        };
        let tcp_flags = if c.proto == TCP { flags } else { 0 };
        let end_reason = if duration >= ACTIVE_TIMEOUT_MS {
            2
        } else if c.proto == TCP && flags & (FIN | RST) != 0 {
            3
        } else {
            1
        };
        FlowRecord {
            time_start: start,
            time_end: end,
            src_ip: addr_from_v4(src),
            dst_ip: addr_from_v4(dst),
            next_hop: addr_from_v4(next_hop),
            src_port: sport,
            dst_port: dport,
            proto: c.proto,
            tcp_flags,
            tos: c.tos,
            direction: 0,
            src_mask,
            dst_mask,
            end_reason,
            in_if,
            out_if,
            src_as,
            dst_as,
            packets: pkts.max(1),
            bytes: bytes.max(pkts.max(1) * 20),
            sampling_rate: 1,
            ..FlowRecord::default()
        }
    }

    fn connection(&mut self, now_ms: i64) -> Conn {
        let minute = now_ms.div_euclid(60_000);
        if minute != self.cached_minute {
            self.cached_minute = minute;
            let day = daylight(now_ms);
            self.quiet = day < 0.3;
            let mut acc = 0.0;
            for (i, (_, base, amp)) in KIND_WEIGHTS.iter().enumerate() {
                acc += base + amp * day;
                self.kind_cum[i] = acc;
            }
        }
        let kinds = self.scenario.kinds();
        if !kinds.is_empty() {
            let per = self.incident_share / kinds.len() as f64;
            let r = self.rng.unit();
            let mut acc = 0.0;
            for (i, &kind) in kinds.iter().enumerate() {
                // A relaying mail server is busiest when the site is quiet.
                let boost = if kind == Scenario::MailRelay && self.quiet {
                    3.0
                } else {
                    1.0
                };
                acc += per * boost;
                if r < acc {
                    let host = u32::from(self.incidents[i].host);
                    return match kind {
                        Scenario::SpamBot => self.smtp_blast(host, Side::Client),
                        Scenario::MailRelay => self.smtp_blast(MAIL, Side::Server),
                        Scenario::Worm => self.worm(host),
                        _ => self.scan(host),
                    };
                }
            }
        }
        let r = self.rng.unit() * self.kind_cum[13];
        let k = self.kind_cum.partition_point(|&c| c <= r).min(13);
        match KIND_WEIGHTS[k].0 {
            Kind::WebOut => self.web_out(false),
            Kind::QuicOut => self.web_out(true),
            Kind::WebIn => self.web_in(),
            Kind::DnsClient => self.dns_client(),
            Kind::DnsResolver => self.dns_resolver(),
            Kind::MailIn => self.mail_in(),
            Kind::MailOut => self.mail_out(),
            Kind::Submission => self.submission(),
            Kind::Smb => self.smb(),
            Kind::Ntp => self.ntp(),
            Kind::SshOut => self.ssh_out(),
            Kind::SshIn => self.ssh_in(),
            Kind::Icmp => self.icmp(),
            Kind::NoiseIn => self.noise_in(),
        }
    }

    // ---- endpoints -------------------------------------------------------

    fn client(&mut self) -> Client {
        let total = self.client_cum.last().copied().unwrap_or(1);
        let r = self.rng.below(total);
        let i = self.client_cum.partition_point(|&c| c <= r);
        self.clients[i.min(self.clients.len() - 1)]
    }

    pub(crate) fn ephemeral(&mut self, linux: bool) -> u16 {
        if linux {
            self.rng.range(32768, 60999) as u16
        } else {
            self.rng.range(49152, 65535) as u16
        }
    }

    /// A popular host of a prefix picked by `role`: few distinct hosts per
    /// prefix, the first ones much more often.
    pub(crate) fn popular(&mut self, role: Role) -> (u32, Side) {
        let i = self.pick(role);
        self.popular_in(i)
    }

    /// A popular host of prefix `i` (see `popular`).
    pub(crate) fn popular_in(&mut self, i: usize) -> (u32, Side) {
        let p = &PREFIXES[i];
        let k = (self.rng.pareto(1.0, 1.2) as u64).min(200);
        let off = mix64((i as u64) << 32 | k) % prefix_size(p);
        (p.net | off as u32, Side::External(i))
    }

    /// Any host of a prefix picked by `role`.
    pub(crate) fn anyhost(&mut self, role: Role) -> (u32, Side) {
        let i = self.pick(role);
        self.anyhost_in(i)
    }

    /// Any host of prefix `i`.
    pub(crate) fn anyhost_in(&mut self, i: usize) -> (u32, Side) {
        let p = &PREFIXES[i];
        let off = self.rng.below(prefix_size(p));
        (p.net | off as u32, Side::External(i))
    }

    pub(crate) fn pick(&mut self, role: Role) -> usize {
        let picker = match role {
            Role::Web => &self.web,
            Role::Mail => &self.mail,
            Role::Dns => &self.dns,
            Role::Eyeball => &self.eyeball,
        };
        let r = self.rng.below(picker.total());
        picker.pick(r)
    }

    pub(crate) fn rtt_ms(&mut self, side: Side) -> f64 {
        match side {
            Side::External(_) => self.rng.lognormal(40.0, 0.8),
            _ => self.rng.lognormal(0.5, 0.5),
        }
    }

    // ---- normal activities -------------------------------------------------

    /// A TCP session where the client sends `req` payload bytes and the server
    /// answers `resp` payload bytes; flags, packets and duration follow.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn tcp(
        &mut self,
        (src, src_side): (u32, Side),
        sport: u16,
        (dst, dst_side): (u32, Side),
        dport: u16,
        req: f64,
        resp: f64,
        think_ms: f64,
    ) -> Conn {
        let rtt = self.rtt_ms(match (src_side, dst_side) {
            (Side::External(i), _) | (_, Side::External(i)) => Side::External(i),
            _ => Side::Server,
        });
        let mut c = Conn {
            src,
            dst,
            src_side,
            dst_side,
            sport,
            dport,
            proto: TCP,
            tos: 0,
            fwd_pkts: 0,
            fwd_bytes: 0,
            fwd_flags: FULL,
            rev_pkts: 0,
            rev_bytes: 0,
            rev_flags: FULL,
            duration_ms: 0,
        };
        let outcome = self.rng.unit();
        if outcome < 0.04 {
            // No answer: SYN retransmissions only.
            c.fwd_flags = SYN;
            c.fwd_pkts = self.rng.range(1, 3);
            c.fwd_bytes = c.fwd_pkts * if self.rng.chance(0.5) { 60 } else { 52 };
            c.duration_ms = match c.fwd_pkts {
                1 => 0,
                2 => 1000,
                _ => 3000,
            };
            return c;
        }
        if outcome < 0.06 {
            // Refused: SYN answered by RST.
            c.fwd_flags = SYN;
            c.fwd_pkts = 1;
            c.fwd_bytes = 60;
            c.rev_flags = RST | ACK;
            c.rev_pkts = 1;
            c.rev_bytes = 40;
            c.duration_ms = 0;
            return c;
        }
        let req = req.clamp(0.0, 1.0e9);
        let resp = resp.clamp(0.0, 3.0e9);
        let resp_pkts = (resp / 1448.0).ceil() as u64 + 2;
        let req_pkts = ((req / 1448.0).ceil() as u64 + 2).max(resp_pkts / 2 + 2);
        c.fwd_pkts = req_pkts;
        c.rev_pkts = resp_pkts;
        c.fwd_bytes = req as u64 + 52 * req_pkts;
        c.rev_bytes = resp as u64 + 52 * resp_pkts;
        let throughput = self.rng.lognormal(3.0e6, 1.0); // bytes/s
        let transfer = (req + resp) / throughput * 1000.0;
        c.duration_ms = (rtt * 3.0 + transfer + think_ms) as i64;
        if outcome < 0.12 {
            // Torn down by a reset.
            c.fwd_flags = SYN | RST | PSH | ACK;
            c.rev_flags = SYN | PSH | ACK;
        } else if outcome < 0.14 {
            // The tail of a long flow the exporter split: no SYN.
            c.fwd_flags = PSH | ACK | FIN;
            c.rev_flags = PSH | ACK | FIN;
        }
        if c.duration_ms >= ACTIVE_TIMEOUT_MS {
            // Still running when the active timeout expired.
            c.fwd_flags &= !(FIN | RST);
            c.rev_flags &= !(FIN | RST);
        }
        c
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn udp(
        &mut self,
        (src, src_side): (u32, Side),
        sport: u16,
        (dst, dst_side): (u32, Side),
        dport: u16,
        fwd: (u64, u64),
        rev: (u64, u64),
        duration_ms: i64,
    ) -> Conn {
        Conn {
            src,
            dst,
            src_side,
            dst_side,
            sport,
            dport,
            proto: UDP,
            tos: 0,
            fwd_pkts: fwd.0,
            fwd_bytes: fwd.1,
            fwd_flags: 0,
            rev_pkts: rev.0,
            rev_bytes: rev.1,
            rev_flags: 0,
            duration_ms,
        }
    }

    fn web_out(&mut self, quic: bool) -> Conn {
        let cl = self.client();
        let sport = self.ephemeral(cl.linux);
        let server = self.popular(Role::Web);
        let req = self.rng.lognormal(700.0, 0.8);
        let resp = self.rng.pareto(1500.0, 1.1);
        let think = if self.rng.chance(0.5) {
            self.rng.exp(8000.0)
        } else {
            0.0
        };
        if quic {
            let rtt = self.rtt_ms(server.1);
            let resp_pkts = (resp.min(2.0e9) / 1350.0).ceil() as u64 + 2;
            let req_pkts = (resp_pkts / 3 + 3).max((req / 1200.0).ceil() as u64 + 1);
            let dur = (rtt * 2.0 + resp / self.rng.lognormal(3.0e6, 1.0) * 1000.0 + think) as i64;
            return self.udp(
                (cl.addr, Side::Client),
                sport,
                server,
                443,
                (req_pkts, req as u64 + req_pkts * 70),
                (resp_pkts, resp.min(2.0e9) as u64 + resp_pkts * 60),
                dur,
            );
        }
        let port = if self.rng.chance(0.12) { 80 } else { 443 };
        let mut c = self.tcp(
            (cl.addr, Side::Client),
            sport,
            server,
            port,
            req,
            resp,
            think,
        );
        if self.rng.chance(0.05) {
            c.tos = 0x02; // ECN-capable
        }
        c
    }

    fn web_in(&mut self) -> Conn {
        let peer = self.anyhost(Role::Eyeball);
        let linux = self.rng.chance(0.5);
        let sport = self.ephemeral(linux);
        let req = self.rng.lognormal(500.0, 0.7);
        let resp = self.rng.pareto(2000.0, 1.3);
        let port = if self.rng.chance(0.1) { 80 } else { 443 };
        self.tcp(peer, sport, (WEB, Side::Server), port, req, resp, 0.0)
    }

    fn dns_client(&mut self) -> Conn {
        let cl = self.client();
        let sport = self.ephemeral(cl.linux);
        let server = DNS[self.rng.below(2) as usize];
        let q = self.rng.range(60, 95);
        let answered = self.rng.chance(0.98);
        let a = self.rng.lognormal(130.0, 0.5).clamp(60.0, 1400.0) as u64;
        self.udp(
            (cl.addr, Side::Client),
            sport,
            (server, Side::Server),
            53,
            (1, q),
            if answered { (1, a) } else { (0, 0) },
            0,
        )
    }

    fn dns_resolver(&mut self) -> Conn {
        let server = DNS[self.rng.below(2) as usize];
        let peer = if self.rng.chance(0.7) {
            self.popular(Role::Dns)
        } else {
            self.popular(Role::Web)
        };
        let sport = self.rng.range(1024, 65535) as u16;
        let q = self.rng.range(70, 110);
        let a = self.rng.lognormal(250.0, 0.7).clamp(60.0, 1450.0) as u64;
        let rtt = self.rtt_ms(peer.1) as i64;
        let mut c = self.udp((server, Side::Server), sport, peer, 53, (1, q), (1, a), 0);
        if self.rng.chance(0.05) {
            // A retry after a lost answer.
            c.fwd_pkts = 2;
            c.fwd_bytes = 2 * q;
            c.duration_ms = 800 + rtt;
        }
        c
    }

    fn mail_in(&mut self) -> Conn {
        let peer = if self.rng.chance(0.7) {
            self.popular(Role::Mail)
        } else {
            self.anyhost(Role::Eyeball)
        };
        let sport = self.rng.range(32768, 65535) as u16;
        let msg = if self.rng.chance(0.3) {
            300.0 // rejected after the envelope
        } else {
            self.rng.pareto(3000.0, 1.3)
        };
        self.tcp(peer, sport, (MAIL, Side::Server), 25, msg, 600.0, 0.0)
    }

    fn mail_out(&mut self) -> Conn {
        let peer = self.popular(Role::Mail);
        let sport = self.rng.range(32768, 60999) as u16;
        let msg = self.rng.pareto(4000.0, 1.3);
        self.tcp((MAIL, Side::Server), sport, peer, 25, msg, 600.0, 0.0)
    }

    fn submission(&mut self) -> Conn {
        let cl = self.client();
        let sport = self.ephemeral(cl.linux);
        if self.rng.chance(0.2) {
            let msg = self.rng.pareto(3000.0, 1.2);
            self.tcp(
                (cl.addr, Side::Client),
                sport,
                (MAIL, Side::Server),
                587,
                msg,
                700.0,
                0.0,
            )
        } else {
            let req = self.rng.lognormal(2000.0, 1.0);
            let resp = self.rng.pareto(4000.0, 1.1);
            let think = self.rng.exp(60_000.0);
            self.tcp(
                (cl.addr, Side::Client),
                sport,
                (MAIL, Side::Server),
                993,
                req,
                resp,
                think,
            )
        }
    }

    fn smb(&mut self) -> Conn {
        let cl = self.client();
        let sport = self.ephemeral(cl.linux);
        let fs = FILES[self.rng.below(FILES.len() as u64) as usize];
        let (req, resp) = if self.rng.chance(0.3) {
            (
                self.rng.pareto(5000.0, 1.05),
                self.rng.lognormal(3000.0, 1.0),
            )
        } else {
            (
                self.rng.lognormal(3000.0, 1.0),
                self.rng.pareto(5000.0, 1.05),
            )
        };
        let think = self.rng.exp(20_000.0);
        self.tcp(
            (cl.addr, Side::Client),
            sport,
            (fs, Side::Server),
            445,
            req,
            resp,
            think,
        )
    }

    fn ntp(&mut self) -> Conn {
        if self.rng.chance(0.8) {
            let cl = self.client();
            let sport = if cl.linux { self.ephemeral(true) } else { 123 };
            self.udp(
                (cl.addr, Side::Client),
                sport,
                (NTP, Side::Server),
                123,
                (1, 76),
                (1, 76),
                0,
            )
        } else {
            let peer = self.popular(Role::Eyeball);
            let n = self.rng.range(1, 4);
            let d = (n as i64 - 1) * 64_000;
            self.udp(
                (NTP, Side::Server),
                123,
                peer,
                123,
                (n, 76 * n),
                (n, 76 * n),
                d,
            )
        }
    }

    fn ssh_out(&mut self) -> Conn {
        let cl = self.client();
        let sport = self.ephemeral(cl.linux);
        let server = if self.rng.chance(0.4) {
            (JUMP, Side::Server)
        } else {
            self.popular(Role::Eyeball)
        };
        let req = self.rng.pareto(3000.0, 1.2);
        let resp = self.rng.pareto(5000.0, 1.1);
        let think = self.rng.exp(120_000.0);
        let mut c = self.tcp((cl.addr, Side::Client), sport, server, 22, req, resp, think);
        c.tos = if resp > 1.0e6 { 0x20 } else { 0x48 };
        c
    }

    fn ssh_in(&mut self) -> Conn {
        let peer = self.anyhost(Role::Eyeball);
        let sport = self.rng.range(32768, 60999) as u16;
        let req = self.rng.range(1500, 3000) as f64;
        let resp = self.rng.range(2000, 4000) as f64;
        self.tcp(peer, sport, (JUMP, Side::Server), 22, req, resp, 0.0)
    }

    fn icmp(&mut self) -> Conn {
        let r = self.rng.unit();
        let cl = self.client();
        if r < 0.7 {
            // ping: echo request, echo reply
            let server = self.popular(Role::Web);
            let n = if self.rng.chance(0.6) {
                self.rng.range(1, 4)
            } else {
                self.rng.range(5, 60)
            };
            let answered = self.rng.chance(0.9);
            let mut c = self.udp(
                (cl.addr, Side::Client),
                0,
                server,
                0x0800,
                (n, n * 84),
                if answered { (n, n * 84) } else { (0, 0) },
                (n as i64 - 1) * 1000,
            );
            c.proto = ICMP;
            c
        } else if r < 0.85 {
            // port unreachable back to a peer that sent UDP
            let peer = self.anyhost(Role::Eyeball);
            let n = self.rng.range(1, 3);
            let mut c = self.udp(
                (cl.addr, Side::Client),
                0,
                peer,
                0x0303,
                (n, n * 56),
                (0, 0),
                (n as i64 - 1) * 500,
            );
            c.proto = ICMP;
            c
        } else {
            // time exceeded from a router on a traceroute's path
            let router = self.popular(Role::Web);
            let mut c = self.udp(
                router,
                0,
                (cl.addr, Side::Client),
                0x0b00,
                (3, 3 * 56),
                (0, 0),
                20,
            );
            c.proto = ICMP;
            c
        }
    }

    fn noise_in(&mut self) -> Conn {
        const PORTS: [(u16, u8); 12] = [
            (23, TCP),
            (22, TCP),
            (445, TCP),
            (3389, TCP),
            (80, TCP),
            (8080, TCP),
            (1433, TCP),
            (2323, TCP),
            (5060, UDP),
            (123, UDP),
            (53, UDP),
            (1900, UDP),
        ];
        let peer = self.anyhost(Role::Eyeball);
        let dst = NET | self.rng.below(1 << 16) as u32;
        let (port, proto) = PORTS[self.rng.below(PORTS.len() as u64) as usize];
        let sport = self.rng.range(1024, 65535) as u16;
        let mut c = self.udp(
            peer,
            sport,
            (dst, Side::Client),
            port,
            (1, if proto == TCP { 40 } else { 60 }),
            (0, 0),
            0,
        );
        c.proto = proto;
        c.fwd_flags = SYN;
        c
    }

    // ---- incidents ---------------------------------------------------------

    /// Many SMTP connections to many foreign mail servers.
    fn smtp_blast(&mut self, src: u32, side: Side) -> Conn {
        let peer = self.anyhost(Role::Mail);
        let sport = self.rng.range(1025, 5000) as u16;
        let r = self.rng.unit();
        let msg = self.rng.lognormal(6000.0, 0.6);
        let mut c = self.tcp((src, side), sport, peer, 25, msg, 500.0, 0.0);
        if r < 0.2 {
            // refused or filtered
            c.fwd_flags = SYN;
            c.fwd_pkts = self.rng.range(1, 3);
            c.fwd_bytes = 48 * c.fwd_pkts;
            c.rev_pkts = 0;
            c.rev_bytes = 0;
            c.duration_ms = (c.fwd_pkts as i64 - 1) * 3000;
        }
        c
    }

    /// Sasser: SYNs to tcp/445 at random addresses from sequential source
    /// ports; the few victims get the backdoor (9996) and fetch the worm over
    /// FTP from the infected host (5554).
    fn worm(&mut self, src: u32) -> Conn {
        self.worm_port = if self.worm_port >= 5000 {
            1024
        } else {
            self.worm_port + 1
        };
        let sport = self.worm_port;
        let r = self.rng.unit();
        let local = r < 0.5;
        let (dst, side) = if local {
            (NET | self.rng.below(1 << 16) as u32, Side::Client)
        } else if r < 0.75 {
            // elsewhere in 10/8: not routed here, so out the default route
            (
                v4(10, 0, 0, 0) | self.rng.below(1 << 24) as u32,
                Side::External(usize::MAX),
            )
        } else {
            self.anyhost_any()
        };
        let next = self.rng.unit();
        let mut c = self.udp(
            (src, Side::Client),
            sport,
            (dst, side),
            445,
            (1, 48),
            (0, 0),
            0,
        );
        c.proto = TCP;
        c.fwd_flags = SYN;
        if next < 0.01 && local {
            // exploit then the backdoor shell on tcp/9996
            c.dport = 9996;
            c.fwd_flags = FULL;
            c.fwd_pkts = self.rng.range(6, 12);
            c.fwd_bytes = c.fwd_pkts * 52 + 300;
            c.rev_flags = FULL;
            c.rev_pkts = self.rng.range(5, 10);
            c.rev_bytes = c.rev_pkts * 52 + 200;
            c.duration_ms = self.rng.range(200, 2000) as i64;
        } else if next < 0.02 && local {
            // the victim pulls the worm from the FTP server on tcp/5554
            c.src = dst;
            c.dst = src;
            c.sport = self.rng.range(1024, 5000) as u16;
            c.dport = 5554;
            c.fwd_flags = FULL;
            c.fwd_pkts = self.rng.range(20, 30);
            c.fwd_bytes = c.fwd_pkts * 52 + 100;
            c.rev_flags = FULL;
            c.rev_pkts = 14;
            c.rev_bytes = 15_872 + 14 * 52;
            c.duration_ms = self.rng.range(500, 4000) as i64;
        } else if self.rng.chance(0.3) {
            // SYN retransmissions
            c.fwd_pkts = self.rng.range(2, 3);
            c.fwd_bytes = 48 * c.fwd_pkts;
            c.duration_ms = if c.fwd_pkts == 2 { 3000 } else { 9000 };
        }
        c
    }

    /// A random routable public address (for a worm's random targets).
    pub(crate) fn anyhost_any(&mut self) -> (u32, Side) {
        loop {
            let a = self.rng.next_u64() as u32;
            let o = a >> 24;
            if o == 0 || o == 10 || o == 127 || o >= 224 {
                continue;
            }
            // Report the prefix it falls into when it is one of ours.
            let side = PREFIXES
                .iter()
                .position(|p| a & mask(p.len) == p.net)
                .map(Side::External)
                .unwrap_or(Side::External(usize::MAX));
            return (a, side);
        }
    }

    /// SYN-only probes to many internal addresses and ports.
    fn scan(&mut self, src: u32) -> Conn {
        const PORTS: [u16; 24] = [
            21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 443, 445, 993, 995, 1433, 1723, 3306,
            3389, 5432, 5900, 6379, 8080, 8443,
        ];
        let dst = NET | (self.rng.below(32) as u32) << 8 | self.rng.range(1, 254) as u32;
        let dport = if self.rng.chance(0.6) {
            PORTS[self.rng.below(PORTS.len() as u64) as usize]
        } else {
            self.rng.range(1, 65535) as u16
        };
        let side = if dst >> 8 & 0xff >= CLIENT_FIRST_SUBNET {
            Side::Client
        } else {
            Side::Server
        };
        let ext = PREFIXES
            .iter()
            .position(|p| src & mask(p.len) == p.net)
            .unwrap_or(usize::MAX);
        let mut c = self.udp(
            (src, Side::External(ext)),
            self.scan_port,
            (dst, side),
            dport,
            (1, 44),
            (0, 0),
            0,
        );
        c.proto = TCP;
        c.fwd_flags = SYN;
        let r = self.rng.unit();
        if r < 0.03 {
            c.rev_pkts = 1; // open: SYN-ACK (the scanner resets it)
            c.rev_bytes = 44;
            c.rev_flags = SYN | ACK;
        } else if r < 0.3 {
            c.rev_pkts = 1; // closed: RST-ACK
            c.rev_bytes = 40;
            c.rev_flags = RST | ACK;
        }
        c
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Role {
    Web,
    Mail,
    Dns,
    Eyeball,
}

/// Where address `a` sits: a client subnet, the server networks, or the
/// Internet (with the prefix of [`PREFIXES`] it falls in, if any).
pub(crate) fn side_of(a: u32) -> Side {
    if a >> 16 == NET >> 16 {
        let subnet = a >> 8 & 0xff;
        if (CLIENT_FIRST_SUBNET..CLIENT_FIRST_SUBNET + CLIENT_SUBNETS).contains(&subnet) {
            Side::Client
        } else {
            Side::Server
        }
    } else {
        let i = PREFIXES
            .iter()
            .position(|p| a & mask(p.len) == p.net)
            .unwrap_or(usize::MAX);
        Side::External(i)
    }
}

fn mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    }
}

fn prefix_size(p: &Prefix) -> u64 {
    1u64 << (32 - u32::from(p.len.min(32)))
}

fn side_info(side: Side) -> (u32, u8, u32) {
    match side {
        Side::Client => (IF_CLIENTS, 24, 0),
        Side::Server => (IF_SERVERS, 24, 0),
        Side::External(i) => match PREFIXES.get(i) {
            Some(p) => (IF_UPLINK, p.len, p.asn),
            None => (IF_UPLINK, 0, 0),
        },
    }
}

impl Iterator for Traffic {
    type Item = FlowRecord;

    /// The next flow on the simulated clock: connections arrive at
    /// `peak_rate × intensity(clock)` per simulated second.
    fn next(&mut self) -> Option<FlowRecord> {
        if self.pending.is_none() {
            let rate = self.peak_rate * intensity(self.clock_ms as i64);
            let gap = self.rng.exp(1000.0 / rate.max(1e-9));
            self.clock_ms += gap.min(3.6e6);
        }
        Some(self.next_flow(self.clock_ms as i64))
    }
}
