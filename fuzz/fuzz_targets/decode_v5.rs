//! Fuzz the decoder with a sequence of version-5 datagrams through one cache.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::run(data, 5));
