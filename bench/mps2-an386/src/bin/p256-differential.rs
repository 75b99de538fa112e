//! The P-256 of encore-tls on the Cortex-M4 (`p256-cm4`'s assembly, this package's default)
//! checked against RustCrypto's `p256` on the same emulated core: the same keys, messages and
//! signatures through both, and every answer must agree (and match the expected one).
//!
//! - ECDSA verification through encore-tls's webpki algorithm (what certificate chains and
//!   the CertificateVerify use) against `p256` 0.13's verifier: Wycheproof's ECDSA P-256 /
//!   SHA-256 vectors, then signatures made here and broken on purpose (r or s zero or not below
//!   n, the wrong key, a key off the curve, the point at infinity, other encodings).
//! - ECDHE through encore-tls's `KeyExchange` (key share and agreement) against `p256` 0.13:
//!   Wycheproof's ECDH P-256 vectors (SEC1 points), then invalid peer points.
//! - The client-certificate signer (`P256Signer`) against `p256` 0.14's RFC 6979 signer: both
//!   make the same deterministic signature, byte for byte.
//!
//! Prints one line per disagreement and a summary; exit status 0 only when there is none.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use encore_board_mps2::console::{exit, exit_code, exit_passed};
use encore_board_mps2::{println, Board};
use encore_tls::crypto::{
    ClientCertSigner, KeyExchange, NamedGroup, P256Signer, WEBPKI_ALGORITHMS,
};
use p256::ecdsa::signature::Signer as _;
use p256_013::ecdsa::signature::Verifier as _;
use p256_013::elliptic_curve::sec1::ToEncodedPoint as _;
use rand_core::{TryCryptoRng, TryRng};
use rustls_pki_types::{alg_id, SignatureVerificationAlgorithm};

static ECDSA_VECTORS: &[u8] = include_bytes!(concat!(
    env!("OUT_DIR"),
    "/wycheproof-ecdsa-p256-sha256.bin"
));
static ECDH_VECTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/wycheproof-ecdh-p256.bin"));

/// The group order n, big-endian.
const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];
/// The field prime p, big-endian.
const PRIME: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
];

/// Expected outcome of a Wycheproof test.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    Invalid,
    Valid,
    /// Either outcome is allowed; the two backends must still agree.
    Acceptable,
}

impl Expect {
    fn from_byte(b: u8) -> Self {
        match b {
            1 => Expect::Valid,
            2 => Expect::Acceptable,
            _ => Expect::Invalid,
        }
    }

    fn allows(self, accepted: bool) -> bool {
        match self {
            Expect::Valid => accepted,
            Expect::Invalid => !accepted,
            Expect::Acceptable => true,
        }
    }
}

#[derive(Default)]
struct Tally {
    checks: u32,
    failures: u32,
}

impl Tally {
    fn check(&mut self, ok: bool, what: &str, index: usize) {
        self.checks += 1;
        if !ok {
            self.failures += 1;
            println!("disagree: {} #{}", what, index);
        }
    }
}

/// Reads the baked vector records.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.bytes(1)?.first().copied()
    }
    fn u16(&mut self) -> Option<usize> {
        let b = self.bytes(2)?;
        Some(usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?])))
    }
}

/// encore-tls's ECDSA P-256 / SHA-256 algorithm, as webpki and the CertificateVerify use it.
fn encore_ecdsa() -> &'static dyn SignatureVerificationAlgorithm {
    let found = WEBPKI_ALGORITHMS.iter().find(|a| {
        a.public_key_alg_id() == alg_id::ECDSA_P256 && a.signature_alg_id() == alg_id::ECDSA_SHA256
    });
    match found {
        Some(alg) => *alg,
        None => exit(exit_code::FAILURE),
    }
}

fn rustcrypto_verify(key: &[u8], msg: &[u8], der: &[u8]) -> bool {
    let Ok(key) = p256_013::ecdsa::VerifyingKey::from_sec1_bytes(key) else {
        return false;
    };
    let Ok(sig) = p256_013::ecdsa::Signature::from_der(der) else {
        return false;
    };
    key.verify(msg, &sig).is_ok()
}

