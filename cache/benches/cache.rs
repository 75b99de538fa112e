//! Session cache micro-benchmarks: `SessionCache` beside rustls's `ClientSessionMemoryCache`
//! doing the same work, at capacities 8, 64 and 256 (one ticket per server name).
//!
//! | operation | `SessionCache` | `ClientSessionMemoryCache` (`ClientSessionStore`) |
//! |---|---|---|
//! | lookup | `lookup` (a new reference to the peer's newest record), then release it | `kx_hint`: rustls has no non-consuming ticket lookup; this is the per-server lookup its client makes on every connect |
//! | take | `take` (moves the ticket out, marks it used, C36) | `take_tls13_ticket` |
//! | insert | `new_session`: a record made from a NewSessionTicket and cached, into a cache with room | `insert_tls13_ticket`, into a cache with room |
//! | evict | `new_session` for a new peer into a full cache (the least recently touched entry goes, C20) | `insert_tls13_ticket` for a new server into a full cache |
//!
//! Each measured batch does one operation per entry (N operations at capacity N); the cache is
//! refilled or emptied between batches outside the timed part. rustls's capacity is given as
//! 8·N, the ticket count that makes it keep N servers (it keeps up to 8 tickets per server).
//! rustls's ticket values cannot be built outside a handshake, so the benchmark records real
//! ones from an in-memory rustls handshake that issues many tickets.
//!
//! Before criterion runs, the binary prints the allocations per operation of each workload,
//! counted by the global allocator below, as lines `allocs <cache> <operation> <capacity>
//! <allocations per operation>`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion};
use encore_cache::{CacheConfig, SessionCache};
use encore_session::{ContextId, NewSession, PeerId, Session, SessionPool, TLS13};
use rustls::client::{
    ClientSessionMemoryCache, ClientSessionStore, Resumption, Tls13ClientSessionValue,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConnection, Connection, NamedGroup, ServerConnection};

/// Counts every allocation, so that a workload's allocations per operation can be reported.
struct CountingAlloc;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call unchanged to the system allocator; only a counter is added.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, i.e. from the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `alloc`; `ptr` came from the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// The timed part of a batch: its duration and the allocations made inside it.
#[derive(Clone, Copy, Default)]
struct Measured {
    time: Duration,
    allocs: u64,
}

struct Stopwatch {
    start: Instant,
    allocs: u64,
}

impl Stopwatch {
    fn start() -> Self {
        let allocs = allocations();
        Stopwatch {
            start: Instant::now(),
            allocs,
        }
    }

    fn stop(self) -> Measured {
        let time = self.start.elapsed();
        Measured {
            time,
            allocs: allocations() - self.allocs,
        }
    }
}

const TICKET: [u8; 192] = [0x5a; 192];
const PSK: [u8; 32] = [0x11; 32];
const NOW_MS: u64 = 1_000;
const CONTEXT: ContextId = ContextId(7);
const TRUST: [u8; 16] = [1; 16];
/// Batches timed to size the allocation report.
const ALLOC_ROUNDS: usize = 16;

fn names(count: usize, offset: usize) -> Vec<String> {
    (offset..offset + count)
        .map(|i| format!("server-{i}.example"))
        .collect()
}

/// One workload as a batch of `capacity` operations returning its timed part.
trait Batches {
    fn lookup_batch(&mut self) -> Measured;
    fn take_batch(&mut self) -> Measured;
    fn insert_batch(&mut self) -> Measured;
    fn evict_batch(&mut self) -> Measured;

