//! The write-ahead log: recovery after a crash, torn tails, checkpoints.
mod common;

use std::fs;
use std::path::PathBuf;

use common::*;
use flowhound_model::FlowRecord;
use flowhound_store::{wal_checkpoint, FlowBatch, SegmentId, Wal, WalOptions};

fn batch(k: u64, n: u64) -> arrow_array::RecordBatch {
    let b: FlowBatch = (0..n).map(|i| flow(k * 1000 + i, T0 + i as i64)).collect();
    b.to_record_batch()
}

fn segments(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir.join("wal"))
        .expect("wal dir")
        .map(|e| e.expect("entry").path())
        .collect();
    v.sort();
    v
}

#[test]
fn reopen_after_drop_returns_every_batch_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sent = [batch(1, 10), batch(2, 20), batch(3, 30)];
    {
        let (mut wal, old) = Wal::open(dir.path()).expect("open");
        assert!(old.is_empty());
        for b in &sent {
            wal.append(b).expect("append");
        }
        // Dropped without rotate: what a kill -9 leaves.
    }
    let (wal, got) = Wal::open(dir.path()).expect("reopen");
    assert_eq!(records(&got), records(&sent));
    assert!(wal.warnings().is_empty(), "{:?}", wal.warnings());
    assert_eq!(wal.recovered_through(), Some(SegmentId(1)));
    assert_eq!(wal.current_segment(), SegmentId(2));
}

#[test]
fn torn_tail_returns_the_complete_batches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sent = [batch(1, 10), batch(2, 20), batch(3, 30)];
    {
        let (mut wal, _) = Wal::open(dir.path()).expect("open");
        for b in &sent {
            wal.append(b).expect("append");
        }
    }
    let seg = segments(dir.path()).pop().expect("one segment");
    let len = fs::metadata(&seg).expect("stat").len();
    for cut in [1u64, 7, 100, 1000] {
        let copy = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(copy.path().join("wal")).expect("mkdir");
        let dst = copy.path().join("wal").join(seg.file_name().expect("name"));
        fs::copy(&seg, &dst).expect("copy");
        fs::OpenOptions::new()
            .write(true)
            .open(&dst)
            .and_then(|f| f.set_len(len - cut))
            .expect("truncate");
        let (_, got) = Wal::open(copy.path()).expect("reopen");
        assert_eq!(records(&got), records(&sent[..2]), "cut {cut}");
    }
}

#[test]
fn appends_after_recovery_go_to_a_new_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (mut wal, _) = Wal::open(dir.path()).expect("open");
        wal.append(&batch(1, 5)).expect("append");
    }
    let (mut wal, got) = Wal::open(dir.path()).expect("reopen");
    assert_eq!(got.len(), 1);
    wal.append(&batch(2, 5)).expect("append");
    drop(wal);
    let (_, got) = Wal::open(dir.path()).expect("reopen");
    let want: Vec<FlowRecord> = records(&[batch(1, 5), batch(2, 5)]);
    assert_eq!(records(&got), want);
    assert_eq!(segments(dir.path()).len(), 2);
}

#[test]
fn rotate_and_checkpoint_remove_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = Wal::open_with(dir.path(), WalOptions { fsync: true }).expect("open");
    wal.append(&batch(1, 5)).expect("append");
    let first = wal.rotate().expect("rotate");
    wal.append(&batch(2, 5)).expect("append");
    let second = wal.rotate().expect("rotate");
    wal.append(&batch(3, 5)).expect("append");
    assert!(first < second);
    assert_eq!(segments(dir.path()).len(), 3);

    wal_checkpoint(dir.path(), first).expect("checkpoint");
    assert_eq!(segments(dir.path()).len(), 2);
    // A rotated segment is a complete stream; the open one is readable too.
    drop(wal);
    let (wal, got) = Wal::open(dir.path()).expect("reopen");
    assert_eq!(records(&got), records(&[batch(2, 5), batch(3, 5)]));
    wal_checkpoint(dir.path(), wal.recovered_through().expect("recovered")).expect("checkpoint");
    assert!(segments(dir.path()).is_empty());
}

#[test]
fn rotate_without_appends_is_harmless() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = Wal::open(dir.path()).expect("open");
    let a = wal.rotate().expect("rotate");
    let b = wal.rotate().expect("rotate");
    assert!(a < b);
    wal_checkpoint(dir.path(), b).expect("checkpoint");
    assert!(segments(dir.path()).is_empty());
}

#[test]
fn garbage_in_the_wal_dir_is_skipped_with_warnings() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (mut wal, _) = Wal::open(dir.path()).expect("open");
        wal.append(&batch(1, 5)).expect("append");
    }
    let wal_dir = dir.path().join("wal");
    fs::write(wal_dir.join("notes.txt"), b"hello").expect("write");
    fs::write(
        wal_dir.join("00000000000000000000.arrows"),
        b"\x00\x01garbage garbage",
    )
    .expect("write");
    let mut looks_right = vec![0xffu8; 4];
    looks_right.extend_from_slice(&[0x10, 0, 0, 0]);
    looks_right.extend_from_slice(&[0xab; 64]);
    fs::write(wal_dir.join("00000000000000000002.arrows"), &looks_right).expect("write");
    fs::write(wal_dir.join("00000000000000000003.arrows"), b"").expect("write");

    let (wal, got) = Wal::open(dir.path()).expect("reopen");
    assert_eq!(records(&got), records(&[batch(1, 5)]));
    let w = wal.warnings().join("\n");
    assert!(w.contains("notes.txt"), "{w}");
    assert!(w.contains("00000000000000000000.arrows"), "{w}");
    assert!(w.contains("00000000000000000002.arrows"), "{w}");
    assert_eq!(wal.current_segment(), SegmentId(4));
    // Checkpoints leave foreign files alone.
    wal_checkpoint(dir.path(), SegmentId(3)).expect("checkpoint");
    assert_eq!(segments(dir.path()), vec![wal_dir.join("notes.txt")]);
}

#[test]
fn append_refuses_a_foreign_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = Wal::open(dir.path()).expect("open");
    let b = arrow_array::RecordBatch::try_from_iter([(
        "x",
        std::sync::Arc::new(arrow_array::Int32Array::from(vec![1])) as arrow_array::ArrayRef,
    )])
    .expect("batch");
    assert!(wal.append(&b).is_err());
}

#[test]
fn pipeline_types_cross_threads() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<Wal>();
    send::<FlowBatch>();
    send::<flowhound_store::ParquetWriter>();
    sync::<flowhound_store::ParquetWriter>();
    send::<flowhound_store::LocalStore>();
    send::<flowhound_store::StoreError>();
}
