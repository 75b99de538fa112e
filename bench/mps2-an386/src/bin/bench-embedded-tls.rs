//! embedded-tls 0.19 on the emulated Cortex-M4F, measured by `cargo xtask bench` beside Encore.
//!
//! Two handshakes over the same link and against the same openssl: a full one that checks the
//! server's chain with embedded-tls's own verifier (`rustpki`: chain signatures, validity, CN
//! or subjectAltName), and one with an external PSK (embedded-tls cannot resume a session; an
//! external PSK is its nearest equivalent). Exit status 0 when both completed, 1 otherwise.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use embedded_tls::pki::CertVerifier;
use embedded_tls::{
    Aes128GcmSha256, Certificate, CryptoProvider, TlsClock, TlsConfig, TlsConnection, TlsContext,
    TlsError, TlsVerifier, UnsecureProvider,
};
use encore_bench_mps2_an386::{counted, marker, report_handshake, Link, WireBytes, ROOT_DER};
use encore_bench_mps2_an386::{
    BENCH_SEED, PSK, PSK_IDENTITY, SERVER_CERT, SERVER_NAME, SERVER_PSK,
};
use encore_board_mps2::console::exit_passed;
use encore_board_mps2::{executor, println, stack, time, Board, EmulatorRng};

/// embedded-tls's read buffer: one whole record (16 KiB + 256).
const READ_LEN: usize = 16_640;
/// Its write buffer.
const WRITE_LEN: usize = 4_096;
/// Room the verifier keeps for the server's certificate chain.
const CERT_LEN: usize = 2_048;

/// EmulatorRng (rand_core 0.10) as the rand_core 0.6 generator embedded-tls takes.
struct Rng06(EmulatorRng);

impl rand_core_06::RngCore for Rng06 {
    fn next_u32(&mut self) -> u32 {
        rand_core::Rng::next_u32(&mut self.0)
    }

    fn next_u64(&mut self) -> u64 {
        rand_core::Rng::next_u64(&mut self.0)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand_core::Rng::fill_bytes(&mut self.0, dest)
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core_06::Error> {
        rand_core::Rng::fill_bytes(&mut self.0, dest);
        Ok(())
    }
}

impl rand_core_06::CryptoRng for Rng06 {}

/// The host's wall clock, for certificate validity.
struct HostClock;

impl TlsClock for HostClock {
    fn now() -> Option<u64> {
        time::unix_time().ok()
    }
}

/// Randomness and embedded-tls's own certificate verifier.
struct Verifying<'a> {
    rng: Rng06,
    verifier: CertVerifier<'a, Aes128GcmSha256, HostClock, CERT_LEN>,
}

impl CryptoProvider for Verifying<'_> {
    type CipherSuite = Aes128GcmSha256;
    type Signature = &'static [u8];

    fn rng(&mut self) -> impl embedded_tls::CryptoRngCore {
        &mut self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<Self::CipherSuite>, TlsError> {
        Ok(&mut self.verifier)
    }
}

/// One embedded-tls handshake with server `$server`: the link connected, then the TLS
/// connection in the buffers `($read, $write)` opened with config `$config` and provider
/// `$provider` between the handshake markers, then closed. Evaluates to the wire bytes and the
/// handshake's result. A macro rather than an `async fn`: the two handshakes have providers of
/// different types, and a function's future would keep its provider argument for the whole
/// call (the verifier's certificate buffer twice in the task) or build it on its own stack,
/// which would change the memory this image reports beside Encore's.
macro_rules! measured {
    ($link:ident, ($read:ident, $write:ident), $server:expr, $config:expr, $provider:expr) => {
        match $link.connect($server).await {
            Ok(()) => {
                let config = $config;
                let provider = $provider;
                let before = counted();
                encore_board_mps2::marker::marker(marker::HANDSHAKE_BEGIN);
                let mut tls = TlsConnection::new(&mut $link, &mut $read, &mut $write);
                let result = tls.open(TlsContext::new(&config, provider)).await;
                encore_board_mps2::marker::marker(marker::HANDSHAKE_END);
                let wire = counted().since(before);
                let _ = tls.close().await;
                (wire, result)
            }
            Err(_) => (WireBytes::default(), Err(TlsError::IoError)),
        }
    };
}

#[cortex_m_rt::entry]
fn main() -> ! {
    executor::boot(|_, board| app(board))
}

#[embassy_executor::task]
async fn app(board: Board) {
    // Painted first: everything below this frame is the handshakes' stack.
    stack::paint(stack::DEFAULT_WINDOW);
    let mut link = Link::new(board.uart);
    let mut read_buf = [0u8; READ_LEN];
    let mut write_buf = [0u8; WRITE_LEN];
    let mut all_ok = true;

    // Full handshake, verifying the chain.
    let outcome = measured!(
        link,
        (read_buf, write_buf),
        SERVER_CERT,
        TlsConfig::new().with_server_name(SERVER_NAME),
        Verifying {
            rng: Rng06(EmulatorRng::from_seed(BENCH_SEED)),
            verifier: CertVerifier::new(Certificate::X509(ROOT_DER)),
        }
    );
    all_ok &= finish(&mut link, "full-verify/aes128gcm", outcome).await;

    // External PSK (psk_dhe_ke with a P-256 key share), no certificate.
    let outcome = measured!(
        link,
        (read_buf, write_buf),
        SERVER_PSK,
        TlsConfig::new()
            .with_server_name(SERVER_NAME)
            .with_psk(&PSK, &[PSK_IDENTITY]),
        UnsecureProvider::new::<Aes128GcmSha256>(Rng06(EmulatorRng::from_seed(BENCH_SEED)))
    );
    all_ok &= finish(&mut link, "external-psk/aes128gcm", outcome).await;

    println!("stack peak: {} bytes", stack::peak().peak_bytes);
    exit_passed(all_ok)
}

async fn finish(
    link: &mut Link,
    name: &str,
    (wire, result): (WireBytes, Result<(), TlsError>),
) -> bool {
    let ok = result.is_ok();
    if let Err(e) = result {
        println!("embedded-tls {}: {:?}", name, e);
    }
    let _ = link.disconnect().await;
    report_handshake("embedded-tls", name, wire, ok);
    ok
}
