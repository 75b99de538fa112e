//! RSA behind the `rsa` feature (which needs `alloc`): PKCS#1 v1.5 certificate chains and
//! RSA-PSS CertificateVerify (RFC 8446 §4.2.3, §4.4.3). Keys and PSS signatures come from the
//! `openssl` command line, certificates from rcgen (ring).
#![cfg(feature = "rsa")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ensure_tool, TestPki};
use encore_tls::crypto::{
    anchor_from_der, certificate_verify_content, verify_certificate_verify, verify_server_chain,
    CryptoError, SignatureScheme, CERTIFICATE_VERIFY_CONTENT_MAX,
};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls_pki_types::PrivatePkcs8KeyDer;

const NOW: u64 = 1_748_736_000;

fn openssl(args: &[&str]) {
    let st = Command::new("openssl").args(args).status().unwrap();
    assert!(st.success(), "openssl {args:?}");
}

/// A fresh RSA key of `bits`: (PEM path, PKCS#8 DER).
fn rsa_key(dir: &Path, name: &str, bits: u32) -> (PathBuf, Vec<u8>) {
    ensure_tool("openssl", "openssl");
    let pem = dir.join(format!("{name}.pem"));
    let der = dir.join(format!("{name}.der"));
    let bits_opt = format!("rsa_keygen_bits:{bits}");
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        &bits_opt,
        "-out",
        pem.to_str().unwrap(),
    ]);
    openssl(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        pem.to_str().unwrap(),
        "-outform",
        "DER",
        "-out",
        der.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&der).unwrap();
    (pem, bytes)
}

fn rsa_keypair(der: &[u8]) -> KeyPair {
    KeyPair::from_pkcs8_der_and_sign_algo(&PrivatePkcs8KeyDer::from(der), &rcgen::PKCS_RSA_SHA256)
        .unwrap()
}

/// RSA-PSS (salt = hash length) signature over `msg` by openssl.
fn pss_sign(dir: &Path, key_pem: &Path, msg: &[u8]) -> Vec<u8> {
    let input = dir.join("msg.bin");
    let out = dir.join("sig.bin");
    std::fs::write(&input, msg).unwrap();
    openssl(&[
        "dgst",
        "-sha256",
        "-sign",
        key_pem.to_str().unwrap(),
        "-sigopt",
        "rsa_padding_mode:pss",
        "-sigopt",
        "rsa_pss_saltlen:digest",
        "-out",
        out.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    std::fs::read(out).unwrap()
}

#[test]
fn rsa_pkcs1_chain_and_pss_certificate_verify() {
    let scratch = TestPki::generate(&["localhost"]);
    let dir = scratch.dir.clone();
    let (_, root_der) = rsa_key(&dir, "root", 2048);
    let (leaf_pem, leaf_der) = rsa_key(&dir, "leaf", 2048);

    let mut root_p = CertificateParams::new(Vec::<String>::new()).unwrap();
    root_p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let root = CertifiedIssuer::self_signed(root_p, rsa_keypair(&root_der)).unwrap();
    let leaf_key = rsa_keypair(&leaf_der);
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &root)
        .unwrap();

    // sha256WithRSAEncryption certificate signature (PKCS#1 v1.5).
    let anchors = [anchor_from_der(root.der()).unwrap()];
    assert_eq!(
        verify_server_chain(leaf.der(), &[], &anchors, "localhost", NOW),
        Ok(())
    );

    // rsa_pss_rsae_sha256 CertificateVerify.
    let th = [0x3Cu8; 32];
    let mut buf = [0u8; CERTIFICATE_VERIFY_CONTENT_MAX];
    let content = certificate_verify_content(true, &th, &mut buf).to_vec();
    let sig = pss_sign(&dir, &leaf_pem, &content);
    assert_eq!(sig.len(), 256);
    let cert = leaf.der().as_ref();
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
