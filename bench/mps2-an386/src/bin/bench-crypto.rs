//! The primitives behind a handshake, measured alone on the emulated Cortex-M4F: where the
//! instructions of a handshake go, and what another P-256 backend would change.
//!
//! Each operation sits between `OP_BEGIN` and `OP_END` markers and is named by an
//! `op <library> <operation> ok|failed` line. Exit status 0 when every check passed.
//!
//! P-256 backends: encore-tls links RustCrypto `p256` 0.13 (curve arithmetic, with ECDSA from
//! `ecdsa` 0.16's prehash functions), the generation embedded-tls links too; the `p256-0.13`
//! rows are that code. The `p256-0.14` rows measure the newer generation alone, for comparison.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use encore_bench_mps2_an386::{marker, BENCH_SEED};
use encore_board_mps2::console::{exit, exit_code, exit_passed};
use encore_board_mps2::{println, Board, EmulatorRng};
use encore_tls::crypto::{hkdf_expand_label, CipherSuite, HashAlg, KeyExchange, NamedGroup};
use encore_tls::crypto::{RecordProtection, Transcript};
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};

/// A fixed signing key (any scalar below the group order).
const KEY: [u8; 32] = *b"encore p-256 benchmark key 0001!";
/// A fixed message digest (SHA-256 length).
const DIGEST: [u8; 32] = *b"encore p-256 benchmark digest 01";
/// A peer's scalar for key agreement.
const PEER: [u8; 32] = *b"encore benchmark peer scalar 01!";

/// Runs `f` between the markers and prints its line.
/// Interrupts are masked meanwhile, so that the count is the operation's alone.
fn measure(library: &str, operation: &str, f: impl FnOnce() -> bool) -> bool {
    let ok = critical_section::with(|_| {
        encore_board_mps2::marker::marker(marker::OP_BEGIN);
        let ok = f();
        encore_board_mps2::marker::marker(marker::OP_END);
        ok
    });
    println!(
        "op {} {} {}",
        library,
        operation,
        if ok { "ok" } else { "failed" }
    );
    ok
}

