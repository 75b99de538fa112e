//! Server certificate chain validation with rustls-webpki (RFC 5280 path building, server-auth
//! EKU, subjectAltName matching) and the trust fingerprint of the peer identity.

use core::time::Duration;

use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use sha2::{Digest as _, Sha256};

use super::sig::WEBPKI_ALGORITHMS;

/// Smallest RSA modulus accepted anywhere in a chain, in bits: web PKI has required 2048 since
/// 2013, and a 1024-bit key can be factored with resources within reach.
pub(crate) const RSA_MIN_MODULUS_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits: no public CA issues larger keys, and the bound caps
/// the stack and the time one verification takes.
pub(crate) const RSA_MAX_MODULUS_BITS: usize = 4096;

/// Most intermediate certificates accepted in a chain. Public chains carry one or two; the
/// bound keeps path building within a fixed stack frame (E1).
pub const MAX_INTERMEDIATES: usize = 6;

/// Trust fingerprint of sessions made without certificate verification (C33). Every real
/// fingerprint from [`trust_fingerprint`] starts with the byte 0x01; this one starts with 0xFF,
/// so the two can never be equal and an unverified session is never offered to a verifying
/// connection.
pub const INSECURE_NO_VERIFY_FINGERPRINT: [u8; 16] = *b"\xffno-verification";

/// Why a certificate chain was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CertError {
    /// A certificate is not valid DER or has an invalid structure.
    BadEncoding,
    /// No path leads from the end-entity certificate to a configured trust anchor.
    UnknownIssuer,
    /// A certificate of the path expired (Unix seconds).
    Expired {
        /// The time used for the check.
        now: u64,
        /// The certificate's notAfter.
        not_after: u64,
    },
    /// A certificate of the path is not valid yet (Unix seconds); often a device clock that was
    /// never set (E6).
    NotValidYet {
        /// The time used for the check.
        now: u64,
        /// The certificate's notBefore.
        not_before: u64,
    },
    /// The end-entity certificate's subjectAltName does not cover the server name.
    NameMismatch,
    /// The server name is neither a valid DNS name nor an IP literal.
    BadServerName,
    /// A signature in the chain uses an algorithm this build does not verify.
    UnsupportedSignature,
    /// A signature in the chain does not verify.
    BadSignature,
    /// The end-entity certificate is not for TLS server authentication (extended key usage).
    NotServerAuth,
    /// A CA certificate was presented as the end entity.
    CaUsedAsEndEntity,
    /// An end-entity certificate was used as an issuer.
    EndEntityUsedAsCa,
    /// Path length or name constraints of an issuer were violated.
    ConstraintViolation,
    /// The chain is longer than webpki or [`MAX_INTERMEDIATES`] allows.
    PathTooLong,
    /// A critical extension is not understood.
    UnsupportedCriticalExtension,
    /// The end-entity certificate's keyUsage extension does not include digitalSignature, so
    /// its key must not sign the handshake (RFC 5280 §4.2.1.3, RFC 8446 §4.4.2.2).
    KeyUsageForbidsSigning,
    /// An RSA key of the chain (the server's own, or an issuer's that signs a certificate of
    /// the chain) is shorter than 2048 bits: such keys can be broken, and no signature made
    /// with one is accepted.
    RsaKeyTooSmall {
        /// The modulus length of the key, in bits.
        bits: u32,
    },
    /// An RSA key of the chain is longer than 4096 bits, the bound on the work (and the stack)
    /// of one verification.
    RsaKeyTooLarge {
        /// The modulus length of the key, in bits.
        bits: u32,
    },
    /// A certificate of the chain is signed with SHA-1 or MD5 (sha1WithRSAEncryption,
    /// ecdsa-with-SHA1, RSA-PSS over SHA-1, md5WithRSAEncryption): collisions can be made for
    /// these hashes, so such a signature proves nothing, and none is accepted (RFC 8446 §4.2.3,
    /// §4.4.2.4).
    WeakSignatureAlgorithm,
    /// Any other rejection by the path validator.
    Other,
}

