//! Looking for secrets left in memory (E7): the secrets a scripted handshake made, by name, and
//! the bytes of a value read where it lies.

use std::collections::HashMap;

use encore_tls::crypto::{self, HashAlg, Secret};

/// The names [`KnownSecrets::traffic`] gives the client's and the server's application
/// traffic secrets (`c_ap`, `s_ap`) and their keys and IVs, with the resumption master secret.
pub const APPLICATION_SECRETS: &[&str] = &[
    "c_ap",
    "c_ap.key",
    "c_ap.iv",
    "s_ap",
    "s_ap.key",
    "s_ap.iv",
    "res_master",
];

/// Every secret of a scripted connection, by name, to be searched for in memory.
#[derive(Default, Clone)]
pub struct KnownSecrets(Vec<(String, Vec<u8>)>);

impl KnownSecrets {
    /// Adds a secret. It must be at least 12 bytes long (an IV) and not all zero, so that a
    /// match means it.
    pub fn add(&mut self, name: &str, bytes: &[u8]) {
        assert!(bytes.len() >= 12, "{name}");
        assert!(bytes.iter().any(|b| *b != 0), "{name}");
        self.0.push((name.to_string(), bytes.to_vec()));
    }

    /// A SHA-256 traffic secret with the AES-128-GCM key and the IV derived from it (RFC 8446
    /// §7.3), as `name`, `name.key` and `name.iv`.
    pub fn traffic(&mut self, name: &str, secret: &Secret) {
        self.add(name, secret.as_bytes());
        let mut key = [0u8; 16];
        crypto::hkdf_expand_label(HashAlg::Sha256, secret.as_bytes(), b"key", &[], &mut key)
            .unwrap();
        let mut iv = [0u8; 12];
        crypto::hkdf_expand_label(HashAlg::Sha256, secret.as_bytes(), b"iv", &[], &mut iv).unwrap();
        self.add(&format!("{name}.key"), &key);
        self.add(&format!("{name}.iv"), &iv);
    }

    /// A private scalar, also byte-reversed as `name.le` (P-256 keeps its scalar in
    /// little-endian limbs).
    pub fn scalar(&mut self, name: &str, bytes: &[u8]) {
        self.add(name, bytes);
        let rev: Vec<u8> = bytes.iter().rev().copied().collect();
        self.add(&format!("{name}.le"), &rev);
    }

    /// Adds every secret of `other`.
    pub fn extend(&mut self, other: &KnownSecrets) {
        self.0.extend(other.0.iter().cloned());
    }

    /// Names of the secrets with a 16-byte window (12 for an IV) anywhere in `mem`, sorted.
    pub fn found_in(&self, mem: &[u8]) -> Vec<String> {
        let mut windows: HashMap<&[u8], &str> = HashMap::new();
        for (name, bytes) in &self.0 {
            for win in bytes.windows(bytes.len().min(16)) {
                windows.insert(win, name);
            }
        }
        let mut found: Vec<String> = Vec::new();
        for w in [16, 12] {
            for m in mem.windows(w) {
                if let Some(name) = windows.get(m) {
                    if !found.iter().any(|f| f == name) {
                        found.push(name.to_string());
                    }
                }
            }
        }
        found.sort();
        found
    }
}

/// The bytes of `v`, read where it lies (padding and moved-from fields included).
pub fn bytes_of<T: ?Sized>(v: &T) -> Vec<u8> {
    let p = (v as *const T).cast::<u8>();
    (0..size_of_val(v))
        // SAFETY: `p + i` stays inside the `size_of_val(v)` bytes of the value `v` refers to,
        // which live at least as long as this borrow; a volatile byte read keeps the compiler
        // from reasoning about (or skipping) the read of padding or dropped fields.
        .map(|i| unsafe { p.add(i).read_volatile() })
        .collect()
}
