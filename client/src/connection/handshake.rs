//! The handshake: choosing the offer (C7, C26, C28, C36), durable consumption, driving the engine until the server Finished (R1, R2), and what a completed handshake changes (C5, C6, C29).

use super::*;

impl<S: Stream, C: Clock, G: TryCryptoRng, const N: usize, const P: usize, const T: usize>
    Connection<'_, '_, S, C, G, N, P, T>
{
    /// Runs the handshake. Offers the session set on this connection if it can be resumed (C7),
    /// otherwise, when none is set, the newest usable one the context's cache holds for this
    /// peer (unless [`encore_cache::CacheMode::NO_INTERNAL_LOOKUP`]).
    ///
    /// C28: the record is claimed before the ClientHello is built ([`Session::claim`]: the C7
    /// check and unused → used in one critical section; a record taken from the cache was
    /// claimed by the cache). So of several connections holding the same record, set on each or
    /// set on one and cached, exactly one offers it; the others make full handshakes. A claimed
    /// ticket that is not sent after all (the engine refuses to start, the transport fails, this
    /// future is dropped) stays used: it is never offered again, which costs one full handshake.
    /// If this future is dropped before it completes, the connection is failed until
    /// [`Connection::clear`]; nothing is invalidated (C12).
    ///
    /// Tickets stay in RAM; [`Connection::connect_with`] also keeps them on durable storage.
    pub async fn connect(&mut self) -> Result<HandshakeSummary, Error> {
        self.keep_for_saving = false;
        self.connect_inner(&mut NoSaver).await
    }

    /// [`Connection::connect`] with a durable session store (`saver`, for example
    /// `encore_store::SessionStore` with the `store` feature), driven outside critical
    /// sections (E3):
    ///
    /// - C28 across power loss: the offered record is claimed in RAM first, as by `connect`
    ///   (whether set with [`Connection::set_session`] or taken from the context's cache),
    ///   then `saver.consume` removes it from durable storage, and only then is the
    ///   ClientHello built and sent. If `consume` fails, the ticket is not offered
    ///   ([`ConnectionStats::offer_withdrawn`]): the handshake is a full one, and the record
    ///   stays used in RAM. So no ticket whose durable consumption failed ever leaves, and a
    ///   reboot never brings back one that did.
    /// - C27: the records this connection's tickets make are kept (up to
    ///   [`SAVE_QUEUE_LEN`], one reference each) until [`Connection::save_tickets`] or
    ///   [`Connection::await_tickets_with`] writes them to the saver, so every ticket is
    ///   saved, not only the newest. Records still waiting are released when the connection
    ///   is dropped.
    pub async fn connect_with<V: SessionSaver<P, T>>(
        &mut self,
        saver: &mut V,
    ) -> Result<HandshakeSummary, Error> {
        self.keep_for_saving = true;
        self.connect_inner(saver).await
    }

    pub(super) async fn connect_inner<V: SessionSaver<P, T>>(
        &mut self,
        saver: &mut V,
    ) -> Result<HandshakeSummary, Error> {
        self.settle_aborted();
        match self.phase {
            Phase::Idle => {}
            Phase::Connected => return Err(Error::AlreadyConnected),
            Phase::Failed | Phase::Handshaking => return Err(Error::Failed),
        }
        let ctx = self.ctx;
        let now = ctx.now_ms();
        let mut codes = [0u16; 3];
        let n = ctx.suite_codes(&mut codes);
        let suites = codes.get(..n).unwrap_or(&[]);

        // Buffers are away only inside an engine, and an engine exists only outside Idle.
        let Some(buffers) = self.buffers.take() else {
            return Err(Error::Failed);
        };
        self.rng_failures = ctx.rng.failures();
        // Placed in `self.engine`, where it stays (E7): the copy of the PSK, its Early Secret
        // and the key share are made there, and never moved.
        let prepared = Engine::prepare_in(
            &mut self.engine,
            ctx.tls_config(),
            self.server_name,
            self.psk_mode,
            buffers,
            SharedRng::new(&ctx.rng),
            ctx.now_unix(),
        );
        let mut engine = match prepared {
            Ok(engine) => engine,
            Err(refused) => return Err(self.refused(refused)),
        };

        // Which session to offer (C7, C26, C28, C36). Only a claim makes an offer: the claim
        // checks C7 and marks the record used in one critical section, so of several
        // connections holding the same record (set on each, or set on one and cached) exactly
        // one offers it (RFC 8446 Appendix C.4). In that same critical section the ticket and
        // the PSK go from the record straight into the engine (E7: no copy on the stack; the
        // ticket's only other copy is the one in the ClientHello). A claimed ticket that is
        // then not sent is lost, which costs a full handshake and nothing else.
        let mut load =
            |record: &SessionRecord<T>, claim: &Offer| load_record(&mut engine, record, claim);
        let mut loaded = false;
        if self.current.get().is_none() {
            let taken = ctx
                .cache()
                .take_for_connect_with(&self.peer, now, suites, &mut load);
            match taken {
                Some((taken, _, ok)) => {
                    // The cache claimed it for this call; its reference moves into the
                    // connection: nothing can fail.
                    drop(self.current.replace(taken));
                    loaded = ok;
                }
                // Nothing taken; a record read but then not handed out is not offered either.
                None => engine.withdraw_offer(),
            }
        } else if let Some(s) = self.current.get() {
            // Every ticket the pool holds fits the engine (both sized by `T`).
            let limits = &ctx.cache().config().limits;
            loaded = s
                .claim_with(now, limits, suites, &mut load)
                .is_ok_and(|(_, ok)| ok);
        }
        // C28 across power loss: durably consumed before the ClientHello is built. If this
        // future is dropped while the saver waits, the connection is failed until `clear`
        // and the claimed ticket stays used (C12).
        let mut withdrawn = false;
        if let (true, Some(s)) = (loaded, self.current.get()) {
            self.phase = Phase::Handshaking;
            let consumed = saver.consume(s).await;
            self.phase = Phase::Idle;
            if consumed.is_err() {
                engine.withdraw_offer();
                withdrawn = true;
            }
        }
        if let Err(refused) = engine.start() {
            return Err(self.refused(refused));
        }
        self.phase = Phase::Handshaking;
        self.stats = ConnectionStats {
            offer_withdrawn: withdrawn,
            ..ConnectionStats::default()
        };
        self.unflushed = false;
        let deadline = self
            .handshake_timeout_ms
            .map(|t| now.saturating_add(u64::from(t)));
        match self.drive_handshake(deadline).await {
            Ok(summary) => Ok(summary),
            Err(e) => {
                let e = self.fail(e).await;
                Err(e)
            }
        }
    }

    /// R1: everything the engine queued, whatever queued it (the first ClientHello, a
    /// second one after HelloRetryRequest, an answering close_notify, the client's flight),
    /// is written before the connection waits for the server again.
    pub(super) async fn drive_handshake(
        &mut self,
        deadline: Option<u64>,
    ) -> Result<HandshakeSummary, Error> {
        loop {
            self.check_rng()?;
            self.pump(&mut [])?;
            // Nothing made with a failed generator may leave (ClientHello2's key share).
            self.check_rng()?;
            self.send_tx().await?;
            if let Some(s) = self.summary {
                // The client Finished goes to the transport; it is flushed before the
                // connection next waits for the server, or by `shutdown`.
                return Ok(s);
            }
            self.check_deadline(deadline)?;
            if self.fill().await? == 0 {
                return Err(Error::TransportClosed);
            }
            self.check_deadline(deadline)?;
        }
    }

    pub(super) fn check_deadline(&self, deadline: Option<u64>) -> Result<(), Error> {
        match deadline {
            Some(d) if self.ctx.now_ms() >= d => Err(Error::HandshakeTimeout),
            _ => Ok(()),
        }
    }

    pub(super) fn on_complete(&mut self, s: HandshakeSummary) {
        let now = self.ctx.now_ms();
        self.completed = true;
        self.summary = Some(s);
        self.reused = s.resumed;
        self.phase = Phase::Connected;
        if s.resumed {
            // C29: tickets of a resumption keep the offered record's authentication time.
            self.auth_ms = self
                .current
                .get()
                .and_then(|cur| cur.info().ok())
                .map(|i| i.received_ms.saturating_sub(i64::from(i.auth_age_s) * 1000))
                .unwrap_or_else(|| clamp_ms(now));
        } else {
            self.auth_ms = clamp_ms(now);
            // C5, C6: after a full handshake (an offer declined, or none made) the connection
            // has no session until the first ticket.
            drop(self.current.take());
        }
    }
}