impl core::fmt::Display for CertError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CertError::BadEncoding => f.write_str("malformed certificate"),
            CertError::UnknownIssuer => f.write_str("unknown issuer"),
            CertError::Expired { now, not_after } => {
                write!(f, "certificate expired (now {now}, notAfter {not_after})")
            }
            CertError::NotValidYet { now, not_before } => {
                write!(
                    f,
                    "certificate not valid yet (now {now}, notBefore {not_before})"
                )
            }
            CertError::NameMismatch => f.write_str("certificate not valid for the server name"),
            CertError::BadServerName => f.write_str("invalid server name"),
            CertError::UnsupportedSignature => f.write_str("unsupported signature algorithm"),
            CertError::BadSignature => f.write_str("invalid signature in chain"),
            CertError::NotServerAuth => {
                f.write_str("certificate not valid for server authentication")
            }
            CertError::CaUsedAsEndEntity => f.write_str("CA certificate used as end entity"),
            CertError::EndEntityUsedAsCa => f.write_str("end-entity certificate used as CA"),
            CertError::ConstraintViolation => f.write_str("issuer constraints violated"),
            CertError::PathTooLong => f.write_str("certificate chain too long"),
            CertError::UnsupportedCriticalExtension => {
                f.write_str("unsupported critical extension")
            }
            CertError::KeyUsageForbidsSigning => {
                f.write_str("certificate key usage does not allow digital signatures")
            }
            CertError::RsaKeyTooSmall { bits } => write!(
                f,
                "the server's certificate chain has an RSA key of {bits} bits; RSA keys below \
                 {RSA_MIN_MODULUS_BITS} bits are refused as breakable (the server needs a \
                 certificate with a {RSA_MIN_MODULUS_BITS}- to {RSA_MAX_MODULUS_BITS}-bit RSA \
                 key, or an ECDSA key)"
            ),
            CertError::RsaKeyTooLarge { bits } => write!(
                f,
                "the server's certificate chain has an RSA key of {bits} bits; RSA keys above \
                 {RSA_MAX_MODULUS_BITS} bits are not supported"
            ),
            CertError::WeakSignatureAlgorithm => f.write_str(
                "a certificate of the server's chain is signed with SHA-1 (or MD5), which is \
                 refused as forgeable; the server needs certificates signed with SHA-256 or \
                 stronger",
            ),
            CertError::Other => f.write_str("certificate rejected"),
        }
    }
}

// The unit variants are deprecated in favour of the `...Context` ones but still exist; both
// forms are mapped so that no rejection falls through to `Other`.
#[allow(deprecated)]
pub(crate) fn map_webpki_error(e: &webpki::Error) -> CertError {
    use webpki::Error as E;
    match e {
        E::BadDer
        | E::BadDerTime
        | E::TrailingData(_)
        | E::MalformedExtensions
        | E::ExtensionValueInvalid
        | E::InvalidCertValidity
        | E::InvalidSerialNumber
        | E::UnsupportedCertVersion
        | E::MalformedDnsIdentifier
        | E::MalformedNameConstraint
        | E::EmptyEkuExtension => CertError::BadEncoding,
        E::UnknownIssuer => CertError::UnknownIssuer,
        E::CertExpired { time, not_after } => CertError::Expired {
            now: time.as_secs(),
            not_after: not_after.as_secs(),
        },
        E::CertNotValidYet { time, not_before } => CertError::NotValidYet {
            now: time.as_secs(),
            not_before: not_before.as_secs(),
        },
        E::CertNotValidForName(_) => CertError::NameMismatch,
        E::UnsupportedSignatureAlgorithm
        | E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKey
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
        | E::SignatureAlgorithmMismatch => CertError::UnsupportedSignature,
        E::InvalidSignatureForPublicKey => CertError::BadSignature,
        E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) => CertError::NotServerAuth,
        E::CaUsedAsEndEntity => CertError::CaUsedAsEndEntity,
        E::EndEntityUsedAsCa => CertError::EndEntityUsedAsCa,
        E::PathLenConstraintViolated | E::NameConstraintViolation => CertError::ConstraintViolation,
        E::MaximumPathDepthExceeded
        | E::MaximumPathBuildCallsExceeded
        | E::MaximumSignatureChecksExceeded
        | E::MaximumNameConstraintComparisonsExceeded => CertError::PathTooLong,
        E::UnsupportedCriticalExtension => CertError::UnsupportedCriticalExtension,
        _ => CertError::Other,
    }
}

