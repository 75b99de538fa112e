//! `resume-check`: connects to a TLS 1.3 server several times through Encore and reports, one
//! JSON line per connection, whether each handshake resumed a session.
//!
//! Like `openssl s_client -sess_out/-sess_in`, except that TLS 1.3 tickets are resumed across
//! connections of one run: each connection after the first offers a ticket from the earlier ones
//! through the context's session cache (C26, C36). `--sess-in` is set on the first connection with
//! `set_session` and must match the peer identity (server name, ALPN list, trust; not the port:
//! C33, C35). Exit status 0 when every connection completed its handshake; otherwise 1, with one
//! line on stderr that names the cause.
//!
//! `--insecure-no-verify` (no server authentication, lab setups only) needs the tool built with
//! the `insecure-no-verify` feature of `encore-examples`; without it the option is refused.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use encore_cache::CacheConfig;
use encore_client::{block_on, Connection, Context, Error, OsRng, StdClock, StdTransport};
use encore_session::{ContextId, MonotonicClock, SessionPool, WallClock};
use encore_tls::crypto::{CipherSuite, P256Signer};
use encore_tls::{ClientConfig, KeyExchangeMode, PskMode};
use rustls_pki_types::{CertificateDer, TrustAnchor};

const USAGE: &str = "usage: resume-check --connect HOST:PORT [--server-name NAME] [--ca FILE]... \
[--alpn PROTO]... [--cert FILE --key FILE] [--connections N] [--kex psk_dhe|psk] \
[--sess-out FILE] [--sess-in FILE] [--send STRING] [--insecure-no-verify]";

/// Largest ticket the tool keeps: OpenSSL tickets embedding a client certificate are ~660 bytes.
const TICKET_CAPACITY: usize = 1024;
const POOL_SLOTS: usize = 32;
const CACHE_ENTRIES: usize = 16;
/// Response bytes kept for the JSON line.
const RESPONSE_CAP: usize = 4096;
/// How long to wait for more data (tickets, a response) before ending a connection.
const IDLE: Duration = Duration::from_millis(500);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

static POOL: SessionPool<POOL_SLOTS, TICKET_CAPACITY> = SessionPool::new();

struct Options {
    connect: String,
    server_name: Option<String>,
    ca: Vec<PathBuf>,
    alpn: Vec<String>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    connections: usize,
    kex: PskMode,
    sess_out: Option<PathBuf>,
    sess_in: Option<PathBuf>,
    send: Option<String>,
    insecure: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut o = Options {
        connect: String::new(),
        server_name: None,
        ca: Vec::new(),
        alpn: Vec::new(),
        cert: None,
        key: None,
        connections: 2,
        kex: PskMode::DheOnly,
        sess_out: None,
        sess_in: None,
        send: None,
        insecure: false,
    };
    while let Some(flag) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("option {name} needs a value; {USAGE}"))
        };
        match flag.as_str() {
            "--connect" => o.connect = value("--connect")?,
            "--server-name" => o.server_name = Some(value("--server-name")?),
            "--ca" => o.ca.push(value("--ca")?.into()),
            "--alpn" => o.alpn.push(value("--alpn")?),
            "--cert" => o.cert = Some(value("--cert")?.into()),
            "--key" => o.key = Some(value("--key")?.into()),
            "--connections" => {
                let v = value("--connections")?;
                o.connections =
                    v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        format!("--connections needs a positive number, not {v:?}")
                    })?;
            }
            "--kex" => {
                o.kex = match value("--kex")?.as_str() {
                    "psk_dhe" => PskMode::DheOnly,
                    "psk" => PskMode::AllowPskOnly,
                    other => return Err(format!("--kex is psk_dhe or psk, not {other:?}")),
                }
            }
            "--sess-out" => o.sess_out = Some(value("--sess-out")?.into()),
            "--sess-in" => o.sess_in = Some(value("--sess-in")?.into()),
            "--send" => o.send = Some(value("--send")?),
            "--insecure-no-verify" => o.insecure = true,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown option {other}; {USAGE}")),
        }
    }
    if o.connect.is_empty() {
        return Err(format!("--connect HOST:PORT is required; {USAGE}"));
    }
    if o.cert.is_some() != o.key.is_some() {
        return Err("--cert and --key go together".to_string());
    }
    if o.insecure && !cfg!(feature = "insecure-no-verify") {
        return Err(concat!(
            "--insecure-no-verify: this resume-check was built without the insecure-no-verify ",
            "feature (cargo build -p encore-examples --features insecure-no-verify)"
        )
        .to_string());
    }
    if o.ca.is_empty() && !o.insecure {
        return Err("no trust anchor: give --ca FILE (or --insecure-no-verify)".to_string());
    }
    Ok(o)
}

