//! Signature checks: the algorithms handed to webpki for certificate signatures, and the
//! server's CertificateVerify (RFC 8446 §4.4.3).

#[cfg(not(all(feature = "p256-cm4", target_arch = "arm")))]
use ecdsa::hazmat::{bits2field, verify_prehashed};
use rustls_pki_types::{
    alg_id, AlgorithmIdentifier, CertificateDer, InvalidSignature, SignatureVerificationAlgorithm,
};
#[cfg(feature = "sha384")]
use sha2::Sha384;
use sha2::{Digest as _, Sha256};

use super::cert::map_webpki_error;
use super::{CryptoError, HashAlg, SignatureScheme, MAX_HASH_LEN};

/// Size of the buffer [`certificate_verify_content`] fills: 64 spaces, a 33-byte context
/// string, a zero byte and a hash of up to 48 bytes.
pub const CERTIFICATE_VERIFY_CONTENT_MAX: usize = 64 + 34 + MAX_HASH_LEN;

const SERVER_CONTEXT: &[u8; 33] = b"TLS 1.3, server CertificateVerify";
const CLIENT_CONTEXT: &[u8; 33] = b"TLS 1.3, client CertificateVerify";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Curve {
    P256,
    #[cfg(feature = "p384")]
    P384,
}

/// A signature algorithm as webpki takes it: the identifiers of the keys and of the signatures
/// it is for, and the check `V` makes.
#[derive(Debug)]
pub(crate) struct Algorithm<V> {
    public_key: AlgorithmIdentifier,
    signature: AlgorithmIdentifier,
    check: V,
}

impl<V> Algorithm<V> {
    pub(crate) const fn new(
        public_key: AlgorithmIdentifier,
        signature: AlgorithmIdentifier,
        check: V,
    ) -> Self {
        Algorithm {
            public_key,
            signature,
            check,
        }
    }
}

/// The check of a signature algorithm: whether `signature` signs `message` under `key` (a
/// certificate's subjectPublicKey, as webpki hands it over).
pub(crate) trait Verify: core::fmt::Debug + Send + Sync {
    fn verify(&self, key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), InvalidSignature>;
}

impl<V: Verify> SignatureVerificationAlgorithm for Algorithm<V> {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        self.check.verify(public_key, message, signature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        self.public_key
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.signature
    }
}

/// ECDSA over RustCrypto for webpki: the curve comes from the key, the hash from the
/// signature algorithm (an issuer on one curve may sign with either hash).
#[derive(Debug)]
struct Ecdsa {
    curve: Curve,
    hash: HashAlg,
}

impl Ecdsa {
    const fn algorithm(curve: Curve, hash: HashAlg) -> Algorithm<Ecdsa> {
        let public_key = match curve {
            Curve::P256 => alg_id::ECDSA_P256,
            #[cfg(feature = "p384")]
            Curve::P384 => alg_id::ECDSA_P384,
        };
        let signature = match hash {
            HashAlg::Sha256 => alg_id::ECDSA_SHA256,
            HashAlg::Sha384 => alg_id::ECDSA_SHA384,
        };
        Algorithm::new(public_key, signature, Ecdsa { curve, hash })
    }
}

impl Verify for Ecdsa {
    fn verify(&self, key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), InvalidSignature> {
        let mut prehash = [0u8; MAX_HASH_LEN];
        let n = match self.hash {
            HashAlg::Sha256 => {
                let d = Sha256::digest(message);
                prehash
                    .get_mut(..32)
                    .ok_or(InvalidSignature)?
                    .copy_from_slice(&d);
                32
            }
            #[cfg(not(feature = "sha384"))]
            HashAlg::Sha384 => return Err(InvalidSignature),
            #[cfg(feature = "sha384")]
            HashAlg::Sha384 => {
                let d = Sha384::digest(message);
                prehash
                    .get_mut(..48)
                    .ok_or(InvalidSignature)?
                    .copy_from_slice(&d);
                48
            }
        };
        let prehash = prehash.get(..n).ok_or(InvalidSignature)?;
        match self.curve {
            Curve::P256 => verify_p256(key, prehash, signature),
            #[cfg(feature = "p384")]
            Curve::P384 => verify_p384(key, prehash, signature),
        }
    }
}

/// Ed25519 over ed25519-dalek for webpki (RFC 8410). Verification is strict (no small-order
/// keys, canonical encodings).
#[cfg(feature = "ed25519")]
#[derive(Debug)]
struct Ed25519;

