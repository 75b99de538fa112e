//! Encore's handshakes on the emulated Cortex-M4F, measured by `cargo xtask bench`.
//!
//! For AES-128-GCM and then ChaCha20-Poly1305: a full handshake that verifies the server's
//! P-256 leaf and intermediate against the built-in root, then a resumption with psk_dhe_ke
//! and one with psk_ke, each offering a ticket taken from the session cache. Tickets go
//! through the same pool and cache an application uses. Each handshake sits between the
//! markers of [`encore_bench_mps2_an386::marker`] and is reported by one `handshake` line.
//! Exit status 0 when every handshake did what it should, 1 otherwise.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use embedded_io_async::{Read, Write};
use encore_bench_mps2_an386::{
    counted, marker, report_handshake, uninterrupted, Link, WireBytes, ROOT_DER,
};
use encore_bench_mps2_an386::{BENCH_SEED, SERVER_CERT, SERVER_NAME};
use encore_board_mps2::console::{exit, exit_code};
use encore_board_mps2::{executor, println, stack, time, Board, EmulatorRng};
use encore_cache::{CacheConfig, SessionCache};
use encore_session::{ContextId, NewSession, PeerId, SessionPool, MAX_PSK_LEN, TLS13};
use encore_tls::client::{
    ClientConfig, Connection, Event, HandshakeSummary, KeyExchangeMode, PskMode, ResumptionOffer,
};
use encore_tls::crypto::{CipherSuite, NamedGroup};
use rustls_pki_types::CertificateDer;

/// Cache entries (the default per-peer limit), and pool slots: one more, for the ticket that
/// arrives while the cache is full and evicts an entry.
const ENTRIES: usize = 4;
const SLOTS: usize = ENTRIES + 1;
/// Ticket bytes per slot (OpenSSL's tickets are 192 bytes).
const TICKET: usize = 256;
const CONTEXT: ContextId = ContextId(1);
const P256_ONLY: [NamedGroup; 1] = [NamedGroup::Secp256r1];
/// The stack's name in the `handshake` lines: the image built with encore-tls's opt-in
/// `x25519-base-table` reports itself apart.
const STACK: &str = if cfg!(feature = "x25519-base-table") {
    "encore+x25519-table"
} else {
    "encore"
};

static POOL: SessionPool<SLOTS, TICKET> = SessionPool::new();
static CACHE: SessionCache<'static, ENTRIES, SLOTS, TICKET> =
    SessionCache::new(&POOL, CONTEXT, CacheConfig::DEFAULT);

/// One whole protected record (16 KiB + 256) plus the server's Certificate message, kept
/// until CertificateVerify is checked.
const RX_LEN: usize = 16 * 1024 + 256 + 5 + 2048;
/// The ClientHello with a ticket, or the client's Finished and close_notify.
const TX_LEN: usize = 1024;

/// Why a connection failed; printed with `{:?}`.
#[derive(Debug, Clone, Copy)]
#[allow(dead_code)] // the fields are read through Debug only
enum Failure {
    Link,
    Tls(encore_tls::client::Error),
    Eof,
    NoTicket,
    WrongOutcome,
}

#[cortex_m_rt::entry]
fn main() -> ! {
    executor::boot(|_, board| app(board))
}

