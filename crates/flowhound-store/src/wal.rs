//! The write-ahead log: decoded batches as Arrow IPC stream segments in
//! `DIR/wal/`, so that flows received but not yet in Parquet survive a crash
//! of the collector.
//!
//! A segment is one IPC stream (`<id>.arrows`, ids increasing). The collector
//! appends every batch before it hands it on, rotates the segment when it
//! asks the writer to flush, and the writer drops the segments with
//! [`wal_checkpoint`] once their flows are durably in Parquet.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use flowhound_model::flow_schema;

use crate::batch::check_schema;
use crate::fsutil::sync_dir;
use crate::StoreError;

const SEGMENT_SUFFIX: &str = ".arrows";
/// Every message of a stream we write starts with this continuation marker.
const CONTINUATION: [u8; 4] = [0xff; 4];

/// The number of a WAL segment; later segments have larger ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentId(pub u64);

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:020}", self.0)
    }
}

/// How the WAL writes.
#[derive(Clone, Copy, Debug, Default)]
pub struct WalOptions {
    /// `fsync` every append and rotation. Off by default: data handed to the
    /// kernel survives a crash of the process (the page cache), and `fsync`
    /// costs a disk flush per batch. Turn on to survive a power loss too.
    pub fsync: bool,
}

/// The write-ahead log of one data directory. See the module docs.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    options: WalOptions,
    current: SegmentId,
    open: Option<OpenSegment>,
    recovered_through: Option<SegmentId>,
    warnings: Vec<String>,
}

struct OpenSegment {
    path: PathBuf,
    file: File,
    /// Encodes into memory, so that one batch reaches the file in one `write`.
    writer: StreamWriter<Vec<u8>>,
}

impl fmt::Debug for OpenSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenSegment")
            .field("path", &self.path)
            .finish()
    }
}

impl Wal {
    /// Opens the WAL of `data_dir` with default [`WalOptions`]; see [`Wal::open_with`].
    pub fn open(data_dir: &Path) -> Result<(Wal, Vec<RecordBatch>), StoreError> {
        Wal::open_with(data_dir, WalOptions::default())
    }

    /// Opens the WAL in `data_dir/wal/` (created if missing) and returns the
    /// batches found in segments left by an earlier run, oldest first.
    ///
    /// A segment cut short by a crash mid-write gives every batch before the
    /// cut. Unreadable segments and foreign files are skipped, each with a
    /// note in [`Wal::warnings`]; they are never fatal. The recovered
    /// segments stay on disk until a [`wal_checkpoint`] at or past
    /// [`Wal::recovered_through`]; new appends go to a new segment.
    pub fn open_with(
        data_dir: &Path,
        options: WalOptions,
    ) -> Result<(Wal, Vec<RecordBatch>), StoreError> {
        let dir = data_dir.join("wal");
        fs::create_dir_all(&dir).map_err(|e| StoreError::io("create directory", &dir, e))?;
        let mut warnings = Vec::new();
        let segments = list_segments(&dir, Some(&mut warnings))?;
        let mut batches = Vec::new();
        for (_, path) in &segments {
            read_segment(path, &mut batches, &mut warnings);
        }
        let recovered_through = segments.last().map(|(id, _)| *id);
        let current = SegmentId(recovered_through.map_or(1, |id| id.0 + 1));
        let wal = Wal {
            dir,
            options,
            current,
            open: None,
            recovered_through,
            warnings,
        };
        Ok((wal, batches))
    }

    /// Appends one batch of [`flow_schema`] to the current segment. When this
    /// returns, the batch has been handed to the kernel (and `fsync`ed if
    /// [`WalOptions::fsync`]), so a `kill -9` right after loses nothing.
    ///
    /// After a failed write the segment may end in a torn message; the WAL
    /// then continues in a new segment so that the next appends stay readable.
    pub fn append(&mut self, batch: &RecordBatch) -> Result<(), StoreError> {
        check_schema(batch, "wal append")?;
        let result = self.try_append(batch);
        if result.is_err() {
            self.open = None;
            self.current = SegmentId(self.current.0 + 1);
        }
        result
    }

    fn try_append(&mut self, batch: &RecordBatch) -> Result<(), StoreError> {
        if self.open.is_none() {
            self.open = Some(self.create_segment()?);
        }
        let fsync = self.options.fsync;
        let Some(seg) = self.open.as_mut() else {
            unreachable!("segment opened above")
        };
        seg.writer
            .write(batch)
            .map_err(|e| StoreError::ipc(&seg.path, e))?;
        // The buffer keeps its capacity from batch to batch: no regrowth,
        // no fresh pages to fault in.
        let buf = seg.writer.get_mut();
        let written = seg.file.write_all(buf);
        buf.clear();
        written.map_err(|e| StoreError::io("write", &seg.path, e))?;
        if fsync {
            seg.file
                .sync_data()
                .map_err(|e| StoreError::io("fsync", &seg.path, e))?;
        }
        Ok(())
    }