/// Both backends on one (key, message, signature); they must agree and allow `expect`.
fn ecdsa_case(
    t: &mut Tally,
    what: &str,
    i: usize,
    key: &[u8],
    msg: &[u8],
    der: &[u8],
    expect: Expect,
) {
    let encore = encore_ecdsa().verify_signature(key, msg, der).is_ok();
    let reference = rustcrypto_verify(key, msg, der);
    let ok = encore == reference && expect.allows(encore);
    if !ok {
        println!(
            "  encore-tls {}, RustCrypto {}, expected {:?}",
            encore, reference, expect
        );
    }
    t.check(ok, what, i);
}

/// An RNG that hands out one fixed 32-byte string: `KeyExchange::generate` then makes the key
/// of that scalar (or gives up, when it is not in 1..n).
struct FixedScalar([u8; 32]);

impl TryRng for FixedScalar {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(0)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for (d, s) in dst.iter_mut().zip(self.0.iter().cycle()) {
            *d = *s;
        }
        Ok(())
    }
}

impl TryCryptoRng for FixedScalar {}

/// What one backend made of a scalar and a peer point: the key share and the shared secret
/// (`None` where it refused).
type KxOutcome = (Option<heapless::Vec<u8, 65>>, Option<heapless::Vec<u8, 48>>);

fn encore_kx(scalar: &[u8; 32], peer: &[u8]) -> KxOutcome {
    let Ok(key) = KeyExchange::generate(NamedGroup::Secp256r1, &mut FixedScalar(*scalar)) else {
        return (None, None);
    };
    let share = key.public_key();
    let shared = key
        .agree(peer)
        .ok()
        .and_then(|s| heapless::Vec::from_slice(s.as_bytes()).ok());
    (Some(share), shared)
}

/// RustCrypto, with the rules a TLS key share follows (RFC 8446 §4.2.8.2: uncompressed only).
fn rustcrypto_kx(scalar: &[u8; 32], peer: &[u8]) -> KxOutcome {
    let Ok(secret) = p256_013::SecretKey::from_slice(scalar) else {
        return (None, None);
    };
    let point = secret.public_key().to_encoded_point(false);
    let share = heapless::Vec::from_slice(point.as_bytes()).ok();
    if peer.len() != 65 || peer.first() != Some(&0x04) {
        return (share, None);
    }
    let shared = p256_013::PublicKey::from_sec1_bytes(peer)
        .ok()
        .and_then(|p| {
            let s = p256_013::ecdh::diffie_hellman(secret.to_nonzero_scalar(), p.as_affine());
            heapless::Vec::from_slice(s.raw_secret_bytes().as_slice()).ok()
        });
    (share, shared)
}

fn wycheproof_ecdsa(t: &mut Tally) {
    let mut r = Reader(ECDSA_VECTORS);
    let mut i = 0;
    while !r.0.is_empty() {
        let record = (|| {
            let key_len = usize::from(r.u8()?);
            let key = r.bytes(key_len)?;
            let msg_len = r.u16()?;
            let msg = r.bytes(msg_len)?;
            let sig_len = r.u16()?;
            let sig = r.bytes(sig_len)?;
            Some((key, msg, sig, Expect::from_byte(r.u8()?)))
        })();
        let Some((key, msg, sig, expect)) = record else {
            t.check(false, "wycheproof ecdsa record", i);
            return;
        };
        ecdsa_case(t, "wycheproof ecdsa", i, key, msg, sig, expect);
        i += 1;
    }
    println!("wycheproof ecdsa p-256 sha-256: {} tests", i);
}

fn wycheproof_ecdh(t: &mut Tally) {
    let mut r = Reader(ECDH_VECTORS);
    let mut i = 0;
    while !r.0.is_empty() {
        let record = (|| {
            let scalar: [u8; 32] = r.bytes(32)?.try_into().ok()?;
            let public_len = usize::from(r.u8()?);
            let public = r.bytes(public_len)?;
            let shared_len = usize::from(r.u8()?);
            let shared = r.bytes(shared_len)?;
            Some((scalar, public, shared, Expect::from_byte(r.u8()?)))
        })();
        let Some((scalar, public, shared, expect)) = record else {
            t.check(false, "wycheproof ecdh record", i);
            return;
        };
        let encore = encore_kx(&scalar, public);
        let reference = rustcrypto_kx(&scalar, public);
        // A TLS key share is an uncompressed point: the compressed ones are refused by both.
        let tls_form = public.len() == 65;
        let expected_ok = match (expect, tls_form) {
            (Expect::Valid, true) => encore.1.as_deref() == Some(shared),
            (Expect::Invalid, _) | (_, false) => encore.1.is_none(),
            (Expect::Acceptable, true) => true,
        };
        t.check(encore == reference && expected_ok, "wycheproof ecdh", i);
        i += 1;
    }
    println!("wycheproof ecdh p-256: {} tests", i);
}

