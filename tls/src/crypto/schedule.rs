//! The TLS 1.3 key schedule (RFC 8446 §7.1) and the derivations around it: Finished and binder
//! MACs (§4.4.4, §4.2.11.2), ticket PSKs (§4.6.1) and KeyUpdate (§7.2).

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest as _, Sha256, Sha384};
use zeroize::Zeroize;

use super::{CryptoError, Digest, HashAlg, Secret, MAX_HASH_LEN};

/// Prefix of every HKDF label (RFC 8446 §7.1).
const LABEL_PREFIX: &[u8] = b"tls13 ";

/// `HKDF-Expand-Label(secret, label, context, out.len())` (RFC 8446 §7.1).
///
/// `label` is given without the `"tls13 "` prefix. `secret` must be at least `Hash.length`
/// bytes; `label` at most 249 bytes, `context` at most 255 and `out` at most `255 * Hash.length`
/// bytes, otherwise [`CryptoError::BadLength`].
pub fn hkdf_expand_label(
    hash: HashAlg,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    let out_len = u16::try_from(out.len()).map_err(|_| CryptoError::BadLength)?;
    let label_len =
        u8::try_from(LABEL_PREFIX.len() + label.len()).map_err(|_| CryptoError::BadLength)?;
    let context_len = u8::try_from(context.len()).map_err(|_| CryptoError::BadLength)?;
    let length = out_len.to_be_bytes();
    let info: [&[u8]; 6] = [
        &length,
        &[label_len],
        LABEL_PREFIX,
        label,
        &[context_len],
        context,
    ];
    match hash {
        HashAlg::Sha256 => Hkdf::<Sha256>::from_prk(secret)
            .map_err(|_| CryptoError::BadLength)?
            .expand_multi_info(&info, out)
            .map_err(|_| CryptoError::BadLength),
        HashAlg::Sha384 => Hkdf::<Sha384>::from_prk(secret)
            .map_err(|_| CryptoError::BadLength)?
            .expand_multi_info(&info, out)
            .map_err(|_| CryptoError::BadLength),
    }
}

/// `HKDF-Expand-Label` producing `Hash.length` bytes; empty when the inputs are unusable
/// (a `secret` shorter than the hash), which every later step rejects.
fn expand_hash_len(hash: HashAlg, secret: &[u8], label: &[u8], context: &[u8]) -> Secret {
    let mut out = Secret::zeroed(hash.output_len());
    match hkdf_expand_label(hash, secret, label, context, out.as_mut_bytes()) {
        Ok(()) => out,
        Err(_) => Secret::empty(),
    }
}

/// `Derive-Secret(secret, label, transcript_hash)` = `HKDF-Expand-Label(secret, label,
/// transcript_hash, Hash.length)` (RFC 8446 §7.1), where the caller has already hashed the
/// messages. Returns an empty [`Secret`] when `secret` is shorter than the hash.
pub fn derive_secret(hash: HashAlg, secret: &[u8], label: &[u8], transcript_hash: &[u8]) -> Secret {
    expand_hash_len(hash, secret, label, transcript_hash)
}

/// `HKDF-Extract(salt, ikm)`.
fn hkdf_extract(hash: HashAlg, salt: &[u8], ikm: &[u8]) -> Secret {
    match hash {
        HashAlg::Sha256 => {
            let (mut prk, _) = Hkdf::<Sha256>::extract(Some(salt), ikm);
            let s = Secret::from_slice(&prk).unwrap_or_else(|_| Secret::empty());
            prk.as_mut_slice().zeroize();
            s
        }
        HashAlg::Sha384 => {
            let (mut prk, _) = Hkdf::<Sha384>::extract(Some(salt), ikm);
            let s = Secret::from_slice(&prk).unwrap_or_else(|_| Secret::empty());
            prk.as_mut_slice().zeroize();
            s
        }
    }
}

/// `Hash("")`, the context of "derived" and of the binder keys.
fn empty_hash(hash: HashAlg) -> Digest {
    let r = match hash {
        HashAlg::Sha256 => Secret::from_slice(&Sha256::digest([])),
        HashAlg::Sha384 => Secret::from_slice(&Sha384::digest([])),
    };
    r.unwrap_or_else(|_| Secret::empty())
}

/// Which secret a [`KeySchedule`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Early Secret.
    Early,
    /// Handshake Secret.
    Handshake,
    /// Master Secret.
    Master,
}

/// The chain Early Secret → Handshake Secret → Master Secret (RFC 8446 §7.1).
///
/// Each stage is consumed by the next (`into_handshake`, `into_master`), so an earlier secret
/// cannot be used after it has been superseded, and the old value is wiped.
#[derive(Clone)]
pub struct KeySchedule {
    hash: HashAlg,
    secret: Secret,
    stage: Stage,
}

impl core::fmt::Debug for KeySchedule {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeySchedule")
            .field("hash", &self.hash)
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

impl KeySchedule {
    /// Early Secret = `HKDF-Extract(0, PSK)`, with a zero PSK of `Hash.length` bytes when
    /// `psk` is `None` (a full handshake).
    pub fn early(hash: HashAlg, psk: Option<&[u8]>) -> Self {
        let zeros = [0u8; MAX_HASH_LEN];
        let zeros = zeros.get(..hash.output_len()).unwrap_or(&[]);
        KeySchedule {
            hash,
            secret: hkdf_extract(hash, zeros, psk.unwrap_or(zeros)),
            stage: Stage::Early,
        }
    }

    /// The hash this schedule runs on.
    pub fn hash(&self) -> HashAlg {
        self.hash
    }

