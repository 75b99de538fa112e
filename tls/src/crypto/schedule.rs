//! The TLS 1.3 key schedule (RFC 8446 §7.1) and the derivations around it: Finished and binder
//! MACs (§4.4.4, §4.2.11.2), ticket PSKs (§4.6.1) and KeyUpdate (§7.2).

use hmac::block_api::HmacCore;
use hmac::digest::block_api::CoreProxy;
use hmac::digest::OutputSizeUser;
use hmac::{EagerHash, Hmac, KeyInit, Mac};
use sha2::Sha256;
#[cfg(feature = "sha384")]
use sha2::Sha384;
use zeroize::Zeroize;

use super::{CryptoError, Digest, HashAlg, Secret, MAX_HASH_LEN};

/// Prefix of every HKDF label (RFC 8446 §7.1).
const LABEL_PREFIX: &[u8] = b"tls13 ";

/// `HKDF-Expand-Label(secret, label, context, out.len())` (RFC 8446 §7.1).
///
/// `label` is given without the `"tls13 "` prefix. `secret` must be at least `Hash.length`
/// bytes; `label` at most 249 bytes, `context` at most 255 and `out` at most `255 * Hash.length`
/// bytes, otherwise [`CryptoError::BadLength`].
pub fn hkdf_expand_label(
    hash: HashAlg,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    ExpandKey::new(hash, secret)?.expand_label(label, context, out)
}

#[cfg(feature = "sha384")]
const EXPAND_SIZE: usize = {
    let (a, b) = (size_of::<HmacCore<Sha256>>(), size_of::<HmacCore<Sha384>>());
    if a > b {
        a
    } else {
        b
    }
};
#[cfg(not(feature = "sha384"))]
const EXPAND_SIZE: usize = size_of::<HmacCore<Sha256>>();
/// Words of the zeros that stand for no key: aligned, covering the largest keyed state.
const NO_EXPAND_WORDS: usize = EXPAND_SIZE.div_ceil(8);

/// HKDF-Expand keyed with one secret (the PRK).
///
/// Keying HMAC hashes the inner and outer pads, one compression each; every expansion from
/// the same secret (the several labels of one key schedule stage, `key` and `iv` of one
/// traffic secret) starts from a copy of that keyed state instead of keying again. The HMAC
/// state wipes itself when dropped.
///
/// Only the HMAC core is kept (the two hash states), not a whole `Hmac` or `Hkdf`: those
/// carry a block buffer that is never initialised, and a value moved into the connection
/// with unwritten bytes carries whatever the stack held where it was built (E7; the (EC)DHE
/// shared secret, found there by the residue tests). For the same reason every variant is
/// padded with zeros to the size of the largest.
#[allow(dead_code)] // the padding is written, never read
#[derive(Clone)]
pub(crate) enum ExpandKey {
    /// No key: the place of a key schedule that holds none.
    None([u64; NO_EXPAND_WORDS]),
    Sha256(
        HmacCore<Sha256>,
        [u8; EXPAND_SIZE - size_of::<HmacCore<Sha256>>()],
    ),
    #[cfg(feature = "sha384")]
    Sha384(
        HmacCore<Sha384>,
        [u8; EXPAND_SIZE - size_of::<HmacCore<Sha384>>()],
    ),
    /// Stands for SHA-384 when the `sha384` feature is off: every expansion fails.
    #[cfg(not(feature = "sha384"))]
    Unsupported([u64; NO_EXPAND_WORDS]),
}

/// HMAC keyed with `key`, only its core kept.
fn hmac_core<D: EagerHash>(key: &[u8]) -> Option<HmacCore<D>>
where
    Hmac<D>: KeyInit + CoreProxy<Core = HmacCore<D>>,
{
    Hmac::<D>::new_from_slice(key).ok().map(|h| h.decompose().0)
}

