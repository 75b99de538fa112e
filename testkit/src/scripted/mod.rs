//! A scripted TLS 1.3 server built from encore-tls's own key schedule and record protection:
//! each test (and the fuzz target) writes the server's flight message by message, so a server
//! can misbehave on demand. Nothing is mocked: the computations are RFC 8446's.

pub mod rng;
pub mod tcp;

use encore_tls::crypto::{
    self, CipherSuite, KeyExchange, KeySchedule, NamedGroup, RecordProtection, Secret, Transcript,
};
use encore_tls::wire::Reader;

/// The PSK of [`Scripted::server_hello`] when it accepts a PSK, unless [`Scripted::psk`] is set.
pub const PSK: [u8; 32] = [0x5a; 32];

/// The fields of a ClientHello the scripted server needs.
pub struct ParsedHello {
    pub msg: Vec<u8>,
    pub suites: Vec<u16>,
    pub x25519_share: Option<Vec<u8>>,
    pub key_share_entries: usize,
    pub share_groups: Vec<(u16, usize)>,
    pub cookie: Option<Vec<u8>>,
    pub psk_modes: Vec<u8>,
    /// (identity, obfuscated age, binder, offset of the binders list in `msg`)
    pub psk: Option<(Vec<u8>, u32, Vec<u8>, usize)>,
}

pub fn parse_hello(record: &[u8]) -> ParsedHello {
    assert_eq!(record[0], 22);
    let len = u16::from_be_bytes([record[3], record[4]]) as usize;
    let msg = record[5..5 + len].to_vec();
    assert_eq!(msg[0], 1);
    let mut r = Reader::new(&msg[4..]);
    r.take(2 + 32).unwrap();
    r.vec8().unwrap();
    let suites = r
        .vec16()
        .unwrap()
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    r.vec8().unwrap();
    let exts = r.vec16().unwrap();
    let exts_at = msg.len() - exts.len();
    let mut e = Reader::new(exts);
    let mut out = ParsedHello {
        msg: msg.clone(),
        suites,
        x25519_share: None,
        key_share_entries: 0,
        share_groups: Vec::new(),
        cookie: None,
        psk_modes: Vec::new(),
        psk: None,
    };
    let mut last = 0;
    while !e.is_empty() {
        let ty = e.u16().unwrap();
        let body_at = exts_at + (exts.len() - e.remaining()) + 2;
        let body = e.vec16().unwrap();
        last = ty;
        let mut b = Reader::new(body);
        match ty {
            0x0033 => {
                let mut list = Reader::new(b.vec16().unwrap());
                while !list.is_empty() {
                    let g = list.u16().unwrap();
                    let k = list.vec16().unwrap();
                    out.key_share_entries += 1;
                    out.share_groups.push((g, k.len()));
                    if g == 0x001d {
                        out.x25519_share = Some(k.to_vec());
                    }
                }
            }
            0x002d => out.psk_modes = b.vec8().unwrap().to_vec(),
            0x002c => out.cookie = Some(b.vec16().unwrap().to_vec()),
            0x0029 => {
                let ids = b.vec16().unwrap();
                let binders_at = body_at + 2 + ids.len();
                let mut ids = Reader::new(ids);
                let id = ids.vec16().unwrap().to_vec();
                let age = ids.u32().unwrap();
                let mut binders = Reader::new(b.vec16().unwrap());
                let binder = binders.vec8().unwrap().to_vec();
                out.psk = Some((id, age, binder, binders_at));
            }
            _ => {}
        }
    }
    if out.psk.is_some() {
        assert_eq!(
            last, 0x0029,
            "pre_shared_key must be last (RFC 8446 §4.2.11)"
        );
    }
    out
}

pub fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![ty];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

pub fn ext(ty: u16, body: &[u8]) -> Vec<u8> {
    let mut e = ty.to_be_bytes().to_vec();
    e.extend_from_slice(&(body.len() as u16).to_be_bytes());
    e.extend_from_slice(body);
    e
}

pub fn plain_record(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![ty, 3, 3];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// Protects `body` as one record of inner type `ty` (no padding).
pub fn seal(key: &mut RecordProtection, ty: u8, body: &[u8]) -> Vec<u8> {
    seal_padded(key, ty, body, 0)
}

/// Opens every protected record in `bytes`; returns (inner type, plaintext) pairs.
pub fn open_all(key: &mut RecordProtection, mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let len = u16::from_be_bytes([bytes[3], bytes[4]]) as usize;
        let (rec, rest) = bytes.split_at(5 + len);
        bytes = rest;
        if rec[0] == 20 {
            continue;
        }
        assert_eq!(rec[0], 23);
        let hdr: [u8; 5] = rec[..5].try_into().unwrap();
        let mut data = rec[5..5 + len - 16].to_vec();
        let tag: [u8; 16] = rec[5 + len - 16..].try_into().unwrap();
        key.decrypt(&hdr, &mut data, &tag).unwrap();
        let ty = data.pop().unwrap();
        out.push((ty, data));
    }
    out
}

