//! What a client offers, and the session it may resume.

use rustls_pki_types::TrustAnchor;

use super::Error;
use crate::crypto::{CipherSuite, ClientCertSigner, NamedGroup};
use crate::wire::record::MAX_PLAINTEXT;

/// Which PSK key exchange modes a resumption offers (RFC 8446 §4.2.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PskMode {
    /// psk_dhe_ke only: the resumption still runs an (EC)DHE exchange, so it keeps forward
    /// secrecy. The default.
    #[default]
    DheOnly,
    /// psk_ke only, and no key share in the first ClientHello: the resumption does zero
    /// public-key operations. The price: that connection has **no forward secrecy** —
    /// whoever later learns the ticket's PSK (from this device or from the server's ticket
    /// key) can decrypt it. A server that refuses psk_ke asks for a key share with
    /// HelloRetryRequest, and the handshake completes as a full one (the offer is declined).
    AllowPskOnly,
}

/// max_fragment_length values (RFC 6066 §4), for receive buffers smaller than 16 KB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MaxFragmentLength {
    /// 2^9 bytes.
    Bytes512,
    /// 2^10 bytes.
    Bytes1024,
    /// 2^11 bytes.
    Bytes2048,
    /// 2^12 bytes.
    Bytes4096,
}

impl MaxFragmentLength {
    /// The extension's code.
    pub fn code(self) -> u8 {
        match self {
            MaxFragmentLength::Bytes512 => 1,
            MaxFragmentLength::Bytes1024 => 2,
            MaxFragmentLength::Bytes2048 => 3,
            MaxFragmentLength::Bytes4096 => 4,
        }
    }

    /// The fragment length in bytes.
    pub fn bytes(self) -> usize {
        256 << self.code()
    }
}

/// Client configuration, shared by every connection made from it.
#[derive(Clone, Copy)]
pub struct ClientConfig<'a> {
    /// Cipher suites in preference order; those this build leaves out (their cargo feature
    /// is off) are skipped. With a resumption offer those of the ticket's hash
    /// are listed first: the PSK may be accepted only with one of them, while a server that
    /// declines it may pick any for a full handshake (C31).
    pub cipher_suites: &'a [CipherSuite],
    /// Groups in preference order; the first ClientHello carries a key share for the first.
    /// Those this build leaves out are skipped.
    pub groups: &'a [NamedGroup],
    /// Trust anchors for the server's chain.
    pub trust_anchors: &'a [TrustAnchor<'a>],
    /// ALPN protocols to offer (none when empty).
    pub alpn: &'a [&'a [u8]],
    /// The client certificate and its signing key, for servers that ask (mutual TLS). With
    /// `None`, a CertificateRequest is answered with an empty Certificate.
    pub client_auth: Option<&'a dyn ClientCertSigner>,
    /// PSK key exchange modes for resumptions; a connection may choose its own
    /// ([`Connection::start`](crate::client::Connection::start)).
    pub psk_mode: PskMode,
    /// Ask the server for smaller records (RFC 6066 §4).
    pub max_fragment_length: Option<MaxFragmentLength>,
    /// record_size_limit to announce (RFC 8449; 64..=16385).
    pub record_size_limit: Option<u16>,
    /// Send a 32-byte legacy_session_id and a change_cipher_spec record, for middleboxes
    /// that expect TLS 1.2 shapes (RFC 8446 §D.4). Off by default: it costs 43 bytes.
    pub middlebox_compat: bool,
    /// Earliest plausible wall-clock time (Unix seconds), for example the firmware build
    /// date, used for certificate validity when a connection has no clock (E6).
    pub time_lower_bound: Option<u64>,
    /// Skip server authentication entirely. Anyone on the path can impersonate the
    /// server. Sessions made this way carry
    /// [`INSECURE_NO_VERIFY_FINGERPRINT`](crate::crypto::INSECURE_NO_VERIFY_FINGERPRINT)
    /// so they are never offered to a verifying connection (C33).
    #[cfg(feature = "insecure-no-verify")]
    pub insecure_no_verify: bool,
}

impl<'a> ClientConfig<'a> {
    /// Every suite and group this build supports (X25519 first when it is built in),
    /// psk_dhe_ke only, no ALPN, no client certificate.
    pub const fn new(trust_anchors: &'a [TrustAnchor<'a>]) -> Self {
        ClientConfig {
            cipher_suites: &CipherSuite::ALL,
            groups: &NamedGroup::ALL,
            trust_anchors,
            alpn: &[],
            client_auth: None,
            psk_mode: PskMode::DheOnly,
            max_fragment_length: None,
            record_size_limit: None,
            middlebox_compat: false,
            time_lower_bound: None,
            #[cfg(feature = "insecure-no-verify")]
            insecure_no_verify: false,
        }
    }

    /// Fingerprint of the trust configuration: part of the peer identity of every session
    /// made with this configuration (C33). The trust anchors' fingerprint
    /// ([`trust_fingerprint`](crate::crypto::trust_fingerprint)), or
    /// [`INSECURE_NO_VERIFY_FINGERPRINT`](crate::crypto::INSECURE_NO_VERIFY_FINGERPRINT) when
    /// verification is skipped, so those sessions are never offered to a verifying connection.
    /// Computed on each call (one SHA-256 over the anchors): keep the value when it is
    /// needed often.
    pub fn trust_fingerprint(&self) -> [u8; 16] {
        if self.skips_verification() {
            crate::crypto::INSECURE_NO_VERIFY_FINGERPRINT
        } else {
            crate::crypto::trust_fingerprint(self.trust_anchors)
        }
    }

    #[cfg(feature = "insecure-no-verify")]
    pub(crate) fn skips_verification(&self) -> bool {
        self.insecure_no_verify
    }

    #[cfg(not(feature = "insecure-no-verify"))]
    pub(crate) fn skips_verification(&self) -> bool {
        false
    }
}

