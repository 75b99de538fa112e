//! The store's API, sealing, ages across reboots and wear, with exact counts.

mod common;
mod raw;

use common::*;
use embassy_futures::block_on;
use encore_session::{
    ContextId, Limits, NewSession, PeerId, Session, SessionPool, SEVEN_DAYS_S, TLS13,
};
use encore_store::{
    buffer_len, record_flash_len, tombstone_flash_len, DeviceKey, GeometryError, LoadReport,
    SessionStore, StoreError, Stored, Wear, SEAL_OVERHEAD, TOMBSTONE_LEN,
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

/// A store over `flash` that has loaded it at `now` (what a boot does before the first write),
/// the records loaded dropped.
fn loaded<'f, const N: usize>(flash: &'f mut Flash, pool: &SessionPool<N>, now: u64) -> Store<'f> {
    let mut store = store(flash);
    block_on(store.load_all(pool, 0, Some(now), |_| {})).unwrap();
    store
}

/// Stores `s` at `now`, with nonces from `TestRng(seed)`.
fn put<const N: usize>(
    store: &mut Store<'_>,
    s: &Session<'_, N>,
    now: u64,
    seed: u64,
) -> Result<Stored, StoreError<SimError>> {
    block_on(store.store(s, 0, Some(now), &mut TestRng(seed)))
}

/// What `put` returns for a record written into `slot`.
fn written(slot: u8, evicted: bool) -> Result<Stored, StoreError<SimError>> {
    Ok(Stored::Written { slot, evicted })
}

