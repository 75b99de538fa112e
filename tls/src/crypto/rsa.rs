//! RSA signatures, only with the `rsa` cargo feature: PKCS#1 v1.5 for certificate signatures
//! and RSASSA-PSS (rsaEncryption keys) for certificates and the TLS 1.3 CertificateVerify
//! (RFC 8446 §4.2.3).
//!
//! **This feature needs `alloc`** (E1): the `rsa` crate keeps its big integers on the heap, so
//! a firmware that enables it must provide a global allocator. Moduli below 2048 bits are
//! refused, as web PKI requires; 8192 bits is the upper bound.

use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::signature::Verifier;
use rsa::traits::PublicKeyParts;
use rustls_pki_types::{
    alg_id, AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm,
};
use sha2::{Sha256, Sha384, Sha512};

use super::{CryptoError, SignatureScheme};

/// Smallest accepted modulus, in bytes (2048 bits).
const MIN_MODULUS_BYTES: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RsaHash {
    Sha256,
    Sha384,
    Sha512,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Padding {
    Pkcs1,
    Pss,
}

#[derive(Debug)]
pub(crate) struct Rsa {
    padding: Padding,
    hash: RsaHash,
}

fn parse_public_key(der: &[u8]) -> Result<rsa::PublicKey, InvalidSignature> {
    let key = rsa::PublicKey::from_pkcs1_der(der).map_err(|_| InvalidSignature)?;
    if key.size() < MIN_MODULUS_BYTES {
        return Err(InvalidSignature);
    }
    Ok(key)
}

impl SignatureVerificationAlgorithm for Rsa {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        let key = parse_public_key(public_key)?;
        let r = match self.padding {
            Padding::Pkcs1 => {
                let sig =
                    rsa::pkcs1v15::Signature::try_from(signature).map_err(|_| InvalidSignature)?;
                match self.hash {
                    RsaHash::Sha256 => {
                        rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key).verify(message, &sig)
                    }
                    RsaHash::Sha384 => {
                        rsa::pkcs1v15::VerifyingKey::<Sha384>::new(key).verify(message, &sig)
                    }
                    RsaHash::Sha512 => {
                        rsa::pkcs1v15::VerifyingKey::<Sha512>::new(key).verify(message, &sig)
                    }
                }
            }
            Padding::Pss => {
                // Salt length = hash length (RFC 8446 §4.2.3, RFC 4055 defaults for rsaEncryption).
                let sig = rsa::pss::Signature::try_from(signature).map_err(|_| InvalidSignature)?;
                match self.hash {
                    RsaHash::Sha256 => {
                        rsa::pss::VerifyingKey::<Sha256>::new(key).verify(message, &sig)
                    }
                    RsaHash::Sha384 => {
                        rsa::pss::VerifyingKey::<Sha384>::new(key).verify(message, &sig)
                    }
                    RsaHash::Sha512 => {
                        rsa::pss::VerifyingKey::<Sha512>::new(key).verify(message, &sig)
                    }
                }
            }
        };
        r.map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::RSA_ENCRYPTION
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        match (self.padding, self.hash) {
            (Padding::Pkcs1, RsaHash::Sha256) => alg_id::RSA_PKCS1_SHA256,
            (Padding::Pkcs1, RsaHash::Sha384) => alg_id::RSA_PKCS1_SHA384,
            (Padding::Pkcs1, RsaHash::Sha512) => alg_id::RSA_PKCS1_SHA512,
            (Padding::Pss, RsaHash::Sha256) => alg_id::RSA_PSS_SHA256,
            (Padding::Pss, RsaHash::Sha384) => alg_id::RSA_PSS_SHA384,
            (Padding::Pss, RsaHash::Sha512) => alg_id::RSA_PSS_SHA512,
        }
    }
}

pub(crate) static RSA_PKCS1_SHA256: Rsa = Rsa {
    padding: Padding::Pkcs1,
    hash: RsaHash::Sha256,
};
pub(crate) static RSA_PKCS1_SHA384: Rsa = Rsa {
    padding: Padding::Pkcs1,
    hash: RsaHash::Sha384,
};
pub(crate) static RSA_PKCS1_SHA512: Rsa = Rsa {
    padding: Padding::Pkcs1,
    hash: RsaHash::Sha512,
};
pub(crate) static RSA_PSS_SHA256: Rsa = Rsa {
    padding: Padding::Pss,
    hash: RsaHash::Sha256,
};
pub(crate) static RSA_PSS_SHA384: Rsa = Rsa {
    padding: Padding::Pss,
    hash: RsaHash::Sha384,
};
pub(crate) static RSA_PSS_SHA512: Rsa = Rsa {
    padding: Padding::Pss,
    hash: RsaHash::Sha512,
};

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