#[embassy_executor::task]
async fn app(board: Board) {
    let mut link = Link::new(board.uart);
    let mut rx = [0u8; RX_LEN];
    let mut tx = [0u8; TX_LEN];
    let root = CertificateDer::from(ROOT_DER);
    let anchor = match encore_tls::crypto::anchor_from_der(&root) {
        Ok(anchor) => anchor,
        Err(_) => {
            println!("the built-in root certificate does not parse");
            exit(exit_code::FAILURE)
        }
    };
    let anchors = [anchor];
    let mut rng = EmulatorRng::from_seed(BENCH_SEED);
    let mut all_ok = true;

    stack::paint(stack::DEFAULT_WINDOW);
    for (suite, name) in [
        (CipherSuite::Aes128GcmSha256, "aes128gcm"),
        (CipherSuite::Chacha20Poly1305Sha256, "chacha20poly1305"),
    ] {
        // Each suite starts from an empty cache, so that every resumption offers a ticket of
        // its own suite.
        CACHE.flush_all();
        let suites = [suite];
        let mut config = ClientConfig::new(&anchors);
        config.cipher_suites = &suites;
        // X25519 first (the default), and for AES-128-GCM also P-256 alone: the key
        // exchange embedded-tls uses, for a like-for-like row.
        let runs: &[(&str, PskMode, &[NamedGroup], KeyExchangeMode, usize)] = &[
            (
                "full-verify",
                PskMode::DheOnly,
                &NamedGroup::ALL,
                KeyExchangeMode::Full,
                2,
            ),
            (
                "psk_dhe_ke",
                PskMode::DheOnly,
                &NamedGroup::ALL,
                KeyExchangeMode::PskDhe,
                1,
            ),
            (
                "psk_ke",
                PskMode::AllowPskOnly,
                &NamedGroup::ALL,
                KeyExchangeMode::Psk,
                1,
            ),
            (
                "full-verify-p256",
                PskMode::DheOnly,
                &P256_ONLY,
                KeyExchangeMode::Full,
                2,
            ),
            (
                "psk_dhe_ke-p256",
                PskMode::DheOnly,
                &P256_ONLY,
                KeyExchangeMode::PskDhe,
                1,
            ),
        ];
        let runs = if suite == CipherSuite::Aes128GcmSha256 {
            runs
        } else {
            &runs[..3]
        };
        for &(kind, mode, groups, expected, tickets) in runs {
            config.psk_mode = mode;
            config.groups = groups;
            let result = one_handshake(
                &mut link, &config, &mut rx, &mut tx, &mut rng, expected, tickets,
            )
            .await;
            let (wire, ok) = match result {
                Ok(wire) => (wire, true),
                Err((wire, why)) => {
                    println!("encore {} {}: {:?}", kind, name, why);
                    (wire, false)
                }
            };
            all_ok &= ok;
            let mut full_name = heapless_name::Name::new();
            full_name.push(kind);
            full_name.push("/");
            full_name.push(name);
            report_handshake(STACK, full_name.as_str(), wire, ok);
        }
    }
    println!("stack peak: {} bytes", stack::peak().peak_bytes);
    println!(
        "sizes entry {} index {} slot {}",
        encore_cache::ENTRY_SIZE,
        encore_cache::INDEX_SIZE,
        encore_session::slot_size::<TICKET>()
    );
    exit(if all_ok {
        exit_code::SUCCESS
    } else {
        exit_code::FAILURE
    })
}