/// Decodes standard base64, ignoring whitespace.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Every PEM block of `file` with one of `labels`, as DER.
fn pem_blocks(file: &PathBuf, labels: &[&str]) -> Result<Vec<Vec<u8>>, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let mut blocks = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let label_end = after
            .find("-----")
            .ok_or_else(|| format!("{}: malformed PEM", file.display()))?;
        let label = &after[..label_end];
        let body_start = label_end + 5;
        let end_marker = format!("-----END {label}-----");
        let body_len = after[body_start..]
            .find(&end_marker)
            .ok_or_else(|| format!("{}: PEM block {label} not terminated", file.display()))?;
        let body = &after[body_start..body_start + body_len];
        if labels.contains(&label) {
            blocks.push(
                base64_decode(body)
                    .ok_or_else(|| format!("{}: bad base64 in {label}", file.display()))?,
            );
        }
        rest = &after[body_start + body_len + end_marker.len()..];
    }
    if blocks.is_empty() {
        return Err(format!(
            "{}: no PEM block labelled {}",
            file.display(),
            labels.join(" or ")
        ));
    }
    Ok(blocks)
}

fn leak<T>(v: T) -> &'static T {
    Box::leak(Box::new(v))
}

fn suite_name(s: CipherSuite) -> &'static str {
    match s {
        CipherSuite::Aes128GcmSha256 => "TLS_AES_128_GCM_SHA256",
        CipherSuite::Aes256GcmSha384 => "TLS_AES_256_GCM_SHA384",
        CipherSuite::Chacha20Poly1305Sha256 => "TLS_CHACHA20_POLY1305_SHA256",
    }
}

