//! `flowhound cases`: the abuse desk over DATA/cases.sqlite.

use std::path::Path;

use crate::args::CasesCommand;
use crate::units::user;

pub fn run(_c: CasesCommand, _config: Option<&Path>) -> anyhow::Result<()> {
    Err(user("flowhound cases is being built (issue 10)"))
}
