//! Contract rules checked on the pool, handles, records and pure functions. Each test names its rule.

use encore_session::{
    obfuscated_ticket_age, ticket_offerable, verification_time, ContextId, CurrentSession, Error,
    Limits, LowerBound, NewSession, Offer, PeerId, RawSession, Session, SessionPool, Unresumable,
    WallClock, MAX_REFS, SEVEN_DAYS_S, TLS13,
};

const PSK: [u8; 32] = [0x11; 32];
const TICKET: [u8; 192] = [0xAB; 192];

fn peer() -> PeerId {
    PeerId::new("server.example", &[b"h2", b"http/1.1"], &[7; 16])
}

fn params<'a>(ticket: &'a [u8], received_ms: u64) -> NewSession<'a> {
    NewSession {
        version: TLS13,
        cipher_suite: 0x1301,
        psk: &PSK,
        ticket,
        lifetime_s: 7200,
        age_add: 0x0102_0304,
        max_early_data: 0,
        received_ms,
        received_unix: Some(1_800_000_000),
        auth_age_ms: 0,
        peer: peer(),
        owner: ContextId(1),
    }
}

#[test]
fn c1_set_adds_exactly_one_reference_caller_keeps_its_own() {
    let pool: SessionPool<2> = SessionPool::new();
    let mine = pool.create(&params(&TICKET, 0)).unwrap();
    let mut conn = CurrentSession::new();
    assert!(conn.set(Some(&mine)).unwrap().is_none());
    assert_eq!(mine.ref_count().unwrap(), 2);
    drop(mine); // the caller releases its own
    assert_eq!(conn.get().unwrap().ref_count().unwrap(), 1);
    assert_eq!(pool.in_use(), 1);
}

#[test]
fn c2_setting_the_same_session_changes_no_count() {
    let pool: SessionPool<2> = SessionPool::new();
    let s = pool.create(&params(&TICKET, 0)).unwrap();
    let mut conn = CurrentSession::new();
    conn.set(Some(&s)).unwrap();
    assert_eq!(s.ref_count().unwrap(), 2);
    let replaced = conn.set(Some(&s)).unwrap();
    assert!(replaced.is_none());
    assert_eq!(s.ref_count().unwrap(), 2);
}

#[test]
fn c3_setting_none_releases_the_current_session() {
    let pool: SessionPool<2> = SessionPool::new();
    let s = pool.create(&params(&TICKET, 0)).unwrap();
    let mut conn = CurrentSession::new();
    conn.set(Some(&s)).unwrap();
    let old = conn.set(None).unwrap().unwrap();
    assert!(old == s);
    drop(old);
    assert_eq!(s.ref_count().unwrap(), 1);
    assert!(conn.get().is_none());
    // Replacing one session by another releases the first.
    let t = pool.create(&params(&[1; 10], 0)).unwrap();
    conn.set(Some(&s)).unwrap();
    drop(conn.set(Some(&t)).unwrap());
    assert_eq!(s.ref_count().unwrap(), 1);
    assert_eq!(t.ref_count().unwrap(), 2);
}

#[test]
fn c4_borrow_changes_no_count_take_adds_one() {
    let pool: SessionPool<2> = SessionPool::new();
    let s = pool.create(&params(&TICKET, 0)).unwrap();
    let mut conn = CurrentSession::new();
    conn.set(Some(&s)).unwrap();
    let borrowed = conn.get().unwrap();
    assert_eq!(borrowed.ref_count().unwrap(), 2);
    let taken = conn.get1().unwrap().unwrap();
    assert_eq!(s.ref_count().unwrap(), 3);
    drop(taken);
    assert_eq!(s.ref_count().unwrap(), 2);
}