/// Ticket 2, received at T0 with a 7-day lifetime from a server authenticated 7 days minus 1 h
/// before (C29: a chain of resumptions does not extend authentication).
fn chained<const N: usize>(pool: &SessionPool<N>) -> Session<'_, N> {
    pool.create(&NewSession {
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
    .unwrap()
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
/// Map item data of a tombstone: 1 key byte, the sealing format and the write counter.
const TOMBSTONE_DATA: usize = 1 + TOMBSTONE_LEN;

/// E5: flash bytes per record and per tombstone, and the work buffer. Sealing format 2 (E8) puts
/// format, counter, nonce and tag around the record (45 bytes; format 1 also had owner and peer in
/// clear: 61), and a tombstone carries the format and the counter.
#[test]
fn sizes_of_sealed_records() {
    assert_eq!(SEAL_OVERHEAD, 45);
    assert_eq!(ITEM_DATA, 333);
    assert_eq!((TOMBSTONE_LEN, TOMBSTONE_DATA), (5, 6));
    // 8-byte item header + 333 data bytes padded to 336 (format 1: 360).
    assert_eq!(record_flash_len(ENCODED, 4), 344);
    // The largest record: 48-byte PSK, 256-byte ticket (format 1: 440 and 480).
    assert_eq!(record_flash_len(61 + 48 + 2 + 256, 4), 424);
    assert_eq!(record_flash_len(61 + 48 + 2 + 256, 32), 32 + 416);
    assert_eq!(record_flash_len(ENCODED, 32), 32 + 352);
    // A rustls ticket (125 bytes): 8 + 266 data bytes padded to 268 (format 1: 292, 320).
    assert_eq!(record_flash_len(61 + 32 + 2 + 125, 4), 276);
    assert_eq!(record_flash_len(61 + 32 + 2 + 125, 32), 32 + 288);
    // Tombstone: 8 + 6 data bytes padded to 8 (format 1: 12 with 4-byte words).
    assert_eq!(tombstone_flash_len(4), 16);
    assert_eq!(tombstone_flash_len(8), 16);
    assert_eq!(tombstone_flash_len(32), 64);
    assert_eq!(buffer_len(256), 416);
}

/// `flash` lends the driver the store writes through, and the store keeps it: what the
/// driver counted itself (words programmed, sectors erased) is what the store's `Wear` says it
/// asked for, and the store goes on working after the look.
#[test]
fn flash_lends_the_driver_and_its_own_counts() {
    let pool: SessionPool<8> = SessionPool::new();
    let mut flash = Flash::new();
    let mut store = loaded(&mut flash, &pool, T0);
    let s = ticket(&pool, 1, CTX, T0, 3600);
    assert_eq!(put(&mut store, &s, T0, 1), written(0, false));
    let wear = store.wear();
    assert!(wear.writes > 0);
    assert_eq!(store.flash().steps(), wear.bytes_written / 4 + wear.erases);
    let t = ticket(&pool, 2, CTX, T0, 3600);
    assert_eq!(put(&mut store, &t, T0, 2), written(1, false));
    let wear = store.wear();
    assert_eq!(store.flash().steps(), wear.bytes_written / 4 + wear.erases);
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
        for (id, slot) in [(1, 0), (2, 1)] {
            let s = ticket(&pool, id, CTX, T0, 7200);
            assert_eq!(
                block_on(store.store(&s, 0, Some(T0), &mut rng)),
                written(slot, false)
            );
        }
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
    let mut flash = flash_with(&[(1, 7200)]);
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
        let mut store = loaded(&mut flash, &pool, T0);
        // Lifetime 100 s.
        let short = ticket(&pool, 1, CTX, T0, 100);
        // 7-day lifetime, but the server was authenticated 6 days 23 h before receipt (C29 chain).
        let chained = chained(&pool);
        let long = ticket(&pool, 3, CTX, T0, SEVEN_DAYS_S);
        for s in [&short, &chained, &long] {
            put(&mut store, s, T0, 1).unwrap();
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

    // Prune writes one tombstone per expired record: 3 writes of 16 bytes in all each (header, the
    // key, format and 3 counter bytes, the last counter byte padded to a word).
    let mut store = loaded(&mut flash, &pool, T0 + 3600);
    let before = store.wear();
    assert_eq!(block_on(store.prune(T0 + 3600)), Ok(2));
    assert_eq!(cost(store.wear() - before), (6, 32, 0));
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
        assert_eq!(put(&mut store, &a, T0, 1), Err(StoreError::NotLoaded));
        assert_eq!(block_on(store.consume(&a)), Err(StoreError::NotLoaded));
        assert_eq!(block_on(store.prune(T0)), Err(StoreError::NotLoaded));
        block_on(store.load_all(&pool, 0, Some(T0), |_| {})).unwrap();
        put(&mut store, &a, T0, 1).unwrap();
    }
    // A clock earlier than the receipt: the age is unknown, so not loaded, and not pruned either.
    let pool: SessionPool<8> = SessionPool::new();
    let mut store = store(&mut flash);
    let report = block_on(store.load_all(&pool, 0, Some(T0 - 10), |_| {})).unwrap();
    assert_eq!((report.loaded, report.not_loaded), (0, 1));
    assert_eq!(report.clock_behind_store, Some(T0));
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
    let mut store = loaded(&mut flash, &pool, T0);
    let a = ticket(&pool, 1, CTX, T0, 7200);
    put(&mut store, &a, T0, 1).unwrap();
    let before = store.wear();
    // C16: the same ticket again.
    assert_eq!(
        put(&mut store, &a, T0, 1),
        Ok(Stored::AlreadyStored { slot: 0 })
    );
    // C28: a used record is never worth storing.
    let used = ticket(&pool, 2, CTX, T0, 7200);
    assert_eq!(used.mark_used(), Ok(true));
    assert_eq!(put(&mut store, &used, T0, 1), Ok(Stored::NotResumable));
    // Past its lifetime already.
    let old = ticket(&pool, 3, CTX, T0 - 200, 100);
    assert_eq!(put(&mut store, &old, T0, 1), Ok(Stored::NotResumable));
    // A broken RNG: nothing written.
    let b = ticket(&pool, 4, CTX, T0, 7200);
    assert_eq!(
        block_on(store.store(&b, 0, Some(T0), &mut BrokenRng)),
        Err(StoreError::Rng)
    );
    assert_eq!(cost(store.wear() - before), (0, 0, 0));
    assert_eq!(store.live(), 1);
}

/// As C19 for the cache: a full store evicts (the record received first), never errors, and never
/// evicts the incoming record.
#[test]
fn full_store_evicts_the_oldest_record() {
    let pool: SessionPool<16> = SessionPool::new();
    let mut flash = Flash::new();
    let mut store = loaded(&mut flash, &pool, T0);
    let mut handles = Vec::new();
    for id in 0..8u8 {
        let s = ticket(&pool, id, CTX, T0 + u64::from(id), 7200);
        assert_eq!(put(&mut store, &s, T0 + 10, 1), written(id, false));
        handles.push(s);
    }
    let ninth = ticket(&pool, 8, CTX, T0 + 10, 7200);
    // Slot 0 holds ticket 0, received first.
    assert_eq!(put(&mut store, &ninth, T0 + 10, 1), written(0, true));
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
        let mut store = loaded(&mut flash, &pool, T0);
        // Slots 0..8 in order, then slot 0 freed and refilled: it now holds the newest record.
        let mut handles = Vec::new();
        for id in 0..8u8 {
            let s = ticket(&pool, id, CTX, T0, 7200);
            put(&mut store, &s, T0, 1).unwrap();
            handles.push(s);
        }
        assert_eq!(block_on(store.consume(&handles[0])), Ok(true));
        let s = ticket(&pool, 8, CTX, T0, 7200);
        assert_eq!(put(&mut store, &s, T0, 1), written(0, false));
        // Full: ticket 1 (slot 1) was written first among the live ones.
        let s = ticket(&pool, 9, CTX, T0, 7200);
        assert_eq!(put(&mut store, &s, T0, 1), written(1, true));
    }
    // After a reboot the map's order gives the same answer: ticket 2 (slot 2) next.
    let mut store = loaded(&mut flash, &pool, T0);
    let s = ticket(&pool, 10, CTX, T0, 7200);
    assert_eq!(put(&mut store, &s, T0, 1), written(2, true));
}

/// E1: an exhausted pool is a counted outcome; the records stay on flash for a later boot.
#[test]
fn pool_exhausted_leaves_records_on_flash() {
    let mut flash = flash_with(&[(0, 7200), (1, 7200), (2, 7200)]);
    let small: SessionPool<2> = SessionPool::new();
    let mut store = store(&mut flash);
    let mut kept = Vec::new();
    let report = block_on(store.load_all(&small, 0, Some(T0), |s| kept.push(s))).unwrap();
    assert_eq!((report.loaded, report.not_loaded), (2, 1));
    assert_eq!(store.live(), 3);
}

/// Boots [`two_records`] after the newest value of `slot` was rewritten in the raw map (as
/// someone with write access to the flash could): `edit` applied to the sealed value, written
/// back as the value of `to_slot`. Returns what [`boot`] returns.
fn boot_edited(slot: u8, to_slot: u8, edit: impl FnOnce(&mut Vec<u8>)) -> (Vec<u8>, LoadReport) {
    let mut flash = two_records();
    let mut map = MapStorage::<u8, _, _>::new(
        &mut flash,
        MapConfig::new(0..Flash::SIZE),
        Cache::new_uncached(),
    );
    let mut buf = [0u8; 448];
    let mut value: Vec<u8> = block_on(map.fetch_item::<&[u8]>(&mut buf, &slot))
        .unwrap()
        .unwrap()
        .to_vec();
    edit(&mut value);
    block_on(map.store_item(&mut buf, &to_slot, &value.as_slice())).unwrap();
    boot(&mut flash, T0, &key())
}

/// A flash with `tickets` (id, server lifetime), received and stored at T0 by context 7, sealed
/// under the test key in slots 0, 1, ... in order.
fn flash_with(tickets: &[(u8, u32)]) -> Flash {
    let pool: SessionPool<8> = SessionPool::new();
    let mut flash = Flash::new();
    let mut store = loaded(&mut flash, &pool, T0);
    for (slot, &(id, lifetime_s)) in tickets.iter().enumerate() {
        let s = ticket(&pool, id, CTX, T0, lifetime_s);
        assert_eq!(
            put(&mut store, &s, T0, u64::from(id)),
            written(slot as u8, false)
        );
    }
    drop(store);
    flash
}

/// A flash with tickets 0 and 1 in slots 0 and 1.
fn two_records() -> Flash {
    flash_with(&[(0, 7200), (1, 7200)])
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
    for at in [29, 100, 29 + ENCODED - 1, 29 + ENCODED, 29 + ENCODED + 15] {
        let (ids, report) = boot_edited(1, 1, |v| v[at] ^= 0x01);
        assert_eq!(ids, [0], "byte {at}");
        rejected_only(report, 1, 0);
    }
    // The nonce.
    let (ids, report) = boot_edited(0, 0, |v| v[20] ^= 0x80);
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

/// E8: the write counter is clear but authenticated: a record whose counter was edited (to make
/// the next boot reuse a counter, for example) does not open.
#[test]
fn e8_clear_counter_is_authenticated() {
    for at in [1, 4] {
        let (ids, report) = boot_edited(0, 0, |v| v[at] ^= 0x01);
        assert_eq!(ids, [1], "byte {at}");
        rejected_only(report, 1, 0);
    }
}

/// C24, C35: the owner context id is only inside the sealed record (serialised-record offset
/// 12..16). Flipping ciphertext bits there, which a stream cipher would turn into another owner
/// in the plaintext, fails the tag: a record cannot be passed off as another context's.
#[test]
fn c24_c35_sealing_rejects_another_context() {
    let (ids, report) = boot_edited(0, 0, |v| {
        for (b, x) in v[29 + 12..29 + 16].iter_mut().zip((7u32 ^ 8).to_be_bytes()) {
            *b ^= x;
        }
    });
    assert_eq!(ids, [1]);
    rejected_only(report, 1, 0);
}

/// C33, C35: the peer identity is only inside the sealed record (serialised-record offset
/// 16..32); editing it there fails the tag, so a record cannot be offered to another server.
#[test]
fn c33_c35_sealing_rejects_another_peer() {
    let other = PeerId::new("other.example", &[b"mqtt"], &[7; 16]);
    let (ids, report) = boot_edited(1, 1, |v| {
        for ((b, new), old) in v[29 + 16..29 + 32].iter_mut().zip(other.0).zip(peer().0) {
            *b ^= new ^ old;
        }
    });
    assert_eq!(ids, [0]);
    rejected_only(report, 1, 0);
}

/// C28: a record copied into a second slot cannot survive the consumption of the first.
#[test]
fn sealing_rejects_a_record_moved_to_another_slot() {
    // Ticket 0's sealed value copied into slot 1: ticket 1 is replaced, and the copy does not open.
    let (ids, report) = boot_edited(0, 1, |_| {});
    assert_eq!(ids, [0]);
    rejected_only(report, 1, 0);
}

/// E4: malformed values are dropped and counted, never a panic.
#[test]
fn malformed_values_are_dropped_and_counted() {
    // Unknown sealing format.
    let (ids, report) = boot_edited(0, 0, |v| v[0] = 3);
    assert_eq!(ids, [1]);
    rejected_only(report, 0, 1);
    // Shorter than a header and a tag.
    let (ids, report) = boot_edited(1, 1, |v| v.truncate(44));
    assert_eq!(ids, [0]);
    rejected_only(report, 0, 1);
    // A tombstone of the wrong length.
    let (ids, report) = boot_edited(1, 1, |v| v.truncate(4));
    assert_eq!(ids, [0]);
    rejected_only(report, 0, 1);
    // A key outside 0..SLOTS.
    let (ids, report) = boot_edited(1, 200, |_| {});
    assert_eq!(ids, [0, 1]);
    assert_eq!((report.loaded, report.foreign), (2, 1));
}

/// E8: nothing on flash in clear names the server or the context. The whole image, every
/// superseded item included, holds neither the peer identity, nor the server name, nor the
/// owner context id, nor any 8 bytes of a ticket or PSK, nor the device key. The same records
/// sealed as format 1 did show the peer identity and the owner.
#[test]
fn e8_flash_holds_nothing_in_clear_that_names_the_server() {
    let owner = ContextId(0x5EC0_4E7D);
    let contains = |image: &[u8], needle: &[u8]| image.windows(needle.len()).any(|w| w == needle);
    let pool: SessionPool<8> = SessionPool::new();
    let mut flash = Flash::new();
    let mut sessions = Vec::new();
    {
        let mut store = loaded(&mut flash, &pool, T0);
        for id in 0..3 {
            let s = ticket(&pool, id, owner, T0, 7200);
            put(&mut store, &s, T0, 1).unwrap();
            sessions.push(s);
        }
        assert_eq!(block_on(store.consume(&sessions[1])), Ok(true));
    }
    let image = flash.bytes();
    assert_eq!(raw::items::<4, 16384, 2>(image).len(), 4);
    assert!(!contains(image, &peer().0));
    assert!(!contains(image, b"device.example"));
    assert!(!contains(image, &owner.0.to_be_bytes()));
    assert!(!contains(image, &owner.0.to_le_bytes()));
    assert!(!contains(image, &[0x42; 32]));
    for id in 0..3 {
        for window in ticket_bytes(id).windows(8) {
            assert!(!contains(image, window), "ticket {id}");
        }
        assert!(!contains(image, &psk_bytes(id)[..8]), "psk {id}");
    }

    // Format 1 wrote the peer identity and the owner in clear.
    let mut old = Flash::new();
    let value = raw::seal_format_1(&[0x42; 32], 0, &sessions[0], [9; 24]);
    raw::write_value(&mut old, Flash::SIZE, 0, &value);
    assert!(contains(old.bytes(), &peer().0));
    assert!(contains(old.bytes(), &owner.0.to_be_bytes()));
}

/// E8: records are sealed under a key derived from the device key with HKDF-SHA256 and a label
/// (salt `encore-store`, info `encore-store 2 seal key`), never under the device key itself.
#[test]
fn e8_seal_key_is_derived_not_the_device_key() {
    let pool: SessionPool<8> = SessionPool::new();
    let flash = two_records();
    let items = raw::items::<4, 16384, 2>(flash.bytes());
    assert_eq!(items.len(), 2);
    for (slot, value) in &items {
        assert!(raw::is_sealed_record(value));
        assert_eq!(raw::open_with(&[0x42; 32], *slot, value), None);
        let plain = raw::open_with(&raw::derived_seal_key(&[0x42; 32]), *slot, value).unwrap();
        // The plaintext is the record's serialised form, which names its owner and peer.
        let s = pool.decode(&plain, 0, Some(T0)).unwrap();
        let info = s.info().unwrap();
        assert_eq!((info.owner, info.peer), (CTX, peer()));
        assert_eq!(id_of(&ticket_of(&s)), *slot);
    }
}

/// E8: with a generator that always returns the same bytes, the same record stored again into the
/// same slot still gets a new nonce, within a boot and across reboots, also after every slot's
/// newest value became a tombstone: the write counter (clear, in each record and each tombstone)
/// goes on from the highest found on flash.
#[test]
fn e8_nonces_never_repeat_with_a_repeating_generator() {
    let pool: SessionPool<8> = SessionPool::new();
    let mut flash = Flash::new();
    let a = ticket(&pool, 1, CTX, T0, 7200);
    // Boot 1: store, consume, store the same record again (slot 0 both times).
    {
        let mut store = loaded(&mut flash, &pool, T0);
        for _ in 0..2 {
            assert_eq!(
                block_on(store.store(&a, 0, Some(T0), &mut RepeatingRng(7))),
                written(0, false)
            );
            assert_eq!(block_on(store.consume(&a)), Ok(true));
        }
    }
    // Boot 2: only tombstones are newest; store and consume the same record again.
    for _ in 0..2 {
        let pool2: SessionPool<8> = SessionPool::new();
        let mut store = store(&mut flash);
        let report = block_on(store.load_all(&pool2, 0, Some(T0 + 1), |_| {})).unwrap();
        assert_eq!((report.loaded, report.empty), (0, 1));
        block_on(store.store(&a, 0, Some(T0), &mut RepeatingRng(7))).unwrap();
        assert_eq!(block_on(store.consume(&a)), Ok(true));
    }
    let items = raw::items::<4, 16384, 2>(flash.bytes());
    let records: Vec<&Vec<u8>> = items
        .iter()
        .map(|(_, v)| v)
        .filter(|v| raw::is_sealed_record(v))
        .collect();
    let tombstones: Vec<&Vec<u8>> = items
        .iter()
        .map(|(_, v)| v)
        .filter(|v| v.len() == 5)
        .collect();
    assert_eq!((records.len(), tombstones.len()), (4, 4));
    // Counters 1, 2, 3, 4; each tombstone carries the counter of the record it consumed.
    let counters: Vec<u32> = records.iter().map(|v| raw::counter_of(v)).collect();
    assert_eq!(counters, [1, 2, 3, 4]);
    let carried: Vec<u32> = tombstones.iter().map(|v| raw::counter_of(v)).collect();
    assert_eq!(carried, [1, 2, 3, 4]);
    // Same record, same slot, same generator output: four different nonces and ciphertexts.
    let nonces: std::collections::BTreeSet<[u8; 24]> =
        records.iter().map(|v| raw::nonce_of(v)).collect();
    assert_eq!(nonces.len(), 4);
    let bodies: std::collections::BTreeSet<&[u8]> = records.iter().map(|v| &v[29..]).collect();
    assert_eq!(bodies.len(), 4);
}

/// E8: a counter at `u32::MAX` (only a forged tombstone gets there) refuses to write a record
/// rather than repeat a counter; consuming still works, and `erase_all` starts afresh.
#[test]
fn e8_counter_exhausted_refuses_to_write() {
    let pool: SessionPool<8> = SessionPool::new();
    let mut flash = two_records();
    raw::write_value(&mut flash, Flash::SIZE, 5, &[2, 0xFF, 0xFF, 0xFF, 0xFF]);
    let mut store = store(&mut flash);
    let mut loaded = Vec::new();
    let report = block_on(store.load_all(&pool, 0, Some(T0), |s| loaded.push(s))).unwrap();
    assert_eq!((report.loaded, report.empty), (2, 1));
    let s = ticket(&pool, 3, CTX, T0, 7200);
    let before = store.wear();
    assert_eq!(
        put(&mut store, &s, T0, 1),
        Err(StoreError::CounterExhausted)
    );
    assert_eq!(store.wear().writes, before.writes);
    assert_eq!(block_on(store.consume(&loaded[0])), Ok(true));
    drop(loaded);
    // The erase restarts the counter, as the next boot would find it: the record gets 1.
    assert_eq!(block_on(store.erase_all()), Ok(()));
    assert_eq!(put(&mut store, &s, T0, 1), written(0, false));
    drop(store);
    let items = raw::items::<4, 16384, 2>(flash.bytes());
    assert_eq!(items.len(), 1);
    assert_eq!(raw::counter_of(&items[0].1), 1);
}

/// E8: an image written by sealing format 1 (before issue 15: the device key itself as cipher
/// key, owner and peer in clear) is not opened: each record counts in `old_format`, none is
/// loaded, format-1 tombstones stay tombstones, new records reuse the old slots, and `prune`
/// tombstones the rest.
#[test]
fn e8_format_1_image_is_reported_not_loaded_and_pruned() {
    let pool: SessionPool<8> = SessionPool::new();
    let mut flash = Flash::new();
    for id in 0..3u8 {
        let s = ticket(&pool, id, CTX, T0, 7200);
        let value = raw::seal_format_1(&[0x42; 32], id, &s, [id; 24]);
        raw::write_value(&mut flash, Flash::SIZE, id, &value);
    }
    // Slot 1 consumed, as format 1 did it: an empty value.
    raw::write_value(&mut flash, Flash::SIZE, 1, &[]);

    let mut store = store(&mut flash);
    let report = block_on(store.load_all(&pool, 0, Some(T0 + 60), |_| panic!("loaded"))).unwrap();
    assert_eq!(
        report,
        LoadReport {
            old_format: 2,
            empty: 1,
            ..LoadReport::default()
        }
    );
    assert_eq!(store.live(), 0);
    // A new record goes into the first empty slot, then into the old records' slots.
    for (id, slot) in [(7, 1), (8, 3)] {
        let s = ticket(&pool, id, CTX, T0 + 60, 7200);
        assert_eq!(put(&mut store, &s, T0 + 60, 1), written(slot, false));
    }
    // Both old records are still there (empty slots come first); prune tombstones them.
    assert_eq!(block_on(store.prune(T0 + 60)), Ok(2));
    drop(store);
    let (ids, report) = boot(&mut flash, T0 + 60, &key());
    assert_eq!(ids, [7, 8]);
    assert_eq!((report.loaded, report.old_format, report.empty), (2, 0, 2));
}

/// C29: `with_limits` caps both limits at 7 days, as the cache does: a record whose server was
/// authenticated 7 days minus 1 h before its receipt is not loaded an hour later, even when the
/// store was asked for more.
#[test]
fn c29_store_limits_capped_at_7_days() {
    let pool: SessionPool<8> = SessionPool::new();
    let mut flash = Flash::new();
    put(&mut loaded(&mut flash, &pool, T0), &chained(&pool), T0, 1).unwrap();
    let wide = Limits {
        timeout_s: u32::MAX,
        max_auth_age_s: u32::MAX,
    };
    for (now, loaded) in [(T0 + 3599, 1), (T0 + 3600, 0)] {
        let pool: SessionPool<8> = SessionPool::new();
        let mut store = store(&mut flash).with_limits(wide);
        let report = block_on(store.load_all(&pool, 0, Some(now), |_| {})).unwrap();
        assert_eq!((report.loaded, report.expired), (loaded, 1 - loaded));
        assert_eq!(block_on(store.prune(now)), Ok(1 - loaded));
    }
}

/// C29, E6: a wall clock earlier than the newest receipt on flash was set back (or the records
/// were saved while it ran ahead). Ages measured with it would make old records young, so no
/// record is loaded, `clock_behind_store` reports the newest receipt, and the records stay on
/// flash: a later boot with a clock past that receipt loads those still within their limits.
#[test]
fn c29_clock_behind_newest_receipt_loads_nothing() {
    let pool: SessionPool<8> = SessionPool::new();
    let mut flash = Flash::new();
    let day = 86_400;
    {
        let mut store = loaded(&mut flash, &pool, T0);
        // Received at T0, 7-day lifetime; and a second one 6 days later.
        let old = ticket(&pool, 1, CTX, T0, SEVEN_DAYS_S);
        put(&mut store, &old, T0, 1).unwrap();
        let newer = ticket(&pool, 2, CTX, T0 + 6 * day, SEVEN_DAYS_S);
        put(&mut store, &newer, T0 + 6 * day, 2).unwrap();
    }
    // 8 days after T0, with the right clock: the first record is too old.
    let (ids, report) = boot(&mut flash, T0 + 8 * day, &key());
    assert_eq!(ids, [2]);
    assert_eq!((report.expired, report.clock_behind_store), (1, None));

    // The clock set back to T0 + 1 h would make the first record 1 h old. It reads earlier than
    // the newest receipt (T0 + 6 days): nothing is loaded, nothing is pruned.
    let pool: SessionPool<8> = SessionPool::new();
    let mut store = store(&mut flash);
    let report = block_on(store.load_all(&pool, 0, Some(T0 + 3600), |_| panic!("loaded"))).unwrap();
    assert_eq!(
        report,
        LoadReport {
            not_loaded: 2,
            clock_behind_store: Some(T0 + 6 * day),
            ..LoadReport::default()
        }
    );
    assert_eq!(pool.in_use(), 0);
    assert_eq!(block_on(store.prune(T0 + 3600)), Ok(0));
    assert_eq!(store.live(), 2);
    // The store still works: a ticket received now is stored (with the clock's receipt time).
    let fresh = ticket(&pool, 3, CTX, T0 + 3600, 7200);
    assert!(matches!(
        put(&mut store, &fresh, T0 + 3600, 3),
        Ok(Stored::Written { .. })
    ));
    drop(store);

    // One second before the newest receipt is still behind; at it, the clock is accepted again.
    let (ids, report) = boot(&mut flash, T0 + 6 * day - 1, &key());
    assert!(ids.is_empty());
    assert_eq!(report.clock_behind_store, Some(T0 + 6 * day));
    let (ids, report) = boot(&mut flash, T0 + 6 * day, &key());
    assert_eq!(ids, [1, 2]);
    assert_eq!((report.expired, report.clock_behind_store), (1, None));
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
    let full_handshake = |store: &mut Store<'_>, ids: [u8; 2]| {
        let before = store.wear();
        for id in ids {
            put(store, &ticket(&pool, id, CTX, T0, 7200), T0, 1).unwrap();
        }
        cost(store.wear() - before)
    };
    // Per record: item header (8 B), the word-aligned part of the data (332 B), and the last
    // data byte padded to a word (4 B): 3 writes, 344 bytes (sealing format 1: 360).
    assert_eq!(
        full_handshake(&mut store, [1, 2]),
        (1 + 2 * 3, 4 + 2 * 344, 0)
    );
    // Steady state: another full handshake.
    assert_eq!(full_handshake(&mut store, [3, 4]), (2 * 3, 2 * 344, 0));

    // Resumption with ticket 1: one tombstone (header, one word of key, format and counter, the
    // counter's last byte padded to a word; format 1: header and one word), then the server's
    // one replacement ticket.
    let mut loaded = Vec::new();
    block_on(store.load_all(&pool, 0, Some(T0), |s| loaded.push(s))).unwrap();
    let one = loaded.iter().find(|s| id_of(&ticket_of(s)) == 1).unwrap();
    let before = store.wear();
    assert_eq!(block_on(store.consume(one)), Ok(true));
    assert_eq!(cost(store.wear() - before), (3, 16, 0));
    let before = store.wear();
    let replacement = ticket(&pool, 5, CTX, T0, 7200);
    put(&mut store, &replacement, T0, 1).unwrap();
    assert_eq!(cost(store.wear() - before), (3, 344, 0));
}

#[test]
fn wear_over_many_resumptions_matches_the_ring_model() {
    // 400 resumptions, each consuming one ticket and storing one, on two 16 KiB sectors.
    let pool: SessionPool<16> = SessionPool::new();
    let mut flash = Flash::new();
    let mut store = loaded(&mut flash, &pool, T0);
    let mut model = RingModel::new(2, 16384, 4);
    // Stores ticket `id` and tells the model: the handle and its slot.
    let put_new = |store: &mut Store<'_>, model: &mut RingModel, id: u8, seed: u64| {
        let s = ticket(&pool, id, CTX, T0, 7200);
        let Ok(Stored::Written { slot, .. }) = put(store, &s, T0, seed) else {
            panic!("not written");
        };
        model.write(slot, ITEM_DATA);
        (s, slot)
    };
    let mut live: std::collections::VecDeque<_> = (0..2u8)
        .map(|id| put_new(&mut store, &mut model, id, 1))
        .collect();
    assert_eq!(strip_reads(store.wear()), model.wear);
    for round in 0..400u32 {
        let (offered, slot) = live.pop_front().unwrap();
        assert_eq!(block_on(store.consume(&offered)), Ok(true));
        model.write(slot, TOMBSTONE_DATA);
        drop(offered);
        let id = (round % 250) as u8 + 2;
        live.push_back(put_new(&mut store, &mut model, id, u64::from(round)));
        assert_eq!(strip_reads(store.wear()), model.wear, "round {round}");
    }
    let total = store.wear();
    eprintln!("2 + 400 x (consume + store): {total:?}");
    // 2 records and 400 x (16 + 344) bytes = 144 688 bytes of items, plus the two live records
    // copied at each wrap, through sectors of 16 376 bytes of item room: 9 erases (sealing format
    // 1: 149 520 bytes, 9 erases).
    assert_eq!(total.erases, 9);
    assert_eq!(total.bytes_written, 148_004);
    // First start marker 1, 2 records 6, 400 x (tombstone 3 + record 3) = 2400, and per wrap two
    // markers and the copies of one record and one tombstone still newest on the old sector:
    // 9 x (2 + 3 + 3) = 72 (format 1: 1 + 6 + 2000 + 63 = 2070 writes, 152 944 bytes).
    assert_eq!(total.writes, 1 + 6 + 2400 + 72);
}

