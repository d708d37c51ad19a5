//! Writing flows into Parquet files partitioned by the hour of their start:
//! `DIR/flows/YYYY/MM/DD/HH/<name>.parquet` (UTC).

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::types::{TimestampMillisecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type};
use arrow_array::{
    new_null_array, Array, ArrayRef, ArrowPrimitiveType, FixedSizeBinaryArray, PrimitiveArray,
    RecordBatch, StringArray, TimestampMillisecondArray,
};
use arrow_buffer::{Buffer, ScalarBuffer};
use arrow_schema::DataType;
use chrono::{DateTime, Datelike, Timelike};
use flowhound_model::{flow_schema, Column};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;

use crate::batch::{check_schema, fsb_column, primitive_column};
use crate::fsutil::sync_dir;
use crate::StoreError;

pub(crate) const HOUR_MS: i64 = 3_600_000;
/// Flows with absurd times are filed at the edges of this range of hours
/// (1970-01-01T00 .. 9999-12-31T23) rather than refused, so that one bad
/// exporter clock cannot stall the writer.
pub(crate) const MIN_HOUR: i64 = 0;
pub(crate) const MAX_HOUR: i64 = 2_932_896 * 24 - 1;

/// The order of rows within a file. It decides both how well the file
/// compresses and which queries can skip row groups and pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SortKey {
    /// Arrival order.
    None,
    /// `time_start`.
    Time,
    /// `proto, dst_port, src_ip, time_start`: the port-selective queries
    /// (SMTP senders, worm ports) read few row groups, and runs of equal
    /// values compress well.
    ProtoPortSrcTime,
    /// `proto, dst_port, dst_ip, time_start`: as port-selective as
    /// [`SortKey::ProtoPortSrcTime`], and ~5% smaller because the many
    /// external destinations, not the few internal sources, come in runs.
    ProtoPortDstTime,
    /// By connection, for host queries as much as port queries. Each
    /// flow has a client (the address on the higher port) and a service
    /// (the lower port). An hour's clients, in address order, are cut into
    /// buckets of about 64 k flows; a bucket's requests, then its replies,
    /// are row groups of their own, sorted by `proto`, service, client,
    /// time. A host's queries skip other buckets by `src_ip`/`dst_ip`
    /// statistics and the other side's row groups by Bloom filter, and
    /// pages of a port's requests still hold one `dst_port`.
    #[default]
    Connection,
}

trait ZstdPays {
    fn zstd_pays(self) -> bool;
}

impl ZstdPays for Column {
    /// Whether zstd makes this column's pages much smaller (measured on a
    /// day of 40 M flows, after the encodings below). Elsewhere it gains
    /// under 20% (AS numbers, masks), nothing (delta-coded times), or
    /// loses (dictionary-coded constants), and each column chunk a query
    /// reads costs a zstd context or two to set up: a third of a host
    /// query's CPU.
    fn zstd_pays(self) -> bool {
        matches!(
            self,
            Column::Exporter
                | Column::SrcIp
                | Column::DstIp
                | Column::NextHop
                | Column::SrcPort
                | Column::DstPort
                | Column::TcpFlags
                | Column::Tos
                | Column::Packets
                | Column::Bytes
        )
    }
}

impl SortKey {
    fn columns(self) -> &'static [Column] {
        match self {
            SortKey::None => &[],
            SortKey::Time => &[Column::TimeStart],
            SortKey::ProtoPortSrcTime => &[
                Column::Proto,
                Column::DstPort,
                Column::SrcIp,
                Column::TimeStart,
            ],
            SortKey::ProtoPortDstTime => &[
                Column::Proto,
                Column::DstPort,
                Column::DstIp,
                Column::TimeStart,
            ],
            // Not a plain column order: derived keys.
            SortKey::Connection => &[],
        }
    }
}

