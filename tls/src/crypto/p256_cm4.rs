//! P-256 on Cortex-M4 and Cortex-M33 (Armv7E-M / Armv8-M Mainline with the DSP extension): the
//! `p256-cm4` crate's hand-written assembly for the field and scalar arithmetic, behind the
//! `p256-cm4` cargo feature on 32-bit Arm targets. Everywhere else RustCrypto's `p256` stays.
//!
//! The crate's functions are safe to call (it keeps its assembly behind them), so this module
//! needs no `unsafe` and the crate keeps `forbid(unsafe_code)`. It works on little-endian
//! 32-bit words; TLS and X.509 carry big-endian bytes, converted here.
//!
//! What it checks, as the RustCrypto paths do: a public key is a point on the curve with
//! coordinates below p (uncompressed or compressed SEC1; not the identity, which has no such
//! encoding); a signature's r and s are in 1..n (FIPS 186-5 §6.4.2) and come in strict DER;
//! an ephemeral scalar is in 1..n. Private scalars are wiped after use and when dropped.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{CryptoError, Secret};

/// A little-endian 256-bit integer in 32-bit words, as `p256-cm4` takes it.
type Words = [u32; 8];

fn words_from_be(be: &[u8; 32]) -> Words {
    let mut w = [0u32; 8];
    for (i, chunk) in be.rchunks_exact(4).enumerate() {
        if let (Some(slot), Ok(bytes)) = (w.get_mut(i), <[u8; 4]>::try_from(chunk)) {
            *slot = u32::from_be_bytes(bytes);
        }
    }
    w
}

fn be_from_words(w: &Words) -> [u8; 32] {
    let mut be = [0u8; 32];
    for (chunk, word) in be.rchunks_exact_mut(4).zip(w) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    be
}

/// An ephemeral P-256 key for a key_share: the scalar (wiped when dropped) and its public
/// point, computed once when the key is made.
#[derive(ZeroizeOnDrop)]
pub struct KeyPair {
    scalar: Words,
    #[zeroize(skip)]
    x: Words,
    #[zeroize(skip)]
    y: Words,
}

impl KeyPair {
    /// The key for a big-endian scalar, or `None` when it is not in 1..n (the caller draws
    /// again, as with RustCrypto's `SecretKey::from_slice`).
    pub(super) fn from_be_bytes(bytes: &[u8; 32]) -> Option<Self> {
        let mut pair = KeyPair {
            scalar: words_from_be(bytes),
            x: [0; 8],
            y: [0; 8],
        };
        p256_cm4::keygen(&mut pair.x, &mut pair.y, &pair.scalar).then_some(pair)
    }

    /// The uncompressed SEC1 point (RFC 8446 §4.2.8.2).
    pub(super) fn public_key(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        p256_cm4::point_to_octet_string_uncompressed(&mut out, &self.x, &self.y);
        out
    }

    /// ECDH with an uncompressed peer point: the x coordinate of scalar · peer. A point not on
    /// the curve, or with a coordinate not below p, is [`CryptoError::BadKeyShare`].
    pub(super) fn agree(&self, peer: &[u8]) -> Result<Secret, CryptoError> {
        if peer.len() != 65 || peer.first() != Some(&0x04) {
            return Err(CryptoError::BadKeyShare);
        }
        let (mut px, mut py) = ([0u32; 8], [0u32; 8]);
        if !p256_cm4::octet_string_to_point(&mut px, &mut py, peer) {
            return Err(CryptoError::BadKeyShare);
        }
        let mut shared = [0u8; 32];
        let ok = p256_cm4::ecdh_calc_shared_secret(&mut shared, &self.scalar, &px, &py);
        let secret = if ok {
            Secret::from_slice(&shared)
        } else {
            Err(CryptoError::BadKeyShare)
        };
        shared.zeroize();
        secret
    }
}

/// A SEC1 public key (uncompressed `04 || x || y` or compressed `02/03 || x`) as a point on
/// the curve. The hybrid forms (`06`, `07`), which the crate also decodes, are refused, as
/// RustCrypto refuses them. The crate's own decompression refused valid compressed keys on
/// the emulated Cortex-M4 (the differential test `p256-differential` found it), so a
/// compressed key (rare in certificates) is decompressed by RustCrypto's field arithmetic;
/// the point is then checked by the crate as any uncompressed one.
fn public_point(sec1: &[u8]) -> Option<(Words, Words)> {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    let (mut x, mut y) = ([0u32; 8], [0u32; 8]);
    match (sec1.first(), sec1.len()) {
        (Some(0x04), 65) => p256_cm4::octet_string_to_point(&mut x, &mut y, sec1),
        (Some(0x02 | 0x03), 33) => {
            let key = p256::PublicKey::from_sec1_bytes(sec1).ok()?;
            let point = key.to_encoded_point(false);
            p256_cm4::octet_string_to_point(&mut x, &mut y, point.as_bytes())
        }
        // Also keeps shorter input away from the crate, which indexes bytes 1..33 unchecked.
        _ => false,
    }
    .then_some((x, y))
}

