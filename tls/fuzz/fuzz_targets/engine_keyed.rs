//! See `encore_tls_fuzz::keyed`: a real TLS 1.3 server answers the engine, and the input
//! chooses the scenario and every server message after ServerHello, sealed under the right
//! keys. The body lives in the library so that `tls/tests/fuzz_regressions.rs` replays saved
//! crashes and the committed seeds through the same code.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = encore_tls_fuzz::keyed::run(data);
});
