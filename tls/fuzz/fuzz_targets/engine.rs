//! See `encore_tls_fuzz::engine`: the body lives in the library so that
//! `tls/tests/fuzz_regressions.rs` replays saved crashes through the same code.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| encore_tls_fuzz::engine::run(data));
