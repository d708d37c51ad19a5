//! A whole generated day with seeded incidents and benign look-alikes, so that
//! detections can be tested end to end: every incident must be found with the
//! right category and time window, and no look-alike may be flagged.
//!
//! A [`Day`] merges the background [`Traffic`] of the site (normal activity
//! only, following the day's rhythm at [`DayPlan::peak_rate`]) with one flow
//! stream per seeded activity. Each stream is a Poisson process of
//! connections at its own absolute rate inside its own interval, with its own
//! random sequence: what an incident looks like does not depend on the
//! background's volume or on which other activities are seeded. Every
//! connection yields its request flow and, when the peer answers, the reply
//! flow. Flows come out in the order an exporter would send them (by export
//! time: at once after FIN/RST or an active timeout, 15 s after the last
//! packet otherwise), so `time_end` is non-decreasing to within the idle
//! timeout. All flows start and end inside the day; an activity's flows
//! start and end inside its interval.
//!
//! [`Day::seeded`] says what a detector should find: for an incident the host
//! to blame, its interval and the alert categories that are right for it;
//! for a look-alike the benign host that must not be flagged.
//! [`Day::site_roles`] is the site inventory a detector gets.
//!
//! Hours are UTC offsets from [`DayPlan::start_ms`] (a 00:00 UTC). The
//! site's quiet hours are 22:00–06:00.
//!
//! # Incidents
//!
//! | kind | blamed host | UTC | rate (conn/s) | categories |
//! | --- | --- | --- | --- | --- |
//! | [`SshBruteForce`](IncidentKind::SshBruteForce) | external | 00:30–01:30 | 1 | scan |
//! | [`MailRelay`](IncidentKind::MailRelay) | 10.0.0.25 | 01:00–03:00 | 2 | mail-anomaly |
//! | [`Slammer`](IncidentKind::Slammer) | a server in 10.0.1.20–99 | 04:10–04:20 | 40 | worm |
//! | [`Sasser`](IncidentKind::Sasser) | a client | 07:15–07:40 | 5 | worm |
//! | [`SpamBot`](IncidentKind::SpamBot) | a client | 09:00–11:00 | 3 | spam |
//! | [`Blaster`](IncidentKind::Blaster) | a client | 10:30–10:55 | 5 | worm |
//! | [`Conficker`](IncidentKind::Conficker) | a client | 12:00–13:00 | 2 | worm |
//! | [`MassMailer`](IncidentKind::MassMailer) | a client | 14:00–15:00 | 2 | worm, spam |
//! | [`HorizontalScan`](IncidentKind::HorizontalScan) | external | 16:00–16:30 | 10 | scan |
//! | [`RdpBruteForce`](IncidentKind::RdpBruteForce) | external | 19:00–20:00 | 1 | scan |
//! | [`VerticalScan`](IncidentKind::VerticalScan) | external | 22:40–22:50 | 10 | scan |
//!
//! Each incident has its own host, chosen from the seed (the same seed blames
//! the same hosts whichever incidents are seeded). The rates are far above
//! what thresholds need (a detector sees thousands of flows where tens would
//! do) but each stays what one machine or one scanner plausibly does:
//!
//! * **Spam bot** (story 1): an ordinary client, not a registered mail
//!   server, opens tcp/25 to thousands of distinct mail servers all over the
//!   world from old-Windows ephemeral ports (1025–5000). Many attempts fail:
//!   35 % get no answer (SYN retransmissions only), 10 % are refused (RST),
//!   15 % are rejected after the greeting; the rest deliver a few kB.
//! * **Mail relay** (story 2): the registered mail server 10.0.0.25, in the
//!   middle of the night, relays to many distinct foreign destinations —
//!   mostly not the big US providers it normally talks to, but mail and
//!   residential prefixes in Europe, Russia, Asia, Latin America and Africa.
//!   The server's usual night volume is a connection or two a minute.
//! * **Sasser** (MS04-011; Symantec's W32.Sasser.Worm write-up, US-CERT
//!   TA04-111A): SYNs to tcp/445 from sequential source ports, about half of
//!   them to random public addresses and the rest within its own /8 and
//!   /16. A few live internal hosts are vulnerable: after the LSASS exploit
//!   on tcp/445 the infected host opens the remote shell on the victim's
//!   tcp/9996, and the victim fetches the worm (15 872 bytes) from the
//!   infected host's FTP server on tcp/5554.
//! * **Blaster** (MS03-026; CERT CA-2003-20): a sequential sweep of tcp/135
//!   starting in its own /16 a few /24s below its own, as Blaster's local
//!   branch does. Vulnerable victims get the shell on tcp/4444 from the
//!   infected host and then fetch `msblast.exe` (6176 bytes, 13 TFTP blocks)
//!   from the infected host's TFTP server (udp/69).
//! * **Slammer** (MS02-039; CERT CA-2003-04): an internal database server
//!   sends single 404-byte UDP packets (376 bytes of worm + 28 bytes of
//!   headers) to udp/1434 at random addresses from one source port. Real
//!   Slammer goes as fast as the uplink allows; 40/s keeps the day small.
//! * **Conficker** (MS08-067; US-CERT TA09-088A; SRI's analysis): slower
//!   tcp/445 SYN fan-out, half within its own /16 and half random; no
//!   9996/5554. The few victims download the worm DLL over HTTP from a random
//!   high port on the infected host.
//! * **Mass mailer** (MyDoom/Novarg, CERT IN-2004-01; Sober): its own SMTP
//!   engine sends small messages (about 30 kB, the base64 worm) to many
//!   distinct MX hosts; one connection in ten is a probe from an external
//!   host for the MyDoom backdoor on tcp/3127–3198 (answered on 3127, where
//!   the backdoor listens, reset elsewhere).
//! * **Horizontal scan**: one external host, one port (tcp/23 or tcp/1433,
//!   by seed), one source port, SYNs to random addresses across 10.0.0.0/16
//!   (thousands of distinct targets); only live hosts answer, rarely.
//! * **Vertical scan**: one external host probes the public web server
//!   10.0.0.80 on thousands of distinct ports of 1–10000 in a scrambled
//!   order (as nmap does); the firewall drops most probes, 80 and 443 answer.
//! * **SSH brute force** (the pattern SSHCure, Hellemons et al. 2012,
//!   detects): one external host logs into the jump host 10.0.0.22 on tcp/22
//!   again and again: short complete sessions of 10–25 packets and 2–5 kB
//!   each way, from increasing source ports.
//! * **RDP brute force**: the same against one client's tcp/3389, sessions of
//!   15–40 packets (TLS and CredSSP: 3–8 kB up, 5–15 kB down).
//!
//! Victims of the worms do not spread further here: each incident has
//! exactly one host to blame.
//!
//! # Look-alikes
//!
//! Busy but honest hosts a good detector must not flag:
//!
//! | kind | host | UTC | rate (conn/s) | why it looks suspicious, why it is not |
//! | --- | --- | --- | --- | --- |
//! | [`BusyMailServer`](LookalikeKind::BusyMailServer) | 10.0.0.25 | 09:00–17:00 | 1 | thousands of SMTP flows, but to few destinations (the big providers), complete sessions, by day, from the registered server |
//! | [`DnsResolverFanout`](LookalikeKind::DnsResolverFanout) | 10.0.0.53, 10.0.0.54 | all day | 0.05 each | thousands of distinct udp/53 destinations (authoritative servers), all answered |
//! | [`WebProxy`](LookalikeKind::WebProxy) | 10.0.0.8 | 10:00–13:00 | 5 | thousands of distinct web sites at scan-like rates, but complete, answered tcp/80 and 443 sessions |
//! | [`FileServer`](LookalikeKind::FileServer) | 10.0.1.10 | 08:00–17:00 | 0.3 | about 2000 distinct clients on tcp/445, inbound, complete sessions |
//! | [`Backup`](LookalikeKind::Backup) | 10.0.0.200 | 00:30–04:30 | — | terabytes to one external host at night: two rsync sessions (tcp/22 and tcp/873), split by the 300 s active timeout |
//! | [`VulnScanner`](LookalikeKind::VulnScanner) | 10.0.0.99 | 21:00–22:00 | 5 | a SYN sweep of the internal network across many hosts and ports, from the registered scanner |
//!
//! The web proxy's three hours (not the whole working day) keep a default
//! day near half a million flows at the rate of a real proxy.