/// `HKDF-Expand(PRK, info, okm.len())` (RFC 5869 §2.3) from the keyed core of the PRK, `info`
/// given in parts. Every block, secret material, is wiped once copied out.
fn expand_core<D: EagerHash>(
    core: &HmacCore<D>,
    info: &[&[u8]],
    okm: &mut [u8],
) -> Result<(), CryptoError>
where
    Hmac<D>: Mac + CoreProxy<Core = HmacCore<D>>,
{
    let hash_len = <Hmac<D> as OutputSizeUser>::output_size();
    if okm.len() > 255 * hash_len {
        return Err(CryptoError::BadLength);
    }
    let mut prev: Option<hmac::digest::Output<Hmac<D>>> = None;
    for (n, block) in okm.chunks_mut(hash_len).enumerate() {
        let mut mac = Hmac::<D>::compose(core.clone(), Default::default());
        if let Some(p) = prev.as_ref() {
            Mac::update(&mut mac, p);
        }
        for part in info {
            Mac::update(&mut mac, part);
        }
        Mac::update(&mut mac, &[n as u8 + 1]);
        let out = mac.finalize().into_bytes();
        block.copy_from_slice(out.get(..block.len()).ok_or(CryptoError::BadLength)?);
        if let Some(p) = prev.as_mut() {
            p.as_mut_slice().zeroize();
        }
        prev = Some(out);
    }
    if let Some(p) = prev.as_mut() {
        p.as_mut_slice().zeroize();
    }
    Ok(())
}

impl ExpandKey {
    fn sha256(h: HmacCore<Sha256>) -> Self {
        ExpandKey::Sha256(h, [0; EXPAND_SIZE - size_of::<HmacCore<Sha256>>()])
    }

    #[cfg(feature = "sha384")]
    fn sha384(h: HmacCore<Sha384>) -> Self {
        ExpandKey::Sha384(h, [0; EXPAND_SIZE - size_of::<HmacCore<Sha384>>()])
    }
}

impl ExpandKey {
    /// Keys HKDF-Expand with `secret`; [`CryptoError::BadLength`] when it is shorter than the
    /// hash, [`CryptoError::UnsupportedSuite`] for a hash this build leaves out.
    pub(crate) fn new(hash: HashAlg, secret: &[u8]) -> Result<Self, CryptoError> {
        // RFC 5869 §2.3: the PRK is at least HashLen bytes.
        if secret.len() < hash.output_len() {
            return Err(CryptoError::BadLength);
        }
        match hash {
            HashAlg::Sha256 => hmac_core::<Sha256>(secret).map(ExpandKey::sha256),
            #[cfg(feature = "sha384")]
            HashAlg::Sha384 => hmac_core::<Sha384>(secret).map(ExpandKey::sha384),
            #[cfg(not(feature = "sha384"))]
            HashAlg::Sha384 => return Err(CryptoError::UnsupportedSuite),
        }
        .ok_or(CryptoError::BadLength)
    }

    fn hash(&self) -> HashAlg {
        match self {
            ExpandKey::None(_) | ExpandKey::Sha256(..) => HashAlg::Sha256,
            #[cfg(feature = "sha384")]
            ExpandKey::Sha384(..) => HashAlg::Sha384,
            #[cfg(not(feature = "sha384"))]
            ExpandKey::Unsupported(_) => HashAlg::Sha384,
        }
    }

    /// `HKDF-Expand-Label(secret, label, context, out.len())` (RFC 8446 §7.1), with the
    /// limits of [`hkdf_expand_label`].
    pub(crate) fn expand_label(
        &self,
        label: &[u8],
        context: &[u8],
        out: &mut [u8],
    ) -> Result<(), CryptoError> {
        let out_len = u16::try_from(out.len()).map_err(|_| CryptoError::BadLength)?;
        let label_len =
            u8::try_from(LABEL_PREFIX.len() + label.len()).map_err(|_| CryptoError::BadLength)?;
        let context_len = u8::try_from(context.len()).map_err(|_| CryptoError::BadLength)?;
        let length = out_len.to_be_bytes();
        let info: [&[u8]; 6] = [
            &length,
            &[label_len],
            LABEL_PREFIX,
            label,
            &[context_len],
            context,
        ];
        match self {
            ExpandKey::None(_) => Err(CryptoError::BadLength),
            ExpandKey::Sha256(h, _) => expand_core(h, &info, out),
            #[cfg(feature = "sha384")]
            ExpandKey::Sha384(h, _) => expand_core(h, &info, out),
            #[cfg(not(feature = "sha384"))]
            ExpandKey::Unsupported(_) => Err(CryptoError::UnsupportedSuite),
        }
    }

