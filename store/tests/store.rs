//! The store's API, sealing, ages across reboots and wear, with exact counts.

mod common;

use common::*;
use embassy_futures::block_on;
use encore_session::{ContextId, NewSession, PeerId, SessionPool, SEVEN_DAYS_S, TLS13};
use encore_store::{
    buffer_len, record_flash_len, tombstone_flash_len, DeviceKey, GeometryError, LoadReport,
    SessionStore, StoreError, Stored, Wear, SEAL_OVERHEAD,
};
use sequential_storage::cache::Cache;
use sequential_storage::map::{MapConfig, MapStorage};

const CTX: ContextId = ContextId(7);
/// Two 16 KiB sectors with 4-byte words: the small sectors of an STM32F4's second bank.
type Flash = SimFlash<4, 16384, 2>;
type Store<'f> = SessionStore<&'f mut Flash>;

fn key() -> DeviceKey {
    DeviceKey::new([0x42; 32])
}

fn store(flash: &mut Flash) -> Store<'_> {
    Store::new(flash, 0..Flash::SIZE, &key()).unwrap()
}

/// Boots a store over `flash` and returns the ids of the tickets loaded, with the report.
fn boot(flash: &mut Flash, now: u64, device_key: &DeviceKey) -> (Vec<u8>, LoadReport) {
    let pool: SessionPool<16> = SessionPool::new();
    let mut store = Store::new(flash, 0..Flash::SIZE, device_key).unwrap();
    let mut ids = Vec::new();
    let report = block_on(store.load_all(&pool, 0, Some(now), |s| {
        let t = ticket_of(&s);
        assert_eq!(t, ticket_bytes(id_of(&t)));
        ids.push(id_of(&t));
    }))
    .unwrap();
    ids.sort();
    (ids, report)
}

/// Serialised size of a test record: 61 fixed bytes, a 32-byte PSK, 2 length bytes, 192 ticket
/// bytes (encore_session::codec).
const ENCODED: usize = 61 + 32 + 2 + 192;
/// Map item data: 1 key byte and the sealed value.
const ITEM_DATA: usize = 1 + SEAL_OVERHEAD + ENCODED;

/// E5: flash bytes per record and per tombstone, and the work buffer.
#[test]
fn sizes_of_sealed_records() {
    assert_eq!(SEAL_OVERHEAD, 61);
    assert_eq!(ITEM_DATA, 349);
    // 8-byte item header + 349 data bytes padded to 352.
    assert_eq!(record_flash_len(ENCODED, 4), 360);
    // The largest record: 48-byte PSK, 256-byte ticket.
    assert_eq!(record_flash_len(61 + 48 + 2 + 256, 4), 440);
    assert_eq!(record_flash_len(61 + 48 + 2 + 256, 32), 32 + 448);
    assert_eq!(record_flash_len(ENCODED, 32), 32 + 352);
    // A rustls ticket (125 bytes): 8 + 282 data bytes padded to 284.
    assert_eq!(record_flash_len(61 + 32 + 2 + 125, 4), 292);
    assert_eq!(record_flash_len(61 + 32 + 2 + 125, 32), 32 + 288);
    assert_eq!(tombstone_flash_len(4), 12);
    assert_eq!(tombstone_flash_len(32), 64);
    assert_eq!(buffer_len(256), 448);
}

