//! Tests that look inside pool slots (C9, E2).

extern crate std;

use crate::{ContextId, Error, NewSession, PeerId, SessionPool, TLS13};

fn new_session<'a>(psk: &'a [u8], ticket: &'a [u8]) -> NewSession<'a> {
    NewSession {
        version: TLS13,
        cipher_suite: 0x1301,
        psk,
        ticket,
        lifetime_s: 3600,
        age_add: 0xDEAD_BEEF,
        max_early_data: 0,
        received_ms: 5,
        received_unix: None,
        auth_age_ms: 0,
        peer: PeerId([9; 16]),
        owner: ContextId(3),
    }
}

/// C9: the last release zeroizes every secret and ticket byte and frees the slot; an earlier release
/// does neither.
#[test]
fn c9_last_release_zeroizes_and_frees() {
    let pool: SessionPool<2> = SessionPool::new();
    let a = pool
        .create(&new_session(&[0x5A; 32], &[0xA5; 200]))
        .unwrap();
    let b = a.clone();
    assert_eq!(pool.slot_state(0), Some((1, 2, false)));
    drop(a);
    assert_eq!(pool.slot_state(0), Some((1, 1, false)));
    drop(b);
    assert_eq!(pool.slot_state(0), Some((1, 0, true)));
    assert_eq!(pool.in_use(), 0);
}

/// E2: a slot whose generation reached u32::MAX is retired instead of wrapping, so no old handle can
/// ever match a new occupant; with every slot retired, creation is PoolExhausted.
#[test]
fn e2_generation_never_wraps() {
    let pool: SessionPool<1> = SessionPool::new();
    pool.force_generation(0, u32::MAX - 1);
    let s = pool.create(&new_session(&[1; 32], &[2; 8])).unwrap();
    assert_eq!(s.id().generation(), u32::MAX);
    drop(s);
    assert_eq!(
        pool.create(&new_session(&[1; 32], &[2; 8])).unwrap_err(),
        Error::PoolExhausted
    );
}

/// C9: the last reference dropped while the pool is being read leaves the record in place only
/// until the outermost read returns; then every secret and ticket byte is zero.
#[test]
fn c9_last_drop_inside_a_read_is_wiped_when_the_read_ends() {
    let pool: SessionPool<2> = SessionPool::new();
    let keep = pool.create(&new_session(&[0x11; 32], &[0x22; 40])).unwrap();
    let s = pool
        .create(&new_session(&[0x5A; 32], &[0xA5; 200]))
        .unwrap();
    let p = &pool;
    let nested = keep
        .with(|_| {
            p.with_record(s.id(), |_| ()).unwrap();
            let inside = keep.with(move |_| {
                drop(s);
                p.slot_state(1)
            });
            (inside, p.slot_state(1))
        })
        .unwrap();
    // Freed at once, wiped only after the outermost read.
    assert_eq!(nested, (Ok(Some((1, 0, false))), Some((1, 0, false))));
    assert_eq!(pool.slot_state(1), Some((1, 0, true)));
    assert_eq!(pool.slot_state(0), Some((1, 1, false)));
    assert_eq!(keep.ref_count(), Ok(1));
}
