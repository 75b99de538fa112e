//! The session record ("The record" in the contract) and the pure checks on it (C7, C29, C30).

use core::cell::Cell;

use crate::{ContextId, Error, PeerId};
use zeroize::Zeroize;

/// Longest resumption PSK: the output length of SHA-384, the largest hash of the TLS 1.3 suites
/// (RFC 8446 §4.6.1: the PSK is `HKDF-Expand-Label(..., Hash.length)`).
pub const MAX_PSK_LEN: usize = 48;
/// Protocol version of TLS 1.3 (RFC 8446 §4.2.1), the only one whose tickets this crate resumes.
pub const TLS13: u16 = 0x0304;
/// Seven days in seconds: the RFC 8446 §4.6.1 cap on ticket lifetime and on how long a client may
/// keep a ticket.
pub const SEVEN_DAYS_S: u32 = 7 * 24 * 3600;

const FLAG_NOT_RESUMABLE: u8 = 1 << 0;
const FLAG_USED: u8 = 1 << 1;
pub(crate) const KNOWN_FLAGS: u8 = FLAG_NOT_RESUMABLE | FLAG_USED;
/// Not a flag of the record: its slot's last reference went while the pool was being read, and the
/// record is wiped when the outermost read ends (C9). Kept in the flags byte so that the slot has
/// room for the pool's own state (E5). Only a freed record carries it.
const FLAG_WIPE_PENDING: u8 = 1 << 7;

/// Hash function of a TLS 1.3 cipher suite (RFC 8446 §B.4): a ticket may only be offered with suites
/// of the same hash (C31). The one table from suite to hash: the engine's cipher suites take
/// their hash from [`HashAlgorithm::of_suite`] too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HashAlgorithm {
    /// SHA-256: 32-byte PSK.
    Sha256,
    /// SHA-384: 48-byte PSK.
    Sha384,
}

impl HashAlgorithm {
    /// Hash of a TLS 1.3 cipher suite, `None` for a suite this crate does not know.
    pub const fn of_suite(suite: u16) -> Option<Self> {
        match suite {
            0x1301 | 0x1303 | 0x1304 | 0x1305 => Some(HashAlgorithm::Sha256),
            0x1302 => Some(HashAlgorithm::Sha384),
            _ => None,
        }
    }

    /// Output length in bytes, which is also the resumption PSK length.
    pub const fn output_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
        }
    }
}

/// Why a record cannot be offered (C7, C29). The handshake is then a full one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Unresumable {
    /// Marked not resumable (C10, C13, C15, C18).
    NotResumable,
    /// Already offered once (C28).
    Used,
    /// No ticket bytes.
    NoTicket,
    /// Not a TLS 1.3 record.
    UnsupportedVersion,
    /// Unknown suite, or a PSK whose length does not match the suite's hash.
    UnusableHash,
    /// None of the suites the connection offers has the record's hash (C31).
    SuiteNotOffered,
    /// The monotonic clock reads earlier than the time of receipt (only possible for a record restored
    /// with an inconsistent clock); its age is unknown, so fail closed (E6).
    ReceivedInFuture,
    /// The server gave a lifetime of zero: do not resume (RFC 8446 §4.6.1).
    LifetimeZero,
    /// Age reached min(server lifetime, configured timeout, 7 days) (C29).
    Expired,
    /// The configured maximum time since the original full handshake has passed (C29).
    AuthenticationTooOld,
}

/// Configured limits for offering a ticket (C29).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Limits {
    /// Configured session timeout in seconds; the ticket's age must stay below it. Values above
    /// 7 days act as 7 days ([`Limits::clamped`], C29).
    pub timeout_s: u32,
    /// Maximum time in seconds since the full handshake that authenticated the server (RFC 8446
    /// §4.6.1: resumption does not extend authentication forever). Values above 7 days act as 7
    /// days ([`Limits::clamped`], C29).
    pub max_auth_age_s: u32,
}

impl Limits {
    /// **Decided — defaults for devices that sleep (C29):** a 7-day timeout, so that the
    /// server's ticket lifetime decides (OpenSSL's 2-hour default would keep a device that
    /// sleeps longer from ever resuming), and 7 days since authentication.
    pub const DEFAULT: Limits = Limits {
        timeout_s: SEVEN_DAYS_S,
        max_auth_age_s: SEVEN_DAYS_S,
    };

