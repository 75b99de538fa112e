//! Fuzzes the serialised-record decoder (E4): any input is either a record or an error, never a
//! panic; a decoded record re-encodes to the same bytes, and the pool has no slot left behind.
#![no_main]

use encore_session::SessionPool;
use libfuzzer_sys::fuzz_target;

static POOL: SessionPool<2, 256> = SessionPool::new();

fuzz_target!(|data: &[u8]| {
    // The wall clock one day after the largest receipt time the format accepts, so that every
    // well-formed input decodes.
    let now_unix = Some(u64::from(u32::MAX) + 86_400);
    if let Ok(session) = POOL.decode(data, 1_000, now_unix) {
        let mut out = [0u8; encore_session::codec::max_encoded_len(256)];
        let n = session
            .encode(&mut out, 1_000, now_unix)
            .expect("decoded records encode");
        assert_eq!(&out[..n], data);
    }
    assert_eq!(POOL.in_use(), 0);
});
