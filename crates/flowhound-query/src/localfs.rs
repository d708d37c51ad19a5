//! The local files, read in place: an object store for `file://` that
//! answers reads on the calling thread.
//!
//! DataFusion reads Parquet through an `ObjectStore`. Its `LocalFileSystem`
//! opens the file again for every read and runs each read on tokio's
//! blocking pool. A selective query (one host over a day) makes a thousand
//! small reads (footers, Bloom filters, single pages), and the thread hops and
//! opens cost more than the reads: 0.15 s of a 0.15 s query for an absent
//! host. Here a file is opened once per query and read with `pread` where the
//! read is asked for; the page cache answers in microseconds. Everything but
//! reading goes to `LocalFileSystem`.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::object_store::local::LocalFileSystem;
use datafusion::object_store::path::Path;
use datafusion::object_store::{
    Attributes, CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use flowhound_store::retired_path;
use futures::stream::BoxStream;
use futures::StreamExt;

/// At most this many files are kept open: a query over a year of hourly
/// files must not run out of file descriptors.
const MAX_OPEN: usize = 128;

/// An open file, and which file it is (device, inode): a file replaced
/// under the same name (a collector rewriting an epoch's file) is opened
/// again, not read through the old handle.
#[derive(Debug)]
struct OpenFile {
    file: Arc<File>,
    id: (u64, u64),
}

/// `file://` with reads in place and files kept open for the query.
#[derive(Debug, Default)]
pub(crate) struct InPlaceFiles {
    inner: LocalFileSystem,
    open: Mutex<HashMap<Path, OpenFile>>,
}

impl fmt::Display for InPlaceFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InPlaceFiles")
    }
}

/// The error of `op` on `location`, naming it.
fn io_error(location: &Path, op: &str, e: std::io::Error) -> datafusion::object_store::Error {
    let kind = e.kind();
    let e = std::io::Error::new(kind, format!("{op} {location}: {e}"));
    if kind == std::io::ErrorKind::NotFound {
        datafusion::object_store::Error::NotFound {
            path: location.to_string(),
            source: Box::new(e),
        }
    } else {
        datafusion::object_store::Error::Generic {
            store: "InPlaceFiles",
            source: Box::new(e),
        }
    }
}

impl InPlaceFiles {
    /// The open file at `location` and its size now.
    fn file(&self, location: &Path) -> Result<(Arc<File>, u64)> {
        let mut path = self.inner.path_to_filesystem(location)?;
        // Merged into another file since the query listed it: it waits
        // under a hidden name for its grace period.
        let now = match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match retired_path(&path).and_then(|r| std::fs::metadata(&r).ok().map(|m| (r, m))) {
                    Some((r, m)) => {
                        path = r;
                        m
                    }
                    None => return Err(io_error(location, "stat", e)),
                }
            }
            other => other.map_err(|e| io_error(location, "stat", e))?,
        };
        let id = (now.dev(), now.ino());
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = open.get(location).filter(|f| f.id == id) {
            return Ok((f.file.clone(), now.len()));
        }
        let file = File::open(&path).map_err(|e| io_error(location, "open", e))?;
        let md = file.metadata().map_err(|e| io_error(location, "stat", e))?;
        let file = Arc::new(file);
        if open.len() >= MAX_OPEN {
            open.clear();
        }
        open.insert(
            location.clone(),
            OpenFile {
                file: file.clone(),
                id: (md.dev(), md.ino()),
            },
        );
        Ok((file, md.len()))
    }

    /// The hidden name a merged-away file waits under, when it exists.
    fn retired_location(&self, location: &Path) -> Option<Path> {
        let path = self.inner.path_to_filesystem(location).ok()?;
        let retired = retired_path(&path).filter(|r| r.exists())?;
        Path::from_absolute_path(retired).ok()
    }

    fn read(&self, location: &Path, file: &File, size: u64, range: Range<u64>) -> Result<Bytes> {
        if range.start > range.end || range.end > size {
            return Err(io_error(
                location,
                "read",
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("bytes {}..{} of a {size}-byte file", range.start, range.end),
                ),
            ));
        }
        let mut buf = vec![0u8; (range.end - range.start) as usize];
        file.read_exact_at(&mut buf, range.start)
            .map_err(|e| io_error(location, "read", e))?;
        Ok(Bytes::from(buf))
    }
}

