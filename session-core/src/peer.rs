//! Peer identity and owner context id ("The record" in the contract).

use sha2::{Digest, Sha256};

/// Identity of the peer a session was made for (C33).
///
/// **Decided** in the contract: the lowercased server name (or the IP literal when there is no SNI),
/// the exact ALPN list offered, and a fingerprint of the trust configuration. The port is not part of
/// it (RFC 8446 §4.6.1 binds tickets to the server name, not the port).
///
/// To keep a pool slot small (E5), the three parts are not stored: the identity is the first 16 bytes
/// of SHA-256 over a length-prefixed, domain-separated encoding of them. Two identities are equal
/// exactly when all three parts are equal (up to a 2^-64 birthday bound for a collision, far beyond
/// the number of peers a device talks to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PeerId(pub [u8; 16]);

/// Label that separates peer-identity hashes from any other use of SHA-256 in the project.
const PEER_ID_LABEL: &[u8] = b"encore peer id v1";

impl PeerId {
    /// Identity of `server_name` (compared without regard to ASCII case), the ALPN protocol list in
    /// the order offered (an empty list is distinct from any non-empty one), and the trust
    /// configuration's fingerprint. The fingerprint is opaque here: the TLS engine computes it
    /// (`encore_tls::ClientConfig::trust_fingerprint`) from the trust anchors, and gives the
    /// "insecure, no verification" mode a value of its own, so sessions of that mode are never
    /// offered to a verifying connection.
    ///
    /// Only ASCII letters are folded: DNS names on the wire are ASCII (IDNs travel as A-labels), and
    /// any other byte is kept as is, so this never fails and never panics.
    pub fn new(server_name: &str, alpn: &[&[u8]], trust_fingerprint: &[u8; 16]) -> Self {
        let mut h = Sha256::new();
        h.update(PEER_ID_LABEL);
        h.update((server_name.len() as u64).to_be_bytes());
        let mut chunk = [0u8; 64];
        for part in server_name.as_bytes().chunks(chunk.len()) {
            let mut n = 0;
            for (dst, src) in chunk.iter_mut().zip(part) {
                *dst = src.to_ascii_lowercase();
                n += 1;
            }
            h.update(chunk.get(..n).unwrap_or(&[]));
        }
        h.update((alpn.len() as u64).to_be_bytes());
        for proto in alpn {
            h.update((proto.len() as u64).to_be_bytes());
            h.update(proto);
        }
        h.update(trust_fingerprint);
        PeerId(truncate(&h.finalize()))
    }
}

fn truncate(digest: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (o, d) in out.iter_mut().zip(digest) {
        *o = *d;
    }
    out
}

/// Id of a context (client configuration plus its cache), chosen by the application.
///
/// **Decided** in the contract: ids are stable across reboots, so a saved session reloads into the
/// same context; a record names the context it was made for (C24, C35).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ContextId(pub u32);
