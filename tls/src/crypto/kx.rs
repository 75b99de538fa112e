//! Ephemeral (EC)DHE key exchange for the key_share extension (RFC 8446 §4.2.8, §7.4).

#[cfg(not(all(feature = "p256-cm4", target_arch = "arm")))]
use p256::elliptic_curve::sec1::ToEncodedPoint;
use rand_core::TryCryptoRng;
#[cfg(feature = "x25519")]
use x25519_dalek::{PublicKey as XPublic, StaticSecret};
use zeroize::Zeroize;

use super::{CryptoError, NamedGroup, Secret};

/// The P-256 private key of a key share: `p256-cm4`'s Cortex-M4 assembly with the `p256-cm4`
/// feature on 32-bit Arm, RustCrypto's `p256` elsewhere.
#[cfg(all(feature = "p256-cm4", target_arch = "arm"))]
pub type P256Key = super::p256_cm4::KeyPair;
/// The P-256 private key of a key share: `p256-cm4`'s Cortex-M4 assembly with the `p256-cm4`
/// feature on 32-bit Arm, RustCrypto's `p256` elsewhere.
#[cfg(not(all(feature = "p256-cm4", target_arch = "arm")))]
pub type P256Key = p256::SecretKey;

/// Attempts at drawing a valid P-256 scalar before giving up; a uniformly random 32-byte
/// string is out of range with probability below 2^-32, so more than one failure means the
/// generator is broken.
const P256_DRAWS: usize = 4;

/// One ephemeral private key for a key_share. Both variants wipe the scalar when dropped; the
/// owner drops the key where it lies right after [`agree`](KeyExchange::agree), so that it
/// serves exactly one exchange and no moved-out copy of it is left behind (E7).
pub enum KeyExchange {
    /// X25519 (RFC 7748); only with the `x25519` cargo feature.
    #[cfg(feature = "x25519")]
    X25519(StaticSecret),
    /// secp256r1 (NIST P-256).
    P256(P256Key),
}

/// Words of the zeros that stand for no key share: aligned, covering a whole key.
const NO_KEY_WORDS: usize = size_of::<KeyExchange>().div_ceil(8);

/// The place of the key share of a connection: a key, or zeros over the whole of one (E7: a
/// `None` would leave unwritten whatever the stack held where the connection was built).
#[allow(dead_code)] // the zeros are written, never read
pub(crate) enum KeyShare {
    None([u64; NO_KEY_WORDS]),
    Key(KeyExchange),
}

impl KeyShare {
    /// No key.
    pub(crate) const fn none() -> Self {
        KeyShare::None([0; NO_KEY_WORDS])
    }

    /// The key, if there is one.
    pub(crate) fn get(&self) -> Option<&KeyExchange> {
        match self {
            KeyShare::Key(k) => Some(k),
            KeyShare::None(_) => None,
        }
    }
}

impl core::fmt::Debug for KeyExchange {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "KeyExchange({:?})", self.group())
    }
}

impl KeyExchange {
    /// Draw a fresh private key. The generator may be fallible (a hardware TRNG); its failure is
    /// [`CryptoError::Rng`]. Any infallible `CryptoRng` is accepted as well. A group this
    /// build leaves out (see [`NamedGroup::is_supported`]) is [`CryptoError::UnsupportedGroup`].
    pub fn generate<R: TryCryptoRng + ?Sized>(
        group: NamedGroup,
        rng: &mut R,
    ) -> Result<Self, CryptoError> {
        let mut bytes = [0u8; 32];
        match group {
            #[cfg(not(feature = "x25519"))]
            NamedGroup::X25519 => Err(CryptoError::UnsupportedGroup),
            #[cfg(feature = "x25519")]
            NamedGroup::X25519 => {
                rng.try_fill_bytes(&mut bytes)
                    .map_err(|_| CryptoError::Rng)?;
                let secret = StaticSecret::from(bytes);
                bytes.zeroize();
                Ok(KeyExchange::X25519(secret))
            }
            NamedGroup::Secp256r1 => {
                for _ in 0..P256_DRAWS {
                    rng.try_fill_bytes(&mut bytes)
                        .map_err(|_| CryptoError::Rng)?;
                    #[cfg(all(feature = "p256-cm4", target_arch = "arm"))]
                    let key = P256Key::from_be_bytes(&bytes);
                    #[cfg(not(all(feature = "p256-cm4", target_arch = "arm")))]
                    let key = p256::SecretKey::from_slice(&bytes).ok();
                    bytes.zeroize();
                    if let Some(key) = key {
                        return Ok(KeyExchange::P256(key));
                    }
                }
                Err(CryptoError::Rng)
            }
        }
    }

    /// The group of this key.
    pub fn group(&self) -> NamedGroup {
        match self {
            #[cfg(feature = "x25519")]
            KeyExchange::X25519(_) => NamedGroup::X25519,
            KeyExchange::P256(_) => NamedGroup::Secp256r1,
        }
    }

    /// The key_share value: 32 bytes for X25519, the 65-byte uncompressed point for P-256
    /// (RFC 8446 §4.2.8.2 requires the uncompressed form).
    pub fn public_key(&self) -> heapless::Vec<u8, 65> {
        let mut out = heapless::Vec::new();
        match self {
            #[cfg(feature = "x25519")]
            KeyExchange::X25519(s) => {
                let _ = out.extend_from_slice(XPublic::from(s).as_bytes());
            }
            #[cfg(all(feature = "p256-cm4", target_arch = "arm"))]
            KeyExchange::P256(s) => {
                let _ = out.extend_from_slice(&s.public_key());
            }
            #[cfg(not(all(feature = "p256-cm4", target_arch = "arm")))]
            KeyExchange::P256(s) => {
                let point = s.public_key().to_encoded_point(false);
                let _ = out.extend_from_slice(point.as_bytes());
            }
        }
        out
    }

    /// Compute the shared secret with the server's key_share value.
    ///
    /// The peer value is checked: X25519 must be 32 bytes and must not give the all-zero
    /// output of a small-order point (RFC 8446 §7.4.2, RFC 7748 §6.1); P-256 must be a
    /// 65-byte uncompressed point on the curve (RFC 8446 §4.2.8.2). Any failure is
    /// [`CryptoError::BadKeyShare`] (illegal_parameter).
    pub fn agree(&self, peer_public: &[u8]) -> Result<Secret, CryptoError> {
        match self {
            #[cfg(feature = "x25519")]
            KeyExchange::X25519(secret) => {
                let peer: [u8; 32] = peer_public
                    .try_into()
                    .map_err(|_| CryptoError::BadKeyShare)?;
                let shared = secret.diffie_hellman(&XPublic::from(peer));
                if !shared.was_contributory() {
                    return Err(CryptoError::BadKeyShare);
                }
                Secret::from_slice(shared.as_bytes())
            }
            #[cfg(all(feature = "p256-cm4", target_arch = "arm"))]
            KeyExchange::P256(key) => key.agree(peer_public),
            #[cfg(not(all(feature = "p256-cm4", target_arch = "arm")))]
            KeyExchange::P256(secret) => {
                if peer_public.len() != 65 || peer_public.first() != Some(&0x04) {
                    return Err(CryptoError::BadKeyShare);
                }
                let peer = p256::PublicKey::from_sec1_bytes(peer_public)
                    .map_err(|_| CryptoError::BadKeyShare)?;
                let shared =
                    p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), peer.as_affine());
                let shared = Secret::from_slice(shared.raw_secret_bytes());
                shared
            }
        }
    }
}