#[test]
fn c28_store_load_consume_across_reboots() {
    let pool: SessionPool<8> = SessionPool::new();
    let mut flash = Flash::new();
    let mut rng = TestRng(1);
    {
        let mut store = store(&mut flash);
        let report = block_on(store.load_all(&pool, 0, Some(T0), |_| {})).unwrap();
        assert_eq!(report, LoadReport::default());
        let a = ticket(&pool, 1, CTX, T0, 7200);
        let b = ticket(&pool, 2, CTX, T0, 7200);
        assert_eq!(
            block_on(store.store(&a, 0, Some(T0), &mut rng)),
            Ok(Stored::Written {
                slot: 0,
                evicted: false
            })
        );
        assert_eq!(
            block_on(store.store(&b, 0, Some(T0), &mut rng)),
            Ok(Stored::Written {
                slot: 1,
                evicted: false
            })
        );
        assert_eq!(store.live(), 2);
    }
    let (ids, report) = boot(&mut flash, T0 + 60, &key());
    assert_eq!(ids, [1, 2]);
    assert_eq!(
        report,
        LoadReport {
            loaded: 2,
            ..LoadReport::default()
        }
    );

    // The next boot resumes with ticket 1: consumed before the ClientHello.
    {
        let pool: SessionPool<8> = SessionPool::new();
        let mut store = store(&mut flash);
        let mut loaded = Vec::new();
        block_on(store.load_all(&pool, 0, Some(T0 + 60), |s| loaded.push(s))).unwrap();
        let one = loaded.iter().find(|s| id_of(&ticket_of(s)) == 1).unwrap();
        assert_eq!(block_on(store.consume(one)), Ok(true));
        // Consuming again finds nothing: already gone from flash.
        assert_eq!(block_on(store.consume(one)), Ok(false));
        assert_eq!(store.live(), 1);
    }
    let (ids, report) = boot(&mut flash, T0 + 120, &key());
    assert_eq!(ids, [2]);
    assert_eq!((report.loaded, report.empty), (1, 1));
}

#[test]
fn e6_loaded_ages_come_from_the_wall_clock() {
    let pool: SessionPool<8> = SessionPool::new();
    let mut flash = Flash::new();
    {
        let mut store = store(&mut flash);
        block_on(store.load_all(&pool, 0, Some(T0), |_| {})).unwrap();
        let a = ticket(&pool, 1, CTX, T0, 7200);
        block_on(store.store(&a, 0, Some(T0), &mut TestRng(1))).unwrap();
    }
    // Reboot 90 s later: the monotonic clock restarted at 5 s.
    let pool: SessionPool<8> = SessionPool::new();
    let mut store = store(&mut flash);
    let mut loaded = Vec::new();
    block_on(store.load_all(&pool, 5_000, Some(T0 + 90), |s| loaded.push(s))).unwrap();
    let s = &loaded[0];
    let info = s.info().unwrap();
    assert_eq!(info.received_unix, Some(T0));
    assert_eq!(info.received_ms, 5_000 - 90_000);
    // C30 after the reboot: age 90 s + 1 s of monotonic time.
    assert_eq!(
        s.with(|r| r.obfuscated_age(6_000)).unwrap(),
        Some(91_000u32.wrapping_add(0x1000_0001))
    );
}

#[test]
fn e6_expired_records_are_not_loaded_and_pruned() {
    let pool: SessionPool<8> = SessionPool::new();
    let mut flash = Flash::new();
    {
        let mut store = store(&mut flash);
        block_on(store.load_all(&pool, 0, Some(T0), |_| {})).unwrap();
        // Lifetime 100 s.
        let short = ticket(&pool, 1, CTX, T0, 100);
        // 7-day lifetime, but the server was authenticated 6 days 23 h before receipt (C29 chain).
        let chained = pool
            .create(&NewSession {
                version: TLS13,
                cipher_suite: 0x1301,
                psk: &psk_bytes(2),
                ticket: &ticket_bytes(2),
                lifetime_s: SEVEN_DAYS_S,
                age_add: 2,
                max_early_data: 0,
                received_ms: 0,
                received_unix: Some(T0),
                auth_age_ms: (u64::from(SEVEN_DAYS_S) - 3600) * 1000,
                peer: peer(),
                owner: CTX,
            })
            .unwrap();
        let long = ticket(&pool, 3, CTX, T0, SEVEN_DAYS_S);
        for s in [&short, &chained, &long] {
            block_on(store.store(s, 0, Some(T0), &mut TestRng(1))).unwrap();
        }
    }
    // 99 s later, all three load.
    assert_eq!(boot(&mut flash, T0 + 99, &key()).0, [1, 2, 3]);
    // 100 s later, the short ticket is past its lifetime.
    let (ids, report) = boot(&mut flash, T0 + 100, &key());
    assert_eq!(ids, [2, 3]);
    assert_eq!((report.loaded, report.expired), (2, 1));
    // 1 h later, the chained ticket is 7 days from its original authentication.
    let (ids, report) = boot(&mut flash, T0 + 3600, &key());
    assert_eq!(ids, [3]);
    assert_eq!((report.loaded, report.expired), (1, 2));

    // Prune writes one tombstone per expired record: 2 writes of 12 bytes each.
    let pool: SessionPool<8> = SessionPool::new();
    let mut store = store(&mut flash);
    block_on(store.load_all(&pool, 0, Some(T0 + 3600), |_| {})).unwrap();
    let before = store.wear();
    assert_eq!(block_on(store.prune(T0 + 3600)), Ok(2));
    let cost = store.wear() - before;
    assert_eq!((cost.writes, cost.bytes_written, cost.erases), (4, 24, 0));
    assert_eq!(block_on(store.prune(T0 + 3600)), Ok(0));
    drop(store);
    let (ids, report) = boot(&mut flash, T0 + 3600, &key());
    assert_eq!(ids, [3]);
    assert_eq!((report.loaded, report.expired, report.empty), (1, 0, 2));
}

