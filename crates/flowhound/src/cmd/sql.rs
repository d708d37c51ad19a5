//! `flowhound sql`: the `flows` table in SQL, for power users.

use std::sync::Arc;

use flowhound_model::Enricher;

use crate::args::SqlArgs;
use crate::cmd::query::{open, query_err, window_arg, write_table};

pub fn run(a: SqlArgs, enricher: Option<Arc<dyn Enricher>>) -> anyhow::Result<()> {
    let engine = open(&a.data, window_arg(a.window.as_deref())?, enricher)?;
    let table = engine.sql(&a.query).map_err(query_err)?;
    write_table(&table, a.output, &mut std::io::stdout().lock())
}
