//! A deterministic TLS 1.3 server built from encore-tls's own key schedule and record
//! protection, and from the message and record builders of the tests' scripted server
//! (`encore_testkit::scripted`). Unlike that server, it draws its key shares from a fixed
//! seed, so that one input always produces the same bytes, echoes the session id, answers a
//! P-256 share too, and keeps the bookkeeping the fuzz target's checks need: the handshake
//! transcript, the key changes that follow Finished and KeyUpdate, and a reader that opens
//! everything the client sends.
//!
//! The engine under test produced every byte this module parses from the client, so a
//! malformed ClientHello, a record that does not open or a wrong client Finished is a bug of
//! the engine and panics here, on purpose.

use std::collections::HashMap;

use encore_testkit::scripted::{ext, handshake, plain_record, seal_padded};
use encore_tls::crypto::{
    self, CipherSuite, HashAlg, KeyExchange, KeySchedule, NamedGroup, RecordProtection, Secret,
    SignatureScheme, Transcript,
};
use encore_tls::wire::handshake::HELLO_RETRY_REQUEST_RANDOM;
use encore_tls::wire::Reader;

use super::rng::SeededRng;

pub const CONTENT_CCS: u8 = 20;
pub const CONTENT_ALERT: u8 = 21;
pub const CONTENT_HANDSHAKE: u8 = 22;
pub const CONTENT_DATA: u8 = 23;

pub const MSG_NEW_SESSION_TICKET: u8 = 4;
pub const MSG_CERTIFICATE: u8 = 11;
pub const MSG_CERTIFICATE_VERIFY: u8 = 15;
pub const MSG_FINISHED: u8 = 20;
pub const MSG_KEY_UPDATE: u8 = 24;

/// Seed of the server's key shares.
const SERVER_KEY_SEED: u64 = 0x5e1f_5e1f_0000_0001;
/// The random of every ServerHello (not the HelloRetryRequest value).
const SERVER_RANDOM: [u8; 32] = [0x42; 32];

/// How the engine reads a TLSInnerPlaintext: zero padding stripped, the last byte left is
/// the content type (RFC 8446 §5.4). `None` when it is all zeros.
pub fn inner_content(inner: &[u8]) -> Option<(u8, &[u8])> {
    let pos = inner.iter().rposition(|b| *b != 0)?;
    Some((inner[pos], &inner[..pos]))
}

/// One record: content type, body, header.
pub type Record<'a> = (u8, &'a [u8], [u8; 5]);

/// Splits `bytes` into whole records; the rest (a partial record) is returned.
pub fn split_records(mut bytes: &[u8]) -> (Vec<Record<'_>>, &[u8]) {
    let mut out = Vec::new();
    while bytes.len() >= 5 {
        let len = usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
        if bytes.len() < 5 + len {
            break;
        }
        let hdr = [bytes[0], bytes[1], bytes[2], bytes[3], bytes[4]];
        out.push((bytes[0], &bytes[5..5 + len], hdr));
        bytes = &bytes[5 + len..];
    }
    (out, bytes)
}

/// What the server needs from a ClientHello.
pub struct ClientHello {
    pub msg: Vec<u8>,
    pub session_id: Vec<u8>,
    pub suites: Vec<u16>,
    /// (group, public value) of the one key share the engine sends.
    pub share: Option<(u16, Vec<u8>)>,
    /// (identity, binder, offset of the binders list in `msg`).
    pub psk: Option<(Vec<u8>, Vec<u8>, usize)>,
    pub cookie: Option<Vec<u8>>,
}

/// Parses the ClientHello in `flight` (the client's records; a change_cipher_spec may come
/// first in middlebox compatibility mode). Panics when the engine sent something else.
pub fn client_hello(flight: &[u8]) -> ClientHello {
    let (records, rest) = split_records(flight);
    assert!(rest.is_empty(), "the engine queued a partial record");
    let body = records
        .iter()
        .find(|(ty, ..)| *ty == CONTENT_HANDSHAKE)
        .map(|(_, b, _)| *b)
        .expect("the engine queued no ClientHello");
    parse_client_hello(body).expect("the engine's ClientHello does not parse")
}

