//! Server certificate chain validation with rustls-webpki (RFC 5280 path building, server-auth
//! EKU, subjectAltName matching) and the trust fingerprint of the peer identity.

use core::time::Duration;

use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use sha2::{Digest as _, Sha256};

use super::sig::WEBPKI_ALGORITHMS;

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
    .map_err(|e| map_webpki_error(&e))?;
    ee.verify_is_valid_for_subject_name(&name)
        .map_err(|e| map_webpki_error(&e))?;
    check_key_usage_allows_signing(end_entity)
}

/// RFC 5280 §4.2.1.3: when the end entity carries a keyUsage extension, its key may sign
/// the CertificateVerify only if digitalSignature (bit 0) is set. The path validator does
/// not look at keyUsage, so the extension is read here from the DER.
pub fn check_key_usage_allows_signing(cert_der: &[u8]) -> Result<(), CertError> {
    const SEQUENCE: u8 = 0x30;
    const EXTENSIONS: u8 = 0xa3;
    const OID: u8 = 0x06;
    const BOOLEAN: u8 = 0x01;
    const OCTET_STRING: u8 = 0x04;
    const BIT_STRING: u8 = 0x03;
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