#[cfg(feature = "ed25519")]
impl Verify for Ed25519 {
    fn verify(&self, key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), InvalidSignature> {
        let key: &[u8; 32] = key.try_into().map_err(|_| InvalidSignature)?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(key).map_err(|_| InvalidSignature)?;
        let sig = ed25519_dalek::Signature::from_slice(signature).map_err(|_| InvalidSignature)?;
        key.verify_strict(message, &sig)
            .map_err(|_| InvalidSignature)
    }
}

// One function per curve, never inlined: the point tables of a P-256 and of a P-384
// verification are never on the stack together. Inlined into `Ecdsa::verify` they were
// (a 9 KB frame on Cortex-M4, at the deepest point of a full handshake).
//
// Verification of a prehash (FIPS 186-5 §6.4.2): the hash is cut or padded to the curve's
// size (`bits2field`), the key must be a valid point other than the identity, and r and s
// must be in 1..n (checked when the DER signature is decoded).
//
// With the `p256-cm4` feature on 32-bit Arm the same checks run on `p256-cm4`'s assembly
// (crypto/p256_cm4.rs).
#[cfg(all(feature = "p256-cm4", target_arch = "arm"))]
#[inline(never)]
fn verify_p256(key: &[u8], prehash: &[u8], signature: &[u8]) -> Result<(), InvalidSignature> {
    super::p256_cm4::verify_prehash(key, prehash, signature)
        .then_some(())
        .ok_or(InvalidSignature)
}

#[cfg(not(all(feature = "p256-cm4", target_arch = "arm")))]
#[inline(never)]
fn verify_p256(key: &[u8], prehash: &[u8], signature: &[u8]) -> Result<(), InvalidSignature> {
    type C = p256::NistP256;
    let key = p256::PublicKey::from_sec1_bytes(key).map_err(|_| InvalidSignature)?;
    let sig = ecdsa::Signature::<C>::from_der(signature).map_err(|_| InvalidSignature)?;
    let z = bits2field::<C>(prehash).map_err(|_| InvalidSignature)?;
    verify_prehashed::<C>(&key.to_projective(), &z, &sig).map_err(|_| InvalidSignature)
}

#[cfg(feature = "p384")]
#[inline(never)]
fn verify_p384(key: &[u8], prehash: &[u8], signature: &[u8]) -> Result<(), InvalidSignature> {
    use p384::ecdsa::signature::hazmat::PrehashVerifier;
    let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(|_| InvalidSignature)?;
    let sig = p384::ecdsa::Signature::from_der(signature).map_err(|_| InvalidSignature)?;
    key.verify_prehash(prehash, &sig)
        .map_err(|_| InvalidSignature)
}

static ECDSA_P256_SHA256: Algorithm<Ecdsa> = Ecdsa::algorithm(Curve::P256, HashAlg::Sha256);
#[cfg(feature = "sha384")]
static ECDSA_P256_SHA384: Algorithm<Ecdsa> = Ecdsa::algorithm(Curve::P256, HashAlg::Sha384);
#[cfg(feature = "p384")]
static ECDSA_P384_SHA256: Algorithm<Ecdsa> = Ecdsa::algorithm(Curve::P384, HashAlg::Sha256);
#[cfg(feature = "p384")]
static ECDSA_P384_SHA384: Algorithm<Ecdsa> = Ecdsa::algorithm(Curve::P384, HashAlg::Sha384);
#[cfg(feature = "ed25519")]
static ED25519: Algorithm<Ed25519> = Algorithm::new(alg_id::ED25519, alg_id::ED25519, Ed25519);

/// Every signature algorithm accepted in certificates (what `signature_algorithms_cert`
/// advertises): ECDSA P-256 with SHA-256, and with their cargo features ECDSA with SHA-384
/// (`sha384`), ECDSA P-384 (`p384`), Ed25519 (`ed25519`), and RSA PKCS#1 v1.5 and RSA-PSS
/// with SHA-256/384/512 (`rsa`).
pub static WEBPKI_ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    &ECDSA_P256_SHA256,
    #[cfg(feature = "sha384")]
    &ECDSA_P256_SHA384,
    #[cfg(feature = "p384")]
    &ECDSA_P384_SHA256,
    #[cfg(feature = "p384")]
    &ECDSA_P384_SHA384,
    #[cfg(feature = "ed25519")]
    &ED25519,
    #[cfg(feature = "rsa")]
    &super::rsa::RSA_PKCS1_SHA256,
    #[cfg(feature = "rsa")]
    &super::rsa::RSA_PKCS1_SHA384,
    #[cfg(feature = "rsa")]
    &super::rsa::RSA_PKCS1_SHA512,
    #[cfg(feature = "rsa")]
    &super::rsa::RSA_PSS_SHA256,
    #[cfg(feature = "rsa")]
    &super::rsa::RSA_PSS_SHA384,
    #[cfg(feature = "rsa")]
    &super::rsa::RSA_PSS_SHA512,
];

