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
    let b = a.up_ref().unwrap();
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

/// C9: a last reference dropped inside `with_records` is wiped when that read returns, and the
/// pool's pending mark is cleared with it; E2: `Records::get` sees only live records.
#[test]
fn c9_with_records_wipes_after_the_read_and_sees_only_live_records() {
    let pool: SessionPool<3> = SessionPool::new();
    let a = pool.create(&new_session(&[0x11; 32], &[0x22; 40])).unwrap();
    let b = pool.create(&new_session(&[0x33; 32], &[0x44; 40])).unwrap();
    let (ida, idb) = (a.id(), b.id());
    let seen = pool
        .with_records(|records| {
            let before = (
                records.get(ida).map(|r| r.ticket().len()),
                records.get(idb).is_some(),
            );
            drop(b);
            (before, records.get(idb).is_some(), pool.slot_state(1))
        })
        .unwrap();
    assert_eq!(seen, ((Some(40), true), false, Some((1, 0, false))));
    assert_eq!(pool.slot_state(1), Some((1, 0, true)));
    assert!(!pool.pending_mark());
    assert_eq!(pool.with_records(|r| r.get(idb).is_none()), Ok(true));
    assert_eq!(
        pool.with_records(|r| r.get(ida).map(|r| r.psk()[0])),
        Ok(Some(0x11))
    );
    drop(a);
    assert_eq!(pool.in_use(), 0);
}

/// E1, E2: a new record takes the slot freed last, or the next one after the slot taken last,
/// wrapping around to the start; a full pool is PoolExhausted, and a freed slot's old handle stays
/// stale.
#[test]
fn e1_free_slot_search_starts_at_the_hint_and_wraps() {
    let pool: SessionPool<3> = SessionPool::new();
    let make = || pool.create(&new_session(&[1; 32], &[2; 8]));
    let a = make().unwrap();
    let b = make().unwrap();
    let c = make().unwrap();
    assert_eq!((a.id().index(), b.id().index(), c.id().index()), (0, 1, 2));
    let (old_a, old_c) = (a.id(), c.id());
    drop(c);
    drop(a);
    // Slot 0 was freed last.
    let d = make().unwrap();
    assert_eq!((d.id().index(), d.id().generation()), (0, 2));
    // From slot 1 on: 1 is live, 2 is free.
    let e = make().unwrap();
    assert_eq!((e.id().index(), e.id().generation()), (2, 2));
    assert_eq!(make().unwrap_err(), Error::PoolExhausted);
    assert_eq!(pool.acquire(old_a).unwrap_err(), Error::StaleHandle);
    assert_eq!(pool.acquire(old_c).unwrap_err(), Error::StaleHandle);
    assert_eq!(pool.in_use(), 3);
    drop((b, d, e));
    assert_eq!(pool.in_use(), 0);
}

/// C28, E7: `claim_with` hands the claimed record to its reader inside the claim, so the ticket
/// and the PSK are read under the claim that makes the offer; a claim that fails (the record is
/// used already) runs no reader at all, and the pool is free again afterwards.
#[test]
fn c28_claim_with_reads_the_record_only_when_it_claims_it() {
    use crate::{Limits, Unresumable};
    let pool: SessionPool<1> = SessionPool::new();
    let s = pool.create(&new_session(&[0x5A; 32], &[0xA5; 40])).unwrap();
    let mut ticket = [0u8; 40];
    let (offer, psk_len) = s
        .claim_with(1_005, &Limits::DEFAULT, &[0x1301], |record, claim| {
            assert_eq!(claim.cipher_suite, 0x1301);
            ticket.copy_from_slice(record.ticket());
            record.psk().len()
        })
        .unwrap();
    assert_eq!((ticket, psk_len), ([0xA5; 40], 32));
    assert_eq!(offer.obfuscated_age, 1_000u32.wrapping_add(0xDEAD_BEEF));
    let mut ran = false;
    let again = s.claim_with(1_006, &Limits::DEFAULT, &[0x1301], |_, _| ran = true);
    assert_eq!(again.map(|(o, ())| o), Err(Unresumable::Used));
    assert!(!ran);
    assert!(s.info().unwrap().used);
}