    /// Both limits capped at [`SEVEN_DAYS_S`] (C29: neither the timeout nor the time since the
    /// original authentication can be configured above RFC 8446 §4.6.1's 7 days). Every place
    /// that takes limits applies this: [`ticket_offerable`] (and so every claim), the cache's
    /// configuration and the store's `with_limits`.
    pub const fn clamped(self) -> Limits {
        Limits {
            timeout_s: if self.timeout_s < SEVEN_DAYS_S {
                self.timeout_s
            } else {
                SEVEN_DAYS_S
            },
            max_auth_age_s: if self.max_auth_age_s < SEVEN_DAYS_S {
                self.max_auth_age_s
            } else {
                SEVEN_DAYS_S
            },
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// C30: `obfuscated_ticket_age = age_in_ms + ticket_age_add (mod 2^32)` (RFC 8446 §4.2.11.1), the age
/// counted from when the ticket was received.
pub const fn obfuscated_ticket_age(age_ms: u64, age_add: u32) -> u32 {
    // Truncation keeps the age modulo 2^32, which is what the sum needs.
    (age_ms as u32).wrapping_add(age_add)
}

/// C29: may a ticket be offered?
///
/// - `age_ms`: time since the ticket was received;
/// - `since_auth_ms`: time since the full handshake that authenticated the server;
/// - `lifetime_s`: the server's `ticket_lifetime`.
///
/// Offerable while `lifetime_s > 0`, `age < min(lifetime, limits.timeout_s, 7 days)` and
/// `since_auth < min(limits.max_auth_age_s, 7 days)` ([`Limits::clamped`]). All comparisons are
/// strict and done in milliseconds in u64, so nothing overflows.
pub const fn ticket_offerable(
    age_ms: u64,
    since_auth_ms: u64,
    lifetime_s: u32,
    limits: &Limits,
) -> Result<(), Unresumable> {
    if lifetime_s == 0 {
        return Err(Unresumable::LifetimeZero);
    }
    let limits = limits.clamped();
    let mut cap_s = lifetime_s;
    if limits.timeout_s < cap_s {
        cap_s = limits.timeout_s;
    }
    if age_ms >= cap_s as u64 * 1000 {
        return Err(Unresumable::Expired);
    }
    if since_auth_ms >= limits.max_auth_age_s as u64 * 1000 {
        return Err(Unresumable::AuthenticationTooOld);
    }
    Ok(())
}

/// What a ClientHello carries for a claimed ticket besides the ticket bytes and the PSK (C30, C31),
/// read in the same critical section as the claim ([`crate::Session::claim`]).
///
/// `ticket_age_ms` is the age modulo 2^32 and `obfuscated_age` is
/// `ticket_age_ms.wrapping_add(age_add)` ([`obfuscated_ticket_age`]), so an engine that is given
/// `age_add` and `ticket_age_ms` and adds them itself sends the same value. A claimed ticket is
/// younger than 7 days (C29), far below 2^32 ms (49.7 days), so its `ticket_age_ms` is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Offer {
    /// Suite of the connection that received the ticket; only suites of its hash may be offered
    /// with it (C31).
    pub cipher_suite: u16,
    /// `ticket_age_add` from the NewSessionTicket.
    pub age_add: u32,
    /// Milliseconds since the ticket was received, modulo 2^32.
    pub ticket_age_ms: u32,
    /// `obfuscated_ticket_age` for the pre_shared_key extension (C30, RFC 8446 §4.2.11.1).
    pub obfuscated_age: u32,
    /// `max_early_data_size` the server allowed with this ticket.
    pub max_early_data: u32,
}

/// What a new record is made from: the values of a NewSessionTicket (RFC 8446 §4.6.1) and of the
/// connection that received it. Borrowed, so making a record copies the ticket once, straight into
/// its slot.
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    /// Negotiated protocol version ([`TLS13`]).
    pub version: u16,
    /// Negotiated cipher suite.
    pub cipher_suite: u16,
    /// Resumption PSK derived for this ticket (at most [`MAX_PSK_LEN`] bytes).
    pub psk: &'a [u8],
    /// Ticket bytes as sent by the server.
    pub ticket: &'a [u8],
    /// `ticket_lifetime` in seconds.
    pub lifetime_s: u32,
    /// `ticket_age_add`.
    pub age_add: u32,
    /// `max_early_data_size` from the early_data extension, 0 when absent.
    pub max_early_data: u32,
    /// Monotonic time of receipt in milliseconds.
    pub received_ms: u64,
    /// Wall-clock time of receipt in Unix seconds, if known. Kept as u32 in RAM: a time of 0 or after
    /// 2106-02-07 is kept as unknown, and is then derived from the monotonic age when encoding.
    pub received_unix: Option<u64>,
    /// How long before receipt the server was last authenticated by a full handshake: 0 for a ticket
    /// from a full handshake; for a ticket from a resumed handshake, the offered record's
    /// [`SessionRecord::auth_age_ms`] at receipt (C29 chain rule).
    pub auth_age_ms: u64,
    /// Peer the session was made for.
    pub peer: PeerId,
    /// Context that owns the record.
    pub owner: ContextId,
}

/// One session: a fixed-size record that lives in a [`crate::SessionPool`] slot.
///
/// The payload is immutable once made (C27); the only mutable state is two one-way flags, resumable →
/// not resumable and unused → used. The flags sit in a [`Cell`], so setting one needs only the shared
/// access every reader has: a ticket is checked and claimed in one step ([`crate::Session::claim`],
/// C28) even from inside [`crate::Session::with`]. Field order puts the large arrays first and
/// avoids padding; see the size table in the crate documentation (E5).
///
/// Times: `received_ms` is the monotonic clock at receipt, used for the age in RAM (C30). It is signed
/// because a record restored from flash after a reboot was received before the monotonic clock started.
/// `received_unix` is the wall clock at receipt (0 = unknown), stored as u32 Unix seconds (valid until
/// 2106; the serialised form uses u64). The original authentication time is kept as an age relative to
/// receipt (`auth_age_s`), which gives it on both clocks.
pub struct SessionRecord<const T: usize = 256> {
    ticket: [u8; T],
    psk: [u8; MAX_PSK_LEN],
    peer: PeerId,
    received_ms: i64,
    received_unix: u32,
    auth_age_s: u32,
    owner: ContextId,
    lifetime_s: u32,
    age_add: u32,
    max_early_data: u32,
    version: u16,
    cipher_suite: u16,
    ticket_len: u16,
    psk_len: u8,
    flags: Cell<u8>,
}

/// Plain copy of every field of a record except the secret and the ticket, taken in one short
/// critical section (see [`crate::Session::info`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SessionInfo {
    /// Protocol version.
    pub version: u16,
    /// Cipher suite.
    pub cipher_suite: u16,
    /// Number of ticket bytes.
    pub ticket_len: usize,
    /// Number of PSK bytes.
    pub psk_len: usize,
    /// `ticket_lifetime` in seconds.
    pub lifetime_s: u32,
    /// `ticket_age_add`.
    pub age_add: u32,
    /// `max_early_data_size`.
    pub max_early_data: u32,
    /// Monotonic time of receipt in ms (negative: before this boot).
    pub received_ms: i64,
    /// Wall-clock time of receipt, Unix seconds.
    pub received_unix: Option<u64>,
    /// Seconds between the original authenticating full handshake and receipt.
    pub auth_age_s: u32,
    /// Peer identity.
    pub peer: PeerId,
    /// Owner context.
    pub owner: ContextId,
    /// Marked not resumable.
    pub not_resumable: bool,
    /// Offered once already.
    pub used: bool,
}