#[test]
fn e6_wall_clock_required_and_clock_behind_keeps_records() {
    let pool: SessionPool<8> = SessionPool::new();
    let mut flash = Flash::new();
    {
        let mut store = store(&mut flash);
        assert_eq!(
            block_on(store.load_all(&pool, 0, None, |_| {})),
            Err(StoreError::WallClockUnknown)
        );
        let a = ticket(&pool, 1, CTX, T0, 7200);
        assert_eq!(
            block_on(store.store(&a, 0, Some(T0), &mut TestRng(1))),
            Err(StoreError::NotLoaded)
        );
        assert_eq!(block_on(store.consume(&a)), Err(StoreError::NotLoaded));
        assert_eq!(block_on(store.prune(T0)), Err(StoreError::NotLoaded));
        block_on(store.load_all(&pool, 0, Some(T0), |_| {})).unwrap();
        block_on(store.store(&a, 0, Some(T0), &mut TestRng(1))).unwrap();
    }
    // A clock earlier than the receipt: the age is unknown, so not loaded, and not pruned either.
    let pool: SessionPool<8> = SessionPool::new();
    let mut store = store(&mut flash);
    let report = block_on(store.load_all(&pool, 0, Some(T0 - 10), |_| {})).unwrap();
    assert_eq!((report.loaded, report.not_loaded), (0, 1));
    assert_eq!(block_on(store.prune(T0 - 10)), Ok(0));
    assert_eq!(store.live(), 1);
    drop(store);
    assert_eq!(boot(&mut flash, T0, &key()).0, [1]);
}

/// C16, C28, C29: nothing is written for a ticket already stored, used, or expired, nor when
/// the RNG fails.
#[test]
fn store_skips_used_duplicate_and_expired_records() {
    let pool: SessionPool<8> = SessionPool::new();
    let mut flash = Flash::new();
    let mut store = store(&mut flash);
    block_on(store.load_all(&pool, 0, Some(T0), |_| {})).unwrap();
    let a = ticket(&pool, 1, CTX, T0, 7200);
    block_on(store.store(&a, 0, Some(T0), &mut TestRng(1))).unwrap();
    let before = store.wear();
    // C16: the same ticket again.
    assert_eq!(
        block_on(store.store(&a, 0, Some(T0), &mut TestRng(1))),
        Ok(Stored::AlreadyStored { slot: 0 })
    );
    // C28: a used record is never worth storing.
    let used = ticket(&pool, 2, CTX, T0, 7200);
    assert_eq!(used.mark_used(), Ok(true));
    assert_eq!(
        block_on(store.store(&used, 0, Some(T0), &mut TestRng(1))),
        Ok(Stored::NotResumable)
    );
    // Past its lifetime already.
    let old = ticket(&pool, 3, CTX, T0 - 200, 100);
    assert_eq!(
        block_on(store.store(&old, 0, Some(T0), &mut TestRng(1))),
        Ok(Stored::NotResumable)
    );
    // A broken RNG: nothing written.
    let b = ticket(&pool, 4, CTX, T0, 7200);
    assert_eq!(
        block_on(store.store(&b, 0, Some(T0), &mut BrokenRng)),
        Err(StoreError::Rng)
    );
    let cost = store.wear() - before;
    assert_eq!((cost.writes, cost.erases), (0, 0));
    assert_eq!(store.live(), 1);
}

