//! Fuzz the abuse desk's hand-written input: the `[notify]` and `[cases]`
//! tables (addresses, durations, STARTTLS), a notice template (subject
//! line, placeholders), and the `[[schedule]]` tables serve reads. Errors
//! must print; a template renders any values, leaving no placeholder.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/nonexistent/flowhound.toml");
    match flowhound_cases::NotifyConfig::parse(text, path) {
        Ok(c) => {
            let _ = format!("{c:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Ok(t) = flowhound_cases::Template::parse(text, Path::new("notice.txt")) {
        // The values come from the inventory and the flows: any text (but
        // braces, so that a value cannot spell a placeholder).
        let value: String = std::iter::once('v')
            .chain(text.chars().filter(|c| *c != '{' && *c != '}').take(64))
            .collect();
        let vars: BTreeMap<&str, String> = flowhound_cases::PLACEHOLDERS
            .iter()
            .map(|p| (*p, value.clone()))
            .collect();
        let (subject, body) = t.render(&vars);
        // Every placeholder is filled: none is left for the owner to see.
        for p in flowhound_cases::PLACEHOLDERS {
            let raw = format!("{{{{{p}}}}}");
            if !text.contains(&raw) {
                assert!(!subject.contains(&raw) && !body.contains(&raw), "{p} left unfilled");
            }
        }
    }
    match flowhound_serve::schedule::parse_schedules(
        text,
        path,
        Path::new("/nonexistent"),
        Path::new("/nonexistent/data"),
        true,
    ) {
        Ok(list) => {
            for s in list {
                assert!(s.at_minute < 24 * 60, "{s:?}");
            }
        }
        Err(e) => assert!(e.to_string().contains("flowhound.toml"), "{e}"),
    }
});