impl<const T: usize> SessionRecord<T> {
    pub(crate) const fn empty() -> Self {
        SessionRecord {
            ticket: [0; T],
            psk: [0; MAX_PSK_LEN],
            peer: PeerId([0; 16]),
            received_ms: 0,
            received_unix: 0,
            auth_age_s: 0,
            owner: ContextId(0),
            lifetime_s: 0,
            age_add: 0,
            max_early_data: 0,
            version: 0,
            cipher_suite: 0,
            ticket_len: 0,
            psk_len: 0,
            flags: Cell::new(0),
        }
    }

    /// Checks `new` against the slot's capacities without touching the slot.
    pub(crate) fn validate(new: &NewSession<'_>) -> Result<(), Error> {
        if new.ticket.len() > T || new.ticket.len() > u16::MAX as usize {
            return Err(Error::TicketTooLarge {
                len: new.ticket.len(),
                capacity: T,
            });
        }
        if new.psk.len() > MAX_PSK_LEN {
            return Err(Error::PskTooLong { len: new.psk.len() });
        }
        Ok(())
    }

    /// Fills an empty slot. `validate` must have accepted `new`; lengths are re-checked so that a
    /// mismatch can only shorten, never panic.
    pub(crate) fn fill(&mut self, new: &NewSession<'_>, flags: u8, received_ms: i64) {
        let t = copy_prefix(&mut self.ticket, new.ticket);
        let p = copy_prefix(&mut self.psk, new.psk);
        self.ticket_len = t as u16;
        self.psk_len = p as u8;
        self.peer = new.peer;
        self.received_ms = received_ms;
        self.received_unix = match new.received_unix {
            Some(u) if u > 0 && u <= u32::MAX as u64 => u as u32,
            _ => 0,
        };
        // Rounded up: an authentication time that looks slightly older fails closed (C29).
        let auth_s = new.auth_age_ms.div_ceil(1000);
        self.auth_age_s = if auth_s > u32::MAX as u64 {
            u32::MAX
        } else {
            auth_s as u32
        };
        self.owner = new.owner;
        self.lifetime_s = new.lifetime_s;
        self.age_add = new.age_add;
        self.max_early_data = new.max_early_data;
        self.version = new.version;
        self.cipher_suite = new.cipher_suite;
        self.flags.set(flags & KNOWN_FLAGS);
    }

