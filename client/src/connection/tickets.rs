//! Tickets after the handshake: waiting for them (R2) and writing them to a saver (C27, C28).

use super::*;

impl<S: Stream, C: Clock, G: TryCryptoRng, const N: usize, const P: usize, const T: usize>
    Connection<'_, '_, S, C, G, N, P, T>
{
    /// Reads and processes records until `count` NewSessionTickets have arrived on this
    /// connection since `connect` (each one a record in the cache and the connection's
    /// session: C5, C27), and returns how many arrived. TLS 1.3 servers send tickets after the
    /// handshake, unannounced, and `read` waits for application data; this waits for tickets.
    ///
    /// It returns early, with the count so far, when the server's close_notify arrives
    /// (answered, as by `read`) or when application data arrives: that data waits for the
    /// next `read` in the carry buffer ([`Connection::with_carry_buffer`]; without room there
    /// it is [`Error::ReadBufferTooSmall`], as for `read`). The end of the stream without
    /// close_notify is [`Error::TransportClosed`].
    ///
    /// It never gives up by itself: a server that sends fewer tickets keeps it waiting. Wrap it
    /// in the runtime's timeout (for example `embassy_time::with_timeout`). Dropping the
    /// future leaves the connection usable, and nothing received is lost, as long as the
    /// transport's `read` loses no bytes when its future is dropped (embassy-net's
    /// `TcpSocket` is such a transport); the tickets already processed stay cached. A
    /// transport error is returned as is and leaves the connection usable too.
    pub async fn await_tickets(&mut self, count: usize) -> Result<usize, Error> {
        self.await_tickets_until(count, None).await
    }

    pub(super) async fn await_tickets_until(
        &mut self,
        count: usize,
        deadline: Option<u64>,
    ) -> Result<usize, Error> {
        self.check_connected()?;
        loop {
            if self.stats.tickets_received >= count
                || self.close_received
                || self.carry_end > self.carry_start
            {
                return Ok(self.stats.tickets_received);
            }
            if let Err(e) = self.pump(&mut []) {
                return Err(self.fail(e).await);
            }
            let sent = self.send_tx().await;
            if self.close_received {
                if sent.is_ok() {
                    let _ = self.flush_io().await;
                }
                continue;
            }
            sent?;
            if self.stats.tickets_received >= count || self.carry_end > self.carry_start {
                continue;
            }
            if self.check_deadline(deadline).is_err() {
                return Ok(self.stats.tickets_received);
            }
            if self.fill().await? == 0 {
                return Err(Error::TransportClosed);
            }
            if self.check_deadline(deadline).is_err() {
                // Process what arrived, then report.
                if let Err(e) = self.pump(&mut []) {
                    return Err(self.fail(e).await);
                }
                self.send_tx().await?;
                return Ok(self.stats.tickets_received);
            }
        }
    }

    /// [`Connection::await_tickets`] that gives up `timeout_ms` after the call: it returns the
    /// number of tickets that arrived by then (fewer than `count`), or earlier as
    /// `await_tickets` does. The limit is checked every time the transport returns, so a
    /// transport read timeout no longer than `timeout_ms` bounds the wait (otherwise the
    /// transport's own timeout error ends it). Nothing received is lost.
    pub async fn await_tickets_within(
        &mut self,
        count: usize,
        timeout_ms: u32,
    ) -> Result<usize, Error> {
        let deadline = self.ctx.now_ms().saturating_add(u64::from(timeout_ms));
        self.await_tickets_until(count, Some(deadline)).await
    }

    /// [`Connection::await_tickets`], then [`Connection::save_tickets`]: every record made
    /// from the tickets that arrived is written to `saver` (C27), also when waiting ended in
    /// an error (a read timeout, for example). Returns what `await_tickets` returned.
    pub async fn await_tickets_with<V: SessionSaver<P, T>>(
        &mut self,
        count: usize,
        saver: &mut V,
    ) -> Result<usize, Error> {
        let arrived = self.await_tickets(count).await;
        self.save_tickets(saver).await;
        arrived
    }

    /// Writes every record made from this connection's tickets since [`Connection::connect_with`]
    /// to `saver`, oldest first, outside critical sections (E3), with the context's clocks (E6)
    /// and generator. Returns how many were written. A record the saver refuses is counted in
    /// [`ConnectionStats::save_failures`] and released: the ticket stays usable in RAM, it
    /// only does not survive a reboot. Records that can no longer be offered (used, or
    /// invalidated meanwhile: C10, C13, C15) are not written.
    pub async fn save_tickets<V: SessionSaver<P, T>>(&mut self, saver: &mut V) -> usize {
        let ctx = self.ctx;
        let mut written = 0;
        for i in 0..SAVE_QUEUE_LEN {
            let Some(session) = self.to_save.get_mut(i).and_then(Option::take) else {
                continue;
            };
            let mut rng = FallibleRng::new(&ctx.rng);
            match saver
                .save(&session, ctx.now_ms(), ctx.now_unix(), &mut rng)
                .await
            {
                Ok(true) => written += 1,
                Ok(false) => {}
                Err(_) => self.stats.save_failures += 1,
            }
        }
        self.stats.tickets_saved += written;
        written
    }

    /// Records made from this connection's tickets that wait for
    /// [`Connection::save_tickets`].
    pub fn tickets_to_save(&self) -> usize {
        self.to_save.iter().filter(|s| s.is_some()).count()
    }
}