/// A TLS 1.3 server that follows a script, X25519, AES-128-GCM / SHA-256 unless told
/// otherwise.
pub struct Scripted {
    pub suite: CipherSuite,
    pub transcript: Transcript,
    pub schedule: Option<KeySchedule>,
    pub client_hs: Secret,
    pub server_hs: Secret,
    pub server_write: Option<RecordProtection>,
    pub client_read: Option<RecordProtection>,
    /// The PSK a ServerHello that accepts a PSK uses.
    pub psk: Vec<u8>,
}

pub struct ServerHelloSpec {
    pub suite: u16,
    pub key_share: bool,
    pub psk_identity: Option<u16>,
}

impl Default for Scripted {
    fn default() -> Self {
        Scripted::new()
    }
}

impl Scripted {
    pub fn new() -> Self {
        Scripted::with_suite(CipherSuite::Aes128GcmSha256)
    }

    /// A server whose keys follow `suite` (whatever suite its ServerHello names).
    pub fn with_suite(suite: CipherSuite) -> Self {
        Scripted {
            suite,
            transcript: Transcript::new(),
            schedule: None,
            client_hs: Secret::empty(),
            server_hs: Secret::empty(),
            server_write: None,
            client_read: None,
            psk: PSK.to_vec(),
        }
    }

    /// Builds the ServerHello record answering `hello` and derives the handshake keys.
    pub fn server_hello(&mut self, hello: &ParsedHello, spec: &ServerHelloSpec) -> Vec<u8> {
        self.transcript.update(&hello.msg);
        let mut rng = rand_core::UnwrapErr(crate::OsRandom);
        let kx = KeyExchange::generate(NamedGroup::X25519, &mut rng).unwrap();
        let mut exts = ext(0x002b, &[0x03, 0x04]);
        let mut dhe = None;
        if spec.key_share {
            let pk = kx.public_key();
            let mut ks = vec![0x00, 0x1d];
            ks.extend_from_slice(&(pk.len() as u16).to_be_bytes());
            ks.extend_from_slice(&pk);
            exts.extend(ext(0x0033, &ks));
            dhe = Some(kx.agree(hello.x25519_share.as_ref().unwrap()).unwrap());
        }
        if let Some(i) = spec.psk_identity {
            exts.extend(ext(0x0029, &i.to_be_bytes()));
        }
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[0x42; 32]);
        body.push(0);
        body.extend_from_slice(&spec.suite.to_be_bytes());
        body.push(0);
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend(exts);
        let msg = handshake(2, &body);
        let hash = self.suite.hash();
        self.transcript.select(hash);
        self.transcript.update(&msg);
        let psk = spec.psk_identity.map(|_| &self.psk[..]);
        let ks = KeySchedule::early(hash, psk).into_handshake(dhe.as_ref().map(|s| s.as_bytes()));
        let th = self.transcript.current_hash();
        self.client_hs = ks.client_handshake_traffic_secret(th.as_bytes());
        self.server_hs = ks.server_handshake_traffic_secret(th.as_bytes());
        // Keys for the server's suite whatever the ServerHello claims: a ServerHello naming
        // another suite is rejected before any record is protected.
        let suite = self.suite;
        self.server_write = Some(RecordProtection::new(suite, self.server_hs.as_bytes()).unwrap());
        self.client_read = Some(RecordProtection::new(suite, self.client_hs.as_bytes()).unwrap());
        self.schedule = Some(ks);
        plain_record(22, &msg)
    }

    /// A handshake message added to the transcript (to be sealed by the caller).
    pub fn message(&mut self, ty: u8, body: &[u8]) -> Vec<u8> {
        let m = handshake(ty, body);
        self.transcript.update(&m);
        m
    }

    pub fn encrypted_extensions(&mut self) -> Vec<u8> {
        self.message(8, &[0, 0])
    }

    /// EncryptedExtensions carrying `exts` (already framed with [`ext`]).
    pub fn encrypted_extensions_with(&mut self, exts: &[u8]) -> Vec<u8> {
        let mut body = (exts.len() as u16).to_be_bytes().to_vec();
        body.extend_from_slice(exts);
        self.message(8, &body)
    }

    /// Certificate with an empty context and the DER certificates of `chain`.
    pub fn certificate(&mut self, chain: &[&[u8]]) -> Vec<u8> {
        let mut list = Vec::new();
        for cert in chain {
            list.extend_from_slice(&(cert.len() as u32).to_be_bytes()[1..]);
            list.extend_from_slice(cert);
            list.extend_from_slice(&[0, 0]);
        }
        let mut body = vec![0];
        body.extend_from_slice(&(list.len() as u32).to_be_bytes()[1..]);
        body.extend(list);
        self.message(11, &body)
    }

    /// CertificateVerify signed with the P-256 key `key_der` (PKCS#8), RFC 8446 §4.4.3.
    pub fn certificate_verify(&mut self, key_der: &[u8]) -> Vec<u8> {
        let th = self.transcript.current_hash();
        let mut content = [0u8; crypto::CERTIFICATE_VERIFY_CONTENT_MAX];
        let content = crypto::certificate_verify_content(true, th.as_bytes(), &mut content);
        let signer = crypto::P256Signer::from_pkcs8_der(key_der, &[]).unwrap();
        let mut sig = [0u8; 128];
        let n = crypto::ClientCertSigner::sign(&signer, content, &mut sig).unwrap();
        let mut body = vec![0x04, 0x03];
        body.extend_from_slice(&(n as u16).to_be_bytes());
        body.extend_from_slice(&sig[..n]);
        self.message(15, &body)
    }

    pub fn finished(&mut self) -> Vec<u8> {
        let th = self.transcript.current_hash();
        let vd = crypto::finished_verify_data(
            self.suite.hash(),
            self.server_hs.as_bytes(),
            th.as_bytes(),
        );
        self.message(20, vd.as_bytes())
    }

    /// The application traffic keys once the server Finished is in the transcript.
    pub fn application_keys(&mut self) -> AppKeys {
        let th = self.transcript.current_hash();
        let schedule = self.schedule.take().unwrap().into_master();
        let c_ap = schedule.client_application_traffic_secret_0(th.as_bytes());
        let s_ap = schedule.server_application_traffic_secret_0(th.as_bytes());
        self.schedule = Some(schedule);
        AppKeys {
            s_write: RecordProtection::new(self.suite, s_ap.as_bytes()).unwrap(),
            c_read: RecordProtection::new(self.suite, c_ap.as_bytes()).unwrap(),
            s_ap,
            c_ap,
        }
    }

    pub fn seal(&mut self, ty: u8, body: &[u8]) -> Vec<u8> {
        seal(self.server_write.as_mut().unwrap(), ty, body)
    }
}

