//! Detection errors, kept apart by whose fault they are.

use flowhound_query::QueryError;

/// Why detection could not run.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// The user's: a rule that does not parse or does not make sense.
    #[error("{file}:{line}: {reason}")]
    Rule {
        /// The rule file (or config file).
        file: String,
        /// 1-based line of the rule.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The user's: a file named in the config cannot be read.
    #[error("{file}: {reason}")]
    File {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
    /// Reading the stored flows failed.
    #[error(transparent)]
    Query(#[from] QueryError),
}

impl DetectError {
    /// Whether the user can fix it (bad rule, bad file), as opposed to the
    /// store or a bug.
    pub fn is_user(&self) -> bool {
        match self {
            DetectError::Rule { .. } | DetectError::File { .. } => true,
            DetectError::Query(QueryError::User(_)) => true,
            DetectError::Query(_) => false,
        }
    }
}