use crate::prefixes::{Picker, PREFIXES};
use crate::rng::mix64;
use crate::traffic::{
    side_of, v4, Conn, Role, Scenario, Side, Traffic, ACK, ACTIVE_TIMEOUT_MS, CLIENT_FIRST_HOST,
    CLIENT_FIRST_SUBNET, CLIENT_HOSTS, CLIENT_SUBNETS, DNS, FILES, FIN, FULL, JUMP, MAIL, NET, NTP,
    PSH, RST, SYN, TCP, UDP, WEB,
};
use flowhound_model::FlowRecord;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;
use std::net::Ipv4Addr;

const S: i64 = 1_000;
const M: i64 = 60 * S;
const H: i64 = 60 * M;
/// One day in ms.
pub const DAY_MS: i64 = 24 * H;

const PROXY: u32 = v4(10, 0, 0, 8);
const SCANNER: u32 = v4(10, 0, 0, 99);
const BACKUP: u32 = v4(10, 0, 0, 200);

/// Big US platforms: a relaying server's destinations are mostly elsewhere.
const BIG_US_ASNS: [u32; 13] = [
    15169, 13335, 54113, 16509, 8075, 8068, 32934, 714, 20940, 36459, 63949, 2914, 14061,
];
/// Providers that carry most legitimate mail.
const BIG_MAIL_ASNS: [u32; 8] = [15169, 8075, 16509, 714, 13238, 47764, 3320, 8560];
/// Hosting providers an off-site backup lives at (Hetzner, Scaleway).
const HOSTING_ASNS: [u32; 2] = [24940, 12876];

/// An incident a day can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IncidentKind {
    /// An internal client sends SMTP to thousands of foreign mail servers.
    SpamBot,
    /// The registered mail server relays to many foreign destinations at night.
    MailRelay,
    /// Sasser: tcp/445 SYN fan-out, backdoor tcp/9996, FTP tcp/5554.
    Sasser,
    /// Blaster: tcp/135 sweep, shell tcp/4444, TFTP udp/69.
    Blaster,
    /// Slammer: udp/1434 single 404-byte packets to random addresses.
    Slammer,
    /// Conficker: slower tcp/445 SYN fan-out, mostly local.
    Conficker,
    /// A mass-mailing worm (MyDoom, Sober): SMTP to many MX hosts and probes
    /// for the MyDoom backdoor (tcp/3127–3198).
    MassMailer,
    /// One external host, one port, thousands of internal addresses.
    HorizontalScan,
    /// One external host, one internal host, thousands of ports.
    VerticalScan,
    /// Many short SSH logins from one external host to the jump host.
    SshBruteForce,
    /// Many short RDP logins from one external host to one client.
    RdpBruteForce,
}

impl IncidentKind {
    /// Every incident, in declaration order.
    pub const ALL: [IncidentKind; 11] = [
        IncidentKind::SpamBot,
        IncidentKind::MailRelay,
        IncidentKind::Sasser,
        IncidentKind::Blaster,
        IncidentKind::Slammer,
        IncidentKind::Conficker,
        IncidentKind::MassMailer,
        IncidentKind::HorizontalScan,
        IncidentKind::VerticalScan,
        IncidentKind::SshBruteForce,
        IncidentKind::RdpBruteForce,
    ];