/// `value` as a DER INTEGER body (minimal, positive).
fn der_int(value: &[u8; 32], out: &mut heapless::Vec<u8, 80>) {
    let start = value.iter().position(|&b| b != 0).unwrap_or(31);
    let digits = &value[start..];
    let pad = digits.first().is_some_and(|b| b & 0x80 != 0);
    let _ = out.push(0x02);
    let _ = out.push((digits.len() + usize::from(pad)) as u8);
    if pad {
        let _ = out.push(0);
    }
    let _ = out.extend_from_slice(digits);
}

fn der_sig(r: &[u8; 32], s: &[u8; 32]) -> heapless::Vec<u8, 80> {
    let mut body = heapless::Vec::<u8, 80>::new();
    der_int(r, &mut body);
    der_int(s, &mut body);
    let mut out = heapless::Vec::new();
    let _ = out.push(0x30);
    let _ = out.push(body.len() as u8);
    let _ = out.extend_from_slice(&body);
    out
}

/// `a + b` (big-endian, wrapping at 2^256).
fn add(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let v = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    out
}

/// `a - b` (big-endian, wrapping).
const fn sub(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    let mut i = 32;
    while i > 0 {
        i -= 1;
        let v = a[i] as i16 - b[i] as i16 - borrow;
        out[i] = v as u8;
        borrow = (v < 0) as i16;
    }
    out
}

/// 1, the smallest scalar, big-endian.
const ONE: [u8; 32] = {
    let mut v = [0u8; 32];
    v[31] = 1;
    v
};
/// n - 1, the largest scalar, big-endian.
const N_MINUS_ONE: [u8; 32] = sub(&ORDER, &ONE);

/// One verification: what is checked, the key, the message, the DER signature, the answer.
type EcdsaCase<'a> = (&'a str, &'a [u8], &'a [u8], heapless::Vec<u8, 80>, Expect);