/// Validate the server's chain (RFC 8446 §4.4.2.4, E6).
///
/// `end_entity` and `intermediates` are the DER certificates of the Certificate message (any
/// order for the intermediates, at most [`MAX_INTERMEDIATES`]); `anchors` the configured roots;
/// `server_name` the DNS name sent in SNI or an IP literal, matched against the
/// subjectAltName only (not the subject CN); `now_unix` the wall-clock time in Unix seconds.
/// The end entity must allow TLS server authentication when it carries an EKU.
pub fn verify_server_chain(
    end_entity: &[u8],
    intermediates: &[&[u8]],
    anchors: &[TrustAnchor<'_>],
    server_name: &str,
    now_unix: u64,
) -> Result<(), CertError> {
    let name = ServerName::try_from(server_name).map_err(|_| CertError::BadServerName)?;
    let mut ints: heapless::Vec<CertificateDer<'_>, MAX_INTERMEDIATES> = heapless::Vec::new();
    for der in intermediates {
        ints.push(CertificateDer::from(*der))
            .map_err(|_| CertError::PathTooLong)?;
    }
    let ee_der = CertificateDer::from(end_entity);
    let ee = webpki::EndEntityCert::try_from(&ee_der).map_err(|e| map_webpki_error(&e))?;
    let time = UnixTime::since_unix_epoch(Duration::from_secs(now_unix));
    ee.verify_for_usage(
        WEBPKI_ALGORITHMS,
        anchors,
        &ints,
        time,
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )
    .map_err(|e| {
        explain_signature_failure(map_webpki_error(&e), end_entity, intermediates, anchors)
    })?;
    ee.verify_is_valid_for_subject_name(&name)
        .map_err(|e| map_webpki_error(&e))?;
    // The path validator never uses the end entity's own key; the CertificateVerify will, and
    // a key of the wrong size would fail there as a bad signature, which would not say why.
    if let Some(spki) = spki_of(end_entity) {
        check_rsa_key_size(spki)?;
    }
    check_key_usage_allows_signing(end_entity)
}

/// Names the cause when the path validator refused a signature of the chain
/// ([`CertError::BadSignature`], [`CertError::UnsupportedSignature`]) and the cause is a weak
/// one it cannot report itself: a certificate on a path from the end entity signed with SHA-1
/// or MD5 ([`CertError::WeakSignatureAlgorithm`]), or an issuer on such a path (a presented
/// intermediate or a trust anchor whose subject is the issuer of a certificate on it) with an
/// RSA key outside 2048–4096 bits ([`CertError::RsaKeyTooSmall`], `RsaKeyTooLarge`). Any other
/// error, or no such cause found, is returned unchanged.
///
/// Paths are followed by name only (issuer = subject), as the validator builds them; with at
/// most [`MAX_INTERMEDIATES`] intermediates the walk is a few passes over the chain.
fn explain_signature_failure(
    error: CertError,
    end_entity: &[u8],
    intermediates: &[&[u8]],
    anchors: &[TrustAnchor<'_>],
) -> CertError {
    if !matches!(
        error,
        CertError::BadSignature | CertError::UnsupportedSignature
    ) {
        return error;
    }
    // Bit i: intermediate i is the issuer of a certificate on a path from the end entity.
    let mut on_path: u32 = 0;
    let mut certs: heapless::Vec<&[u8], { MAX_INTERMEDIATES + 1 }> = heapless::Vec::new();
    if certs.push(end_entity).is_err() {
        return error;
    }
    let mut next = 0;
    while let Some(&cert) = certs.get(next) {
        next += 1;
        let Some(fields) = TbsFields::parse(cert) else {
            continue;
        };
        if fields.weak_signature {
            return CertError::WeakSignatureAlgorithm;
        }
        for (i, &int) in intermediates.iter().enumerate().take(MAX_INTERMEDIATES) {
            let Some(int_fields) = TbsFields::parse(int) else {
                continue;
            };
            if int_fields.subject != fields.issuer || on_path & (1 << i) != 0 {
                continue;
            }
            on_path |= 1 << i;
            if let Err(e) = check_rsa_key_size(int_fields.spki) {
                return e;
            }
            if certs.push(int).is_err() {
                break;
            }
        }
        for anchor in anchors {
            if anchor.subject.as_ref() == fields.issuer {
                if let Err(e) = check_rsa_key_size(anchor.subject_public_key_info.as_ref()) {
                    return e;
                }
            }
        }
    }
    error
}

const SEQUENCE: u8 = 0x30;
const OID: u8 = 0x06;
const BIT_STRING: u8 = 0x03;
const INTEGER: u8 = 0x02;

/// The fields of a certificate that [`explain_signature_failure`] follows: the contents of the
/// issuer and subject Names and of the SubjectPublicKeyInfo (without their SEQUENCE headers,
/// as in a [`TrustAnchor`]), and whether the certificate's signature uses SHA-1 or MD5.
struct TbsFields<'a> {
    issuer: &'a [u8],
    subject: &'a [u8],
    spki: &'a [u8],
    weak_signature: bool,
}

impl<'a> TbsFields<'a> {
    /// `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }` and
    /// `TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer,
    /// validity, subject, subjectPublicKeyInfo, ... }` (RFC 5280 §4.1).
    fn parse(cert_der: &'a [u8]) -> Option<Self> {
        let (cert, _) = der_expect(cert_der, SEQUENCE)?;
        let (tbs, rest) = der_expect(cert, SEQUENCE)?;
        let (algorithm, _) = der_expect(rest, SEQUENCE)?;
        let tbs = match der_next(tbs)? {
            (0xa0, _, after_version) => after_version,
            _ => tbs,
        };
        let (_serial, tbs) = der_expect(tbs, INTEGER)?;
        let (_signature, tbs) = der_expect(tbs, SEQUENCE)?;
        let (issuer, tbs) = der_expect(tbs, SEQUENCE)?;
        let (_validity, tbs) = der_expect(tbs, SEQUENCE)?;
        let (subject, tbs) = der_expect(tbs, SEQUENCE)?;
        let (spki, _) = der_expect(tbs, SEQUENCE)?;
        Some(TbsFields {
            issuer,
            subject,
            spki,
            weak_signature: is_weak_signature_algorithm(algorithm),
        })
    }
}

/// The contents of the end entity's SubjectPublicKeyInfo.
fn spki_of(cert_der: &[u8]) -> Option<&[u8]> {
    TbsFields::parse(cert_der).map(|f| f.spki)
}

/// Whether an AlgorithmIdentifier's contents name a signature over SHA-1 or MD5:
/// md5WithRSAEncryption, sha1WithRSAEncryption, ecdsa-with-SHA1, dsa-with-sha1, or RSASSA-PSS
/// whose hash is SHA-1 (stated, or by default when the parameters leave it out, RFC 4055 §3.1).
fn is_weak_signature_algorithm(algorithm: &[u8]) -> bool {
    const MD5_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x04];
    const SHA1_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05];
    const RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
    const ECDSA_WITH_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01];
    const DSA_WITH_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x03];
    const SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
    const HASH_ALGORITHM: u8 = 0xa0;
    let Some((oid, params)) = der_expect(algorithm, OID) else {
        return false;
    };
    if [MD5_WITH_RSA, SHA1_WITH_RSA, ECDSA_WITH_SHA1, DSA_WITH_SHA1].contains(&oid) {
        return true;
    }
    if oid != RSASSA_PSS {
        return false;
    }
    // RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] DEFAULT sha1, ... }
    let Some((params, _)) = der_expect(params, SEQUENCE) else {
        return false;
    };
    match der_next(params) {
        Some((HASH_ALGORITHM, hash, _)) => der_expect(hash, SEQUENCE)
            .and_then(|(hash, _)| der_expect(hash, OID))
            .is_some_and(|(hash_oid, _)| hash_oid == SHA1),
        _ => true,
    }
}