    /// Its name: `spam-bot`, `mail-relay`, `sasser`, … .
    pub fn name(self) -> &'static str {
        match self {
            IncidentKind::SpamBot => "spam-bot",
            IncidentKind::MailRelay => "mail-relay",
            IncidentKind::Sasser => "sasser",
            IncidentKind::Blaster => "blaster",
            IncidentKind::Slammer => "slammer",
            IncidentKind::Conficker => "conficker",
            IncidentKind::MassMailer => "mass-mailer",
            IncidentKind::HorizontalScan => "horizontal-scan",
            IncidentKind::VerticalScan => "vertical-scan",
            IncidentKind::SshBruteForce => "ssh-brute-force",
            IncidentKind::RdpBruteForce => "rdp-brute-force",
        }
    }

    /// The alert categories that are right for it.
    pub fn categories(self) -> &'static [&'static str] {
        match self {
            IncidentKind::SpamBot => &["spam"],
            IncidentKind::MailRelay => &["mail-anomaly"],
            IncidentKind::Sasser
            | IncidentKind::Blaster
            | IncidentKind::Slammer
            | IncidentKind::Conficker => &["worm"],
            IncidentKind::MassMailer => &["worm", "spam"],
            IncidentKind::HorizontalScan
            | IncidentKind::VerticalScan
            | IncidentKind::SshBruteForce
            | IncidentKind::RdpBruteForce => &["scan"],
        }
    }

    /// `(from, to)` as offsets from 00:00 in ms, and connections per second.
    fn schedule(self) -> (i64, i64, f64) {
        match self {
            IncidentKind::SshBruteForce => (30 * M, H + 30 * M, 1.0),
            IncidentKind::MailRelay => (H, 3 * H, 2.0),
            IncidentKind::Slammer => (4 * H + 10 * M, 4 * H + 20 * M, 40.0),
            IncidentKind::Sasser => (7 * H + 15 * M, 7 * H + 40 * M, 5.0),
            IncidentKind::SpamBot => (9 * H, 11 * H, 3.0),
            IncidentKind::Blaster => (10 * H + 30 * M, 10 * H + 55 * M, 5.0),
            IncidentKind::Conficker => (12 * H, 13 * H, 2.0),
            IncidentKind::MassMailer => (14 * H, 15 * H, 2.0),
            IncidentKind::HorizontalScan => (16 * H, 16 * H + 30 * M, 10.0),
            IncidentKind::RdpBruteForce => (19 * H, 20 * H, 1.0),
            IncidentKind::VerticalScan => (22 * H + 40 * M, 22 * H + 50 * M, 10.0),
        }
    }

    fn description(self) -> &'static str {
        match self {
            IncidentKind::SpamBot => {
                "spam bot: a client, not a mail server, sends SMTP (tcp/25) to thousands of \
                 distinct foreign mail servers, many attempts refused or unanswered"
            }
            IncidentKind::MailRelay => {
                "the registered mail server relays SMTP to many distinct foreign destinations \
                 in the quiet hours"
            }
            IncidentKind::Sasser => {
                "Sasser: tcp/445 SYNs to random addresses from sequential source ports; \
                 victims get the tcp/9996 shell and fetch the worm over FTP from tcp/5554"
            }
            IncidentKind::Blaster => {
                "Blaster: sequential tcp/135 SYN sweep; victims get the tcp/4444 shell and \
                 fetch msblast.exe by TFTP (udp/69) from the infected host"
            }
            IncidentKind::Slammer => {
                "Slammer: single 404-byte udp/1434 packets to random addresses from an \
                 internal database server"
            }
            IncidentKind::Conficker => {
                "Conficker: tcp/445 SYN fan-out, half within its own /16, no 9996/5554"
            }
            IncidentKind::MassMailer => {
                "mass-mailing worm (MyDoom/Sober): small SMTP messages to many distinct MX \
                 hosts; external probes for the MyDoom backdoor on tcp/3127-3198"
            }
            IncidentKind::HorizontalScan => {
                "horizontal scan: one external host SYNs one port on thousands of internal \
                 addresses"
            }
            IncidentKind::VerticalScan => {
                "vertical scan: one external host SYNs thousands of ports (1-10000) of the \
                 web server"
            }
            IncidentKind::SshBruteForce => {
                "SSH brute force: many short complete tcp/22 sessions from one external host \
                 to the jump host"
            }
            IncidentKind::RdpBruteForce => {
                "RDP brute force: many short complete tcp/3389 sessions from one external \
                 host to one client"
            }
        }
    }
}

impl fmt::Display for IncidentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A benign but busy activity a day can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LookalikeKind {
    /// The registered mail server sending much legitimate mail by day.
    BusyMailServer,
    /// The resolvers querying thousands of authoritative servers.
    DnsResolverFanout,
    /// A web proxy fetching from thousands of web sites.
    WebProxy,
    /// A file server with about 2000 SMB clients.
    FileServer,
    /// A backup server moving terabytes off-site at night.
    Backup,
    /// The registered vulnerability scanner sweeping the internal network.
    VulnScanner,
}

impl LookalikeKind {
    /// Every look-alike, in declaration order.
    pub const ALL: [LookalikeKind; 6] = [
        LookalikeKind::BusyMailServer,
        LookalikeKind::DnsResolverFanout,
        LookalikeKind::WebProxy,
        LookalikeKind::FileServer,
        LookalikeKind::Backup,
        LookalikeKind::VulnScanner,
    ];

    /// Its name: `busy-mail-server`, `dns-resolver-fanout`, … .
    pub fn name(self) -> &'static str {
        match self {
            LookalikeKind::BusyMailServer => "busy-mail-server",
            LookalikeKind::DnsResolverFanout => "dns-resolver-fanout",
            LookalikeKind::WebProxy => "web-proxy",
            LookalikeKind::FileServer => "file-server",
            LookalikeKind::Backup => "backup",
            LookalikeKind::VulnScanner => "vuln-scanner",
        }
    }

    /// `(from, to)` as offsets from 00:00 in ms, and connections per second
    /// (0 for the backup, whose flows follow its sessions).
    fn schedule(self) -> (i64, i64, f64) {
        match self {
            LookalikeKind::BusyMailServer => (9 * H, 17 * H, 1.0),
            LookalikeKind::DnsResolverFanout => (0, DAY_MS, 0.05),
            LookalikeKind::WebProxy => (10 * H, 13 * H, 5.0),
            LookalikeKind::FileServer => (8 * H, 17 * H, 0.3),
            LookalikeKind::Backup => (30 * M, 4 * H + 30 * M, 0.0),
            LookalikeKind::VulnScanner => (21 * H, 22 * H, 5.0),
        }
    }

    fn description(self) -> &'static str {
        match self {
            LookalikeKind::BusyMailServer => {
                "the registered mail server sends much legitimate mail by day: complete \
                 sessions to few destinations (the big providers)"
            }
            LookalikeKind::DnsResolverFanout => {
                "a DNS resolver queries thousands of distinct authoritative servers \
                 (udp/53, answered)"
            }
            LookalikeKind::WebProxy => {
                "a web proxy fetches from thousands of distinct web sites (tcp/80, 443, \
                 complete sessions)"
            }
            LookalikeKind::FileServer => {
                "a file server receives SMB (tcp/445, complete sessions) from about 2000 \
                 distinct clients"
            }
            LookalikeKind::Backup => {
                "a backup server moves terabytes to an off-site host at night in a few long \
                 rsync flows (tcp/22, tcp/873)"
            }
            LookalikeKind::VulnScanner => {
                "the registered vulnerability scanner sweeps the internal network, SYN-only, \
                 across many hosts and ports"
            }
        }
    }
}

impl fmt::Display for LookalikeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a seeded activity is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Seed {
    /// An incident a detector must find.
    Incident(IncidentKind),
    /// A benign look-alike a detector must not flag.
    Lookalike(LookalikeKind),
}

/// One seeded activity: what a test or the demo expects a detector to find
/// (or not).
#[derive(Clone, Debug, PartialEq)]
pub struct Seeded {
    /// What it is.
    pub what: Seed,
    /// The host to blame (incidents) or the benign host (look-alikes).
    pub host: Ipv4Addr,
    /// When its activity starts (flow time, Unix ms): no flow of it starts
    /// earlier.
    pub start_ms: i64,
    /// When its activity ends (flow time, Unix ms, exclusive): every flow of
    /// it ends before.
    pub end_ms: i64,
    /// The accepted alert categories for an incident (`spam`,
    /// `mail-anomaly`, `worm`, `scan`); empty for look-alikes.
    pub categories: &'static [&'static str],
    /// One line on what it is.
    pub description: &'static str,
}

/// What a [`Day`] carries.
#[derive(Clone, Debug, PartialEq)]
pub struct DayPlan {
    /// The day's 00:00 UTC, Unix ms.
    pub start_ms: i64,
    /// Seed of everything: the same plan gives the same flows.
    pub seed: u64,
    /// Background connections per simulated second at the 14:00 peak (see
    /// [`Traffic::with_peak_rate`]); 0 (or less) leaves the background out.
    pub peak_rate: f64,
    /// The incidents to seed (each at most once).
    pub incidents: Vec<IncidentKind>,
    /// Whether to seed the benign look-alikes.
    pub lookalikes: bool,
}