/// ECDSA P-256 verification of a prehash (its leftmost 256 bits are used, FIPS 186-5 §6.4.2)
/// against a SEC1 key and a DER `ECDSA-Sig-Value` (RFC 3279 §2.2.3).
pub(super) fn verify_prehash(sec1: &[u8], prehash: &[u8], der: &[u8]) -> bool {
    let Some((r, s)) = der_signature(der) else {
        return false;
    };
    let Some((x, y)) = public_point(sec1) else {
        return false;
    };
    // The crate checks that r and s are in 1..n and the key's coordinates below p.
    p256_cm4::verify(&x, &y, prehash, &r, &s)
}

/// `SEQUENCE { r INTEGER, s INTEGER }` in strict DER: short lengths, minimal positive
/// integers of at most 32 significant bytes, nothing after. Range checks are the verifier's.
fn der_signature(der: &[u8]) -> Option<(Words, Words)> {
    let (&tag, rest) = der.split_first()?;
    let (&len, body) = rest.split_first()?;
    if tag != 0x30 || len >= 0x80 || usize::from(len) != body.len() {
        return None;
    }
    let (r, body) = der_integer(body)?;
    let (s, body) = der_integer(body)?;
    body.is_empty().then_some((r, s))
}

fn der_integer(input: &[u8]) -> Option<(Words, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&len, rest) = rest.split_first()?;
    let len = usize::from(len);
    if tag != 0x02 || len == 0 || len >= 0x80 || rest.len() < len {
        return None;
    }
    let (value, rest) = rest.split_at(len);
    let first = *value.first()?;
    if first & 0x80 != 0 {
        return None; // negative
    }
    let digits = if first == 0 {
        // A leading zero only where the next byte would read as negative.
        match value.get(1) {
            Some(next) if next & 0x80 != 0 => value.get(1..)?,
            None => value, // the integer zero, refused by the range check
            Some(_) => return None,
        }
    } else {
        value
    };
    if digits.len() > 32 {
        return None;
    }
    let mut be = [0u8; 32];
    be.get_mut(32 - digits.len()..)?.copy_from_slice(digits);
    Some((words_from_be(&be), rest))
}

/// The group order n, big-endian.
const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// `a - n` when `a >= n` (big-endian), so that a 256-bit value is reduced mod n.
fn reduce_once(a: &mut [u8; 32]) {
    let mut diff = [0u8; 32];
    let mut borrow = 0u16;
    for i in (0..32).rev() {
        let d = u16::from(a[i])
            .wrapping_sub(u16::from(ORDER[i]))
            .wrapping_sub(borrow);
        diff[i] = d as u8;
        borrow = (d >> 8) & 1;
    }
    // No borrow out: a >= n, keep the difference.
    let keep = 0u8.wrapping_sub((borrow ^ 1) as u8);
    for (x, d) in a.iter_mut().zip(diff) {
        *x = (d & keep) | (*x & !keep);
    }
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut out = [0u8; 32];
    if let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(key) {
        for part in parts {
            mac.update(part);
        }
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

/// ECDSA P-256 signature of a SHA-256 digest with the big-endian scalar `key` (in 1..n), with
/// the deterministic nonce of RFC 6979 §3.2 (HMAC-SHA-256), the nonce RustCrypto's signer uses:
/// both backends give the same signature. Returns `(r, s)` big-endian.
pub(super) fn sign_digest(
    key: &[u8; 32],
    digest: &[u8; 32],
) -> Result<([u8; 32], [u8; 32]), CryptoError> {
    let mut scalar = words_from_be(key);
    // bits2octets(h): the digest reduced mod n.
    let mut h = *digest;
    reduce_once(&mut h);
    let mut v = [0x01u8; 32];
    let mut k = [0x00u8; 32];
    k = hmac(&k, &[&v, &[0x00], key, &h]);
    v = hmac(&k, &[&v]);
    k = hmac(&k, &[&v, &[0x01], key, &h]);
    v = hmac(&k, &[&v]);
    let mut result = Err(CryptoError::BadKey);
    // A candidate out of 1..n (probability about 2^-32) or an r or s of zero (about 2^-256)
    // moves on to the next candidate, as RFC 6979 §3.2 step h.3 does.
    for _ in 0..8 {
        v = hmac(&k, &[&v]);
        let mut nonce = words_from_be(&v);
        let (mut r, mut s) = ([0u32; 8], [0u32; 8]);
        let ok = p256_cm4::sign(&mut r, &mut s, digest, &scalar, &nonce);
        nonce.zeroize();
        if ok {
            result = Ok((be_from_words(&r), be_from_words(&s)));
            break;
        }
        k = hmac(&k, &[&v, &[0x00]]);
        v = hmac(&k, &[&v]);
    }
    scalar.zeroize();
    k.zeroize();
    v.zeroize();
    h.zeroize();
    result
}