    /// Zeroizes every secret and ticket byte and resets the other fields (C9).
    ///
    /// Only the ticket's first `ticket_len` bytes can be other than zero: a slot starts zeroed,
    /// [`SessionRecord::fill`] (the one writer of ticket bytes) writes exactly the ticket's
    /// length, and this wipe zeroes what it wrote. So wiping that prefix wipes every ticket
    /// byte, without a volatile write per byte of the whole capacity (`T` can be far larger
    /// than the ticket). The tests check the whole array (`is_wiped`).
    pub(crate) fn wipe(&mut self) {
        let used = usize::from(self.ticket_len).min(T);
        if let Some(t) = self.ticket.get_mut(..used) {
            t.zeroize();
        }
        self.psk.zeroize();
        self.ticket_len.zeroize();
        self.psk_len.zeroize();
        self.age_add.zeroize();
        self.peer = PeerId([0; 16]);
        self.received_ms = 0;
        self.received_unix = 0;
        self.auth_age_s = 0;
        self.owner = ContextId(0);
        self.lifetime_s = 0;
        self.max_early_data = 0;
        self.version = 0;
        self.cipher_suite = 0;
        self.flags.set(0);
    }

    /// True if every byte that held a secret or the ticket is zero (C9).
    #[cfg(test)]
    pub(crate) fn is_wiped(&self) -> bool {
        self.ticket.iter().all(|b| *b == 0)
            && self.psk.iter().all(|b| *b == 0)
            && self.ticket_len == 0
            && self.psk_len == 0
            && self.age_add == 0
    }

    /// Sets one-way flags; they are never cleared while the record lives.
    pub(crate) fn set_flags(&self, flags: u8) {
        self.flags.set(self.flags.get() | (flags & KNOWN_FLAGS));
    }

    pub(crate) fn flags(&self) -> u8 {
        self.flags.get() & KNOWN_FLAGS
    }

    /// Marks a freed record to be wiped when the outermost read of the pool ends (C9).
    pub(crate) fn set_wipe_pending(&self) {
        self.flags.set(self.flags.get() | FLAG_WIPE_PENDING);
    }

    pub(crate) fn wipe_pending(&self) -> bool {
        self.flags.get() & FLAG_WIPE_PENDING != 0
    }

