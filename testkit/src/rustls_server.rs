//! An in-process rustls server on a free loopback port.

use super::*;

/// How the rustls server keeps sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketMode {
    /// Stateless tickets (`rustls::crypto::ring::Ticketer`): reusable until the keys rotate.
    Stateless,
    /// rustls' default in-memory session cache: each ticket resumes once.
    Stateful,
}

/// What the rustls server does with application data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Write back every byte received.
    Echo,
    /// After the first application data, send these bytes and close_notify.
    Fixed(Vec<u8>),
    /// Read and discard.
    Nothing,
}

/// Options of [`RustlsServer::start`].
#[derive(Clone, Debug)]
pub struct RustlsOptions {
    pub tickets: TicketMode,
    /// NewSessionTicket messages after each handshake (rustls' `send_tls13_tickets`).
    pub send_tls13_tickets: usize,
    /// Require a client certificate from the test client CA.
    pub client_auth: bool,
    pub leaf: LeafKind,
    pub alpn: Vec<Vec<u8>>,
    pub reply: Reply,
    /// Restrict the suites (IANA code points); empty = rustls' defaults.
    pub suites: Vec<u16>,
    /// Offer only secp256r1 for key exchange (forces a HelloRetryRequest on a client whose
    /// first key share is X25519).
    pub p256_only: bool,
}

impl Default for RustlsOptions {
    fn default() -> Self {
        RustlsOptions {
            tickets: TicketMode::Stateless,
            send_tls13_tickets: 2,
            client_auth: false,
            leaf: LeafKind::P256,
            alpn: Vec::new(),
            reply: Reply::Echo,
            suites: Vec::new(),
            p256_only: false,
        }
    }
}

/// What the rustls server saw on one connection.
#[derive(Clone, Debug, Default)]
pub struct ConnRecord {
    /// `handshake_kind() == Some(HandshakeKind::Resumed)`.
    pub resumed: bool,
    /// The handshake went through a HelloRetryRequest.
    pub hello_retry: bool,
    pub completed: bool,
    pub sni: Option<String>,
    pub alpn: Option<Vec<u8>>,
    pub suite: Option<u16>,
    pub client_cert: bool,
    /// Application data received.
    pub received: Vec<u8>,
    /// Why the connection ended abnormally, if it did.
    pub error: Option<String>,
}

struct RustlsShared {
    config: Mutex<Arc<rustls::ServerConfig>>,
    records: Mutex<Vec<ConnRecord>>,
    stop: AtomicBool,
}

/// A rustls 0.23 server (ring provider, TLS 1.3 only) on 127.0.0.1, each connection in its own
/// thread. Stops on drop.
pub struct RustlsServer {
    port: u16,
    shared: Arc<RustlsShared>,
    pki_parts: PkiParts,
    options: RustlsOptions,
    accept_thread: Option<JoinHandle<()>>,
}

#[derive(Clone)]
struct PkiParts {
    chain: Vec<Vec<u8>>,
    key: Vec<u8>,
    client_ca: Vec<u8>,
}

/// A certificate chain (leaf first, DER) and the leaf's PKCS#8 private key (DER) for
/// [`RustlsServer::start_with_cert`].
#[derive(Clone, Debug)]
pub struct ServerCert {
    pub chain: Vec<Vec<u8>>,
    pub key: Vec<u8>,
}

impl ServerCert {
    /// Reads a PEM chain (every `CERTIFICATE` block, leaf first) and a PEM `PRIVATE KEY`
    /// (PKCS#8), as the openssl CLI writes them.
    pub fn from_pem_files(chain: &Path, key: &Path) -> ServerCert {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
        let chain = CertificateDer::pem_file_iter(chain)
            .unwrap_or_else(|e| panic!("read {}: {e:?}", chain.display()))
            .map(|c| c.expect("PEM certificate").to_vec())
            .collect::<Vec<_>>();
        assert!(!chain.is_empty(), "no certificate in the chain file");
        let key = PrivatePkcs8KeyDer::from_pem_file(key)
            .unwrap_or_else(|e| panic!("read {}: {e:?}", key.display()))
            .secret_pkcs8_der()
            .to_vec();
        ServerCert { chain, key }
    }
}

fn rustls_config(parts: &PkiParts, options: &RustlsOptions) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let mut provider = rustls::crypto::ring::default_provider();
    if !options.suites.is_empty() {
        provider
            .cipher_suites
            .retain(|s| options.suites.contains(&u16::from(s.suite())));
    }
    if options.p256_only {
        provider.kx_groups = vec![rustls::crypto::ring::kx_group::SECP256R1];
    }
    let provider = Arc::new(provider);
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3");
    let builder = if options.client_auth {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(parts.client_ca.clone()))
            .expect("client ca");
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("client verifier");
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let chain = parts
        .chain
        .iter()
        .map(|d| CertificateDer::from(d.clone()))
        .collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(parts.key.clone()));
    let mut cfg = builder.with_single_cert(chain, key).expect("server cert");
    cfg.send_tls13_tickets = options.send_tls13_tickets;
    cfg.alpn_protocols = options.alpn.clone();
    if options.tickets == TicketMode::Stateless {
        cfg.ticketer = rustls::crypto::ring::Ticketer::new().expect("ticketer");
    }
    Arc::new(cfg)
}