    /// `HKDF-Expand-Label` producing `Hash.length` bytes; empty when the inputs are unusable
    /// (a context over 255 bytes), which every later step rejects.
    fn expand_hash_len(&self, label: &[u8], context: &[u8]) -> Secret {
        let mut out = Secret::zeroed(self.hash().output_len());
        match self.expand_label(label, context, out.as_mut_bytes()) {
            Ok(()) => out,
            Err(_) => Secret::empty(),
        }
    }
}

/// `HKDF-Expand-Label` producing `Hash.length` bytes; empty when the inputs are unusable
/// (a `secret` shorter than the hash), which every later step rejects.
fn expand_hash_len(hash: HashAlg, secret: &[u8], label: &[u8], context: &[u8]) -> Secret {
    match ExpandKey::new(hash, secret) {
        Ok(k) => k.expand_hash_len(label, context),
        Err(_) => Secret::empty(),
    }
}

/// `Derive-Secret(secret, label, transcript_hash)` = `HKDF-Expand-Label(secret, label,
/// transcript_hash, Hash.length)` (RFC 8446 §7.1), where the caller has already hashed the
/// messages. Returns an empty [`Secret`] when `secret` is shorter than the hash.
pub fn derive_secret(hash: HashAlg, secret: &[u8], label: &[u8], transcript_hash: &[u8]) -> Secret {
    expand_hash_len(hash, secret, label, transcript_hash)
}

/// `HKDF-Extract(salt, ikm)` (RFC 5869 §2.2) into `prk`, where it lies, and HKDF-Expand
/// keyed with it. For a hash this build leaves out, an empty PRK and an expansion that
/// always fails.
fn hkdf_extract(hash: HashAlg, salt: &[u8], ikm: &[u8], prk: &mut Secret) -> ExpandKey {
    fn extract<D: EagerHash>(salt: &[u8], ikm: &[u8], prk: &mut Secret) -> Option<HmacCore<D>>
    where
        Hmac<D>: KeyInit + Mac + CoreProxy<Core = HmacCore<D>>,
    {
        let mut mac = <Hmac<D> as KeyInit>::new_from_slice(salt).ok()?;
        Mac::update(&mut mac, ikm);
        let mut out = mac.finalize().into_bytes();
        let set = prk.set_from_slice(&out);
        out.as_mut_slice().zeroize();
        set.ok()?;
        hmac_core::<D>(prk.as_bytes())
    }
    let key = match hash {
        HashAlg::Sha256 => extract::<Sha256>(salt, ikm, prk).map(ExpandKey::sha256),
        #[cfg(feature = "sha384")]
        HashAlg::Sha384 => extract::<Sha384>(salt, ikm, prk).map(ExpandKey::sha384),
        #[cfg(not(feature = "sha384"))]
        HashAlg::Sha384 => None,
    };
    key.unwrap_or_else(|| {
        prk.zeroize();
        #[cfg(not(feature = "sha384"))]
        if hash == HashAlg::Sha384 {
            return ExpandKey::Unsupported([0; NO_EXPAND_WORDS]);
        }
        ExpandKey::None([0; NO_EXPAND_WORDS])
    })
}