/// The default background rate: with it, the incidents and the look-alikes a
/// day is about half a million flows.
pub const DEFAULT_PEAK_RATE: f64 = 1.25;

impl DayPlan {
    /// All incidents and look-alikes, seed 1, the background at
    /// [`DEFAULT_PEAK_RATE`]: about 500 000 flows.
    pub fn new(start_ms: i64) -> Self {
        DayPlan {
            start_ms,
            seed: 1,
            peak_rate: DEFAULT_PEAK_RATE,
            incidents: IncidentKind::ALL.to_vec(),
            lookalikes: true,
        }
    }
}

/// A flow waiting in a stream for its export time.
#[derive(Clone, Debug)]
struct Queued {
    key: i64,
    seq: u64,
    flow: FlowRecord,
}

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        (self.key, self.seq) == (o.key, o.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    /// Reversed, so that [`BinaryHeap`] pops the earliest first.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.key, o.seq).cmp(&(self.key, self.seq))
    }
}

/// What one stream does, and the little state it keeps.
#[derive(Clone, Debug)]
enum Act {
    SpamBot,
    MailRelay {
        dst: Picker,
    },
    Sasser {
        sport: u16,
    },
    Blaster {
        next: u32,
    },
    Slammer {
        sport: u16,
    },
    Conficker,
    MassMailer,
    HorizontalScan {
        dport: u16,
        sport: u16,
    },
    VerticalScan {
        first: u32,
        stride: u32,
        i: u32,
        sport: u16,
    },
    SshBruteForce {
        sport: u16,
    },
    RdpBruteForce {
        target: u32,
    },
    BusyMail {
        dst: Picker,
    },
    DnsFanout {
        dst: Picker,
    },
    WebProxy,
    FileServer {
        pool: Vec<u32>,
    },
    Backup {
        peer: u32,
        dport: u16,
        sport: u16,
        from: i64,
        to: i64,
    },
    VulnScanner,
}

/// One seeded activity's flows.
#[derive(Clone, Debug)]
struct Stream {
    act: Act,
    /// Random sequence and the site's helpers (pickers, TCP/UDP shapes).
    tb: Traffic,
    host: u32,
    end: i64,
    /// Mean gap between connections in ms; 0: every active timeout.
    gap_ms: f64,
    next_ms: f64,
    done: bool,
    queue: BinaryHeap<Queued>,
    seq: u64,
    conns: Vec<(i64, Conn)>,
}

impl Stream {
    fn new(act: Act, seed: u64, host: u32, from: i64, to: i64, rate: f64) -> Self {
        let mut tb = Traffic::new(seed, from, Scenario::Normal);
        let gap_ms = if rate > 0.0 { 1000.0 / rate } else { 0.0 };
        let first = if gap_ms > 0.0 {
            tb.rng.exp(gap_ms)
        } else {
            0.0
        };
        Stream {
            act,
            tb,
            host,
            end: to,
            gap_ms,
            next_ms: from as f64 + first,
            done: false,
            queue: BinaryHeap::new(),
            seq: 0,
            conns: Vec::with_capacity(4),
        }
    }

    /// The export time of the next flow that is due, generating connections
    /// until no later one can come before it.
    fn ready(&mut self) -> Option<i64> {
        loop {
            match self.queue.peek() {
                Some(q) if self.done || (q.key as f64) < self.next_ms => return Some(q.key),
                None if self.done => return None,
                _ => self.step(),
            }
        }
    }

    /// One arrival: its connections' flows go into the queue.
    fn step(&mut self) {
        let t = self.next_ms as i64;
        if t >= self.end {
            self.done = true;
            return;
        }
        self.conns.clear();
        event(&mut self.act, &mut self.tb, self.host, t, &mut self.conns);
        for &(start, conn) in &self.conns {
            let duration = conn.duration_ms.clamp(0, ACTIVE_TIMEOUT_MS);
            let end = start + duration;
            if end >= self.end {
                continue; // would run past the activity's end
            }
            let lag = if duration >= ACTIVE_TIMEOUT_MS {
                self.tb.rng.below(1000) as i64
            } else {
                self.tb.export_lag(&conn)
            };
            let (fwd, rev) = self.tb.flows_of(&conn, end);
            for flow in std::iter::once(fwd).chain(rev) {
                self.seq += 1;
                self.queue.push(Queued {
                    key: end + lag,
                    seq: self.seq,
                    flow,
                });
            }
        }
        self.next_ms = match &self.act {
            Act::Backup { .. } => self.next_ms + ACTIVE_TIMEOUT_MS as f64,
            _ => self.next_ms + self.tb.rng.exp(self.gap_ms),
        };
    }
}

/// A generated day: the site's background traffic merged with the seeded
/// incidents and look-alikes of a [`DayPlan`] (see the module docs).
///
/// An [`Iterator`] of flows in export order (`time_end` non-decreasing to
/// within the 15 s idle timeout), the same for the same plan.
///
/// ```
/// use flowhound_generate::{Day, DayPlan, IncidentKind, Seed};
/// let mut plan = DayPlan::new(1_764_115_200_000); // 2025-11-26 00:00 UTC
/// plan.incidents = vec![IncidentKind::Slammer];
/// plan.lookalikes = false;
/// plan.peak_rate = 0.0; // no background
/// let day = Day::new(&plan);
/// let slammer = day.seeded()[0].clone();
/// assert_eq!(slammer.what, Seed::Incident(IncidentKind::Slammer));
/// let flows: Vec<_> = day.collect();
/// assert!(flows.len() > 20_000);
/// assert!(flows.iter().all(|f| f.dst_port == 1434 && f.bytes == 404));
/// ```
#[derive(Clone, Debug)]
pub struct Day {
    start_ms: i64,
    end_ms: i64,
    background: Option<Traffic>,
    bg_head: Option<(i64, FlowRecord)>,
    streams: Vec<Stream>,
    seeded: Vec<Seeded>,
}

/// The hosts a seed blames, one per incident, all distinct.
struct Cast {
    clients: [u32; 6],
    externals: [u32; 4],
    slammer: u32,
}

impl Cast {
    fn new(seed: u64, start_ms: i64) -> Self {
        let mut tb = Traffic::new(mix64(seed ^ 0xca57), start_ms, Scenario::Normal);
        let mut clients = [0u32; 6];
        for i in 0..clients.len() {
            clients[i] = loop {
                let s = CLIENT_FIRST_SUBNET + tb.rng.below(u64::from(CLIENT_SUBNETS)) as u32;
                let h = CLIENT_FIRST_HOST + tb.rng.below(u64::from(CLIENT_HOSTS)) as u32;
                let a = NET | s << 8 | h;
                if !clients[..i].contains(&a) {
                    break a;
                }
            };
        }
        // attackers from large residential / hosting prefixes, where the
        // background's own eyeball hosts rarely land on the same address
        let mut externals = [0u32; 4];
        for i in 0..externals.len() {
            externals[i] = loop {
                let (a, side) = tb.anyhost(Role::Eyeball);
                let large = matches!(side, Side::External(p) if PREFIXES[p].len <= 16);
                if large && a & 0xff != 0 && a & 0xff != 255 && !externals[..i].contains(&a) {
                    break a;
                }
            };
        }
        let slammer = v4(10, 0, 1, 20 + tb.rng.below(80) as u8);
        Cast {
            clients,
            externals,
            slammer,
        }
    }

