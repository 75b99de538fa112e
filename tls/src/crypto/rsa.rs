//! RSA signature verification without a heap, with the `rsa` cargo feature: RSASSA-PKCS1-v1_5
//! (RFC 8017 §8.2.2) for certificate signatures, and RSASSA-PSS (§8.1.2, rsaEncryption keys,
//! MGF1 with the same hash, salt as long as the hash) for PSS-signed certificates and the TLS 1.3
//! CertificateVerify (rsa_pss_rsae_sha256/384/512, RFC 8446 §4.2.3).
//!
//! # What is checked
//!
//! - The key is a DER `RSAPublicKey` (RFC 8017 Appendix A.1.1) parsed here: minimal lengths,
//!   positive integers without superfluous leading zeros, nothing after the sequence.
//! - The modulus has 2048 to 4096 bits (below 2048 web PKI no longer allows; above 4096 no
//!   public CA issues, and it bounds the work and the stack) and is odd.
//! - The public exponent is odd, greater than 1 and below 2^32: every CA key in use has 65537
//!   (a few old ones 3); the bound caps a verification at 31 squarings and 31 multiplications.
//! - The signature is exactly as long as the modulus and its value is in 1..n (§5.2.2; 0 is
//!   refused too, it never verifies).
//! - EMSA-PKCS1-v1_5: the whole encoded block is rebuilt from the message hash (§9.2, DigestInfo
//!   with explicit NULL parameters only) and compared byte for byte, so no other padding, DigestInfo
//!   variant or trailing data can pass.
//! - EMSA-PSS-VERIFY (§9.1.2) with emBits = modBits − 1: the trailer byte 0xbc, the unused top
//!   bits clear, every padding byte of DB zero before the 0x01, the salt as long as the hash.
//!
//! # Why this arithmetic
//!
//! The arithmetic is `crypto-bigint` 0.7 (RustCrypto, already in the tree through `p384`):
//! fixed-width [`Uint`] on the stack, sized by the modulus (2048, 3072 or 4096 bits, one
//! instantiation each, so a 2048-bit key never pays for 4096-bit arithmetic), in Montgomery form
//! with a left-to-right square-and-multiply over the public exponent (17 Montgomery products
//! for 65537, where the crate's windowed `pow` would first build a table of 16 powers: 8 KiB of
//! stack at 4096 bits). The encodings are checked here. The alternatives: RustCrypto `rsa` 0.10
//! keeps every integer in a heap-allocated `BoxedUint` and has no path without `alloc`;
//! `rsa_heapless` 0.5 (a fork of it) has a no-alloc verification path, but over other integer
//! crates (`fixed-bigint`, `modmath`, `const-num-traits`) that are young and maintained by one
//! person, which this engine would then trust for every RSA chain. Figures on the emulated
//! Cortex-M4 are in the crate documentation's feature table.
//!
//! Verification handles only public values, so its variable timing leaks nothing.
//!
//! Its stack is the price of using the crate's types: one verification takes about 8.4 KiB at
//! 2048 bits and 16 KiB at 4096 (on the Cortex-M4), because `FixedMontyParams::new_vartime`
//! computes R² mod n with double-width temporaries and every `FixedMontyForm` value carries its
//! own copy of the parameters (modulus, R and R² mod n). A Montgomery product written over the
//! limbs would need about 3.4 KiB at 4096 bits, but this engine writes the protocol, not the
//! arithmetic; the crate offers no way to build the parameters from parts or to multiply by
//! reference, which is what would close the gap.
//!
//! # How it is tested
//!
//! Every Wycheproof RSASSA-PKCS1-v1_5 and RSASSA-PSS vector with a 2048- to 4096-bit key and
//! SHA-256/384/512 (3,118 cases) goes through [`verify_rsa`] twice: on the host
//! (`tls/tests/crypto_rsa.rs`, which also checks that 8192-bit keys and other PSS salts are
//! refused) and on the emulated Cortex-M4, where `cargo xtask test` runs the `rsa-wycheproof`
//! image of `bench/mps2-an386` with the same cases and the same expected counts.

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Limb, MontyForm, MontyMultiplier, Odd, Uint, Word, U2048, U3072, U4096};
use rustls_pki_types::{alg_id, InvalidSignature, SignatureVerificationAlgorithm};
use sha2::{Sha256, Sha384, Sha512};

use super::sig::{Algorithm, Verify};
use super::{CryptoError, SignatureScheme};

