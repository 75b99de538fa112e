//! Set-up the client's test binaries share (`mod support;`): the name the test PKI certifies,
//! trust anchors and contexts over leaked (`'static`) memory, connections over TCP to
//! 127.0.0.1, and the steps most tests take on a connection.
// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Poll, Waker};
use std::time::Duration;

use embedded_io_async::Read;
use encore_client::{
    block_on, CacheConfig, ClientConfig, Clock, Connection, Context, ContextId, OsRng, Session,
    SessionPool, StdTransport, Stream,
};
use encore_testkit::scripted::tcp::Identity;
use encore_testkit::scripted::ServerHelloSpec;
use encore_testkit::{RustlsServer, TestPki};
use rand_core::{TryCryptoRng, TryRng};
use rustls_pki_types::{CertificateDer, TrustAnchor};

/// The server name the test PKI's leaves are made for.
pub const NAME: &str = "server.encore.test";
/// Read timeout of the client's socket, and how long a test waits for a server's report.
pub const WAIT: Duration = Duration::from_secs(5);
/// Receive buffer of a connection: a whole 16 KiB record and its protection.
pub const RX: usize = 17 * 1024;
/// Transmit buffer of a connection.
pub const TX: usize = 8 * 1024;
/// The context id of [`context`].
pub const CONTEXT_ID: ContextId = ContextId(7);

/// A ServerHello of the scripted server for a full handshake: TLS_AES_128_GCM_SHA256, an X25519
/// key share, no PSK.
pub const FULL_HELLO: ServerHelloSpec = ServerHelloSpec {
    suite: 0x1301,
    key_share: true,
    psk_identity: None,
};

/// The P-256 leaf of `pki`, its intermediate and its key, for a scripted server's thread.
pub fn identity(pki: &TestPki) -> Identity {
    (
        pki.leaf.cert_der.clone(),
        pki.int_der.clone(),
        pki.leaf.key_der.clone(),
    )
}

pub fn leak<T>(v: T) -> &'static T {
    Box::leak(Box::new(v))
}

/// Trust anchors made of the root certificate `ca_der`.
pub fn anchors(ca_der: &[u8]) -> &'static [TrustAnchor<'static>] {
    let der: &'static CertificateDer<'static> = leak(CertificateDer::from(ca_der.to_vec()));
    let anchor = encore_tls::crypto::anchor_from_der(der).unwrap();
    Box::leak(vec![anchor].into_boxed_slice())
}

/// A context ([`CONTEXT_ID`]) over a pool of its own that trusts `ca_der`, with `tweak`
/// applied to its TLS configuration.
pub fn context<C: Clock, G: TryCryptoRng, const N: usize, const P: usize, const T: usize>(
    ca_der: &[u8],
    cache: CacheConfig,
    clock: C,
    rng: G,
    tweak: impl FnOnce(&mut ClientConfig<'static>),
) -> Context<'static, C, G, N, P, T> {
    let pool: &'static SessionPool<P, T> = leak(SessionPool::new());
    let mut tls = ClientConfig::new(anchors(ca_der));
    tweak(&mut tls);
    Context::new(CONTEXT_ID, tls, pool, cache, clock, rng)
}

/// A receive and a transmit buffer of `rx` and `tx` bytes, lent to a connection for good.
pub fn buffers(rx: usize, tx: usize) -> (&'static mut [u8], &'static mut [u8]) {
    (
        Box::leak(vec![0u8; rx].into_boxed_slice()),
        Box::leak(vec![0u8; tx].into_boxed_slice()),
    )
}

/// A TCP connection to 127.0.0.1:`port` with a [`WAIT`] read timeout.
pub fn transport(port: u16) -> StdTransport {
    let t = StdTransport::connect(("127.0.0.1", port)).unwrap();
    t.0.set_read_timeout(Some(WAIT)).unwrap();
    t
}

/// A connection of `ctx` to `name` over `io`, with buffers of [`RX`] and [`TX`] bytes.
pub fn connection<'c, S, C, G, const N: usize, const P: usize, const T: usize>(
    ctx: &'c Context<'static, C, G, N, P, T>,
    name: &'c str,
    io: S,
) -> Connection<'c, 'static, S, C, G, N, P, T>
where
    S: Stream,
    C: Clock,
    G: TryCryptoRng,
{
    let (rx, tx) = buffers(RX, TX);
    Connection::new(ctx, name, io, rx, tx)
}

/// Writes `msg` and reads until as many bytes came back (from a server that echoes).
pub fn round_trip<S, C, G, const N: usize, const P: usize, const T: usize>(
    c: &mut Connection<'_, 'static, S, C, G, N, P, T>,
    msg: &[u8],
) -> Vec<u8>
where
    S: Stream,
    C: Clock,
    G: TryCryptoRng,
{
    block_on(c.write(msg)).unwrap();
    let mut got = vec![0u8; msg.len()];
    if let Err(e) = block_on(Read::read_exact(c, &mut got)) {
        panic!("reading the echo: {e:?} {:?}", c.stats());
    }
    got
}

/// The ticket of `s`.
pub fn ticket_of<const P: usize, const T: usize>(s: &Session<'_, P, T>) -> Vec<u8> {
    let mut ticket = [0u8; T];
    let n = s.copy_ticket(&mut ticket).unwrap();
    ticket[..n].to_vec()
}

/// The resumption PSK of `s`.
pub fn psk_of<const P: usize, const T: usize>(s: &Session<'_, P, T>) -> Vec<u8> {
    let mut psk = [0u8; 48];
    let n = s.copy_psk(&mut psk).unwrap();
    psk[..n].to_vec()
}

/// Whether each of the first `n` connections the rustls server finished resumed, as the
/// server itself saw it.
pub fn resumed_flags(server: &RustlsServer, n: usize) -> Vec<bool> {
    let records = server.wait_connections(n, WAIT);
    records.iter().map(|c| c.resumed).collect()
}

/// Polls `fut` once, with a waker that does nothing.
pub fn poll_once<F: Future>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut std::task::Context::from_waker(Waker::noop()))
}

/// The operating system's generator until the test switches it off (`true`), then a generator
/// whose every draw fails: a context's generator that breaks mid-way.
pub struct SwitchedRng(pub &'static AtomicBool);

impl SwitchedRng {
    /// The operating system's generator while switched on.
    fn os(&self) -> std::io::Result<OsRng> {
        if self.0.load(Ordering::SeqCst) {
            Err(std::io::Error::other("generator switched off"))
        } else {
            Ok(OsRng)
        }
    }
}

impl TryRng for SwitchedRng {
    type Error = std::io::Error;

    fn try_next_u32(&mut self) -> std::io::Result<u32> {
        self.os()?.try_next_u32()
    }

    fn try_next_u64(&mut self) -> std::io::Result<u64> {
        self.os()?.try_next_u64()
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> std::io::Result<()> {
        self.os()?.try_fill_bytes(dst)
    }
}

impl TryCryptoRng for SwitchedRng {}