/// Application traffic keys of a scripted connection: the server's write key and the key
/// that opens the client's records, with both secrets (for KeyUpdate).
pub struct AppKeys {
    pub s_write: RecordProtection,
    pub c_read: RecordProtection,
    pub s_ap: Secret,
    pub c_ap: Secret,
}

pub fn hello_retry_request(group: Option<u16>, cookie: Option<&[u8]>) -> (Vec<u8>, Vec<u8>) {
    hello_retry_request_for(0x1301, group, cookie)
}

/// A HelloRetryRequest record for `suite`.
pub fn hello_retry_request_for(
    suite: u16,
    group: Option<u16>,
    cookie: Option<&[u8]>,
) -> (Vec<u8>, Vec<u8>) {
    let mut exts = ext(0x002b, &[0x03, 0x04]);
    if let Some(g) = group {
        exts.extend(ext(0x0033, &g.to_be_bytes()));
    }
    if let Some(c) = cookie {
        let mut body = (c.len() as u16).to_be_bytes().to_vec();
        body.extend_from_slice(c);
        exts.extend(ext(0x002c, &body));
    }
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&encore_tls::wire::handshake::HELLO_RETRY_REQUEST_RANDOM);
    body.push(0);
    body.extend_from_slice(&suite.to_be_bytes());
    body.push(0);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend(exts);
    let msg = handshake(2, &body);
    (plain_record(22, &msg), msg)
}

/// Like [`seal`], with `pad` zero bytes of padding after the content type (RFC 8446 §5.4).
pub fn seal_padded(key: &mut RecordProtection, ty: u8, body: &[u8], pad: usize) -> Vec<u8> {
    let mut inner = body.to_vec();
    inner.push(ty);
    inner.resize(inner.len() + pad, 0);
    let len = inner.len() + 16;
    let hdr = [23, 3, 3, (len >> 8) as u8, len as u8];
    let tag = key.encrypt(&hdr, &mut inner).unwrap();
    let mut r = hdr.to_vec();
    r.extend_from_slice(&inner);
    r.extend_from_slice(&tag);
    r
}

impl Scripted {
    /// The PSK of a ticket with `nonce`, once the client's Finished message (`client_finished`,
    /// the plaintext handshake message) is known: RFC 8446 §4.6.1 over the
    /// resumption_master_secret. Call after [`Scripted::application_keys`].
    pub fn ticket_psk(&mut self, client_finished: &[u8], nonce: &[u8]) -> Secret {
        self.transcript.update(client_finished);
        let th = self.transcript.current_hash();
        let rms = self
            .schedule
            .as_ref()
            .expect("application_keys first")
            .resumption_master_secret(th.as_bytes());
        crypto::resumption_psk(self.suite.hash(), rms.as_bytes(), nonce)
    }
}

/// A NewSessionTicket message: `lifetime_s`, age_add 0x01020304, `nonce`, `ticket`, no
/// extensions.
pub fn new_session_ticket(lifetime_s: u32, nonce: &[u8], ticket: &[u8]) -> Vec<u8> {
    let mut body = lifetime_s.to_be_bytes().to_vec();
    body.extend_from_slice(&0x0102_0304u32.to_be_bytes());
    body.push(nonce.len() as u8);
    body.extend_from_slice(nonce);
    body.extend_from_slice(&(ticket.len() as u16).to_be_bytes());
    body.extend_from_slice(ticket);
    body.extend_from_slice(&[0, 0]);
    handshake(4, &body)
}
