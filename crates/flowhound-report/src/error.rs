//! Why a report could not be made, kept apart by whose fault it is.

use std::path::PathBuf;

use flowhound_query::QueryError;

/// Why a report failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The user's: a day that is not a day.
    #[error("bad day \"{input}\": {why}")]
    Day {
        /// What was given.
        input: String,
        /// What is wrong with it.
        why: String,
    },
    /// The user's: no data directory there.
    #[error("data directory {} does not exist", .0.display())]
    NoData(PathBuf),
    /// The query engine's (or the user's, see [`ReportError::is_user`]).
    #[error(transparent)]
    Query(#[from] QueryError),
    /// An output file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A bug: a filter the report built did not parse, a table did not
    /// serialize.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ReportError {
    /// Whether the user can fix it (a bad day, a missing directory), as
    /// opposed to the store, the disk or a bug.
    pub fn is_user(&self) -> bool {
        match self {
            ReportError::Day { .. } | ReportError::NoData(_) => true,
            ReportError::Query(QueryError::User(_)) => true,
            ReportError::Query(_) | ReportError::Write { .. } | ReportError::Internal(_) => false,
        }
    }

    #[cold]
    pub(crate) fn day(input: &str, why: impl Into<String>) -> Self {
        ReportError::Day {
            input: input.to_string(),
            why: why.into(),
        }
    }

    #[cold]
    pub(crate) fn write(path: &std::path::Path, source: std::io::Error) -> Self {
        ReportError::Write {
            path: path.to_path_buf(),
            source,
        }
    }
}