/// The signed content of a CertificateVerify (RFC 8446 §4.4.3): 64 spaces, the context string
/// for the server or the client, a zero byte, then the transcript hash (at most 48 bytes are
/// used). Written into `out`; the returned slice is the part to sign or verify.
pub fn certificate_verify_content<'a>(
    server: bool,
    transcript_hash: &[u8],
    out: &'a mut [u8; CERTIFICATE_VERIFY_CONTENT_MAX],
) -> &'a [u8] {
    let context = if server {
        SERVER_CONTEXT
    } else {
        CLIENT_CONTEXT
    };
    let hash = transcript_hash
        .get(..transcript_hash.len().min(MAX_HASH_LEN))
        .unwrap_or(&[]);
    let (spaces, rest) = out.split_at_mut(64);
    spaces.fill(0x20);
    let (ctx, rest) = rest.split_at_mut(33);
    ctx.copy_from_slice(context);
    let (zero, rest) = rest.split_at_mut(1);
    zero.fill(0);
    if let Some(dst) = rest.get_mut(..hash.len()) {
        dst.copy_from_slice(hash);
    }
    let len = 64 + 34 + hash.len();
    out.get(..len).unwrap_or(&[])
}

/// The webpki algorithm for a TLS 1.3 CertificateVerify scheme. In TLS 1.3 the ECDSA schemes
/// bind the curve to the hash (RFC 8446 §4.2.3), and PKCS#1 v1.5 is not allowed at all.
fn algorithm_for(
    scheme: SignatureScheme,
) -> Result<&'static dyn SignatureVerificationAlgorithm, CryptoError> {
    match scheme {
        SignatureScheme::EcdsaSecp256r1Sha256 => Ok(&ECDSA_P256_SHA256),
        #[cfg(feature = "p384")]
        SignatureScheme::EcdsaSecp384r1Sha384 => Ok(&ECDSA_P384_SHA384),
        #[cfg(feature = "ed25519")]
        SignatureScheme::Ed25519 => Ok(&ED25519),
        #[cfg(feature = "rsa")]
        SignatureScheme::RsaPssRsaeSha256
        | SignatureScheme::RsaPssRsaeSha384
        | SignatureScheme::RsaPssRsaeSha512 => super::rsa::pss_algorithm(scheme),
        _ => Err(CryptoError::UnsupportedScheme),
    }
}

/// Check the server's CertificateVerify (RFC 8446 §4.4.3) with the end-entity certificate's key.
///
/// Builds the signed content from `transcript_hash` (the hash up to and including the
/// Certificate message). A scheme that TLS 1.3 forbids there (PKCS#1 v1.5), one not compiled
/// in, or one that does not fit the certificate's key is [`CryptoError::UnsupportedScheme`];
/// a signature that does not verify is [`CryptoError::BadSignature`].
pub fn verify_certificate_verify(
    end_entity: &[u8],
    scheme: SignatureScheme,
    transcript_hash: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    verify_signed_content(true, end_entity, scheme, transcript_hash, signature)
}

/// Same as [`verify_certificate_verify`] for a client's CertificateVerify (used to test a
/// [`ClientCertSigner`](super::ClientCertSigner)).
pub fn verify_client_certificate_verify(
    end_entity: &[u8],
    scheme: SignatureScheme,
    transcript_hash: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    verify_signed_content(false, end_entity, scheme, transcript_hash, signature)
}

fn verify_signed_content(
    server: bool,
    end_entity: &[u8],
    scheme: SignatureScheme,
    transcript_hash: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    if !scheme.allowed_in_certificate_verify() {
        return Err(CryptoError::UnsupportedScheme);
    }
    let alg = algorithm_for(scheme)?;
    let der = CertificateDer::from(end_entity);
    let cert = webpki::EndEntityCert::try_from(&der)
        .map_err(|e| CryptoError::Certificate(map_webpki_error(&e)))?;
    let mut buf = [0u8; CERTIFICATE_VERIFY_CONTENT_MAX];
    let content = certificate_verify_content(server, transcript_hash, &mut buf);
    cert.verify_signature(alg, content, signature)
        .map_err(|e| match e {
            webpki::Error::InvalidSignatureForPublicKey => CryptoError::BadSignature,
            _ => CryptoError::UnsupportedScheme,
        })
}