/// Smallest accepted modulus, in bits (the chain check names a smaller key:
/// [`CertError::RsaKeyTooSmall`](super::CertError::RsaKeyTooSmall)).
pub const MIN_MODULUS_BITS: usize = super::cert::RSA_MIN_MODULUS_BITS;
/// Largest accepted modulus, in bits.
pub const MAX_MODULUS_BITS: usize = super::cert::RSA_MAX_MODULUS_BITS;
const MAX_MODULUS_BYTES: usize = MAX_MODULUS_BITS / 8;
const MAX_HASH_BYTES: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RsaHash {
    Sha256,
    Sha384,
    Sha512,
}

impl RsaHash {
    const fn len(self) -> usize {
        match self {
            RsaHash::Sha256 => 32,
            RsaHash::Sha384 => 48,
            RsaHash::Sha512 => 64,
        }
    }

    /// DER of the DigestInfo before the hash value (RFC 8017 §9.2, note 1): the algorithm
    /// identifier with NULL parameters and the OCTET STRING header.
    const fn digest_info_prefix(self) -> &'static [u8; 19] {
        match self {
            RsaHash::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            RsaHash::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            RsaHash::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }

    /// The hash of the concatenation of `parts`, in the first [`len`](Self::len) bytes of the
    /// returned array.
    fn digest(self, parts: &[&[u8]]) -> [u8; MAX_HASH_BYTES] {
        fn run<D: sha2::Digest>(parts: &[&[u8]], out: &mut [u8]) {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            let h = d.finalize();
            if let Some(dst) = out.get_mut(..h.len()) {
                dst.copy_from_slice(&h);
            }
        }
        let mut out = [0u8; MAX_HASH_BYTES];
        match self {
            RsaHash::Sha256 => run::<Sha256>(parts, &mut out),
            RsaHash::Sha384 => run::<Sha384>(parts, &mut out),
            RsaHash::Sha512 => run::<Sha512>(parts, &mut out),
        }
        out
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Padding {
    Pkcs1,
    Pss,
}

/// RSA signature checks, for webpki and the CertificateVerify check.
#[derive(Debug)]
pub(crate) struct Rsa {
    padding: Padding,
    hash: RsaHash,
}

impl Rsa {
    const fn algorithm(padding: Padding, hash: RsaHash) -> Algorithm<Rsa> {
        let signature = match (padding, hash) {
            (Padding::Pkcs1, RsaHash::Sha256) => alg_id::RSA_PKCS1_SHA256,
            (Padding::Pkcs1, RsaHash::Sha384) => alg_id::RSA_PKCS1_SHA384,
            (Padding::Pkcs1, RsaHash::Sha512) => alg_id::RSA_PKCS1_SHA512,
            (Padding::Pss, RsaHash::Sha256) => alg_id::RSA_PSS_SHA256,
            (Padding::Pss, RsaHash::Sha384) => alg_id::RSA_PSS_SHA384,
            (Padding::Pss, RsaHash::Sha512) => alg_id::RSA_PSS_SHA512,
        };
        Algorithm::new(alg_id::RSA_ENCRYPTION, signature, Rsa { padding, hash })
    }
}

/// A parsed `RSAPublicKey`, borrowing the big-endian magnitudes from the DER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PublicKey<'a> {
    /// The modulus without leading zero bytes (its first byte is non-zero).
    modulus: &'a [u8],
    exponent: u32,
}

impl PublicKey<'_> {
    fn modulus_bits(&self) -> usize {
        let top = self.modulus.first().copied().unwrap_or(0);
        (self.modulus.len() * 8).saturating_sub(top.leading_zeros() as usize)
    }
}

/// One DER TLV with tag `tag` at the start of `input`: (contents, rest). Definite, minimal
/// lengths of up to two bytes (a 4096-bit key is about 526 bytes).
fn der_tlv(tag: u8, input: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0x00..=0x7f => (usize::from(first), rest),
        0x81 => {
            let (&l, rest) = rest.split_first()?;
            if l < 0x80 {
                return None;
            }
            (usize::from(l), rest)
        }
        0x82 => {
            let (l, rest) = rest.split_first_chunk::<2>()?;
            let l = usize::from(u16::from_be_bytes(*l));
            if l < 0x100 {
                return None;
            }
            (l, rest)
        }
        _ => return None,
    };
    if rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}

/// The magnitude of a positive DER INTEGER, without its leading zero byte. Negative numbers,
/// zero and non-minimal encodings are refused.
fn der_positive_integer(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let (value, rest) = der_tlv(0x02, input)?;
    let magnitude = match value {
        [] => return None,
        [0x00] => return None,
        [0x00, next, ..] if *next < 0x80 => return None,
        [0x00, tail @ ..] => tail,
        [first, ..] if *first >= 0x80 => return None,
        _ => value,
    };
    Some((magnitude, rest))
}