fn parse_client_hello(msg: &[u8]) -> Option<ClientHello> {
    if msg.first() != Some(&1) {
        return None;
    }
    let mut r = Reader::new(msg.get(4..)?);
    r.take(2 + 32).ok()?;
    let session_id = r.vec8().ok()?.to_vec();
    let suites = r
        .vec16()
        .ok()?
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
        .collect();
    r.vec8().ok()?;
    let exts = r.vec16().ok()?;
    let exts_at = msg.len() - exts.len();
    let mut e = Reader::new(exts);
    let mut hello = ClientHello {
        msg: msg.to_vec(),
        session_id,
        suites,
        share: None,
        psk: None,
        cookie: None,
    };
    while !e.is_empty() {
        let ty = e.u16().ok()?;
        let body_at = exts_at + (exts.len() - e.remaining()) + 2;
        let mut b = Reader::new(e.vec16().ok()?);
        match ty {
            0x0033 => {
                let mut list = Reader::new(b.vec16().ok()?);
                while !list.is_empty() {
                    let g = list.u16().ok()?;
                    let k = list.vec16().ok()?;
                    hello.share = Some((g, k.to_vec()));
                }
            }
            0x002c => hello.cookie = Some(b.vec16().ok()?.to_vec()),
            0x0029 => {
                let ids = b.vec16().ok()?;
                let binders_at = body_at + 2 + ids.len();
                let mut ids = Reader::new(ids);
                let id = ids.vec16().ok()?.to_vec();
                let mut binders = Reader::new(b.vec16().ok()?);
                let binder = binders.vec8().ok()?.to_vec();
                hello.psk = Some((id, binder, binders_at));
                // RFC 8446 §4.2.11: pre_shared_key is the last extension.
                if !e.is_empty() {
                    return None;
                }
            }
            _ => {}
        }
    }
    Some(hello)
}

/// A HelloRetryRequest record and message (RFC 8446 §4.1.4).
pub fn hello_retry_request(
    suite: CipherSuite,
    session_id: &[u8],
    group: Option<NamedGroup>,
    cookie: Option<&[u8]>,
) -> (Vec<u8>, Vec<u8>) {
    let mut exts = ext(0x002b, &[0x03, 0x04]);
    if let Some(g) = group {
        exts.extend(ext(0x0033, &g.to_u16().to_be_bytes()));
    }
    if let Some(c) = cookie {
        let mut body = (c.len() as u16).to_be_bytes().to_vec();
        body.extend_from_slice(c);
        exts.extend(ext(0x002c, &body));
    }
    let msg = hello_message(&HELLO_RETRY_REQUEST_RANDOM, session_id, suite, &exts);
    (plain_record(CONTENT_HANDSHAKE, &msg), msg)
}

fn hello_message(random: &[u8; 32], session_id: &[u8], suite: CipherSuite, exts: &[u8]) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(random);
    body.push(session_id.len() as u8);
    body.extend_from_slice(session_id);
    body.extend_from_slice(&suite.to_u16().to_be_bytes());
    body.push(0);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(exts);
    handshake(2, &body)
}

/// How the server answers the final ClientHello.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    pub suite: CipherSuite,
    /// Accept the offered PSK (identity 0).
    pub accept_psk: bool,
    /// Send a key share (for the group of the client's share).
    pub key_share: bool,
}

/// The handshake up to ServerHello: the same for every input of one scenario, so it is
/// computed once per distinct client flight (see [`Handshakes`]).
#[derive(Clone)]
pub struct AfterServerHello {
    pub server_hello: Vec<u8>,
    pub transcript: Transcript,
    pub schedule: KeySchedule,
    pub client_hs: Secret,
    pub server_hs: Secret,
}

/// The server's part of the handshake up to ServerHello, cached by the exact client flight
/// (ClientHello1, HelloRetryRequest, ClientHello2): the engine's generator is seeded by the
/// scenario, so one scenario always sends the same flight, and the server's X25519 or P-256
/// exchange and key schedule are done once instead of on every input.
#[derive(Default)]
pub struct Handshakes {
    cache: HashMap<Vec<u8>, AfterServerHello>,
}

/// Entries kept at most; the scenarios number in the thousands.
const CACHE_LIMIT: usize = 1 << 14;