    fn host(&self, kind: IncidentKind) -> u32 {
        match kind {
            IncidentKind::SpamBot => self.clients[0],
            IncidentKind::Sasser => self.clients[1],
            IncidentKind::Blaster => self.clients[2],
            IncidentKind::Conficker => self.clients[3],
            IncidentKind::MassMailer => self.clients[4],
            IncidentKind::MailRelay => MAIL,
            IncidentKind::Slammer => self.slammer,
            IncidentKind::HorizontalScan => self.externals[0],
            IncidentKind::VerticalScan => self.externals[1],
            IncidentKind::SshBruteForce => self.externals[2],
            IncidentKind::RdpBruteForce => self.externals[3],
        }
    }
}

impl Day {
    /// The day `plan` describes.
    pub fn new(plan: &DayPlan) -> Day {
        let start = plan.start_ms;
        let cast = Cast::new(plan.seed, start);
        let mut streams = Vec::new();
        let mut seeded = Vec::new();
        let stream_seed = |id: u64| mix64(plan.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ id);
        for kind in IncidentKind::ALL {
            if !plan.incidents.contains(&kind) {
                continue;
            }
            let (from, to, rate) = kind.schedule();
            let (from, to) = (start + from, start + to);
            let seed = stream_seed(kind as u64 + 1);
            let host = cast.host(kind);
            let mut tb = Traffic::new(seed ^ 1, start, Scenario::Normal);
            let act = match kind {
                IncidentKind::SpamBot => Act::SpamBot,
                IncidentKind::MailRelay => Act::MailRelay {
                    dst: Picker::new(|p| {
                        if BIG_US_ASNS.contains(&p.asn) {
                            0
                        } else {
                            p.mail + p.eyeball
                        }
                    }),
                },
                IncidentKind::Sasser => Act::Sasser {
                    sport: tb.rng.range(1025, 3000) as u16,
                },
                IncidentKind::Blaster => {
                    let c = host >> 8 & 0xff;
                    let c = if c > 20 {
                        c - tb.rng.below(20) as u32
                    } else {
                        c
                    };
                    Act::Blaster { next: NET | c << 8 }
                }
                IncidentKind::Slammer => Act::Slammer {
                    sport: tb.rng.range(1024, 5000) as u16,
                },
                IncidentKind::Conficker => Act::Conficker,
                IncidentKind::MassMailer => Act::MassMailer,
                IncidentKind::HorizontalScan => Act::HorizontalScan {
                    dport: if tb.rng.chance(0.5) { 23 } else { 1433 },
                    sport: tb.rng.range(32768, 60999) as u16,
                },
                IncidentKind::VerticalScan => Act::VerticalScan {
                    first: tb.rng.below(10_000) as u32,
                    // odd and not a multiple of 5: coprime with 10 000
                    stride: [3_217u32, 7_001, 4_373, 6_131][tb.rng.below(4) as usize],
                    i: 0,
                    sport: tb.rng.range(32768, 60999) as u16,
                },
                IncidentKind::SshBruteForce => Act::SshBruteForce {
                    sport: tb.rng.range(32768, 40000) as u16,
                },
                IncidentKind::RdpBruteForce => Act::RdpBruteForce {
                    target: cast.clients[5],
                },
            };
            streams.push(Stream::new(act, seed, host, from, to, rate));
            seeded.push(Seeded {
                what: Seed::Incident(kind),
                host: Ipv4Addr::from(host),
                start_ms: from,
                end_ms: to,
                categories: kind.categories(),
                description: kind.description(),
            });
        }
        if plan.lookalikes {
            for kind in LookalikeKind::ALL {
                let (from, to, rate) = kind.schedule();
                let (from, to) = (start + from, start + to);
                let seed = stream_seed(100 + kind as u64);
                let mut tb = Traffic::new(seed ^ 1, start, Scenario::Normal);
                let mut push = |act: Act, host: u32, seed: u64, a: i64, b: i64, rate: f64| {
                    streams.push(Stream::new(act, seed, host, a, b, rate));
                };
                let hosts: Vec<u32> = match kind {
                    LookalikeKind::BusyMailServer => {
                        let dst = Picker::new(|p| {
                            if BIG_MAIL_ASNS.contains(&p.asn) {
                                p.mail
                            } else {
                                0
                            }
                        });
                        push(Act::BusyMail { dst }, MAIL, seed, from, to, rate);
                        vec![MAIL]
                    }
                    LookalikeKind::DnsResolverFanout => {
                        for (i, &r) in DNS.iter().enumerate() {
                            // authoritative servers: not the public resolvers' /24s
                            let dst = Picker::new(|p| {
                                if p.len >= 24 {
                                    0
                                } else {
                                    3 * p.dns + p.web / 2 + p.mail
                                }
                            });
                            push(Act::DnsFanout { dst }, r, seed ^ i as u64, from, to, rate);
                        }
                        DNS.to_vec()
                    }
                    LookalikeKind::WebProxy => {
                        push(Act::WebProxy, PROXY, seed, from, to, rate);
                        vec![PROXY]
                    }
                    LookalikeKind::FileServer => {
                        // ~2000 of the 3840 clients use this file server
                        let mut all: Vec<u32> = (0..CLIENT_SUBNETS)
                            .flat_map(|s| {
                                (0..CLIENT_HOSTS).map(move |h| {
                                    NET | (CLIENT_FIRST_SUBNET + s) << 8 | (CLIENT_FIRST_HOST + h)
                                })
                            })
                            .collect();
                        for i in 0..2000 {
                            let j = i + tb.rng.below((all.len() - i) as u64) as usize;
                            all.swap(i, j);
                        }
                        all.truncate(2000);
                        push(
                            Act::FileServer { pool: all },
                            FILES[0],
                            seed,
                            from,
                            to,
                            rate,
                        );
                        vec![FILES[0]]
                    }
                    LookalikeKind::Backup => {
                        let hosting: Vec<usize> = (0..PREFIXES.len())
                            .filter(|&i| HOSTING_ASNS.contains(&PREFIXES[i].asn))
                            .collect();
                        let i = hosting[tb.rng.below(hosting.len() as u64) as usize];
                        let (peer, _) = tb.anyhost_in(i);
                        // two volumes: one over ssh, one to an rsync daemon
                        let sessions = [(from, to, 22u16), (from + 30 * M, from + 150 * M, 873)];
                        for (k, (a, b, dport)) in sessions.into_iter().enumerate() {
                            let act = Act::Backup {
                                peer,
                                dport,
                                sport: tb.rng.range(32768, 60999) as u16,
                                from: a,
                                to: b,
                            };
                            push(act, BACKUP, seed ^ k as u64, a, b, 0.0);
                        }
                        vec![BACKUP]
                    }
                    LookalikeKind::VulnScanner => {
                        push(Act::VulnScanner, SCANNER, seed, from, to, rate);
                        vec![SCANNER]
                    }
                };
                for h in hosts {
                    seeded.push(Seeded {
                        what: Seed::Lookalike(kind),
                        host: Ipv4Addr::from(h),
                        start_ms: from,
                        end_ms: to,
                        categories: &[],
                        description: kind.description(),
                    });
                }
            }
        }
        let background = (plan.peak_rate > 0.0 && plan.peak_rate.is_finite()).then(|| {
            Traffic::new(plan.seed, start, Scenario::Normal).with_peak_rate(plan.peak_rate)
        });
        Day {
            start_ms: start,
            end_ms: start.saturating_add(DAY_MS),
            background,
            bg_head: None,
            streams,
            seeded,
        }
    }

