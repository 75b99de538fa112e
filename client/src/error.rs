//! Why a client operation failed.

use embedded_io_async::ErrorKind;

/// What went wrong on a [`crate::Connection`].
///
/// Every failure is a value (E4): the TLS engine's reason, the session layer's reason, the
/// transport's error kind, or a misuse of the connection's life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// The TLS engine stopped the connection. When the error is a fatal alert the client sent or
    /// received, the connection's session was invalidated (C15).
    Tls(encore_tls::Error),
    /// A session operation failed, for example a session of another context
    /// ([`encore_session::Error::WrongOwner`]) or made for another peer
    /// ([`encore_session::Error::WrongPeer`]) given to `set_session` (C35).
    Session(encore_session::Error),
    /// The transport reported an error.
    Io(ErrorKind),
    /// The transport reached end of stream: during the handshake, or before the server's
    /// close_notify (an unclean close: the session stays "open", see C13).
    TransportClosed,
    /// The random number generator failed; nothing generated with it was sent.
    Rng,
    /// The handshake has not completed: nothing can be read or written yet.
    NotConnected,
    /// `connect` was called on a connection that already connected; call `clear` first (C14).
    AlreadyConnected,
    /// The connection failed earlier, or a `connect` future was dropped mid-way (C12); call
    /// `clear` before connecting again.
    Failed,
    /// close_notify was sent or marked as sent: nothing more can be written.
    Closed,
    /// The handshake did not complete within the connection's limit
    /// ([`crate::Connection::set_handshake_timeout`], R2). Nothing is invalidated; the
    /// offered ticket stays used (C28).
    HandshakeTimeout,
    /// Application data did not fit the caller's buffer and the connection's carry buffer;
    /// `needed` bytes were pending. The connection is failed.
    ReadBufferTooSmall {
        /// Plaintext bytes that had to be kept.
        needed: usize,
    },
}

impl Error {
    /// True when this error means a fatal alert was sent or received (C15).
    pub fn is_fatal_alert(&self) -> bool {
        match self {
            Error::Tls(
                encore_tls::Error::AlertReceived(_) | encore_tls::Error::HelloRefused(_),
            ) => true,
            Error::Tls(e) => e.alert().is_some(),
            _ => false,
        }
    }
}

impl From<encore_tls::Error> for Error {
    fn from(e: encore_tls::Error) -> Self {
        Error::Tls(e)
    }
}

impl From<encore_session::Error> for Error {
    fn from(e: encore_session::Error) -> Self {
        Error::Session(e)
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Tls(
                e @ encore_tls::Error::HelloRefused(
                    encore_tls::wire::AlertDescription::HANDSHAKE_FAILURE,
                ),
            ) => {
                write!(f, "{e}: ")?;
                handshake_failure_hint(f, encore_tls::crypto::SignatureScheme::OFFERED)
            }
            Error::Tls(
                e @ encore_tls::Error::Certificate(
                    encore_tls::crypto::CertError::UnsupportedSignature,
                ),
            ) if !offers_rsa(encore_tls::crypto::SignatureScheme::OFFERED) => write!(
                f,
                "{e}; this build verifies no RSA signature, which many chains have: \
                 encore-tls's `rsa` feature adds RSA (no heap needed)"
            ),
            Error::Tls(e) => write!(f, "{e}"),
            Error::Session(e) => write!(f, "session: {e}"),
            Error::Io(k) => write!(f, "transport error: {k:?}"),
            Error::TransportClosed => f.write_str("transport closed without close_notify"),
            Error::Rng => f.write_str("random number generator failed"),
            Error::NotConnected => f.write_str("handshake not completed"),
            Error::AlreadyConnected => f.write_str("connection already used; clear it first"),
            Error::Failed => f.write_str("connection failed; clear it first"),
            Error::Closed => f.write_str("close_notify already sent"),
            Error::HandshakeTimeout => f.write_str("handshake did not complete in time"),
            Error::ReadBufferTooSmall { needed } => {
                write!(f, "read buffer too small, {needed} bytes pending")
            }
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::Tls(e) => Some(e),
            Error::Session(e) => Some(e),
            _ => None,
        }
    }
}

