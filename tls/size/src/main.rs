//! Links every code path of the engine (full handshake with certificate verification,
//! resumption, HelloRetryRequest, tickets, KeyUpdate, application data, alerts) into one
//! image. The input comes through `black_box`, so nothing is optimised away; the image is
//! for `llvm-size`, not for running.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;
use core::hint::black_box;

use cortex_m_rt::entry;
use encore_tls::client::{ClientConfig, Connection, Event, ResumptionOffer};
use encore_tls::crypto::{self, CipherSuite};
use rustls_pki_types::{CertificateDer, TrustAnchor};

static INPUT: [u8; 64] = [0; 64];
static CA: [u8; 16] = [0; 16];

struct Rng(u32);

impl rand_core::TryRng for Rng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        Ok(black_box(self.0))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(u64::from(self.try_next_u32()?) << 32 | u64::from(self.try_next_u32()?))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for b in dst {
            *b = self.try_next_u32()? as u8;
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for Rng {}

#[cfg(feature = "crypto-only")]
fn crypto_only(anchors: &[TrustAnchor<'_>]) {
    use crypto::{
        HashAlg, KeyExchange, KeySchedule, NamedGroup, RecordProtection, SignatureScheme,
        Transcript,
    };
    let input = black_box(&INPUT[..]);
    let mut rng = Rng(black_box(3));
    let mut t = Transcript::new();
    t.update(input);
    let hash = if black_box(input[1] == 0) {
        HashAlg::Sha256
    } else {
        HashAlg::Sha384
    };
    black_box(t.hash_with(hash, input));
    t.select(hash);
    t.replace_with_message_hash(hash);
    let th = t.current_hash();
    for group in [NamedGroup::X25519, NamedGroup::Secp256r1] {
        if let Ok(kx) = KeyExchange::generate(group, &mut rng) {
            black_box(kx.public_key());
            if let Ok(s) = kx.agree(input) {
                let ks = KeySchedule::early(hash, Some(input)).into_handshake(Some(s.as_bytes()));
                black_box(ks.binder_key(true));
                let c = ks.client_handshake_traffic_secret(th.as_bytes());
                black_box(ks.server_handshake_traffic_secret(th.as_bytes()));
                let ms = ks.into_master();
                black_box(ms.client_application_traffic_secret_0(th.as_bytes()));
                black_box(ms.server_application_traffic_secret_0(th.as_bytes()));
                let rms = ms.resumption_master_secret(th.as_bytes());
                black_box(crypto::resumption_psk(hash, rms.as_bytes(), input));
                black_box(crypto::next_traffic_secret(hash, c.as_bytes()));
                black_box(crypto::finished_verify_data(
                    hash,
                    c.as_bytes(),
                    th.as_bytes(),
                ));
                for suite in CipherSuite::ALL {
                    if let Ok(mut rp) = RecordProtection::new(suite, c.as_bytes()) {
                        let mut buf = black_box([0u8; 64]);
                        if let Ok(tag) = rp.encrypt(&[23, 3, 3, 0, 64], &mut buf) {
                            black_box(rp.decrypt(&[23, 3, 3, 0, 64], &mut buf, &tag).is_ok());
                        }
                    }
                }
            }
        }
    }
    let certs: [&[u8]; 1] = [input];
    black_box(crypto::verify_server_chain(input, &certs, anchors, "device.example", 1).is_ok());
    for scheme in SignatureScheme::OFFERED {
        black_box(crypto::verify_certificate_verify(input, *scheme, th.as_bytes(), input).is_ok());
    }
    black_box(crypto::trust_fingerprint(anchors));
    loop {
        black_box(());
    }
}

#[entry]
fn main() -> ! {
    let ca = CertificateDer::from(black_box(&CA[..]));
    let anchor = crypto::anchor_from_der(&ca);
    let anchors: &[TrustAnchor<'_>] = match &anchor {
        Ok(a) => core::slice::from_ref(a),
        Err(_) => &[],
    };
    #[cfg(feature = "crypto-only")]
    crypto_only(anchors);
    #[cfg(feature = "client-auth")]
    let chain: [&[u8]; 1] = [black_box(&CA[..])];
    #[cfg(feature = "client-auth")]
    let signer = crypto::P256Signer::from_scalar(black_box(&INPUT[..32]), &chain);
    #[allow(unused_mut)]
    let mut config = ClientConfig::new(anchors);
    #[cfg(feature = "client-auth")]
    if let Ok(s) = &signer {
        config.client_auth = Some(s);
    }
    let psk = black_box([0u8; 32]);
    let offer = black_box(INPUT[0] == 1).then_some(ResumptionOffer {
        ticket: black_box(&INPUT[..]),
        psk: &psk,
        suite: CipherSuite::Aes128GcmSha256,
        obfuscated_age: black_box(3),
    });
    let mut rx = [0u8; 16 * 1024 + 325];
    let mut tx = [0u8; 2048];
    if let Ok(mut conn) = Connection::new(
        &config,
        "device.example",
        offer,
        &mut rx,
        &mut tx,
        Rng(black_box(7)),
        black_box(Some(1_700_000_000)),
    ) {
        loop {
            conn.feed(black_box(&INPUT[..]));
            loop {
                match conn.process() {
                    Ok(Some(Event::NewTicket(t))) => {
                        black_box(t.psk.as_bytes());
                    }
                    Ok(Some(Event::ApplicationData(d))) => {
                        black_box(d);
                    }
                    Ok(Some(e)) => {
                        black_box(&e);
                    }
                    Ok(None) | Err(_) => break,
                }
            }
            let _ = conn.write(black_box(&INPUT[..8]));
            if black_box(conn.is_failed()) {
                let _ = conn.close();
            }
            let n = conn.pending_tx().len();
            conn.tx_sent(black_box(n));
        }
    }
    loop {
        black_box(());
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        black_box(());
    }
}
