//! Running handshake hash (RFC 8446 §4.4.1).

use sha2::digest::Reset;
#[cfg(feature = "sha384")]
use sha2::Sha384;
use sha2::{Digest as _, Sha256};

use super::{CipherSuite, Digest, HashAlg, Secret};

/// Handshake message type of the synthetic `message_hash` message (RFC 8446 §4.4.1).
const MESSAGE_HASH: u8 = 254;

#[cfg(feature = "sha384")]
const STATE_SIZE: usize = size_of::<Sha256>() + size_of::<Sha384>();
#[cfg(not(feature = "sha384"))]
const STATE_SIZE: usize = size_of::<Sha256>();
const PAD_256: usize = STATE_SIZE - size_of::<Sha256>();
#[cfg(feature = "sha384")]
const PAD_384: usize = STATE_SIZE - size_of::<Sha384>();

/// Each variant padded with zeros to the size of the largest (E7, as for the record
/// protection's cipher): a value moved into the connection with unwritten bytes would carry
/// whatever the stack held where it was built. The padding is written when the hash is
/// selected, once per handshake.
#[allow(dead_code)] // the padding is written, never read
#[derive(Clone)]
enum State {
    /// The suite is not known yet (the ClientHello leaves before the ServerHello picks it), so
    /// every message goes into both hashes.
    #[cfg(feature = "sha384")]
    Both(Sha256, Sha384),
    Sha256(Sha256, [u8; PAD_256]),
    #[cfg(feature = "sha384")]
    Sha384(Sha384, [u8; PAD_384]),
}

impl State {
    fn sha256(h: Sha256) -> Self {
        State::Sha256(h, [0; PAD_256])
    }

    #[cfg(feature = "sha384")]
    fn sha384(h: Sha384) -> Self {
        State::Sha384(h, [0; PAD_384])
    }
}

/// The transcript hash: `Hash(ClientHello || ... || current message)`.
///
/// Made with [`for_suites`](Transcript::for_suites), it runs only the hashes of the offered
/// suites; when they have both hashes it hashes into SHA-256 and SHA-384 at once and keeps
/// only one after [`select`](Transcript::select), so a client that offers suites of both
/// hashes (or a PSK of either hash) never needs to buffer the ClientHello. Without the
/// `sha384` feature it only ever runs SHA-256, and asking for SHA-384 gives empty hashes.
#[derive(Clone)]
pub struct Transcript {
    state: State,
}

impl Default for Transcript {
    fn default() -> Self {
        Self::new()
    }
}

impl Transcript {
    /// An empty transcript hashing into both SHA-256 and SHA-384 (SHA-256 only without the
    /// `sha384` feature).
    pub fn new() -> Self {
        #[cfg(feature = "sha384")]
        let state = State::Both(Sha256::new(), Sha384::new());
        #[cfg(not(feature = "sha384"))]
        let state = State::sha256(Sha256::new());
        Transcript { state }
    }

    /// An empty transcript hashing only with the hashes of `suites` (wire code points; unknown
    /// ones are ignored): the ServerHello can only pick an offered suite, so the other hash
    /// would never be read. With no known suite, both hashes run.
    pub fn for_suites(suites: &[u16]) -> Self {
        let has = |h: HashAlg| {
            suites
                .iter()
                .any(|&s| CipherSuite::from_u16(s).is_some_and(|s| s.hash() == h))
        };
        match (has(HashAlg::Sha256), has(HashAlg::Sha384)) {
            (true, false) => Transcript {
                state: State::sha256(Sha256::new()),
            },
            #[cfg(feature = "sha384")]
            (false, true) => Transcript {
                state: State::sha384(Sha384::new()),
            },
            _ => Self::new(),
        }
    }

    /// Writes every byte of the hash states' block buffers, where the transcript lies (E7).
    ///
    /// A hash state's block buffer is never initialised when the state is made, so a
    /// transcript moved into the connection carries whatever the stack held where it was
    /// built (a previous connection's secrets) until handshake bytes overwrite it. Feeding one
    /// byte less than a block only fills the buffer (no compression); the reset that follows
    /// leaves the hashes empty. Call on a transcript to which nothing was added yet.
    pub(crate) fn scrub(&mut self) {
        fn scrub<D: sha2::Digest + Reset>(d: &mut D, block: usize) {
            let zeros = [0u8; 127];
            d.update(zeros.get(..block - 1).unwrap_or(&[]));
            Reset::reset(d);
        }
        match &mut self.state {
            #[cfg(feature = "sha384")]
            State::Both(a, b) => {
                scrub(a, 64);
                scrub(b, 128);
            }
            State::Sha256(a, _) => scrub(a, 64),
            #[cfg(feature = "sha384")]
            State::Sha384(b, _) => scrub(b, 128),
        }
    }