    /// Ticket bytes.
    pub fn ticket(&self) -> &[u8] {
        self.ticket.get(..self.ticket_len as usize).unwrap_or(&[])
    }

    /// Resumption PSK bytes (secret).
    pub fn psk(&self) -> &[u8] {
        self.psk.get(..self.psk_len as usize).unwrap_or(&[])
    }

    /// Protocol version.
    pub const fn version(&self) -> u16 {
        self.version
    }

    /// Cipher suite.
    pub const fn cipher_suite(&self) -> u16 {
        self.cipher_suite
    }

    /// Hash of the record's suite, if known.
    pub const fn hash(&self) -> Option<HashAlgorithm> {
        HashAlgorithm::of_suite(self.cipher_suite)
    }

    /// Server's `ticket_lifetime` in seconds.
    pub const fn lifetime_s(&self) -> u32 {
        self.lifetime_s
    }

    /// `ticket_age_add`.
    pub const fn age_add(&self) -> u32 {
        self.age_add
    }

    /// `max_early_data_size`.
    pub const fn max_early_data(&self) -> u32 {
        self.max_early_data
    }

    /// Monotonic time of receipt in milliseconds (negative: before the current boot).
    pub const fn received_ms(&self) -> i64 {
        self.received_ms
    }

    /// Wall-clock time of receipt in Unix seconds, if it was known.
    pub const fn received_unix(&self) -> Option<u64> {
        if self.received_unix == 0 {
            None
        } else {
            Some(self.received_unix as u64)
        }
    }

    /// Seconds between the original authenticating full handshake and receipt of this ticket.
    pub const fn auth_age_at_receipt_s(&self) -> u32 {
        self.auth_age_s
    }

    /// Wall-clock time of the original authenticating full handshake, if the receipt time is known.
    pub const fn auth_unix(&self) -> Option<u64> {
        match self.received_unix() {
            Some(received) => Some(received.saturating_sub(self.auth_age_s as u64)),
            None => None,
        }
    }

    /// Peer identity.
    pub const fn peer(&self) -> PeerId {
        self.peer
    }

    /// Owner context.
    pub const fn owner(&self) -> ContextId {
        self.owner
    }

    /// Marked not resumable.
    pub fn is_not_resumable(&self) -> bool {
        self.flags() & FLAG_NOT_RESUMABLE != 0
    }

    /// Offered once already (C28).
    pub fn is_used(&self) -> bool {
        self.flags() & FLAG_USED != 0
    }

    /// Milliseconds since receipt on the monotonic clock; `None` if `now_ms` is earlier than the
    /// receipt (inconsistent clock).
    pub const fn age_ms(&self, now_ms: u64) -> Option<u64> {
        let now = if now_ms > i64::MAX as u64 {
            i64::MAX
        } else {
            now_ms as i64
        };
        let age = now.saturating_sub(self.received_ms);
        if age < 0 {
            None
        } else {
            Some(age as u64)
        }
    }

    /// Milliseconds since the original authenticating full handshake, `None` as for
    /// [`SessionRecord::age_ms`]. A record made from a handshake that resumed this one passes this
    /// value as [`NewSession::auth_age_ms`].
    pub const fn auth_age_ms(&self, now_ms: u64) -> Option<u64> {
        match self.age_ms(now_ms) {
            Some(a) => Some(a.saturating_add(self.auth_age_s as u64 * 1000)),
            None => None,
        }
    }

    /// C30 for this record, `None` if the age is unknown.
    pub const fn obfuscated_age(&self, now_ms: u64) -> Option<u32> {
        match self.age_ms(now_ms) {
            Some(a) => Some(obfuscated_ticket_age(a, self.age_add)),
            None => None,
        }
    }

    /// The values a ClientHello needs to offer this ticket at `now_ms`, besides its bytes and PSK
    /// (C30, C31); `None` if the age is unknown. It checks nothing: [`crate::Session::claim`] is the
    /// check that may precede an offer.
    pub const fn offer(&self, now_ms: u64) -> Option<Offer> {
        match self.age_ms(now_ms) {
            Some(age) => Some(Offer {
                cipher_suite: self.cipher_suite,
                age_add: self.age_add,
                // Modulo 2^32, like the sum it feeds; exact for any ticket C29 lets through.
                ticket_age_ms: age as u32,
                obfuscated_age: obfuscated_ticket_age(age, self.age_add),
                max_early_data: self.max_early_data,
            }),
            None => None,
        }
    }

