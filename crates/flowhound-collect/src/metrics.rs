//! Typed counters of the collector, exposed in the Prometheus text format on
//! `--metrics ADDR:PORT` (`GET /metrics`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::exporters::ExporterStats;

/// Every counter the collector keeps. Cheap to update from the hot path.
#[derive(Default)]
pub struct Metrics {
    datagrams: AtomicU64,
    datagram_bytes: AtomicU64,
    flows: AtomicU64,
    sequence_gaps: AtomicU64,
    sequence_lost: AtomicU64,
    templates: AtomicU64,
    flows_written: AtomicU64,
    files_written: AtomicU64,
    bytes_written: AtomicU64,
    write_count: AtomicU64,
    write_micros_sum: AtomicU64,
    write_micros_max: AtomicU64,
    wal_batches: AtomicU64,
    spilled: AtomicU64,
    wal_errors: AtomicU64,
    write_errors: AtomicU64,
    merged_files: AtomicU64,
    merges: AtomicU64,
    maintenance_errors: AtomicU64,
    expired_files: AtomicU64,
    tap_dropped: AtomicU64,
    extra: Mutex<Vec<Arc<dyn Fn() -> String + Send + Sync>>>,
    decode_errors: Mutex<BTreeMap<&'static str, u64>>,
    exporters: Mutex<BTreeMap<String, ExporterStats>>,
    socket_drops: Mutex<BTreeMap<String, u64>>,
}

impl Metrics {
    pub(crate) fn datagram(&self, len: usize) {
        self.datagrams.fetch_add(1, Relaxed);
        self.datagram_bytes.fetch_add(len as u64, Relaxed);
    }
    pub(crate) fn flows(&self, n: u64) {
        self.flows.fetch_add(n, Relaxed);
    }
    pub(crate) fn decode_error_n(&self, kind: &'static str, n: u64) {
        if n == 0 {
            return;
        }
        if let Ok(mut m) = self.decode_errors.lock() {
            *m.entry(kind).or_default() += n;
        }
    }
    pub(crate) fn sequence_gap(&self, lost: u64) {
        self.sequence_gaps.fetch_add(1, Relaxed);
        self.sequence_lost.fetch_add(lost, Relaxed);
    }
    pub(crate) fn set_templates(&self, n: u64) {
        self.templates.store(n, Relaxed);
    }
    pub(crate) fn wal_error(&self) {
        self.wal_errors.fetch_add(1, Relaxed);
    }
    pub(crate) fn write_error(&self) {
        self.write_errors.fetch_add(1, Relaxed);
    }
    pub(crate) fn merged(&self, files_in: u64, files_out: u64) {
        self.merged_files.fetch_add(files_in, Relaxed);
        self.merges.fetch_add(files_out, Relaxed);
    }
    pub(crate) fn maintenance_error(&self) {
        self.maintenance_errors.fetch_add(1, Relaxed);
    }
    pub(crate) fn expired(&self, files: u64) {
        self.expired_files.fetch_add(files, Relaxed);
    }
    pub(crate) fn tap_dropped(&self) {
        self.tap_dropped.fetch_add(1, Relaxed);
    }
    pub(crate) fn spilled(&self) {
        self.spilled.fetch_add(1, Relaxed);
    }
    pub(crate) fn wal_batch(&self) {
        self.wal_batches.fetch_add(1, Relaxed);
    }
    pub(crate) fn written(&self, flows: u64, files: u64, bytes: u64, took: Duration) {
        self.flows_written.fetch_add(flows, Relaxed);
        self.files_written.fetch_add(files, Relaxed);
        self.bytes_written.fetch_add(bytes, Relaxed);
        let micros = took.as_micros() as u64;
        self.write_count.fetch_add(1, Relaxed);
        self.write_micros_sum.fetch_add(micros, Relaxed);
        self.write_micros_max.fetch_max(micros, Relaxed);
    }
    pub(crate) fn publish_exporters(&self, book: BTreeMap<String, ExporterStats>) {
        if let Ok(mut m) = self.exporters.lock() {
            *m = book;
        }
    }
    pub(crate) fn set_socket_drops(&self, listen: String, drops: u64) {
        if let Ok(mut m) = self.socket_drops.lock() {
            m.insert(listen, drops);
        }
    }

