use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use flowhound_collect::{start, CollectConfig};
use flowhound_model::Enricher;
use flowhound_store::CompactOptions;
use tracing::info;

use crate::args::CollectArgs;

pub fn run(a: CollectArgs, enricher: Option<Arc<dyn Enricher>>) -> anyhow::Result<()> {
    let mut config = CollectConfig::new(a.listen, a.data);
    config.enricher = enricher;
    config.rcvbuf = usize::try_from(a.rcvbuf).unwrap_or(usize::MAX);
    config.metrics = a.metrics;
    config.file_interval = a.file_interval;
    config.max_age = a.max_age;
    config.max_bytes = a.max_size;
    config.compact = (!a.no_compact).then(|| CompactOptions {
        settle: a.compact_after,
        ..CompactOptions::default()
    });
    let signals = super::stop_on_signals()?;
    let running = start(config).context("cannot start the collector")?;
    let stop = running.stop_flag();
    while !signals.load(Ordering::Relaxed) && !running.is_finished() {
        std::thread::sleep(Duration::from_millis(100));
    }
    if running.is_finished() {
        // The pipeline ended on its own: say why and exit non-zero, so that
        // a supervisor restarts the collector.
        stop.store(true, Ordering::Relaxed);
        running.wait()?;
        anyhow::bail!("the collector's pipeline stopped unexpectedly");
    }
    info!("stopping: writing every received flow");
    stop.store(true, Ordering::Relaxed);
    let metrics = running.metrics.clone();
    running.wait()?;
    info!(
        datagrams = metrics.datagrams(),
        flows = metrics.flows_decoded(),
        written = metrics.flows_written(),
        "stopped"
    );
    Ok(())
}
