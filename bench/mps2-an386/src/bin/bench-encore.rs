//! Encore's handshakes on the emulated Cortex-M4F, measured by `cargo xtask bench`.
//!
//! For AES-128-GCM and then ChaCha20-Poly1305: a full handshake that verifies the server's
//! P-256 leaf and intermediate against the built-in root, then a resumption with psk_dhe_ke
//! and one with psk_ke, each offering a ticket taken from the session cache. Tickets go
//! through the same pool and cache an application uses. Each handshake sits between the
//! markers of [`encore_bench_mps2_an386::marker`] and is reported by one `handshake` line, and
//! by a `handshake-stack` line with the deepest stack it reached (painted before each
//! connection).
//!
//! Built with the package's `rsa` feature (encore-tls's RSA verification), the image meets
//! three servers instead, each with a full handshake that verifies its chain and a psk_dhe_ke
//! resumption, P-256 key exchange and AES-128-GCM: the P-256 chain, for the same handshakes
//! in this image; an RSA-2048 root, intermediate and leaf (RSA-PSS CertificateVerify); and a
//! P-256 leaf and intermediate under an RSA-4096 root. Their names carry the chain
//! (`full-verify-p256/aes128gcm@rsa2048-chain`).
//!
//! Exit status 0 when every handshake did what it should, 1 otherwise.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use embedded_io_async::{Read, Write};
use encore_bench_mps2_an386::{
    counted, marker, report_handshake, report_handshake_stack, uninterrupted, Link, WireBytes,
    ROOT_DER,
};
use encore_bench_mps2_an386::{BENCH_SEED, SERVER_CERT, SERVER_NAME};
#[cfg(feature = "rsa")]
use encore_bench_mps2_an386::{
    ROOT_RSA2048_DER, ROOT_RSA4096_DER, SERVER_RSA2048, SERVER_RSA4096_ROOT,
};
use encore_board_mps2::console::{exit, exit_code, exit_passed};
use encore_board_mps2::{executor, println, stack, time, Board, EmulatorRng};
use encore_cache::{CacheConfig, SessionCache};
use encore_client::glue::{load_record, new_session};
use encore_session::{ContextId, PeerId, Session, SessionPool};
use encore_tls::client::{
    ClientConfig, Connection, Event, HandshakeSummary, KeyExchangeMode, PskMode,
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
/// X25519 key share, P-256 also listed: the rows without a group suffix. Explicit, because
/// the default order puts P-256 first with the `p256-cm4` backend.
const X25519_FIRST: [NamedGroup; 2] = [NamedGroup::X25519, NamedGroup::Secp256r1];
/// The stack's name in the `handshake` lines: the image built with encore-tls's opt-in
/// `x25519-base-table` reports itself apart.
const STACK: &str = if cfg!(feature = "rsa") {
    "encore+rsa"
} else if cfg!(feature = "x25519-base-table") {
    "encore+x25519-table"
} else if cfg!(feature = "p256-cm4") {
    "encore"
} else {
    "encore+rustcrypto-p256"
};

static POOL: SessionPool<SLOTS, TICKET> = SessionPool::new();
static CACHE: SessionCache<'static, ENTRIES, SLOTS, TICKET> =
    SessionCache::new(&POOL, CONTEXT, CacheConfig::DEFAULT);

/// One whole protected record (16 KiB + 256) plus the server's Certificate message, kept
/// until CertificateVerify is checked.
const RX_LEN: usize = 16 * 1024 + 256 + 5 + 2048;
/// The ClientHello with a ticket, or the client's Finished and close_notify.
const TX_LEN: usize = 1024;

/// A server and the root its certificate chain ends at. `label` names the chain in the
/// handshake names of the image built with `rsa`.
struct Chain {
    server: u8,
    root: &'static [u8],
    label: Option<&'static str>,
}

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
    // Painted first: everything below this frame is the handshakes' stack.
    let mut watch = StackWatch::start();
    let mut link = Link::new(board.uart);
    let mut rx = [0u8; RX_LEN];
    let mut tx = [0u8; TX_LEN];
    let mut rng = EmulatorRng::from_seed(BENCH_SEED);
    let mut all_ok = true;

    #[cfg(not(feature = "rsa"))]
    let chains = [Chain {
        server: SERVER_CERT,
        root: ROOT_DER,
        label: None,
    }];
    #[cfg(feature = "rsa")]
    let chains = [
        Chain {
            server: SERVER_CERT,
            root: ROOT_DER,
            label: Some("p256-chain"),
        },
        Chain {
            server: SERVER_RSA2048,
            root: ROOT_RSA2048_DER,
            label: Some("rsa2048-chain"),
        },
        Chain {
            server: SERVER_RSA4096_ROOT,
            root: ROOT_RSA4096_DER,
            label: Some("rsa4096-root-chain"),
        },
    ];
    // The RSA image measures the chains only: AES-128-GCM and P-256, the defaults here.
    let suites: &[(CipherSuite, &str)] = if cfg!(feature = "rsa") {
        &[(CipherSuite::Aes128GcmSha256, "aes128gcm")]
    } else {
        &[
            (CipherSuite::Aes128GcmSha256, "aes128gcm"),
            (CipherSuite::Chacha20Poly1305Sha256, "chacha20poly1305"),
        ]
    };

    for chain in &chains {
        let root = CertificateDer::from(chain.root);
        let anchor = match encore_tls::crypto::anchor_from_der(&root) {
            Ok(anchor) => anchor,
            Err(_) => {
                println!("a built-in root certificate does not parse");
                exit(exit_code::FAILURE)
            }
        };
        let anchors = [anchor];
        for &(suite, name) in suites {
            // Each suite starts from an empty cache, so that every resumption offers a ticket
            // of its own suite (and of its own chain's server).
            CACHE.flush_all();
            let suites = [suite];
            let mut config = ClientConfig::new(&anchors);
            config.cipher_suites = &suites;
            // X25519 first, and for AES-128-GCM also P-256 alone: the key
            // exchange embedded-tls uses, for a like-for-like row.
            let runs: &[(&str, PskMode, &[NamedGroup], KeyExchangeMode, usize)] = &[
                (
                    "full-verify",
                    PskMode::DheOnly,
                    &X25519_FIRST,
                    KeyExchangeMode::Full,
                    2,
                ),
                (
                    "psk_dhe_ke",
                    PskMode::DheOnly,
                    &X25519_FIRST,
                    KeyExchangeMode::PskDhe,
                    1,
                ),
                (
                    "psk_ke",
                    PskMode::AllowPskOnly,
                    &X25519_FIRST,
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
            let runs = if chain.label.is_some() {
                &runs[3..]
            } else if suite == CipherSuite::Aes128GcmSha256 {
                runs
            } else {
                &runs[..3]
            };
            for &(kind, mode, groups, expected, tickets) in runs {
                config.psk_mode = mode;
                config.groups = groups;
                let mut full_name = heapless_name::Name::new();
                full_name.push(kind);
                full_name.push("/");
                full_name.push(name);
                if let Some(label) = chain.label {
                    full_name.push("@");
                    full_name.push(label);
                }
                let result = one_handshake(
                    &mut link,
                    chain.server,
                    &config,
                    (&mut rx, &mut tx),
                    &mut rng,
                    &mut watch,
                    expected,
                    tickets,
                )
                .await;
                let (wire, stack_bytes, ok) = match result {
                    Ok((wire, stack_bytes)) => (wire, Some(stack_bytes), true),
                    Err((wire, why)) => {
                        println!("encore {}: {:?}", full_name.as_str(), why);
                        (wire, None, false)
                    }
                };
                all_ok &= ok;
                report_handshake(STACK, full_name.as_str(), wire, ok);
                if let Some(bytes) = stack_bytes {
                    report_handshake_stack(full_name.as_str(), bytes);
                }
            }
        }
    }
    println!("stack peak: {} bytes", watch.deepest());
    println!(
        "sizes entry {} index {} slot {}",
        encore_cache::ENTRY_SIZE,
        encore_cache::INDEX_SIZE,
        encore_session::slot_size::<TICKET>()
    );
    exit_passed(all_ok)
}

/// The deepest stack of the whole run, and of each handshake: the window is painted again
/// before each connection, and what the previous stretch reached is kept first.
struct StackWatch {
    deepest: usize,
}

impl StackWatch {
    fn start() -> Self {
        stack::paint(stack::DEFAULT_WINDOW);
        StackWatch { deepest: 0 }
    }

    /// The deepest stack since the last paint, also kept for the whole run.
    fn read(&mut self) -> usize {
        let peak = stack::peak().peak_bytes;
        self.deepest = self.deepest.max(peak);
        peak
    }

    fn repaint(&mut self) {
        self.read();
        stack::paint(stack::DEFAULT_WINDOW);
    }

    fn deepest(&mut self) -> usize {
        self.read();
        self.deepest
    }
}

/// Prepares the engine in `slot`, takes a ticket from the cache unless `expected` is a full
/// handshake (inside the claim, the record's ticket and PSK go straight into the engine, as
/// `encore_client::Connection` does) and starts the engine: the ClientHello is queued.
///
/// Never inlined: its frame (the engine's preparation, the claim) is gone before the
/// handshake runs, as it is under `encore_client::Connection::connect`.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn start_engine<'a>(
    slot: &mut Option<Connection<'a, &'a mut EmulatorRng, TICKET>>,
    config: &'a ClientConfig<'a>,
    buffers: (&'a mut [u8], &'a mut [u8]),
    rng: &'a mut EmulatorRng,
    now_ms: u64,
    now_unix: Option<u64>,
    peer: &PeerId,
    expected: KeyExchangeMode,
) -> Result<Option<Session<'static, SLOTS, TICKET>>, Failure> {
    let mut prepared = uninterrupted(|| {
        Connection::prepare_in(
            slot,
            config,
            SERVER_NAME,
            config.psk_mode,
            buffers,
            rng,
            now_unix,
        )
    })
    .map_err(|r| Failure::Tls(r.error))?;
    let taken = if expected == KeyExchangeMode::Full {
        None
    } else {
        let wanted: &[u16] = &[config.cipher_suites[0].to_u16()];
        let taken = uninterrupted(|| {
            CACHE.take_with(peer, now_ms, wanted, |record, claim| {
                load_record(&mut prepared, record, claim)
            })
        });
        match taken {
            Some((session, _, true)) => Some(session),
            _ => return Err(Failure::NoTicket),
        }
    };
    uninterrupted(|| prepared.start()).map_err(|r| Failure::Tls(r.error))?;
    Ok(taken)
}