    fn batch(&mut self, op: &str) -> Measured {
        match op {
            "lookup" => self.lookup_batch(),
            "take" => self.take_batch(),
            "insert" => self.insert_batch(),
            _ => self.evict_batch(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Encore

/// A distinct ticket per peer: tickets with equal bytes replace each other (C17).
fn ticket_for(index: usize) -> [u8; 192] {
    let mut t = TICKET;
    t[..8].copy_from_slice(&(index as u64).to_be_bytes());
    t
}

/// What every benchmark record has in common: a NewSessionTicket of a TLS_AES_128_GCM_SHA256
/// session received at 0 with a lifetime of 2 h.
const RECORD: NewSession<'static> = NewSession {
    version: TLS13,
    cipher_suite: 0x1301,
    psk: &PSK,
    ticket: &TICKET,
    lifetime_s: 7200,
    age_add: 1,
    max_early_data: 0,
    received_ms: 0,
    received_unix: None,
    auth_age_ms: 0,
    peer: PeerId([0; 16]),
    owner: CONTEXT,
};

fn new_session<'t>(peer: PeerId, ticket: &'t [u8; 192]) -> NewSession<'t> {
    NewSession {
        peer,
        ticket,
        ..RECORD
    }
}

struct EncoreBench<'p, const N: usize, const P: usize> {
    cache: SessionCache<'p, N, P>,
    /// The peers whose tickets are cached, each with its ticket, and the next set.
    peers: Vec<(PeerId, [u8; 192])>,
    others: Vec<(PeerId, [u8; 192])>,
    held: Vec<Session<'p, P>>,
}

impl<'p, const N: usize, const P: usize> EncoreBench<'p, N, P> {
    fn new(pool: &'p SessionPool<P>) -> Self {
        let cache = SessionCache::new(pool, CONTEXT, CacheConfig::DEFAULT);
        let peers = |offset: usize| {
            names(N, offset)
                .iter()
                .enumerate()
                .map(|(i, n)| (PeerId::new(n, &[], &TRUST), ticket_for(offset + i)))
                .collect()
        };
        let bench = EncoreBench {
            cache,
            peers: peers(0),
            others: peers(N),
            held: Vec::with_capacity(N),
        };
        bench.fill();
        // The workloads measure hits: every peer has its ticket cached.
        assert_eq!(bench.cache.len(), N);
        for (p, _) in &bench.peers {
            assert!(bench.cache.lookup(p, NOW_MS).is_some(), "lookup misses");
        }
        bench
    }

    /// Makes the cache hold one ticket for each of `peers`.
    fn fill(&self) {
        for (p, t) in &self.peers {
            let _ = self.cache.new_session(&new_session(*p, t), NOW_MS);
        }
    }

    /// Makes a record from a ticket of each peer of `peers` (or of `others`), timed.
    fn timed_new_sessions(&mut self, others: bool) -> Measured {
        let peers = if others { &self.others } else { &self.peers };
        let watch = Stopwatch::start();
        for (p, t) in peers {
            black_box(
                self.cache
                    .new_session(&new_session(*black_box(p), t), NOW_MS)
                    .ok(),
            );
        }
        watch.stop()
    }
}

impl<const N: usize, const P: usize> Batches for EncoreBench<'_, N, P> {
    fn lookup_batch(&mut self) -> Measured {
        let watch = Stopwatch::start();
        for (p, _) in &self.peers {
            black_box(self.cache.lookup(black_box(p), NOW_MS));
        }
        watch.stop()
    }

    fn take_batch(&mut self) -> Measured {
        let watch = Stopwatch::start();
        for (p, _) in &self.peers {
            if let Some((s, _)) = self.cache.take(black_box(p), NOW_MS, &[0x1301]) {
                self.held.push(s);
            }
        }
        let measured = watch.stop();
        assert_eq!(self.held.len(), N, "take misses");
        self.held.clear();
        self.fill();
        measured
    }

    fn insert_batch(&mut self) -> Measured {
        self.cache.flush_all();
        self.timed_new_sessions(false)
    }

    fn evict_batch(&mut self) -> Measured {
        let measured = self.timed_new_sessions(true);
        core::mem::swap(&mut self.peers, &mut self.others);
        measured
    }
}

// ---------------------------------------------------------------------------------------------
// rustls

/// Keeps every ticket a rustls client is given.
#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<Tls13ClientSessionValue>>);