impl Handshakes {
    /// The ServerHello answering `hello` (the final ClientHello, after `prior`: ClientHello1
    /// and the HelloRetryRequest message when there was one), with the handshake secrets.
    /// `psk` is the offered session's PSK and hash, whose binder is checked here.
    pub fn server_hello(
        &mut self,
        prior: Option<(&[u8], &[u8])>,
        hello: &ClientHello,
        answer: Answer,
        psk: Option<(&[u8], HashAlg)>,
    ) -> AfterServerHello {
        let mut key = Vec::new();
        if let Some((ch1, hrr)) = prior {
            key.extend_from_slice(ch1);
            key.extend_from_slice(hrr);
        }
        key.extend_from_slice(&hello.msg);
        key.extend_from_slice(&[
            u8::from(answer.accept_psk),
            u8::from(answer.key_share),
            answer.suite.to_u16() as u8,
        ]);
        if let Some(done) = self.cache.get(&key) {
            return done.clone();
        }
        let done = compute_server_hello(prior, hello, answer, psk);
        if self.cache.len() >= CACHE_LIMIT {
            self.cache.clear();
        }
        self.cache.insert(key, done.clone());
        done
    }
}

fn compute_server_hello(
    prior: Option<(&[u8], &[u8])>,
    hello: &ClientHello,
    answer: Answer,
    psk: Option<(&[u8], HashAlg)>,
) -> AfterServerHello {
    let hash = answer.suite.hash();
    let mut transcript = Transcript::new();
    if let Some((ch1, hrr)) = prior {
        transcript.update(ch1);
        transcript.select(hash);
        transcript.replace_with_message_hash(hash);
        transcript.update(hrr);
    }
    // The binder of an offer the ClientHello carries (RFC 8446 §4.2.11.2).
    if let (Some((_, binder, binders_at)), Some((psk, psk_hash))) = (&hello.psk, psk) {
        let bk = KeySchedule::early(psk_hash, Some(psk)).binder_key(true);
        let th = transcript.hash_with(psk_hash, &hello.msg[..*binders_at]);
        let expected = crypto::finished_verify_data(psk_hash, bk.as_bytes(), th.as_bytes());
        assert_eq!(
            expected.as_bytes(),
            &binder[..],
            "the engine's PSK binder is wrong"
        );
    }
    transcript.update(&hello.msg);
    let mut exts = ext(0x002b, &[0x03, 0x04]);
    let mut dhe = None;
    if answer.key_share {
        let (group, public) = hello
            .share
            .as_ref()
            .expect("the scenario answers with a key share only to a ClientHello with one");
        let group = NamedGroup::from_u16(*group).expect("the engine shares a known group");
        let kx = KeyExchange::generate(group, &mut SeededRng::new(SERVER_KEY_SEED))
            .expect("server key share");
        let pk = kx.public_key();
        let mut ks = group.to_u16().to_be_bytes().to_vec();
        ks.extend_from_slice(&(pk.len() as u16).to_be_bytes());
        ks.extend_from_slice(&pk);
        exts.extend(ext(0x0033, &ks));
        dhe = Some(kx.agree(public).expect("the engine's key share is valid"));
    }
    if answer.accept_psk {
        exts.extend(ext(0x0029, &[0, 0]));
    }
    let msg = hello_message(&SERVER_RANDOM, &hello.session_id, answer.suite, &exts);
    transcript.select(hash);
    transcript.update(&msg);
    let psk = psk.filter(|_| answer.accept_psk).map(|(psk, _)| psk);
    let schedule = KeySchedule::early(hash, psk).into_handshake(dhe.as_ref().map(|s| s.as_bytes()));
    let th = transcript.current_hash();
    AfterServerHello {
        server_hello: plain_record(CONTENT_HANDSHAKE, &msg),
        client_hs: schedule.client_handshake_traffic_secret(th.as_bytes()),
        server_hs: schedule.server_handshake_traffic_secret(th.as_bytes()),
        transcript,
        schedule,
    }
}

/// The server's ECDSA P-256 signer with one fixed nonce: R = k·G is computed once, so a
/// signature costs a SHA-256 and a few scalar multiplications instead of a point
/// multiplication (signing every CertificateVerify with RFC 6979 took most of the fuzzer's
/// time). A fixed nonce gives the key away to anyone who sees two signatures; this key is a
/// committed test key, and the engine only has to verify what it receives.
pub struct FastSigner {
    d: p256::Scalar,
    r: p256::Scalar,
    k_inv: p256::Scalar,
}