/// For the contents of a SubjectPublicKeyInfo with an RSA key (rsaEncryption, or RSASSA-PSS
/// with its own OID): the modulus must have [`RSA_MIN_MODULUS_BITS`] to
/// [`RSA_MAX_MODULUS_BITS`] bits. Keys of other types, and keys this walk cannot read (the
/// signature check refuses those), pass.
fn check_rsa_key_size(spki: &[u8]) -> Result<(), CertError> {
    const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    const RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
    let Some(bits) = rsa_modulus_bits(spki, &[RSA_ENCRYPTION, RSASSA_PSS]) else {
        return Ok(());
    };
    let reported = u32::try_from(bits).unwrap_or(u32::MAX);
    if bits < RSA_MIN_MODULUS_BITS {
        Err(CertError::RsaKeyTooSmall { bits: reported })
    } else if bits > RSA_MAX_MODULUS_BITS {
        Err(CertError::RsaKeyTooLarge { bits: reported })
    } else {
        Ok(())
    }
}

/// The modulus length in bits of an RSA SubjectPublicKeyInfo (contents) whose algorithm is one
/// of `rsa_oids`; `None` for another key type or an unreadable key.
fn rsa_modulus_bits(spki: &[u8], rsa_oids: &[&[u8]]) -> Option<usize> {
    let (algorithm, rest) = der_expect(spki, SEQUENCE)?;
    let (oid, _) = der_expect(algorithm, OID)?;
    if !rsa_oids.contains(&oid) {
        return None;
    }
    let (key, _) = der_expect(rest, BIT_STRING)?;
    // No unused bits, then RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }.
    let (&0, key) = key.split_first()? else {
        return None;
    };
    let (key, _) = der_expect(key, SEQUENCE)?;
    let (modulus, _) = der_expect(key, INTEGER)?;
    let start = modulus.iter().position(|&b| b != 0)?;
    let magnitude = modulus.get(start..)?;
    let top = magnitude.first()?;
    Some(magnitude.len() * 8 - top.leading_zeros() as usize)
}

