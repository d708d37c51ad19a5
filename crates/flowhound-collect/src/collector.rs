//! The running collector: one receiving thread per listener, one decoding
//! thread, one thread that writes Parquet.
//!
//! ```text
//! listener ─┐ datagram batches (each in the WAL first)   decoded batches
//! listener ─┼─────────────────────────────────► decode ────────────────► Parquet writer
//! listener ─┘ (bounded)                                   (in memory, or
//!                                                          re-read from the WAL)
//! ```
//! A receiving thread appends every batch of datagrams to the write-ahead log
//! before it hands it on, so nothing received is lost to a crash, and the
//! decoding thread only decodes. Time is cut into epochs; the flows of one
//! epoch become one set of Parquet files. While the writer keeps up, an
//! epoch's decoded flows wait for it in memory; when it falls behind, they
//! are dropped from memory and the writer decodes the epoch again from the
//! WAL later. Memory stays bounded and a burst costs disk, not flows. The
//! writer runs niced: receiving and decoding get the CPU first.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arrow_array::RecordBatch;
use crossbeam_channel::{bounded, unbounded, Receiver, RecvTimeoutError, Sender};
use flowhound_decode::{decode, TemplateCache};
use flowhound_model::{addr_from_v4, addr_from_v6, Addr, Enricher};
use flowhound_store::{compact, expire, CompactOptions, FlowBatch, ParquetWriter, WriteOptions};
use tracing::{error, info, warn};

use crate::exporters::{merge_book, ExporterKey, ExporterStats};
use crate::ingest::{Carried, Ingest, MAX_EXPORTERS};
use crate::listener::{bind, kernel_drops, Listener};
use crate::metrics::{serve_metrics, Metrics};
use crate::wal;
use crate::CollectError;

const RELAXED: Ordering = Ordering::Relaxed;

/// What the collector is asked to do.
#[derive(Clone, Debug)]
pub struct CollectConfig {
    /// Addresses to listen on.
    pub listen: Vec<SocketAddr>,
    /// The data directory (flows, WAL, exporter books).
    pub data_dir: PathBuf,
    /// Socket receive buffer per listener, bytes (nfcapd's `-B`).
    pub rcvbuf: usize,
    /// Where to serve Prometheus metrics, if anywhere.
    pub metrics: Option<SocketAddr>,
    /// How often a set of Parquet files is written.
    pub file_interval: Duration,
    /// Write Parquet files early when this many flows are pending.
    pub file_rows: usize,
    /// Retention: delete files older than this.
    pub max_age: Option<Duration>,
    /// Retention: keep the flow files under this many bytes.
    pub max_bytes: Option<u64>,
    /// Epochs whose decoded flows may wait for the writer in memory; later
    /// ones wait in the WAL only (0: every epoch is decoded again from it).
    pub memory_jobs: usize,
    /// Registries asked about every flow before it is stored (countries,
    /// missing AS numbers); `None` stores flows as exported.
    pub enricher: Option<Arc<dyn Enricher>>,
    /// Merge each settled hour's files into one (see `flowhound_store::compact`);
    /// `None` keeps a file per epoch.
    pub compact: Option<CompactOptions>,
    /// How often retention and compaction run.
    pub maintenance_interval: Duration,
    /// A copy of every decoded batch, as it is decoded (at least every
    /// 200 ms), for live detection. Sent with `try_send`: a full channel
    /// drops the copy (counted in `flowhound_tap_dropped_batches_total`),
    /// never the flows nor the collector's pace.
    pub tap: Option<Sender<RecordBatch>>,
}

impl CollectConfig {
    /// Defaults for everything but where to listen and store.
    pub fn new(listen: Vec<SocketAddr>, data_dir: PathBuf) -> Self {
        CollectConfig {
            listen,
            data_dir,
            rcvbuf: 32 << 20,
            metrics: None,
            file_interval: Duration::from_secs(60),
            file_rows: 1_000_000,
            max_age: None,
            max_bytes: None,
            memory_jobs: 2,
            enricher: None,
            compact: Some(CompactOptions::default()),
            maintenance_interval: Duration::from_secs(60),
            tap: None,
        }
    }
}