    /// Which secret is held.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// The secret of the current stage (for known-answer tests and exporters).
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    fn derive(&self, label: &[u8], th: &[u8]) -> Secret {
        derive_secret(self.hash, self.secret.as_bytes(), label, th)
    }

    /// Binder key: "res binder" for a resumption PSK from a ticket, "ext binder" for an
    /// external PSK (RFC 8446 §7.1). Only meaningful on the Early Secret.
    pub fn binder_key(&self, resumption: bool) -> Secret {
        let label: &[u8] = if resumption {
            b"res binder"
        } else {
            b"ext binder"
        };
        self.derive(label, empty_hash(self.hash).as_bytes())
    }

    /// client_early_traffic_secret over `Hash(ClientHello)`.
    pub fn client_early_traffic_secret(&self, ch_hash: &[u8]) -> Secret {
        self.derive(b"c e traffic", ch_hash)
    }

    /// early_exporter_master_secret over `Hash(ClientHello)`.
    pub fn early_exporter_master_secret(&self, ch_hash: &[u8]) -> Secret {
        self.derive(b"e exp master", ch_hash)
    }

    /// Next stage: `HKDF-Extract(Derive-Secret(., "derived", ""), ikm)`.
    fn advance(self, ikm: Option<&[u8]>, stage: Stage) -> Self {
        let salt = self.derive(b"derived", empty_hash(self.hash).as_bytes());
        let zeros = [0u8; MAX_HASH_LEN];
        let zeros = zeros.get(..self.hash.output_len()).unwrap_or(&[]);
        KeySchedule {
            hash: self.hash,
            secret: hkdf_extract(self.hash, salt.as_bytes(), ikm.unwrap_or(zeros)),
            stage,
        }
    }

    /// Handshake Secret from the (EC)DHE shared secret; `None` (psk_ke) uses zeros.
    pub fn into_handshake(self, dhe: Option<&[u8]>) -> Self {
        self.advance(dhe, Stage::Handshake)
    }

    /// client_handshake_traffic_secret over `Hash(ClientHello..ServerHello)`.
    pub fn client_handshake_traffic_secret(&self, th: &[u8]) -> Secret {
        self.derive(b"c hs traffic", th)
    }

    /// server_handshake_traffic_secret over `Hash(ClientHello..ServerHello)`.
    pub fn server_handshake_traffic_secret(&self, th: &[u8]) -> Secret {
        self.derive(b"s hs traffic", th)
    }

    /// Master Secret.
    pub fn into_master(self) -> Self {
        self.advance(None, Stage::Master)
    }

    /// client_application_traffic_secret_0 over `Hash(ClientHello..server Finished)`.
    pub fn client_application_traffic_secret_0(&self, th: &[u8]) -> Secret {
        self.derive(b"c ap traffic", th)
    }

    /// server_application_traffic_secret_0 over `Hash(ClientHello..server Finished)`.
    pub fn server_application_traffic_secret_0(&self, th: &[u8]) -> Secret {
        self.derive(b"s ap traffic", th)
    }

    /// exporter_master_secret over `Hash(ClientHello..server Finished)`.
    pub fn exporter_master_secret(&self, th: &[u8]) -> Secret {
        self.derive(b"exp master", th)
    }

    /// resumption_master_secret over `Hash(ClientHello..client Finished)`; the root of every
    /// ticket PSK of the connection (RFC 8446 §4.6.1).
    pub fn resumption_master_secret(&self, th: &[u8]) -> Secret {
        self.derive(b"res master", th)
    }
}

/// Finished verify_data = `HMAC(HKDF-Expand-Label(base_key, "finished", "", Hash.length),
/// transcript_hash)` (RFC 8446 §4.4.4). With `base_key` = binder key and the hash of the
/// truncated ClientHello, this is the PSK binder (§4.2.11.2). Empty when `base_key` is shorter
/// than the hash.
pub fn finished_verify_data(hash: HashAlg, base_key: &[u8], transcript_hash: &[u8]) -> Digest {
    let finished_key = expand_hash_len(hash, base_key, b"finished", &[]);
    if finished_key.is_empty() {
        return Secret::empty();
    }
    let r = match hash {
        HashAlg::Sha256 => hmac_once::<Hmac<Sha256>>(finished_key.as_bytes(), transcript_hash),
        HashAlg::Sha384 => hmac_once::<Hmac<Sha384>>(finished_key.as_bytes(), transcript_hash),
    };
    r.unwrap_or_else(|_| Secret::empty())
}

fn hmac_once<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Result<Digest, CryptoError> {
    let mut mac = <M as KeyInit>::new_from_slice(key).map_err(|_| CryptoError::BadLength)?;
    mac.update(data);
    let out = mac.finalize().into_bytes();
    Secret::from_slice(&out)
}

/// PSK of a ticket: `HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce,
/// Hash.length)` (RFC 8446 §4.6.1). Empty when the inputs are unusable (a nonce over 255
/// bytes cannot arrive from a well-formed NewSessionTicket).
pub fn resumption_psk(
    hash: HashAlg,
    resumption_master_secret: &[u8],
    ticket_nonce: &[u8],
) -> Secret {
    expand_hash_len(hash, resumption_master_secret, b"resumption", ticket_nonce)
}

/// `application_traffic_secret_N+1` = `HKDF-Expand-Label(secret_N, "traffic upd", "",
/// Hash.length)` (RFC 8446 §7.2).
pub fn next_traffic_secret(hash: HashAlg, secret: &[u8]) -> Secret {
    expand_hash_len(hash, secret, b"traffic upd", &[])
}