    /// Append a whole handshake message (4-byte header included, record header excluded).
    pub fn update(&mut self, handshake_message_bytes: &[u8]) {
        match &mut self.state {
            #[cfg(feature = "sha384")]
            State::Both(a, b) => {
                a.update(handshake_message_bytes);
                b.update(handshake_message_bytes);
            }
            State::Sha256(a, _) => a.update(handshake_message_bytes),
            #[cfg(feature = "sha384")]
            State::Sha384(b, _) => b.update(handshake_message_bytes),
        }
    }

    /// Keep only the hash of the negotiated suite. Selecting a hash the transcript no longer
    /// carries leaves it unchanged.
    pub fn select(&mut self, alg: HashAlg) {
        #[cfg(feature = "sha384")]
        {
            let state = core::mem::replace(&mut self.state, State::sha256(Sha256::new()));
            self.state = match (state, alg) {
                (State::Both(a, _), HashAlg::Sha256) => State::sha256(a),
                (State::Both(_, b), HashAlg::Sha384) => State::sha384(b),
                (other, _) => other,
            };
        }
        #[cfg(not(feature = "sha384"))]
        let _ = alg;
    }

    /// The selected hash, or `None` while both are still running.
    pub fn selected(&self) -> Option<HashAlg> {
        match self.state {
            #[cfg(feature = "sha384")]
            State::Both(..) => None,
            State::Sha256(..) => Some(HashAlg::Sha256),
            #[cfg(feature = "sha384")]
            State::Sha384(..) => Some(HashAlg::Sha384),
        }
    }

    /// Hash of the messages so far with the selected hash (SHA-256 while none is selected).
    /// The transcript is unchanged and can go on.
    pub fn current_hash(&self) -> Digest {
        let alg = self.selected().unwrap_or(HashAlg::Sha256);
        self.hash_with(alg, &[])
    }

    /// Hash of the messages so far with `alg`; meant for use before [`select`](Self::select).
    /// Empty when the transcript no longer carries `alg`.
    pub fn hash_of(&self, alg: HashAlg) -> Digest {
        self.hash_with(alg, &[])
    }

    /// Hash of the messages so far followed by `extra`, without changing the transcript. This
    /// is how PSK binders are computed over the ClientHello truncated before the binders
    /// (RFC 8446 §4.2.11.2). Empty when the transcript no longer carries `alg`.
    pub fn hash_with(&self, alg: HashAlg, extra: &[u8]) -> Digest {
        match (&self.state, alg) {
            (State::Sha256(a, _), HashAlg::Sha256) => finish(a.clone(), extra),
            #[cfg(feature = "sha384")]
            (State::Both(a, _), HashAlg::Sha256) => finish(a.clone(), extra),
            #[cfg(feature = "sha384")]
            (State::Both(_, b), HashAlg::Sha384) | (State::Sha384(b, _), HashAlg::Sha384) => {
                finish(b.clone(), extra)
            }
            _ => Secret::empty(),
        }
    }

    /// After a HelloRetryRequest, replace the transcript by
    /// `message_hash || 00 00 Hash.length || Hash(ClientHello1)` (RFC 8446 §4.4.1) and keep
    /// only `alg`. The HelloRetryRequest itself is appended afterwards with
    /// [`update`](Self::update). A hash this build leaves out leaves the transcript unchanged.
    pub fn replace_with_message_hash(&mut self, alg: HashAlg) {
        let ch1 = self.hash_of(alg);
        let header = [MESSAGE_HASH, 0, 0, ch1.len() as u8];
        self.state = match alg {
            HashAlg::Sha256 => State::sha256(Sha256::new()),
            #[cfg(feature = "sha384")]
            HashAlg::Sha384 => State::sha384(Sha384::new()),
            #[cfg(not(feature = "sha384"))]
            HashAlg::Sha384 => return,
        };
        self.scrub();
        self.update(&header);
        self.update(ch1.as_bytes());
    }
}

fn finish<D: sha2::Digest>(mut d: D, extra: &[u8]) -> Digest {
    d.update(extra);
    let out = d.finalize();
    Secret::from_slice(&out).unwrap_or_else(|_| Secret::empty())
}

#[cfg(all(test, feature = "sha384"))]
mod tests {
    use super::*;

    #[test]
    fn for_suites_runs_only_the_offered_hashes() {
        let msg = b"\x01\x00\x00\x00";
        let t = Transcript::for_suites(&[0x1301, 0x1303]);
        assert_eq!(t.selected(), Some(HashAlg::Sha256));
        assert!(t.hash_of(HashAlg::Sha384).is_empty());
        let mut t = Transcript::for_suites(&[0x1302, 0xffff]);
        assert_eq!(t.selected(), Some(HashAlg::Sha384));
        t.update(msg);
        assert_eq!(t.current_hash().as_bytes(), Sha384::digest(msg).as_slice());
        let mut t = Transcript::for_suites(&[0x1303, 0x1302]);
        assert_eq!(t.selected(), None);
        t.update(msg);
        assert_eq!(
            t.hash_of(HashAlg::Sha256).as_bytes(),
            Sha256::digest(msg).as_slice()
        );
        assert_eq!(Transcript::for_suites(&[]).selected(), None);
    }
}
