//! The one error type of this crate. Every variant displays as one line that
//! names the file (or URL) and, for a config, the key at fault.

use std::path::PathBuf;

/// What went wrong while loading a config, a registry file or an update.
///
/// All variants are the user's or the data's fault (a bad config, a file that
/// is missing or malformed, a download that failed); the CLI maps them to
/// exit status 2.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrichError {
    /// A config file is wrong at a key: `site.toml: roles.mail_servers[2]: bad CIDR "10.0.0.0/33"`.
    #[error("{}: {key}: {problem}", file.display())]
    Config {
        /// The config file (or the `@list` file) at fault.
        file: PathBuf,
        /// The key, dotted, with a list index where there is one.
        key: String,
        /// What is wrong, in a few words.
        problem: String,
    },
    /// A file could not be read (or written).
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A registry file is malformed.
    #[error("{}: {problem}", path.display())]
    Registry {
        /// The registry file.
        path: PathBuf,
        /// What is wrong, with a line number where there is one.
        problem: String,
    },
    /// `registry update` could not fetch or verify a URL; the old file stays.
    #[error("{url}: {problem}")]
    Update {
        /// The URL that failed.
        url: String,
        /// What went wrong.
        problem: String,
    },
}

impl EnrichError {
    #[cold]
    pub(crate) fn config(
        file: impl Into<PathBuf>,
        key: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        EnrichError::Config {
            file: file.into(),
            key: key.into(),
            problem: problem.into(),
        }
    }

    #[cold]
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EnrichError::Io {
            path: path.into(),
            source,
        }
    }

    #[cold]
    pub(crate) fn registry(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        EnrichError::Registry {
            path: path.into(),
            problem: problem.into(),
        }
    }

    #[cold]
    pub(crate) fn update(url: impl Into<String>, problem: impl std::fmt::Display) -> Self {
        EnrichError::Update {
            url: url.into(),
            problem: problem.to_string(),
        }
    }
}