#[test]
fn c9_last_release_frees_the_slot_for_reuse() {
    let pool: SessionPool<1> = SessionPool::new();
    let s = pool.create(&params(&TICKET, 0)).unwrap();
    let id = s.id();
    let raw = s.up_ref().unwrap().into_raw();
    drop(s);
    assert_eq!(pool.in_use(), 1);
    let back = pool.from_raw(raw).unwrap();
    back.release();
    assert_eq!(pool.in_use(), 0);
    assert_eq!(pool.with_record(id, |_| ()), Err(Error::StaleHandle));
}

#[test]
fn c27_payload_is_copied_and_flags_are_one_way() {
    let pool: SessionPool<1> = SessionPool::new();
    let mut ticket = [0x42u8; 100];
    let s = pool.create(&params(&ticket, 0)).unwrap();
    ticket.fill(0); // the caller's buffer is not the record
    assert_eq!(ticket[0], 0);
    let mut out = [0u8; 256];
    assert_eq!(s.copy_ticket(&mut out).unwrap(), 100);
    assert_eq!(out[0], 0x42);
    let mut psk = [0u8; 48];
    assert_eq!(s.copy_psk(&mut psk).unwrap(), 32);
    assert_eq!(&psk[..32], &PSK);
    assert_eq!(
        s.copy_ticket(&mut [0u8; 99]),
        Err(Error::BufferTooSmall { needed: 100 })
    );
    assert!(s.mark_used().unwrap());
    assert!(!s.mark_used().unwrap()); // already used: only one caller wins (C28)
    s.mark_not_resumable().unwrap();
    let info = s.info().unwrap();
    assert!(info.used && info.not_resumable);
    assert_eq!(
        (info.ticket_len, info.psk_len, info.age_add),
        (100, 32, 0x0102_0304)
    );
}

#[test]
fn c29_offerable_limits_are_strict_minimums() {
    let l = Limits {
        timeout_s: 3600,
        max_auth_age_s: SEVEN_DAYS_S,
    };
    // Server lifetime smaller than the timeout.
    assert_eq!(ticket_offerable(599_999, 0, 600, &l), Ok(()));
    assert_eq!(
        ticket_offerable(600_000, 0, 600, &l),
        Err(Unresumable::Expired)
    );
    // Configured timeout smaller than the lifetime.
    assert_eq!(ticket_offerable(3_599_999, 0, 7200, &l), Ok(()));
    assert_eq!(
        ticket_offerable(3_600_000, 0, 7200, &l),
        Err(Unresumable::Expired)
    );
    // Seven-day cap even when the server and the configuration allow more.
    let long = Limits {
        timeout_s: u32::MAX,
        max_auth_age_s: u32::MAX,
    };
    let week_ms = u64::from(SEVEN_DAYS_S) * 1000;
    assert_eq!(ticket_offerable(week_ms - 1, 0, u32::MAX, &long), Ok(()));
    assert_eq!(
        ticket_offerable(week_ms, 0, u32::MAX, &long),
        Err(Unresumable::Expired)
    );
    // Lifetime zero.
    assert_eq!(
        ticket_offerable(0, 0, 0, &l),
        Err(Unresumable::LifetimeZero)
    );
    // Original-authentication limit, default 7 days, and a configured smaller one.
    assert_eq!(
        ticket_offerable(0, week_ms - 1, 7200, &Limits::DEFAULT),
        Ok(())
    );
    assert_eq!(
        ticket_offerable(0, week_ms, 7200, &Limits::DEFAULT),
        Err(Unresumable::AuthenticationTooOld)
    );
    let day = Limits {
        timeout_s: 7200,
        max_auth_age_s: 86_400,
    };
    assert_eq!(
        ticket_offerable(1000, 86_400_000, 7200, &day),
        Err(Unresumable::AuthenticationTooOld)
    );
    // No overflow at the extremes.
    assert_eq!(
        ticket_offerable(u64::MAX, u64::MAX, u32::MAX, &long),
        Err(Unresumable::Expired)
    );
    // C29 "Decided — defaults for devices that sleep": the server's lifetime decides.
    assert_eq!(
        Limits::DEFAULT,
        Limits {
            timeout_s: 604_800,
            max_auth_age_s: 604_800
        }
    );
}

