//! Fuzz what users write for detection: a rule file (`[[rule]]` tables:
//! durations, thresholds, conditions, the nfdump filter inside) and a
//! blocklist (one CIDR a line, Spamhaus DROP's `CIDR ; SBL…` and JSON
//! lines). Errors must name the file; parsed rules and networks must hold
//! what a rule needs (a window, a filter that parses again).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let origin = Path::new("fuzz-rules.toml");
    match flowhound_detect::parse_rules(text, origin) {
        Ok(rules) => {
            for r in rules {
                assert!(r.window_ms > 0, "a rule without a window: {}", r.name);
                assert!(
                    flowhound_filter::parse(&r.filter_text).is_ok(),
                    "a rule's filter text does not parse again: {:?}",
                    r.filter_text
                );
            }
        }
        Err(e) => assert!(e.to_string().contains("fuzz-rules.toml"), "{e}"),
    }
    match flowhound_detect::parse_blocklist(text, Path::new("fuzz-drop.txt")) {
        Ok(nets) => {
            for (lo, hi) in &nets {
                assert!(lo <= hi, "an empty network");
            }
            let rules = flowhound_detect::blocklist_rules(
                "fuzz",
                nets,
                flowhound_detect::Severity::High,
                "fuzz",
            );
            for r in rules {
                let again = flowhound_filter::parse(&r.filter_text)
                    .unwrap_or_else(|e| panic!("{e}: {:?}", r.filter_text));
                assert_eq!(again, r.filter, "{:?}", r.filter_text);
            }
        }
        Err(e) => assert!(e.to_string().contains("fuzz-drop.txt"), "{e}"),
    }
});
