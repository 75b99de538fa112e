//! The sealed form of one record on flash (sealing format 2), tombstones, and the few fields the
//! store reads from a record's serialised form.
//!
//! A map value is one of:
//!
//! - a **sealed record**:
//!
//!   | offset | size | field |
//!   |---|---|---|
//!   | 0 | 1 | sealing format ([`SEAL_FORMAT`], 2) |
//!   | 1 | 4 | write counter, big-endian (clear, authenticated) |
//!   | 5 | 24 | XChaCha20 nonce, derived (below) |
//!   | 29 | n | the record's serialised form (`encore_session::codec`), encrypted |
//!   | 29 + n | 16 | Poly1305 tag |
//!
//! - a **tombstone** (the slot's record was consumed or pruned): the sealing format and the write
//!   counter at the time, 5 bytes; or, written by format 1, no bytes at all.
//!
//! Nothing in clear names the server or the context (E8): the owner context id and the peer
//! identity exist only inside the encrypted record, which repeats them. The clear bytes are the
//! format, the counter, the nonce and the tag.
//!
//! **Keys** ([`crate::DeviceKey`]): the cipher key and the nonce key are derived from the device
//! key with HKDF-SHA256; the device key itself never encrypts.
//!
//! **Nonce**: the first 24 bytes of HMAC-SHA256 under the nonce key over the label `encore-store
//! nonce`, the format, the slot, the write counter, 32 bytes from the application's generator and
//! the serialised record. So two values sealed under one nonce would need the same generator
//! output, slot, counter *and* record; the counter never repeats on one device (it is one more than
//! the highest counter on flash, and every tombstone carries the counter too, so it survives
//! reboots, consumptions and sector erases), and even if it did (an erased or rolled-back image),
//! the record itself is in the hash: a repeated nonce could only seal the very same bytes again
//! (the construction is misuse-resistant in the way of SIV).
//!
//! **Associated data**: the label `encore-store`, the format, the map key (slot) and the counter.
//! A record copied to another device (other key) or another slot, or whose counter was edited,
//! does not open. The sealed record names its owner and peer, which the store checks after
//! opening (C24, C33, C35 apply to what the record says).
//!
//! **Format 1** (the earlier builds: the device key itself as the cipher key, a random nonce, owner
//! and peer identity in clear) is not opened: its records are counted in
//! [`crate::LoadReport::old_format`], never loaded, and [`crate::SessionStore::prune`] tombstones
//! them. Its tombstones (empty values) stay tombstones.

use core::cell::Cell;
use core::ops::Range;

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use encore_session::codec::{FORMAT_VERSION, MAGIC};
use encore_session::{ContextId, Error as SessionError, Session};
use hmac::{Hmac, KeyInit, Mac};
use sequential_storage::map::{SerializationError, Value};
use sha2::{Digest, Sha256};

use crate::key::NonceKey;

/// Sealing format this build writes and reads.
pub const SEAL_FORMAT: u8 = 2;
/// Sealing format of earlier builds, recognised only to be reported and pruned.
pub const OLD_SEAL_FORMAT: u8 = 1;
/// Bytes a sealed value adds to a record's serialised form: format, counter, nonce and tag.
pub const SEAL_OVERHEAD: usize = BODY_AT + TAG_LEN;
/// Bytes of a tombstone value: format and counter.
pub const TOMBSTONE_LEN: usize = 1 + COUNTER_LEN;

const COUNTER_AT: usize = 1;
const COUNTER_LEN: usize = 4;
const NONCE_AT: usize = 5;
const BODY_AT: usize = 29;
const TAG_LEN: usize = 16;
const NONCE_LEN: usize = 24;
/// Bytes of generator output that enter each nonce.
pub(crate) const RANDOM_LEN: usize = 32;
/// A format-1 sealed value is at least its 61-byte overhead long.
const OLD_OVERHEAD: usize = 61;

const AD_LABEL: &[u8; 12] = b"encore-store";
const AD_LEN: usize = 12 + 1 + 1 + COUNTER_LEN;
const NONCE_LABEL: &[u8] = b"encore-store nonce";

