//! `flowhound serve --config FILE`: the collector with live detection,
//! the alert store and the sinks of the config's `[serve]` table.

use std::path::Path;

use flowhound_serve::{ServeConfig, ServeError};
use tracing::info;

use crate::units::user;

/// User errors (the config's) exit with status 2.
pub fn serve_err(e: ServeError) -> anyhow::Error {
    if e.is_user() {
        user(e.to_string())
    } else {
        e.into()
    }
}

pub fn run(config: Option<&Path>) -> anyhow::Result<()> {
    let path = config.ok_or_else(|| {
        user("serve needs --config FILE: its [serve] table says where to listen and store, and where alerts go")
    })?;
    let config = ServeConfig::load(path).map_err(serve_err)?;
    let signals = super::stop_on_signals()?;
    flowhound_serve::run(config, &signals).map_err(serve_err)?;
    info!("stopped");
    Ok(())
}