#[async_trait]
impl ObjectStore for InPlaceFiles {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if options.head || options.range.is_none() {
            let result = self.inner.get_opts(location, options.clone()).await;
            if let Err(datafusion::object_store::Error::NotFound { .. }) = &result {
                if let Some(retired) = self.retired_location(location) {
                    // Under the name the query knows: reads come back here.
                    let mut found = self.inner.get_opts(&retired, options).await?;
                    found.meta.location = location.clone();
                    return Ok(found);
                }
            }
            return result;
        }
        let (file, _) = self.file(location)?;
        let md = file.metadata().map_err(|e| io_error(location, "stat", e))?;
        let meta = ObjectMeta {
            location: location.clone(),
            last_modified: md
                .modified()
                .map(chrono::DateTime::<chrono::Utc>::from)
                .unwrap_or_default(),
            size: md.len(),
            e_tag: None,
            version: None,
        };
        options.check_preconditions(&meta)?;
        let range = match &options.range {
            Some(r) => {
                r.as_range(meta.size)
                    .map_err(|e| datafusion::object_store::Error::Generic {
                        store: "InPlaceFiles",
                        source: Box::new(e),
                    })?
            }
            None => 0..meta.size,
        };
        let bytes = self.read(location, &file, meta.size, range.clone())?;
        Ok(GetResult {
            payload: GetResultPayload::Stream(futures::stream::once(async { Ok(bytes) }).boxed()),
            meta,
            range,
            attributes: Attributes::default(),
        })
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let (file, size) = self.file(location)?;
        ranges
            .iter()
            .map(|r| self.read(location, &file, size, r.clone()))
            .collect()
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        // DataFusion lists a file's name as a prefix when the file is not
        // there (any more): an empty listing would drop the file's flows
        // without a word. A flow file that is gone is an error.
        if let Some(p) = prefix.filter(|p| p.as_ref().ends_with(".parquet")) {
            let gone = self.inner.path_to_filesystem(p).is_ok_and(|f| {
                matches!(std::fs::symlink_metadata(f),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound)
            });
            if gone {
                let e = io_error(
                    p,
                    "open",
                    std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
                );
                return futures::stream::once(async move { Err(e) }).boxed();
            }
        }
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::object_store::ObjectStoreExt;

    fn location(p: &std::path::Path) -> Path {
        Path::from_absolute_path(p).expect("absolute path")
    }

    #[test]
    fn reads_ranges_of_many_files_and_names_a_missing_one() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(ranges_of_many_files_and_a_missing_one());
    }

    async fn ranges_of_many_files_and_a_missing_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = InPlaceFiles::default();
        // More files than are kept open: each still reads right.
        for i in 0..(MAX_OPEN * 2 + 3) {
            let p = dir.path().join(format!("f{i}"));
            std::fs::write(&p, format!("0123456789-{i}")).expect("write");
            let loc = location(&p);
            assert_eq!(store.get_range(&loc, 2..5).await.expect("range"), "234");
            let parts = store
                .get_ranges(&loc, &[0..1, 11..(12 + i.to_string().len() as u64 - 1)])
                .await
                .expect("ranges");
            assert_eq!(parts, vec![Bytes::from("0"), Bytes::from(i.to_string())]);
        }
        assert!(store.open.lock().expect("lock").len() <= MAX_OPEN);
        let whole = store
            .get(&location(&dir.path().join("f7")))
            .await
            .expect("get")
            .bytes()
            .await
            .expect("bytes");
        assert_eq!(whole, "0123456789-7");

        let missing = location(&dir.path().join("gone"));
        let err = store.get_range(&missing, 0..1).await.expect_err("no file");
        assert!(
            matches!(err, datafusion::object_store::Error::NotFound { .. }),
            "{err}"
        );
        assert!(format!("{err:?}").contains("gone"), "{err:?}");

        // A file replaced under its name (rename over it) reads new bytes.
        let f = dir.path().join("f1");
        let loc = location(&f);
        assert_eq!(store.get_range(&loc, 0..4).await.expect("old"), "0123");
        std::fs::write(dir.path().join("tmp"), "abcdefghij-new").expect("write");
        std::fs::rename(dir.path().join("tmp"), &f).expect("rename");
        assert_eq!(store.get_range(&loc, 0..4).await.expect("new"), "abcd");
        assert_eq!(
            store.get_ranges(&loc, &[0..1, 11..14]).await.expect("new"),
            vec![Bytes::from("a"), Bytes::from("new")]
        );
        // As LocalFileSystem: a range read stops at the end of the file;
        // ranges past it are an error, not short data.
        let p = location(&dir.path().join("f0"));
        assert_eq!(store.get_range(&p, 5..500).await.expect("tail"), "56789-0");
        let err = store
            .get_ranges(&p, &[0..1, 5..500])
            .await
            .expect_err("past the end");
        assert!(format!("{err}").contains("f0"), "{err}");
        // An absurd range (a corrupt footer) is an error, not an allocation.
        assert!(store.get_ranges(&p, &[0..1, 0..u64::MAX]).await.is_err());
    }
}
