//! The write-ahead log of raw datagrams: every receive batch reaches the
//! kernel before it is decoded, so a crash (even `kill -9`) loses nothing
//! received. Raw datagrams are 2-3 times smaller than decoded columns and
//! cost the receiving thread one `write` per batch, off the decode path.
//!
//! Time is cut into *epochs*: one epoch's datagrams become one set of Parquet
//! files. Each listener writes its own segment per epoch
//! (`wal/e<EPOCH>-l<LISTENER>.dgrams`). Because v9 and IPFIX data can only be
//! decoded with templates learned earlier, the datagrams that carried
//! templates and options are kept in `wal/e<EPOCH>.templates` at the start
//! of each epoch. An epoch is replayed by decoding its templates file (flows
//! discarded) and then its segments.
//!
//! A batch record: magic, count, data length, then per datagram
//! (offset, length, exporter, arrival ms), then the datagrams' bytes. A torn
//! tail (a crash mid-write) ends the segment.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, IoSlice, Read, Write};
use std::path::{Path, PathBuf};

use flowhound_model::Addr;

const MAGIC: u32 = 0x4648_4447; // "FHDG"
const ENTRY: usize = 32;
/// A batch of more than this is not ours: stop reading the segment.
const MAX_BATCH_BYTES: usize = 256 << 20;

/// One datagram as logged: where it came from, when, and its bytes.
pub struct Logged<'a> {
    /// The exporter.
    pub exporter: Addr,
    /// Arrival, Unix ms.
    pub time_ms: i64,
    /// The UDP payload.
    pub payload: &'a [u8],
}

/// The WAL directory of a data dir.
pub fn wal_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("wal")
}

fn segment_path(dir: &Path, epoch: u64, listener: usize) -> PathBuf {
    dir.join(format!("e{epoch:020}-l{listener:03}.dgrams"))
}

fn templates_path(dir: &Path, epoch: u64) -> PathBuf {
    dir.join(format!("e{epoch:020}.templates"))
}

/// (epoch, listener or `None` for a templates file) from a file name.
fn parse_name(name: &str) -> Option<(u64, Option<usize>)> {
    let rest = name.strip_prefix('e')?;
    if let Some(e) = rest.strip_suffix(".templates") {
        return Some((e.parse().ok()?, None));
    }
    let (e, l) = rest.strip_suffix(".dgrams")?.split_once("-l")?;
    Some((e.parse().ok()?, Some(l.parse().ok()?)))
}

/// The segments in the WAL by epoch, oldest first.
pub fn segments(data_dir: &Path) -> io::Result<BTreeMap<u64, Vec<PathBuf>>> {
    let mut out: BTreeMap<u64, Vec<PathBuf>> = BTreeMap::new();
    let dir = wal_dir(data_dir);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if let Some((epoch, Some(_))) = entry.file_name().to_str().and_then(parse_name) {
            out.entry(epoch).or_default().push(entry.path());
        }
    }
    for paths in out.values_mut() {
        paths.sort();
    }
    Ok(out)
}

