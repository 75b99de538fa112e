//! Fuzzes loading a store image (E4): any flash content gives a report or an error, never a
//! panic, and the store keeps working afterwards: storing, consuming and loading again never
//! panic. (C28 across power cuts is checked by `tests/power_cut.rs`; an arbitrary image can
//! destroy a tombstone, which no power cut does, so it is not asserted here.)
#![no_main]

use embassy_futures::block_on;
use encore_session::{ContextId, SessionPool};
use encore_store::sim::{session, SimFlash, TestRng, T0};
use encore_store::{DeviceKey, SessionStore, Stored};
use libfuzzer_sys::fuzz_target;

/// Four 1 KiB sectors of 4-byte words.
type Flash = SimFlash<4, 1024, 4>;
type Store<'f> = SessionStore<&'f mut Flash, 4>;

fuzz_target!(|data: &[u8]| {
    let key = DeviceKey::new([0x42; 32]);
    let mut flash = Flash::with_image(data);
    let pool: SessionPool<8> = SessionPool::new();
    let mut store = Store::new(&mut flash, 0..Flash::SIZE, &key).expect("geometry fits");
    if block_on(store.load_all(&pool, 0, Some(T0 + 60), |_| {})).is_err() {
        // Damaged beyond repair: start afresh.
        block_on(store.erase_all()).expect("simulated flash erases");
    }
    // At most one record per slot (4) was loaded: the pool has room.
    let fresh = session(&pool, 200, ContextId(1), T0, 7200).expect("pool has room");
    let written = block_on(store.store(&fresh, 0, Some(T0 + 60), &mut TestRng(1)));
    if let Ok(Stored::Written { .. }) = written {
        let _ = block_on(store.consume(&fresh));
        let _ = block_on(store.prune(T0 + 60));
        drop(store);
        let pool: SessionPool<8> = SessionPool::new();
        let mut store = Store::new(&mut flash, 0..Flash::SIZE, &key).expect("geometry fits");
        let _ = block_on(store.load_all(&pool, 0, Some(T0 + 60), |_| {}));
    }
});