/// Signatures made here, then broken on purpose.
fn own_ecdsa(t: &mut Tally) {
    let keys: [[u8; 32]; 3] = [
        *b"encore p-256 differential key 1!",
        *b"encore p-256 differential key 2!",
        N_MINUS_ONE,
    ];
    let messages: [&[u8]; 3] = [b"", b"TLS 1.3, server CertificateVerify", &[0xa5; 300]];
    let mut i = 0;
    for (k, key) in keys.iter().enumerate() {
        let Ok(signing) = p256::ecdsa::SigningKey::from_slice(key) else {
            t.check(false, "signing key", k);
            continue;
        };
        let point = p256::ecdsa::VerifyingKey::from(&signing).to_sec1_point(false);
        let sec1 = point.as_bytes();
        let compressed = p256::ecdsa::VerifyingKey::from(&signing).to_sec1_point(true);
        let other_key = keys[(k + 1) % keys.len()];
        let Ok(other) = p256::ecdsa::SigningKey::from_slice(&other_key) else {
            continue;
        };
        let other_point = p256::ecdsa::VerifyingKey::from(&other).to_sec1_point(false);
        for msg in messages {
            let Ok(sig): Result<p256::ecdsa::Signature, _> = signing.try_sign(msg) else {
                t.check(false, "sign", i);
                continue;
            };
            let bytes = sig.to_bytes();
            let (Ok(r), Ok(s)) = (
                <[u8; 32]>::try_from(&bytes[..32]),
                <[u8; 32]>::try_from(&bytes[32..]),
            ) else {
                continue;
            };
            let good = der_sig(&r, &s);
            let zero = [0u8; 32];
            let cases: [EcdsaCase<'_>; 14] = [
                ("valid", sec1, msg, good.clone(), Expect::Valid),
                (
                    "valid, compressed key",
                    compressed.as_bytes(),
                    msg,
                    good.clone(),
                    Expect::Valid,
                ),
                // ECDSA on P-256 has no low-s rule: (r, n - s) verifies too.
                (
                    "valid, high s",
                    sec1,
                    msg,
                    der_sig(&r, &sub(&ORDER, &s)),
                    Expect::Valid,
                ),
                (
                    "other message",
                    sec1,
                    b"another message",
                    good.clone(),
                    Expect::Invalid,
                ),
                (
                    "wrong key",
                    other_point.as_bytes(),
                    msg,
                    good.clone(),
                    Expect::Invalid,
                ),
                ("r = 0", sec1, msg, der_sig(&zero, &s), Expect::Invalid),
                ("s = 0", sec1, msg, der_sig(&r, &zero), Expect::Invalid),
                ("r = n", sec1, msg, der_sig(&ORDER, &s), Expect::Invalid),
                ("s = n", sec1, msg, der_sig(&r, &ORDER), Expect::Invalid),
                (
                    "r + n",
                    sec1,
                    msg,
                    der_sig(&add(&r, &ORDER), &s),
                    Expect::Invalid,
                ),
                (
                    "s = 2^256 - 1",
                    sec1,
                    msg,
                    der_sig(&r, &[0xff; 32]),
                    Expect::Invalid,
                ),
                (
                    "r and s swapped",
                    sec1,
                    msg,
                    der_sig(&s, &r),
                    Expect::Invalid,
                ),
                (
                    "point at infinity",
                    &[0x00],
                    msg,
                    good.clone(),
                    Expect::Invalid,
                ),
                (
                    "zero point",
                    &[0x04; 1]
                        .iter()
                        .chain([0u8; 64].iter())
                        .copied()
                        .collect::<heapless::Vec<u8, 65>>(),
                    msg,
                    good.clone(),
                    Expect::Invalid,
                ),
            ];
            for (what, key, m, der, expect) in cases.iter() {
                ecdsa_case(t, what, i, key, m, der, *expect);
            }
            // The key off the curve (y + 1), with x or y not below p (x + p), hybrid form.
            let mut off = heapless::Vec::<u8, 65>::from_slice(sec1).unwrap_or_default();
            if let Some(last) = off.last_mut() {
                *last ^= 1;
            }
            ecdsa_case(t, "key off the curve", i, &off, msg, &good, Expect::Invalid);
            let mut x: [u8; 32] = sec1[1..33].try_into().unwrap_or([0; 32]);
            let big = add(&x, &PRIME);
            let mut shifted = heapless::Vec::<u8, 65>::new();
            let _ = shifted.push(0x04);
            let _ = shifted.extend_from_slice(&big);
            let _ = shifted.extend_from_slice(&sec1[33..]);
            ecdsa_case(t, "x + p", i, &shifted, msg, &good, Expect::Invalid);
            x.fill(0);
            let mut hybrid = heapless::Vec::<u8, 65>::from_slice(sec1).unwrap_or_default();
            if let Some(first) = hybrid.first_mut() {
                *first = 0x06 | (sec1[64] & 1);
            }
            ecdsa_case(
                t,
                "hybrid key encoding",
                i,
                &hybrid,
                msg,
                &good,
                Expect::Invalid,
            );
            // DER that is not strict: a needless leading zero in r, trailing bytes.
            let mut loose = heapless::Vec::<u8, 80>::new();
            let mut body = heapless::Vec::<u8, 80>::new();
            let _ = body.extend_from_slice(&[0x02, 34, 0x00, 0x00]);
            let _ = body.extend_from_slice(&r);
            der_int(&s, &mut body);
            let _ = loose.extend_from_slice(&[0x30, body.len() as u8]);
            let _ = loose.extend_from_slice(&body);
            ecdsa_case(t, "non-minimal r", i, sec1, msg, &loose, Expect::Invalid);
            let mut trailing = good.clone();
            let _ = trailing.push(0);
            ecdsa_case(t, "trailing byte", i, sec1, msg, &trailing, Expect::Invalid);
            i += 1;
        }
    }
    println!("own ecdsa cases: {} signatures", i);
}

