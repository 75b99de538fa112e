//! The buffer sizes a configuration needs, computed from the same emitters that write the
//! messages ([`crate::wire::handshake`]), so that the figures cannot drift from the code.

use super::state::{with_client_hello, HelloInputs};
use super::{ClientConfig, Error, PskMode, ResumptionOffer, PROTECTED_OVERHEAD};
use crate::crypto::{CipherSuite, NamedGroup, SignatureScheme, MAX_HASH_LEN};
use crate::wire::handshake::{ClientCertificate, ClientCertificateVerify, Finished, KeyUpdate};
use crate::wire::record::{ChangeCipherSpec, HEADER_LEN, MAX_PLAINTEXT};
use crate::wire::Alert;

/// Transmit and receive buffer sizes that a [`ClientConfig`] needs
/// ([`ClientConfig::buffer_sizes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BufferSizes {
    /// Transmit buffer: the largest of the first ClientHello (carrying a ticket of the given
    /// length, and the largest key share of the configured groups, as a second ClientHello
    /// may), the client's flight (change_cipher_spec in middlebox mode, the client
    /// certificate and its CertificateVerify when a signer is configured, Finished, in as many
    /// records as the server's fragment limit asks), a KeyUpdate and a close_notify. A
    /// HelloRetryRequest's cookie comes on top: a server chooses its length.
    pub tx: usize,
    /// Receive buffer: one whole protected record of the fragment length this configuration
    /// asks for (max_fragment_length or record_size_limit, 2^14 without either), plus the
    /// server's Certificate message, which stays in the buffer until its CertificateVerify
    /// has been checked. Application data is read out record by record.
    pub rx: usize,
}

/// The longest key_share value of a group (P-256's uncompressed point).
const MAX_SHARE_LEN: usize = 65;

impl ClientConfig<'_> {
    /// The buffer sizes connections of this configuration need, for `server_name`, offering
    /// tickets of up to `max_ticket_len` bytes (a session pool's ticket capacity), to servers
    /// whose Certificate message (its handshake header included) takes up to
    /// `server_certificate_len` bytes.
    ///
    /// [`Error::EmptyConfiguration`] when the configuration has nothing this build can offer;
    /// [`Error::BufferTooSmall`] when a ClientHello of these sizes cannot be encoded at all.
    ///
    /// ```
    /// use encore_tls::client::{BufferSizes, ClientConfig, MaxFragmentLength};
    ///
    /// let config = ClientConfig::new(&[]);
    /// // 256-byte tickets, a server chain of two P-256 certificates (about 1 KB).
    /// let sizes = config.buffer_sizes("server.example", 256, 1_100)?;
    /// assert_eq!(sizes.rx, 1_100 + 5 + 16_384 + 256);
    /// assert!(sizes.tx < 1_024);
    ///
    /// // Asking for 1 KiB records shrinks the receive buffer by 15 KiB.
    /// let small = ClientConfig {
    ///     max_fragment_length: Some(MaxFragmentLength::Bytes1024),
    ///     ..config
    /// };
    /// assert_eq!(small.buffer_sizes("server.example", 256, 1_100)?.rx, 1_100 + 5 + 1_024 + 256);
    /// # Ok::<(), encore_tls::Error>(())
    /// ```
    pub fn buffer_sizes(
        &self,
        server_name: &str,
        max_ticket_len: usize,
        server_certificate_len: usize,
    ) -> Result<BufferSizes, Error> {
        let mut suites: heapless::Vec<u16, 3> = heapless::Vec::new();
        for s in self.cipher_suites.iter().filter(|s| s.is_supported()) {
            if !suites.contains(&s.to_u16()) {
                let _ = suites.push(s.to_u16());
            }
        }
        let ticket_suite =
            longest_hash_suite(self.cipher_suites).ok_or(Error::EmptyConfiguration)?;
        let hash = ticket_suite.hash();
        let group = largest_group(self.groups).ok_or(Error::EmptyConfiguration)?;
        let zeros = [0u8; 32];
        // The ticket's bytes are counted apart: its length prefix is fixed, so a ClientHello
        // with an empty identity plus the ticket's length is the one with the ticket.
        let inputs = HelloInputs {
            config: self,
            psk_mode: PskMode::DheOnly,
            server_name,
            offer: Some(ResumptionOffer {
                ticket: &[],
                psk: &[],
                suite: ticket_suite,
                obfuscated_age: 0,
            }),
            random: &zeros,
            session_id: if self.middlebox_compat { &zeros } else { &[] },
            suites: &suites,
        };
        let share = [0u8; MAX_SHARE_LEN];
        let share_len = match group {
            NamedGroup::Secp256r1 => 65,
            NamedGroup::X25519 => 32,
        };
        let share = share.get(..share_len).unwrap_or(&[]);
        let hello = with_client_hello(&inputs, Some((group.to_u16(), share)), None, |h| {
            h.buffer_len()
        })??
        .checked_add(max_ticket_len)
        .ok_or(Error::BufferTooSmall)?;
        let hello_record = HEADER_LEN + hello;

        let fragment = self.fragment_limit();
        let mut flight = Finished {
            verify_data: &[0; MAX_HASH_LEN][..hash.output_len()],
        }
        .buffer_len();
        if let Some(signer) = self.client_auth {
            flight += ClientCertificate {
                chain: signer.certificate_chain(),
            }
            .buffer_len()?;
            flight += ClientCertificateVerify {
                scheme: signer.scheme().to_u16(),
                signature_len: max_signature_len(signer.scheme()),
            }
            .buffer_len();
        }
        let pieces = flight.div_ceil(fragment.max(1));
        let mut flight_records = flight + pieces * (HEADER_LEN + PROTECTED_OVERHEAD);
        if self.middlebox_compat {
            flight_records += ChangeCipherSpec.buffer_len();
        }
        let key_update = HEADER_LEN + KeyUpdate::LEN + PROTECTED_OVERHEAD;
        let close_notify = HEADER_LEN + Alert::LEN + PROTECTED_OVERHEAD;
        let tx = hello_record
            .max(flight_records)
            .max(key_update)
            .max(close_notify);
        let rx = server_certificate_len
            .saturating_add(HEADER_LEN)
            .saturating_add(fragment)
            .saturating_add(256);
        Ok(BufferSizes { tx, rx })
    }

    /// The fragment length this configuration asks the server to keep to.
    fn fragment_limit(&self) -> usize {
        let mut limit = MAX_PLAINTEXT;
        if let Some(m) = self.max_fragment_length {
            limit = limit.min(m.bytes());
        }
        if let Some(l) = self.record_size_limit {
            // The limit counts the inner content type (RFC 8449 §4).
            limit = limit.min(usize::from(l).saturating_sub(1));
        }
        limit
    }
}