/// Datagrams as received: one buffer, many entries.
struct DatagramBatch {
    epoch: u64,
    /// Whether the batch reached the WAL; an epoch with a batch that did not
    /// cannot be decoded again from it, so it must stay in memory.
    logged: bool,
    data: Vec<u8>,
    used: usize,
    entries: Vec<(u32, u32, Addr, i64)>,
}

const BATCH_BYTES: usize = 1 << 20;
const MAX_DATAGRAM: usize = 65_536;

impl DatagramBatch {
    fn new() -> Self {
        DatagramBatch {
            epoch: 0,
            logged: false,
            data: vec![0; BATCH_BYTES + MAX_DATAGRAM],
            used: 0,
            entries: Vec::with_capacity(1024),
        }
    }
    fn clear(&mut self) {
        self.used = 0;
        self.entries.clear();
    }
}

/// What a receiving thread tells the decoder.
enum Received {
    Batch(DatagramBatch),
    /// The listener's segment of this epoch is closed: all its batches of
    /// the epoch came before this message.
    EpochClosed(u64),
}

/// A collector that is running.
pub struct Running {
    /// The addresses actually bound, in the order of `CollectConfig::listen`.
    pub listen: Vec<SocketAddr>,
    /// Where metrics are served, when asked.
    pub metrics_addr: Option<SocketAddr>,
    /// The live counters.
    pub metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
    receivers: Vec<JoinHandle<()>>,
    pipeline: JoinHandle<Result<(), CollectError>>,
    metrics_thread: Option<JoinHandle<()>>,
    maintenance: Option<JoinHandle<()>>,
    _lock: std::fs::File,
}

impl Running {
    /// A flag that stops the collector when set (for signal handlers).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Whether the decoding pipeline has ended on its own (an error): the
    /// collector then stores nothing, and [`Running::wait`] tells why.
    pub fn is_finished(&self) -> bool {
        self.pipeline.is_finished()
    }

    /// Wait until the stop flag is set, then drain: every received flow is
    /// written before this returns.
    pub fn wait(self) -> Result<(), CollectError> {
        for r in self.receivers {
            let _ = r.join();
        }
        let result = self
            .pipeline
            .join()
            .unwrap_or_else(|_| Err(CollectError::Internal("pipeline thread panicked".into())));
        self.stop.store(true, RELAXED);
        if let Some(m) = self.metrics_thread {
            let _ = m.join();
        }
        if let Some(m) = self.maintenance {
            let _ = m.join();
        }
        result
    }

