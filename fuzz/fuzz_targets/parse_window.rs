//! Fuzz the time-window parser (`-t`): no panic, and a parsed window is
//! non-empty and prints.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(w) = flowhound_store::parse_window(text) {
        assert!(w.start_ms < w.end_ms, "{text:?} gave {w:?}");
        assert!(w.contains(w.start_ms));
        let _ = w.to_string();
    }
});