/// RFC 5280 §4.2.1.3: when the end entity carries a keyUsage extension, its key may sign
/// the CertificateVerify only if digitalSignature (bit 0) is set. The path validator does
/// not look at keyUsage, so the extension is read here from the DER.
pub fn check_key_usage_allows_signing(cert_der: &[u8]) -> Result<(), CertError> {
    const EXTENSIONS: u8 = 0xa3;
    const BOOLEAN: u8 = 0x01;
    const OCTET_STRING: u8 = 0x04;
    const KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];
    let bad = CertError::BadEncoding;
    let (cert, _) = der_expect(cert_der, SEQUENCE).ok_or(bad)?;
    let (mut tbs, _) = der_expect(cert, SEQUENCE).ok_or(bad)?;
    // The fields of the TBSCertificate up to the optional [3] extensions.
    let exts = loop {
        let Some((tag, value, rest)) = der_next(tbs) else {
            return if tbs.is_empty() { Ok(()) } else { Err(bad) };
        };
        if tag == EXTENSIONS {
            break value;
        }
        tbs = rest;
    };
    let (mut list, _) = der_expect(exts, SEQUENCE).ok_or(bad)?;
    while !list.is_empty() {
        let (ext, rest) = der_expect(list, SEQUENCE).ok_or(bad)?;
        list = rest;
        let (oid, ext) = der_expect(ext, OID).ok_or(bad)?;
        if oid != KEY_USAGE {
            continue;
        }
        let ext = match der_expect(ext, BOOLEAN) {
            Some((_, after)) => after,
            None => ext,
        };
        let (inner, _) = der_expect(ext, OCTET_STRING).ok_or(bad)?;
        let (bits, _) = der_expect(inner, BIT_STRING).ok_or(bad)?;
        // The first byte counts unused bits; digitalSignature is the first bit after it.
        let digital_signature = bits.get(1).is_some_and(|b| b & 0x80 != 0);
        return if digital_signature {
            Ok(())
        } else {
            Err(CertError::KeyUsageForbidsSigning)
        };
    }
    Ok(())
}

