//! Reports over stored flows, for people (HTML with inline SVG charts) and
//! for machines (JSON and CSV): first of them the daily SMTP report, which
//! replaces the abuse desk's morning routine — who sent mail yesterday,
//! which senders are not registered mail servers, which registered ones
//! were busy in the site's quiet hours, where their mail went, what the
//! detections found and which cases are open.
//!
//! Every table is computed through the query engine with a filter and a
//! window that the report prints beside it, so `flowhound query` answers
//! the same question with the same numbers. Alerts and open cases come in
//! as plain rows: this crate runs no detection, keeps no cases and sends no
//! mail.
//!
//! ```no_run
//! # fn main() -> Result<(), flowhound_report::ReportError> {
//! use flowhound_report::{ReportDay, SmtpReport};
//! let site = flowhound_enrich::Site::default();
//! let day = ReportDay::parse("2026-11-26", &site)?;
//! let detection = flowhound_detect::Detection::default();
//! let report = SmtpReport::build("data".as_ref(), &day, &site, None, &detection, None)?;
//! for path in report.write("report".as_ref())? {
//!     println!("{}", path.display());
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod day;
mod error;
mod html;
mod smtp;
mod svg;

pub use day::ReportDay;
pub use error::ReportError;
pub use smtp::{
    CountryRow, DetectionRow, HourRow, OpenCase, QuietRow, Section, SenderCounts, SenderRow,
    SmtpOptions, SmtpReport, SmtpTotals, MAIL_ROLE, SMTP_FILTER,
};
