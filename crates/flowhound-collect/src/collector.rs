//! The running collector: one receiving thread per listener, one decoding
//! thread that keeps the write-ahead log, one thread that writes Parquet.
//!
//! ```text
//! listener ─┐  datagram batches          record batches
//! listener ─┼──────────────► decode+WAL ───────────────► Parquet writer
//! listener ─┘  (bounded)                 (bounded)
//! ```
//! Every channel is bounded, so memory is bounded: when the writer falls
//! behind, the decoder waits, the receivers wait, and the kernel's socket
//! buffer absorbs the burst (and counts what it drops).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arrow_array::RecordBatch;
use crossbeam_channel::{bounded, unbounded, Receiver, RecvTimeoutError, Sender};
use flowhound_model::{addr_from_v4, addr_from_v6, Addr};
use flowhound_store::{
    expire, wal_checkpoint, wal_read, ParquetWriter, SegmentId, Wal, WriteOptions,
};
use tracing::{error, info, warn};

use crate::exporters::{merge_book, ExporterKey, ExporterStats};
use crate::ingest::Ingest;
use crate::listener::{bind, kernel_drops, Listener};
use crate::metrics::{serve_metrics, Metrics};
use crate::CollectError;

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
    /// How often decoded flows go to the write-ahead log.
    pub wal_interval: Duration,
    /// How often a set of Parquet files is written.
    pub file_interval: Duration,
    /// Write Parquet files early when this many flows are pending.
    pub file_rows: usize,
    /// Retention: delete files older than this.
    pub max_age: Option<Duration>,
    /// Retention: keep the flow files under this many bytes.
    pub max_bytes: Option<u64>,
    /// Flushes that may wait for the writer in memory; later ones wait in
    /// the write-ahead log only (0: every flush goes through the WAL).
    pub memory_jobs: usize,
}

impl CollectConfig {
    /// Defaults for everything but where to listen and store.
    pub fn new(listen: Vec<SocketAddr>, data_dir: PathBuf) -> Self {
        CollectConfig {
            listen,
            data_dir,
            rcvbuf: 32 << 20,
            metrics: None,
            wal_interval: Duration::from_millis(200),
            file_interval: Duration::from_secs(60),
            file_rows: 2_000_000,
            max_age: None,
            max_bytes: None,
            memory_jobs: 2,
        }
    }
}

/// Datagrams as received: one buffer, many entries.
struct DatagramBatch {
    data: Vec<u8>,
    used: usize,
    entries: Vec<(u32, u32, Addr, i64)>,
}

const BATCH_BYTES: usize = 1 << 20;
const MAX_DATAGRAM: usize = 65_536;