    fn create_segment(&self) -> Result<OpenSegment, StoreError> {
        let path = segment_path(&self.dir, self.current);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| StoreError::io("create", &path, e))?;
        if self.options.fsync {
            sync_dir(&self.dir)?;
        }
        let writer = StreamWriter::try_new(Vec::new(), &flow_schema())
            .map_err(|e| StoreError::ipc(&path, e))?;
        Ok(OpenSegment { path, file, writer })
    }

    /// Closes the current segment and starts a new one (lazily, at the next
    /// append). Returns the id of the closed segment: once every batch
    /// appended so far is in Parquet, [`wal_checkpoint`] with this id drops
    /// them, together with any segments recovered at [`Wal::open`].
    pub fn rotate(&mut self) -> Result<SegmentId, StoreError> {
        let closed = self.current;
        self.current = SegmentId(closed.0 + 1);
        if let Some(mut seg) = self.open.take() {
            seg.writer
                .finish()
                .map_err(|e| StoreError::ipc(&seg.path, e))?;
            let bytes = std::mem::take(seg.writer.get_mut());
            seg.file
                .write_all(&bytes)
                .map_err(|e| StoreError::io("write", &seg.path, e))?;
            if self.options.fsync {
                seg.file
                    .sync_all()
                    .map_err(|e| StoreError::io("fsync", &seg.path, e))?;
            }
        }
        Ok(closed)
    }

    /// The segment appends currently go to.
    pub fn current_segment(&self) -> SegmentId {
        self.current
    }

    /// The last segment left by an earlier run, if any: checkpointing it drops
    /// everything [`Wal::open`] recovered.
    pub fn recovered_through(&self) -> Option<SegmentId> {
        self.recovered_through
    }

    /// What [`Wal::open`] skipped or cut short, one line each, naming the file.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The WAL directory (`DIR/wal`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Drops every segment of `data_dir/wal/` up to and including `id`. Called
/// once their flows are durably in Parquet. Foreign files are left alone.
pub fn wal_checkpoint(data_dir: &Path, id: SegmentId) -> Result<(), StoreError> {
    let dir = data_dir.join("wal");
    let mut removed = false;
    for (seg, path) in list_segments(&dir, None)? {
        if seg <= id {
            match fs::remove_file(&path) {
                Ok(()) => removed = true,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io("remove", &path, e)),
            }
        }
    }
    if removed {
        // A segment that comes back after a power loss would be replayed into
        // Parquet a second time.
        sync_dir(&dir)?;
    }
    Ok(())
}

/// The batches of the closed segments after `after` (exclusive) up to and
/// including `through`, oldest first, with a note for each problem met. The
/// collector writes Parquet from here when it has fallen behind and let go
/// of the batches in memory: the WAL is then its queue.
pub fn wal_read(
    data_dir: &Path,
    after: Option<SegmentId>,
    through: SegmentId,
) -> Result<(Vec<RecordBatch>, Vec<String>), StoreError> {
    let dir = data_dir.join("wal");
    let mut batches = Vec::new();
    let mut warnings = Vec::new();
    for (id, path) in list_segments(&dir, None)? {
        if id <= through && after.is_none_or(|a| id > a) {
            read_segment(&path, &mut batches, &mut warnings);
        }
    }
    Ok((batches, warnings))
}

fn segment_path(dir: &Path, id: SegmentId) -> PathBuf {
    dir.join(format!("{id}{SEGMENT_SUFFIX}"))
}

fn parse_segment_name(name: &str) -> Option<SegmentId> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(SegmentId)
}

/// The segments in `dir`, oldest first. Other files are noted in `warnings`.
fn list_segments(
    dir: &Path,
    mut warnings: Option<&mut Vec<String>>,
) -> Result<Vec<(SegmentId, PathBuf)>, StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io("read directory", dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io("read directory", dir, e))?;
        let path = entry.path();
        match entry.file_name().to_str().and_then(parse_segment_name) {
            Some(id) => out.push((id, path)),
            None => {
                if let Some(w) = warnings.as_deref_mut() {
                    w.push(format!("{}: not a WAL segment, ignored", path.display()));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Appends the batches of one segment to `out`; problems become warnings.
fn read_segment(path: &Path, out: &mut Vec<RecordBatch>, warnings: &mut Vec<String>) {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            warnings.push(format!("{}: cannot open: {e}; skipped", path.display()));
            return;
        }
    };
    let mut reader = BufReader::new(file);
    let mut head = [0u8; 4];
    match reader.read_exact(&mut head) {
        Ok(()) if head == CONTINUATION => {}
        Ok(()) => {
            warnings.push(format!(
                "{}: not an Arrow IPC stream; skipped",
                path.display()
            ));
            return;
        }
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            // Created, then the process died before the first batch landed.
            return;
        }
        Err(e) => {
            warnings.push(format!("{}: cannot read: {e}; skipped", path.display()));
            return;
        }
    }
    let stream = match StreamReader::try_new(head.as_slice().chain(reader), None) {
        Ok(s) => s,
        Err(e) => {
            warnings.push(format!(
                "{}: unreadable schema: {e}; skipped",
                path.display()
            ));
            return;
        }
    };
    let want = flow_schema();
    if stream.schema().fields() != want.fields() {
        warnings.push(format!(
            "{}: segment schema is not the flow schema; skipped",
            path.display()
        ));
        return;
    }
    let mut n = 0usize;
    for batch in stream {
        match batch {
            Ok(b) => {
                out.push(b);
                n += 1;
            }
            Err(e) => {
                warnings.push(format!(
                    "{}: torn after {n} batches ({e}); the rest is lost",
                    path.display()
                ));
                return;
            }
        }
    }
}
