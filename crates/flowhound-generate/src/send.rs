//! Pacing generated flows onto UDP, from one or more simulated exporters.

use crate::encode::{Encoder, Proto};
use crate::traffic::{intensity, Scenario, Traffic, DEFAULT_INCIDENT_SHARE};
use flowhound_model::FlowRecord;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Longest a partly filled datagram waits for more flows at low rates.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// Longest single sleep, so that `stop` is noticed quickly.
const MAX_SLEEP: Duration = Duration::from_millis(20);
/// Latest valid simulated time: v5/v9/IPFIX carry Unix seconds in 32 bits.
const MAX_TIME_MS: i64 = u32::MAX as i64 * 1000;

/// What to send, where, how fast.
#[derive(Clone, Debug, PartialEq)]
pub struct SendConfig {
    /// The collector.
    pub to: SocketAddr,
    /// More collectors that get a copy of every datagram (the same stream,
    /// byte for byte: for differential tests and side-by-side benchmarks).
    pub mirror: Vec<SocketAddr>,
    /// Export protocol.
    pub proto: Proto,
    /// Flows per (real) second on the wire; must be above 0. With
    /// `diurnal`, the rate at the daily peak.
    pub rate_flows_per_s: u64,
    /// Let the wire rate follow the day's rhythm of the simulated flow time
    /// ([`crate::intensity`]: the peak at 14:00 UTC, about a tenth of it at
    /// night), so that stored volumes show the day. Off: a constant rate,
    /// only the mix of traffic follows the hour.
    pub diurnal: bool,
    /// Incident to inject.
    pub scenario: Scenario,
    /// Seed of the traffic: the same seed sends the same flows.
    pub seed: u64,
    /// Stop after this many flows.
    pub total_flows: Option<u64>,
    /// Stop after this much (real) time.
    pub duration: Option<Duration>,
    /// Simulated flow time at the start, Unix ms; `None` is now.
    pub start_ms: Option<i64>,
    /// Simulated seconds per real second: 1.0 is real time, 1440.0 plays a
    /// day in a minute. Must be finite and not negative.
    pub time_scale: f64,
    /// Number of exporters, each with its own socket (on a loopback
    /// collector bound to 127.0.0.1, 127.0.0.2, ... so that each has its own
    /// source address), its own source id / observation domain (1, 2, ...)
    /// and boot time. Datagrams go round-robin. 1 to 253.
    pub exporters: u32,
    /// Datagram size limit (UDP payload); `None` is the protocol's default
    /// (v5: 30 records, v9/IPFIX: 1400 bytes).
    pub max_datagram: Option<usize>,
    /// Share of connections belonging to the incident.
    pub incident_share: f64,
    /// Template refresh interval in datagrams (v9, IPFIX); 0 sends templates
    /// only in each exporter's first datagram.
    pub template_refresh: u32,
}

impl SendConfig {
    /// Defaults: 10 000 flows/s of normal traffic, seed 1, no end, starting
    /// now in real time, one exporter.
    pub fn new(to: SocketAddr, proto: Proto) -> Self {
        SendConfig {
            to,
            mirror: Vec::new(),
            proto,
            rate_flows_per_s: 10_000,
            diurnal: false,
            scenario: Scenario::Normal,
            seed: 1,
            total_flows: None,
            duration: None,
            start_ms: None,
            time_scale: 1.0,
            exporters: 1,
            max_datagram: None,
            incident_share: DEFAULT_INCIDENT_SHARE,
            template_refresh: crate::encode::DEFAULT_TEMPLATE_REFRESH,
        }
    }
}

/// What one exporter sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExporterReport {
    /// The socket's local address (the exporter address a collector sees).
    pub local: SocketAddr,
    /// Its v9 source id / IPFIX observation domain / v5 engine id.
    pub domain_id: u32,
    /// Datagrams sent.
    pub datagrams: u64,
    /// Flow records sent.
    pub flows: u64,
    /// Sum of the packet counts of the flows sent, as encoded.
    pub packets: u64,
    /// Sum of the byte counts of the flows sent, as encoded.
    pub bytes: u64,
    /// UDP payload bytes sent.
    pub wire_bytes: u64,
}

