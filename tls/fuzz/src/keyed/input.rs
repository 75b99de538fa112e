//! The input format of the `engine_keyed` target: three header bytes choose the scenario,
//! the rest is a list of operations on the server, the wire and the client. Every byte
//! string decodes (missing bytes read as zero, lengths are cut to what is left), so that
//! libFuzzer's mutations always mean something; [`Script`] writes inputs for the seeds.
//!
//! Header:
//! - byte 0: bits 0–2 the [`Kind`] (value mod 5), bit 3 HelloRetryRequest first, bits 4–5
//!   the suite (1301, 1302, 1303, 1301), bit 6 a cookie in the HelloRetryRequest, bit 7
//!   middlebox compatibility mode;
//! - byte 1: bit 0 ALPN offered, bits 1–2 max_fragment_length (none, 512, 1024, 4096), bit 3
//!   record_size_limit 1024, bit 4 a client certificate, bit 5 an IP literal as server name,
//!   bit 6 no wall clock (only the lower bound; else both), bit 7 small buffers (rx 2048, tx
//!   512);
//! - byte 2: bits 0–6 how the wire is fed to the engine (0: all at once, else that many bytes
//!   a time), bit 7 the HelloRetryRequest asks for another key share (P-256 after X25519;
//!   without it, only the cookie changes, and the engine keeps its key share).
//!
//! Operations: one byte whose value mod 16 is the [`Op`], then its operands.

use encore_tls::client::MaxFragmentLength;
use encore_tls::crypto::CipherSuite;

/// What the server does with the engine's offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// No offer: a full handshake authenticated by the certificate chain.
    Full,
    /// Offer (psk_dhe_ke) accepted with a key share.
    ResumeDhe,
    /// Offer (psk_ke only, no key share sent) accepted without a key share.
    ResumePsk,
    /// Offer (psk_dhe_ke) declined: a full handshake (C6).
    Declined,
    /// Offer (psk_ke only) declined: the server asks for a key share with
    /// HelloRetryRequest, then a full handshake.
    PskOnlyDeclined,
}

const KINDS: [Kind; 5] = [
    Kind::Full,
    Kind::ResumeDhe,
    Kind::ResumePsk,
    Kind::Declined,
    Kind::PskOnlyDeclined,
];

const SUITES: [CipherSuite; 4] = [
    CipherSuite::Aes128GcmSha256,
    CipherSuite::Aes256GcmSha384,
    CipherSuite::Chacha20Poly1305Sha256,
    CipherSuite::Aes128GcmSha256,
];

const FRAGMENTS: [Option<MaxFragmentLength>; 4] = [
    None,
    Some(MaxFragmentLength::Bytes512),
    Some(MaxFragmentLength::Bytes1024),
    Some(MaxFragmentLength::Bytes4096),
];

/// The connection an input runs: the header bytes, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scenario {
    pub kind: Kind,
    /// HelloRetryRequest before ServerHello (always for [`Kind::PskOnlyDeclined`]).
    pub retry: bool,
    /// The server's suite (and, when it resumes, the ticket's).
    pub suite: CipherSuite,
    pub cookie: bool,
    /// The HelloRetryRequest asks for a new key share (always when the ClientHello had none
    /// and the server needs one).
    pub retry_group: bool,
    pub middlebox: bool,
    pub alpn: bool,
    pub max_fragment: Option<MaxFragmentLength>,
    pub record_size_limit: bool,
    pub client_auth: bool,
    pub ip_literal: bool,
    pub no_clock: bool,
    pub small_buffers: bool,
    /// Bytes per feed (0: everything at once; at most 127).
    pub chunk: u8,
}

impl Scenario {
    /// A full handshake with the defaults: no retry, TLS_AES_128_GCM_SHA256, everything
    /// fed at once.
    pub fn new(kind: Kind) -> Self {
        Scenario {
            kind,
            retry: false,
            suite: CipherSuite::Aes128GcmSha256,
            cookie: false,
            retry_group: false,
            middlebox: false,
            alpn: false,
            max_fragment: None,
            record_size_limit: false,
            client_auth: false,
            ip_literal: false,
            no_clock: false,
            small_buffers: false,
            chunk: 0,
        }
    }

    pub fn decode(h: [u8; 3]) -> Self {
        let bit = |b: u8, n: u32| b >> n & 1 == 1;
        Scenario {
            kind: KINDS[usize::from(h[0] & 7) % KINDS.len()],
            retry: bit(h[0], 3),
            suite: SUITES[usize::from(h[0] >> 4 & 3)],
            cookie: bit(h[0], 6),
            middlebox: bit(h[0], 7),
            alpn: bit(h[1], 0),
            max_fragment: FRAGMENTS[usize::from(h[1] >> 1 & 3)],
            record_size_limit: bit(h[1], 3),
            client_auth: bit(h[1], 4),
            ip_literal: bit(h[1], 5),
            no_clock: bit(h[1], 6),
            small_buffers: bit(h[1], 7),
            chunk: h[2] & 0x7f,
            retry_group: bit(h[2], 7),
        }
    }