/// A configured suite this build supports whose hash is the longest (its binder is the
/// longest a ticket can need).
fn longest_hash_suite(suites: &[CipherSuite]) -> Option<CipherSuite> {
    suites
        .iter()
        .copied()
        .filter(|s| s.is_supported())
        .max_by_key(|s| s.hash().output_len())
}

/// The configured group with the longest key share this build supports.
fn largest_group(groups: &[NamedGroup]) -> Option<NamedGroup> {
    let supported = || groups.iter().copied().filter(|g| g.is_supported());
    supported()
        .find(|g| *g == NamedGroup::Secp256r1)
        .or_else(|| supported().next())
}

/// The longest signature of `scheme` in its TLS encoding: DER for ECDSA (two integers of
/// the order's length, each with a possible leading zero, in a SEQUENCE), the modulus for
/// RSA (4096 bits at most).
fn max_signature_len(scheme: SignatureScheme) -> usize {
    match scheme {
        SignatureScheme::EcdsaSecp256r1Sha256 => 72,
        SignatureScheme::EcdsaSecp384r1Sha384 => 104,
        SignatureScheme::Ed25519 => 64,
        _ => 512,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::start_tests::Fixed;
    use crate::client::{Connection, MaxFragmentLength};

    /// The transmit size is exactly what the first ClientHello with the longest ticket
    /// takes: one byte less and the engine cannot start.
    #[test]
    fn tx_size_is_exactly_the_largest_first_client_hello() {
        let configs = [
            ClientConfig::new(&[]),
            ClientConfig {
                groups: &[NamedGroup::Secp256r1],
                middlebox_compat: true,
                alpn: &[b"mqtt", b"http/1.1"],
                max_fragment_length: Some(MaxFragmentLength::Bytes2048),
                ..ClientConfig::new(&[])
            },
        ];
        let ticket = [3u8; 700];
        let psk = [4u8; 48];
        for config in &configs {
            let sizes = config
                .buffer_sizes("server.example", ticket.len(), 0)
                .unwrap();
            // A ticket of the longest hash configured: the longest binder.
            let suite = longest_hash_suite(config.cipher_suites).unwrap();
            let offer = ResumptionOffer {
                ticket: &ticket,
                psk: &psk[..suite.hash().output_len()],
                suite,
                obfuscated_age: 1,
            };
            // The same groups with the largest share first, as a second ClientHello may
            // carry it.
            let mut groups: heapless::Vec<NamedGroup, 4> = heapless::Vec::new();
            let _ = groups.push(NamedGroup::Secp256r1);
            for g in config
                .groups
                .iter()
                .filter(|g| **g != NamedGroup::Secp256r1)
            {
                let _ = groups.push(*g);
            }
            let p256 = ClientConfig {
                groups: &groups,
                ..*config
            };
            let mut rx = [0u8; 64];
            let mut tx = [0u8; 2048];
            let conn = Connection::new(
                &p256,
                "server.example",
                Some(offer),
                &mut rx,
                &mut tx[..sizes.tx],
                Fixed,
                None,
            );
            assert!(conn.is_ok(), "{config:?}");
            drop(conn);
            let conn = Connection::new(
                &p256,
                "server.example",
                Some(offer),
                &mut rx,
                &mut tx[..sizes.tx - 1],
                Fixed,
                None,
            );
            assert_eq!(conn.err(), Some(Error::BufferTooSmall), "{config:?}");
        }
    }

    /// The receive size follows the fragment limit asked for.
    #[test]
    fn rx_size_follows_the_fragment_limit() {
        let base = ClientConfig::new(&[]);
        let rsl = ClientConfig {
            record_size_limit: Some(513),
            ..base
        };
        assert_eq!(
            base.buffer_sizes("a.example", 0, 1000).unwrap().rx,
            1000 + 5 + 16_384 + 256
        );
        assert_eq!(
            rsl.buffer_sizes("a.example", 0, 1000).unwrap().rx,
            1000 + 5 + 512 + 256
        );
        let none = ClientConfig {
            cipher_suites: &[],
            ..base
        };
        assert_eq!(
            none.buffer_sizes("a.example", 0, 0),
            Err(Error::EmptyConfiguration)
        );
    }
}