/// What [`send`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct SendReport {
    /// Flow records sent (all exporters).
    pub flows: u64,
    /// Datagrams sent.
    pub datagrams: u64,
    /// UDP payload bytes sent.
    pub bytes: u64,
    /// Sum of packet counts of the flows sent.
    pub flow_packets: u64,
    /// Sum of byte counts of the flows sent.
    pub flow_bytes: u64,
    /// Generated flows the protocol could not carry (IPv6 over v5).
    pub skipped: u64,
    /// Datagrams the kernel refused to send (they are lost, like on a
    /// network; their flows are not counted as sent).
    pub send_errors: u64,
    /// Wall time from the first to the last datagram.
    pub elapsed: Duration,
    /// Simulated flow time at the start and at the end, Unix ms.
    pub sim_start_ms: i64,
    /// Simulated flow time at the end, Unix ms.
    pub sim_end_ms: i64,
    /// Per exporter, in exporter order.
    pub exporters: Vec<ExporterReport>,
}

impl SendReport {
    /// Flows per second achieved.
    pub fn flows_per_s(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.flows as f64 / s
        } else {
            0.0
        }
    }
}

struct Exporter {
    sock: UdpSocket,
    enc: Encoder,
    report: ExporterReport,
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Check a configuration without sending anything.
pub fn validate(config: &SendConfig) -> io::Result<()> {
    if config.rate_flows_per_s == 0 {
        return Err(invalid("rate must be at least 1 flow per second"));
    }
    if config.exporters == 0 || config.exporters > 253 {
        return Err(invalid("exporters must be between 1 and 253"));
    }
    if !config.time_scale.is_finite() || config.time_scale < 0.0 {
        return Err(invalid("time scale must be a finite number >= 0"));
    }
    if !config.incident_share.is_finite() || !(0.0..=1.0).contains(&config.incident_share) {
        return Err(invalid("incident share must be between 0 and 1"));
    }
    if let Some(s) = config.start_ms {
        if !(86_400_000..=MAX_TIME_MS).contains(&s) {
            return Err(invalid(
                "start time must be between 1970-01-02 and 2106-02-07 (Unix ms)",
            ));
        }
    }
    if config.to.port() == 0 || config.to.ip().is_unspecified() {
        return Err(invalid("destination needs an address and a port"));
    }
    Ok(())
}

fn bind_addr(to: SocketAddr, i: u32) -> SocketAddr {
    match to.ip() {
        IpAddr::V4(a) if a.is_loopback() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + i as u8)), 0)
        }
        IpAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        IpAddr::V6(a) if a.is_loopback() => SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0),
        IpAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    }
}

/// Generate traffic and send it to `config.to` until `total_flows` are
/// sent, `duration` has passed or `stop` is set, whichever comes first.
///
/// Pacing follows a token schedule: by real time `t` exactly
/// `rate × t` flows are due; full datagrams go out as soon as they are due
/// (at high rates back to back, without sleeping), a partial one when flows
/// have waited 100 ms. One batch buffer and one datagram
/// buffer are reused: nothing is allocated per flow or per datagram.
///
/// Errors: an invalid configuration (`InvalidInput`, e.g. rate 0), failing to
/// bind a socket, or a send error other than a refused/interrupted one.
pub fn send(config: &SendConfig, stop: &AtomicBool) -> io::Result<SendReport> {
    validate(config)?;
    let start_ms = config.start_ms.unwrap_or_else(now_ms).clamp(0, MAX_TIME_MS);
    let traffic = Traffic::new(config.seed, start_ms, config.scenario)
        .with_incident_share(config.incident_share);
    let mut source = Generated {
        traffic,
        start_ms,
        time_scale: config.time_scale,
        diurnal: config.diurnal,
    };
    pace(config, &mut source, start_ms, stop)
}

/// Send the given flows to `config.to`, as they come, at
/// `config.rate_flows_per_s`, until they run out, `total_flows` are sent,
/// `duration` has passed or `stop` is set.
///
/// Pacing, exporters, mirrors, datagram sizes and templates are those of
/// [`send`]; `scenario`, `seed`, `incident_share`, `start_ms`, `time_scale`
/// and `diurnal` do not apply (the flows carry their own times). What the
/// exporters call "now" (the export time in each header, and for v5 and v9
/// the uptime the flow times count from) is the latest `time_end` seen so
/// far plus one second, so that no flow ends after the datagram that carries
/// it, even with v9/IPFIX export times in whole seconds. The exporters boot
/// an hour before the first flow: send flows in (roughly) time order, as
/// [`crate::Day`] yields them; a flow more than that before the first one
/// would saturate at uptime 0 in v5/v9.
///
/// `sim_start_ms` in the report is the first flow's start, `sim_end_ms` the
/// last export time.
pub fn send_flows(
    config: &SendConfig,
    flows: impl IntoIterator<Item = FlowRecord>,
    stop: &AtomicBool,
) -> io::Result<SendReport> {
    validate(config)?;
    let mut flows = flows.into_iter().peekable();
    let anchor = flows
        .peek()
        .map(|f| f.time_start.min(f.time_end))
        .unwrap_or_else(now_ms)
        .clamp(0, MAX_TIME_MS);
    let mut source = Given {
        flows,
        latest_end: anchor,
    };
    pace(config, &mut source, anchor, stop)
}

