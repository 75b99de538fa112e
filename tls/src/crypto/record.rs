//! AEAD record protection for one direction (RFC 8446 §5.2–§5.3).

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::Aes128Gcm;
#[cfg(feature = "sha384")]
use aes_gcm::Aes256Gcm;
#[cfg(feature = "chacha20")]
use chacha20poly1305::ChaCha20Poly1305;
use zeroize::Zeroize;

use super::schedule::ExpandKey;
use super::{CipherSuite, CryptoError};

/// Length of the authentication tag of every supported suite.
pub const TAG_LEN: usize = 16;
/// Length of the per-record nonce (RFC 8446 §5.3: `iv_length` is 12 for every suite here).
const IV_LEN: usize = 12;

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

#[cfg(feature = "sha384")]
const AES256_SIZE: usize = size_of::<Aes256Gcm>();
#[cfg(not(feature = "sha384"))]
const AES256_SIZE: usize = 0;
#[cfg(feature = "chacha20")]
const CHACHA_SIZE: usize = size_of::<ChaCha20Poly1305>();
#[cfg(not(feature = "chacha20"))]
const CHACHA_SIZE: usize = 0;
/// Size of the largest cipher state this build has.
const CIPHER_SIZE: usize = max(max(size_of::<Aes128Gcm>(), AES256_SIZE), CHACHA_SIZE);

/// Words of the zeros that stand for no cipher: as aligned as a cipher state, covering the
/// largest.
const NO_CIPHER_WORDS: usize = CIPHER_SIZE.div_ceil(16);

/// The cipher state of one suite, each variant padded with zeros to the size of the largest
/// (E7): an enum value is moved with all its bytes, and the bytes a smaller variant leaves
/// unwritten would carry whatever the stack held where the value was built (a previous
/// traffic key, a key-schedule secret) into the connection. Writing the padding costs nothing
/// per record, only when keys change.
///
/// The tag is a `u64` so that the gap between it and the (16-byte aligned) state is at most 8
/// bytes: with a one-byte tag, the 15 unwritten bytes after it carried a stale nonce (equal
/// to the IV at sequence number 0) into the connection.
#[allow(dead_code)] // the padding is written, never read
#[repr(u64)]
enum Cipher {
    /// No key: zeros over the whole state, for the same reason.
    None([u128; NO_CIPHER_WORDS]),
    Aes128(Aes128Gcm, [u8; CIPHER_SIZE - size_of::<Aes128Gcm>()]),
    #[cfg(feature = "sha384")]
    Aes256(Aes256Gcm, [u8; CIPHER_SIZE - AES256_SIZE]),
    #[cfg(feature = "chacha20")]
    Chacha(ChaCha20Poly1305, [u8; CIPHER_SIZE - CHACHA_SIZE]),
}

/// Record protection for one direction of a connection: the write key and IV derived from a
/// traffic secret, and the 64-bit record sequence number.
///
/// The cipher states wipe their key schedules when dropped (the AEAD crates' `zeroize`
/// feature), and so does the IV. AES-GCM keys should be updated (KeyUpdate, RFC 8446 §5.5)
/// long before 2^24.5 records; the sequence number itself is refused before it wraps.
pub struct RecordProtection {
    cipher: Cipher,
    iv: [u8; IV_LEN],
    seq: u64,
    suite: CipherSuite,
}

impl core::fmt::Debug for RecordProtection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RecordProtection")
            .field("suite", &self.suite)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Drop for RecordProtection {
    fn drop(&mut self) {
        self.iv.zeroize();
    }
}

impl RecordProtection {
    /// No key (yet, or any more): a placeholder whose every byte is written, so that the place
    /// of a traffic key holds nothing else before the key is set and after it is wiped (E7).
    /// [`encrypt`](Self::encrypt) and [`decrypt`](Self::decrypt) refuse to run without a key.
    pub(crate) const fn unkeyed() -> Self {
        RecordProtection {
            cipher: Cipher::None([0; NO_CIPHER_WORDS]),
            iv: [0; IV_LEN],
            seq: 0,
            suite: CipherSuite::Aes128GcmSha256,
        }
    }

    /// Whether a key is set (see [`unkeyed`](Self::unkeyed)).
    pub(crate) fn is_keyed(&self) -> bool {
        !matches!(self.cipher, Cipher::None(_))
    }

    /// The protection when a key is set.
    pub(crate) fn keyed_mut(&mut self) -> Option<&mut Self> {
        if self.is_keyed() {
            Some(self)
        } else {
            None
        }
    }