    pub fn encode(&self) -> [u8; 3] {
        let kind = KINDS.iter().position(|k| *k == self.kind).unwrap_or(0) as u8;
        let suite = SUITES.iter().position(|s| *s == self.suite).unwrap_or(0) as u8;
        let fragment = FRAGMENTS
            .iter()
            .position(|f| *f == self.max_fragment)
            .unwrap_or(0) as u8;
        let b = |v: bool, n: u32| u8::from(v) << n;
        [
            kind | b(self.retry, 3) | suite << 4 | b(self.cookie, 6) | b(self.middlebox, 7),
            b(self.alpn, 0)
                | fragment << 1
                | b(self.record_size_limit, 3)
                | b(self.client_auth, 4)
                | b(self.ip_literal, 5)
                | b(self.no_clock, 6)
                | b(self.small_buffers, 7),
            self.chunk & 0x7f | b(self.retry_group, 7),
        ]
    }
}

/// One operation. Handshake messages are written to the server's flight and sealed by
/// [`Op::Flush`] (and at the end); records and raw bytes go to the wire at once; the wire
/// reaches the engine on [`Op::Deliver`] (and at the end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op<'a> {
    /// 0: a handshake message of any type and body (`ty`, u16 length, body).
    Message { ty: u8, body: &'a [u8] },
    /// 1: EncryptedExtensions; each bit of `mask` adds an extension: ALPN "h2",
    /// max_fragment_length (the offered code, or 2), record_size_limit (64 with bit 7, else
    /// 16385), server_name, early_data, an unknown extension, supported_groups.
    EncryptedExtensions { mask: u8 },
    /// 2: Certificate, `variant` mod 8: leaf+intermediate, leaf alone, intermediate+leaf,
    /// leaf+intermediate+root, client certificate+intermediate, no certificate, leaf with an
    /// entry extension, leaf+intermediate with a request context; bit 3 takes the Ed25519
    /// chain instead of the P-256 one (and CertificateVerify signs with its leaf).
    Certificate { variant: u8 },
    /// 3: CertificateVerify signed by the leaf's key over the transcript so far.
    CertificateVerify,
    /// 4: the correct server Finished; the server's records after it use the application
    /// keys.
    Finished,
    /// 5: CertificateRequest; bit 0 asks for ed25519 instead of ecdsa_secp256r1_sha256, bit
    /// 1 adds a request context, bit 2 adds signature_algorithms_cert, bit 3 leaves
    /// signature_algorithms out.
    CertificateRequest { variant: u8 },
    /// 6: NewSessionTicket (lifetime u32, nonce length u8 whose bit 7 adds early_data,
    /// ticket length u8).
    Ticket {
        lifetime: u32,
        nonce_len: u8,
        ticket_len: u8,
    },
    /// 7: KeyUpdate with `request` as update_requested; the server's next records use its
    /// next traffic secret.
    KeyUpdate { request: u8 },
    /// 8: seal the written messages in records of at most `max` bytes (0: 16384); `mode`
    /// bits 0–6 are the padding per record, bit 7 puts everything under the current key
    /// (a server that ignores where its keys change).
    Flush { max: u16, mode: u8 },
    /// 9: a protected record of inner type `ty` with `pad` bytes of padding (`ty`, `pad`, u16
    /// length, body).
    Record { ty: u8, pad: u8, body: &'a [u8] },
    /// 10: a plaintext record (`ty`, u16 length, body).
    Plain { ty: u8, body: &'a [u8] },
    /// 11: raw bytes on the wire (u8 length, bytes).
    Raw { bytes: &'a [u8] },
    /// 12: feed the wire to the engine and process.
    Deliver,
    /// 13: the application: `action` mod 4 is write `arg` bytes, close, request a
    /// KeyUpdate, send the fatal alert `arg`.
    Client { action: u8, arg: u8 },
    /// 14: flip bits (`xor`, 0 counts as 1) of the wire byte at `at` mod the wire's length.
    Corrupt { at: u16, xor: u8 },
    /// 15: stop (or start again) sending what the engine queues: its transmit buffer fills.
    HoldTx,
}

/// Decodes the input: the scenario, then the operations in order.
pub fn parse(data: &[u8]) -> (Scenario, Ops<'_>) {
    let mut h = [0u8; 3];
    for (d, s) in h.iter_mut().zip(data) {
        *d = *s;
    }
    let rest = data.get(3..).unwrap_or(&[]);
    (Scenario::decode(h), Ops { data: rest })
}

pub struct Ops<'a> {
    data: &'a [u8],
}

impl<'a> Ops<'a> {
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.data.split_at(n.min(self.data.len()));
        self.data = b;
        a
    }
}

impl<'a> Iterator for Ops<'a> {
    type Item = Op<'a>;

    fn next(&mut self) -> Option<Op<'a>> {
        let code = *self.data.first()?;
        self.data = &self.data[1..];
        Some(match code % 16 {
            0 => {
                let ty = self.u8();
                let n = self.u16();
                Op::Message {
                    ty,
                    body: self.take(usize::from(n)),
                }
            }
            1 => Op::EncryptedExtensions { mask: self.u8() },
            2 => Op::Certificate { variant: self.u8() },
            3 => Op::CertificateVerify,
            4 => Op::Finished,
            5 => Op::CertificateRequest { variant: self.u8() },
            6 => Op::Ticket {
                lifetime: self.u32(),
                nonce_len: self.u8(),
                ticket_len: self.u8(),
            },
            7 => Op::KeyUpdate { request: self.u8() },
            8 => Op::Flush {
                max: self.u16(),
                mode: self.u8(),
            },
            9 => {
                let ty = self.u8();
                let pad = self.u8();
                let n = self.u16();
                Op::Record {
                    ty,
                    pad,
                    body: self.take(usize::from(n)),
                }
            }
            10 => {
                let ty = self.u8();
                let n = self.u16();
                Op::Plain {
                    ty,
                    body: self.take(usize::from(n)),
                }
            }
            11 => {
                let n = self.u8();
                Op::Raw {
                    bytes: self.take(usize::from(n)),
                }
            }
            12 => Op::Deliver,
            13 => Op::Client {
                action: self.u8(),
                arg: self.u8(),
            },
            14 => Op::Corrupt {
                at: self.u16(),
                xor: self.u8(),
            },
            _ => Op::HoldTx,
        })
    }
}

