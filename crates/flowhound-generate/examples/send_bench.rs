//! How fast the sender goes: `cargo run --release -p flowhound-generate
//! --example send_bench -- [v5|v9|ipfix] [flows] [rate] [max_datagram]`.
//! Sends to 127.0.0.1:9 (nobody reads it) unless `FLOWHOUND_BENCH_TO` is set.

use flowhound_generate::{send, Proto, SendConfig};
use std::sync::atomic::AtomicBool;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let proto: Proto = args.first().map(|s| s.as_str()).unwrap_or("v9").parse()?;
    let flows: u64 = args
        .get(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(2_000_000);
    let rate: u64 = args
        .get(2)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(u64::MAX);
    let to = std::env::var("FLOWHOUND_BENCH_TO").unwrap_or_else(|_| "127.0.0.1:9".into());
    let mut cfg = SendConfig::new(to.parse()?, proto);
    cfg.rate_flows_per_s = rate;
    cfg.total_flows = Some(flows);
    cfg.max_datagram = args.get(3).map(|s| s.parse()).transpose()?;
    let r = send(&cfg, &AtomicBool::new(false))?;
    println!(
        "{proto}: {} flows in {} datagrams ({} B) in {:.3} s: {:.0} flows/s, {:.0} datagrams/s",
        r.flows,
        r.datagrams,
        r.bytes,
        r.elapsed.as_secs_f64(),
        r.flows_per_s(),
        r.datagrams as f64 / r.elapsed.as_secs_f64().max(1e-9)
    );
    Ok(())
}