/// As C19 for the cache: a full store evicts (the record received first), never errors, and never
/// evicts the incoming record.
#[test]
fn full_store_evicts_the_oldest_record() {
    let pool: SessionPool<16> = SessionPool::new();
    let mut flash = Flash::new();
    let mut store = store(&mut flash);
    block_on(store.load_all(&pool, 0, Some(T0), |_| {})).unwrap();
    let mut handles = Vec::new();
    for id in 0..8u8 {
        let s = ticket(&pool, id, CTX, T0 + u64::from(id), 7200);
        assert_eq!(
            block_on(store.store(&s, 0, Some(T0 + 10), &mut TestRng(1))),
            Ok(Stored::Written {
                slot: id,
                evicted: false
            })
        );
        handles.push(s);
    }
    let ninth = ticket(&pool, 8, CTX, T0 + 10, 7200);
    // Slot 0 holds ticket 0, received first.
    assert_eq!(
        block_on(store.store(&ninth, 0, Some(T0 + 10), &mut TestRng(1))),
        Ok(Stored::Written {
            slot: 0,
            evicted: true
        })
    );
    assert_eq!(store.live(), 8);
    // Ticket 0 is no longer on flash: nothing to consume.
    assert_eq!(block_on(store.consume(&handles[0])), Ok(false));
    drop(store);
    assert_eq!(
        boot(&mut flash, T0 + 20, &key()).0,
        [1, 2, 3, 4, 5, 6, 7, 8]
    );
}

/// Tickets received in the same second (two per full handshake) are evicted in the order they
/// were written, also after a reboot.
#[test]
fn eviction_breaks_ties_by_write_order() {
    let pool: SessionPool<16> = SessionPool::new();
    let mut flash = Flash::new();
    {
        let mut store = store(&mut flash);
        block_on(store.load_all(&pool, 0, Some(T0), |_| {})).unwrap();
        // Slots 0..8 in order, then slot 3 freed and refilled: it now holds the newest record.
        let mut handles = Vec::new();
        for id in 0..8u8 {
            let s = ticket(&pool, id, CTX, T0, 7200);
            block_on(store.store(&s, 0, Some(T0), &mut TestRng(1))).unwrap();
            handles.push(s);
        }
        assert_eq!(block_on(store.consume(&handles[0])), Ok(true));
        let s = ticket(&pool, 8, CTX, T0, 7200);
        assert_eq!(
            block_on(store.store(&s, 0, Some(T0), &mut TestRng(1))),
            Ok(Stored::Written {
                slot: 0,
                evicted: false
            })
        );
        // Full: ticket 1 (slot 1) was written first among the live ones.
        let s = ticket(&pool, 9, CTX, T0, 7200);
        assert_eq!(
            block_on(store.store(&s, 0, Some(T0), &mut TestRng(1))),
            Ok(Stored::Written {
                slot: 1,
                evicted: true
            })
        );
    }
    // After a reboot the map's order gives the same answer: ticket 2 (slot 2) next.
    let mut store = store(&mut flash);
    block_on(store.load_all(&pool, 0, Some(T0), |_| {})).unwrap();
    let s = ticket(&pool, 10, CTX, T0, 7200);
    assert_eq!(
        block_on(store.store(&s, 0, Some(T0), &mut TestRng(1))),
        Ok(Stored::Written {
            slot: 2,
            evicted: true
        })
    );
}

/// E1: an exhausted pool is a counted outcome; the records stay on flash for a later boot.
#[test]
fn pool_exhausted_leaves_records_on_flash() {
    let pool: SessionPool<8> = SessionPool::new();
    let mut flash = Flash::new();
    {
        let mut store = store(&mut flash);
        block_on(store.load_all(&pool, 0, Some(T0), |_| {})).unwrap();
        for id in 0..3 {
            let s = ticket(&pool, id, CTX, T0, 7200);
            block_on(store.store(&s, 0, Some(T0), &mut TestRng(1))).unwrap();
        }
    }
    let small: SessionPool<2> = SessionPool::new();
    let mut store = store(&mut flash);
    let mut kept = Vec::new();
    let report = block_on(store.load_all(&small, 0, Some(T0), |s| kept.push(s))).unwrap();
    assert_eq!((report.loaded, report.not_loaded), (2, 1));
    assert_eq!(store.live(), 3);
}

