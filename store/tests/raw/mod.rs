//! Test support that reads and writes the map directly, as someone with access to the flash
//! could: every complete item of an image, and format-1 values as the builds before issue 15
//! sealed them. (Kept apart from `common`: only some of the tests need it.)
#![allow(dead_code)]

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use embassy_futures::block_on;
use embedded_storage_async::nor_flash::NorFlash;
use encore_session::Session;
use hkdf::Hkdf;
use sequential_storage::cache::Cache;
use sequential_storage::map::{MapConfig, MapStorage};
use sha2::Sha256;

use crate::common::{SimFlash, T0};

/// Every complete item of `image`, oldest first, as (slot, value): superseded values included.
pub fn items<const W: usize, const S: usize, const N: usize>(image: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut flash = SimFlash::<W, S, N>::with_image(image);
    let mut map = MapStorage::<u8, _, _>::new(
        &mut flash,
        MapConfig::new(0..SimFlash::<W, S, N>::SIZE),
        Cache::new_uncached(),
    );
    let mut buf = [0u8; 512];
    let mut out = Vec::new();
    let mut iter = block_on(map.fetch_all_items(&mut buf)).unwrap();
    while let Some((key, value)) = block_on(iter.next::<&[u8]>(&mut buf)).unwrap() {
        out.push((key, value.to_vec()));
    }
    out
}

/// Appends `value` for `slot` to the map on `flash`.
pub fn write_value<F: NorFlash>(flash: &mut F, range_end: u32, slot: u8, value: &[u8]) {
    let mut map =
        MapStorage::<u8, _, _>::new(flash, MapConfig::new(0..range_end), Cache::new_uncached());
    let mut buf = [0u8; 512];
    block_on(map.store_item(&mut buf, &slot, &value)).unwrap();
}

/// The write counter in the clear header of a format-2 sealed record or tombstone.
pub fn counter_of(value: &[u8]) -> u32 {
    u32::from_be_bytes(value[1..5].try_into().unwrap())
}

/// The nonce of a format-2 sealed record.
pub fn nonce_of(value: &[u8]) -> [u8; 24] {
    value[5..29].try_into().unwrap()
}

/// A format-2 sealed record (not a tombstone).
pub fn is_sealed_record(value: &[u8]) -> bool {
    value.first() == Some(&2) && value.len() > 5
}

/// The XChaCha20-Poly1305 key the store derives from `device_key` (store/src/key.rs, E8).
pub fn derived_seal_key(device_key: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::new(Some(b"encore-store"), device_key)
        .expand(b"encore-store 2 seal key", &mut out)
        .unwrap();
    out
}

/// Opens a format-2 sealed record of `slot` with `key`: the plaintext, or `None`.
pub fn open_with(key: &[u8; 32], slot: u8, value: &[u8]) -> Option<Vec<u8>> {
    let counter = value[1..5].to_vec();
    let nonce = nonce_of(value);
    let mut ad = b"encore-store".to_vec();
    ad.extend([2, slot]);
    ad.extend(counter);
    let mut body = value[29..value.len() - 16].to_vec();
    let tag: [u8; 16] = value[value.len() - 16..].try_into().unwrap();
    XChaCha20Poly1305::new_from_slice(key)
        .unwrap()
        .decrypt_inout_detached(
            &XNonce::from(nonce),
            &ad,
            body.as_mut_slice().into(),
            &tag.into(),
        )
        .ok()?;
    Some(body)
}

/// `session` sealed for `slot` exactly as sealing format 1 did (before issue 15): the device key
/// itself as the XChaCha20-Poly1305 key, a random nonce, owner and peer identity in clear and in
/// the associated data.
pub fn seal_format_1<const N: usize>(
    device_key: &[u8; 32],
    slot: u8,
    session: &Session<'_, N>,
    nonce: [u8; 24],
) -> Vec<u8> {
    let mut encoded = [0u8; 512];
    let n = session.encode(&mut encoded, 0, Some(T0)).unwrap();
    let info = session.info().unwrap();
    let owner = info.owner.0.to_be_bytes();
    let mut ad = b"encore-store".to_vec();
    ad.extend([1, slot]);
    ad.extend(owner);
    ad.extend(info.peer.0);
    let mut body = encoded[..n].to_vec();
    let tag = XChaCha20Poly1305::new_from_slice(device_key)
        .unwrap()
        .encrypt_inout_detached(&XNonce::from(nonce), &ad, body.as_mut_slice().into())
        .unwrap();
    let mut value = vec![1];
    value.extend(owner);
    value.extend(info.peer.0);
    value.extend(nonce);
    value.extend(body);
    value.extend(tag.as_slice());
    value
}
