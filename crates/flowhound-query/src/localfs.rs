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
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::object_store::local::LocalFileSystem;
use datafusion::object_store::path::Path;
use datafusion::object_store::{
    Attributes, CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use futures::stream::BoxStream;
use futures::StreamExt;

/// At most this many files are kept open: a query over a year of hourly
/// files must not run out of file descriptors.
const MAX_OPEN: usize = 128;

/// `file://` with reads in place and files kept open for the query.
#[derive(Debug, Default)]
pub(crate) struct InPlaceFiles {
    inner: LocalFileSystem,
    open: Mutex<HashMap<Path, Arc<File>>>,
}

impl fmt::Display for InPlaceFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InPlaceFiles")
    }
}

fn io_error(path: &Path, e: std::io::Error) -> datafusion::object_store::Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        datafusion::object_store::Error::NotFound {
            path: path.to_string(),
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
    fn file(&self, location: &Path) -> Result<Arc<File>> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = open.get(location) {
            return Ok(f.clone());
        }
        let path = self.inner.path_to_filesystem(location)?;
        let f = Arc::new(File::open(&path).map_err(|e| io_error(location, e))?);
        if open.len() >= MAX_OPEN {
            open.clear();
        }
        open.insert(location.clone(), f.clone());
        Ok(f)
    }

    fn read(&self, location: &Path, file: &File, range: Range<u64>) -> Result<Bytes> {
        let len = usize::try_from(range.end.saturating_sub(range.start)).unwrap_or(usize::MAX);
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, range.start)
            .map_err(|e| io_error(location, e))?;
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
            return self.inner.get_opts(location, options).await;
        }
        let file = self.file(location)?;
        let md = file.metadata().map_err(|e| io_error(location, e))?;
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
        let bytes = self.read(location, &file, range.clone())?;
        Ok(GetResult {
            payload: GetResultPayload::Stream(futures::stream::once(async { Ok(bytes) }).boxed()),
            meta,
            range,
            attributes: Attributes::default(),
        })
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let file = self.file(location)?;
        ranges
            .iter()
            .map(|r| self.read(location, &file, r.clone()))
            .collect()
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
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
        // As LocalFileSystem: a range read stops at the end of the file;
        // ranges past it are an error, not short data.
        let p = location(&dir.path().join("f0"));
        assert_eq!(store.get_range(&p, 5..500).await.expect("tail"), "56789-0");
        assert!(store.get_ranges(&p, &[0..1, 5..500]).await.is_err());
    }
}