    /// The seeded incidents (in [`IncidentKind::ALL`] order), then the
    /// look-alikes (one entry per benign host).
    pub fn seeded(&self) -> &[Seeded] {
        &self.seeded
    }

    /// The site inventory a detector should be given: role name and hosts.
    pub fn site_roles(&self) -> Vec<(&'static str, Vec<Ipv4Addr>)> {
        let ips = |v: &[u32]| v.iter().map(|&a| Ipv4Addr::from(a)).collect::<Vec<_>>();
        vec![
            ("mail_servers", ips(&[MAIL])),
            ("dns_resolvers", ips(&DNS)),
            ("web_proxies", ips(&[PROXY])),
            ("vuln_scanners", ips(&[SCANNER])),
            ("file_servers", ips(&FILES)),
            ("backup_servers", ips(&[BACKUP])),
            ("ssh_servers", ips(&[JUMP])),
            ("web_servers", ips(&[WEB])),
            ("ntp_servers", ips(&[NTP])),
        ]
    }

    /// The day's `[start, end)`, Unix ms: every flow starts and ends in it.
    pub fn interval(&self) -> (i64, i64) {
        (self.start_ms, self.end_ms)
    }

    fn refill_background(&mut self) {
        let Some(bg) = self.background.as_mut() else {
            return;
        };
        while let Some(f) = bg.next() {
            let key = bg.clock_ms();
            if key >= self.end_ms {
                break;
            }
            if f.time_start < self.start_ms {
                continue; // began before the day
            }
            self.bg_head = Some((key, f));
            return;
        }
        self.background = None;
    }
}

impl Iterator for Day {
    type Item = FlowRecord;

    fn next(&mut self) -> Option<FlowRecord> {
        if self.bg_head.is_none() {
            self.refill_background();
        }
        let mut best: Option<(i64, usize)> = self.bg_head.as_ref().map(|&(k, _)| (k, 0));
        for (i, s) in self.streams.iter_mut().enumerate() {
            if let Some(k) = s.ready() {
                if best.is_none_or(|(b, _)| k < b) {
                    best = Some((k, i + 1));
                }
            }
        }
        match best? {
            (_, 0) => self.bg_head.take().map(|(_, f)| f),
            (_, i) => self.streams[i - 1].queue.pop().map(|q| q.flow),
        }
    }
}

// ---- connection shapes ------------------------------------------------------

/// A one-way probe: `pkts` packets, `bytes` bytes, no answer (yet); TCP
/// probes carry SYN.
fn probe(src: u32, sport: u16, dst: u32, dport: u16, proto: u8, pkts: u64, bytes: u64) -> Conn {
    Conn {
        src,
        dst,
        src_side: side_of(src),
        dst_side: side_of(dst),
        sport,
        dport,
        proto,
        tos: 0,
        fwd_pkts: pkts,
        fwd_bytes: bytes,
        fwd_flags: if proto == TCP { SYN } else { 0 },
        rev_pkts: 0,
        rev_bytes: 0,
        rev_flags: 0,
        duration_ms: 0,
    }
}

/// A complete TCP session: `(packets, bytes)` each way.
fn session(src: u32, sport: u16, dst: u32, dport: u16, fwd: (u64, u64), rev: (u64, u64)) -> Conn {
    let mut c = probe(src, sport, dst, dport, TCP, fwd.0, fwd.1);
    c.fwd_flags = FULL;
    c.rev_flags = FULL;
    c.rev_pkts = rev.0;
    c.rev_bytes = rev.1;
    c
}

/// Windows SYN retransmissions for a share of unanswered SYNs (after 3 s and
/// 6 s more).
fn retries(tb: &mut Traffic, c: &mut Conn, share: f64) {
    if tb.rng.chance(share) {
        let per = c.fwd_bytes / c.fwd_pkts.max(1);
        c.fwd_pkts = tb.rng.range(2, 3);
        c.fwd_bytes = c.fwd_pkts * per;
        c.duration_ms = if c.fwd_pkts == 2 { 3000 } else { 9000 };
    }
}

/// A SYN answered with a reset.
fn refused(c: &mut Conn) {
    c.rev_pkts = 1;
    c.rev_bytes = 40;
    c.rev_flags = RST | ACK;
}

/// A SYN answered by SYN-ACK; the prober then resets.
fn half_open(c: &mut Conn) {
    c.fwd_pkts = 2;
    c.fwd_bytes += 40;
    c.fwd_flags = SYN | RST;
    c.rev_pkts = 1;
    c.rev_bytes = 44;
    c.rev_flags = SYN | ACK;
}

/// Whether `a` is a live client address (the clients in traffic.rs).
fn live_client(a: u32) -> bool {
    matches!(side_of(a), Side::Client)
        && (CLIENT_FIRST_HOST..CLIENT_FIRST_HOST + CLIENT_HOSTS).contains(&(a & 0xff))
}

fn xp_port(tb: &mut Traffic) -> u16 {
    tb.rng.range(1025, 5000) as u16
}

fn pick_in(tb: &mut Traffic, p: &Picker) -> usize {
    let r = tb.rng.below(p.total());
    p.pick(r)
}

