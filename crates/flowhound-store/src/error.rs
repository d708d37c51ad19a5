//! One error type for the store. Every variant that touches a file names it.

use std::path::PathBuf;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An operating-system error on a file or directory.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("create", "rename", ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A Parquet file could not be written or read (truncated, foreign, corrupt).
    #[error("parquet file {path}: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The decoder's or encoder's error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Reading flows out of a Parquet file failed part way.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The reader's error.
        #[source]
        source: arrow_schema::ArrowError,
    },
    /// A batch or file does not have the flow schema.
    #[error("{context}: not a flow batch: {detail}")]
    Schema {
        /// Where the batch came from (a file path, or "record batch").
        context: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A file of the store's own (a compaction record) is not what it
    /// should be.
    #[error("{path}: {detail}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// A file listed for a scan was merged into another one (compaction)
    /// before the scan reached it.
    #[error("{path} was merged into another file while this query ran; run it again")]
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// A time window the user typed could not be parsed.
    #[error(transparent)]
    Window(#[from] crate::window::WindowError),
}

impl StoreError {
    #[cold]
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    #[cold]
    pub(crate) fn parquet(path: impl Into<PathBuf>, source: parquet::errors::ParquetError) -> Self {
        StoreError::Parquet {
            path: path.into(),
            source,
        }
    }

    #[cold]
    pub(crate) fn schema(context: impl Into<String>, detail: impl Into<String>) -> Self {
        StoreError::Schema {
            context: context.into(),
            detail: detail.into(),
        }
    }
}