    /// Stop now and drain.
    pub fn stop(self) -> Result<(), CollectError> {
        self.stop.store(true, RELAXED);
        self.wait()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn wal_error(e: std::io::Error) -> CollectError {
    CollectError::Wal(e)
}

/// Decode one epoch of the WAL again: its templates file first (flows
/// discarded), then its segments. The cache carries templates over from the
/// epoch before.
fn replay_epoch(
    data_dir: &Path,
    epoch: u64,
    paths: &[PathBuf],
    cache: &mut TemplateCache,
    enricher: Option<&dyn Enricher>,
) -> Result<Vec<RecordBatch>, CollectError> {
    let mut discard = Vec::new();
    wal::read_templates(data_dir, epoch, |d| {
        let _ = decode(d.payload, d.exporter, cache, &mut discard);
        discard.clear();
    })
    .map_err(wal_error)?;
    let mut batch = FlowBatch::with_capacity(64 * 1024);
    let mut out = Vec::new();
    for path in paths {
        let torn = wal::read_segment(path, |d| {
            let before = batch.len();
            let _ = decode(d.payload, d.exporter, cache, &mut batch);
            if let Some(e) = enricher {
                batch.enrich(before, e);
            }
            if batch.len() >= 64 * 1024 {
                out.push(batch.take());
            }
        })
        .map_err(wal_error)?;
        if torn {
            warn!(segment = %path.display(), "the write-ahead log ends in a batch cut short by a crash; the batches before it are kept");
        }
    }
    if !batch.is_empty() {
        out.push(batch.take());
    }
    Ok(out)
}

/// Write what an earlier run left in the WAL, epoch by epoch. Returns the
/// next free epoch.
fn recover(
    data_dir: &Path,
    writer: &ParquetWriter,
    enricher: Option<&dyn Enricher>,
) -> Result<u64, CollectError> {
    let epochs = wal::segments(data_dir).map_err(wal_error)?;
    let mut cache = TemplateCache::default();
    let mut flows = 0;
    for (epoch, paths) in &epochs {
        let batches = replay_epoch(data_dir, *epoch, paths, &mut cache, enricher)?;
        flows += batches.iter().map(|b| b.num_rows()).sum::<usize>();
        // Named by epoch: if a crash came after these files were written but
        // before the WAL let go of them, this replaces them, no copies.
        writer.write_replayed(&batches, &epoch_name(*epoch))?;
        wal::checkpoint_epoch(data_dir, *epoch).map_err(wal_error)?;
    }
    if flows > 0 {
        info!(
            flows,
            "recovered flows from the write-ahead log of an earlier run"
        );
    }
    let last = wal::last_epoch(data_dir).map_err(wal_error)?;
    if let Some(last) = last {
        wal::checkpoint(data_dir, last).map_err(wal_error)?;
    }
    // Epochs are unique across runs (file names depend on it): start past
    // both the WAL's last one and the clock.
    let by_clock = u64::try_from(now_ms()).unwrap_or(0).saturating_mul(1000);
    Ok(last.map_or(by_clock, |e| (e + 1).max(by_clock)))
}

/// The Parquet file name of an epoch's flows (in each hour directory).
fn epoch_name(epoch: u64) -> String {
    format!("e{epoch:020}")
}

/// Recover what an earlier run left in the write-ahead log, bind every
/// listener, and start collecting.
pub fn start(config: CollectConfig) -> Result<Running, CollectError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| CollectError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    // One collector per data directory: a second one would replay (and
    // delete) the first one's write-ahead log.
    let lock_path = config.data_dir.join(".collector.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| CollectError::DataDir {
            path: lock_path.clone(),
            source,
        })?;
    if lock.try_lock().is_err() {
        return Err(CollectError::Busy(config.data_dir.clone()));
    }
    let writer = ParquetWriter::new(&config.data_dir, WriteOptions::default());
    let first_epoch = recover(&config.data_dir, &writer, config.enricher.as_deref())?;
    let epoch = Arc::new(AtomicU64::new(first_epoch));

