//! RSA signature verification on the emulated Cortex-M4F, as encore-tls's `rsa` feature does
//! it with no heap: one RSA-2048 and one RSA-4096 verification with each padding
//! (RSASSA-PKCS1-v1_5 and RSASSA-PSS, SHA-256), each between `OP_BEGIN` and `OP_END` markers,
//! with the stack each one needed. An ECDSA P-256 verification through the same engine entry
//! point is measured beside them for the stack comparison.
//!
//! Every vector is checked: the fixed signatures (`rsa/`, made with the openssl CLI) must
//! verify, and the same signatures with one bit flipped, under the other padding or over
//! another message must not. Any mismatch prints `failed` and exits with status 1.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use encore_bench_mps2_an386::marker;
use encore_board_mps2::console::{exit, exit_code, exit_passed};
use encore_board_mps2::{println, stack, Board};
use encore_tls::crypto::{verify_rsa, CryptoError, SignatureScheme};

const MSG: &[u8] = include_bytes!("../../rsa/msg.bin");
const KEY_2048: &[u8] = include_bytes!("../../rsa/rsa2048.pub.der");
const PKCS1_2048: &[u8] = include_bytes!("../../rsa/rsa2048-pkcs1-sha256.sig");
const PSS_2048: &[u8] = include_bytes!("../../rsa/rsa2048-pss-sha256.sig");
const KEY_4096: &[u8] = include_bytes!("../../rsa/rsa4096.pub.der");
const PKCS1_4096: &[u8] = include_bytes!("../../rsa/rsa4096-pkcs1-sha256.sig");
const PSS_4096: &[u8] = include_bytes!("../../rsa/rsa4096-pss-sha256.sig");

/// Runs `f` between the markers with interrupts masked and a freshly painted stack; prints
/// `op encore-tls <operation> ok|failed` and `op-stack <operation> <bytes>`.
fn measure(operation: &str, f: impl FnOnce() -> bool) -> bool {
    stack::paint(stack::DEFAULT_WINDOW);
    let before = stack::peak().peak_bytes;
    let ok = critical_section::with(|_| {
        encore_board_mps2::marker::marker(marker::OP_BEGIN);
        let ok = f();
        encore_board_mps2::marker::marker(marker::OP_END);
        ok
    });
    let peak = stack::peak().peak_bytes;
    println!(
        "op encore-tls {} {}",
        operation,
        if ok { "ok" } else { "failed" }
    );
    println!(
        "op-stack {} {} bytes",
        operation,
        peak.saturating_sub(before)
    );
    ok
}

/// A check outside the markers: prints `check <name> ok|failed`.
fn check(name: &str, ok: bool) -> bool {
    println!("check {} {}", name, if ok { "ok" } else { "failed" });
    ok
}

fn refused(scheme: SignatureScheme, key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    verify_rsa(scheme, key, msg, sig) == Err(CryptoError::BadSignature)
}

#[cortex_m_rt::entry]
fn main() -> ! {
    if Board::init().is_err() {
        exit(exit_code::BOARD_INIT)
    }
    let pkcs1 = SignatureScheme::RsaPkcs1Sha256;
    let pss = SignatureScheme::RsaPssRsaeSha256;
    let mut ok = true;
    for (bits, key, p1, ps) in [
        ("2048", KEY_2048, PKCS1_2048, PSS_2048),
        ("4096", KEY_4096, PKCS1_4096, PSS_4096),
    ] {
        let (n1, n2) = match bits {
            "2048" => ("rsa2048-pkcs1-sha256-verify", "rsa2048-pss-sha256-verify"),
            _ => ("rsa4096-pkcs1-sha256-verify", "rsa4096-pss-sha256-verify"),
        };
        ok &= measure(n1, || verify_rsa(pkcs1, key, MSG, p1).is_ok());
        ok &= measure(n2, || verify_rsa(pss, key, MSG, ps).is_ok());

        // The negative checks: a flipped bit in the signature, the other padding, another
        // message, a signature one byte short.
        let mut buf = [0u8; 512];
        let Some(flipped) = buf.get_mut(..p1.len()) else {
            exit(exit_code::FAILURE)
        };
        flipped.copy_from_slice(p1);
        if let Some(b) = flipped.get_mut(100) {
            *b ^= 0x04;
        }
        ok &= check(
            "pkcs1-flipped-bit-refused",
            refused(pkcs1, key, MSG, flipped),
        );
        ok &= check("pkcs1-as-pss-refused", refused(pss, key, MSG, p1));
        ok &= check("pss-as-pkcs1-refused", refused(pkcs1, key, MSG, ps));
        ok &= check(
            "pss-other-message-refused",
            refused(pss, key, b"another message", ps),
        );
        ok &= check(
            "pss-short-signature-refused",
            refused(pss, key, MSG, ps.get(1..).unwrap_or(&[])),
        );
    }

    // For the stack comparison: a P-256 verification through the same engine path (webpki's
    // algorithm objects are behind `verify_certificate_verify`; this is the primitive alone).
    {
        use p256_013::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
        let key = *b"encore p-256 benchmark key 0001!";
        let digest = *b"encore p-256 benchmark digest 01";
        let Ok(signing) = p256_013::ecdsa::SigningKey::from_slice(&key) else {
            exit(exit_code::FAILURE)
        };
        let Ok(sig): Result<p256_013::ecdsa::Signature, _> = signing.sign_prehash(&digest) else {
            exit(exit_code::FAILURE)
        };
        let point = p256_013::ecdsa::VerifyingKey::from(&signing).to_encoded_point(false);
        ok &= measure("p256-ecdsa-verify", || {
            p256_013::ecdsa::VerifyingKey::from_sec1_bytes(point.as_bytes())
                .map(|k| k.verify_prehash(&digest, &sig).is_ok())
                .unwrap_or(false)
        });
    }

    println!("stack peak: {} bytes", stack::peak().peak_bytes);
    exit_passed(ok)
}