/// SHA-256 of the empty string.
const SHA256_EMPTY: [u8; 32] = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// SHA-384 of the empty string.
#[cfg(feature = "sha384")]
const SHA384_EMPTY: [u8; 48] = [
    0x38, 0xb0, 0x60, 0xa7, 0x51, 0xac, 0x96, 0x38, 0x4c, 0xd9, 0x32, 0x7e, 0xb1, 0xb1, 0xe3, 0x6a,
    0x21, 0xfd, 0xb7, 0x11, 0x14, 0xbe, 0x07, 0x43, 0x4c, 0x0c, 0xc7, 0xbf, 0x63, 0xf6, 0xe1, 0xda,
    0x27, 0x4e, 0xde, 0xbf, 0xe7, 0x6f, 0x65, 0xfb, 0xd5, 0x1a, 0xd2, 0xf1, 0x48, 0x98, 0xb9, 0x5b,
];

/// `Hash("")`, the context of "derived" and of the binder keys: a constant, so no hash is run
/// for it.
fn empty_hash(hash: HashAlg) -> &'static [u8] {
    match hash {
        HashAlg::Sha256 => &SHA256_EMPTY,
        #[cfg(feature = "sha384")]
        HashAlg::Sha384 => &SHA384_EMPTY,
        #[cfg(not(feature = "sha384"))]
        HashAlg::Sha384 => &[],
    }
}

/// Which secret a [`KeySchedule`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Stage {
    /// Early Secret.
    Early,
    /// Handshake Secret.
    Handshake,
    /// Master Secret.
    Master,
}

/// The chain Early Secret → Handshake Secret → Master Secret (RFC 8446 §7.1).
///
/// Each stage replaces the last (`into_handshake`, `into_master`, or in place
/// `advance_to_handshake`, `advance_to_master`), so an earlier secret cannot be used after it
/// has been superseded, and the old value is wiped where it lay.
#[derive(Clone)]
pub struct KeySchedule {
    hash: HashAlg,
    secret: Secret,
    /// HKDF-Expand keyed with `secret`, shared by every `Derive-Secret` of the stage.
    expand: ExpandKey,
    stage: Stage,
}

impl core::fmt::Debug for KeySchedule {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeySchedule")
            .field("hash", &self.hash)
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

impl KeySchedule {
    /// Early Secret = `HKDF-Extract(0, PSK)`, with a zero PSK of `Hash.length` bytes when
    /// `psk` is `None` (a full handshake). With a hash this build leaves out (SHA-384
    /// without the `sha384` feature) every secret of the schedule is empty.
    pub fn early(hash: HashAlg, psk: Option<&[u8]>) -> Self {
        let mut schedule = KeySchedule::empty();
        schedule.set_early(hash, psk);
        schedule
    }

    /// [`KeySchedule::early`] in place: whatever the schedule held is replaced where it lies
    /// (E7; the engine makes the Early Secret of its offer where it keeps it).
    pub(crate) fn set_early(&mut self, hash: HashAlg, psk: Option<&[u8]>) {
        let zeros = [0u8; MAX_HASH_LEN];
        let zeros = zeros.get(..hash.output_len()).unwrap_or(&[]);
        self.hash = hash;
        self.stage = Stage::Early;
        self.expand = hkdf_extract(hash, zeros, psk.unwrap_or(zeros), &mut self.secret);
    }

    /// No schedule: the place of one, every byte written (E7), holding no secret. Every
    /// derivation from it is empty.
    pub(crate) const fn empty() -> Self {
        KeySchedule {
            hash: HashAlg::Sha256,
            secret: Secret::empty(),
            expand: ExpandKey::None([0; NO_EXPAND_WORDS]),
            stage: Stage::Early,
        }
    }

