//! Test support shared by every crate's tests: test certificates, real TLS servers on
//! 127.0.0.1, and a host RNG. A dev-dependency (`encore-testkit`); tests name it `common`
//! (`use encore_testkit as common;`). The `openssl` and `gnutls-serv` binaries are installed on
//! first use when running as root.
//!
//! - [`TestPki`]: root CA → intermediate → leaves (P-256, P-384, Ed25519, expired) plus a
//!   separate client CA and client certificate, as DER in memory and as PEM files in a
//!   private temporary directory. [`TestPki::generate_with_rsa`] adds [`RsaChains`]: an
//!   RSA-4096 root with an RSA-2048 leaf and with an ECDSA P-256 leaf under it.
//! - [`OpenSslServer`], [`GnutlsServer`]: `openssl s_server` / `gnutls-serv` child processes
//!   on a free loopback port, presenting any [`LeafKind`] (or, for gnutls-serv, any PEM files),
//!   with their output captured so a test can count the resumptions the server itself reports.
//!   Killed on drop.
//! - [`RustlsServer`]: an in-process rustls 0.23 server with stateless or stateful tickets,
//!   optional client authentication and ticket-key rotation, presenting any [`LeafKind`] or a
//!   [`ServerCert`] (DER, or read from PEM files); it records, per connection, whether the
//!   handshake resumed.
//! - [`OpensslCerts`]: certificates the openssl command line makes and rcgen cannot (RSA-PSS
//!   and SHA-1 signatures, 1024-bit RSA and Ed448 keys).
//! - [`ensure_tool`]: installs a missing server binary with apt when running as root.
//! - [`residue`]: the secrets of a handshake by name, searched for in memory (E7).
//! - [`scripted`]: a TLS 1.3 server built from encore-tls's own key schedule, whose flight a
//!   test writes message by message, so that it misbehaves on demand.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);

mod openssl_certs;
mod pki;
pub mod residue;
mod rng;
mod rustls_server;
pub mod scripted;
mod servers;
mod tools;

pub use openssl_certs::*;
pub use pki::*;
pub use rng::*;
pub use rustls_server::*;
pub use servers::*;
pub use tools::*;
