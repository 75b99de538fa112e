//! Proof that the session pool, the cache and RSA verification need no heap (E1).
//!
//! This image links `encore-session`, `encore-cache` and encore-tls's RSA verification (its `rsa`
//! feature: PKCS#1 v1.5 and PSS, 2048 to 4096 bits) and calls their main operations, with no
//! `#[global_allocator]`: if any crate in the graph pulled in `alloc`, linking would fail with "no
//! global memory allocator found". It also checks the E5 sizes on the 32-bit target at compile time.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::hint::black_box;
use core::mem::size_of;

use cortex_m_rt::entry;
use encore_cache::{CacheConfig, SessionCache, ENTRY_SIZE, INDEX_SIZE};
use encore_session::{
    slot_size, ContextId, Limits, NewSession, PeerId, SessionPool, SessionRecord, TLS13,
};
use encore_tls::crypto::{verify_rsa, SignatureScheme};
// Linked for its single-core `critical-section` implementation.
use cortex_m as _;
use panic_halt as _;

const OWNER: ContextId = ContextId(1);

// E5 on a 32-bit target: the same record, slot and entry sizes as on the host.
const _: () = assert!(size_of::<SessionRecord>() == 360);
const _: () = assert!(slot_size::<256>() == 368);
const _: () = assert!(ENTRY_SIZE == 16);
const _: () = assert!(INDEX_SIZE == 12);
const _: () = assert!(size_of::<SessionPool<8>>() == 8 + 8 * 368);
const _: () = assert!(size_of::<SessionCache<'static, 8, 8>>() == 8 * (16 + 12) + 84);

static POOL: SessionPool<8> = SessionPool::new();
static CACHE: SessionCache<'static, 8, 8> = SessionCache::new(&POOL, OWNER, CacheConfig::DEFAULT);

#[entry]
fn main() -> ! {
    let peer = PeerId::new("device.example", &[b"mqtt"], &[0x5A; 16]);
    let mut now_ms: u64 = 0;
    let mut buf = [0u8; encore_session::codec::max_encoded_len(256)];
    loop {
        let ticket = [black_box(0xA5u8); 192];
        let new = NewSession {
            version: TLS13,
            cipher_suite: 0x1301,
            psk: &[black_box(0x11u8); 32],
            ticket: &ticket,
            lifetime_s: 7200,
            age_add: black_box(0x0102_0304),
            max_early_data: 0,
            received_ms: now_ms,
            received_unix: Some(1_800_000_000),
            auth_age_ms: 0,
            peer,
            owner: OWNER,
        };
        if let Ok(s) = CACHE.new_session(&new, now_ms) {
            let _ = black_box(s.encode(&mut buf, now_ms, None));
        }
        if let Ok(s) = POOL.decode(black_box(&buf), now_ms, Some(1_800_000_001)) {
            let _ = black_box(CACHE.add(&s, now_ms));
        }
        if let Some((s, offer)) = CACHE.take(&peer, now_ms, &[0x1301]) {
            black_box(offer);
            let _ = black_box(s.resumable(now_ms, &Limits::DEFAULT, &[0x1301]));
            black_box(CACHE.remove(&s));
        }
        black_box(CACHE.flush(now_ms));
        for scheme in [
            SignatureScheme::RsaPkcs1Sha256,
            SignatureScheme::RsaPssRsaeSha512,
        ] {
            let _ = black_box(verify_rsa(
                black_box(scheme),
                black_box(&buf[..270]),
                black_box(&ticket[..]),
                black_box(&buf[..256]),
            ));
        }
        now_ms = now_ms.wrapping_add(black_box(1000));
    }
}