/// One connection to server `server`: handshake (measured), then the tickets it brings, then
/// close. Returns the wire bytes and the deepest stack of the handshake.
#[allow(clippy::too_many_arguments)]
async fn one_handshake(
    link: &mut Link,
    server: u8,
    config: &ClientConfig<'_>,
    (rx, tx): (&mut [u8], &mut [u8]),
    rng: &mut EmulatorRng,
    watch: &mut StackWatch,
    expected: KeyExchangeMode,
    tickets: usize,
) -> Result<(WireBytes, usize), (WireBytes, Failure)> {
    watch.repaint();
    link.connect(server)
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
    let mut slot = None;
    let _taken = start_engine(
        &mut slot,
        config,
        (rx, tx),
        rng,
        now_ms,
        now_unix,
        &peer,
        expected,
    )
    .map_err(|f| fail(link, f))?;
    let conn: &mut Connection<'_, _, TICKET> = slot.as_mut().ok_or(fail(link, Failure::Link))?;
    let summary = drive_handshake(conn, link)
        .await
        .map_err(|f| fail(link, f))?;
    encore_board_mps2::marker::marker(marker::HANDSHAKE_END);
    let wire = counted().since(before);
    let handshake_stack = watch.read();

    if summary.kex != expected || summary.resumed == (expected == KeyExchangeMode::Full) {
        return Err((wire, Failure::WrongOutcome));
    }
    // The tickets this connection brings, into the cache for the next ones.
    let mut got = 0;
    while got < tickets {
        match conn.process() {
            Ok(Some(Event::NewTicket(t))) => {
                let received_ms = embassy_time::Instant::now().as_millis();
                let new = new_session(&t, peer, CONTEXT, received_ms, now_unix, 0);
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
    let _ = send_pending(conn, link).await;
    drop(slot);
    link.disconnect().await.map_err(|_| (wire, Failure::Link))?;
    Ok((wire, handshake_stack))
}

async fn send_pending<R: rand_core::CryptoRng>(
    conn: &mut Connection<'_, R, TICKET>,
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
    conn: &mut Connection<'_, R, TICKET>,
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
        buf: [u8; 64],
        len: usize,
    }

    impl Name {
        pub fn new() -> Self {
            Name {
                buf: [0; 64],
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