fn kex_name(k: KeyExchangeMode) -> &'static str {
    match k {
        KeyExchangeMode::Full => "full",
        KeyExchangeMode::PskDhe => "psk_dhe",
        KeyExchangeMode::Psk => "psk",
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One line naming why a connection failed.
fn describe(conn: usize, e: &Error) -> String {
    match e {
        Error::Session(encore_session::Error::WrongPeer) => format!(
            "connection {conn}: --sess-in session was made for another peer (server name, ALPN or trust differ)"
        ),
        Error::Session(encore_session::Error::WrongOwner) => {
            format!("connection {conn}: --sess-in session belongs to another context")
        }
        other => format!("connection {conn}: {other}"),
    }
}

fn main() {
    if let Err(msg) = run(parse_args(std::env::args().skip(1))) {
        eprintln!("resume-check: {msg}");
        std::process::exit(1);
    }
}

fn run(opts: Result<Options, String>) -> Result<(), String> {
    let o = opts?;
    let server_name: &'static str = Box::leak(
        o.server_name
            .clone()
            .unwrap_or_else(|| {
                let host = o
                    .connect
                    .rsplit_once(':')
                    .map_or(o.connect.as_str(), |h| h.0);
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string()
            })
            .into_boxed_str(),
    );

    let mut anchors: Vec<TrustAnchor<'static>> = Vec::new();
    for file in &o.ca {
        for der in pem_blocks(file, &["CERTIFICATE"])? {
            let der: &'static [u8] = Box::leak(der.into_boxed_slice());
            let cert: &'static CertificateDer<'static> = leak(CertificateDer::from(der));
            let anchor = encore_tls::crypto::anchor_from_der(cert)
                .map_err(|e| format!("{}: not a usable trust anchor: {e}", file.display()))?;
            anchors.push(anchor);
        }
    }
    let anchors: &'static [TrustAnchor<'static>] = Box::leak(anchors.into_boxed_slice());
    let alpn: Vec<&'static [u8]> = o
        .alpn
        .iter()
        .map(|p| &*Box::leak(p.clone().into_bytes().into_boxed_slice()))
        .collect();
    let alpn: &'static [&'static [u8]] = Box::leak(alpn.into_boxed_slice());

    let mut tls = ClientConfig::new(anchors);
    tls.alpn = alpn;
    tls.psk_mode = o.kex;
    #[cfg(feature = "insecure-no-verify")]
    {
        tls.insecure_no_verify = o.insecure;
    }
    if let (Some(cert), Some(key)) = (&o.cert, &o.key) {
        let chain: Vec<&'static [u8]> = pem_blocks(cert, &["CERTIFICATE"])?
            .into_iter()
            .map(|d| &*Box::leak(d.into_boxed_slice()))
            .collect();
        let chain: &'static [&'static [u8]] = Box::leak(chain.into_boxed_slice());
        let key_der = pem_blocks(key, &["PRIVATE KEY"])?
            .into_iter()
            .next()
            .unwrap_or_default();
        let signer = P256Signer::from_pkcs8_der(&key_der, chain)
            .map_err(|e| format!("{}: not a PKCS#8 P-256 private key: {e}", key.display()))?;
        tls.client_auth = Some(leak(signer));
    }

    let clock = StdClock::new();
    let ctx: Context<'static, StdClock, OsRng, CACHE_ENTRIES, POOL_SLOTS, TICKET_CAPACITY> =
        Context::new(ContextId(1), tls, &POOL, CacheConfig::DEFAULT, clock, OsRng);

    let mut sess_in = match &o.sess_in {
        Some(path) => {
            let bytes =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            Some(
                POOL.decode(&bytes, clock.now_ms(), clock.now_unix())
                    .map_err(|e| format!("{}: not a usable session: {e}", path.display()))?,
            )
        }
        None => None,
    };

    let mut last_session = None;
    for n in 1..=o.connections {
        let io = StdTransport::connect(o.connect.as_str())
            .map_err(|e| format!("connection {n}: cannot connect to {}: {e}", o.connect))?;
        io.0.set_read_timeout(Some(HANDSHAKE_TIMEOUT))
            .map_err(|e| format!("connection {n}: {e}"))?;
        let mut rx = vec![0u8; 17 * 1024];
        let mut tx = vec![0u8; 8 * 1024];
        let mut carry = vec![0u8; 16 * 1024];
        let mut conn =
            Connection::new(&ctx, server_name, io, &mut rx, &mut tx).with_carry_buffer(&mut carry);
        if let Some(s) = sess_in.take() {
            conn.set_session(Some(&s)).map_err(|e| describe(n, &e))?;
        }
        let started = Instant::now();
        let hs = block_on(conn.connect()).map_err(|e| describe(n, &e))?;
        let handshake_us = started.elapsed().as_micros();

        if let Some(data) = &o.send {
            block_on(conn.write(data.as_bytes())).map_err(|e| describe(n, &e))?;
        }
        let _ = conn.transport_mut().0.set_read_timeout(Some(IDLE));
        let mut response = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match block_on(conn.read(&mut buf)) {
                Ok(0) => break,
                Ok(k) => {
                    let room = RESPONSE_CAP.saturating_sub(response.len());
                    response.extend_from_slice(&buf[..k.min(room)]);
                }
                Err(Error::Io(_)) | Err(Error::TransportClosed) => break,
                Err(e) => return Err(describe(n, &e)),
            }
        }
        if let Ok(Some(s)) = conn.get1_session() {
            last_session = Some(s);
        }
        let _ = block_on(conn.shutdown());
        let stats = conn.stats();
        println!(
            "{{\"conn\":{n},\"version\":\"TLSv1.3\",\"cipher\":\"{}\",\"reused\":{},\"kex\":\"{}\",\"tickets_received\":{},\"bytes_sent\":{},\"bytes_received\":{},\"handshake_bytes\":{},\"handshake_us\":{handshake_us},\"response\":{}}}",
            suite_name(hs.suite),
            hs.resumed,
            kex_name(hs.kex),
            stats.tickets_received,
            stats.bytes_sent,
            stats.bytes_received,
            stats.handshake_sent + stats.handshake_received,
            json_string(&String::from_utf8_lossy(&response)),
        );
    }

    if let Some(path) = &o.sess_out {
        let s = last_session
            .ok_or_else(|| "--sess-out: the server sent no ticket to save".to_string())?;
        let mut out = vec![0u8; encore_session::codec::max_encoded_len(TICKET_CAPACITY)];
        let len = s
            .encode(&mut out, clock.now_ms(), clock.now_unix())
            .map_err(|e| format!("--sess-out: cannot encode the session: {e}"))?;
        std::fs::write(path, &out[..len])
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}