// The summary parser below reads format 1 of the record's serialised form. A new format must be
// taught to it before this crate builds again.
const _: () = assert!(FORMAT_VERSION == 1);

/// Length of a ticket fingerprint, which names a ticket in the store's RAM index.
pub(crate) const FINGERPRINT_LEN: usize = 8;

fn associated_data(slot: u8, counter: u32) -> [u8; AD_LEN] {
    let mut ad = [0u8; AD_LEN];
    let counter = counter.to_be_bytes();
    let format_and_slot = [SEAL_FORMAT, slot];
    let parts = AD_LABEL.iter().chain(&format_and_slot).chain(&counter);
    for (dst, src) in ad.iter_mut().zip(parts) {
        *dst = *src;
    }
    ad
}

/// The nonce of a record: see the module documentation. `None` only if HMAC refused its key,
/// which it never does.
pub(crate) fn derive_nonce(
    key: &NonceKey,
    random: &[u8; RANDOM_LEN],
    slot: u8,
    counter: u32,
    plaintext: &[u8],
) -> Option<[u8; NONCE_LEN]> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.0).ok()?;
    mac.update(NONCE_LABEL);
    mac.update(&[SEAL_FORMAT, slot]);
    mac.update(&counter.to_be_bytes());
    mac.update(random);
    mac.update(plaintext);
    let out = mac.finalize();
    let mut nonce = [0u8; NONCE_LEN];
    for (n, o) in nonce.iter_mut().zip(out.as_bytes().iter()) {
        *n = *o;
    }
    Some(nonce)
}

/// What a map value is, before any decryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A tombstone, with the write counter when it carries one (format 2).
    Tombstone(Option<u32>),
    /// A sealed record of this format: open it.
    Sealed,
    /// A sealed record of format 1: reported, not opened.
    OldFormat,
    /// Anything else.
    Malformed,
}

pub(crate) fn kind(value: &[u8]) -> Kind {
    match value.first() {
        None => Kind::Tombstone(None),
        Some(&SEAL_FORMAT) if value.len() == TOMBSTONE_LEN => match array_at(value, COUNTER_AT) {
            Ok(c) => Kind::Tombstone(Some(u32::from_be_bytes(c))),
            Err(_) => Kind::Malformed,
        },
        Some(&SEAL_FORMAT) if value.len() >= SEAL_OVERHEAD => Kind::Sealed,
        Some(&OLD_SEAL_FORMAT) if value.len() >= OLD_OVERHEAD => Kind::OldFormat,
        Some(_) => Kind::Malformed,
    }
}

/// Why a sealed value did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Too short, or not of this sealing format.
    Malformed,
    /// The tag does not verify: tampered bytes, another device key, slot or counter.
    Unauthentic,
}

/// Decrypts a sealed value (of [`Kind::Sealed`]) in place. On success returns the write counter
/// and where the plaintext is (`value[range]`); the caller zeroizes it after use.
pub(crate) fn open(
    cipher: &XChaCha20Poly1305,
    slot: u8,
    value: &mut [u8],
) -> Result<(u32, Range<usize>), OpenError> {
    let (head, rest) = value
        .split_at_mut_checked(BODY_AT)
        .ok_or(OpenError::Malformed)?;
    let body_len = rest
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(OpenError::Malformed)?;
    let (body, tag) = rest
        .split_at_mut_checked(body_len)
        .ok_or(OpenError::Malformed)?;
    if head.first() != Some(&SEAL_FORMAT) {
        return Err(OpenError::Malformed);
    }
    let counter = u32::from_be_bytes(array_at(head, COUNTER_AT)?);
    let nonce: [u8; NONCE_LEN] = array_at(head, NONCE_AT)?;
    let tag: [u8; TAG_LEN] = array_at(tag, 0)?;
    let ad = associated_data(slot, counter);
    cipher
        .decrypt_inout_detached(&XNonce::from(nonce), &ad, body.into(), &Tag::from(tag))
        .map_err(|_| OpenError::Unauthentic)?;
    Ok((counter, BODY_AT..BODY_AT + body_len))
}