impl FastSigner {
    pub fn from_pkcs8_der(der: &[u8]) -> Self {
        use p256::elliptic_curve::ops::Reduce;
        use p256::elliptic_curve::point::AffineCoordinates;
        use p256::pkcs8::DecodePrivateKey;
        let d = *p256::SecretKey::from_pkcs8_der(der)
            .expect("PKCS#8 P-256 key")
            .to_nonzero_scalar();
        let k = p256::Scalar::from(0x00c0_ffee_u64);
        let big_r = (p256::ProjectivePoint::GENERATOR * k).to_affine();
        let r = <p256::Scalar as Reduce<p256::U256>>::reduce_bytes(&big_r.x());
        let k_inv = Option::<p256::Scalar>::from(k.invert()).expect("k is not zero");
        FastSigner { d, r, k_inv }
    }

    /// The server's CertificateVerify body over `th` (ecdsa_secp256r1_sha256, RFC 8446
    /// §4.4.3).
    pub fn certificate_verify(&self, th: &[u8]) -> Vec<u8> {
        use p256::elliptic_curve::ops::Reduce;
        let mut content = [0u8; crypto::CERTIFICATE_VERIFY_CONTENT_MAX];
        let content = crypto::certificate_verify_content(true, th, &mut content);
        let digest = Transcript::new().hash_with(HashAlg::Sha256, content);
        let mut z = p256::FieldBytes::default();
        z.copy_from_slice(digest.as_bytes());
        let z = <p256::Scalar as Reduce<p256::U256>>::reduce_bytes(&z);
        let s = self.k_inv * (z + self.r * self.d);
        let sig = der_signature(&self.r.to_bytes(), &s.to_bytes());
        let mut body = SignatureScheme::EcdsaSecp256r1Sha256
            .to_u16()
            .to_be_bytes()
            .to_vec();
        body.extend_from_slice(&(sig.len() as u16).to_be_bytes());
        body.extend(sig);
        body
    }
}

/// Ecdsa-Sig-Value (RFC 3279 §2.2.3): SEQUENCE { r INTEGER, s INTEGER }, both minimal.
fn der_signature(r: &[u8], s: &[u8]) -> Vec<u8> {
    let integer = |v: &[u8]| {
        let v = &v[v.iter().position(|b| *b != 0).unwrap_or(v.len() - 1)..];
        let mut out = vec![0x02];
        let pad = v[0] & 0x80 != 0;
        out.push((v.len() + usize::from(pad)) as u8);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(v);
        out
    };
    let mut body = integer(r);
    body.extend(integer(s));
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

/// What the server does to its keys once a segment of handshake bytes has been sealed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyChange {
    /// The segment ended with the server Finished: application traffic keys follow.
    ToApplication,
    /// The segment ended with a KeyUpdate: the next traffic secret follows (RFC 8446 §7.2).
    Update,
}

/// Handshake bytes written but not yet sealed, cut where the server's write key changes.
struct Segment {
    bytes: Vec<u8>,
    then: Option<KeyChange>,
}

/// A NewSessionTicket as the server sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentTicket {
    pub ticket: Vec<u8>,
    pub nonce: Vec<u8>,
    pub lifetime: u32,
    pub age_add: u32,
    pub max_early_data: u32,
}

/// One connection's server: the handshake after ServerHello, with its keys.
pub struct Server {
    pub suite: CipherSuite,
    hash: HashAlg,
    /// Hash of ClientHello..server Finished, then of the client's Certificate,
    /// CertificateVerify and Finished.
    transcript: Transcript,
    schedule: Option<KeySchedule>,
    client_hs: Secret,
    server_hs: Secret,
    /// The current server write key and its traffic secret.
    write: RecordProtection,
    write_secret: Secret,
    /// Application traffic secrets, once the server Finished was written.
    client_ap: Option<Secret>,
    server_ap: Option<Secret>,
    /// The Master Secret's schedule, for the resumption master secret.
    master: Option<KeySchedule>,
    pending: Vec<Segment>,
    /// A correct server Finished was written (the engine must not complete without one).
    pub finished_sent: bool,
    /// A CertificateVerify signed by the leaf's key was written.
    pub certificate_verify_sent: bool,
    /// Tickets written after Finished, in order.
    pub tickets: Vec<SentTicket>,
    /// Application data sealed under the server's keys, as the engine reads it, in order.
    pub data: Vec<Vec<u8>>,
    /// A close_notify alert was sealed.
    pub close_notify_sent: bool,
    /// Handshake content was sealed outside the message bookkeeping (a raw fragment), so the
    /// engine may see messages the server did not write.
    pub raw_handshake: bool,
    pub key_updates_sent: usize,
    pub client: ClientReader,
}

