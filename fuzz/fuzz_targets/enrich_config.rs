//! Fuzz the enrichment config (`[site]`, `[roles]`, `[inventory]`,
//! `[registry]`): TOML, addresses and prefixes, time zones, quiet hours.
//! Relative `@list` and owners files resolve under a folder that does not
//! exist, so they fail to load: only the absence of panics is checked, and
//! that errors print.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match flowhound_enrich::Config::parse(text, Path::new("/nonexistent/flowhound.toml")) {
        Ok(c) => {
            let _ = format!("{c:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
