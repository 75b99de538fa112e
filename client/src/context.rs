//! The context: OpenSSL's `SSL_CTX`.

use encore_cache::{CacheConfig, CacheEvents, CacheMode, SessionCache};
use encore_session::{Clock, ContextId, PeerId, SessionPool};
use encore_tls::ClientConfig;
use rand_core::TryCryptoRng;

use crate::rng::RngCell;

/// How a connection treats its session when it ends without close_notify (C10, C13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BadSessionRule {
    /// OpenSSL's rule, the default: replacing the session of an open connection (C10), dropping
    /// or clearing an open connection (C13), evicts the session from the cache, marks it not
    /// resumable and fires the remove callback once. A truncated connection may have been cut
    /// by an attacker, so its session is not trusted again.
    #[default]
    Invalidate,
    /// Keep the session cached and resumable. RFC 5246 §7.2.1 dropped the requirement to
    /// invalidate on a close without close_notify in TLS 1.1, and TLS 1.3 tickets are bound to
    /// the handshake, not to how the connection ended. Fatal alerts still invalidate (C15).
    Keep,
}

/// A client context (OpenSSL's `SSL_CTX`): a stable [`ContextId`], the TLS configuration, its own
/// session cache, clocks and a random number generator.
///
/// - `C`: one value that is both the monotonic clock (ticket ages, timeouts) and the wall clock
///   (certificate validity, E6).
/// - `G`: a cryptographic generator (`rand_core` 0.10 `TryCryptoRng`), shared by the context's
///   connections behind a critical section.
/// - `N`: cache entries; `P`, `T`: the session pool's slots and ticket capacity.
///
/// The context owns its [`SessionCache`] over a pool that outlives it (a `&'static` pool on
/// target). Dropping the context flushes every cache entry, firing the remove callback for each;
/// references the application still holds stay valid (C25).
pub struct Context<'a, C, G, const N: usize, const P: usize, const T: usize = 256> {
    id: ContextId,
    tls: ClientConfig<'a>,
    cache: SessionCache<'a, N, P, T>,
    clock: C,
    pub(crate) rng: RngCell<G>,
    rule: BadSessionRule,
    trust: [u8; 16],
}

impl<'a, C: Clock, G: TryCryptoRng, const N: usize, const P: usize, const T: usize>
    Context<'a, C, G, N, P, T>
{
    /// A context with id `id` (stable across reboots, so saved sessions reload into it), TLS
    /// configuration `tls`, a cache of `N` entries over `pool` configured by `cache`.
    pub fn new(
        id: ContextId,
        tls: ClientConfig<'a>,
        pool: &'a SessionPool<P, T>,
        cache: CacheConfig,
        clock: C,
        rng: G,
    ) -> Self {
        Self::build(id, tls, SessionCache::new(pool, id, cache), clock, rng)
    }

    /// [`Context::new`] with new-session and remove callbacks (`SSL_CTX_sess_set_new_cb` /
    /// `_remove_cb`).
    pub fn with_events(
        id: ContextId,
        tls: ClientConfig<'a>,
        pool: &'a SessionPool<P, T>,
        cache: CacheConfig,
        events: &'a (dyn CacheEvents<P, T> + Sync),
        clock: C,
        rng: G,
    ) -> Self {
        Self::build(
            id,
            tls,
            SessionCache::with_events(pool, id, cache, events),
            clock,
            rng,
        )
    }

    fn build(
        id: ContextId,
        tls: ClientConfig<'a>,
        cache: SessionCache<'a, N, P, T>,
        clock: C,
        rng: G,
    ) -> Self {
        // Computed once: every connection's peer identity needs it (C33).
        let trust = tls.trust_fingerprint();
        Context {
            id,
            tls,
            cache,
            clock,
            rng: RngCell::new(rng),
            rule: BadSessionRule::Invalidate,
            trust,
        }
    }

    /// Sets how connections treat the session of a connection that ends without close_notify
    /// (C10, C13); the default is [`BadSessionRule::Invalidate`].
    pub fn set_bad_session_rule(&mut self, rule: BadSessionRule) {
        self.rule = rule;
    }

    /// Monotonic time in milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Wall-clock time in Unix seconds, if known.
    pub fn now_unix(&self) -> Option<u64> {
        self.clock.now_unix()
    }
}

impl<'a, C, G, const N: usize, const P: usize, const T: usize> Context<'a, C, G, N, P, T> {
    /// The application-chosen id; every record this context makes names it (C24, C35).
    pub fn id(&self) -> ContextId {
        self.id
    }

    /// The TLS configuration.
    pub fn tls_config(&self) -> &ClientConfig<'a> {
        &self.tls
    }

    /// The context's session cache (add, lookup, remove, flush, counters by hand: C16–C26).
    pub fn cache(&self) -> &SessionCache<'a, N, P, T> {
        &self.cache
    }

    /// The session pool.
    pub fn pool(&self) -> &'a SessionPool<P, T> {
        self.cache.pool()
    }

    /// The cache mode (C26).
    pub fn cache_mode(&self) -> CacheMode {
        self.cache.config().mode
    }

    /// The rule of C10/C13.
    pub fn bad_session_rule(&self) -> BadSessionRule {
        self.rule
    }

    /// Fingerprint of the trust configuration (C33), as the TLS engine computes it
    /// ([`ClientConfig::trust_fingerprint`]): the trust anchors, or the engine's own value for
    /// the insecure no-verification mode.
    pub fn trust_fingerprint(&self) -> [u8; 16] {
        self.trust
    }

    /// The peer identity of a connection to `server_name` made from this context ("Decided —
    /// peer identity"): the name (case-folded), the ALPN list offered, the trust fingerprint.
    pub fn peer_id(&self, server_name: &str) -> PeerId {
        PeerId::new(server_name, self.tls.alpn, &self.trust)
    }

    /// Cipher suites offered, as code points (for the C7 suite check).
    pub(crate) fn suite_codes(&self, out: &mut [u16; 3]) -> usize {
        let mut n = 0;
        for (o, s) in out.iter_mut().zip(self.tls.cipher_suites) {
            *o = s.to_u16();
            n += 1;
        }
        n
    }
}