/// An SMTP attempt that fails or delivers: `(unanswered, refused,
/// rejected)` shares, the rest delivers a message of about `msg` bytes.
fn smtp(
    tb: &mut Traffic,
    src: u32,
    sport: u16,
    dst: (u32, Side),
    fail: (f64, f64, f64),
    msg: f64,
) -> Conn {
    let r = tb.rng.unit();
    let mut c = probe(src, sport, dst.0, 25, TCP, 1, 48);
    c.dst_side = dst.1;
    if r < fail.0 {
        retries(tb, &mut c, 0.6);
    } else if r < fail.0 + fail.1 {
        refused(&mut c);
    } else if r < fail.0 + fail.1 + fail.2 {
        // greeting, EHLO, MAIL FROM, RCPT TO: 550, QUIT
        let n = tb.rng.range(6, 9);
        c = session(
            src,
            sport,
            dst.0,
            25,
            (n, n * 52 + 120),
            (n - 1, (n - 1) * 52 + 380),
        );
        c.dst_side = dst.1;
        c.duration_ms = (tb.rtt_ms(dst.1) * 7.0) as i64;
    } else {
        c = tb.tcp((src, side_of(src)), sport, dst, 25, msg, 500.0, 0.0);
    }
    c
}

/// The connections of one arrival at `t`: `(start, connection)`.
fn event(act: &mut Act, tb: &mut Traffic, host: u32, t: i64, out: &mut Vec<(i64, Conn)>) {
    match act {
        Act::SpamBot => {
            let dst = tb.anyhost(Role::Mail);
            let sport = xp_port(tb);
            let msg = tb.rng.lognormal(5000.0, 0.6);
            out.push((t, smtp(tb, host, sport, dst, (0.35, 0.10, 0.15), msg)));
        }
        Act::MailRelay { dst } => {
            let i = pick_in(tb, dst);
            let dst = tb.anyhost_in(i);
            let sport = tb.ephemeral(true);
            let msg = tb.rng.lognormal(4000.0, 0.7);
            out.push((t, smtp(tb, host, sport, dst, (0.12, 0.05, 0.10), msg)));
        }
        Act::Sasser { sport } => {
            *sport = if *sport >= 5000 { 1025 } else { *sport + 1 };
            let r = tb.rng.unit();
            let dst = if r < 0.5 {
                tb.anyhost_any().0
            } else if r < 0.75 {
                v4(10, 0, 0, 0) | tb.rng.below(1 << 24) as u32
            } else {
                NET | tb.rng.below(1 << 16) as u32
            };
            let mut c = probe(host, *sport, dst, 445, TCP, 1, 48);
            let r = tb.rng.unit();
            if dst != host && live_client(dst) && r < 0.10 {
                // LSASS exploit, the shell on 9996, the worm over FTP from 5554
                let n = tb.rng.range(12, 20);
                let mut e = session(host, *sport, dst, 445, (n, n * 52 + 7000), (n - 2, n * 52));
                e.duration_ms = tb.rng.range(1000, 3000) as i64;
                out.push((t, e));
                let n = tb.rng.range(6, 12);
                let mut sh = session(
                    host,
                    xp_port(tb),
                    dst,
                    9996,
                    (n, n * 52 + 300),
                    (n - 1, n * 52 + 200),
                );
                sh.duration_ms = tb.rng.range(200, 2000) as i64;
                out.push((t + 3 * S, sh));
                let n = tb.rng.range(20, 30);
                let mut ftp = session(
                    dst,
                    xp_port(tb),
                    host,
                    5554,
                    (n, n * 52 + 100),
                    (14, 15_872 + 14 * 52),
                );
                ftp.duration_ms = tb.rng.range(500, 4000) as i64;
                out.push((t + 6 * S, ftp));
                return;
            }
            if dst != host && live_client(dst) && r < 0.35 {
                refused(&mut c);
            } else {
                retries(tb, &mut c, 0.3);
            }
            out.push((t, c));
        }
        Act::Blaster { next } => {
            let dst = *next;
            *next = next.wrapping_add(1);
            let sport = xp_port(tb);
            let mut c = probe(host, sport, dst, 135, TCP, 1, 48);
            let r = tb.rng.unit();
            if dst != host && live_client(dst) && r < 0.003 {
                // DCOM RPC exploit, the shell on 4444, msblast.exe by TFTP
                let n = tb.rng.range(6, 10);
                let mut e = session(
                    host,
                    sport,
                    dst,
                    135,
                    (n, n * 52 + 1800),
                    (n - 2, n * 52 + 400),
                );
                e.duration_ms = tb.rng.range(200, 1000) as i64;
                out.push((t, e));
                let n = tb.rng.range(8, 12);
                let mut sh = session(
                    host,
                    xp_port(tb),
                    dst,
                    4444,
                    (n, n * 52 + 180),
                    (n, n * 52 + 700),
                );
                sh.duration_ms = tb.rng.range(3000, 10_000) as i64;
                out.push((t + S, sh));
                let p = xp_port(tb);
                out.push((t + 1500, probe(dst, p, host, 69, UDP, 1, 48)));
                let mut data = probe(host, xp_port(tb), dst, p, UDP, 13, 12 * 544 + 64);
                data.rev_pkts = 13;
                data.rev_bytes = 13 * 32;
                data.duration_ms = tb.rng.range(300, 1500) as i64;
                out.push((t + 1600, data));
                return;
            }
            if dst != host && live_client(dst) && r < 0.30 {
                refused(&mut c);
            } else {
                retries(tb, &mut c, 0.3);
            }
            out.push((t, c));
        }
        Act::Slammer { sport } => {
            let dst = tb.anyhost_any().0;
            out.push((t, probe(host, *sport, dst, 1434, UDP, 1, 404)));
        }
        Act::Conficker => {
            let dst = if tb.rng.chance(0.5) {
                NET | tb.rng.below(1 << 16) as u32
            } else {
                tb.anyhost_any().0
            };
            let sport = xp_port(tb);
            let mut c = probe(host, sport, dst, 445, TCP, 1, 48);
            let r = tb.rng.unit();
            if dst != host && live_client(dst) && r < 0.03 {
                // MS08-067, then the victim fetches the DLL over HTTP
                let n = tb.rng.range(10, 16);
                let mut e = session(
                    host,
                    sport,
                    dst,
                    445,
                    (n, n * 52 + 5000),
                    (n - 2, n * 52 + 1500),
                );
                e.duration_ms = tb.rng.range(500, 2000) as i64;
                out.push((t, e));
                let port = tb.rng.range(1024, 10_000) as u16;
                let mut http = session(
                    dst,
                    xp_port(tb),
                    host,
                    port,
                    (60, 60 * 52 + 300),
                    (115, 160_000 + 115 * 52),
                );
                http.duration_ms = tb.rng.range(500, 3000) as i64;
                out.push((t + 2 * S, http));
                return;
            }
            if dst != host && live_client(dst) && r < 0.25 {
                refused(&mut c);
            } else {
                retries(tb, &mut c, 0.5);
            }
            out.push((t, c));
        }
        Act::MassMailer => {
            if tb.rng.chance(0.1) {
                // someone looking for the MyDoom backdoor
                let (src, _) = tb.anyhost(Role::Eyeball);
                let port = if tb.rng.chance(0.6) {
                    3127
                } else {
                    tb.rng.range(3127, 3198) as u16
                };
                let sport = tb.rng.range(1025, 65535) as u16;
                let mut c = probe(src, sport, host, port, TCP, 1, 48);
                if port == 3127 {
                    c = session(src, sport, host, port, (4, 4 * 52 + 20), (3, 3 * 52));
                    c.duration_ms = tb.rtt_ms(side_of(src)) as i64 * 3;
                } else {
                    refused(&mut c);
                }
                out.push((t, c));
                return;
            }
            let dst = tb.anyhost(Role::Mail);
            let sport = xp_port(tb);
            let msg = tb.rng.lognormal(30_000.0, 0.25);
            out.push((t, smtp(tb, host, sport, dst, (0.15, 0.10, 0.0), msg)));
        }
        Act::HorizontalScan { dport, sport } => {
            let dst = NET | tb.rng.below(1 << 16) as u32;
            let mut c = probe(host, *sport, dst, *dport, TCP, 1, 44);
            if live_client(dst) {
                let r = tb.rng.unit();
                if r < 0.01 {
                    half_open(&mut c);
                } else if r < 0.08 {
                    refused(&mut c);
                }
            }
            out.push((t, c));
        }
        Act::VerticalScan {
            first,
            stride,
            i,
            sport,
        } => {
            let port = ((*first + *i * *stride) % 10_000 + 1) as u16;
            *i += 1;
            let mut c = probe(host, *sport, WEB, port, TCP, 1, 44);
            if port == 80 || port == 443 {
                half_open(&mut c);
            } else if tb.rng.chance(0.04) {
                refused(&mut c);
            }
            out.push((t, c));
        }
        Act::SshBruteForce { sport } => {
            *sport = if *sport >= 60_990 {
                32768
            } else {
                *sport + tb.rng.range(1, 6) as u16
            };
            let (np, nb) = (tb.rng.range(10, 25), tb.rng.range(2000, 5000));
            let (rp, rb) = (tb.rng.range(10, 25), tb.rng.range(2000, 5000));
            let mut c = session(host, *sport, JUMP, 22, (np, nb), (rp, rb));
            c.duration_ms = tb.rng.range(1500, 6000) as i64;
            out.push((t, c));
        }
        Act::RdpBruteForce { target } => {
            let sport = tb.rng.range(49152, 65535) as u16;
            let (np, nb) = (tb.rng.range(15, 40), tb.rng.range(3000, 8000));
            let (rp, rb) = (tb.rng.range(12, 35), tb.rng.range(5000, 15_000));
            let mut c = session(host, sport, *target, 3389, (np, nb), (rp, rb));
            c.duration_ms = tb.rng.range(1000, 4000) as i64;
            out.push((t, c));
        }
        Act::BusyMail { dst } => {
            let i = pick_in(tb, dst);
            let dst = tb.popular_in(i);
            let sport = tb.ephemeral(true);
            let msg = tb.rng.pareto(4000.0, 1.3);
            out.push((
                t,
                tb.tcp((host, Side::Server), sport, dst, 25, msg, 600.0, 0.0),
            ));
        }
        Act::DnsFanout { dst } => {
            let i = pick_in(tb, dst);
            let dst = tb.anyhost_in(i);
            let sport = tb.rng.range(1024, 65535) as u16;
            let q = tb.rng.range(70, 110);
            let a = tb.rng.lognormal(250.0, 0.7).clamp(60.0, 1450.0) as u64;
            let rev = if tb.rng.chance(0.97) { (1, a) } else { (0, 0) };
            let rtt = tb.rtt_ms(dst.1) as i64;
            out.push((
                t,
                tb.udp((host, Side::Server), sport, dst, 53, (1, q), rev, rtt),
            ));
        }
        Act::WebProxy => {
            let dst = tb.anyhost(Role::Web);
            let sport = tb.ephemeral(true);
            let port = if tb.rng.chance(0.15) { 80 } else { 443 };
            let req = tb.rng.lognormal(700.0, 0.8);
            let resp = tb.rng.pareto(1500.0, 1.1);
            out.push((
                t,
                tb.tcp((host, Side::Server), sport, dst, port, req, resp, 0.0),
            ));
        }
        Act::FileServer { pool } => {
            let cl = pool[tb.rng.below(pool.len() as u64) as usize];
            let sport = tb.ephemeral(false);
            let (req, resp) = (tb.rng.lognormal(3000.0, 1.0), tb.rng.pareto(5000.0, 1.05));
            let think = tb.rng.exp(20_000.0);
            let c = tb.tcp(
                (cl, Side::Client),
                sport,
                (host, Side::Server),
                445,
                req,
                resp,
                think,
            );
            out.push((t, c));
        }
        Act::Backup {
            peer,
            dport,
            sport,
            from,
            to,
        } => {
            // one segment of a long transfer, cut by the active timeout
            let first = t <= *from;
            let last = t + ACTIVE_TIMEOUT_MS >= *to;
            let duration = if last { *to - t - S } else { ACTIVE_TIMEOUT_MS };
            if duration <= 0 {
                return;
            }
            let rate = tb.rng.lognormal(80.0e6, 0.15); // bytes/s
            let bytes = (rate * duration as f64 / 1000.0) as u64;
            let pkts = bytes / 1500 + 1;
            let mut c = probe(host, *sport, *peer, *dport, TCP, pkts, bytes);
            c.rev_pkts = pkts / 2 + 1;
            c.rev_bytes = c.rev_pkts * 52;
            let flags = PSH | ACK | if first { SYN } else { 0 } | if last { FIN } else { 0 };
            c.fwd_flags = flags;
            c.rev_flags = flags;
            c.tos = 0x08; // throughput
            c.duration_ms = duration;
            out.push((t, c));
        }
        Act::VulnScanner => {
            const PORTS: [u16; 30] = [
                21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 161, 389, 443, 445, 515, 631, 993,
                1433, 1521, 2049, 3306, 3389, 5432, 5900, 5985, 6379, 8080, 8443, 9100,
            ];
            let dst = if tb.rng.chance(0.3) {
                NET | (tb.rng.below(2) as u32) << 8 | tb.rng.range(1, 254) as u32
            } else {
                let s = CLIENT_FIRST_SUBNET + tb.rng.below(u64::from(CLIENT_SUBNETS)) as u32;
                NET | s << 8 | tb.rng.range(1, 254) as u32
            };
            let port = if tb.rng.chance(0.8) {
                PORTS[tb.rng.below(PORTS.len() as u64) as usize]
            } else {
                tb.rng.range(1, 1024) as u16
            };
            let mut c = probe(
                host,
                tb.rng.range(32768, 60999) as u16,
                dst,
                port,
                TCP,
                1,
                44,
            );
            let live = live_client(dst)
                || [MAIL, DNS[0], DNS[1], WEB, JUMP, NTP, PROXY, BACKUP].contains(&dst)
                || FILES.contains(&dst);
            if live {
                let r = tb.rng.unit();
                if r < 0.06 {
                    half_open(&mut c);
                } else if r < 0.6 {
                    refused(&mut c);
                }
            }
            out.push((t, c));
        }
    }
}