    /// Whether this is [`KeySchedule::empty`].
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self.expand, ExpandKey::None(_))
    }

    /// The hash this schedule runs on.
    pub fn hash(&self) -> HashAlg {
        self.hash
    }

    /// Which secret is held.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// The secret of the current stage (for known-answer tests and exporters).
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    fn derive(&self, label: &[u8], th: &[u8]) -> Secret {
        self.expand.expand_hash_len(label, th)
    }

    /// Binder key: "res binder" for a resumption PSK from a ticket, "ext binder" for an
    /// external PSK (RFC 8446 §7.1). Only meaningful on the Early Secret.
    pub fn binder_key(&self, resumption: bool) -> Secret {
        let label: &[u8] = if resumption {
            b"res binder"
        } else {
            b"ext binder"
        };
        self.derive(label, empty_hash(self.hash))
    }

    /// client_early_traffic_secret over `Hash(ClientHello)`.
    pub fn client_early_traffic_secret(&self, ch_hash: &[u8]) -> Secret {
        self.derive(b"c e traffic", ch_hash)
    }

    /// early_exporter_master_secret over `Hash(ClientHello)`.
    pub fn early_exporter_master_secret(&self, ch_hash: &[u8]) -> Secret {
        self.derive(b"e exp master", ch_hash)
    }

    /// Next stage, where the schedule lies: `HKDF-Extract(Derive-Secret(., "derived", ""),
    /// ikm)`. The superseded secret is overwritten in place, and its keyed HMAC dropped in
    /// place by the assignment and so wiped (E7): the old stage leaves no copy behind in the
    /// schedule's memory.
    fn advance(&mut self, ikm: Option<&[u8]>, stage: Stage) {
        let salt = self.derive(b"derived", empty_hash(self.hash));
        let zeros = [0u8; MAX_HASH_LEN];
        let zeros = zeros.get(..self.hash.output_len()).unwrap_or(&[]);
        self.expand = hkdf_extract(
            self.hash,
            salt.as_bytes(),
            ikm.unwrap_or(zeros),
            &mut self.secret,
        );
        self.stage = stage;
    }

    /// Handshake Secret from the (EC)DHE shared secret; `None` (psk_ke) uses zeros.
    pub fn into_handshake(mut self, dhe: Option<&[u8]>) -> Self {
        self.advance(dhe, Stage::Handshake);
        self
    }

    /// [`KeySchedule::into_handshake`] in place: the Early Secret is replaced where it lies
    /// (E7; the engine keeps its schedule at one place for the whole handshake).
    pub fn advance_to_handshake(&mut self, dhe: Option<&[u8]>) {
        self.advance(dhe, Stage::Handshake);
    }

    /// [`KeySchedule::into_master`] in place: the Handshake Secret is replaced where it lies.
    pub fn advance_to_master(&mut self) {
        self.advance(None, Stage::Master);
    }

    /// client_handshake_traffic_secret over `Hash(ClientHello..ServerHello)`.
    pub fn client_handshake_traffic_secret(&self, th: &[u8]) -> Secret {
        self.derive(b"c hs traffic", th)
    }

    /// server_handshake_traffic_secret over `Hash(ClientHello..ServerHello)`.
    pub fn server_handshake_traffic_secret(&self, th: &[u8]) -> Secret {
        self.derive(b"s hs traffic", th)
    }

    /// Master Secret.
    pub fn into_master(mut self) -> Self {
        self.advance(None, Stage::Master);
        self
    }

    /// client_application_traffic_secret_0 over `Hash(ClientHello..server Finished)`.
    pub fn client_application_traffic_secret_0(&self, th: &[u8]) -> Secret {
        self.derive(b"c ap traffic", th)
    }

    /// server_application_traffic_secret_0 over `Hash(ClientHello..server Finished)`.
    pub fn server_application_traffic_secret_0(&self, th: &[u8]) -> Secret {
        self.derive(b"s ap traffic", th)
    }

    /// exporter_master_secret over `Hash(ClientHello..server Finished)`.
    pub fn exporter_master_secret(&self, th: &[u8]) -> Secret {
        self.derive(b"exp master", th)
    }

    /// resumption_master_secret over `Hash(ClientHello..client Finished)`; the root of every
    /// ticket PSK of the connection (RFC 8446 §4.6.1).
    pub fn resumption_master_secret(&self, th: &[u8]) -> Secret {
        self.derive(b"res master", th)
    }
}