/// C29: a record from a chain of resumptions, authenticated 7 days minus 1 s before its receipt,
/// is offerable for one more second under any configured maximum: the limits are capped at 7 days.
#[test]
fn c29_chained_record_offerable_for_at_most_7_days() {
    let pool: SessionPool<1> = SessionPool::new();
    let wide = Limits {
        timeout_s: u32::MAX,
        max_auth_age_s: u32::MAX,
    };
    let s = pool
        .create(&NewSession {
            lifetime_s: SEVEN_DAYS_S,
            auth_age_ms: u64::from(SEVEN_DAYS_S) * 1000 - 1000,
            ..params(&TICKET, 0)
        })
        .unwrap();
    assert_eq!(s.with(|r| r.offerable(999, &wide)).unwrap(), Ok(()));
    assert_eq!(
        s.with(|r| r.offerable(1000, &wide)).unwrap(),
        Err(Unresumable::AuthenticationTooOld)
    );
}

/// C29 chain rule: a ticket from a resumed handshake inherits the original authentication time, so a
/// chain of resumptions cannot outlive the limit.
#[test]
fn c29_resumption_chain_keeps_original_authentication_time() {
    let pool: SessionPool<2> = SessionPool::new();
    let limits = Limits {
        timeout_s: 7200,
        max_auth_age_s: 10_000,
    };
    let first = pool.create(&params(&TICKET, 0)).unwrap();
    // Resumed at t = 6000 s; the new ticket's authentication age is the offered one's.
    let now = 6_000_000;
    let auth_age = first.with(|r| r.auth_age_ms(now)).unwrap().unwrap();
    assert_eq!(auth_age, 6_000_000);
    let second = pool
        .create(&NewSession {
            auth_age_ms: auth_age,
            ..params(&[5; 50], now)
        })
        .unwrap();
    assert_eq!(second.info().unwrap().auth_age_s, 6000);
    assert_eq!(second.resumable(9_999_999, &limits, &[0x1301]), Ok(()));
    assert_eq!(
        second.resumable(10_000_000, &limits, &[0x1301]),
        Err(Unresumable::AuthenticationTooOld)
    );
    // Partial seconds round up, so the limit is never exceeded.
    let third = pool.create(&NewSession {
        auth_age_ms: 1,
        ..params(&[6; 5], 0)
    });
    assert_eq!(third.unwrap_err(), Error::PoolExhausted);
    drop(first);
    let third = pool
        .create(&NewSession {
            auth_age_ms: 1,
            ..params(&[6; 5], 0)
        })
        .unwrap();
    assert_eq!(third.info().unwrap().auth_age_s, 1);
}

#[test]
fn c30_obfuscated_age_wraps_modulo_2_pow_32() {
    assert_eq!(obfuscated_ticket_age(1000, 5), 1005);
    assert_eq!(obfuscated_ticket_age(10, u32::MAX), 9);
    assert_eq!(obfuscated_ticket_age(0x1_0000_0005, 1), 6);
    assert_eq!(obfuscated_ticket_age(u64::MAX, 1), 0);
    let pool: SessionPool<1> = SessionPool::new();
    let s = pool
        .create(&NewSession {
            age_add: 0xFFFF_FFF0,
            ..params(&TICKET, 1_000)
        })
        .unwrap();
    assert_eq!(s.with(|r| r.obfuscated_age(1_020)).unwrap(), Some(4));
    assert_eq!(s.with(|r| r.obfuscated_age(999)).unwrap(), None);
}