    let mut listeners = Vec::new();
    for addr in &config.listen {
        let l = bind(*addr, config.rcvbuf)?;
        if config.rcvbuf > 0 && l.rcvbuf_granted < config.rcvbuf {
            warn!(
                listen = %l.local,
                asked = config.rcvbuf,
                granted = l.rcvbuf_granted,
                "the kernel granted a smaller socket receive buffer than asked; bursts may be dropped. \
                 Raise the limit with: sysctl -w net.core.rmem_max={}",
                config.rcvbuf
            );
        }
        info!(listen = %l.local, rcvbuf = l.rcvbuf_granted, "listening");
        listeners.push(l);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let metrics = Arc::new(Metrics::default());
    let (metrics_addr, metrics_thread) = match config.metrics {
        Some(addr) => {
            let (bound, h) = serve_metrics(addr, metrics.clone(), stop.clone())
                .map_err(|source| CollectError::Bind { addr, source })?;
            info!(metrics = %bound, "serving Prometheus metrics on /metrics");
            (Some(bound), Some(h))
        }
        None => (None, None),
    };

    let (full_tx, full_rx) = bounded::<Received>(64);
    let (free_tx, free_rx) = bounded::<DatagramBatch>(64);
    let listen: Vec<SocketAddr> = listeners.iter().map(|l| l.local).collect();
    let mut receivers = Vec::new();
    for (index, l) in listeners.into_iter().enumerate() {
        let ctx = ReceiveCtx {
            index,
            full: full_tx.clone(),
            free: free_rx.clone(),
            stop: stop.clone(),
            epoch: epoch.clone(),
            data_dir: config.data_dir.clone(),
            metrics: metrics.clone(),
        };
        let name = format!("recv {}", l.local);
        receivers.push(
            std::thread::Builder::new()
                .name(name)
                .spawn(move || receive(l, ctx))
                .map_err(|e| CollectError::Internal(e.to_string()))?,
        );
    }
    drop(full_tx);

    let maintenance =
        if config.compact.is_some() || config.max_age.is_some() || config.max_bytes.is_some() {
            let (config, stop, metrics) = (config.clone(), stop.clone(), metrics.clone());
            Some(
                std::thread::Builder::new()
                    .name("maintenance".into())
                    .spawn(move || maintain(&config, &stop, &metrics))
                    .map_err(|e| CollectError::Internal(e.to_string()))?,
            )
        } else {
            None
        };

    let pipeline = {
        let metrics = metrics.clone();
        let ports: Vec<u16> = listen.iter().map(|a| a.port()).collect();
        let listeners = listen.len();
        std::thread::Builder::new()
            .name("decode".into())
            .spawn(move || {
                Pipeline::new(config, epoch, listeners, metrics, ports)
                    .run(writer, full_rx, free_tx)
            })
            .map_err(|e| CollectError::Internal(e.to_string()))?
    };

    Ok(Running {
        listen,
        metrics_addr,
        metrics,
        stop,
        receivers,
        pipeline,
        metrics_thread,
        maintenance,
        _lock: lock,
    })
}

/// Retention and compaction, every `maintenance_interval` until `stop`.
/// They walk the whole tree and merge files in the background, at low
/// priority, away from the writer.
fn maintain(config: &CollectConfig, stop: &AtomicBool, metrics: &Metrics) {
    crate::priority::lower_this_thread();
    let write = WriteOptions::default();
    loop {
        let next = Instant::now() + config.maintenance_interval;
        while Instant::now() < next {
            if stop.load(RELAXED) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100).min(config.maintenance_interval));
        }
        if config.max_age.is_some() || config.max_bytes.is_some() {
            match expire(&config.data_dir, config.max_age, config.max_bytes, now_ms()) {
                Ok(report) if !report.removed.is_empty() => {
                    metrics.expired(report.removed.len() as u64);
                    info!(
                        files = report.removed.len(),
                        bytes = report.removed_bytes,
                        "retention removed old files"
                    )
                }
                Ok(_) => {}
                Err(e) => {
                    metrics.maintenance_error();
                    warn!(error = %e, "retention failed")
                }
            }
        }
        if let Some(options) = &config.compact {
            let started = Instant::now();
            match compact(&config.data_dir, options, &write, now_ms(), &|| {
                stop.load(RELAXED)
            }) {
                Ok(r) => {
                    metrics.merged(r.files_in as u64, r.files_out as u64);
                    if r.files_in > 0 {
                        info!(
                            hours = r.hours,
                            files = r.files_in,
                            into = r.files_out,
                            flows = r.flows,
                            secs = started.elapsed().as_secs_f64(),
                            "merged each settled hour's files"
                        );
                    }
                    for p in r.problems {
                        metrics.maintenance_error();
                        warn!(problem = %p, "a file could not be merged; its flows stay where they are");
                    }
                }
                Err(e) => {
                    metrics.maintenance_error();
                    warn!(error = %e, "compaction failed")
                }
            }
        }
    }
}

fn source_addr(src: SocketAddr) -> Addr {
    match src {
        SocketAddr::V4(a) => addr_from_v4(u32::from(*a.ip())),
        SocketAddr::V6(a) => match a.ip().to_ipv4_mapped() {
            Some(v4) => addr_from_v4(u32::from(v4)),
            None => addr_from_v6(a.ip().octets()),
        },
    }
}