/// Finished verify_data = `HMAC(HKDF-Expand-Label(base_key, "finished", "", Hash.length),
/// transcript_hash)` (RFC 8446 §4.4.4). With `base_key` = binder key and the hash of the
/// truncated ClientHello, this is the PSK binder (§4.2.11.2). Empty when `base_key` is shorter
/// than the hash.
pub fn finished_verify_data(hash: HashAlg, base_key: &[u8], transcript_hash: &[u8]) -> Digest {
    let finished_key = expand_hash_len(hash, base_key, b"finished", &[]);
    if finished_key.is_empty() {
        return Secret::empty();
    }
    let r = match hash {
        HashAlg::Sha256 => hmac_once::<Hmac<Sha256>>(finished_key.as_bytes(), transcript_hash),
        #[cfg(feature = "sha384")]
        HashAlg::Sha384 => hmac_once::<Hmac<Sha384>>(finished_key.as_bytes(), transcript_hash),
        #[cfg(not(feature = "sha384"))]
        HashAlg::Sha384 => Err(CryptoError::UnsupportedSuite),
    };
    r.unwrap_or_else(|_| Secret::empty())
}

fn hmac_once<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Result<Digest, CryptoError> {
    let mut mac = <M as KeyInit>::new_from_slice(key).map_err(|_| CryptoError::BadLength)?;
    mac.update(data);
    let out = mac.finalize().into_bytes();
    Secret::from_slice(&out)
}

/// PSK of a ticket: `HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce,
/// Hash.length)` (RFC 8446 §4.6.1). Empty when the inputs are unusable (a nonce over 255
/// bytes cannot arrive from a well-formed NewSessionTicket).
pub fn resumption_psk(
    hash: HashAlg,
    resumption_master_secret: &[u8],
    ticket_nonce: &[u8],
) -> Secret {
    expand_hash_len(hash, resumption_master_secret, b"resumption", ticket_nonce)
}

/// `application_traffic_secret_N+1` = `HKDF-Expand-Label(secret_N, "traffic upd", "",
/// Hash.length)` (RFC 8446 §7.2).
pub fn next_traffic_secret(hash: HashAlg, secret: &[u8]) -> Secret {
    expand_hash_len(hash, secret, b"traffic upd", &[])
}

#[cfg(all(test, feature = "sha384"))]
mod tests {
    use super::*;
    use sha2::Digest as _;

    #[test]
    fn empty_hash_constants_are_the_hashes_of_nothing() {
        assert_eq!(empty_hash(HashAlg::Sha256), Sha256::digest([]).as_slice());
        assert_eq!(empty_hash(HashAlg::Sha384), Sha384::digest([]).as_slice());
    }

    /// RFC 8446 §7.1: `HkdfLabel` = length, `"tls13 " + label`, context; a keyed expansion
    /// used for several labels gives what a fresh HKDF over the same info gives.
    #[test]
    fn keyed_expansion_matches_hkdf_over_the_label() {
        use hkdf::Hkdf;
        let secret = [7u8; 32];
        let key = ExpandKey::new(HashAlg::Sha256, &secret).unwrap();
        let fresh = Hkdf::<Sha256>::from_prk(&secret).unwrap();
        let mut a = [0u8; 16];
        key.expand_label(b"key", &[], &mut a).unwrap();
        let mut b = [0u8; 16];
        fresh.expand(b"\x00\x10\ttls13 key\x00", &mut b).unwrap();
        assert_eq!(a, b);
        let mut a = [0u8; 12];
        key.expand_label(b"iv", &[], &mut a).unwrap();
        let mut b = [0u8; 12];
        fresh.expand(b"\x00\x0c\x08tls13 iv\x00", &mut b).unwrap();
        assert_eq!(a, b);
        assert!(ExpandKey::new(HashAlg::Sha384, &secret).is_err());
    }
}
