//! The scripted server over a real TCP socket on 127.0.0.1, for tests that drive a client
//! connection through its public API.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

use encore_tls::crypto::RecordProtection;

use super::{AppKeys, ParsedHello, Scripted, ServerHelloSpec};

/// Read timeout of the server's socket.
pub const WAIT: Duration = Duration::from_secs(5);

/// A leaf certificate with its chain and the leaf key (PKCS#8): (leaf DER, intermediate DER,
/// key DER), owned so that a server thread can keep it.
pub type Identity = (Vec<u8>, Vec<u8>, Vec<u8>);

/// Reads one TLS record (header and body).
pub fn read_record(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut hdr = [0u8; 5];
    s.read_exact(&mut hdr)?;
    let len = u16::from_be_bytes([hdr[3], hdr[4]]) as usize;
    let mut rec = hdr.to_vec();
    rec.resize(5 + len, 0);
    s.read_exact(&mut rec[5..])?;
    Ok(rec)
}

/// Everything the client sends until it closes (or 3 s of silence).
pub fn drain(s: &mut TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    all
}

/// Runs `f` on the first connection to a fresh port with the client's first ClientHello
/// parsed; returns the port and what `f` returned.
pub fn script<T: Send + 'static>(
    f: impl FnOnce(&mut TcpStream, ParsedHello) -> T + Send + 'static,
) -> (u16, JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.set_nodelay(true).unwrap();
        let rec = read_record(&mut s).unwrap();
        let hello = super::parse_hello(&rec);
        f(&mut s, hello)
    });
    (port, handle)
}

/// The fatal alerts (descriptions) in what the client sent, opening protected records with
/// `key` when given.
pub fn alerts_in(mut bytes: &[u8], mut key: Option<&mut RecordProtection>) -> Vec<u8> {
    let mut out = Vec::new();
    while bytes.len() >= 5 {
        let len = u16::from_be_bytes([bytes[3], bytes[4]]) as usize;
        let (rec, rest) = bytes.split_at((5 + len).min(bytes.len()));
        bytes = rest;
        match (rec[0], key.as_deref_mut()) {
            (21, _) => out.push(rec[6]),
            (23, Some(k)) => {
                let hdr: [u8; 5] = rec[..5].try_into().unwrap();
                let mut data = rec[5..rec.len() - 16].to_vec();
                let tag: [u8; 16] = rec[rec.len() - 16..].try_into().unwrap();
                if k.decrypt(&hdr, &mut data, &tag).is_ok() && data.last() == Some(&21) {
                    out.push(data[1]);
                }
            }
            _ => {}
        }
    }
    out
}

/// What the scripted server sends for a full handshake, up to its Finished.
pub struct FullFlight {
    pub server: Scripted,
    /// ServerHello in clear, then EncryptedExtensions … Finished sealed in one record.
    pub bytes: Vec<u8>,
}

/// ServerHello, EncryptedExtensions with `ee_exts`, the Certificate message `certificate`
/// (made by the caller through `server`), CertificateVerify signed with `key_der`, Finished.
pub fn full_flight(
    hello: &ParsedHello,
    ee_exts: &[u8],
    certificate: impl FnOnce(&mut Scripted) -> Vec<u8>,
    key_der: &[u8],
) -> FullFlight {
    let mut server = Scripted::new();
    let mut bytes = server.server_hello(
        hello,
        &ServerHelloSpec {
            suite: 0x1301,
            key_share: true,
            psk_identity: None,
        },
    );
    let mut hs = server.encrypted_extensions_with(ee_exts);
    hs.extend(certificate(&mut server));
    hs.extend(server.certificate_verify(key_der));
    hs.extend(server.finished());
    bytes.extend(server.seal(22, &hs));
    FullFlight { server, bytes }
}

/// Reads the client's Finished (after an optional change_cipher_spec) and returns the
/// plaintext message.
pub fn client_finished(s: &mut TcpStream, server: &mut Scripted) -> Vec<u8> {
    loop {
        let rec = read_record(s).unwrap();
        if rec[0] == 20 {
            continue;
        }
        let key = server.client_read.as_mut().unwrap();
        let hdr: [u8; 5] = rec[..5].try_into().unwrap();
        let mut data = rec[5..rec.len() - 16].to_vec();
        let tag: [u8; 16] = rec[rec.len() - 16..].try_into().unwrap();
        key.decrypt(&hdr, &mut data, &tag).unwrap();
        assert_eq!(data.pop(), Some(22));
        assert_eq!(data[0], 20);
        return data;
    }
}

/// Completes a scripted full handshake and returns the server, its application keys and the
/// client's Finished.
pub fn complete(
    s: &mut TcpStream,
    pki: Identity,
    hello: &ParsedHello,
) -> (Scripted, AppKeys, Vec<u8>) {
    let mut flight = full_flight(hello, &[], |sv| sv.certificate(&[&pki.0, &pki.1]), &pki.2);
    s.write_all(&flight.bytes).unwrap();
    let keys = flight.server.application_keys();
    let fin = client_finished(s, &mut flight.server);
    (flight.server, keys, fin)
}