impl DatagramBatch {
    fn new() -> Self {
        DatagramBatch {
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
}

impl Running {
    /// A flag that stops the collector when set (for signal handlers).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
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
        self.stop.store(true, Relaxed);
        if let Some(m) = self.metrics_thread {
            let _ = m.join();
        }
        result
    }

    /// Stop now and drain.
    pub fn stop(self) -> Result<(), CollectError> {
        self.stop.store(true, Relaxed);
        self.wait()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Recover what an earlier run left in the write-ahead log, bind every
/// listener, and start collecting.
pub fn start(config: CollectConfig) -> Result<Running, CollectError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| CollectError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let writer = ParquetWriter::new(&config.data_dir, WriteOptions::default());
    let (mut wal, recovered) = Wal::open(&config.data_dir)?;
    if !recovered.is_empty() {
        let rows: usize = recovered.iter().map(|b| b.num_rows()).sum();
        let seg = wal.rotate()?;
        writer.write(&recovered)?;
        wal_checkpoint(&config.data_dir, seg)?;
        info!(
            flows = rows,
            "recovered flows from the write-ahead log of an earlier run"
        );
    }

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

    let (full_tx, full_rx) = bounded::<DatagramBatch>(64);
    let (free_tx, free_rx) = bounded::<DatagramBatch>(64);
    let listen: Vec<SocketAddr> = listeners.iter().map(|l| l.local).collect();
    let mut receivers = Vec::new();
    for l in listeners {
        let (full_tx, free_rx, stop) = (full_tx.clone(), free_rx.clone(), stop.clone());
        let name = format!("recv {}", l.local);
        receivers.push(
            std::thread::Builder::new()
                .name(name)
                .spawn(move || receive(l, full_tx, free_rx, stop))
                .map_err(|e| CollectError::Internal(e.to_string()))?,
        );
    }
    drop(full_tx);

    let pipeline = {
        let metrics = metrics.clone();
        let ports: Vec<u16> = listen.iter().map(|a| a.port()).collect();
        std::thread::Builder::new()
            .name("decode".into())
            .spawn(move || pipeline(config, wal, writer, full_rx, free_tx, metrics, ports))
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
    })
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

fn receive(
    l: Listener,
    full: Sender<DatagramBatch>,
    free: Receiver<DatagramBatch>,
    stop: Arc<AtomicBool>,
) {
    let mut batch = free.try_recv().unwrap_or_else(|_| DatagramBatch::new());
    let mut first = Instant::now();
    loop {
        let stopping = stop.load(Relaxed);
        if !stopping {
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
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    error!(listen = %l.local, error = %e, "receive failed");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        let due = !batch.entries.is_empty()
            && (batch.used >= BATCH_BYTES
                || batch.entries.len() >= 1024
                || first.elapsed() >= Duration::from_millis(20)
                || stopping);
        if due {
            let next = free.try_recv().unwrap_or_else(|_| DatagramBatch::new());
            if full.send(std::mem::replace(&mut batch, next)).is_err() {
                return;
            }
        }
        if stopping && batch.entries.is_empty() {
            // Take what the kernel still holds, then go.
            l.socket.set_nonblocking(true).ok();
            let mut drained = false;
            while let Ok((n, src)) = l
                .socket
                .recv_from(&mut batch.data[batch.used..batch.used + MAX_DATAGRAM])
            {
                batch
                    .entries
                    .push((batch.used as u32, n as u32, source_addr(src), now_ms()));
                batch.used += n;
                drained = true;
                if batch.used >= BATCH_BYTES {
                    break;
                }
            }
            if drained {
                let next = DatagramBatch::new();
                let _ = full.send(std::mem::replace(&mut batch, next));
                continue;
            }
            return;
        }
    }
}

/// A set of flows for the writer: in memory while the writer keeps up, and
/// only in the WAL when it has fallen behind (the WAL is then the queue, so
/// a burst costs disk, not memory, and no flow is dropped).
enum Job {
    Batches {
        batches: Vec<RecordBatch>,
        segment: SegmentId,
        exporters: HashMap<ExporterKey, ExporterStats>,
    },
    Spilled {
        after: Option<SegmentId>,
        through: SegmentId,
        exporters: HashMap<ExporterKey, ExporterStats>,
    },
}

fn pipeline(
    config: CollectConfig,
    mut wal: Wal,
    writer: ParquetWriter,
    full: Receiver<DatagramBatch>,
    free: Sender<DatagramBatch>,
    metrics: Arc<Metrics>,
    ports: Vec<u16>,
) -> Result<(), CollectError> {
    let (job_tx, job_rx) = unbounded::<Job>();
    let in_memory = Arc::new(AtomicUsize::new(0));
    let writer_thread = {
        let metrics = metrics.clone();
        let cfg = config.clone();
        let in_memory = in_memory.clone();
        std::thread::Builder::new()
            .name("write".into())
            .spawn(move || write_files(cfg, writer, job_rx, metrics, in_memory))
            .map_err(|e| CollectError::Internal(e.to_string()))?
    };

    let mut ingest = Ingest::new();
    let mut pending: Vec<RecordBatch> = Vec::new();
    let mut pending_rows = 0usize;
    let mut pending_exporters: HashMap<ExporterKey, ExporterStats> = HashMap::new();
    let mut cumulative: BTreeMap<String, ExporterStats> = BTreeMap::new();
    let mut last_wal = Instant::now();
    let mut last_file = Instant::now();
    let mut last_drops = Instant::now();
    let mut last_rotated: Option<SegmentId> = None;
    let mut result = Ok(());

    loop {
        let disconnected = match full.recv_timeout(Duration::from_millis(50)) {
            Ok(mut batch) => {
                for &(start, len, src, at) in &batch.entries {
                    let (s, l) = (start as usize, len as usize);
                    ingest.datagram(&batch.data[s..s + l], src, at, &metrics);
                }
                batch.clear();
                let _ = free.try_send(batch);
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };

        if ingest.batch.len() >= 64 * 1024
            || last_wal.elapsed() >= config.wal_interval
            || disconnected
        {
            last_wal = Instant::now();
            for (key, stats) in ingest.take_exporters() {
                pending_exporters.entry(key).or_default().add(&stats);
                cumulative.entry(key.label()).or_default().add(&stats);
            }
            metrics.publish_exporters(cumulative.clone());
            if !ingest.batch.is_empty() {
                let rb = ingest.batch.take();
                if let Err(e) = wal.append(&rb) {
                    error!(error = %e, "cannot append to the write-ahead log; flows stay in memory until the next Parquet write");
                }
                metrics.wal_batch();
                pending_rows += rb.num_rows();
                pending.push(rb);
            }
        }
        if last_drops.elapsed() >= Duration::from_secs(1) {
            last_drops = Instant::now();
            for port in &ports {
                if let Some(d) = kernel_drops(*port) {
                    metrics.set_socket_drops(format!(":{port}"), d);
                }
            }
        }
        let file_due = pending_rows >= config.file_rows
            || (last_file.elapsed() >= config.file_interval
                && (pending_rows > 0 || !pending_exporters.is_empty()))
            || disconnected;
        if file_due {
            last_file = Instant::now();
            match wal.rotate() {
                Ok(segment) => {
                    let exporters = std::mem::take(&mut pending_exporters);
                    let job = if in_memory.load(Relaxed) < config.memory_jobs {
                        in_memory.fetch_add(1, Relaxed);
                        Job::Batches {
                            batches: std::mem::take(&mut pending),
                            segment,
                            exporters,
                        }
                    } else {
                        pending.clear();
                        metrics.spilled();
                        Job::Spilled {
                            after: last_rotated,
                            through: segment,
                            exporters,
                        }
                    };
                    last_rotated = Some(segment);
                    pending_rows = 0;
                    if job_tx.send(job).is_err() {
                        result = Err(CollectError::Internal("the writer thread ended".into()));
                        break;
                    }
                }
                Err(e) => error!(error = %e, "cannot rotate the write-ahead log"),
            }
        }
        if disconnected {
            break;
        }
    }
    drop(job_tx);
    let written = writer_thread
        .join()
        .unwrap_or_else(|_| Err(CollectError::Internal("writer thread panicked".into())));
    result.and(written)
}

fn write_files(
    config: CollectConfig,
    writer: ParquetWriter,
    jobs: Receiver<Job>,
    metrics: Arc<Metrics>,
    in_memory: Arc<AtomicUsize>,
) -> Result<(), CollectError> {
    // Receiving comes first: under a burst the writer yields the CPU and
    // catches up from the WAL afterwards.
    crate::priority::lower_this_thread();
    let mut last_error = Ok(());
    for job in jobs {
        let started = Instant::now();
        let (batches, segment, exporters) = match job {
            Job::Batches {
                batches,
                segment,
                exporters,
            } => {
                in_memory.fetch_sub(1, Relaxed);
                (batches, segment, exporters)
            }
            Job::Spilled {
                after,
                through,
                exporters,
            } => match wal_read(&config.data_dir, after, through) {
                Ok((batches, warnings)) => {
                    for w in warnings {
                        warn!("{w}");
                    }
                    (batches, through, exporters)
                }
                Err(e) => {
                    error!(error = %e, "cannot read the write-ahead log back; its flows stay there for the next start");
                    last_error = Err(e.into());
                    continue;
                }
            },
        };
        match writer.write(&batches) {
            Ok(files) => {
                let flows: u64 = files.iter().map(|f| f.rows).sum();
                let bytes: u64 = files.iter().map(|f| f.bytes).sum();
                metrics.written(flows, files.len() as u64, bytes, started.elapsed());
                if let Err(e) = wal_checkpoint(&config.data_dir, segment) {
                    warn!(error = %e, "cannot drop checkpointed write-ahead log segments");
                }
                if let Err(e) = merge_book(&config.data_dir, &exporters) {
                    warn!(error = %e, "cannot update exporters.json");
                }
            }
            Err(e) => {
                // The segments stay in the WAL: the next start writes them.
                error!(error = %e, "cannot write Parquet files; the flows stay in the write-ahead log");
                last_error = Err(e.into());
            }
        }
        if config.max_age.is_some() || config.max_bytes.is_some() {
            match expire(&config.data_dir, config.max_age, config.max_bytes, now_ms()) {
                Ok(report) => {
                    if !report.removed.is_empty() {
                        info!(
                            files = report.removed.len(),
                            bytes = report.removed_bytes,
                            "retention removed old files"
                        );
                    }
                }
                Err(e) => warn!(error = %e, "retention failed"),
            }
        }
    }
    last_error
}