/// Writes, bytes written and erases.
fn cost(w: Wear) -> (u64, u64, u64) {
    (w.writes, w.bytes_written, w.erases)
}

fn strip_reads(w: Wear) -> Wear {
    Wear {
        reads: 0,
        bytes_read: 0,
        ..w
    }
}

/// A flash driver of no size, never called: the size of a store over it is the store's own.
struct NoDriver;

impl embedded_storage_async::nor_flash::ErrorType for NoDriver {
    type Error = core::convert::Infallible;
}

impl embedded_storage_async::nor_flash::ReadNorFlash for NoDriver {
    const READ_SIZE: usize = 4;
    async fn read(&mut self, _: u32, _: &mut [u8]) -> Result<(), Self::Error> {
        unreachable!()
    }
    fn capacity(&self) -> usize {
        0
    }
}

impl embedded_storage_async::nor_flash::NorFlash for NoDriver {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = 16384;
    async fn erase(&mut self, _: u32, _: u32) -> Result<(), Self::Error> {
        unreachable!()
    }
    async fn write(&mut self, _: u32, _: &[u8]) -> Result<(), Self::Error> {
        unreachable!()
    }
}

/// E5: memory of a store beside its flash driver, checked on the host (no pointers inside).
#[test]
fn e5_store_size() {
    // Work buffer 416 (the default, `buffer_len(256)`), index 8 x 40 (state, owner, fingerprint
    // 8, receipt and authentication times, lifetime), cipher key 32, nonce key 32, wear counters
    // 40, limits 8, flash range 8, the range read as erased during a boot check 12, write counter
    // and order 8, flags, padded to the buffer's 32-byte alignment.
    assert_eq!(core::mem::size_of::<SessionStore<NoDriver>>(), 896);
    // A driver adds its own size before that padding: a reference to it, 8 bytes and 24 of
    // padding.
    assert_eq!(core::mem::size_of::<Store<'_>>(), 896 + 32);
    // With the buffer of sealing format 1 (448): 32 bytes more.
    assert_eq!(core::mem::size_of::<SessionStore<NoDriver, 8, 448>>(), 928);
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
    assert_eq!(put(&mut store, &s, T0, 1), written(0, false));
    drop(store);
    assert_eq!(boot(&mut flash, T0, &key()).0, [1]);
}