/// One DER element: (tag, contents, rest). Lengths up to three bytes; `None` when malformed.
fn der_next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81..=0x83 => {
            let n = usize::from(first & 0x7f);
            let bytes = rest.get(..n)?;
            let len = bytes
                .iter()
                .fold(0usize, |acc, b| acc << 8 | usize::from(*b));
            (len, rest.get(n..)?)
        }
        _ => return None,
    };
    Some((tag, rest.get(..len)?, rest.get(len..)?))
}

/// [`der_next`] that also checks the tag: (contents, rest).
fn der_expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    match der_next(input)? {
        (t, value, rest) if t == tag => Some((value, rest)),
        _ => None,
    }
}

/// Turn a DER CA certificate into a trust anchor (subject, public key and name constraints;
/// validity and other fields are ignored, RFC 5280 §6.1.1).
///
/// The anchor borrows from the certificate, so on a device keep the DER in flash:
///
/// ```
/// use encore_tls::crypto::anchor_from_der;
/// use rustls_pki_types::CertificateDer;
/// # const CA_DER: &[u8] = &[];
/// static CA: CertificateDer<'static> = CertificateDer::from_slice(CA_DER);
/// // A real DER certificate (for example `include_bytes!("ca.der")`) gives Ok.
/// assert!(anchor_from_der(&CA).is_err());
/// ```
pub fn anchor_from_der<'a>(cert: &'a CertificateDer<'a>) -> Result<TrustAnchor<'a>, CertError> {
    webpki::anchor_from_trusted_cert(cert).map_err(|e| map_webpki_error(&e))
}