/// Parses `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` and applies
/// the size and exponent rules of the module documentation.
fn parse_public_key(der: &[u8]) -> Result<PublicKey<'_>, InvalidSignature> {
    let (seq, rest) = der_tlv(0x30, der).ok_or(InvalidSignature)?;
    if !rest.is_empty() {
        return Err(InvalidSignature);
    }
    let (modulus, seq) = der_positive_integer(seq).ok_or(InvalidSignature)?;
    let (exponent, seq) = der_positive_integer(seq).ok_or(InvalidSignature)?;
    if !seq.is_empty() || exponent.len() > 4 {
        return Err(InvalidSignature);
    }
    let exponent = exponent
        .iter()
        .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
    if exponent < 3 || exponent % 2 == 0 {
        return Err(InvalidSignature);
    }
    let key = PublicKey { modulus, exponent };
    let bits = key.modulus_bits();
    if !(MIN_MODULUS_BITS..=MAX_MODULUS_BITS).contains(&bits)
        || modulus.last().is_none_or(|b| b % 2 == 0)
    {
        return Err(InvalidSignature);
    }
    Ok(key)
}

/// A big-endian magnitude of at most `LIMBS` limbs as a [`Uint`].
fn uint_from_be<const LIMBS: usize>(bytes: &[u8]) -> Option<Uint<LIMBS>> {
    if bytes.len() > LIMBS * Limb::BYTES {
        return None;
    }
    let mut out = Uint::<LIMBS>::ZERO;
    let limbs = out.as_mut_limbs();
    for (j, &b) in bytes.iter().rev().enumerate() {
        let limb = limbs.get_mut(j / Limb::BYTES)?;
        limb.0 |= Word::from(b) << ((j % Limb::BYTES) * 8);
    }
    Some(out)
}

/// RSAVP1 (RFC 8017 §5.2.2): `em = signature^e mod n`, written big-endian over the whole of
/// `em` (as long as the modulus). The signature must be in 1..n.
///
/// Never inlined, and split in three stages that are never inlined either (Montgomery
/// parameters, exponentiation, output), so that only one width's integers, and only one
/// stage's temporaries, are on the stack at a time.
#[inline(never)]
fn rsavp1<const LIMBS: usize>(
    key: &PublicKey<'_>,
    signature: &[u8],
    em: &mut [u8],
) -> Result<(), InvalidSignature> {
    let n = uint_from_be::<LIMBS>(key.modulus).ok_or(InvalidSignature)?;
    let s = uint_from_be::<LIMBS>(signature).ok_or(InvalidSignature)?;
    if s.is_zero_vartime() || s.cmp_vartime(&n).is_ge() {
        return Err(InvalidSignature);
    }
    let n = Option::<Odd<Uint<LIMBS>>>::from(Odd::new(n)).ok_or(InvalidSignature)?;
    let params = monty_params(n);
    let m = pow_public(&s, key.exponent, &params);
    write_be(&m, em)
}

/// Montgomery parameters of the modulus (variable time: the modulus is public).
#[inline(never)]
fn monty_params<const LIMBS: usize>(n: Odd<Uint<LIMBS>>) -> FixedMontyParams<LIMBS> {
    FixedMontyParams::new_vartime(n)
}

/// `s^e mod n` by left-to-right square-and-multiply over the public exponent, in place.
#[inline(never)]
fn pow_public<const LIMBS: usize>(
    s: &Uint<LIMBS>,
    e: u32,
    params: &FixedMontyParams<LIMBS>,
) -> Uint<LIMBS> {
    let base = FixedMontyForm::new(s, params);
    let mut acc = base;
    let mut mm = <FixedMontyForm<LIMBS> as MontyForm>::Multiplier::from(params);
    // e ≥ 3, so its top bit is bit 1 or higher; the loop runs over the bits below it.
    let top = (u32::BITS - 1).saturating_sub(e.leading_zeros());
    for i in (0..top).rev() {
        mm.square_assign(&mut acc);
        if (e >> i) & 1 == 1 {
            mm.mul_assign(&mut acc, &base);
        }
    }
    acc.retrieve()
}