fn array_at<const K: usize>(bytes: &[u8], at: usize) -> Result<[u8; K], OpenError> {
    let src = bytes
        .get(at..at.checked_add(K).ok_or(OpenError::Malformed)?)
        .ok_or(OpenError::Malformed)?;
    let mut out = [0u8; K];
    out.copy_from_slice(src);
    Ok(out)
}

/// A tombstone being written: the format and the store's write counter, so that the counter
/// survives even when every slot's newest value is a tombstone.
pub(crate) struct Tombstone(pub(crate) u32);

impl<'a> Value<'a> for Tombstone {
    fn serialize_into(&self, buffer: &mut [u8]) -> Result<usize, SerializationError> {
        let out = buffer
            .get_mut(..TOMBSTONE_LEN)
            .ok_or(SerializationError::BufferTooSmall)?;
        let counter = self.0.to_be_bytes();
        for (dst, src) in out.iter_mut().zip([SEAL_FORMAT].iter().chain(&counter)) {
            *dst = *src;
        }
        Ok(TOMBSTONE_LEN)
    }

    fn deserialize_from(_buffer: &'a [u8]) -> Result<(Self, usize), SerializationError> {
        // Written only; reading goes through `kind`.
        Err(SerializationError::InvalidFormat)
    }
}

/// A record being written: sealed straight into the map's work buffer, so the store needs no
/// second buffer. The map may serialise a value more than once while it makes room (page
/// migration reuses the buffer); every serialisation gives the same bytes (same record, counter
/// and generator output, so the same nonce), and only the last one reaches flash.
pub(crate) struct SealedWrite<'s, 'p, const N: usize, const T: usize> {
    pub(crate) cipher: &'s XChaCha20Poly1305,
    pub(crate) nonce_key: &'s NonceKey,
    pub(crate) session: &'s Session<'p, N, T>,
    pub(crate) slot: u8,
    pub(crate) counter: u32,
    pub(crate) random: [u8; RANDOM_LEN],
    pub(crate) now_ms: u64,
    pub(crate) now_unix: Option<u64>,
    /// Why encoding failed, for the caller (the map's error type has no room for it).
    pub(crate) failure: Cell<Option<SessionError>>,
}

impl<'a, const N: usize, const T: usize> Value<'a> for SealedWrite<'_, '_, N, T> {
    fn serialize_into(&self, buffer: &mut [u8]) -> Result<usize, SerializationError> {
        let (head, rest) = buffer
            .split_at_mut_checked(BODY_AT)
            .ok_or(SerializationError::BufferTooSmall)?;
        let n = self
            .session
            .encode(rest, self.now_ms, self.now_unix)
            .map_err(|e| {
                self.failure.set(Some(e));
                SerializationError::InvalidData
            })?;
        let (body, tail) = rest
            .split_at_mut_checked(n)
            .ok_or(SerializationError::BufferTooSmall)?;
        let tag_out = tail
            .get_mut(..TAG_LEN)
            .ok_or(SerializationError::BufferTooSmall)?;
        let nonce = derive_nonce(self.nonce_key, &self.random, self.slot, self.counter, body)
            .ok_or(SerializationError::InvalidData)?;
        let counter = self.counter.to_be_bytes();
        let fields = [SEAL_FORMAT].iter().chain(&counter).chain(&nonce);
        for (dst, src) in head.iter_mut().zip(fields) {
            *dst = *src;
        }
        let ad = associated_data(self.slot, self.counter);
        let tag = self
            .cipher
            .encrypt_inout_detached(&XNonce::from(nonce), &ad, body.into())
            .map_err(|_| SerializationError::InvalidData)?;
        tag_out.copy_from_slice(tag.as_slice());
        Ok(BODY_AT + n + TAG_LEN)
    }