impl core::fmt::Debug for ClientConfig<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("cipher_suites", &self.cipher_suites)
            .field("groups", &self.groups)
            .field("trust_anchors", &self.trust_anchors.len())
            .field("alpn", &self.alpn)
            .field("client_auth", &self.client_auth.is_some())
            .field("psk_mode", &self.psk_mode)
            .finish_non_exhaustive()
    }
}

/// A session to resume: what the engine needs from a stored record, and nothing more.
/// The engine does not know the cache or the pool (they sit above it); from session-core it
/// takes only the suite-to-hash table and the age formula.
#[derive(Clone, Copy)]
pub struct ResumptionOffer<'a> {
    /// The ticket, sent as the PSK identity.
    pub ticket: &'a [u8],
    /// The resumption PSK (RFC 8446 §4.6.1), as long as the suite's hash.
    pub psk: &'a [u8],
    /// The suite of the connection that received the ticket; the PSK may be accepted only
    /// with a suite of its hash (C31).
    pub suite: CipherSuite,
    /// `obfuscated_ticket_age` for the pre_shared_key extension (C30, RFC 8446 §4.2.11.1),
    /// as the session record computes it
    /// ([`obfuscated_ticket_age`](encore_session::obfuscated_ticket_age)).
    pub obfuscated_age: u32,
}

impl core::fmt::Debug for ResumptionOffer<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ResumptionOffer")
            .field("ticket_len", &self.ticket.len())
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

impl ResumptionOffer<'_> {
    /// Copies the ticket to the front of `ticket` and the PSK to the front of `psk`, and
    /// returns their lengths; `None` when either does not fit. The engine copies an offer
    /// once, with this, straight into its own place for it; the ticket's only other copy is
    /// the one onto the wire in the ClientHello.
    pub fn copy_into(&self, ticket: &mut [u8], psk: &mut [u8]) -> Option<(usize, usize)> {
        ticket
            .get_mut(..self.ticket.len())?
            .copy_from_slice(self.ticket);
        psk.get_mut(..self.psk.len())?.copy_from_slice(self.psk);
        Some((self.ticket.len(), self.psk.len()))
    }
}

/// Checks the configuration and returns the suites a ClientHello offers.
///
/// C31: the PSK is bound to the suites of its hash. Those come first, so that a server
/// accepting the PSK finds them; the other configured suites follow, so that a server
/// declining the PSK may pick any of them for a full handshake. A server that accepts the
/// PSK with a suite of another hash is rejected when the ServerHello arrives. An offer
/// whose hash no configured suite shares cannot be made at all.
///
/// Suites and groups this build leaves out (their cargo feature is off) are skipped; a
/// configuration with none left is empty.
pub(super) fn offered_suites(
    config: &ClientConfig<'_>,
    offer_suite: Option<CipherSuite>,
) -> Result<heapless::Vec<u16, 3>, Error> {
    let supported = || config.cipher_suites.iter().filter(|s| s.is_supported());
    if supported().next().is_none() || !config.groups.iter().any(|g| g.is_supported()) {
        return Err(Error::EmptyConfiguration);
    }
    // RFC 8449 §4: a limit below 64 is invalid, one above 2^14 + 1 meaningless in TLS 1.3.
    if config
        .record_size_limit
        .is_some_and(|l| !(64..=MAX_PLAINTEXT as u16 + 1).contains(&l))
    {
        return Err(Error::RecordSizeLimitOutOfRange);
    }
    let mut suites = heapless::Vec::new();
    let ticket_hash = offer_suite.map(|s| s.hash());
    let of_ticket_hash = supported().filter(|s| ticket_hash.is_none_or(|h| s.hash() == h));
    let others = supported().filter(|s| ticket_hash.is_some_and(|h| s.hash() != h));
    for s in of_ticket_hash.chain(others) {
        if !suites.contains(&s.to_u16()) {
            // At most three distinct suites exist, so this never fills up.
            let _ = suites.push(s.to_u16());
        }
    }
    if ticket_hash.is_some_and(|h| !supported().any(|s| s.hash() == h)) {
        return Err(Error::OfferSuiteNotConfigured);
    }
    Ok(suites)
}