fn own_ecdh(t: &mut Tally) {
    let scalars: [[u8; 32]; 5] = [
        *b"encore p-256 ecdh scalar number1",
        *b"encore p-256 ecdh scalar number2",
        ONE,
        N_MINUS_ONE,
        ORDER, // not a scalar: both refuse to make the key
    ];
    let Ok(peer_secret) = p256_013::SecretKey::from_slice(b"encore p-256 ecdh peer scalar 01")
    else {
        t.check(false, "peer key", 0);
        return;
    };
    let peer_point = peer_secret.public_key().to_encoded_point(false);
    let peer = peer_point.as_bytes();
    let compressed_point = peer_secret.public_key().to_encoded_point(true);
    let mut off = heapless::Vec::<u8, 65>::from_slice(peer).unwrap_or_default();
    if let Some(last) = off.last_mut() {
        *last ^= 1;
    }
    let mut infinity = heapless::Vec::<u8, 65>::new();
    let _ = infinity.push(0x04);
    let _ = infinity.extend_from_slice(&[0; 64]);
    let mut big_x = heapless::Vec::<u8, 65>::new();
    let _ = big_x.push(0x04);
    let _ = big_x.extend_from_slice(&PRIME);
    let _ = big_x.extend_from_slice(&peer[33..]);
    let peers: [(&str, &[u8]); 6] = [
        ("valid peer", peer),
        ("compressed peer", compressed_point.as_bytes()),
        ("peer off the curve", &off),
        ("peer (0, 0)", &infinity),
        ("peer x = p", &big_x),
        ("peer point at infinity", &[0x00]),
    ];
    let mut i = 0;
    for scalar in &scalars {
        for (what, peer) in peers {
            let encore = encore_kx(scalar, peer);
            let reference = rustcrypto_kx(scalar, peer);
            let valid = what == "valid peer" && *scalar != ORDER;
            t.check(encore == reference && encore.1.is_some() == valid, what, i);
            i += 1;
        }
    }
    println!("own ecdh cases: {}", i);
}

/// encore-tls's `P256Signer` against `p256` 0.14's: the same RFC 6979 signature, which the
/// RustCrypto verifier accepts.
fn signer(t: &mut Tally) {
    let keys: [[u8; 32]; 3] = [*b"encore p-256 client signer key 1", ONE, N_MINUS_ONE];
    let messages: [&[u8]; 3] = [b"", b"TLS 1.3, client CertificateVerify", &[0x5a; 200]];
    let mut i = 0;
    for key in &keys {
        let (Ok(encore), Ok(reference)) = (
            P256Signer::from_scalar(key, &[]),
            p256::ecdsa::SigningKey::from_slice(key),
        ) else {
            t.check(false, "signer key", i);
            continue;
        };
        let point = p256::ecdsa::VerifyingKey::from(&reference).to_sec1_point(false);
        for msg in messages {
            let mut out = [0u8; P256Signer::MAX_SIGNATURE_LEN];
            let encore_der = encore.sign(msg, &mut out).ok().and_then(|n| out.get(..n));
            let reference_sig: Option<p256::ecdsa::Signature> = reference.try_sign(msg).ok();
            let reference_der = reference_sig.map(|s| s.to_der());
            let same = match (encore_der, &reference_der) {
                (Some(a), Some(b)) => a == b.as_bytes(),
                _ => false,
            };
            let verifies = encore_der.is_some_and(|d| rustcrypto_verify(point.as_bytes(), msg, d));
            t.check(same && verifies, "signer", i);
            i += 1;
        }
    }
    // Out of range: both refuse the key.
    for (k, bad) in [[0u8; 32], ORDER, [0xff; 32]].iter().enumerate() {
        let encore = P256Signer::from_scalar(bad, &[]).is_ok();
        let reference = p256::ecdsa::SigningKey::from_slice(bad).is_ok();
        t.check(!encore && !reference, "signer refuses key", k);
    }
    println!("signer cases: {}", i);
}

#[cortex_m_rt::entry]
fn main() -> ! {
    if Board::init().is_err() {
        exit(exit_code::BOARD_INIT)
    }
    println!(
        "p256 backend under test: {}",
        if cfg!(feature = "p256-cm4") {
            "p256-cm4 (Cortex-M4 assembly)"
        } else {
            "RustCrypto p256 (the image was built without p256-cm4)"
        }
    );
    let mut t = Tally::default();
    own_ecdsa(&mut t);
    own_ecdh(&mut t);
    signer(&mut t);
    wycheproof_ecdsa(&mut t);
    wycheproof_ecdh(&mut t);
    println!(
        "p256 differential: {} checks, {} disagreements",
        t.checks, t.failures
    );
    exit_passed(t.failures == 0)
}
