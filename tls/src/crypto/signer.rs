//! Client authentication (mutual TLS): the seam through which a CertificateVerify is signed,
//! so that the private key may stay in a secure element (RFC 8446 §4.4.2, §4.4.3).

#[cfg(not(all(feature = "p256-cm4", target_arch = "arm")))]
use p256_sign::ecdsa::signature::Signer;
use p256_sign::pkcs8::DecodePrivateKey;

use super::{CryptoError, SignatureScheme};

/// Holder of the client's certificate chain and private key.
///
/// The engine asks it to sign the CertificateVerify content (already built: 64 spaces, the
/// client context string, a zero byte and the transcript hash; the signer hashes it as its
/// scheme requires). An implementation backed by a secure element or an HSM never exposes the
/// key to this crate.
pub trait ClientCertSigner {
    /// The scheme of the signatures [`sign`](Self::sign) produces; it must be one the server
    /// listed in the CertificateRequest's signature_algorithms.
    fn scheme(&self) -> SignatureScheme;
    /// DER certificates, end entity first, then its intermediates.
    fn certificate_chain(&self) -> &[&[u8]];
    /// Sign `message`, writing the signature in its TLS encoding (DER for ECDSA) into `out`,
    /// and return its length.
    fn sign(&self, message: &[u8], out: &mut [u8]) -> Result<usize, CryptoError>;
}

/// Software ECDSA P-256 / SHA-256 signer (ecdsa_secp256r1_sha256), deterministic nonces
/// (RFC 6979). The key is wiped when the signer is dropped.
pub struct P256Signer<'a> {
    key: p256_sign::ecdsa::SigningKey,
    chain: &'a [&'a [u8]],
}

impl core::fmt::Debug for P256Signer<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("P256Signer")
            .field("certificates", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl<'a> P256Signer<'a> {
    /// Largest DER ECDSA P-256 signature.
    pub const MAX_SIGNATURE_LEN: usize = 72;

    /// Key from a PKCS#8 DER document (`-----BEGIN PRIVATE KEY-----` once base64-decoded).
    pub fn from_pkcs8_der(der: &[u8], chain: &'a [&'a [u8]]) -> Result<Self, CryptoError> {
        let key =
            p256_sign::ecdsa::SigningKey::from_pkcs8_der(der).map_err(|_| CryptoError::BadKey)?;
        Ok(P256Signer { key, chain })
    }

    /// Key from the raw 32-byte big-endian scalar (exactly 32 bytes, in `1..n`).
    pub fn from_scalar(scalar: &[u8], chain: &'a [&'a [u8]]) -> Result<Self, CryptoError> {
        if scalar.len() != 32 {
            return Err(CryptoError::BadKey);
        }
        let key =
            p256_sign::ecdsa::SigningKey::from_slice(scalar).map_err(|_| CryptoError::BadKey)?;
        Ok(P256Signer { key, chain })
    }
}

impl P256Signer<'_> {
    /// RustCrypto's ECDSA with the RFC 6979 nonce.
    #[cfg(not(all(feature = "p256-cm4", target_arch = "arm")))]
    fn signature(&self, message: &[u8]) -> Result<p256_sign::ecdsa::Signature, CryptoError> {
        self.key.try_sign(message).map_err(|_| CryptoError::BadKey)
    }

    /// `p256-cm4`'s constant-time ECDSA with the same RFC 6979 nonce, so the same signature;
    /// the copy of the scalar is wiped here, the digest and nonce state in the backend.
    #[cfg(all(feature = "p256-cm4", target_arch = "arm"))]
    fn signature(&self, message: &[u8]) -> Result<p256_sign::ecdsa::Signature, CryptoError> {
        use sha2::{Digest as _, Sha256};
        use zeroize::Zeroize as _;
        let digest: [u8; 32] = Sha256::digest(message).into();
        let mut scalar: [u8; 32] = self.key.as_nonzero_scalar().to_bytes().into();
        let signed = super::p256_cm4::sign_digest(&scalar, &digest);
        scalar.zeroize();
        let (r, s) = signed?;
        p256_sign::ecdsa::Signature::from_scalars(r, s).map_err(|_| CryptoError::BadKey)
    }
}

impl ClientCertSigner for P256Signer<'_> {
    fn scheme(&self) -> SignatureScheme {
        SignatureScheme::EcdsaSecp256r1Sha256
    }

    fn certificate_chain(&self) -> &[&[u8]] {
        self.chain
    }

    fn sign(&self, message: &[u8], out: &mut [u8]) -> Result<usize, CryptoError> {
        let sig = self.signature(message)?;
        let der = sig.to_der();
        let bytes = der.as_bytes();
        out.get_mut(..bytes.len())
            .ok_or(CryptoError::BufferTooSmall)?
            .copy_from_slice(bytes);
        Ok(bytes.len())
    }
}