/// How the Parquet files are laid out. The defaults are the measured best
/// trade of size against encode time (see `examples/layout.rs`).
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// Row order within each file.
    pub sort: SortKey,
    /// zstd level (1..=22).
    pub zstd_level: i32,
    /// Maximum rows per row group.
    pub row_group_rows: usize,
    /// Target size of a data page, bytes before compression.
    pub data_page_bytes: usize,
    /// At most this many rows per data page: the page index can then skip
    /// all but the few pages that hold one host's run of flows.
    pub data_page_rows: usize,
    /// Per-column encodings chosen for flows (delta times, byte-stream-split
    /// counters, dictionaries where values repeat). Off: Parquet's defaults.
    pub tuned_encodings: bool,
    /// Bloom filters on `src_ip` and `dst_ip`: row groups without a host
    /// are skipped by its queries.
    pub bloom_filters: bool,
    /// `fsync` the file and its directory before and after the rename. Only
    /// for measurements; the WAL is checkpointed on the strength of this.
    pub fsync: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            sort: SortKey::default(),
            zstd_level: 1,
            row_group_rows: 128 * 1024,
            data_page_bytes: 1024 * 1024,
            data_page_rows: 8 * 1024,
            tuned_encodings: true,
            bloom_filters: true,
            fsync: true,
        }
    }
}

impl WriteOptions {
    /// The Parquet writer properties these options stand for.
    pub fn properties(&self) -> Result<WriterProperties, StoreError> {
        Ok(self.properties_builder()?.build())
    }

    /// The builder of [`WriteOptions::properties`], to adjust before use with
    /// [`ParquetWriter::with_properties`].
    pub fn properties_builder(&self) -> Result<WriterPropertiesBuilder, StoreError> {
        self.properties_builder_for(self.row_group_rows)
    }

    /// [`WriteOptions::properties_builder`] for a file of `rows` flows: the
    /// Bloom filters are sized for the row groups it will have, so that a
    /// small file (a quiet minute) does not carry filters larger than its
    /// flows.
    pub fn properties_builder_for(
        &self,
        rows: usize,
    ) -> Result<WriterPropertiesBuilder, StoreError> {
        let level = ZstdLevel::try_new(self.zstd_level).map_err(|e| {
            StoreError::schema(
                "write options",
                format!("zstd level {}: {e}", self.zstd_level),
            )
        })?;
        let schema = flow_schema();
        let sorting: Vec<SortingColumn> = self
            .sort
            .columns()
            .iter()
            .filter_map(|c| schema.index_of(c.name()).ok())
            .map(|i| SortingColumn {
                column_idx: i as i32,
                descending: false,
                nulls_first: false,
            })
            .collect();
        let mut b = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_max_row_group_row_count(Some(self.row_group_rows.max(1)))
            .set_data_page_size_limit(self.data_page_bytes.max(1024))
            .set_data_page_row_count_limit(self.data_page_rows.max(1))
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_created_by(format!("flowhound {}", env!("CARGO_PKG_VERSION")))
            .set_sorting_columns((!sorting.is_empty()).then_some(sorting));
        if self.tuned_encodings {
            for c in Column::ALL {
                let path = ColumnPath::from(c.name());
                b = match c {
                    // Delta of sorted-within-runs times: ~2.6 B each.
                    Column::TimeStart | Column::TimeEnd => b
                        .set_column_dictionary_enabled(path.clone(), false)
                        .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED),
                    // Heavy-tailed counters: the high bytes are mostly zero,
                    // which zstd sees once the bytes are split into streams.
                    Column::Packets | Column::Bytes => b
                        .set_column_dictionary_enabled(path.clone(), false)
                        .set_column_encoding(path, Encoding::BYTE_STREAM_SPLIT),
                    // Too many distinct values for a dictionary to pay: plain
                    // and zstd is smaller and cheaper.
                    Column::SrcPort | Column::SrcIp | Column::DstIp => {
                        b.set_column_dictionary_enabled(path, false)
                    }
                    // Few distinct values: dictionary + RLE.
                    _ => b,
                };
            }
            for c in Column::ALL {
                if !c.zstd_pays() {
                    b = b.set_column_compression(
                        ColumnPath::from(c.name()),
                        Compression::UNCOMPRESSED,
                    );
                }
            }
        }
        if self.bloom_filters {
            // Sized for a row group's distinct addresses, not Parquet's
            // default of a million: 32 kB per column of a full row group.
            let ndv = (rows.min(self.row_group_rows) as u64 / 8).clamp(64, 1 << 20);
            for c in [Column::SrcIp, Column::DstIp] {
                let path = ColumnPath::from(c.name());
                b = b
                    .set_column_bloom_filter_enabled(path.clone(), true)
                    .set_column_bloom_filter_max_ndv(path.clone(), ndv)
                    .set_column_bloom_filter_fpp(path, 0.01);
            }
        }
        Ok(b)
    }
}

