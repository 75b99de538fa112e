//! E4: loading any flash image is a report or an error, never a panic, and never accepts a record
//! that differs from one that was stored.

mod common;

use common::*;
use embassy_futures::block_on;
use encore_session::{ContextId, SessionPool};
use encore_store::{DeviceKey, SessionStore, Stored};
use proptest::prelude::*;

const CTX: ContextId = ContextId(3);
type Flash = SimFlash<4, 1024, 3>;
type Store<'f> = SessionStore<&'f mut Flash, 3>;

fn key() -> DeviceKey {
    DeviceKey::new([0x42; 32])
}

/// An image with two live records (ids 1 and 3) and one consumed (2), whose tombstone is the
/// newest value of its slot.
fn valid_image() -> Vec<u8> {
    let pool: SessionPool<8> = SessionPool::new();
    let mut flash = Flash::new();
    let mut store = Store::new(&mut flash, 0..Flash::SIZE, &key()).unwrap();
    block_on(store.load_all(&pool, 0, Some(T0), |_| {})).unwrap();
    let mut rng = TestRng(5);
    let handles: Vec<_> = (1..=3).map(|id| ticket(&pool, id, CTX, T0, 7200)).collect();
    for h in &handles {
        block_on(store.store(h, 0, Some(T0), &mut rng)).unwrap();
    }
    assert_eq!(block_on(store.consume(&handles[1])), Ok(true));
    drop(store);
    flash.bytes().to_vec()
}

/// Loads `image`; every record loaded must be one of the originals, byte for byte, and appear once.
/// Then the store must keep working: a store and a consume either succeed or return an error.
/// Returns the ids loaded.
///
/// Ticket 2 may come back: power cuts never destroy a committed tombstone (see `power_cut.rs`),
/// but arbitrary corruption can, and the record it superseded is then the slot's newest value.
fn load_checked(image: &[u8]) -> Vec<u8> {
    let mut flash = Flash::with_image(image);
    let pool: SessionPool<8> = SessionPool::new();
    let mut store = Store::new(&mut flash, 0..Flash::SIZE, &key()).unwrap();
    let mut loaded = Vec::new();
    let result = block_on(store.load_all(&pool, 0, Some(T0), |s| loaded.push(s)));
    let mut ids = Vec::new();
    for s in &loaded {
        let t = ticket_of(s);
        let id = id_of(&t);
        assert!((1..=3).contains(&id), "ticket {id} accepted");
        assert!(!ids.contains(&id), "ticket {id} loaded twice");
        assert_eq!(t, ticket_bytes(id));
        assert_eq!(psk_of(s), psk_bytes(id));
        ids.push(id);
    }
    ids.sort();
    if let Ok(report) = result {
        assert_eq!(report.loaded, ids.len());
        let fresh = ticket(&pool, 9, CTX, T0, 7200);
        if let Ok(Stored::Written { .. }) =
            block_on(store.store(&fresh, 0, Some(T0), &mut TestRng(8)))
        {
            let _ = block_on(store.consume(&fresh));
        }
    }
    ids
}

#[test]
fn e4_valid_image_loads_two() {
    assert_eq!(load_checked(&valid_image()), [1, 3]);
}

/// Every single-bit flip of a valid image (3 KiB, 24 576 images).
#[test]
fn e4_every_bit_flip_of_a_valid_image() {
    let image = valid_image();
    let mut outcomes = std::collections::BTreeMap::<Vec<u8>, usize>::new();
    for byte in 0..image.len() {
        for bit in 0..8 {
            let mut flipped = image.clone();
            flipped[byte] ^= 1 << bit;
            *outcomes.entry(load_checked(&flipped)).or_default() += 1;
        }
    }
    // A flip in a significant bit of an item fails its CRC and the item is ignored: ticket 1's or
    // 3's record (8-byte header and 333 data bytes: 2728 bits), or ticket 2's tombstone (8-byte
    // header, its key byte, the sealing format and the write counter: 112 bits), which brings the
    // consumed record back. Power cuts cannot do this (power_cut.rs); a flash without ECC can.
    let record_bits = (8 + 1 + 45 + 287) * 8;
    let tombstone_bits = (8 + 1 + 5) * 8;
    let expected = std::collections::BTreeMap::from([
        (vec![1], record_bits),
        (vec![3], record_bits),
        (vec![1, 2, 3], tombstone_bits),
        (
            vec![1, 3],
            image.len() * 8 - 2 * record_bits - tombstone_bits,
        ),
    ]);
    assert_eq!(outcomes, expected);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Arbitrary bytes.
    #[test]
    fn e4_random_images_never_panic(image in proptest::collection::vec(any::<u8>(), 0..3072)) {
        load_checked(&image);
    }

    /// A valid image with random overwrites: bytes, runs of 0x00 or 0xFF, and copied chunks.
    #[test]
    fn e4_mutated_images_never_panic(
        edits in proptest::collection::vec((0usize..3072, 0usize..64, any::<u8>(), 0u8..4), 1..8)
    ) {
        let mut image = valid_image();
        for (at, len, value, kind) in edits {
            let end = (at + len).min(image.len());
            match kind {
                0 => image[at] = value,
                1 => image[at..end].fill(0x00),
                2 => image[at..end].fill(0xFF),
                _ => {
                    let src = (at + usize::from(value) * 4) % image.len();
                    for i in 0..(end - at) {
                        image[at + i] = image[(src + i) % image.len()];
                    }
                }
            }
        }
        load_checked(&image);
    }
}