/// Fingerprint of a trust configuration, part of a session's peer identity (CONTRACT "Decided —
/// peer identity", C33): a session is offered only to connections that trust the same anchors.
///
/// It is the byte 0x01 followed by the first 15 bytes of SHA-256 over a domain label, the
/// number of anchors and, per anchor in order, the length-prefixed subject, public key info
/// and name constraints. The same anchors in the same order always give the same value, across
/// builds and reboots, so a saved session reloads. Never equal to
/// [`INSECURE_NO_VERIFY_FINGERPRINT`].
pub fn trust_fingerprint(anchors: &[TrustAnchor<'_>]) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(b"encore trust fingerprint v1");
    h.update((anchors.len() as u64).to_be_bytes());
    for a in anchors {
        for field in [
            a.subject.as_ref(),
            a.subject_public_key_info.as_ref(),
            a.name_constraints
                .as_ref()
                .map(|n| n.as_ref())
                .unwrap_or(&[]),
        ] {
            h.update((field.len() as u64).to_be_bytes());
            h.update(field);
        }
        h.update([u8::from(a.name_constraints.is_some())]);
    }
    let digest = h.finalize();
    let mut out = [0u8; 16];
    out[0] = 0x01;
    for (o, d) in out.iter_mut().skip(1).zip(digest.iter()) {
        *o = *d;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    type Der = heapless::Vec<u8, 1024>;

    fn tlv(tag: u8, body: &[u8]) -> Der {
        let mut out = Der::new();
        out.push(tag).unwrap();
        match body.len() {
            n @ 0..=0x7f => out.push(n as u8).unwrap(),
            n @ 0x80..=0xff => out.extend_from_slice(&[0x81, n as u8]).unwrap(),
            n => out
                .extend_from_slice(&[0x82, (n >> 8) as u8, n as u8])
                .unwrap(),
        }
        out.extend_from_slice(body).unwrap();
        out
    }

    fn cat(parts: &[&[u8]]) -> Der {
        let mut out = Der::new();
        for p in parts {
            out.extend_from_slice(p).unwrap();
        }
        out
    }

    /// The contents of an rsaEncryption SubjectPublicKeyInfo with a modulus of `bits` bits.
    fn rsa_spki(bits: usize) -> Der {
        const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
        let mut modulus = [0xffu8; 514];
        let len = bits.div_ceil(8);
        // A leading zero keeps the INTEGER positive; the top byte has `bits % 8` bits (or 8).
        modulus[0] = 0;
        modulus[1] = 0xff >> ((8 - bits % 8) % 8);
        let modulus = &modulus[..=len];
        let key = tlv(
            SEQUENCE,
            &cat(&[&tlv(INTEGER, modulus), &tlv(INTEGER, &[1, 0, 1])]),
        );
        let algorithm = tlv(SEQUENCE, &cat(&[&tlv(OID, RSA_ENCRYPTION), &[0x05, 0x00]]));
        cat(&[&algorithm, &tlv(BIT_STRING, &cat(&[&[0], &key]))])
    }

    /// R12: RSA keys of 2048 to 4096 bits pass; one bit fewer or more is named, with its size.
    #[test]
    fn r12_rsa_key_sizes_outside_2048_to_4096_bits_are_named() {
        assert_eq!(check_rsa_key_size(&rsa_spki(2048)), Ok(()));
        assert_eq!(check_rsa_key_size(&rsa_spki(3072)), Ok(()));
        assert_eq!(check_rsa_key_size(&rsa_spki(4096)), Ok(()));
        assert_eq!(
            check_rsa_key_size(&rsa_spki(2047)),
            Err(CertError::RsaKeyTooSmall { bits: 2047 })
        );
        assert_eq!(
            check_rsa_key_size(&rsa_spki(1024)),
            Err(CertError::RsaKeyTooSmall { bits: 1024 })
        );
        assert_eq!(
            check_rsa_key_size(&rsa_spki(4097)),
            Err(CertError::RsaKeyTooLarge { bits: 4097 })
        );
        // Not an RSA key (id-ecPublicKey): no size rule.
        let ec = cat(&[
            &tlv(
                SEQUENCE,
                &cat(&[
                    &tlv(OID, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
                    &tlv(OID, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
                ]),
            ),
            &tlv(BIT_STRING, &[0, 4, 1, 2, 3]),
        ]);
        assert_eq!(check_rsa_key_size(&ec), Ok(()));
    }

    /// R12: SHA-1 and MD5 signature algorithms are recognised, RSASSA-PSS included (whose hash
    /// is SHA-1 when the parameters leave it out); SHA-256 ones are not weak.
    #[test]
    fn r12_sha1_and_md5_signature_algorithms_are_recognised() {
        const PKCS1: [u8; 8] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
        let pkcs1 = |last: u8| {
            let mut oid = [0u8; 9];
            oid[..8].copy_from_slice(&PKCS1);
            oid[8] = last;
            cat(&[&tlv(OID, &oid), &[0x05, 0x00]])
        };
        assert!(is_weak_signature_algorithm(&pkcs1(0x04))); // md5WithRSAEncryption
        assert!(is_weak_signature_algorithm(&pkcs1(0x05))); // sha1WithRSAEncryption
        assert!(!is_weak_signature_algorithm(&pkcs1(0x0b))); // sha256WithRSAEncryption
        let ecdsa_sha1 = tlv(OID, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01]);
        assert!(is_weak_signature_algorithm(&ecdsa_sha1));
        let ecdsa_sha256 = tlv(OID, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);
        assert!(!is_weak_signature_algorithm(&ecdsa_sha256));

        let pss = |params: &[u8]| {
            let mut oid = [0u8; 9];
            oid[..8].copy_from_slice(&PKCS1);
            oid[8] = 0x0a;
            cat(&[&tlv(OID, &oid), &tlv(SEQUENCE, params)])
        };
        let hash = |oid: &[u8]| tlv(0xa0, &tlv(SEQUENCE, &tlv(OID, oid)));
        const SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
        const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
        assert!(is_weak_signature_algorithm(&pss(&[])));
        assert!(is_weak_signature_algorithm(&pss(&hash(SHA1))));
        assert!(!is_weak_signature_algorithm(&pss(&hash(SHA256))));
    }
}