/// C7: every reason a record cannot be offered, in the order checked.
#[test]
fn c7_unresumable_reasons() {
    let pool: SessionPool<8> = SessionPool::new();
    let l = Limits::DEFAULT;
    let ok = pool.create(&params(&TICKET, 1000)).unwrap();
    assert_eq!(ok.resumable(2000, &l, &[0x1301]), Ok(()));
    assert_eq!(
        ok.resumable(2000, &l, &[0x1302]),
        Err(Unresumable::SuiteNotOffered)
    );
    assert_eq!(ok.resumable(2000, &l, &[0x1303]), Ok(())); // same hash, other suite
    assert_eq!(
        ok.resumable(999, &l, &[0x1301]),
        Err(Unresumable::ReceivedInFuture)
    );
    assert_eq!(
        ok.resumable(1000 + 7_200_000, &l, &[0x1301]),
        Err(Unresumable::Expired)
    );
    // Each record differs from `ok` in one way, offered at 2 s to a connection with one suite.
    use Unresumable::{LifetimeZero, NoTicket, UnsupportedVersion, UnusableHash};
    type Edit = fn(&mut NewSession<'_>);
    let cases: [(Edit, u16, Unresumable); 5] = [
        (|n| n.ticket = &[], 0x1301, NoTicket),
        (|n| n.version = 0x0303, 0x1301, UnsupportedVersion),
        (|n| n.cipher_suite = 0x00FF, 0x1301, UnusableHash),
        // A SHA-384 suite with a 32-byte PSK.
        (|n| n.cipher_suite = 0x1302, 0x1302, UnusableHash),
        (|n| n.lifetime_s = 0, 0x1301, LifetimeZero),
    ];
    for (edit, suite, reason) in cases {
        let mut new = params(&TICKET, 1000);
        edit(&mut new);
        let s = pool.create(&new).unwrap();
        assert_eq!(s.resumable(2000, &l, &[suite]), Err(reason));
    }
    let used = pool.create(&params(&TICKET, 1000)).unwrap();
    used.mark_used().unwrap();
    assert_eq!(used.resumable(2000, &l, &[0x1301]), Err(Unresumable::Used));
    used.mark_not_resumable().unwrap();
    assert_eq!(
        used.resumable(2000, &l, &[0x1301]),
        Err(Unresumable::NotResumable)
    );
}

#[test]
fn c35_owner_and_peer_check() {
    let pool: SessionPool<1> = SessionPool::new();
    let s = pool.create(&params(&TICKET, 0)).unwrap();
    assert_eq!(s.check_owner_and_peer(ContextId(1), &peer()), Ok(()));
    assert_eq!(
        s.check_owner_and_peer(ContextId(2), &peer()),
        Err(Error::WrongOwner)
    );
    let other = PeerId::new("server.example", &[b"h2"], &[7; 16]);
    assert_eq!(
        s.check_owner_and_peer(ContextId(1), &other),
        Err(Error::WrongPeer)
    );
}

/// C33 / "Decided — peer identity": name case-folded (ASCII only), exact ALPN list and order, trust
/// fingerprint (another fingerprint, such as the engine's value for the insecure mode, is another
/// peer).
#[test]
fn c33_peer_identity_parts() {
    let fp = [7u8; 16];
    let base = PeerId::new("server.example", &[b"h2", b"http/1.1"], &fp);
    assert_eq!(
        PeerId::new("SERVER.Example", &[b"h2", b"http/1.1"], &fp),
        base
    );
    assert_ne!(
        PeerId::new("server.example", &[b"http/1.1", b"h2"], &fp),
        base
    );
    assert_ne!(PeerId::new("server.example", &[b"h2http/1.1"], &fp), base);
    assert_ne!(PeerId::new("server.example", &[], &fp), base);
    assert_ne!(
        PeerId::new(
            "server.example",
            &[b"h2", b"http/1.1"],
            b"\xffno-verification"
        ),
        base
    );
    assert_ne!(
        PeerId::new("server.example.", &[b"h2", b"http/1.1"], &fp),
        base
    );
    // Non-ASCII is kept as is, not folded, and does not panic.
    assert_ne!(PeerId::new("ÄBC", &[], &fp), PeerId::new("äbc", &[], &fp));
    assert_eq!(PeerId::new("ÄBC", &[], &fp), PeerId::new("Äbc", &[], &fp));
    assert_eq!(
        PeerId::new("192.0.2.1", &[], &fp),
        PeerId::new("192.0.2.1", &[], &fp)
    );
    let long = "A".repeat(1000);
    assert_eq!(
        PeerId::new(&long, &[], &fp),
        PeerId::new(&long.to_lowercase(), &[], &fp)
    );
}

/// E1: a full pool and an oversized ticket are error values; nothing is allocated for them.
#[test]
fn e1_pool_exhausted_and_ticket_too_large() {
    let pool: SessionPool<2, 64> = SessionPool::new();
    let _a = pool.create(&params(&[1; 64], 0)).unwrap();
    assert_eq!(
        pool.create(&params(&[1; 65], 0)).unwrap_err(),
        Error::TicketTooLarge {
            len: 65,
            capacity: 64
        }
    );
    assert_eq!(
        pool.create(&NewSession {
            psk: &[0; 49],
            ..params(&[1; 4], 0)
        })
        .unwrap_err(),
        Error::PskTooLong { len: 49 }
    );
    assert_eq!(pool.in_use(), 1);
    let _b = pool.create(&params(&[2; 1], 0)).unwrap();
    assert_eq!(
        pool.create(&params(&[3; 1], 0)).unwrap_err(),
        Error::PoolExhausted
    );
    assert_eq!(pool.in_use(), 2);
}

/// E2: a raw id of a released slot is stale and never aliases the slot's next record; manual
/// up_ref / release / into_raw / from_raw keep counts exact.
#[test]
fn e2_stale_handles_never_alias() {
    let pool: SessionPool<1> = SessionPool::new();
    let s = pool.create(&params(&[1; 10], 0)).unwrap();
    let extra = s.up_ref().unwrap();
    assert_eq!(s.ref_count().unwrap(), 2);
    let raw = extra.into_raw();
    assert_eq!(s.ref_count().unwrap(), 2); // into_raw keeps the reference
    assert_eq!((raw.index(), raw.generation()), (0, 1));
    let raw = Session::from_raw(&pool, raw).unwrap().into_raw();
    let bits = raw.into_bits();
    let again = pool.from_raw(RawSession::from_bits(bits).unwrap()).unwrap();
    again.release();
    assert_eq!(s.ref_count().unwrap(), 1);
    let old_id = s.id();
    s.release();
    assert_eq!(pool.in_use(), 0);
    // The slot is reused by a new record with the next generation.
    let newer = pool.create(&params(&[2; 20], 0)).unwrap();
    assert_eq!(newer.id().index(), old_id.index());
    assert_eq!(newer.id().generation(), old_id.generation() + 1);
    // A forged copy of the old raw id is stale: no alias, no release of the new record.
    let forged = RawSession::from_bits(bits).unwrap();
    assert_eq!(pool.from_raw(forged).unwrap_err(), Error::StaleHandle);
    assert_eq!(pool.acquire(old_id).unwrap_err(), Error::StaleHandle);
    assert_eq!(
        pool.with_record(old_id, |r| r.ticket().len()),
        Err(Error::StaleHandle)
    );
    assert_eq!(newer.ref_count().unwrap(), 1);
    assert_eq!(RawSession::from_bits(0), None); // generation 0 never names a record
    assert_eq!(RawSession::from_bits(1 << 48), None);
}

/// E2, C9 / count overflow: `up_ref` and `acquire` refuse at MAX_REFS with an error the caller
/// sees (a handle is not `Clone`, so no handle without a reference is ever made). The count never
/// sticks, so the last release still wipes and frees the slot.
#[test]
fn e2_c9_up_ref_at_the_reference_cap_is_refused_and_the_slot_is_still_freed() {
    let pool: SessionPool<1> = SessionPool::new();
    let s = pool.create(&params(&[1; 10], 0)).unwrap();
    let mut refs = Vec::new();
    while let Ok(r) = s.up_ref() {
        refs.push(r);
    }
    assert_eq!(s.ref_count().unwrap(), MAX_REFS);
    assert_eq!(s.up_ref().unwrap_err(), Error::TooManyReferences);
    assert_eq!(pool.acquire(s.id()).unwrap_err(), Error::TooManyReferences);
    let mut current: CurrentSession<'_, 1> = CurrentSession::new();
    assert_eq!(current.set(Some(&s)).unwrap_err(), Error::TooManyReferences);
    assert!(current.get().is_none());
    assert_eq!(s.ref_count().unwrap(), MAX_REFS);
    drop(refs);
    assert_eq!(s.ref_count().unwrap(), 1);
    assert!(!s.info().unwrap().used);
    drop(s);
    assert_eq!(pool.in_use(), 0);
}

/// E2, C9: a reference added while the pool is being read holds a real reference; dropping it releases
/// exactly that one, and the owner's record stays intact.
#[test]
fn e2_c9_up_ref_inside_with_holds_a_reference() {
    let pool: SessionPool<2> = SessionPool::new();
    let s = pool.create(&params(&TICKET, 0)).unwrap();
    let inner = s.with(|_| s.up_ref()).unwrap().unwrap();
    assert_eq!(s.ref_count(), Ok(2));
    assert!(inner == s);
    drop(inner);
    assert_eq!(s.ref_count(), Ok(1));
    let mut out = [0u8; 192];
    assert_eq!(s.copy_ticket(&mut out), Ok(192));
    assert_eq!(out, TICKET);
    // Counting, cloning and dropping all work inside a read, and nest.
    let counts = s
        .with(|_| {
            let c = s.up_ref().unwrap();
            let during = c.with(|_| s.ref_count()).unwrap();
            drop(c);
            (during, s.ref_count())
        })
        .unwrap();
    assert_eq!(counts, (Ok(2), Ok(1)));
    assert_eq!(pool.in_use(), 1);
}

/// C9, E2: the last reference dropped while the pool is being read frees the slot at once (the
/// handle is stale) and the record is wiped when the read ends; the slot is then reused.
#[test]
fn c9_last_drop_inside_with_frees_the_slot() {
    let pool: SessionPool<1> = SessionPool::new();
    let s = pool.create(&params(&TICKET, 0)).unwrap();
    let id = s.id();
    let p = &pool;
    let during = pool
        .with_record(id, move |r| {
            drop(s);
            (r.ticket().len(), p.in_use(), p.acquire(id).map(|_| ()))
        })
        .unwrap();
    assert_eq!(during, (192, 0, Err(Error::StaleHandle)));
    assert_eq!(pool.in_use(), 0);
    assert_eq!(pool.with_record(id, |_| ()), Err(Error::StaleHandle));
    let next = pool.create(&params(&[2; 8], 0)).unwrap();
    assert_eq!(next.id().index(), id.index());
    assert_eq!(next.id().generation(), id.generation() + 1);
    assert_eq!(next.info().unwrap().ticket_len, 8);
}

/// E3: several threads create, clone, mark and release in one static pool; every count ends exact.
#[test]
fn e3_threads_hammer_the_pool() {
    static POOL: SessionPool<8, 64> = SessionPool::new();
    let mut threads = Vec::new();
    for t in 0..4u8 {
        threads.push(std::thread::spawn(move || {
            let mut made = 0u32;
            let mut full = 0u32;
            for i in 0..2000u32 {
                match POOL.create(&params(&[t; 64], u64::from(i))) {
                    Ok(s) => {
                        made += 1;
                        let c = s.up_ref().unwrap();
                        let raw = c.into_raw();
                        let back = POOL.from_raw(raw).unwrap();
                        assert!(back.mark_used().unwrap());
                        let mut out = [0u8; 64];
                        assert_eq!(s.copy_ticket(&mut out).unwrap(), 64);
                        assert_eq!(out, [t; 64]);
                        assert_eq!(s.ref_count().unwrap(), 2);
                    }
                    Err(Error::PoolExhausted) => full += 1,
                    Err(e) => panic!("{e:?}"),
                }
            }
            (made, full)
        }));
    }
    let mut total = 0;
    for t in threads {
        let (made, full) = t.join().unwrap();
        total += made + full;
    }
    assert_eq!(total, 8000);
    assert_eq!(POOL.in_use(), 0);
}

/// E5: sizes of record, slot and pool, exactly as in the crate's table.
#[test]
fn e5_sizes() {
    use core::mem::size_of;
    assert_eq!(size_of::<encore_session::SessionRecord>(), 360);
    assert_eq!(encore_session::slot_size::<256>(), 368);
    assert_eq!(size_of::<SessionPool<16>>(), 8 + 16 * 368);
    assert_eq!(size_of::<encore_session::SessionRecord<64>>(), 168);
    assert_eq!(encore_session::slot_size::<64>(), 176);
    // One pointer, a u16 index and a u32 generation; the generation is non-zero, so an empty
    // `Option` costs nothing.
    assert_eq!(
        size_of::<encore_session::Session<'static, 16>>(),
        size_of::<usize>() + 8
    );
    assert_eq!(
        size_of::<Option<encore_session::Session<'static, 16>>>(),
        size_of::<usize>() + 8
    );
}

struct Wall(Option<u64>);
impl WallClock for Wall {
    fn now_unix(&self) -> Option<u64> {
        self.0
    }
}

/// E6: without a wall clock verification fails closed unless a lower bound is set; a clock earlier
/// than the bound is not trusted.
#[test]
fn e6_wall_clock_fails_closed_without_lower_bound() {
    assert_eq!(
        verification_time(&Wall(None), None),
        Err(Error::WallClockUnknown)
    );
    assert_eq!(
        verification_time(&Wall(None), Some(1_700_000_000)),
        Ok(1_700_000_000)
    );
    assert_eq!(
        verification_time(&Wall(Some(1_800_000_000)), None),
        Ok(1_800_000_000)
    );
    assert_eq!(
        verification_time(&Wall(Some(5)), Some(1_700_000_000)),
        Ok(1_700_000_000)
    );
    assert_eq!(
        LowerBound::new(Wall(None), 1_700_000_000).verification_time(),
        1_700_000_000
    );
    assert_eq!(
        LowerBound::new(Wall(Some(1_800_000_000)), 1_700_000_000).verification_time(),
        1_800_000_000
    );
    assert_eq!(
        LowerBound::new(Wall(Some(3)), 1_700_000_000).verification_time(),
        1_700_000_000
    );
}

/// C28 with E3: of several threads racing to claim the same ticket for a ClientHello, exactly one
/// wins; the flag never goes back.
#[test]
fn c28_ticket_is_claimed_exactly_once() {
    static POOL: SessionPool<1> = SessionPool::new();
    let s = POOL.create(&params(&TICKET, 0)).unwrap();
    let raw_ids: Vec<u64> = (0..8)
        .map(|_| s.up_ref().unwrap().into_raw().into_bits())
        .collect();
    let threads: Vec<_> = raw_ids
        .into_iter()
        .map(|bits| {
            std::thread::spawn(move || {
                let mine = POOL.from_raw(RawSession::from_bits(bits).unwrap()).unwrap();
                mine.mark_used().unwrap()
            })
        })
        .collect();
    let winners = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|w| *w)
        .count();
    assert_eq!(winners, 1);
    assert!(s.info().unwrap().used);
    assert_eq!(
        s.resumable(1, &Limits::DEFAULT, &[0x1301]),
        Err(Unresumable::Used)
    );
    assert_eq!(s.ref_count().unwrap(), 1);
}