fn serve(
    mut sock: TcpStream,
    config: Arc<rustls::ServerConfig>,
    reply: Reply,
    shared: &RustlsShared,
) {
    let mut rec = ConnRecord::default();
    let _ = sock.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = sock.set_nodelay(true);
    let result = (|| -> Result<(), String> {
        let mut conn = rustls::ServerConnection::new(config).map_err(|e| e.to_string())?;
        while conn.is_handshaking() {
            conn.complete_io(&mut sock)
                .map_err(|e| format!("handshake: {e}"))?;
        }
        rec.completed = true;
        rec.resumed = conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        rec.hello_retry =
            conn.handshake_kind() == Some(rustls::HandshakeKind::FullWithHelloRetryRequest);
        rec.sni = conn.server_name().map(str::to_string);
        rec.alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
        rec.suite = conn.negotiated_cipher_suite().map(|s| u16::from(s.suite()));
        rec.client_cert = conn.peer_certificates().is_some_and(|c| !c.is_empty());
        // Flush the tickets.
        while conn.wants_write() {
            conn.write_tls(&mut sock)
                .map_err(|e| format!("write: {e}"))?;
        }
        let mut buf = [0u8; 4096];
        loop {
            // Drain plaintext first: application data that arrived in the same flight as the
            // client Finished is already decrypted, and waiting for more I/O would miss it.
            loop {
                match conn.reader().read(&mut buf) {
                    Ok(0) => {
                        // close_notify from the client: answer with ours.
                        conn.send_close_notify();
                        let _ = conn.complete_io(&mut sock);
                        return Ok(());
                    }
                    Ok(n) => {
                        rec.received.extend_from_slice(&buf[..n]);
                        match &reply {
                            Reply::Echo => {
                                conn.writer()
                                    .write_all(&buf[..n])
                                    .map_err(|e| e.to_string())?;
                            }
                            Reply::Fixed(bytes) => {
                                conn.writer().write_all(bytes).map_err(|e| e.to_string())?;
                                conn.send_close_notify();
                                while conn.wants_write() {
                                    conn.write_tls(&mut sock).map_err(|e| e.to_string())?;
                                }
                                return Ok(());
                            }
                            Reply::Nothing => {}
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(format!("read: {e}")),
                }
            }
            while conn.wants_write() {
                conn.write_tls(&mut sock).map_err(|e| e.to_string())?;
            }
            match conn.complete_io(&mut sock) {
                Ok((0, 0)) if !conn.wants_read() => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(format!("io: {e}")),
            }
        }
    })();
    if let Err(e) = result {
        rec.error = Some(e);
    }
    shared
        .records
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(rec);
}

impl RustlsServer {
    /// Start presenting `options.leaf` and its intermediate.
    pub fn start(pki: &TestPki, options: RustlsOptions) -> RustlsServer {
        let leaf = pki.leaf_of(options.leaf);
        let cert = ServerCert {
            chain: vec![
                leaf.cert_der.clone(),
                pki.intermediate_of(options.leaf).to_vec(),
            ],
            key: leaf.key_der.clone(),
        };
        Self::start_with_cert(pki, cert, options)
    }

    /// Start presenting `cert` instead of a leaf of `pki` (`options.leaf` is not used; the
    /// client CA still comes from `pki`).
    pub fn start_with_cert(
        pki: &TestPki,
        cert: ServerCert,
        options: RustlsOptions,
    ) -> RustlsServer {
        let parts = PkiParts {
            chain: cert.chain,
            key: cert.key,
            client_ca: pki.client_ca_der.clone(),
        };
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let shared = Arc::new(RustlsShared {
            config: Mutex::new(rustls_config(&parts, &options)),
            records: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let reply = options.reply.clone();
        let thread_shared = Arc::clone(&shared);
        let accept_thread = std::thread::spawn(move || {
            while !thread_shared.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((sock, _)) => {
                        let _ = sock.set_nonblocking(false);
                        let config = Arc::clone(
                            &thread_shared
                                .config
                                .lock()
                                .unwrap_or_else(|e| e.into_inner()),
                        );
                        let s = Arc::clone(&thread_shared);
                        let reply = reply.clone();
                        std::thread::spawn(move || serve(sock, config, reply, &s));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        RustlsServer {
            port,
            shared,
            pki_parts: parts,
            options,
            accept_thread: Some(accept_thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Later connections use a fresh configuration: new ticket keys and an empty session cache,
    /// as if the server had restarted. Tickets issued before no longer resume (C34).
    pub fn rotate_ticket_keys(&self) {
        let cfg = rustls_config(&self.pki_parts, &self.options);
        *self.shared.config.lock().unwrap_or_else(|e| e.into_inner()) = cfg;
    }

    /// Finished connections, in the order they ended.
    pub fn connections(&self) -> Vec<ConnRecord> {
        self.shared
            .records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Resumed connections so far.
    pub fn resumed_count(&self) -> usize {
        self.connections().iter().filter(|c| c.resumed).count()
    }

    /// Wait until `n` connections have finished or `timeout` passes; returns them.
    pub fn wait_connections(&self, n: usize, timeout: Duration) -> Vec<ConnRecord> {
        let end = Instant::now() + timeout;
        loop {
            let c = self.connections();
            if c.len() >= n || Instant::now() >= end {
                return c;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RustlsServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.accept_thread.take() {
            let _ = t.join();
        }
    }
}