    fn deserialize_from(_buffer: &'a [u8]) -> Result<(Self, usize), SerializationError> {
        // Written only; reading goes through `open`.
        Err(SerializationError::InvalidFormat)
    }
}

/// The fields of a record's serialised form (format 1, see `encore_session::codec`) that the store
/// keeps in its RAM index. Full validation is left to `SessionPool::decode`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Summary<'a> {
    pub(crate) flags: u8,
    pub(crate) owner: ContextId,
    pub(crate) lifetime_s: u32,
    pub(crate) received_unix: u64,
    pub(crate) auth_unix: u64,
    pub(crate) ticket: &'a [u8],
}

pub(crate) fn summarize(encoded: &[u8]) -> Option<Summary<'_>> {
    let field = |at: usize, len: usize| encoded.get(at..at.checked_add(len)?);
    if field(0, 4)? != MAGIC || *encoded.get(4)? != FORMAT_VERSION {
        return None;
    }
    let u32_at = |at| Some(u32::from_be_bytes(field(at, 4)?.try_into().ok()?));
    let u64_at = |at| Some(u64::from_be_bytes(field(at, 8)?.try_into().ok()?));
    let psk_len = usize::from(*encoded.get(60)?);
    let ticket_len_at = 61usize.checked_add(psk_len)?;
    let ticket_len = usize::from(u16::from_be_bytes(
        field(ticket_len_at, 2)?.try_into().ok()?,
    ));
    Some(Summary {
        flags: *encoded.get(5)?,
        owner: ContextId(u32_at(12)?),
        lifetime_s: u32_at(32)?,
        received_unix: u64_at(44)?,
        auth_unix: u64_at(52)?,
        ticket: field(ticket_len_at + 2, ticket_len)?,
    })
}

/// Names a ticket in the RAM index without keeping its bytes: the first bytes of SHA-256 over a
/// label and the ticket. Tickets are identified by their bytes, as in the cache (C17).
pub(crate) fn fingerprint(ticket: &[u8]) -> [u8; FINGERPRINT_LEN] {
    let digest = Sha256::new()
        .chain_update(b"encore-store ticket")
        .chain_update(ticket)
        .finalize();
    let mut out = [0u8; FINGERPRINT_LEN];
    for (o, d) in out.iter_mut().zip(digest.iter()) {
        *o = *d;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// E8: every input of the nonce changes it; the same inputs give the same nonce (so a value
    /// serialised twice by the map is the same bytes).
    #[test]
    fn e8_nonce_depends_on_counter_slot_generator_and_record() {
        let key = NonceKey([9; 32]);
        let base = derive_nonce(&key, &[1; 32], 3, 7, b"record").unwrap();
        assert_eq!(derive_nonce(&key, &[1; 32], 3, 7, b"record"), Some(base));
        for other in [
            derive_nonce(&key, &[1; 32], 3, 8, b"record"),
            derive_nonce(&key, &[1; 32], 4, 7, b"record"),
            derive_nonce(&key, &[2; 32], 3, 7, b"record"),
            derive_nonce(&key, &[1; 32], 3, 7, b"recorc"),
            derive_nonce(&NonceKey([8; 32]), &[1; 32], 3, 7, b"record"),
        ] {
            assert_ne!(other, Some(base));
        }
    }

    #[test]
    fn kinds_of_values() {
        assert_eq!(kind(&[]), Kind::Tombstone(None));
        assert_eq!(kind(&[2, 0, 0, 1, 2]), Kind::Tombstone(Some(258)));
        assert_eq!(kind(&[2, 0, 0, 1]), Kind::Malformed);
        assert_eq!(kind(&[2; SEAL_OVERHEAD]), Kind::Sealed);
        assert_eq!(kind(&[2; SEAL_OVERHEAD - 1]), Kind::Malformed);
        assert_eq!(kind(&[1; OLD_OVERHEAD]), Kind::OldFormat);
        assert_eq!(kind(&[1; OLD_OVERHEAD - 1]), Kind::Malformed);
        assert_eq!(kind(&[3; 100]), Kind::Malformed);
    }
}
