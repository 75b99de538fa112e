//! Generators for tests that must know the engine's private values: one that records every
//! draw, and one that gives fixed bytes.

use std::sync::{Arc, Mutex};

use encore_tls::crypto::{KeyExchange, NamedGroup};

/// An OS-backed generator that remembers what it gave (the engine's private key shares come
/// from it), shared between the engine and the test.
#[derive(Clone, Default)]
pub struct Recording(Arc<Mutex<Vec<Vec<u8>>>>);

impl rand_core::TryRng for Recording {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        rand_core::utils::next_word_via_fill(self)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        rand_core::utils::next_word_via_fill(self)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        crate::OsRandom.try_fill_bytes(dst).unwrap();
        self.0.lock().unwrap().push(dst.to_vec());
        Ok(())
    }
}

impl rand_core::TryCryptoRng for Recording {}

impl Recording {
    /// The first 32-byte draw for which `is_key` holds.
    pub fn key(&self, what: &str, is_key: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|d| d.len() == 32)
            .find(|d| is_key(d))
            .unwrap_or_else(|| panic!("the {what} key came from the generator"))
            .clone()
    }

    /// The X25519 private key whose public key is `public`.
    pub fn x25519_key(&self, public: &[u8]) -> Vec<u8> {
        self.key("X25519", |d| {
            x25519_secret(d).public_key().as_slice() == public
        })
    }
}

/// Gives the same bytes for every draw.
pub struct Fixed(pub [u8; 32]);

impl rand_core::TryRng for Fixed {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        unreachable!()
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        unreachable!()
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        dst.copy_from_slice(&self.0[..dst.len()]);
        Ok(())
    }
}

impl rand_core::TryCryptoRng for Fixed {}

/// The X25519 key made of `bytes`, through the engine's own key exchange.
pub fn x25519_secret(bytes: &[u8]) -> KeyExchange {
    let mut fixed = Fixed(bytes.try_into().unwrap());
    KeyExchange::generate(NamedGroup::X25519, &mut fixed).unwrap()
}
