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

enum Cipher {
    Aes128(Aes128Gcm),
    #[cfg(feature = "sha384")]
    Aes256(Aes256Gcm),
    #[cfg(feature = "chacha20")]
    Chacha(ChaCha20Poly1305),
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
                CipherSuite::Aes128GcmSha256 => Aes128Gcm::new_from_slice(k).map(Cipher::Aes128),
                #[cfg(feature = "sha384")]
                CipherSuite::Aes256GcmSha384 => Aes256Gcm::new_from_slice(k).map(Cipher::Aes256),
                #[cfg(feature = "chacha20")]
                CipherSuite::Chacha20Poly1305Sha256 => {
                    ChaCha20Poly1305::new_from_slice(k).map(Cipher::Chacha)
                }
                #[allow(unreachable_patterns)]
                _ => return Err(CryptoError::UnsupportedSuite),
            }
            .map_err(|_| CryptoError::BadLength)
        });
        key.zeroize();
        match cipher {
            Ok(cipher) => Ok(RecordProtection {
                cipher,
                iv,
                seq: 0,
                suite,
            }),
            Err(e) => {
                iv.zeroize();
                Err(e)
            }
        }
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
            Cipher::Aes128(c) => c
                .encrypt_inout_detached(&nonce.into(), aad, inout.into())
                .map(|t| t.into()),
            #[cfg(feature = "sha384")]
            Cipher::Aes256(c) => c
                .encrypt_inout_detached(&nonce.into(), aad, inout.into())
                .map(|t| t.into()),
            #[cfg(feature = "chacha20")]
            Cipher::Chacha(c) => c
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
            Cipher::Aes128(c) => {
                c.decrypt_inout_detached(&nonce.into(), aad, inout.into(), &(*tag).into())
            }
            #[cfg(feature = "sha384")]
            Cipher::Aes256(c) => {
                c.decrypt_inout_detached(&nonce.into(), aad, inout.into(), &(*tag).into())
            }
            #[cfg(feature = "chacha20")]
            Cipher::Chacha(c) => {
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