impl Server {
    pub fn new(suite: CipherSuite, hs: AfterServerHello) -> Self {
        let write = RecordProtection::new(suite, hs.server_hs.as_bytes()).expect("server key");
        let client_read =
            RecordProtection::new(suite, hs.client_hs.as_bytes()).expect("client key");
        Server {
            suite,
            hash: suite.hash(),
            transcript: hs.transcript,
            schedule: Some(hs.schedule),
            client_hs: hs.client_hs.clone(),
            write_secret: hs.server_hs.clone(),
            server_hs: hs.server_hs,
            write,
            client_ap: None,
            server_ap: None,
            master: None,
            pending: Vec::new(),
            finished_sent: false,
            certificate_verify_sent: false,
            tickets: Vec::new(),
            data: Vec::new(),
            close_notify_sent: false,
            raw_handshake: false,
            key_updates_sent: 0,
            client: ClientReader {
                key: client_read,
                secret: hs.client_hs,
                handshake: Vec::new(),
                client_certificate: None,
                finished_verified: false,
                certificate_verified: false,
                resumption_master: None,
                alerts: Vec::new(),
                data: Vec::new(),
                key_updates: 0,
                ccs: 0,
                records: 0,
            },
        }
    }

    /// The transcript hash now (what a CertificateVerify written next signs).
    pub fn transcript_hash(&self) -> Vec<u8> {
        self.transcript.current_hash().as_bytes().to_vec()
    }

    /// The correct server Finished body now.
    pub fn finished_body(&self) -> Vec<u8> {
        let th = self.transcript.current_hash();
        crypto::finished_verify_data(self.hash, self.server_hs.as_bytes(), th.as_bytes())
            .as_bytes()
            .to_vec()
    }

    /// Writes one handshake message (sealed by the next [`Server::flush`]). Before the
    /// server Finished it joins the transcript; a correct Finished switches the server to
    /// the application keys after the record that carries it, a KeyUpdate after it to the
    /// next traffic secret.
    pub fn message(&mut self, ty: u8, body: &[u8]) {
        let msg = handshake(ty, body);
        let mut change = None;
        if !self.finished_sent {
            let correct_finished = ty == MSG_FINISHED && body == self.finished_body();
            self.transcript.update(&msg);
            if correct_finished {
                self.finished_sent = true;
                let schedule = self
                    .schedule
                    .take()
                    .expect("one Finished per handshake")
                    .into_master();
                let th = self.transcript.current_hash();
                self.client_ap = Some(schedule.client_application_traffic_secret_0(th.as_bytes()));
                self.server_ap = Some(schedule.server_application_traffic_secret_0(th.as_bytes()));
                self.master = Some(schedule);
                change = Some(KeyChange::ToApplication);
            }
        } else if ty == MSG_KEY_UPDATE {
            change = Some(KeyChange::Update);
        } else if ty == MSG_NEW_SESSION_TICKET {
            if let Ok(t) = encore_tls::wire::handshake::NewSessionTicket::parse(body) {
                self.tickets.push(SentTicket {
                    ticket: t.ticket.to_vec(),
                    nonce: t.nonce.to_vec(),
                    lifetime: t.lifetime,
                    age_add: t.age_add,
                    max_early_data: t.max_early_data,
                });
            }
        }
        match self.pending.last_mut() {
            Some(seg) if seg.then.is_none() => seg.bytes.extend_from_slice(&msg),
            _ => self.pending.push(Segment {
                bytes: msg,
                then: None,
            }),
        }
        if let Some(seg) = self.pending.last_mut() {
            seg.then = change;
        }
    }