/// The newest epoch named by any file in the WAL (segments or templates).
pub fn last_epoch(data_dir: &Path) -> io::Result<Option<u64>> {
    let dir = wal_dir(data_dir);
    let mut last = None;
    match fs::read_dir(&dir) {
        Ok(entries) => {
            for entry in entries {
                if let Some((epoch, _)) = entry?.file_name().to_str().and_then(parse_name) {
                    last = last.max(Some(epoch));
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    Ok(last)
}

/// Drops the segments and the templates file of one epoch, once its flows
/// are in Parquet. Other epochs stay, even older ones: an epoch whose write
/// failed waits in the WAL for the next start.
pub fn checkpoint_epoch(data_dir: &Path, epoch: u64) -> io::Result<()> {
    remove_where(data_dir, |e| e == epoch)
}

/// Drops the segments and templates files of every epoch up to `through`.
pub fn checkpoint(data_dir: &Path, through: u64) -> io::Result<()> {
    remove_where(data_dir, |e| e <= through)
}

fn remove_where(data_dir: &Path, doomed: impl Fn(u64) -> bool) -> io::Result<()> {
    let dir = wal_dir(data_dir);
    for entry in fs::read_dir(&dir)? {
        let entry = entry?;
        if let Some((epoch, _)) = entry.file_name().to_str().and_then(parse_name) {
            if doomed(epoch) {
                match fs::remove_file(entry.path()) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

/// One listener's segment of one epoch, open for appending.
pub struct SegmentWriter {
    file: File,
    head: Vec<u8>,
    /// Bytes of whole batches written: a failed append is cut back to it,
    /// so a torn batch never sits before good ones.
    len: u64,
}

impl SegmentWriter {
    /// Create the segment of `listener` in `epoch`.
    pub fn create(data_dir: &Path, epoch: u64, listener: usize) -> io::Result<Self> {
        let dir = wal_dir(data_dir);
        fs::create_dir_all(&dir)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(segment_path(&dir, epoch, listener))?;
        let len = file.metadata()?.len();
        Ok(SegmentWriter {
            file,
            head: Vec::with_capacity(12 + 1024 * ENTRY),
            len,
        })
    }

    /// Append one receive batch: `entries` are (offset, length, exporter,
    /// arrival ms) into `data`. When this returns, the kernel has it.
    pub fn append(&mut self, entries: &[(u32, u32, Addr, i64)], data: &[u8]) -> io::Result<()> {
        self.head.clear();
        self.head.extend_from_slice(&MAGIC.to_le_bytes());
        self.head
            .extend_from_slice(&(entries.len() as u32).to_le_bytes());
        self.head
            .extend_from_slice(&(data.len() as u32).to_le_bytes());
        for &(start, len, exporter, time) in entries {
            self.head.extend_from_slice(&start.to_le_bytes());
            self.head.extend_from_slice(&len.to_le_bytes());
            self.head.extend_from_slice(&exporter.to_le_bytes());
            self.head.extend_from_slice(&time.to_le_bytes());
        }
        match write_all_vectored(&mut self.file, &self.head, data) {
            Ok(()) => {
                self.len += (self.head.len() + data.len()) as u64;
                Ok(())
            }
            Err(e) => {
                let _ = self.file.set_len(self.len);
                Err(e)
            }
        }
    }
}

fn write_all_vectored(file: &mut File, a: &[u8], b: &[u8]) -> io::Result<()> {
    let mut done = 0usize;
    let total = a.len() + b.len();
    while done < total {
        let n = if done < a.len() {
            file.write_vectored(&[IoSlice::new(&a[done..]), IoSlice::new(b)])?
        } else {
            file.write(&b[done - a.len()..])?
        };
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        done += n;
    }
    Ok(())
}

/// Call `f` for every datagram in one segment, in order. Returns whether
/// the segment ended in a torn batch (a crash mid-write), which is skipped.
pub fn read_segment(path: &Path, mut f: impl FnMut(Logged<'_>)) -> io::Result<bool> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    let mut at = 0usize;
    let u32_at = |b: &[u8], i: usize| {
        b.get(i..i + 4)
            .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    };
    while at < bytes.len() {
        let (Some(magic), Some(n), Some(len)) = (
            u32_at(&bytes, at),
            u32_at(&bytes, at + 4),
            u32_at(&bytes, at + 8),
        ) else {
            return Ok(true);
        };
        let (n, len) = (n as usize, len as usize);
        let head_end = at + 12 + n * ENTRY;
        if magic != MAGIC || len > MAX_BATCH_BYTES || head_end + len > bytes.len() {
            return Ok(true);
        }
        let data = &bytes[head_end..head_end + len];
        for e in bytes[at + 12..head_end].chunks_exact(ENTRY) {
            let start = u32::from_le_bytes([e[0], e[1], e[2], e[3]]) as usize;
            let dlen = u32::from_le_bytes([e[4], e[5], e[6], e[7]]) as usize;
            let mut a = [0u8; 16];
            a.copy_from_slice(&e[8..24]);
            let mut t = [0u8; 8];
            t.copy_from_slice(&e[24..32]);
            if let Some(payload) = data.get(start..start + dlen) {
                f(Logged {
                    exporter: u128::from_le_bytes(a),
                    time_ms: i64::from_le_bytes(t),
                    payload,
                });
            }
        }
        at = head_end + len;
    }
    Ok(false)
}

/// Keep the datagrams that carried templates and options at the start of
/// `epoch`, atomically (temp file, rename).
pub fn write_templates<'a>(
    data_dir: &Path,
    epoch: u64,
    datagrams: impl Iterator<Item = (Addr, &'a [u8])>,
) -> io::Result<()> {
    let dir = wal_dir(data_dir);
    fs::create_dir_all(&dir)?;
    let mut entries = Vec::new();
    let mut data = Vec::new();
    for (exporter, d) in datagrams {
        entries.push((data.len() as u32, d.len() as u32, exporter, 0i64));
        data.extend_from_slice(d);
    }
    let tmp = dir.join(format!(".e{epoch:020}.templates.tmp"));
    {
        let _ = fs::remove_file(&tmp);
        let mut w = SegmentWriter {
            file: OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(&tmp)?,
            head: Vec::new(),
            len: 0,
        };
        w.append(&entries, &data)?;
    }
    fs::rename(&tmp, templates_path(&dir, epoch))
}

/// Call `f` for every datagram of the templates file of `epoch`, if any.
pub fn read_templates(data_dir: &Path, epoch: u64, f: impl FnMut(Logged<'_>)) -> io::Result<()> {
    let path = templates_path(&wal_dir(data_dir), epoch);
    match read_segment(&path, f) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_trip_and_torn_tail_is_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = SegmentWriter::create(dir.path(), 3, 1).expect("create");
        let data = b"hello world";
        w.append(&[(0, 5, 7, 100), (6, 5, 8, 101)], data)
            .expect("append");
        w.append(&[(0, 11, 9, 102)], data).expect("append");
        drop(w);
        let segs = segments(dir.path()).expect("segments");
        let path = &segs[&3][0];
        let mut got = Vec::new();
        let torn = read_segment(path, |d| {
            got.push((d.exporter, d.time_ms, d.payload.to_vec()))
        })
        .expect("read");
        assert!(!torn);
        assert_eq!(
            got,
            vec![
                (7, 100, b"hello".to_vec()),
                (8, 101, b"world".to_vec()),
                (9, 102, data.to_vec())
            ]
        );
        // Cut the last batch short: the first one survives.
        let len = fs::metadata(path).expect("meta").len();
        OpenOptions::new()
            .write(true)
            .open(path)
            .expect("open")
            .set_len(len - 3)
            .expect("truncate");
        let mut n = 0;
        assert!(read_segment(path, |_| n += 1).expect("read"));
        assert_eq!(n, 2);
        assert_eq!(last_epoch(dir.path()).expect("last"), Some(3));
        checkpoint(dir.path(), 3).expect("checkpoint");
        assert!(segments(dir.path()).expect("segments").is_empty());
    }

    #[test]
    fn templates_files_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a: &[u8] = b"abc";
        write_templates(dir.path(), 5, [(1u128, a), (2u128, a)].into_iter()).expect("write");
        let mut n = 0;
        read_templates(dir.path(), 5, |d| {
            assert_eq!(d.payload, a);
            n += 1
        })
        .expect("read");
        assert_eq!(n, 2);
        read_templates(dir.path(), 6, |_| n += 1).expect("missing file is empty");
        assert_eq!(n, 2);
    }
}
