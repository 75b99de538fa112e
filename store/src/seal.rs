//! The sealed form of one record on flash, and the few fields the store reads from a record's
//! serialised form.
//!
//! A map value is either empty (the slot's tombstone: consumed, pruned or never filled) or:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | sealing format ([`SEAL_FORMAT`]) |
//! | 1 | 4 | owner context id, big-endian (clear, authenticated) |
//! | 5 | 16 | peer identity (clear, authenticated) |
//! | 21 | 24 | XChaCha20 nonce, random per write |
//! | 45 | n | the record's serialised form (`encore_session::codec`), encrypted |
//! | 45 + n | 16 | Poly1305 tag |
//!
//! Associated data: the label `encore-store`, the sealing format, the map key (slot) and the clear
//! owner and peer. So a record copied to another device (other key), another slot, context or peer
//! does not open, and neither does one whose clear fields were edited.

use core::cell::Cell;

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use encore_session::codec::{FORMAT_VERSION, MAGIC};
use encore_session::{ContextId, Error as SessionError, PeerId, Session};
use sequential_storage::map::{SerializationError, Value};
use sha2::{Digest, Sha256};

/// Sealing format this build writes and reads.
pub const SEAL_FORMAT: u8 = 1;
/// Bytes a sealed value adds to a record's serialised form: format, owner, peer, nonce and tag.
pub const SEAL_OVERHEAD: usize = BODY_AT + TAG_LEN;

const OWNER_AT: usize = 1;
const PEER_AT: usize = 5;
const NONCE_AT: usize = 21;
const BODY_AT: usize = 45;
const TAG_LEN: usize = 16;
const NONCE_LEN: usize = 24;

const AD_LABEL: &[u8; 12] = b"encore-store";
const AD_LEN: usize = 12 + 1 + 1 + 4 + 16;

// The summary parser below reads format 1 of the record's serialised form. A new format must be
// taught to it before this crate builds again.
const _: () = assert!(FORMAT_VERSION == 1);

/// Length of a ticket fingerprint, which names a ticket in the store's RAM index.
pub(crate) const FINGERPRINT_LEN: usize = 8;

fn associated_data(slot: u8, owner: ContextId, peer: &PeerId) -> [u8; AD_LEN] {
    let mut ad = [0u8; AD_LEN];
    let owner = owner.0.to_be_bytes();
    let format_and_slot = [SEAL_FORMAT, slot];
    let parts = AD_LABEL
        .iter()
        .chain(&format_and_slot)
        .chain(&owner)
        .chain(&peer.0);
    for (dst, src) in ad.iter_mut().zip(parts) {
        *dst = *src;
    }
    ad
}

/// Why a sealed value did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Too short, or a sealing format this build does not read.
    Malformed,
    /// The tag does not verify: tampered bytes, another device key, slot, context or peer.
    Unauthentic,
}

/// The clear, authenticated fields of a sealed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) owner: ContextId,
    pub(crate) peer: PeerId,
}

/// Decrypts a non-empty sealed value in place. On success the plaintext is
/// `value[body.0 .. body.0 + body.1]`; the caller zeroizes it after use.
pub(crate) fn open(
    cipher: &XChaCha20Poly1305,
    slot: u8,
    value: &mut [u8],
) -> Result<(Header, core::ops::Range<usize>), OpenError> {
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
    let owner = ContextId(u32::from_be_bytes(array_at(head, OWNER_AT)?));
    let peer = PeerId(array_at(head, PEER_AT)?);
    let nonce: [u8; NONCE_LEN] = array_at(head, NONCE_AT)?;
    let tag: [u8; TAG_LEN] = array_at(tag, 0)?;
    let ad = associated_data(slot, owner, &peer);
    cipher
        .decrypt_inout_detached(&XNonce::from(nonce), &ad, body.into(), &Tag::from(tag))
        .map_err(|_| OpenError::Unauthentic)?;
    Ok((Header { owner, peer }, BODY_AT..BODY_AT + body_len))
}

fn array_at<const K: usize>(bytes: &[u8], at: usize) -> Result<[u8; K], OpenError> {
    let src = bytes
        .get(at..at.checked_add(K).ok_or(OpenError::Malformed)?)
        .ok_or(OpenError::Malformed)?;
    let mut out = [0u8; K];
    out.copy_from_slice(src);
    Ok(out)
}

/// A record being written: sealed straight into the map's work buffer, so the store needs no
/// second buffer. The map may serialise a value more than once while it makes room (page
/// migration reuses the buffer); only the last serialisation reaches flash, so a nonce never
/// seals two values on flash.
pub(crate) struct SealedWrite<'s, 'p, const N: usize, const T: usize> {
    pub(crate) cipher: &'s XChaCha20Poly1305,
    pub(crate) session: &'s Session<'p, N, T>,
    pub(crate) slot: u8,
    pub(crate) header: Header,
    pub(crate) nonce: [u8; NONCE_LEN],
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
        let owner = self.header.owner.0.to_be_bytes();
        let fields = [SEAL_FORMAT]
            .iter()
            .chain(&owner)
            .chain(&self.header.peer.0)
            .chain(&self.nonce);
        for (dst, src) in head.iter_mut().zip(fields) {
            *dst = *src;
        }
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
        let ad = associated_data(self.slot, self.header.owner, &self.header.peer);
        let tag = self
            .cipher
            .encrypt_inout_detached(&XNonce::from(self.nonce), &ad, body.into())
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
    pub(crate) peer: PeerId,
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
        peer: PeerId(field(16, 16)?.try_into().ok()?),
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
