//! `flowhound report`: reports over a day of stored flows.

use std::path::Path;

use crate::args::ReportCommand;
use crate::units::user;

pub fn run(_c: ReportCommand, _config: Option<&Path>) -> anyhow::Result<()> {
    Err(user("flowhound report is being built (issue 10)"))
}