/// Rewrites the newest value of `slot` in the raw map (as someone with write access to the flash
/// could), applying `edit` to the sealed value.
fn rewrite(flash: &mut Flash, slot: u8, to_slot: u8, edit: impl FnOnce(&mut Vec<u8>)) {
    let mut map =
        MapStorage::<u8, _, _>::new(flash, MapConfig::new(0..Flash::SIZE), Cache::new_uncached());
    let mut buf = [0u8; 448];
    let mut value: Vec<u8> = block_on(map.fetch_item::<&[u8]>(&mut buf, &slot))
        .unwrap()
        .unwrap()
        .to_vec();
    edit(&mut value);
    block_on(map.store_item(&mut buf, &to_slot, &value.as_slice())).unwrap();
}

/// A flash with tickets 0 and 1 sealed under the test key, by context 7, in slots 0 and 1.
fn two_records() -> Flash {
    let pool: SessionPool<8> = SessionPool::new();
    let mut flash = Flash::new();
    let mut store = store(&mut flash);
    block_on(store.load_all(&pool, 0, Some(T0), |_| {})).unwrap();
    for id in 0..2 {
        let s = ticket(&pool, id, CTX, T0, 7200);
        block_on(store.store(&s, 0, Some(T0), &mut TestRng(u64::from(id)))).unwrap();
    }
    drop(store);
    flash
}

fn rejected_only(report: LoadReport, rejected: usize, malformed: usize) {
    assert_eq!(
        report,
        LoadReport {
            loaded: 2 - rejected - malformed,
            rejected,
            malformed,
            ..LoadReport::default()
        }
    );
}

/// E4: a tampered record is dropped and counted, never loaded.
#[test]
fn sealing_rejects_tampered_ciphertext_and_tag() {
    for at in [45, 100, 45 + ENCODED - 1, 45 + ENCODED, 45 + ENCODED + 15] {
        let mut flash = two_records();
        rewrite(&mut flash, 1, 1, |v| v[at] ^= 0x01);
        let (ids, report) = boot(&mut flash, T0, &key());
        assert_eq!(ids, [0], "byte {at}");
        rejected_only(report, 1, 0);
    }
    // The nonce.
    let mut flash = two_records();
    rewrite(&mut flash, 0, 0, |v| v[21] ^= 0x80);
    let (ids, report) = boot(&mut flash, T0, &key());
    assert_eq!(ids, [1]);
    rejected_only(report, 1, 0);
}

/// A record copied to another device (another key) does not open.
#[test]
fn sealing_rejects_another_device_key() {
    let mut flash = two_records();
    let (ids, report) = boot(&mut flash, T0, &DeviceKey::new([0x43; 32]));
    assert!(ids.is_empty());
    rejected_only(report, 2, 0);
    // The right key still opens both.
    assert_eq!(boot(&mut flash, T0, &key()).0, [0, 1]);
}

#[test]
fn c24_c35_sealing_rejects_another_context() {
    let mut flash = two_records();
    // The clear owner says context 8.
    rewrite(&mut flash, 0, 0, |v| {
        v[1..5].copy_from_slice(&8u32.to_be_bytes())
    });
    let (ids, report) = boot(&mut flash, T0, &key());
    assert_eq!(ids, [1]);
    rejected_only(report, 1, 0);
}

#[test]
fn c33_c35_sealing_rejects_another_peer() {
    let mut flash = two_records();
    let other = PeerId::new("other.example", &[b"mqtt"], &[7; 16]);
    rewrite(&mut flash, 1, 1, |v| v[5..21].copy_from_slice(&other.0));
    let (ids, report) = boot(&mut flash, T0, &key());
    assert_eq!(ids, [0]);
    rejected_only(report, 1, 0);
}

/// C28: a record copied into a second slot cannot survive the consumption of the first.
#[test]
fn sealing_rejects_a_record_moved_to_another_slot() {
    let mut flash = two_records();
    // Ticket 0's sealed value copied into slot 1: ticket 1 is replaced, and the copy does not open.
    rewrite(&mut flash, 0, 1, |_| {});
    let (ids, report) = boot(&mut flash, T0, &key());
    assert_eq!(ids, [0]);
    rejected_only(report, 1, 0);
}