impl ClientSessionStore for Recorder {
    fn set_kx_hint(&self, _: ServerName<'static>, _: NamedGroup) {}
    fn kx_hint(&self, _: &ServerName<'_>) -> Option<NamedGroup> {
        None
    }
    fn set_tls12_session(
        &self,
        _: ServerName<'static>,
        _: rustls::client::Tls12ClientSessionValue,
    ) {
    }
    fn tls12_session(&self, _: &ServerName<'_>) -> Option<rustls::client::Tls12ClientSessionValue> {
        None
    }
    fn remove_tls12_session(&self, _: &ServerName<'static>) {}
    fn insert_tls13_ticket(&self, _: ServerName<'static>, value: Tls13ClientSessionValue) {
        if let Ok(mut v) = self.0.lock() {
            v.push(value);
        }
    }
    fn take_tls13_ticket(&self, _: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        None
    }
}

/// Real rustls ticket values, from in-memory handshakes with a server that issues many.
struct TicketSource {
    client: Arc<rustls::ClientConfig>,
    server: Arc<rustls::ServerConfig>,
    recorder: Arc<Recorder>,
}

const TICKETS_PER_HANDSHAKE: usize = 64;

impl TicketSource {
    fn new() -> Self {
        let certified = rcgen::generate_simple_self_signed(vec!["bench.example".to_string()])
            .expect("test certificate");
        let cert = certified.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("TLS 1.3")
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .expect("server config");
        server.send_tls13_tickets = TICKETS_PER_HANDSHAKE;
        server.ticketer = rustls::crypto::ring::Ticketer::new().expect("ticketer");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).expect("root");
        let recorder = Arc::new(Recorder::default());
        let mut client = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("TLS 1.3")
            .with_root_certificates(roots)
            .with_no_client_auth();
        client.resumption = Resumption::store(recorder.clone());
        TicketSource {
            client: Arc::new(client),
            server: Arc::new(server),
            recorder,
        }
    }

    /// At least `want` fresh ticket values.
    fn tickets(&self, want: usize) -> Vec<Tls13ClientSessionValue> {
        let mut out = Vec::with_capacity(want + TICKETS_PER_HANDSHAKE);
        while out.len() < want {
            self.handshake();
            if let Ok(mut v) = self.recorder.0.lock() {
                out.append(&mut v);
            }
        }
        out
    }

    fn handshake(&self) {
        let name = ServerName::try_from("bench.example").expect("name");
        let mut client =
            Connection::Client(ClientConnection::new(self.client.clone(), name).expect("client"));
        let mut server =
            Connection::Server(ServerConnection::new(self.server.clone()).expect("server"));
        let mut buf = Vec::new();
        for _ in 0..64 {
            transfer(&mut client, &mut server, &mut buf);
            transfer(&mut server, &mut client, &mut buf);
            if !client.is_handshaking() && !server.is_handshaking() && !server.wants_write() {
                break;
            }
        }
    }
}

/// Moves every TLS byte `from` has to send to `to`, which processes it as it reads (a flight of
/// many tickets is larger than one read).
fn transfer(from: &mut Connection, to: &mut Connection, buf: &mut Vec<u8>) {
    buf.clear();
    while from.wants_write() {
        from.write_tls(buf).expect("write");
    }
    let mut rd = &buf[..];
    while !rd.is_empty() {
        to.read_tls(&mut rd).expect("read");
        to.process_new_packets().expect("process");
    }
}

struct RustlsBench {
    cache: ClientSessionMemoryCache,
    names: Vec<ServerName<'static>>,
    others: Vec<ServerName<'static>>,
    spare: Vec<Tls13ClientSessionValue>,
    source: Arc<TicketSource>,
}

impl RustlsBench {
    fn new(capacity: usize, source: Arc<TicketSource>) -> Self {
        let to_names = |v: Vec<String>| {
            v.into_iter()
                .map(|n| ServerName::try_from(n).expect("name"))
                .collect::<Vec<_>>()
        };
        let mut bench = RustlsBench {
            cache: ClientSessionMemoryCache::new(capacity * 8),
            names: to_names(names(capacity, 0)),
            others: to_names(names(capacity, capacity)),
            spare: Vec::with_capacity(2 * capacity + TICKETS_PER_HANDSHAKE),
            source,
        };
        bench.refill_spare();
        for n in &bench.names {
            if let Some(v) = bench.spare.pop() {
                bench.cache.insert_tls13_ticket(n.clone(), v);
            }
        }
        // The workloads measure hits: every server has its ticket cached.
        for n in &bench.names {
            let v = bench.cache.take_tls13_ticket(n).expect("take misses");
            bench.cache.insert_tls13_ticket(n.clone(), v);
        }
        bench
    }

    fn refill_spare(&mut self) {
        if self.spare.len() < self.names.len() {
            let want = self.names.len() - self.spare.len();
            self.spare.extend(self.source.tickets(want));
        }
    }