struct ReceiveCtx {
    index: usize,
    full: Sender<Received>,
    free: Receiver<DatagramBatch>,
    stop: Arc<AtomicBool>,
    epoch: Arc<AtomicU64>,
    data_dir: PathBuf,
    metrics: Arc<Metrics>,
}

impl ReceiveCtx {
    /// Log the batch, then hand it on with a fresh one in its place.
    fn ship(&self, batch: &mut DatagramBatch, segment: &mut Option<wal::SegmentWriter>) -> bool {
        if batch.entries.is_empty() {
            return true;
        }
        if segment.is_none() {
            match wal::SegmentWriter::create(&self.data_dir, batch.epoch, self.index) {
                Ok(s) => *segment = Some(s),
                Err(e) => {
                    error!(dir = %wal::wal_dir(&self.data_dir).display(), error = %e,
                        "cannot create a write-ahead log segment; these flows are in memory only until written")
                }
            }
        }
        batch.logged = false;
        if let Some(s) = segment.as_mut() {
            match s.append(&batch.entries, &batch.data[..batch.used]) {
                Ok(()) => {
                    self.metrics.wal_batch();
                    batch.logged = true;
                }
                Err(e) => {
                    error!(dir = %wal::wal_dir(&self.data_dir).display(), error = %e,
                        "cannot append to the write-ahead log; these flows are in memory only until written");
                    self.metrics.wal_error();
                }
            }
        } else {
            self.metrics.wal_error();
        }
        let mut next = self
            .free
            .try_recv()
            .unwrap_or_else(|_| DatagramBatch::new());
        next.epoch = batch.epoch;
        self.full
            .send(Received::Batch(std::mem::replace(batch, next)))
            .is_ok()
    }
}