/// Writes inputs operation by operation (the seeds, and tests that need a specific input).
#[derive(Clone, Debug)]
pub struct Script {
    bytes: Vec<u8>,
}

impl Script {
    pub fn new(scenario: Scenario) -> Self {
        Script {
            bytes: scenario.encode().to_vec(),
        }
    }

    pub fn op(mut self, op: Op<'_>) -> Self {
        let b = &mut self.bytes;
        let body = |b: &mut Vec<u8>, body: &[u8]| {
            let n = u16::try_from(body.len()).expect("a body fits a u16 length");
            b.extend_from_slice(&n.to_be_bytes());
            b.extend_from_slice(body);
        };
        match op {
            Op::Message { ty, body: m } => {
                b.extend_from_slice(&[0, ty]);
                body(b, m);
            }
            Op::EncryptedExtensions { mask } => b.extend_from_slice(&[1, mask]),
            Op::Certificate { variant } => b.extend_from_slice(&[2, variant]),
            Op::CertificateVerify => b.push(3),
            Op::Finished => b.push(4),
            Op::CertificateRequest { variant } => b.extend_from_slice(&[5, variant]),
            Op::Ticket {
                lifetime,
                nonce_len,
                ticket_len,
            } => {
                b.push(6);
                b.extend_from_slice(&lifetime.to_be_bytes());
                b.extend_from_slice(&[nonce_len, ticket_len]);
            }
            Op::KeyUpdate { request } => b.extend_from_slice(&[7, request]),
            Op::Flush { max, mode } => {
                b.push(8);
                b.extend_from_slice(&max.to_be_bytes());
                b.push(mode);
            }
            Op::Record { ty, pad, body: r } => {
                b.extend_from_slice(&[9, ty, pad]);
                body(b, r);
            }
            Op::Plain { ty, body: r } => {
                b.extend_from_slice(&[10, ty]);
                body(b, r);
            }
            Op::Raw { bytes } => {
                let n = u8::try_from(bytes.len()).expect("raw bytes fit a u8 length");
                b.extend_from_slice(&[11, n]);
                b.extend_from_slice(bytes);
            }
            Op::Deliver => b.push(12),
            Op::Client { action, arg } => b.extend_from_slice(&[13, action, arg]),
            Op::Corrupt { at, xor } => {
                b.push(14);
                b.extend_from_slice(&at.to_be_bytes());
                b.push(xor);
            }
            Op::HoldTx => b.push(15),
        }
        self
    }

    pub fn ops<'a>(self, ops: impl IntoIterator<Item = Op<'a>>) -> Self {
        ops.into_iter().fold(self, Script::op)
    }

    pub fn bytes(self) -> Vec<u8> {
        self.bytes
    }
}
