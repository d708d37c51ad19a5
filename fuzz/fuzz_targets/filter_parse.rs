//! Fuzz the filter parser: any UTF-8 text either fails to parse or gives a
//! filter whose printed form parses back to the same filter, and which
//! evaluates on a record without panicking.
#![no_main]

use flowhound_model::FlowRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(filter) = flowhound_filter::parse(text) else {
        return;
    };
    let printed = filter.to_string();
    let again = flowhound_filter::parse(&printed)
        .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which does not parse: {e}"));
    assert_eq!(
        filter, again,
        "{text:?} printed as {printed:?}, which parses to another filter"
    );
    let _ = filter.matches(&FlowRecord::default());
});