/// `m` as big-endian bytes over the whole of `em`; `m` must fit.
fn write_be<const LIMBS: usize>(m: &Uint<LIMBS>, em: &mut [u8]) -> Result<(), InvalidSignature> {
    let limbs = m.as_limbs();
    let k = em.len();
    for (idx, out) in em.iter_mut().enumerate() {
        // Byte `j` counted from the least significant end.
        let j = k - 1 - idx;
        let limb = limbs.get(j / Limb::BYTES).ok_or(InvalidSignature)?;
        // Truncation to the addressed byte is the point.
        #[allow(clippy::cast_possible_truncation)]
        {
            *out = (limb.0 >> ((j % Limb::BYTES) * 8)) as u8;
        }
    }
    Ok(())
}

/// RSAVP1 at the narrowest width that holds the modulus.
fn rsavp1_sized(
    key: &PublicKey<'_>,
    signature: &[u8],
    em: &mut [u8],
) -> Result<(), InvalidSignature> {
    match key.modulus_bits() {
        0..=2048 => rsavp1::<{ U2048::LIMBS }>(key, signature, em),
        2049..=3072 => rsavp1::<{ U3072::LIMBS }>(key, signature, em),
        3073..=4096 => rsavp1::<{ U4096::LIMBS }>(key, signature, em),
        _ => Err(InvalidSignature),
    }
}

/// EMSA-PKCS1-v1_5 encode-and-compare (RFC 8017 §8.2.2 step 3–4, §9.2):
/// `00 01 FF..FF 00 DigestInfo(hash)` must be the whole block.
fn emsa_pkcs1_v1_5_matches(em: &[u8], hash: RsaHash, m_hash: &[u8]) -> bool {
    let prefix = hash.digest_info_prefix();
    let t_len = prefix.len() + m_hash.len();
    let Some(ps_end) = em.len().checked_sub(t_len + 1) else {
        return false;
    };
    // At least 8 bytes of 0xFF (§9.2 step 5); always so for moduli of 2048 bits or more.
    if ps_end < 2 + 8 {
        return false;
    }
    let (Some(head), Some(ps), Some(sep), Some(info), Some(digest)) = (
        em.get(..2),
        em.get(2..ps_end),
        em.get(ps_end),
        em.get(ps_end + 1..ps_end + 1 + prefix.len()),
        em.get(ps_end + 1 + prefix.len()..),
    ) else {
        return false;
    };
    head == [0x00, 0x01]
        && ps.iter().all(|&b| b == 0xff)
        && *sep == 0x00
        && info == prefix
        && digest == m_hash
}

/// EMSA-PSS-VERIFY (RFC 8017 §9.1.2) with MGF1 over `hash` and a salt of the hash's length.
/// `em` is the RSAVP1 output, as long as the modulus; `em_bits` is modBits − 1.
fn emsa_pss_matches(em: &[u8], em_bits: usize, hash: RsaHash, m_hash: &[u8]) -> bool {
    let h_len = hash.len();
    let s_len = h_len;
    let em_len = em_bits.div_ceil(8);
    // I2OSP(m, emLen) (§8.1.2 step 2c): when modBits ≡ 1 (mod 8) the block is one byte
    // shorter than the modulus, and that byte must be zero.
    let Some(extra) = em.len().checked_sub(em_len) else {
        return false;
    };
    let Some((leading, em)) = em.split_at_checked(extra) else {
        return false;
    };
    if leading.iter().any(|&b| b != 0) || em_len < h_len + s_len + 2 {
        return false;
    }
    let db_len = em_len - h_len - 1;
    let (Some(masked_db), Some(h), Some(&trailer)) = (
        em.get(..db_len),
        em.get(db_len..em_len - 1),
        em.get(em_len - 1),
    ) else {
        return false;
    };
    if trailer != 0xbc {
        return false;
    }
    // The 8·emLen − emBits leftmost bits must be zero (step 6).
    let unused_bits = 8 * em_len - em_bits;
    let top_mask = 0xffu8.checked_shr(unused_bits as u32).unwrap_or(0);
    match masked_db.first() {
        Some(&b) if b & !top_mask == 0 => {}
        _ => return false,
    }
    // DB = maskedDB xor MGF1(H, emLen − hLen − 1) (steps 7–8).
    let mut db_buf = [0u8; MAX_MODULUS_BYTES];
    let Some(db) = db_buf.get_mut(..db_len) else {
        return false;
    };
    db.copy_from_slice(masked_db);
    for (counter, chunk) in db.chunks_mut(h_len).enumerate() {
        let c = u32::try_from(counter).unwrap_or(u32::MAX).to_be_bytes();
        let mask = hash.digest(&[h, &c]);
        for (d, m) in chunk.iter_mut().zip(mask.iter()) {
            *d ^= m;
        }
    }
    if let Some(first) = db.first_mut() {
        *first &= top_mask;
    }
    // DB = PS (zeros) || 0x01 || salt (step 10).
    let ps_len = em_len - h_len - s_len - 2;
    let (Some(ps), Some(&one), Some(salt)) =
        (db.get(..ps_len), db.get(ps_len), db.get(ps_len + 1..))
    else {
        return false;
    };
    if ps.iter().any(|&b| b != 0) || one != 0x01 || salt.len() != s_len {
        return false;
    }
    // H' = Hash(0x00 × 8 || mHash || salt) (steps 12–13).
    let h2 = hash.digest(&[&[0u8; 8], m_hash, salt]);
    h2.get(..h_len) == Some(h)
}

