//! `Connection::start`: the buffers come back with the error, and the PSK mode is the
//! connection's own.

use super::{ClientConfig, Connection, Error, PskMode, ResumptionOffer};
use crate::crypto::CipherSuite;

/// A fixed generator: these tests look at buffer ownership and ClientHello bytes, not at
/// randomness.
pub(super) struct Fixed;

impl rand_core::TryRng for Fixed {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(7)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(7)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        dst.fill(7);
        Ok(())
    }
}

impl rand_core::TryCryptoRng for Fixed {}

const TICKET: [u8; 192] = [0xAB; 192];
const PSK: [u8; 32] = [0x11; 32];

fn offer() -> ResumptionOffer<'static> {
    ResumptionOffer {
        ticket: &TICKET,
        psk: &PSK,
        suite: CipherSuite::Aes128GcmSha256,
        obfuscated_age: 1_000,
    }
}

/// The one mode of the psk_key_exchange_modes extension (type 0x002d, length 2, a list of
/// one) in the ClientHello queued in `tx`.
fn psk_mode_byte(tx: &[u8]) -> Option<u8> {
    tx.windows(6)
        .find(|w| w[..5] == [0x00, 0x2d, 0x00, 0x02, 0x01])
        .map(|w| w[5])
}

/// The mode given to `start` wins over the configuration's, both ways.
#[test]
fn psk_mode_is_the_connections() {
    for (configured, chosen, byte) in [
        (PskMode::DheOnly, PskMode::AllowPskOnly, 0),
        (PskMode::AllowPskOnly, PskMode::DheOnly, 1),
    ] {
        let config = ClientConfig {
            psk_mode: configured,
            ..ClientConfig::new(&[])
        };
        let mut rx = [0u8; 64];
        let mut tx = [0u8; 1024];
        let conn = Connection::start(
            &config,
            "server.example",
            Some(offer()),
            chosen,
            (&mut rx, &mut tx),
            Fixed,
            None,
        )
        .unwrap();
        assert_eq!(conn.psk_mode(), chosen);
        assert_eq!(psk_mode_byte(conn.pending_tx()), Some(byte));
    }
}

#[test]
fn refused_start_hands_the_buffers_back() {
    let config = ClientConfig::new(&[]);
    let mut rx = [0u8; 1024];
    let mut tx = [0u8; 300];
    let (rx_ptr, tx_ptr) = (rx.as_ptr(), tx.as_ptr());
    // A ClientHello carrying a 192-byte ticket does not fit 300 bytes.
    let refused = Connection::start(
        &config,
        "server.example",
        Some(offer()),
        PskMode::DheOnly,
        (&mut rx, &mut tx),
        Fixed,
        Some(1_800_000_000),
    )
    .unwrap_err();
    assert_eq!(refused.error, Error::BufferTooSmall);
    assert_eq!((refused.rx.len(), refused.tx.len()), (1024, 300));
    assert_eq!((refused.rx.as_ptr(), refused.tx.as_ptr()), (rx_ptr, tx_ptr));
    // The same buffers start a connection without the offer.
    let conn = Connection::start(
        &config,
        "server.example",
        None,
        PskMode::DheOnly,
        (refused.rx, refused.tx),
        Fixed,
        Some(1_800_000_000),
    )
    .unwrap();
    assert!(!conn.offered());
    assert_eq!(conn.pending_tx().first(), Some(&0x16));

    let empty = ClientConfig {
        cipher_suites: &[],
        ..ClientConfig::new(&[])
    };
    let (rx, tx) = conn.into_buffers();
    let refused = Connection::start(
        &empty,
        "server.example",
        None,
        PskMode::DheOnly,
        (rx, tx),
        Fixed,
        None,
    )
    .unwrap_err();
    assert_eq!(refused.error, Error::EmptyConfiguration);
    assert_eq!((refused.rx.len(), refused.tx.len()), (1024, 300));
}