fn receive(l: Listener, ctx: ReceiveCtx) {
    let mut batch = ctx.free.try_recv().unwrap_or_else(|_| DatagramBatch::new());
    batch.epoch = ctx.epoch.load(Ordering::Acquire);
    let mut segment: Option<wal::SegmentWriter> = None;
    let mut first = Instant::now();
    loop {
        let stopping = ctx.stop.load(RELAXED);
        if stopping {
            // Take what the kernel still holds, then close the epoch and go.
            l.socket.set_nonblocking(true).ok();
        }
        let start = batch.used;
        match l
            .socket
            .recv_from(&mut batch.data[start..start + MAX_DATAGRAM])
        {
            Ok((n, src)) => {
                if batch.entries.is_empty() {
                    first = Instant::now();
                }
                batch
                    .entries
                    .push((start as u32, n as u32, source_addr(src), now_ms()));
                batch.used += n;
                let full = batch.used >= BATCH_BYTES || batch.entries.len() >= 1024;
                if !stopping && !full && first.elapsed() < Duration::from_millis(20) {
                    continue;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                if stopping {
                    let _ = ctx.ship(&mut batch, &mut segment);
                    let _ = ctx.full.send(Received::EpochClosed(batch.epoch));
                    return;
                }
            }
            Err(e) => {
                error!(listen = %l.local, error = %e, "receive failed");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let due = batch.used >= BATCH_BYTES
            || batch.entries.len() >= 1024
            || (!batch.entries.is_empty() && first.elapsed() >= Duration::from_millis(20));
        if due && !ctx.ship(&mut batch, &mut segment) {
            return;
        }
        let current = ctx.epoch.load(Ordering::Acquire);
        if current != batch.epoch {
            if !ctx.ship(&mut batch, &mut segment) {
                return;
            }
            segment = None;
            // Close every epoch passed over, even one this listener had no
            // datagram for: the decoder waits for every listener's word.
            for e in batch.epoch..current {
                if ctx.full.send(Received::EpochClosed(e)).is_err() {
                    return;
                }
            }
            batch.epoch = current;
        }
    }
}

/// A set of flows for the writer: in memory while the writer keeps up, and
/// only in the WAL when it has fallen behind.
enum Job {
    Batches {
        epoch: u64,
        batches: Vec<RecordBatch>,
        exporters: HashMap<ExporterKey, ExporterStats>,
    },
    Spilled {
        epoch: u64,
        exporters: HashMap<ExporterKey, ExporterStats>,
    },
}

/// The decoded flows of one epoch, until every listener has closed it.
#[derive(Default)]
struct Epoch {
    batches: Vec<RecordBatch>,
    rows: usize,
    exporters: HashMap<ExporterKey, ExporterStats>,
    closed: usize,
    /// A batch of this epoch missed the WAL: never drop it from memory.
    unlogged: bool,
}

/// Datagrams that carried templates, and that carried options, kept per
/// exporter domain so that an epoch can be decoded again from the WAL alone.
/// Apart, so that frequent options do not push the templates out.
const TEMPLATE_DATAGRAMS_KEPT: usize = 32;
const OPTIONS_DATAGRAMS_KEPT: usize = 8;

/// The kept datagrams of one exporter domain.
#[derive(Default)]
struct KeptState {
    templates: VecDeque<(Addr, Vec<u8>)>,
    options: VecDeque<(Addr, Vec<u8>)>,
}

struct Pipeline {
    config: CollectConfig,
    epoch: Arc<AtomicU64>,
    listeners: usize,
    metrics: Arc<Metrics>,
    ports: Vec<u16>,
    ingest: Ingest,
    /// The epoch `ingest.batch` holds flows of.
    decoding: u64,
    epochs: BTreeMap<u64, Epoch>,
    opened: Instant,
    state_datagrams: HashMap<ExporterKey, KeptState>,
    cumulative: BTreeMap<String, ExporterStats>,
    in_memory: Arc<AtomicUsize>,
}

impl Pipeline {
    fn new(
        config: CollectConfig,
        epoch: Arc<AtomicU64>,
        listeners: usize,
        metrics: Arc<Metrics>,
        ports: Vec<u16>,
    ) -> Self {
        let decoding = epoch.load(Ordering::Acquire);
        let ingest = Ingest::new().with_enricher(config.enricher.clone());
        Pipeline {
            config,
            epoch,
            listeners,
            metrics,
            ports,
            ingest,
            decoding,
            epochs: BTreeMap::new(),
            opened: Instant::now(),
            state_datagrams: HashMap::new(),
            cumulative: BTreeMap::new(),
            in_memory: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn run(
        mut self,
        writer: ParquetWriter,
        full: Receiver<Received>,
        free: Sender<DatagramBatch>,
    ) -> Result<(), CollectError> {
        let (job_tx, job_rx) = unbounded::<Job>();
        let writer_thread = {
            let metrics = self.metrics.clone();
            let cfg = self.config.clone();
            let in_memory = self.in_memory.clone();
            std::thread::Builder::new()
                .name("write".into())
                .spawn(move || write_files(cfg, writer, job_rx, metrics, in_memory))
                .map_err(|e| CollectError::Internal(e.to_string()))?
        };
        let mut last_publish = Instant::now();
        let mut last_drops = Instant::now();
        let mut result = Ok(());
        loop {
            match full.recv_timeout(Duration::from_millis(50)) {
                Ok(Received::Batch(mut batch)) => {
                    self.switch_to(batch.epoch);
                    if !batch.logged {
                        self.epochs.entry(batch.epoch).or_default().unlogged = true;
                    }
                    for &(start, len, src, at) in &batch.entries {
                        let d = &batch.data[start as usize..(start + len) as usize];
                        if let Some((key, carried)) =
                            self.ingest.datagram(d, src, at, &self.metrics)
                        {
                            self.keep_state(key, carried, src, d);
                        }
                    }
                    batch.clear();
                    let _ = free.try_send(batch);
                    if self.ingest.batch.len() >= 64 * 1024 {
                        self.flush_decoded();
                    }
                }
                Ok(Received::EpochClosed(e)) => {
                    let closed = {
                        let ep = self.epochs.entry(e).or_default();
                        ep.closed += 1;
                        ep.closed
                    };
                    if closed >= self.listeners {
                        if let Err(err) = self.finish_epoch(e, &job_tx) {
                            result = Err(err);
                            break;
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if last_publish.elapsed() >= Duration::from_millis(200) {
                last_publish = Instant::now();
                self.flush_decoded();
                self.metrics.publish_exporters(self.cumulative.clone());
            }
            if last_drops.elapsed() >= Duration::from_secs(1) {
                last_drops = Instant::now();
                for port in &self.ports {
                    if let Some(d) = kernel_drops(*port) {
                        self.metrics.set_socket_drops(format!(":{port}"), d);
                    }
                }
            }
            self.maybe_cut();
        }
        // Every receiver has closed its last epoch; write what is left.
        let left: Vec<u64> = self.epochs.keys().copied().collect();
        for e in left {
            if let Err(err) = self.finish_epoch(e, &job_tx) {
                result = Err(err);
            }
        }
        self.metrics.publish_exporters(self.cumulative.clone());
        drop(job_tx);
        let written = writer_thread
            .join()
            .unwrap_or_else(|_| Err(CollectError::Internal("writer thread panicked".into())));
        let result = result.and(written);
        if result.is_ok() {
            // Every epoch is in Parquet: the templates kept for the next one
            // are not needed.
            if let Err(e) = wal::checkpoint(&self.config.data_dir, u64::MAX) {
                warn!(error = %e, "cannot clear the write-ahead log");
            }
        }
        result
    }

    /// Start a new epoch when the current one is big or old enough.
    fn maybe_cut(&mut self) {
        let current = self.epoch.load(Ordering::Acquire);
        let rows = self.epochs.get(&current).map_or(0, |e| e.rows)
            + if self.decoding == current {
                self.ingest.batch.len()
            } else {
                0
            };
        if rows == 0 {
            // An epoch's age counts from its first flow: a quiet spell must
            // not make the next flow a file of its own.
            self.opened = Instant::now();
            return;
        }
        if rows >= self.config.file_rows || self.opened.elapsed() >= self.config.file_interval {
            self.opened = Instant::now();
            self.epoch.store(current + 1, Ordering::Release);
        }
    }

    fn switch_to(&mut self, epoch: u64) {
        if epoch != self.decoding {
            self.flush_decoded();
            self.decoding = epoch;
        }
    }

    /// Move what was decoded into its epoch.
    fn flush_decoded(&mut self) {
        let ep = self.epochs.entry(self.decoding).or_default();
        for (key, stats) in self.ingest.take_exporters() {
            ep.exporters.entry(key).or_default().add(&stats);
            let label = if self.cumulative.len() >= MAX_EXPORTERS
                && !self.cumulative.contains_key(&key.label())
            {
                "other".to_string()
            } else {
                key.label()
            };
            self.cumulative.entry(label).or_default().add(&stats);
        }
        if !self.ingest.batch.is_empty() {
            let rb = self.ingest.batch.take();
            if let Some(tap) = &self.config.tap {
                // A clone shares the column buffers: cheap, and the tap's
                // reader never holds the collector up.
                if tap.try_send(rb.clone()).is_err() {
                    self.metrics.tap_dropped();
                }
            }
            ep.rows += rb.num_rows();
            ep.batches.push(rb);
        }
    }

    fn keep_state(&mut self, key: ExporterKey, carried: Carried, exporter: Addr, datagram: &[u8]) {
        if !(carried.templates || carried.options) {
            return;
        }
        if self.state_datagrams.len() >= MAX_EXPORTERS && !self.state_datagrams.contains_key(&key) {
            return;
        }
        let kept = self.state_datagrams.entry(key).or_default();
        let (queue, cap) = if carried.templates {
            (&mut kept.templates, TEMPLATE_DATAGRAMS_KEPT)
        } else {
            (&mut kept.options, OPTIONS_DATAGRAMS_KEPT)
        };
        if queue.len() >= cap {
            queue.pop_front();
        }
        queue.push_back((exporter, datagram.to_vec()));
    }

    fn finish_epoch(&mut self, e: u64, jobs: &Sender<Job>) -> Result<(), CollectError> {
        if self.decoding == e {
            self.flush_decoded();
        }
        let Some(ep) = self.epochs.remove(&e) else {
            return Ok(());
        };
        // The next epoch may have to be decoded again from the WAL: keep the
        // templates and options it may need beside it.
        // Templates first, then options (which may need them).
        let templates = self
            .state_datagrams
            .values()
            .flat_map(|k| k.templates.iter());
        let options = self.state_datagrams.values().flat_map(|k| k.options.iter());
        let state = templates.chain(options).map(|(a, d)| (*a, d.as_slice()));
        if let Err(err) = wal::write_templates(&self.config.data_dir, e + 1, state) {
            warn!(error = %err, "cannot keep templates in the write-ahead log");
        }
        let job = if ep.unlogged || self.in_memory.load(RELAXED) < self.config.memory_jobs {
            self.in_memory.fetch_add(1, RELAXED);
            Job::Batches {
                epoch: e,
                batches: ep.batches,
                exporters: ep.exporters,
            }
        } else {
            self.metrics.spilled();
            Job::Spilled {
                epoch: e,
                exporters: ep.exporters,
            }
        };
        jobs.send(job)
            .map_err(|_| CollectError::Internal("the writer thread ended".into()))
    }
}

fn write_files(
    config: CollectConfig,
    writer: ParquetWriter,
    jobs: Receiver<Job>,
    metrics: Arc<Metrics>,
    in_memory: Arc<AtomicUsize>,
) -> Result<(), CollectError> {
    crate::priority::lower_this_thread();
    // Templates carry over from one spilled epoch to the next.
    let mut cache = TemplateCache::default();
    let mut last_error = Ok(());
    for job in jobs {
        let started = Instant::now();
        let (epoch, batches, exporters, from_memory) = match job {
            Job::Batches {
                epoch,
                batches,
                exporters,
            } => (epoch, batches, exporters, true),
            Job::Spilled { epoch, exporters } => {
                let paths = wal::segments(&config.data_dir)
                    .map(|mut s| s.remove(&epoch).unwrap_or_default())
                    .map_err(wal_error);
                match paths.and_then(|p| {
                    replay_epoch(
                        &config.data_dir,
                        epoch,
                        &p,
                        &mut cache,
                        config.enricher.as_deref(),
                    )
                }) {
                    Ok(batches) => (epoch, batches, exporters, false),
                    Err(e) => {
                        metrics.write_error();
                        error!(error = %e, epoch, "cannot read an epoch back from the write-ahead log; it stays there for the next start");
                        last_error = Err(e);
                        continue;
                    }
                }
            }
        };
        let written = writer.write_named(&batches, &epoch_name(epoch));
        drop(batches);
        if from_memory {
            in_memory.fetch_sub(1, RELAXED);
        }
        match written {
            Ok(files) => {
                let flows: u64 = files.iter().map(|f| f.rows).sum();
                let bytes: u64 = files.iter().map(|f| f.bytes).sum();
                metrics.written(flows, files.len() as u64, bytes, started.elapsed());
                if let Err(e) = wal::checkpoint_epoch(&config.data_dir, epoch) {
                    warn!(error = %e, "cannot drop checkpointed write-ahead log segments");
                }
                if let Err(e) = merge_book(&config.data_dir, &exporters) {
                    warn!(error = %e, "cannot update exporters.json");
                }
            }
            Err(e) => {
                // The epoch stays in the WAL: the next start writes it.
                metrics.write_error();
                error!(error = %e, epoch, "cannot write Parquet files; the epoch's flows stay in the write-ahead log for the next start");
                last_error = Err(e.into());
            }
        }
    }
    last_error
}