    /// Seals the written handshake messages into records of at most `max` bytes with `pad`
    /// bytes of padding each. A correct server cuts the records where its key changes;
    /// with `coalesce` everything goes under the current key and the key changes follow.
    pub fn flush(&mut self, max: usize, pad: usize, coalesce: bool, wire: &mut Vec<u8>) {
        let max = max.max(1);
        let segments = std::mem::take(&mut self.pending);
        let mut changes = Vec::new();
        let mut bytes = Vec::new();
        for seg in segments {
            bytes.extend_from_slice(&seg.bytes);
            if !coalesce {
                for chunk in bytes.chunks(max) {
                    wire.extend(seal_padded(&mut self.write, CONTENT_HANDSHAKE, chunk, pad));
                }
                bytes.clear();
                if let Some(c) = seg.then {
                    self.change_keys(c);
                }
            } else if let Some(c) = seg.then {
                changes.push(c);
            }
        }
        for chunk in bytes.chunks(max) {
            wire.extend(seal_padded(&mut self.write, CONTENT_HANDSHAKE, chunk, pad));
        }
        for c in changes {
            self.change_keys(c);
        }
    }

    fn change_keys(&mut self, change: KeyChange) {
        self.write_secret = match change {
            KeyChange::ToApplication => self.server_ap.clone().expect("after Finished"),
            KeyChange::Update => {
                self.key_updates_sent += 1;
                crypto::next_traffic_secret(self.hash, self.write_secret.as_bytes())
            }
        };
        self.write =
            RecordProtection::new(self.suite, self.write_secret.as_bytes()).expect("server key");
    }

    /// A record of inner type `ty` sealed under the current key, outside the handshake
    /// message bookkeeping; what the engine will make of it is recorded.
    pub fn record(&mut self, ty: u8, body: &[u8], pad: usize, wire: &mut Vec<u8>) {
        let mut inner = body.to_vec();
        inner.push(ty);
        inner.resize(inner.len() + pad, 0);
        match inner_content(&inner) {
            Some((CONTENT_DATA, content)) => self.data.push(content.to_vec()),
            Some((CONTENT_ALERT, [_, 0])) => self.close_notify_sent = true,
            Some((CONTENT_HANDSHAKE, _)) => self.raw_handshake = true,
            _ => {}
        }
        wire.extend(seal_padded(&mut self.write, ty, body, pad));
    }

    /// Reads what the client sent (see [`ClientReader`]).
    pub fn receive(&mut self, bytes: &[u8]) {
        let (records, rest) = split_records(bytes);
        assert!(rest.is_empty(), "the engine queued a partial record");
        for (ty, body, hdr) in records {
            match ty {
                CONTENT_CCS => {
                    assert_eq!(body, [1], "the engine's change_cipher_spec is malformed");
                    self.client.ccs += 1;
                }
                CONTENT_ALERT => {
                    assert_eq!(body.len(), 2, "the engine's alert is malformed");
                    self.client.alerts.push([body[0], body[1]]);
                }
                CONTENT_DATA => self.protected(body, hdr),
                _ => panic!("the engine sent a plaintext record of type {ty} after ServerHello"),
            }
        }
    }

    fn protected(&mut self, body: &[u8], hdr: [u8; 5]) {
        let split = body
            .len()
            .checked_sub(crypto::TAG_LEN)
            .expect("the engine's protected record is shorter than its tag");
        let mut data = body[..split].to_vec();
        let tag: [u8; crypto::TAG_LEN] = body[split..].try_into().expect("tag length");
        self.client
            .key
            .decrypt(&hdr, &mut data, &tag)
            .expect("the engine's record does not open under the client's current key");
        self.client.records += 1;
        let (ty, content) =
            inner_content(&data).expect("the engine sent an all-zero inner plaintext");
        match ty {
            CONTENT_ALERT => {
                assert_eq!(content.len(), 2, "the engine's alert is malformed");
                self.client.alerts.push([content[0], content[1]]);
            }
            CONTENT_DATA => self.client.data.extend_from_slice(content),
            CONTENT_HANDSHAKE => {
                self.client.handshake.extend_from_slice(content);
                let mut change = None;
                while let Some((ty, msg)) = take_message(&mut self.client.handshake) {
                    assert!(
                        change.is_none(),
                        "the engine put handshake bytes after a key change in one record"
                    );
                    change = self.client_message(ty, &msg);
                }
                if let Some(secret) = change {
                    self.client.key =
                        RecordProtection::new(self.suite, secret.as_bytes()).expect("client key");
                    self.client.secret = secret;
                }
            }
            other => panic!("the engine sent a protected record of type {other}"),
        }
    }