    /// Takes every server's ticket out of the cache into the spare ones.
    fn take_all(&mut self) {
        for n in &self.names {
            if let Some(v) = self.cache.take_tls13_ticket(black_box(n)) {
                self.spare.push(v);
            }
        }
    }

    /// Inserts a spare ticket for each server of `names` (or of `others`), timed.
    fn timed_inserts(&mut self, others: bool) -> Measured {
        self.refill_spare();
        let names = if others { &self.others } else { &self.names };
        let batch: Vec<_> = self.spare.drain(self.spare.len() - names.len()..).collect();
        let watch = Stopwatch::start();
        for (n, v) in names.iter().zip(batch) {
            self.cache.insert_tls13_ticket(n.clone(), v);
        }
        watch.stop()
    }
}

impl Batches for RustlsBench {
    fn lookup_batch(&mut self) -> Measured {
        let watch = Stopwatch::start();
        for n in &self.names {
            black_box(self.cache.kx_hint(black_box(n)));
        }
        watch.stop()
    }

    fn take_batch(&mut self) -> Measured {
        let watch = Stopwatch::start();
        self.take_all();
        let measured = watch.stop();
        for n in &self.names {
            if let Some(v) = self.spare.pop() {
                self.cache.insert_tls13_ticket(n.clone(), v);
            }
        }
        measured
    }

    fn insert_batch(&mut self) -> Measured {
        self.take_all();
        self.timed_inserts(false)
    }

    fn evict_batch(&mut self) -> Measured {
        let measured = self.timed_inserts(true);
        core::mem::swap(&mut self.names, &mut self.others);
        measured
    }
}

// ---------------------------------------------------------------------------------------------

const OPS: [&str; 4] = ["lookup", "take", "insert", "evict"];

/// Allocations per operation in the timed part of `ALLOC_ROUNDS` batches, after one batch of
/// warm-up (first ticket handshakes, lazily built tables).
fn allocs_per_op(bench: &mut dyn Batches, op: &str, capacity: usize) -> f64 {
    bench.batch(op);
    let total: u64 = (0..ALLOC_ROUNDS).map(|_| bench.batch(op).allocs).sum();
    total as f64 / (ALLOC_ROUNDS * capacity) as f64
}

fn run_capacity<const N: usize, const P: usize>(
    c: &mut Criterion,
    source: &Arc<TicketSource>,
    report_allocs: bool,
) {
    let pool: SessionPool<P> = SessionPool::new();
    let mut encore = EncoreBench::<N, P>::new(&pool);
    let mut rustls = RustlsBench::new(N, source.clone());
    for op in OPS {
        if report_allocs {
            println!(
                "allocs encore {op} {N} {}",
                allocs_per_op(&mut encore, op, N)
            );
            println!(
                "allocs rustls {op} {N} {}",
                allocs_per_op(&mut rustls, op, N)
            );
        }
        let mut group = c.benchmark_group(op);
        group.bench_with_input(BenchmarkId::new("encore", N), &N, |b, _| {
            b.iter_custom(|iters| batched(&mut encore, op, iters, N))
        });
        group.bench_with_input(BenchmarkId::new("rustls", N), &N, |b, _| {
            b.iter_custom(|iters| batched(&mut rustls, op, iters, N))
        });
        group.finish();
    }
}

/// Runs whole batches until `iters` operations were timed; returns their timed total.
fn batched(bench: &mut dyn Batches, op: &str, iters: u64, capacity: usize) -> Duration {
    let mut done = 0u64;
    let mut total = Duration::ZERO;
    while done < iters {
        total += bench.batch(op).time;
        done += capacity as u64;
    }
    // Scale to exactly `iters` operations.
    total.mul_f64(iters as f64 / done as f64)
}

fn benches(c: &mut Criterion) {
    let source = Arc::new(TicketSource::new());
    let report = std::env::args().all(|a| a != "--list");
    run_capacity::<8, 18>(c, &source, report);
    run_capacity::<64, 130>(c, &source, report);
    run_capacity::<256, 514>(c, &source, report);
}

criterion_group!(cache_benches, benches);

fn main() {
    cache_benches();
    Criterion::default().configure_from_args().final_summary();
}