/// C28, C7 (RFC 8446 Appendix C.4): of several threads, each holding a reference and racing to claim
/// the same ticket, exactly one gets the offer; every other claim reports `Used`.
#[test]
fn c28_claim_races_have_exactly_one_winner() {
    static POOL: SessionPool<4> = SessionPool::new();
    for round in 0..200u64 {
        let s = POOL.create(&params(&TICKET, round)).unwrap();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let bits = s.up_ref().unwrap().into_raw().into_bits();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let mine = POOL.from_raw(RawSession::from_bits(bits).unwrap()).unwrap();
                    barrier.wait();
                    mine.claim(round + 1_000, &Limits::DEFAULT, &[0x1301])
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let winners = results.iter().filter(|r| r.is_ok()).count();
        let used = results
            .iter()
            .filter(|r| **r == Err(Unresumable::Used))
            .count();
        assert_eq!((winners, used), (1, 5));
        assert_eq!(s.ref_count().unwrap(), 1);
    }
    assert_eq!(POOL.in_use(), 0);
}

/// C28, C7, C30: a claim checks, marks used and reads the offer in one step; a record that fails the
/// check is not marked; a second claim is `Used`.
#[test]
fn c28_claim_checks_marks_and_returns_the_offer() {
    let pool: SessionPool<2> = SessionPool::new();
    let s = pool
        .create(&NewSession {
            age_add: 0xFFFF_FF00,
            max_early_data: 16_384,
            ..params(&TICKET, 10_000)
        })
        .unwrap();
    // Refused for a SHA-384 connection: nothing changes.
    assert_eq!(
        s.claim(70_000, &Limits::DEFAULT, &[0x1302]),
        Err(Unresumable::SuiteNotOffered)
    );
    assert!(!s.info().unwrap().used);
    let offer = s
        .claim(70_000, &Limits::DEFAULT, &[0x1302, 0x1303])
        .unwrap();
    assert_eq!(
        offer,
        Offer {
            cipher_suite: 0x1301,
            age_add: 0xFFFF_FF00,
            ticket_age_ms: 60_000,
            obfuscated_age: 60_000u32.wrapping_add(0xFFFF_FF00),
            max_early_data: 16_384,
        }
    );
    assert_eq!(offer.obfuscated_age, 59_744);
    assert!(s.info().unwrap().used);
    assert_eq!(
        s.claim(70_000, &Limits::DEFAULT, &[0x1301]),
        Err(Unresumable::Used)
    );
    // A claim works from inside a read of the pool too.
    let t = pool.create(&params(&TICKET, 0)).unwrap();
    let inner = t
        .with(|_| {
            t.claim(5, &Limits::DEFAULT, &[0x1301])
                .map(|o| o.ticket_age_ms)
        })
        .unwrap();
    assert_eq!(inner, Ok(5));
    // A stale handle claims nothing.
    let id = t.id();
    drop(t);
    assert_eq!(
        pool.claim(id, 5, &Limits::DEFAULT, &[0x1301]),
        Err(Unresumable::NotResumable)
    );
}

/// C30: the offer's age is kept modulo 2^32, never saturated, and the engine's sum
/// `ticket_age_ms + age_add` equals `obfuscated_age` and `SessionRecord::obfuscated_age`.
#[test]
fn c30_offer_age_wraps_modulo_2_pow_32() {
    let pool: SessionPool<1> = SessionPool::new();
    let s = pool
        .create(&NewSession {
            age_add: 7,
            ..params(&TICKET, 1_000)
        })
        .unwrap();
    let now = 1_000 + (1u64 << 32) + 5;
    let (offer, obfuscated) = s.with(|r| (r.offer(now), r.obfuscated_age(now))).unwrap();
    let offer = offer.unwrap();
    assert_eq!((offer.ticket_age_ms, offer.obfuscated_age), (5, 12));
    assert_eq!(offer.ticket_age_ms.wrapping_add(offer.age_add), 12);
    assert_eq!(obfuscated, Some(12));
    assert_eq!(obfuscated_ticket_age((1u64 << 32) + 5, 7), 12);
    assert_eq!(s.with(|r| r.offer(999)).unwrap(), None);
}