    /// C7 and C28 in one step: [`SessionRecord::resumable`], then unused → used. The caller holds
    /// the pool's critical section, so no other holder can claim between the check and the mark.
    /// `read` sees the claimed record and its offer before the caller's critical section ends.
    pub(crate) fn claim_with<R>(
        &self,
        now_ms: u64,
        limits: &Limits,
        offered_suites: &[u16],
        read: impl FnOnce(&Self, &Offer) -> R,
    ) -> Result<(Offer, R), Unresumable> {
        self.resumable(now_ms, limits, offered_suites)?;
        let offer = self.offer(now_ms).ok_or(Unresumable::ReceivedInFuture)?;
        self.set_flags(FLAG_USED);
        let out = read(self, &offer);
        Ok((offer, out))
    }

    /// C35: the record may be set on a connection of context `owner` to peer `peer`.
    pub fn check_owner_and_peer(&self, owner: ContextId, peer: &PeerId) -> Result<(), Error> {
        if self.owner != owner {
            return Err(Error::WrongOwner);
        }
        if self.peer != *peer {
            return Err(Error::WrongPeer);
        }
        Ok(())
    }

    /// C7 and C29 without the suite check: flags, ticket, version, hash, then ages.
    pub fn offerable(&self, now_ms: u64, limits: &Limits) -> Result<(), Unresumable> {
        if self.is_not_resumable() {
            return Err(Unresumable::NotResumable);
        }
        if self.is_used() {
            return Err(Unresumable::Used);
        }
        if self.ticket_len == 0 {
            return Err(Unresumable::NoTicket);
        }
        if self.version != TLS13 {
            return Err(Unresumable::UnsupportedVersion);
        }
        match self.hash() {
            Some(h) if h.output_len() == self.psk_len as usize => {}
            _ => return Err(Unresumable::UnusableHash),
        }
        let (Some(age), Some(since_auth)) = (self.age_ms(now_ms), self.auth_age_ms(now_ms)) else {
            return Err(Unresumable::ReceivedInFuture);
        };
        ticket_offerable(age, since_auth, self.lifetime_s, limits)
    }

    /// C7 in full: [`SessionRecord::offerable`], and one of `offered_suites` has the record's hash
    /// (C31).
    pub fn resumable(
        &self,
        now_ms: u64,
        limits: &Limits,
        offered_suites: &[u16],
    ) -> Result<(), Unresumable> {
        self.offerable(now_ms, limits)?;
        let hash = self.hash();
        if offered_suites
            .iter()
            .any(|s| HashAlgorithm::of_suite(*s).is_some() && HashAlgorithm::of_suite(*s) == hash)
        {
            Ok(())
        } else {
            Err(Unresumable::SuiteNotOffered)
        }
    }

    /// Everything but the PSK and the ticket, by value.
    pub fn info(&self) -> SessionInfo {
        SessionInfo {
            version: self.version,
            cipher_suite: self.cipher_suite,
            ticket_len: self.ticket_len as usize,
            psk_len: self.psk_len as usize,
            lifetime_s: self.lifetime_s,
            age_add: self.age_add,
            max_early_data: self.max_early_data,
            received_ms: self.received_ms,
            received_unix: self.received_unix(),
            auth_age_s: self.auth_age_s,
            peer: self.peer,
            owner: self.owner,
            not_resumable: self.is_not_resumable(),
            used: self.is_used(),
        }
    }
}

pub(crate) const FLAGS_NOT_RESUMABLE: u8 = FLAG_NOT_RESUMABLE;
pub(crate) const FLAGS_USED: u8 = FLAG_USED;

fn copy_prefix(dst: &mut [u8], src: &[u8]) -> usize {
    let n = dst.len().min(src.len());
    if let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) {
        d.copy_from_slice(s);
    }
    n
}

#[cfg(test)]
mod cap_tests;