/// E4: malformed values are dropped and counted, never a panic.
#[test]
fn malformed_values_are_dropped_and_counted() {
    // Unknown sealing format.
    let mut flash = two_records();
    rewrite(&mut flash, 0, 0, |v| v[0] = 2);
    let (ids, report) = boot(&mut flash, T0, &key());
    assert_eq!(ids, [1]);
    rejected_only(report, 0, 1);
    // Shorter than a header and a tag.
    let mut flash = two_records();
    rewrite(&mut flash, 1, 1, |v| v.truncate(60));
    let (ids, report) = boot(&mut flash, T0, &key());
    assert_eq!(ids, [0]);
    rejected_only(report, 0, 1);
    // A key outside 0..SLOTS.
    let mut flash = two_records();
    rewrite(&mut flash, 1, 200, |_| {});
    let (ids, report) = boot(&mut flash, T0, &key());
    assert_eq!(ids, [0, 1]);
    assert_eq!((report.loaded, report.foreign), (2, 1));
}

/// Bounded wear (README table): exact writes, bytes and erases of a full handshake and of a
/// resumption.
#[test]
fn wear_of_a_full_handshake_and_a_resumption() {
    let pool: SessionPool<8> = SessionPool::new();
    let mut flash = Flash::new();
    let mut store = store(&mut flash);
    let boot = block_on(store.load_all(&pool, 0, Some(T0), |_| {})).unwrap();
    assert_eq!(boot, LoadReport::default());
    // Boot on a blank store: reads only.
    assert_eq!((store.wear().writes, store.wear().erases), (0, 0));

    // Full handshake, two tickets. The first write into a blank range also sets the first
    // sector's start marker (one word).
    let before = store.wear();
    for id in [1, 2] {
        let s = ticket(&pool, id, CTX, T0, 7200);
        block_on(store.store(&s, 0, Some(T0), &mut TestRng(1))).unwrap();
    }
    let full = store.wear() - before;
    // Per record: item header (8 B), the word-aligned part of the data (348 B), and the last
    // data byte padded to a word (4 B): 3 writes, 360 bytes.
    assert_eq!(
        (full.writes, full.bytes_written, full.erases),
        (1 + 2 * 3, 4 + 2 * 360, 0)
    );

    // Steady state: another full handshake.
    let before = store.wear();
    for id in [3, 4] {
        let s = ticket(&pool, id, CTX, T0, 7200);
        block_on(store.store(&s, 0, Some(T0), &mut TestRng(1))).unwrap();
    }
    let full = store.wear() - before;
    assert_eq!(
        (full.writes, full.bytes_written, full.erases),
        (2 * 3, 2 * 360, 0)
    );

    // Resumption with ticket 1: one tombstone (header and one word), then the server's one
    // replacement ticket.
    let mut loaded = Vec::new();
    block_on(store.load_all(&pool, 0, Some(T0), |s| loaded.push(s))).unwrap();
    let one = loaded.iter().find(|s| id_of(&ticket_of(s)) == 1).unwrap();
    let before = store.wear();
    assert_eq!(block_on(store.consume(one)), Ok(true));
    let consume = store.wear() - before;
    assert_eq!(
        (consume.writes, consume.bytes_written, consume.erases),
        (2, 12, 0)
    );
    let before = store.wear();
    let replacement = ticket(&pool, 5, CTX, T0, 7200);
    block_on(store.store(&replacement, 0, Some(T0), &mut TestRng(1))).unwrap();
    let store_one = store.wear() - before;
    assert_eq!(
        (store_one.writes, store_one.bytes_written, store_one.erases),
        (3, 360, 0)
    );
}