/// Where the flows [`pace`] sends come from, and what time it is for the
/// exporters.
trait Source {
    /// The share of the configured rate that is due at real time `el` since
    /// the start, or `None` for the configured rate itself.
    fn diurnal(&self, el: Duration) -> Option<f64>;
    /// Fill the front of `out` for real time `el`: how many flows (fewer
    /// only when the source has run out) and the export time, Unix ms.
    fn fill(&mut self, el: Duration, out: &mut [FlowRecord]) -> (usize, i64);
}

/// Flows generated on the fly, on a simulated clock.
struct Generated {
    traffic: Traffic,
    start_ms: i64,
    time_scale: f64,
    diurnal: bool,
}

impl Source for Generated {
    fn diurnal(&self, el: Duration) -> Option<f64> {
        self.diurnal
            .then(|| intensity(t0_sim(self.start_ms, el, self.time_scale)))
    }

    fn fill(&mut self, el: Duration, out: &mut [FlowRecord]) -> (usize, i64) {
        let sim = t0_sim(self.start_ms, el, self.time_scale);
        self.traffic.fill(sim, out);
        (out.len(), sim)
    }
}

/// Flows someone else made; "now" follows their end times.
struct Given<I: Iterator<Item = FlowRecord>> {
    flows: I,
    latest_end: i64,
}

impl<I: Iterator<Item = FlowRecord>> Source for Given<I> {
    fn diurnal(&self, _: Duration) -> Option<f64> {
        None
    }

    fn fill(&mut self, _: Duration, out: &mut [FlowRecord]) -> (usize, i64) {
        let mut n = 0;
        for slot in out.iter_mut() {
            let Some(f) = self.flows.next() else { break };
            self.latest_end = self.latest_end.max(f.time_end);
            *slot = f;
            n += 1;
        }
        (n, (self.latest_end + 1000).clamp(0, MAX_TIME_MS))
    }
}