#[cortex_m_rt::entry]
fn main() -> ! {
    if Board::init().is_err() {
        exit(exit_code::BOARD_INIT)
    }
    let Ok(signing) = SigningKey::from_slice(&KEY) else {
        exit(exit_code::FAILURE)
    };
    let Ok(signature): Result<Signature, _> = signing.sign_prehash(&DIGEST) else {
        exit(exit_code::FAILURE)
    };
    let point = VerifyingKey::from(&signing).to_sec1_point(false);
    let sec1 = point.as_bytes();
    let sig_bytes = signature.to_bytes();
    let mut rng = EmulatorRng::from_seed(BENCH_SEED);
    let mut ok = true;

    // ECDSA P-256 verification, from the SEC1 key as a certificate carries it.
    ok &= measure("p256-0.14", "ecdsa-verify", || {
        VerifyingKey::from_sec1_bytes(sec1)
            .map(|k| k.verify_prehash(&DIGEST, &signature).is_ok())
            .unwrap_or(false)
    });
    ok &= measure("p256-0.13", "ecdsa-verify", || {
        use p256_013::ecdsa::signature::hazmat::PrehashVerifier as _;
        let Ok(sig) = p256_013::ecdsa::Signature::from_slice(&sig_bytes) else {
            return false;
        };
        p256_013::ecdsa::VerifyingKey::from_sec1_bytes(sec1)
            .map(|k| k.verify_prehash(&DIGEST, &sig).is_ok())
            .unwrap_or(false)
    });
    // Verification time depends on the signature (public data): two more signatures show by
    // how much, with the backend encore-tls links. A server that signed each CertificateVerify
    // afresh would make full handshakes differ by that much from run to run (the benchmark's
    // server is pinned, see tools/pinned-rand).
    for (k, name) in [
        (1u8, "ecdsa-verify-other-signature-1"),
        (2, "ecdsa-verify-other-signature-2"),
    ] {
        use p256_013::ecdsa::signature::hazmat::PrehashVerifier as _;
        let mut digest = DIGEST;
        digest[31] ^= k;
        let Ok(other): Result<Signature, _> = signing.sign_prehash(&digest) else {
            exit(exit_code::FAILURE)
        };
        let Ok(other) = p256_013::ecdsa::Signature::from_slice(&other.to_bytes()) else {
            exit(exit_code::FAILURE)
        };
        ok &= measure("p256-0.13", name, || {
            p256_013::ecdsa::VerifyingKey::from_sec1_bytes(sec1)
                .map(|k| k.verify_prehash(&digest, &other).is_ok())
                .unwrap_or(false)
        });
    }
    #[cfg(feature = "p256-cm4")]
    {
        ok &= measure("p256-cm4", "ecdsa-verify", || {
            cm4::verify(sec1, &sig_bytes, &DIGEST)
        });
    }

    // Key exchange as encore-tls runs it: a key share, then the agreement. Its P-256 is
    // p256 0.13 (the `p256-0.13` rows); p256 0.14 is measured alone below.
    let peer_share = |group| {
        let mut peer_rng = EmulatorRng::from_seed(PEER);
        KeyExchange::generate(group, &mut peer_rng).map(|k| k.public_key())
    };
    // encore-tls's P-256 is p256-cm4's assembly when this package's `p256-cm4` feature (on by
    // default) turns on encore-tls's backend, p256 0.13 otherwise.
    let p256_backend = if cfg!(feature = "p256-cm4") {
        "p256-cm4"
    } else {
        "p256-0.13"
    };
    for (group, name) in [
        (NamedGroup::X25519, "x25519"),
        (NamedGroup::Secp256r1, p256_backend),
    ] {
        let Ok(peer) = peer_share(group) else {
            exit(exit_code::FAILURE)
        };
        let mut share = None;
        ok &= measure(name, "key-share", || {
            share = KeyExchange::generate(group, &mut rng)
                .ok()
                .map(|k| (k.public_key(), k));
            share.is_some()
        });
        ok &= measure(name, "agree", || match share.take() {
            Some((_, k)) => k.agree(&peer).is_ok(),
            None => false,
        });
    }
    // The same with p256 0.14 alone, the newer generation encore-tls does not link.
    {
        let Ok(peer) = p256::SecretKey::from_slice(&PEER) else {
            exit(exit_code::FAILURE)
        };
        let peer = peer.public_key();
        let mut secret = None;
        ok &= measure("p256-0.14", "key-share", || {
            secret = p256::SecretKey::from_slice(&BENCH_SEED).ok();
            secret
                .as_ref()
                .map(|s| {
                    use p256::elliptic_curve::sec1::ToSec1Point as _;
                    s.public_key().to_sec1_point(false).len() == 65
                })
                .unwrap_or(false)
        });
        ok &= measure("p256-0.14", "agree", || match secret.take() {
            Some(s) => {
                let shared = p256::ecdh::diffie_hellman(s.to_nonzero_scalar(), peer.as_affine());
                shared.raw_secret_bytes().len() == 32
            }
            None => false,
        });
    }

    // Hashing and key derivation.
    let block = [0x36u8; 512];
    // Both hashes at once only exist when encore-tls is built with SHA-384 (its `sha384`
    // feature); this image leaves it out when no benchmark handshake uses it.
    if encore_tls::crypto::hash_supported(HashAlg::Sha384) {
        ok &= measure("encore-tls", "transcript-512B-sha256+sha384", || {
            let mut t = Transcript::new();
            t.update(&block);
            t.selected().is_none()
        });
    }
    ok &= measure("encore-tls", "transcript-512B-sha256", || {
        let mut t = Transcript::new();
        t.select(HashAlg::Sha256);
        t.update(&block);
        t.selected() == Some(HashAlg::Sha256)
    });
    ok &= measure("encore-tls", "hkdf-expand-label-sha256", || {
        let mut out = [0u8; 32];
        hkdf_expand_label(HashAlg::Sha256, &KEY, b"c hs traffic", &DIGEST, &mut out).is_ok()
    });

    // Record protection: keys from a traffic secret, then one 64-byte record each way.
    for (suite, name) in [
        (CipherSuite::Aes128GcmSha256, "aes128gcm"),
        (CipherSuite::Chacha20Poly1305Sha256, "chacha20poly1305"),
    ] {
        let mut keys = None;
        ok &= measure(name, "record-keys", || {
            keys = RecordProtection::new(suite, &KEY).ok();
            keys.is_some()
        });
        let Some(mut keys) = keys else {
            exit(exit_code::FAILURE)
        };
        let mut record = [0x17u8; 64];
        ok &= measure(name, "seal-64B", || {
            keys.encrypt(&[0x17, 3, 3, 0, 80], &mut record).is_ok()
        });
    }

    exit_passed(ok)
}

#[cfg(feature = "p256-cm4")]
mod cm4 {
    /// ECDSA P-256 verification with p256-cm4 from a SEC1 key and a fixed-size (r || s)
    /// signature.
    pub fn verify(sec1: &[u8], sig: &[u8], digest: &[u8; 32]) -> bool {
        let mut x = [0u32; 8];
        let mut y = [0u32; 8];
        if !p256_cm4::octet_string_to_point(&mut x, &mut y, sec1) {
            return false;
        }
        let (Some(r), Some(s)) = (sig.get(..32), sig.get(32..64)) else {
            return false;
        };
        let (Some(r), Some(s)) = (words(r), words(s)) else {
            return false;
        };
        p256_cm4::verify(&x, &y, digest, &r, &s)
    }

    /// A big-endian 32-byte integer as p256-cm4's little-endian words.
    fn words(be: &[u8]) -> Option<[u32; 8]> {
        let be: &[u8; 32] = be.try_into().ok()?;
        let mut le = [0u8; 32];
        p256_cm4::convert_endianness(&mut le, be);
        let mut out = [0u32; 8];
        for (w, chunk) in out.iter_mut().zip(le.chunks_exact(4)) {
            *w = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        Some(out)
    }
}