/// What a handshake_failure alert from the server usually means, for the message a user reads:
/// the server found nothing it could use in the ClientHello, most often no certificate for the
/// signature schemes offered (`offered`, named as in RFC 8446 §4.2.3). When no RSA scheme is
/// offered, it says that encore-tls's `rsa` feature adds them: RSA-only servers are common and
/// this is the one fix on the client's side.
pub(crate) fn handshake_failure_hint(
    f: &mut dyn core::fmt::Write,
    offered: &[encore_tls::crypto::SignatureScheme],
) -> core::fmt::Result {
    f.write_str(
        "the server accepted none of the parameters offered; most often it has no certificate \
         for the signature schemes offered (",
    )?;
    for (i, scheme) in offered.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        f.write_str(scheme.name())?;
    }
    f.write_str(")")?;
    if !offers_rsa(offered) {
        f.write_str(
            "; enabling encore-tls's `rsa` feature adds RSA (rsa_pss_rsae_sha256/384/512, \
             no heap needed)",
        )?;
    }
    Ok(())
}

/// Whether `offered` has an RSA scheme (a build with encore-tls's `rsa` feature).
fn offers_rsa(offered: &[encore_tls::crypto::SignatureScheme]) -> bool {
    use encore_tls::crypto::SignatureScheme as S;
    offered.iter().any(|s| {
        matches!(
            s,
            S::RsaPssRsaeSha256 | S::RsaPssRsaeSha384 | S::RsaPssRsaeSha512
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use encore_tls::crypto::SignatureScheme as S;

    /// A fixed-size text buffer (this crate has no heap, tests included).
    struct Text {
        buf: [u8; 512],
        len: usize,
    }

    impl Text {
        fn as_str(&self) -> &str {
            core::str::from_utf8(&self.buf[..self.len]).unwrap()
        }
    }

    impl core::fmt::Write for Text {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.len + s.len();
            self.buf
                .get_mut(self.len..end)
                .ok_or(core::fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }

    fn hint(offered: &[S]) -> Text {
        let mut t = Text {
            buf: [0; 512],
            len: 0,
        };
        handshake_failure_hint(&mut t, offered).unwrap();
        t
    }

    /// A build offers RSA exactly when an rsa_pss_rsae scheme is in its list; without one,
    /// an unsupported signature in the chain points at the `rsa` feature.
    #[test]
    fn offers_rsa_only_with_an_rsa_pss_scheme() {
        assert!(!offers_rsa(&[S::EcdsaSecp256r1Sha256, S::Ed25519]));
        assert!(offers_rsa(&[S::EcdsaSecp256r1Sha256, S::RsaPssRsaeSha256]));
        // This test build has `rsa` on: the plain text, no advice.
        let e = Error::Tls(encore_tls::Error::Certificate(
            encore_tls::crypto::CertError::UnsupportedSignature,
        ));
        let mut t = Text {
            buf: [0; 512],
            len: 0,
        };
        core::fmt::write(&mut t, format_args!("{e}")).unwrap();
        assert!(!t.as_str().contains("feature"), "{}", t.as_str());
    }

    /// Without RSA, the hint names what was offered and the feature that adds RSA.
    #[test]
    fn handshake_failure_without_rsa_names_the_schemes_and_the_feature() {
        let t = hint(&[S::EcdsaSecp256r1Sha256, S::Ed25519]);
        assert_eq!(
            t.as_str(),
            "the server accepted none of the parameters offered; most often it has no \
             certificate for the signature schemes offered (ecdsa_secp256r1_sha256, ed25519); \
             enabling encore-tls's `rsa` feature adds RSA (rsa_pss_rsae_sha256/384/512, no heap \
             needed)"
        );
    }

    /// With RSA offered, no feature advice.
    #[test]
    fn handshake_failure_with_rsa_names_the_schemes_only() {
        let t = hint(&[S::EcdsaSecp256r1Sha256, S::RsaPssRsaeSha256]);
        assert!(t
            .as_str()
            .ends_with("(ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256)"));
    }
}