/// One Parquet file written by [`ParquetWriter::write`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenFile {
    /// Where it is.
    pub path: PathBuf,
    /// Start of its hour partition, Unix milliseconds.
    pub hour_start_ms: i64,
    /// Flows in it.
    pub rows: u64,
    /// Its size on disk.
    pub bytes: u64,
}

/// Writes flows into hour-partitioned Parquet files under `DIR/flows/`.
#[derive(Debug)]
pub struct ParquetWriter {
    flows_dir: PathBuf,
    options: WriteOptions,
    /// Properties given by [`ParquetWriter::with_properties`], used as they
    /// are; `None`: each file's are derived from the options.
    custom: Option<WriterProperties>,
    seq: AtomicU64,
}

impl ParquetWriter {
    /// A writer into `data_dir/flows/`. Invalid options (a zstd level out of
    /// range) fall back to the defaults for that setting.
    pub fn new(data_dir: &Path, options: WriteOptions) -> Self {
        let options = match options.properties() {
            Ok(_) => options,
            Err(_) => WriteOptions {
                zstd_level: WriteOptions::default().zstd_level,
                ..options
            },
        };
        ParquetWriter {
            flows_dir: data_dir.join("flows"),
            options,
            custom: None,
            seq: AtomicU64::new(0),
        }
    }

    /// A writer with explicit Parquet properties, for layouts the options
    /// do not cover (measurements, special sites). `options` still decides
    /// the sort order and `fsync`.
    pub fn with_properties(
        data_dir: &Path,
        options: WriteOptions,
        properties: WriterProperties,
    ) -> Self {
        ParquetWriter {
            flows_dir: data_dir.join("flows"),
            options,
            custom: Some(properties),
            seq: AtomicU64::new(0),
        }
    }

    /// The options in force.
    pub fn options(&self) -> &WriteOptions {
        &self.options
    }

    /// Splits the flows of `batches` (all of [`flow_schema`]) by the hour of
    /// `time_start`, sorts each hour's rows by [`WriteOptions::sort`] and
    /// writes one file per hour, atomically: a hidden temp file in the same
    /// directory, `fsync`, rename to `<name>.parquet`, `fsync` of the
    /// directory. A reader sees a whole file or none.
    ///
    /// Returns the files written, oldest hour first.
    pub fn write(&self, batches: &[RecordBatch]) -> Result<Vec<WrittenFile>, StoreError> {
        let name = format!(
            "flows-{}-{}-{}",
            now_ms(),
            std::process::id(),
            self.seq.fetch_add(1, Ordering::Relaxed)
        );
        self.write_named(batches, &name)
    }

    /// Like [`ParquetWriter::write`], with the files named `<name>.parquet`
    /// in their hour directories. Writing the same flows under the same name
    /// again replaces the files instead of adding copies: a collector that
    /// replays its write-ahead log after a crash names files by epoch.
    pub fn write_named(
        &self,
        batches: &[RecordBatch],
        name: &str,
    ) -> Result<Vec<WrittenFile>, StoreError> {
        self.write_hours(batches, name, false)
    }

    /// [`ParquetWriter::write_named`] for flows written before under the
    /// same name (a write-ahead log replayed after a crash): an hour whose
    /// file a merge has replaced since is left out, as the merged file
    /// holds its flows.
    pub fn write_replayed(
        &self,
        batches: &[RecordBatch],
        name: &str,
    ) -> Result<Vec<WrittenFile>, StoreError> {
        self.write_hours(batches, name, true)
    }

    fn write_hours(
        &self,
        batches: &[RecordBatch],
        name: &str,
        skip_merged: bool,
    ) -> Result<Vec<WrittenFile>, StoreError> {
        for b in batches {
            check_schema(b, "parquet write")?;
        }
        let rows = sort_rows(batches, self.options.sort)?;
        let mut written = Vec::new();
        let mut start = 0;
        while start < rows.len() {
            let hour = rows[start].hour;
            let end = start + rows[start..].partition_point(|r| r.hour == hour);
            let path = self
                .flows_dir
                .join(hour_dir(hour))
                .join(format!("{name}.parquet"));
            if !(skip_merged && crate::layout::was_merged(&path)) {
                written.push(self.write_file(
                    hour,
                    batches,
                    &rows[start..end],
                    name,
                    |_| Ok(()),
                )?);
            }
            start = end;
        }
        Ok(written)
    }

