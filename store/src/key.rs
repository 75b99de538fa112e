//! The device key that seals records at rest.

use zeroize::Zeroize;

/// A 256-bit key, unique to the device, that seals every record (XChaCha20-Poly1305).
///
/// The application supplies it: from a secure element, a key derived from a hardware-unique secret,
/// or random bytes provisioned once into a protected flash area. This crate has no default key,
/// because a key shared by every device would let anyone who reads one device's flash open all
/// of them. The bytes are zeroized when the value is dropped, and the store keeps only the cipher
/// state, which is zeroized on drop as well.
pub struct DeviceKey([u8; 32]);

impl DeviceKey {
    /// Wraps the key bytes. Zeroize the caller's copy after this call.
    pub const fn new(bytes: [u8; 32]) -> Self {
        DeviceKey(bytes)
    }

    /// Copies a key from a slice; `None` unless it is exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let mut key = [0u8; 32];
        if bytes.len() != key.len() {
            return None;
        }
        key.copy_from_slice(bytes);
        Some(DeviceKey(key))
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
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
