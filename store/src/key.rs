//! The device key, and the two keys the store derives from it (E8).

use chacha20poly1305::XChaCha20Poly1305;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroize;

/// HKDF-SHA256 salt: names the application of the device key.
pub(crate) const HKDF_SALT: &[u8] = b"encore-store";
/// HKDF info of the XChaCha20-Poly1305 key that seals records (sealing format 2).
pub(crate) const SEAL_KEY_INFO: &[u8] = b"encore-store 2 seal key";
/// HKDF info of the HMAC-SHA256 key that derives each record's nonce (sealing format 2).
pub(crate) const NONCE_KEY_INFO: &[u8] = b"encore-store 2 nonce key";

/// A 256-bit key, unique to the device, from which the store derives the keys that seal every
/// record (E8).
///
/// The application supplies it: from a secure element, a key derived from a hardware-unique secret,
/// or random bytes provisioned once into a protected flash area. This crate has no default key,
/// because a key shared by every device would let anyone who reads one device's flash open all
/// of them.
///
/// The device key itself never encrypts anything: [`crate::SessionStore::new`] derives with
/// HKDF-SHA256 (salt `encore-store`) an XChaCha20-Poly1305 key (info `encore-store 2 seal key`)
/// and an HMAC-SHA256 nonce key (info `encore-store 2 nonce key`), and keeps only those. The
/// bytes are zeroized when this value is dropped; the store's derived keys are zeroized when the
/// store is dropped, and every intermediate value of the derivation (the HKDF pseudorandom key,
/// the derived key bytes before they enter the cipher) is zeroized before the derivation returns.
pub struct DeviceKey([u8; 32]);

impl DeviceKey {
    /// Wraps the key bytes. Zeroize the caller's copy after this call.
    pub const fn new(bytes: [u8; 32]) -> Self {
        DeviceKey(bytes)
    }

    /// Copies a key from a slice; `None` unless it is exactly 32 bytes. The bytes are copied
    /// straight into the key, so no other copy is left behind; zeroize the caller's slice after
    /// this call.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 32 {
            return None;
        }
        let mut key = DeviceKey([0u8; 32]);
        key.0.copy_from_slice(bytes);
        Some(key)
    }

    /// The sealing cipher and the nonce key (see the type's documentation). `None` only if HMAC
    /// or the cipher refused a key, which they never do (HMAC takes keys of any length, the cipher
    /// 32-byte keys).
    pub(crate) fn derive(&self) -> Option<(XChaCha20Poly1305, NonceKey)> {
        let mut seal_key = [0u8; 32];
        let derived = hkdf_sha256(HKDF_SALT, &self.0, SEAL_KEY_INFO, &mut seal_key);
        let cipher = XChaCha20Poly1305::new_from_slice(&seal_key).ok();
        seal_key.zeroize();
        let mut nonce_key = NonceKey([0u8; 32]);
        hkdf_sha256(HKDF_SALT, &self.0, NONCE_KEY_INFO, &mut nonce_key.0)?;
        derived?;
        Some((cipher?, nonce_key))
    }
}

/// HKDF-SHA256 (RFC 5869) with a 32-byte output: `PRK = HMAC(salt, ikm)`, `out = HMAC(PRK, info ||
/// 0x01)`. Written with `hmac` directly rather than the `hkdf` crate so that both HMAC outputs stay
/// in `CtOutput`s, which zeroize themselves on drop (`hkdf`'s `expand` keeps its last output block,
/// the derived key, in a local it does not wipe). Checked against RFC 5869's test case 1 and the
/// `hkdf` crate.
fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8], out: &mut [u8; 32]) -> Option<()> {
    let mut extract = <Hmac<Sha256> as KeyInit>::new_from_slice(salt).ok()?;
    extract.update(ikm);
    let prk = extract.finalize();
    let mut expand = <Hmac<Sha256> as KeyInit>::new_from_slice(prk.as_bytes()).ok()?;
    expand.update(info);
    expand.update(&[1]);
    let okm = expand.finalize();
    out.copy_from_slice(okm.as_bytes());
    Some(())
}

impl Drop for DeviceKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl core::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("DeviceKey(..)")
    }
}

/// The HMAC-SHA256 key that derives each record's nonce from the generator's output, the slot,
/// the write counter and the record (see [`crate::seal`]). Zeroized on drop.
pub(crate) struct NonceKey(pub(crate) [u8; 32]);

impl Drop for NonceKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5869 Appendix A.1 (SHA-256): the first 32 bytes of the OKM are T(1).
    #[test]
    fn hkdf_sha256_matches_rfc5869_case_1() {
        let ikm = [0x0b; 22];
        let salt: [u8; 13] = core::array::from_fn(|i| i as u8);
        let info: [u8; 10] = core::array::from_fn(|i| 0xf0 + i as u8);
        let mut out = [0u8; 32];
        assert_eq!(hkdf_sha256(&salt, &ikm, &info, &mut out), Some(()));
        let expected = [
            0x3c, 0xb2, 0x5f, 0x25, 0xfa, 0xac, 0xd5, 0x7a, 0x90, 0x43, 0x4f, 0x64, 0xd0, 0x36,
            0x2f, 0x2a, 0x2d, 0x2d, 0x0a, 0x90, 0xcf, 0x1a, 0x5a, 0x4c, 0x5d, 0xb0, 0x2d, 0x56,
            0xec, 0xc4, 0xc5, 0xbf,
        ];
        assert_eq!(out, expected);
        let mut crate_out = [0u8; 32];
        hkdf::Hkdf::<Sha256>::new(Some(&salt), &ikm)
            .expand(&info, &mut crate_out)
            .unwrap();
        assert_eq!(out, crate_out);
    }
}