/// The pacing and encoding loop shared by [`send`] and [`send_flows`];
/// exporters boot an hour (and 61 s per exporter) before `anchor_ms`.
fn pace(
    config: &SendConfig,
    source: &mut impl Source,
    anchor_ms: i64,
    stop: &AtomicBool,
) -> io::Result<SendReport> {
    let start_ms = anchor_ms;
    let mut exporters = Vec::with_capacity(config.exporters as usize);
    for i in 0..config.exporters {
        let sock = UdpSocket::bind(bind_addr(config.to, i))?;
        let local = sock.local_addr()?;
        let mut enc = Encoder::new(
            config.proto,
            i + 1,
            start_ms - 3_600_000 - i64::from(i) * 61_000,
        )
        .with_template_refresh(config.template_refresh);
        if let Some(m) = config.max_datagram {
            enc = enc.with_max_datagram(m);
        }
        exporters.push(Exporter {
            sock,
            enc,
            report: ExporterReport {
                local,
                domain_id: i + 1,
                datagrams: 0,
                flows: 0,
                packets: 0,
                bytes: 0,
                wire_bytes: 0,
            },
        });
    }
    let per = exporters[0].enc.records_per_datagram(false).max(1);
    let mut batch = vec![FlowRecord::default(); per];
    let mut buf: Vec<u8> = Vec::with_capacity(65_536);
    let rate = config.rate_flows_per_s as f64;
    let total = config.total_flows.unwrap_or(u64::MAX);
    let mut produced: u64 = 0;
    let mut skipped: u64 = 0;
    let mut send_errors: u64 = 0;
    let mut next = 0usize;
    let mut sim_now = start_ms;
    let t0 = Instant::now();
    let mut last_send = t0;
    let mut last_datagram = t0;
    let mut diurnal_due = 0.0f64;
    let mut last_el = Duration::ZERO;

    while produced < total && !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let el = now - t0;
        if config.duration.is_some_and(|d| el >= d) {
            break;
        }
        // Flows due by now, and the rate at which more become due.
        let (due_f, rate_now) = if let Some(share) = source.diurnal(el) {
            let r = rate * share;
            diurnal_due += (el - last_el).as_secs_f64() * r;
            last_el = el;
            (diurnal_due, r)
        } else {
            (el.as_secs_f64() * rate, rate)
        };
        let due = (due_f as u64).min(total);
        let pending = due.saturating_sub(produced);
        let want = (per as u64).min(total - produced);
        if pending < want && !(pending > 0 && now - last_send >= FLUSH_INTERVAL) {
            // Wait for the next full datagram or the flush deadline.
            let to_full = ((produced + want) as f64 - due_f).max(0.0) / rate_now;
            let full_at = el + Duration::try_from_secs_f64(to_full).unwrap_or(MAX_SLEEP);
            let mut target = full_at;
            if pending > 0 {
                target = target.min((last_send - t0) + FLUSH_INTERVAL);
            }
            if let Some(d) = config.duration {
                target = target.min(d);
            }
            let wait = target.saturating_sub(el);
            if wait > Duration::from_micros(200) {
                std::thread::sleep((wait - Duration::from_micros(100)).min(MAX_SLEEP));
            } else {
                std::hint::spin_loop();
            }
            continue;
        }
        let want_now = pending.min(want) as usize;
        let (n, sim) = source.fill(el, &mut batch[..want_now]);
        if n == 0 {
            break; // the source has run out
        }
        sim_now = sim;
        produced += n as u64;
        last_send = now;
        let ex = &mut exporters[next];
        next = (next + 1) % config.exporters as usize;
        let mut rest = &batch[..n];
        while !rest.is_empty() {
            let r = ex.enc.encode(rest, sim, &mut buf);
            skipped += r.skipped as u64;
            let (sent_part, tail) = rest.split_at(r.consumed.min(rest.len()));
            rest = tail;
            if buf.is_empty() {
                if r.consumed == 0 {
                    break;
                }
                continue;
            }
            for m in &config.mirror {
                send_one(&ex.sock, &buf, *m)?;
            }
            if send_one(&ex.sock, &buf, config.to)? {
                last_datagram = Instant::now();
                let rep = &mut ex.report;
                rep.datagrams += 1;
                rep.wire_bytes += buf.len() as u64;
                for f in sent_part {
                    if config.proto == Proto::V5 && !f.is_ipv4() {
                        continue;
                    }
                    rep.flows += 1;
                    rep.packets += f.packets.min(u64::from(u32::MAX));
                    rep.bytes += if config.proto == Proto::V5 {
                        f.bytes.min(u64::from(u32::MAX))
                    } else {
                        f.bytes
                    };
                }
            } else {
                send_errors += 1;
            }
        }
        if n < want_now {
            break; // the source has run out
        }
    }
    let elapsed = last_datagram - t0;
    let exporters: Vec<ExporterReport> = exporters.into_iter().map(|e| e.report).collect();
    Ok(SendReport {
        flows: exporters.iter().map(|e| e.flows).sum(),
        datagrams: exporters.iter().map(|e| e.datagrams).sum(),
        bytes: exporters.iter().map(|e| e.wire_bytes).sum(),
        flow_packets: exporters.iter().map(|e| e.packets).sum(),
        flow_bytes: exporters.iter().map(|e| e.bytes).sum(),
        skipped,
        send_errors,
        elapsed,
        sim_start_ms: start_ms,
        sim_end_ms: sim_now,
        exporters,
    })
}

fn t0_sim(start_ms: i64, el: Duration, scale: f64) -> i64 {
    let adv = (el.as_secs_f64() * 1000.0 * scale) as i64;
    start_ms.saturating_add(adv).min(MAX_TIME_MS)
}

/// Send one datagram; `Ok(false)` when it was refused (counted, not fatal).
fn send_one(sock: &UdpSocket, buf: &[u8], to: SocketAddr) -> io::Result<bool> {
    for _ in 0..3 {
        match sock.send_to(buf, to) {
            Ok(_) => return Ok(true),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused
                        | io::ErrorKind::Interrupted
                        | io::ErrorKind::WouldBlock
                ) =>
            {
                continue
            }
            Err(e) if e.raw_os_error() == Some(105) => continue, // ENOBUFS
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}
