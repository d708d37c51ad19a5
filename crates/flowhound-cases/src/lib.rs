//! The abuse desk: alerts become cases, cases get notices, problems that
//! persist escalate to a suspension recommendation.
//!
//! Alerts of one host and category make one case, linked to the owner,
//! contact and account of the site inventory. A case goes
//! open → notified (notice 1 … `max_notices`) → suspension-recommended,
//! and ends resolved (quiet for `resolve_after`) or closed by an analyst.
//! Every step is recorded with its time and its evidence in SQLite
//! (`DATA/cases.sqlite`). The clock is flow time: the same flows give the
//! same cases and the same notices, however often they are applied.
//!
//! ```no_run
//! # fn main() -> Result<(), flowhound_cases::CaseError> {
//! # let (alerts, site, now) = (Vec::new(), flowhound_enrich::Site::default(), 0);
//! use flowhound_cases::{Desk, Mailer, NotifyConfig};
//! let config = NotifyConfig::load("flowhound.toml".as_ref())?;
//! let mailer = Mailer::from_config(&config)?;
//! let mut desk = Desk::open("data/cases.sqlite".as_ref(), config)?;
//! let update = desk.apply(&alerts, &site, now)?;
//! let delivery = desk.deliver(&mailer, now)?;
//! # Ok(()) }
//! ```
//!
//! This crate knows nothing of flows, stores or the command line: alerts
//! and the site come in, cases and messages go out.
#![deny(missing_docs)]

mod case;
mod config;
mod desk;
mod error;
mod mail;
mod template;

pub use case::{Case, CaseRow, Change, Delivery, MessageRow, Sent, State, Transition, Update};
pub use config::{format_duration_ms, parse_duration_ms, NotifyConfig, Smtp, StartTls};
pub use desk::Desk;
pub use error::{CaseError, MailError};
pub use mail::{Mailer, Outgoing};
pub use template::{Kind, Template, Templates, PLACEHOLDERS};

/// The case database's file name inside the data directory.
pub const DATABASE: &str = "cases.sqlite";