impl Verify for Rsa {
    fn verify(&self, key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), InvalidSignature> {
        let key = parse_public_key(key)?;
        let k = key.modulus.len();
        if signature.len() != k {
            return Err(InvalidSignature);
        }
        let mut em_buf = [0u8; MAX_MODULUS_BYTES];
        let em = em_buf.get_mut(..k).ok_or(InvalidSignature)?;
        rsavp1_sized(&key, signature, em)?;
        let digest = self.hash.digest(&[message]);
        let m_hash = digest.get(..self.hash.len()).ok_or(InvalidSignature)?;
        let ok = match self.padding {
            Padding::Pkcs1 => emsa_pkcs1_v1_5_matches(em, self.hash, m_hash),
            Padding::Pss => emsa_pss_matches(em, key.modulus_bits() - 1, self.hash, m_hash),
        };
        if ok {
            Ok(())
        } else {
            Err(InvalidSignature)
        }
    }
}

pub(crate) static RSA_PKCS1_SHA256: Algorithm<Rsa> =
    Rsa::algorithm(Padding::Pkcs1, RsaHash::Sha256);
pub(crate) static RSA_PKCS1_SHA384: Algorithm<Rsa> =
    Rsa::algorithm(Padding::Pkcs1, RsaHash::Sha384);
pub(crate) static RSA_PKCS1_SHA512: Algorithm<Rsa> =
    Rsa::algorithm(Padding::Pkcs1, RsaHash::Sha512);
pub(crate) static RSA_PSS_SHA256: Algorithm<Rsa> = Rsa::algorithm(Padding::Pss, RsaHash::Sha256);
pub(crate) static RSA_PSS_SHA384: Algorithm<Rsa> = Rsa::algorithm(Padding::Pss, RsaHash::Sha384);
pub(crate) static RSA_PSS_SHA512: Algorithm<Rsa> = Rsa::algorithm(Padding::Pss, RsaHash::Sha512);

/// The RSA-PSS algorithm of a TLS 1.3 CertificateVerify scheme (rsa_pss_rsae_*).
pub(crate) fn pss_algorithm(
    scheme: SignatureScheme,
) -> Result<&'static dyn SignatureVerificationAlgorithm, CryptoError> {
    match scheme {
        SignatureScheme::RsaPssRsaeSha256 => Ok(&RSA_PSS_SHA256),
        SignatureScheme::RsaPssRsaeSha384 => Ok(&RSA_PSS_SHA384),
        SignatureScheme::RsaPssRsaeSha512 => Ok(&RSA_PSS_SHA512),
        _ => Err(CryptoError::UnsupportedScheme),
    }
}

/// Verifies an RSA signature directly over an `RSAPublicKey` DER, as webpki would for a
/// certificate signature: `scheme` names the padding and hash (rsa_pkcs1_* or
/// rsa_pss_rsae_*). For tests and benchmarks that check the primitive on its own; the
/// handshake goes through webpki and [`verify_certificate_verify`](super::verify_certificate_verify).
pub fn verify_rsa(
    scheme: SignatureScheme,
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    let alg: &Algorithm<Rsa> = match scheme {
        SignatureScheme::RsaPkcs1Sha256 => &RSA_PKCS1_SHA256,
        SignatureScheme::RsaPkcs1Sha384 => &RSA_PKCS1_SHA384,
        SignatureScheme::RsaPkcs1Sha512 => &RSA_PKCS1_SHA512,
        SignatureScheme::RsaPssRsaeSha256 => &RSA_PSS_SHA256,
        SignatureScheme::RsaPssRsaeSha384 => &RSA_PSS_SHA384,
        SignatureScheme::RsaPssRsaeSha512 => &RSA_PSS_SHA512,
        _ => return Err(CryptoError::UnsupportedScheme),
    };
    alg.verify_signature(public_key, message, signature)
        .map_err(|_| CryptoError::BadSignature)
}