    /// One handshake message from the client; returns the client's next traffic secret when
    /// the message changes it.
    fn client_message(&mut self, ty: u8, msg: &[u8]) -> Option<Secret> {
        let body = &msg[4..];
        match ty {
            MSG_CERTIFICATE => {
                assert!(
                    !self.client.finished_verified,
                    "client Certificate after Finished"
                );
                let mut r = Reader::new(body);
                let context = r.vec8().expect("client Certificate context");
                assert!(context.is_empty(), "client Certificate context not empty");
                let mut list = Reader::new(r.vec24().expect("client certificate_list"));
                if !list.is_empty() {
                    let leaf = list.vec24().expect("client certificate entry");
                    self.client.client_certificate = Some(leaf.to_vec());
                }
                self.transcript.update(msg);
                None
            }
            MSG_CERTIFICATE_VERIFY => {
                let leaf = self
                    .client
                    .client_certificate
                    .clone()
                    .expect("client CertificateVerify without a certificate");
                let mut r = Reader::new(body);
                let scheme = r.u16().expect("client CertificateVerify scheme");
                let sig = r.vec16().expect("client CertificateVerify signature");
                let scheme = SignatureScheme::from_u16(scheme).expect("known scheme");
                let th = self.transcript.current_hash();
                crypto::verify_client_certificate_verify(&leaf, scheme, th.as_bytes(), sig)
                    .expect("the engine's client CertificateVerify does not verify");
                self.client.certificate_verified = true;
                self.transcript.update(msg);
                None
            }
            MSG_FINISHED => {
                assert!(!self.client.finished_verified, "a second client Finished");
                let th = self.transcript.current_hash();
                let expected = crypto::finished_verify_data(
                    self.hash,
                    self.client_hs.as_bytes(),
                    th.as_bytes(),
                );
                assert_eq!(
                    expected.as_bytes(),
                    body,
                    "the engine's client Finished is wrong"
                );
                self.transcript.update(msg);
                let master = self
                    .master
                    .as_ref()
                    .expect("client Finished before the server's");
                let th = self.transcript.current_hash();
                self.client.resumption_master =
                    Some(master.resumption_master_secret(th.as_bytes()));
                self.client.finished_verified = true;
                self.client_ap.clone()
            }
            MSG_KEY_UPDATE => {
                assert!(
                    self.client.finished_verified,
                    "client KeyUpdate during the handshake"
                );
                assert!(
                    body == [0] || body == [1],
                    "the engine's KeyUpdate is malformed"
                );
                self.client.key_updates += 1;
                Some(crypto::next_traffic_secret(
                    self.hash,
                    self.client.secret.as_bytes(),
                ))
            }
            other => panic!("the engine sent handshake message {other}"),
        }
    }

    /// The resumption PSK of a ticket with `nonce` (RFC 8446 §4.6.1), once the client
    /// Finished was read.
    pub fn ticket_psk(&self, nonce: &[u8]) -> Option<Secret> {
        let rms = self.client.resumption_master.as_ref()?;
        Some(crypto::resumption_psk(self.hash, rms.as_bytes(), nonce))
    }
}

/// Takes one whole handshake message off the front of `buf`.
fn take_message(buf: &mut Vec<u8>) -> Option<(u8, Vec<u8>)> {
    if buf.len() < 4 {
        return None;
    }
    let len = usize::from(buf[1]) << 16 | usize::from(buf[2]) << 8 | usize::from(buf[3]);
    if buf.len() < 4 + len {
        return None;
    }
    let msg: Vec<u8> = buf.drain(..4 + len).collect();
    Some((msg[0], msg))
}

/// The server's view of what the client sent after ServerHello.
pub struct ClientReader {
    key: RecordProtection,
    secret: Secret,
    handshake: Vec<u8>,
    client_certificate: Option<Vec<u8>>,
    /// The client Finished arrived and was correct.
    pub finished_verified: bool,
    /// A client CertificateVerify arrived and verified with the client's certificate.
    pub certificate_verified: bool,
    resumption_master: Option<Secret>,
    /// Alerts (level, description), plaintext or protected.
    pub alerts: Vec<[u8; 2]>,
    /// Application data, in order.
    pub data: Vec<u8>,
    pub key_updates: usize,
    pub ccs: usize,
    /// Protected records.
    pub records: usize,
}