/// One connection: handshake (measured), then the tickets it brings, then close.
async fn one_handshake(
    link: &mut Link,
    config: &ClientConfig<'_>,
    rx: &mut [u8],
    tx: &mut [u8],
    rng: &mut EmulatorRng,
    expected: KeyExchangeMode,
    tickets: usize,
) -> Result<WireBytes, (WireBytes, Failure)> {
    link.connect(SERVER_CERT)
        .await
        .map_err(|_| (WireBytes::default(), Failure::Link))?;
    let before = counted();
    let fail = |_: &Link, f: Failure| (counted().since(before), f);

    let now_ms = embassy_time::Instant::now().as_millis();
    let now_unix = time::unix_time().ok();
    // The peer identity is the context's, computed once per configuration in an application.
    let peer_fingerprint = encore_tls::crypto::trust_fingerprint(config.trust_anchors);
    let peer = PeerId::new(SERVER_NAME, &[], &peer_fingerprint);
    encore_board_mps2::marker::marker(marker::HANDSHAKE_BEGIN);
    let mut ticket = [0u8; TICKET];
    let mut psk = [0u8; MAX_PSK_LEN];
    let offered = if expected == KeyExchangeMode::Full {
        None
    } else {
        let wanted: &[u16] = &[config.cipher_suites[0].to_u16()];
        let taken = uninterrupted(|| {
            let session = CACHE.take(&peer, now_ms, wanted)?;
            let info = session.info().ok()?;
            let ticket_len = session.copy_ticket(&mut ticket).ok()?;
            let psk_len = session.copy_psk(&mut psk).ok()?;
            Some((info, ticket_len, psk_len))
        });
        let (info, ticket_len, psk_len) = taken.ok_or(fail(link, Failure::NoTicket))?;
        let suite =
            CipherSuite::from_u16(info.cipher_suite).ok_or(fail(link, Failure::NoTicket))?;
        let age = now_ms.saturating_sub(info.received_ms.max(0) as u64);
        Some(ResumptionOffer {
            ticket: &ticket[..ticket_len],
            psk: &psk[..psk_len],
            suite,
            age_add: info.age_add,
            ticket_age_ms: age as u32,
        })
    };
    let mut conn = uninterrupted(|| {
        Connection::new(config, SERVER_NAME, offered, rx, tx, &mut *rng, now_unix)
    })
    .map_err(|e| fail(link, Failure::Tls(e)))?;
    let summary = drive_handshake(&mut conn, link)
        .await
        .map_err(|f| fail(link, f))?;
    encore_board_mps2::marker::marker(marker::HANDSHAKE_END);
    let wire = counted().since(before);

    if summary.kex != expected || summary.resumed == (expected == KeyExchangeMode::Full) {
        return Err((wire, Failure::WrongOutcome));
    }
    // The tickets this connection brings, into the cache for the next ones.
    let mut got = 0;
    while got < tickets {
        match conn.process() {
            Ok(Some(Event::NewTicket(t))) => {
                let received_ms = embassy_time::Instant::now().as_millis();
                let new = NewSession {
                    version: TLS13,
                    cipher_suite: t.suite.to_u16(),
                    psk: t.psk.as_bytes(),
                    ticket: t.ticket,
                    lifetime_s: t.lifetime_s,
                    age_add: t.age_add,
                    max_early_data: t.max_early_data,
                    received_ms,
                    received_unix: now_unix,
                    auth_age_ms: 0,
                    peer,
                    owner: CONTEXT,
                };
                if CACHE.new_session(&new, received_ms).is_ok() {
                    got += 1;
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                let space = conn.rx_space();
                match link.read(space).await {
                    Ok(0) | Err(_) => return Err((wire, Failure::Eof)),
                    Ok(n) => conn.rx_filled(n),
                }
            }
            Err(e) => return Err((wire, Failure::Tls(e))),
        }
    }
    let _ = conn.close();
    let _ = send_pending(&mut conn, link).await;
    drop(conn);
    link.disconnect().await.map_err(|_| (wire, Failure::Link))?;
    Ok(wire)
}

async fn send_pending<R: rand_core::CryptoRng>(
    conn: &mut Connection<'_, R>,
    link: &mut Link,
) -> Result<(), Failure> {
    while !conn.pending_tx().is_empty() {
        let n = link
            .write(conn.pending_tx())
            .await
            .map_err(|_| Failure::Link)?;
        conn.tx_sent(n);
    }
    link.flush().await.map_err(|_| Failure::Link)
}

/// What one call of the engine's `process` asked for.
enum Step {
    Complete(HandshakeSummary),
    Event,
    NeedData,
}

/// Moves bytes until the engine reports the handshake complete and its last flight is sent.
async fn drive_handshake<R: rand_core::CryptoRng>(
    conn: &mut Connection<'_, R>,
    link: &mut Link,
) -> Result<HandshakeSummary, Failure> {
    loop {
        send_pending(conn, link).await?;
        let step = uninterrupted(|| match conn.process() {
            Ok(Some(Event::HandshakeComplete(summary))) => Ok(Step::Complete(summary)),
            Ok(Some(_)) => Ok(Step::Event),
            Ok(None) => Ok(Step::NeedData),
            Err(e) => Err(Failure::Tls(e)),
        })?;
        let done = match step {
            Step::Complete(summary) => Some(summary),
            Step::Event => None,
            Step::NeedData => {
                let n = link
                    .read(conn.rx_space())
                    .await
                    .map_err(|_| Failure::Link)?;
                if n == 0 {
                    return Err(Failure::Eof);
                }
                conn.rx_filled(n);
                None
            }
        };
        if let Some(summary) = done {
            send_pending(conn, link).await?;
            return Ok(summary);
        }
    }
}

/// A short label built without a heap.
mod heapless_name {
    pub struct Name {
        buf: [u8; 48],
        len: usize,
    }

    impl Name {
        pub fn new() -> Self {
            Name {
                buf: [0; 48],
                len: 0,
            }
        }

        pub fn push(&mut self, s: &str) {
            for &b in s.as_bytes() {
                if let Some(slot) = self.buf.get_mut(self.len) {
                    *slot = b;
                    self.len += 1;
                }
            }
        }

        pub fn as_str(&self) -> &str {
            core::str::from_utf8(self.buf.get(..self.len).unwrap_or(&[])).unwrap_or("")
        }
    }
}
