//! What a generated day holds: `cargo run --release -p flowhound-generate
//! --example day_stats -- [seed] [peak_rate]`. Prints the seeded activities,
//! the number of flows and how long generating them took.

use flowhound_generate::{Day, DayPlan};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut plan = DayPlan::new(1_764_115_200_000); // 2025-11-26 00:00 UTC
    if let Some(s) = args.first() {
        plan.seed = s.parse()?;
    }
    if let Some(r) = args.get(1) {
        plan.peak_rate = r.parse()?;
    }
    let t0 = Instant::now();
    let day = Day::new(&plan);
    for s in day.seeded() {
        let h = |ms: i64| {
            let m = (ms - plan.start_ms) / 60_000;
            format!("{:02}:{:02}", m / 60, m % 60)
        };
        println!(
            "{:<38} {:<15} {}-{} {:?}",
            format!("{:?}", s.what),
            s.host,
            h(s.start_ms),
            h(s.end_ms),
            s.categories
        );
    }
    let mut n = 0u64;
    let mut last_end = plan.start_ms;
    let mut max_back = 0i64;
    for f in day {
        n += 1;
        max_back = max_back.max(last_end - f.time_end);
        last_end = last_end.max(f.time_end);
    }
    println!(
        "{n} flows in {:.2} s; time_end goes back at most {} ms",
        t0.elapsed().as_secs_f64(),
        max_back
    );
    Ok(())
}