    /// Writes the flows of `batches`, all of one `hour`, to one file
    /// `<name>.parquet` in its directory. `before_rename` runs once the
    /// file is complete under its temp name, before it appears: the
    /// compactor writes its record there.
    pub(crate) fn write_hour(
        &self,
        hour: i64,
        batches: &[RecordBatch],
        name: &str,
        before_rename: impl FnOnce(&Path) -> Result<(), StoreError>,
    ) -> Result<WrittenFile, StoreError> {
        for b in batches {
            check_schema(b, "parquet write")?;
        }
        let rows = sort_rows(batches, self.options.sort)?;
        if let Some(other) = rows.iter().find(|r| r.hour != hour) {
            return Err(StoreError::schema(
                "parquet write",
                format!("a flow of hour {} among those of hour {hour}", other.hour),
            ));
        }
        self.write_file(hour, batches, &rows, name, before_rename)
    }

    fn write_file(
        &self,
        hour: i64,
        batches: &[RecordBatch],
        rows: &[Row],
        name: &str,
        before_rename: impl FnOnce(&Path) -> Result<(), StoreError>,
    ) -> Result<WrittenFile, StoreError> {
        let dir = self.flows_dir.join(hour_dir(hour));
        fs::create_dir_all(&dir).map_err(|e| StoreError::io("create directory", &dir, e))?;
        let tmp = dir.join(format!(".{name}.parquet.tmp"));
        let path = dir.join(format!("{name}.parquet"));
        let mut first = self.write_tmp(&tmp, batches, rows);
        if matches!(&first, Err(StoreError::Io { op: "create", source, .. })
            if source.kind() == std::io::ErrorKind::NotFound)
        {
            // Retention removed the (empty) directory just now.
            fs::create_dir_all(&dir).map_err(|e| StoreError::io("create directory", &dir, e))?;
            first = self.write_tmp(&tmp, batches, rows);
        }
        let result = first.and_then(|bytes| {
            before_rename(&dir)?;
            fs::rename(&tmp, &path).map_err(|e| StoreError::io("rename", &tmp, e))?;
            if self.options.fsync {
                sync_dir(&dir)?;
            }
            Ok(bytes)
        });
        match result {
            Ok(bytes) => Ok(WrittenFile {
                path,
                hour_start_ms: hour * HOUR_MS,
                rows: rows.len() as u64,
                bytes,
            }),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    fn write_tmp(
        &self,
        tmp: &Path,
        batches: &[RecordBatch],
        rows: &[Row],
    ) -> Result<u64, StoreError> {
        let file = File::create(tmp).map_err(|e| StoreError::io("create", tmp, e))?;
        let properties = match &self.custom {
            Some(p) => p.clone(),
            // `new` made the options valid, so this cannot fail.
            None => self
                .options
                .properties_builder_for(rows.len())
                .map(|b| b.build())
                .unwrap_or_default(),
        };
        let mut writer = ArrowWriter::try_new(file, flow_schema(), Some(properties))
            .map_err(|e| StoreError::parquet(tmp, e))?;
        // One row group at a time: the copy stays small, and smaller writes
        // measured slower in the encoder. Each client bucket's requests and
        // replies are row groups of their own, so that a host's queries skip
        // the others by their statistics (its side) and Bloom filters (the
        // other side).
        let max = self.options.row_group_rows.max(1);
        let mut start = 0;
        while start < rows.len() {
            let group = rows[start].k1 >> GROUP_SHIFT;
            let run = rows[start..(start + max).min(rows.len())]
                .partition_point(|r| r.k1 >> GROUP_SHIFT == group);
            let batch = gather(batches, &rows[start..start + run])?;
            writer
                .write(&batch)
                .map_err(|e| StoreError::parquet(tmp, e))?;
            writer.flush().map_err(|e| StoreError::parquet(tmp, e))?;
            start += run;
        }
        let file = writer
            .into_inner()
            .map_err(|e| StoreError::parquet(tmp, e))?;
        if self.options.fsync {
            file.sync_all()
                .map_err(|e| StoreError::io("fsync", tmp, e))?;
        }
        let bytes = file
            .metadata()
            .map_err(|e| StoreError::io("stat", tmp, e))?
            .len();
        Ok(bytes)
    }
}

/// `YYYY/MM/DD/HH` of an hour number (hours since the epoch, UTC).
pub(crate) fn hour_dir(hour: i64) -> PathBuf {
    let hour = hour.clamp(MIN_HOUR, MAX_HOUR);
    match DateTime::from_timestamp(hour * 3600, 0) {
        Some(t) => PathBuf::from(format!(
            "{:04}/{:02}/{:02}/{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour()
        )),
        // Unreachable within the clamped range.
        None => PathBuf::from("1970/01/01/00"),
    }
}

/// The partition hour of a flow start time.
pub(crate) fn hour_of(time_start_ms: i64) -> i64 {
    time_start_ms.div_euclid(HOUR_MS).clamp(MIN_HOUR, MAX_HOUR)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Where one row goes: its hour, its sort key, and where it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    hour: i64,
    /// The bucket (see [`SortKey::Connection`]) in the high 32 bits.
    k1: u64,
    k2: u128,
    k3: i64,
    batch: u32,
    row: u32,
}

/// The bits of a row's `k1` above this say which row group it must be in:
/// with [`SortKey::Connection`], one per client bucket and side (requests,
/// replies); 0 for the other sort keys.
const GROUP_SHIFT: u32 = 24;

/// Rows per client bucket of [`SortKey::Connection`]: about one row group.
const BUCKET_ROWS: u64 = 64 * 1024;

/// Splits each hour's clients, in address order, into buckets of about
/// [`BUCKET_ROWS`] rows: the first client of every bucket but the first.
/// A bucket holds a narrow range of client addresses, so the page and row
/// group statistics of `src_ip` (requests) and `dst_ip` (replies) are
/// narrow too.
fn client_buckets(rows: &[Row]) -> HashMap<i64, Vec<u128>> {
    let mut clients: Vec<(i64, u128)> = rows.iter().map(|r| (r.hour, r.k2)).collect();
    clients.sort_unstable();
    let mut bounds: HashMap<i64, Vec<u128>> = HashMap::new();
    let mut i = 0;
    while i < clients.len() {
        let hour = clients[i].0;
        let end = i + clients[i..].partition_point(|c| c.0 == hour);
        let mut filled = 0u64;
        let mut b = Vec::new();
        let mut j = i;
        while j < end {
            let client = clients[j].1;
            let n = clients[j..end].partition_point(|c| c.1 == client);
            if filled >= BUCKET_ROWS {
                b.push(client);
                filled = 0;
            }
            filled += n as u64;
            j += n;
        }
        bounds.insert(hour, b);
        i = end;
    }
    bounds
}

fn sort_rows(batches: &[RecordBatch], key: SortKey) -> Result<Vec<Row>, StoreError> {
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    let mut rows = Vec::with_capacity(total);
    let ctx = "parquet write";

    for (bi, b) in batches.iter().enumerate() {
        let ts = primitive_column::<TimestampMillisecondType>(b, "time_start", ctx)?;
        let proto = primitive_column::<UInt8Type>(b, "proto", ctx)?;
        let port = primitive_column::<UInt16Type>(b, "dst_port", ctx)?;
        let sport = primitive_column::<UInt16Type>(b, "src_port", ctx)?;
        let addr_col = match key {
            SortKey::ProtoPortDstTime => "dst_ip",
            _ => "src_ip",
        };
        let addr = fsb_column(b, addr_col, ctx)?;
        let dst = fsb_column(b, "dst_ip", ctx)?;
        let at = |col: &[u8], i: usize| {
            let mut a = [0u8; 16];
            a.copy_from_slice(&col[i * 16..i * 16 + 16]);
            u128::from_be_bytes(a)
        };
        for i in 0..b.num_rows() {
            let t = ts[i];
            let (k1, k2, k3) = match key {
                SortKey::None => (0, 0, 0),
                SortKey::Time => (0, 0, t),
                SortKey::Connection => {
                    // ICMP keeps type/code in dst_port, and has no source
                    // port: it sorts as a request.
                    let reply = sport[i] < port[i] && sport[i] != 0;
                    let (service, client) = if reply {
                        (sport[i], at(dst, i))
                    } else {
                        (port[i], at(addr, i))
                    };
                    let service_key = (proto[i] as u64) << 16 | service as u64;
                    ((reply as u64) << GROUP_SHIFT | service_key, client, t)
                }
                SortKey::ProtoPortSrcTime | SortKey::ProtoPortDstTime => {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(&addr[i * 16..i * 16 + 16]);
                    (
                        (proto[i] as u64) << 16 | port[i] as u64,
                        u128::from_be_bytes(a),
                        t,
                    )
                }
            };
            rows.push(Row {
                hour: hour_of(t),
                k1,
                k2,
                k3,
                batch: bi as u32,
                row: i as u32,
            });
        }
    }
    if key == SortKey::Connection {
        let bounds = client_buckets(&rows);
        for r in &mut rows {
            let bucket = bounds
                .get(&r.hour)
                .map_or(0, |b| b.partition_point(|&first| first <= r.k2));
            r.k1 |= (bucket as u64) << 32;
        }
    }
    rows.sort_unstable();
    Ok(rows)
}

/// The rows, in order, as one batch of the flow schema.
fn gather(batches: &[RecordBatch], rows: &[Row]) -> Result<RecordBatch, StoreError> {
    let schema = flow_schema();
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (c, field) in schema.fields().iter().enumerate() {
        let arr: ArrayRef = match field.data_type() {
            DataType::Timestamp(_, tz) => {
                let v = gather_primitive::<TimestampMillisecondType>(batches, c, rows)?;
                Arc::new(TimestampMillisecondArray::new(v, None).with_timezone_opt(tz.clone()))
            }
            DataType::FixedSizeBinary(16) => {
                let cols: Vec<&[u8]> = batches
                    .iter()
                    .map(|b| fsb_column(b, field.name(), "parquet write"))
                    .collect::<Result<_, _>>()?;
                let mut out = Vec::with_capacity(rows.len() * 16);
                for r in rows {
                    let i = r.row as usize * 16;
                    out.extend_from_slice(&cols[r.batch as usize][i..i + 16]);
                }
                Arc::new(FixedSizeBinaryArray::new(16, Buffer::from_vec(out), None))
            }
            DataType::UInt8 => prim_array::<UInt8Type>(batches, c, rows)?,
            DataType::UInt16 => prim_array::<UInt16Type>(batches, c, rows)?,
            DataType::UInt32 => prim_array::<UInt32Type>(batches, c, rows)?,
            DataType::UInt64 => prim_array::<UInt64Type>(batches, c, rows)?,
            DataType::Utf8 => gather_strings(batches, c, rows)?,
            other => {
                return Err(StoreError::schema(
                    "parquet write",
                    format!("unexpected column type {other}"),
                ))
            }
        };
        columns.push(arr);
    }
    RecordBatch::try_new(schema, columns)
        .map_err(|e| StoreError::schema("parquet write", e.to_string()))
}

/// A text column (the countries) in row order; all-null columns (no
/// registry) stay one null array.
fn gather_strings(batches: &[RecordBatch], c: usize, rows: &[Row]) -> Result<ArrayRef, StoreError> {
    let cols: Vec<&StringArray> = batches
        .iter()
        .map(|b| {
            b.column(c)
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| {
                    StoreError::schema(
                        "parquet write",
                        format!("column {c} is {}, not text", b.column(c).data_type()),
                    )
                })
        })
        .collect::<Result<_, _>>()?;
    if cols.iter().all(|a| a.null_count() == a.len()) {
        return Ok(new_null_array(&DataType::Utf8, rows.len()));
    }
    let mut b = StringBuilder::with_capacity(rows.len(), rows.len() * 2);
    for r in rows {
        let a = cols[r.batch as usize];
        let i = r.row as usize;
        if a.is_valid(i) {
            b.append_value(a.value(i));
        } else {
            b.append_null();
        }
    }
    Ok(Arc::new(b.finish()))
}

fn prim_array<T: ArrowPrimitiveType>(
    batches: &[RecordBatch],
    c: usize,
    rows: &[Row],
) -> Result<ArrayRef, StoreError> {
    let v = gather_primitive::<T>(batches, c, rows)?;
    Ok(Arc::new(PrimitiveArray::<T>::new(v, None)))
}

fn gather_primitive<T: ArrowPrimitiveType>(
    batches: &[RecordBatch],
    c: usize,
    rows: &[Row],
) -> Result<ScalarBuffer<T::Native>, StoreError> {
    let name = flow_schema().field(c).name().clone();
    let cols: Vec<&[T::Native]> = batches
        .iter()
        .map(|b| primitive_column::<T>(b, &name, "parquet write"))
        .collect::<Result<_, _>>()?;
    let out: Vec<T::Native> = rows
        .iter()
        .map(|r| cols[r.batch as usize][r.row as usize])
        .collect();
    Ok(ScalarBuffer::from(out))
}