    /// Datagrams received so far.
    pub fn datagrams(&self) -> u64 {
        self.datagrams.load(Relaxed)
    }
    /// Flows decoded so far.
    pub fn flows_decoded(&self) -> u64 {
        self.flows.load(Relaxed)
    }
    /// Flows written to Parquet files so far.
    pub fn flows_written(&self) -> u64 {
        self.flows_written.load(Relaxed)
    }
    /// Decode errors by kind.
    pub fn decode_errors(&self) -> BTreeMap<&'static str, u64> {
        self.decode_errors
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }
    /// Decoded batches the tap (`CollectConfig::tap`) dropped because its
    /// reader was behind.
    pub fn tap_dropped_batches(&self) -> u64 {
        self.tap_dropped.load(Relaxed)
    }
    /// Add counters of another part (live detection, say) to `/metrics`:
    /// `render` is called on every request and returns Prometheus text.
    pub fn add_source(&self, render: Arc<dyn Fn() -> String + Send + Sync>) {
        if let Ok(mut m) = self.extra.lock() {
            m.push(render);
        }
    }
    /// Datagrams the kernel dropped on our sockets (receive buffer full).
    pub fn socket_drops(&self) -> u64 {
        self.socket_drops
            .lock()
            .map(|m| m.values().sum())
            .unwrap_or_default()
    }

    /// The Prometheus text exposition of every counter.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        counter(
            "flowhound_datagrams_total",
            "Export datagrams received.",
            self.datagrams.load(Relaxed),
        );
        counter(
            "flowhound_datagram_bytes_total",
            "Bytes of export datagrams received.",
            self.datagram_bytes.load(Relaxed),
        );
        counter(
            "flowhound_flows_total",
            "Flows decoded.",
            self.flows.load(Relaxed),
        );
        counter(
            "flowhound_sequence_gaps_total",
            "Jumps in exporters' sequence numbers.",
            self.sequence_gaps.load(Relaxed),
        );
        counter(
            "flowhound_sequence_lost_total",
            "Flows (v5, IPFIX) or datagrams (v9) lost by sequence numbers.",
            self.sequence_lost.load(Relaxed),
        );
        counter(
            "flowhound_flows_written_total",
            "Flows written to Parquet files.",
            self.flows_written.load(Relaxed),
        );
        counter(
            "flowhound_files_written_total",
            "Parquet files written.",
            self.files_written.load(Relaxed),
        );
        counter(
            "flowhound_file_bytes_written_total",
            "Bytes of Parquet files written.",
            self.bytes_written.load(Relaxed),
        );
        counter(
            "flowhound_wal_batches_total",
            "Batches appended to the write-ahead log.",
            self.wal_batches.load(Relaxed),
        );
        counter(
            "flowhound_wal_errors_total",
            "Datagram batches that could not be written to the write-ahead log.",
            self.wal_errors.load(Relaxed),
        );
        counter(
            "flowhound_write_errors_total",
            "Epochs that could not be written to Parquet (they wait in the WAL).",
            self.write_errors.load(Relaxed),
        );
        counter(
            "flowhound_compacted_files_total",
            "Flow files merged into one file per hour (compaction).",
            self.merged_files.load(Relaxed),
        );
        counter(
            "flowhound_compactions_total",
            "Merged files written by compaction.",
            self.merges.load(Relaxed),
        );
        counter(
            "flowhound_expired_files_total",
            "Flow files removed by retention (--max-age, --max-size).",
            self.expired_files.load(Relaxed),
        );
        counter(
            "flowhound_maintenance_errors_total",
            "Compaction or retention runs that failed, and files that could not be merged.",
            self.maintenance_errors.load(Relaxed),
        );
        counter(
            "flowhound_tap_dropped_batches_total",
            "Decoded batches the live-detection tap dropped because its reader was behind.",
            self.tap_dropped.load(Relaxed),
        );
        counter(
            "flowhound_spilled_jobs_total",
            "Flushes left in the WAL because the Parquet writer was behind.",
            self.spilled.load(Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP flowhound_templates Templates currently known.\n# TYPE flowhound_templates gauge\nflowhound_templates {}",
            self.templates.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP flowhound_write_seconds Time to write one set of Parquet files.\n# TYPE flowhound_write_seconds summary\nflowhound_write_seconds_sum {}\nflowhound_write_seconds_count {}",
            self.write_micros_sum.load(Relaxed) as f64 / 1e6,
            self.write_count.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP flowhound_write_seconds_max Longest Parquet write.\n# TYPE flowhound_write_seconds_max gauge\nflowhound_write_seconds_max {}",
            self.write_micros_max.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "# HELP flowhound_decode_errors_total Malformed datagrams and sets, by kind.\n# TYPE flowhound_decode_errors_total counter");
        for (kind, n) in self.decode_errors() {
            let _ = writeln!(out, "flowhound_decode_errors_total{{kind=\"{kind}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP flowhound_socket_drops Datagrams dropped by the kernel on a listening socket (receive buffer full).\n# TYPE flowhound_socket_drops gauge");
        if let Ok(m) = self.socket_drops.lock() {
            for (listen, n) in m.iter() {
                let _ = writeln!(out, "flowhound_socket_drops{{listen=\"{listen}\"}} {n}");
            }
        }
        if let Ok(m) = self.exporters.lock() {
            for (name, help, get) in [
                (
                    "flowhound_exporter_flows_total",
                    "Flows decoded per exporter.",
                    (|s: &ExporterStats| s.flows) as fn(&ExporterStats) -> u64,
                ),
                (
                    "flowhound_exporter_datagrams_total",
                    "Datagrams per exporter.",
                    |s| s.datagrams,
                ),
                (
                    "flowhound_exporter_sequence_failures_total",
                    "Sequence jumps per exporter.",
                    |s| s.sequence_failures,
                ),
                (
                    "flowhound_exporter_sequence_lost_total",
                    "Lost per exporter by sequence numbers.",
                    |s| s.lost,
                ),
            ] {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
                for (exporter, s) in m.iter() {
                    let _ = writeln!(out, "{name}{{exporter=\"{exporter}\"}} {}", get(s));
                }
            }
        }
        let extra: Vec<_> = self.extra.lock().map(|m| m.clone()).unwrap_or_default();
        for render in extra {
            out.push_str(&render());
        }
        out
    }
}

/// Serve `GET /metrics` on `addr` until `stop` is set. Returns the bound
/// address (useful with port 0).
pub fn serve_metrics(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<(SocketAddr, std::thread::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let handle = std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            while !stop.load(Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                        let _ = answer(stream, &metrics);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        })?;
    Ok((bound, handle))
}

fn answer(stream: std::net::TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    use std::io::Read;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    // A request is a few hundred bytes: a client that sends more, or
    // dribbles, does not hold the thread (nor the collector's shutdown).
    let mut reader = BufReader::new(stream.try_clone()?.take(8192));
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Drain the headers, within a deadline.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 && std::time::Instant::now() < deadline {
        line.clear();
    }
    let mut stream = stream;
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let (status, body, ctype) = if path == "/metrics" || path.starts_with("/metrics?") {
        ("200 OK", metrics.render(), "text/plain; version=0.0.4")
    } else {
        ("404 Not Found", "try /metrics\n".to_string(), "text/plain")
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
