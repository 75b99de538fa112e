//! E7 (docs/CONTRACT.md), secrets stay secret, for the store: its own memory (kept in a
//! `ManuallyDrop` slot and read byte by byte) is scanned for the device key, the two keys derived
//! from it, and every record's PSK and ticket. While the store lives it holds the derived keys
//! (the scan must find them, which shows that it works) and never the device key or a plaintext
//! record; after `drop_in_place` it holds none of them. The same for a `DeviceKey` itself.

mod common;
mod raw;

use std::mem::ManuallyDrop;

use common::*;
use embassy_futures::block_on;
use encore_session::{ContextId, SessionPool};
use encore_store::{DeviceKey, SessionStore};
use hkdf::Hkdf;
use sha2::Sha256;

type Flash = SimFlash<4, 16384, 2>;

const DEVICE_KEY: [u8; 32] = [0x42; 32];

/// The bytes of `v`, read where it lies (dropped fields and padding included).
fn bytes_of<T>(v: &T) -> Vec<u8> {
    let p = (v as *const T).cast::<u8>();
    (0..size_of_val(v))
        // SAFETY: `p + i` stays inside the `size_of_val(v)` bytes of the value `v` refers to,
        // which live at least as long as this borrow; a volatile read keeps the compiler from
        // skipping the read of dropped or padding bytes.
        .map(|i| unsafe { p.add(i).read_volatile() })
        .collect()
}

fn contains(mem: &[u8], needle: &[u8]) -> bool {
    mem.windows(needle.len()).any(|w| w == needle)
}

fn derived(info: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::new(Some(b"encore-store"), &DEVICE_KEY)
        .expand(info, &mut out)
        .unwrap();
    out
}

/// Every secret a store could hold, by name: 16-byte windows are looked for.
fn secrets() -> Vec<(String, Vec<u8>)> {
    let mut all = vec![
        ("device key".to_string(), DEVICE_KEY.to_vec()),
        (
            "seal key".to_string(),
            derived(b"encore-store 2 seal key").to_vec(),
        ),
        (
            "nonce key".to_string(),
            derived(b"encore-store 2 nonce key").to_vec(),
        ),
    ];
    assert_eq!(
        raw::derived_seal_key(&DEVICE_KEY).to_vec(),
        all[1].1,
        "the tests derive as the store does"
    );
    for id in 1..=3 {
        all.push((format!("psk {id}"), psk_bytes(id).to_vec()));
        all.push((format!("ticket {id}"), ticket_bytes(id).to_vec()));
    }
    all
}

fn found(mem: &[u8]) -> Vec<String> {
    secrets()
        .into_iter()
        .filter(|(_, bytes)| bytes.windows(16).any(|w| contains(mem, w)))
        .map(|(name, _)| name)
        .collect()
}

/// E7: after storing, loading and consuming, the store's memory holds the two derived keys and
/// nothing else secret; after it is dropped, nothing at all.
#[test]
fn e7_store_memory_holds_only_derived_keys_and_nothing_after_drop() {
    let pool: SessionPool<8> = SessionPool::new();
    let mut flash = Flash::new();
    let derived_only = ["seal key".to_string(), "nonce key".to_string()];
    {
        let key = DeviceKey::new(DEVICE_KEY);
        let mut slot =
            ManuallyDrop::new(SessionStore::<_>::new(&mut flash, 0..Flash::SIZE, &key).unwrap());
        drop(key);
        block_on(slot.load_all(&pool, 0, Some(T0), |_| {})).unwrap();
        assert_eq!(found(&bytes_of(&*slot)), derived_only, "new");
        let sessions: Vec<_> = (1..=3)
            .map(|id| ticket(&pool, id, ContextId(7), T0, 7200))
            .collect();
        for s in &sessions {
            block_on(slot.store(s, 0, Some(T0), &mut TestRng(1))).unwrap();
        }
        assert_eq!(found(&bytes_of(&*slot)), derived_only, "stored");
        drop(sessions);
        let mut loaded = Vec::new();
        let report = block_on(slot.load_all(&pool, 0, Some(T0), |s| loaded.push(s))).unwrap();
        assert_eq!(report.loaded, 3);
        assert_eq!(found(&bytes_of(&*slot)), derived_only, "loaded");
        assert_eq!(block_on(slot.consume(&loaded[0])), Ok(true));
        assert_eq!(found(&bytes_of(&*slot)), derived_only, "consumed");
        drop(loaded);

        // SAFETY: `slot` is never used again; its bytes are only read below.
        unsafe { core::ptr::drop_in_place(&mut *slot as *mut SessionStore<&mut Flash>) };
        assert_eq!(found(&bytes_of(&*slot)), Vec::<String>::new(), "dropped");
    }
}

/// E7: a `DeviceKey` wipes its bytes when dropped, also one made with `from_slice`.
#[test]
fn e7_device_key_wiped_on_drop() {
    for key in [
        DeviceKey::new(DEVICE_KEY),
        DeviceKey::from_slice(&DEVICE_KEY).unwrap(),
    ] {
        let mut slot = ManuallyDrop::new(key);
        assert!(contains(&bytes_of(&*slot), &DEVICE_KEY));
        // SAFETY: `slot` is never used again; its bytes are only read below.
        unsafe { core::ptr::drop_in_place(&mut *slot as *mut DeviceKey) };
        assert!(!contains(&bytes_of(&*slot), &DEVICE_KEY[..16]));
    }
    assert!(DeviceKey::from_slice(&DEVICE_KEY[..31]).is_none());
}
