//! Arbitrary bytes fed to a started engine (ClientHello sent, with and without a resumption
//! offer), in chunks whose sizes come from the input: the engine waits, yields events or
//! fails with an error and an alert; it never panics (E4). Random bytes do not get past the
//! ServerHello's key schedule: `keyed` is the target for everything after it.

use encore_tls::client::{ClientConfig, Connection, ResumptionOffer};
use encore_tls::crypto::CipherSuite;

use crate::keyed::rng::SeededRng;

/// One input of the `engine` target.
pub fn run(data: &[u8]) {
    let Some((&flags, input)) = data.split_first() else {
        return;
    };
    let config = ClientConfig::new(&[]);
    let psk = [7u8; 32];
    let offer = (flags & 1 == 1).then_some(ResumptionOffer {
        ticket: b"ticket",
        psk: &psk,
        suite: CipherSuite::Aes128GcmSha256,
        obfuscated_age: 3,
    });
    let mut rx = [0u8; 4096];
    let mut tx = [0u8; 2048];
    let Ok(mut conn) = Connection::new(
        &config,
        "fuzz.example",
        offer,
        &mut rx,
        &mut tx,
        // Seeded by the input, so that a run replays.
        SeededRng::new(u64::from(flags)),
        Some(1_700_000_000),
    ) else {
        return;
    };
    let n = conn.pending_tx().len();
    conn.tx_sent(n);
    let chunk = usize::from(flags >> 1).max(1);
    for piece in input.chunks(chunk) {
        conn.feed(piece);
        loop {
            match conn.process() {
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(_) => {
                    assert!(conn.is_failed());
                    return;
                }
            }
        }
        let n = conn.pending_tx().len();
        conn.tx_sent(n);
    }
}