#[test]
fn wear_over_many_resumptions_matches_the_ring_model() {
    // 400 resumptions, each consuming one ticket and storing one, on two 16 KiB sectors.
    let pool: SessionPool<16> = SessionPool::new();
    let mut flash = Flash::new();
    let mut store = store(&mut flash);
    let mut model = RingModel::new(2, 16384, 4);
    block_on(store.load_all(&pool, 0, Some(T0), |_| {})).unwrap();
    let mut live = std::collections::VecDeque::new();
    for id in 0..2u8 {
        let s = ticket(&pool, id, CTX, T0, 7200);
        let Ok(Stored::Written { slot, .. }) =
            block_on(store.store(&s, 0, Some(T0), &mut TestRng(1)))
        else {
            panic!("not written");
        };
        model.write(slot, ITEM_DATA);
        live.push_back((s, slot));
    }
    assert_eq!(strip_reads(store.wear()), model.wear);
    for round in 0..400u32 {
        let (offered, slot) = live.pop_front().unwrap();
        assert_eq!(block_on(store.consume(&offered)), Ok(true));
        model.write(slot, 1);
        drop(offered);
        let s = ticket(&pool, (round % 250) as u8 + 2, CTX, T0, 7200);
        let Ok(Stored::Written { slot, .. }) =
            block_on(store.store(&s, 0, Some(T0), &mut TestRng(u64::from(round))))
        else {
            panic!("not written");
        };
        model.write(slot, ITEM_DATA);
        live.push_back((s, slot));
        assert_eq!(strip_reads(store.wear()), model.wear, "round {round}");
    }
    let total = store.wear();
    eprintln!("2 + 400 x (consume + store): {total:?}");
    // 2 records and 400 x (12 + 360) bytes = 149 520 bytes of items, plus the two live records
    // copied at each wrap, through sectors of 16 376 bytes of item room: 9 erases.
    assert_eq!(total.erases, 9);
    // First start marker 1, 2 records 6, 400 x (tombstone 2 + record 3) = 2000, and per wrap two
    // markers and the copies of one record and one tombstone still newest on the old sector:
    // 9 x (2 + 3 + 2) = 63.
    assert_eq!(total.writes, 1 + 6 + 2000 + 63);
}

fn strip_reads(w: Wear) -> Wear {
    Wear {
        reads: 0,
        bytes_read: 0,
        ..w
    }
}

/// E5: memory of a store beside its flash driver, checked on the host (no pointers inside).
#[test]
fn e5_store_size() {
    let total = core::mem::size_of::<SessionStore<Flash, 8, 448>>();
    let flash = core::mem::size_of::<Flash>();
    eprintln!("store {total}, flash {flash}");
    // Work buffer 448, index 8 x 40 (state, owner, fingerprint 8, receipt and authentication
    // times, lifetime), cipher key 32, wear counters 40, limits 8, flash range 8, the range read
    // as erased during a boot check 12, flags, padded to the buffer's 32-byte alignment.
    assert_eq!(total - flash, 912);
}

/// E1: capacities that do not fit are an error value when the store is made, not a full flash
/// later.
#[test]
fn geometry_is_checked() {
    let mut flash = SimFlash::<4, 1024, 3>::new();
    let too_small = SessionStore::<_, 8>::new(&mut flash, 0..3072, &key());
    // 456-byte items (8 header + 448 buffer), 2 per 1 KiB sector, 2 sectors usable: 4 < 9.
    assert!(matches!(
        too_small,
        Err(StoreError::Geometry(GeometryError::TooSmallForSlots {
            fit: 4,
            needed: 9
        }))
    ));
    assert!(SessionStore::<_, 3>::new(&mut flash, 0..3072, &key()).is_ok());
    assert!(matches!(
        SessionStore::<_, 3>::new(&mut flash, 512..3072, &key()),
        Err(StoreError::Geometry(GeometryError::StartNotSectorAligned))
    ));
    assert!(matches!(
        SessionStore::<_, 3>::new(&mut flash, 0..1024, &key()),
        Err(StoreError::Geometry(GeometryError::TooFewSectors))
    ));
}

/// E4: an item with no data bytes (which this crate never writes) would make the map's item
/// iterator slice out of range; the store refuses the image with an error instead, and erasing it
/// starts afresh.
#[test]
fn empty_item_is_refused_not_a_panic() {
    let pool: SessionPool<8> = SessionPool::new();
    let mut flash = two_records();
    {
        let mut map = MapStorage::<(), _, _>::new(
            &mut flash,
            MapConfig::new(0..Flash::SIZE),
            Cache::new_uncached(),
        );
        let mut buf = [0u8; 64];
        block_on(map.store_item(&mut buf, &(), &(&[][..]))).unwrap();
    }
    let mut store = store(&mut flash);
    assert_eq!(
        block_on(store.load_all(&pool, 0, Some(T0), |_| {})),
        Err(StoreError::Corrupted)
    );
    assert_eq!(block_on(store.erase_all()), Ok(()));
    let s = ticket(&pool, 1, CTX, T0, 7200);
    assert!(matches!(
        block_on(store.store(&s, 0, Some(T0), &mut TestRng(1))),
        Ok(Stored::Written { .. })
    ));
    drop(store);
    assert_eq!(boot(&mut flash, T0, &key()).0, [1]);
}
