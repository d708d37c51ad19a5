//! The one error type of this crate, kept apart by whose fault it is.

use std::path::PathBuf;

/// Why the abuse desk could not do what it was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaseError {
    /// The user's: the config is wrong at a key
    /// (`flowhound.toml: notify.renotify_after: bad duration "1 day"`).
    #[error("{}: {key}: {problem}", file.display())]
    Config {
        /// The config file (or the template file) at fault.
        file: PathBuf,
        /// The key, dotted (or the template's placeholder).
        key: String,
        /// What is wrong.
        problem: String,
    },
    /// The user's: no case has this reference.
    #[error("no case {0} (`flowhound cases list` shows them)")]
    NoSuchCase(String),
    /// The user's: the request does not fit the case (closing a closed one).
    #[error("case {case}: {problem}")]
    Refused {
        /// The case reference.
        case: String,
        /// Why not.
        problem: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// SQLite failed: the file cannot be opened, the disk is full, …
    #[error("case database {}: {source}", path.display())]
    Db {
        /// The database file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
    /// A stored row cannot be read back (a bug, or a file edited by hand).
    #[error("case database {}: {problem}", path.display())]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// A message could not be built (an address lettre refuses, say).
    #[error("message for {what}: {problem}")]
    Message {
        /// Which message.
        what: String,
        /// Why.
        problem: String,
    },
    /// A message could not be delivered.
    #[error(transparent)]
    Mail(#[from] MailError),
}

impl CaseError {
    /// Whether the user can fix it (config, reference, request), as opposed
    /// to the disk, the mail server or a bug.
    pub fn is_user(&self) -> bool {
        matches!(
            self,
            CaseError::Config { .. } | CaseError::NoSuchCase(_) | CaseError::Refused { .. }
        )
    }

    #[cold]
    pub(crate) fn config(
        file: impl Into<PathBuf>,
        key: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        CaseError::Config {
            file: file.into(),
            key: key.into(),
            problem: problem.into(),
        }
    }

    #[cold]
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CaseError::Io {
            path: path.into(),
            source,
        }
    }
}

/// A message did not arrive: the SMTP server refused it or cannot be
/// reached, or the `.eml` file cannot be written.
#[derive(Debug, thiserror::Error)]
#[error("{via}: {reason}")]
pub struct MailError {
    /// Where it was going (`smtp 127.0.0.1:25`, `dry run /tmp/eml`).
    pub via: String,
    /// Why it did not get there.
    pub reason: String,
}