    /// Derive `key = HKDF-Expand-Label(secret, "key", "", key_length)` and
    /// `iv = HKDF-Expand-Label(secret, "iv", "", 12)` (RFC 8446 §7.3); sequence number 0.
    /// A suite this build leaves out is [`CryptoError::UnsupportedSuite`].
    pub fn new(suite: CipherSuite, traffic_secret: &[u8]) -> Result<Self, CryptoError> {
        let hash = suite.hash();
        if traffic_secret.len() != hash.output_len() {
            return Err(CryptoError::BadLength);
        }
        if !suite.is_supported() {
            return Err(CryptoError::UnsupportedSuite);
        }
        let mut key = [0u8; 32];
        let key_slice = key
            .get_mut(..suite.key_len())
            .ok_or(CryptoError::BadLength)?;
        let mut iv = [0u8; IV_LEN];
        // One keyed HKDF for both labels.
        let derived = ExpandKey::new(hash, traffic_secret).and_then(|k| {
            k.expand_label(b"key", &[], key_slice)?;
            k.expand_label(b"iv", &[], &mut iv)
        });
        let cipher = derived.and_then(|()| {
            let k: &[u8] = key_slice;
            match suite {
                CipherSuite::Aes128GcmSha256 => Aes128Gcm::new_from_slice(k)
                    .map(|c| Cipher::Aes128(c, [0; CIPHER_SIZE - size_of::<Aes128Gcm>()])),
                #[cfg(feature = "sha384")]
                CipherSuite::Aes256GcmSha384 => Aes256Gcm::new_from_slice(k)
                    .map(|c| Cipher::Aes256(c, [0; CIPHER_SIZE - AES256_SIZE])),
                #[cfg(feature = "chacha20")]
                CipherSuite::Chacha20Poly1305Sha256 => ChaCha20Poly1305::new_from_slice(k)
                    .map(|c| Cipher::Chacha(c, [0; CIPHER_SIZE - CHACHA_SIZE])),
                #[allow(unreachable_patterns)]
                _ => return Err(CryptoError::UnsupportedSuite),
            }
            .map_err(|_| CryptoError::BadLength)
        });
        key.zeroize();
        let made = cipher.map(|cipher| RecordProtection {
            cipher,
            iv,
            seq: 0,
            suite,
        });
        iv.zeroize();
        made
    }

    /// Continue at sequence number `seq` instead of 0 (known-answer tests over a recorded
    /// stream; a live connection always starts at 0).
    pub fn with_sequence(mut self, seq: u64) -> Self {
        self.seq = seq;
        self
    }

    /// The suite this protection was made for.
    pub fn suite(&self) -> CipherSuite {
        self.suite
    }

    /// Sequence number of the next record.
    pub fn sequence(&self) -> u64 {
        self.seq
    }

    /// Move to the next record. The last value, 2^64-1, is never used so that the counter
    /// cannot wrap (RFC 8446 §5.3).
    fn advance(&mut self) -> Result<(), CryptoError> {
        self.seq = self.seq.checked_add(1).ok_or(CryptoError::RecordOverflow)?;
        Ok(())
    }

    /// Encrypt `inout` (TLSInnerPlaintext: content, content type, padding) in place with
    /// `aad` = the 5-byte record header of the protected record, and return the tag.
    /// The sequence number advances only on success.
    pub fn encrypt(
        &mut self,
        aad: &[u8; 5],
        inout: &mut [u8],
    ) -> Result<[u8; TAG_LEN], CryptoError> {
        if self.seq == u64::MAX {
            return Err(CryptoError::RecordOverflow);
        }
        let nonce = self.nonce_for(self.seq);
        let tag = match &self.cipher {
            Cipher::None(_) => return Err(CryptoError::UnsupportedSuite),
            Cipher::Aes128(c, _) => c
                .encrypt_inout_detached(&nonce.into(), aad, inout.into())
                .map(|t| t.into()),
            #[cfg(feature = "sha384")]
            Cipher::Aes256(c, _) => c
                .encrypt_inout_detached(&nonce.into(), aad, inout.into())
                .map(|t| t.into()),
            #[cfg(feature = "chacha20")]
            Cipher::Chacha(c, _) => c
                .encrypt_inout_detached(&nonce.into(), aad, inout.into())
                .map(|t| t.into()),
        }
        // The AEADs only refuse inputs longer than any TLS record can be.
        .map_err(|_| CryptoError::BadLength)?;
        self.advance()?;
        Ok(tag)
    }

    /// Authenticate and decrypt `inout` in place. On failure the buffer content is unspecified
    /// and must be discarded, and the sequence number does not advance (the connection has to
    /// be closed with bad_record_mac anyway).
    pub fn decrypt(
        &mut self,
        aad: &[u8; 5],
        inout: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), CryptoError> {
        if self.seq == u64::MAX {
            return Err(CryptoError::RecordOverflow);
        }
        let nonce = self.nonce_for(self.seq);
        let r = match &self.cipher {
            Cipher::None(_) => return Err(CryptoError::UnsupportedSuite),
            Cipher::Aes128(c, _) => {
                c.decrypt_inout_detached(&nonce.into(), aad, inout.into(), &(*tag).into())
            }
            #[cfg(feature = "sha384")]
            Cipher::Aes256(c, _) => {
                c.decrypt_inout_detached(&nonce.into(), aad, inout.into(), &(*tag).into())
            }
            #[cfg(feature = "chacha20")]
            Cipher::Chacha(c, _) => {
                c.decrypt_inout_detached(&nonce.into(), aad, inout.into(), &(*tag).into())
            }
        };
        r.map_err(|_| CryptoError::DecryptFailed)?;
        self.advance()?;
        Ok(())
    }

    /// Per-record nonce: the IV XOR the sequence number, left-padded to 12 bytes (§5.3).
    fn nonce_for(&self, seq: u64) -> [u8; IV_LEN] {
        let mut nonce = self.iv;
        for (n, s) in nonce.iter_mut().skip(IV_LEN - 8).zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        nonce
    }
}
