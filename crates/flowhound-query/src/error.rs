//! The query errors, kept apart by whose fault they are.

use datafusion::common::DataFusionError;
use flowhound_store::StoreError;

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The user's: a bad statement, statistic or combination of options.
    #[error("{0}")]
    User(String),
    /// The store's: a file could not be listed or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engine's: reading or computing failed (or a bug).
    #[error("query failed: {0}")]
    Engine(String),
}

impl QueryError {
    /// Classify an error of a user's SQL statement: planning errors (syntax,
    /// unknown names, types) are the user's; I/O and internal ones are not.
    pub(crate) fn from_sql(e: DataFusionError) -> Self {
        match e.find_root() {
            DataFusionError::IoError(_)
            | DataFusionError::ObjectStore(_)
            | DataFusionError::ParquetError(_)
            | DataFusionError::Internal(_) => QueryError::Engine(e.to_string()),
            DataFusionError::ResourcesExhausted(_) => QueryError::from(e),
            _ => QueryError::User(e.to_string()),
        }
    }
}
