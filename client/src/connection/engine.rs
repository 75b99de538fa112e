//! Moving bytes between the transport and the engine: sending what it queued, flushing, filling its receive buffer, running its events, and failing (C15, R10).

use super::*;

impl<S: Stream, C: Clock, G: TryCryptoRng, const N: usize, const P: usize, const T: usize>
    Connection<'_, '_, S, C, G, N, P, T>
{
    /// Writes everything the engine queued to the transport, without flushing it.
    pub(super) async fn send_tx(&mut self) -> Result<(), Error> {
        loop {
            let Some(engine) = self.engine.as_mut() else {
                return Ok(());
            };
            let pending = engine.pending_tx();
            if pending.is_empty() {
                break;
            }
            let n = self
                .io
                .write(pending)
                .await
                .map_err(|e| Error::Io(e.kind()))?;
            if n == 0 {
                return Err(Error::TransportClosed);
            }
            engine.tx_sent(n);
            self.stats.bytes_sent += n;
            self.unflushed = true;
        }
        Ok(())
    }

    /// Flushes the transport if anything was written since its last flush.
    pub(super) async fn flush_io(&mut self) -> Result<(), Error> {
        if self.unflushed {
            self.io.flush().await.map_err(|e| Error::Io(e.kind()))?;
            self.unflushed = false;
        }
        Ok(())
    }

    /// Waits for bytes from the server. What was written must have left first, or a transport
    /// that buffers until `flush` would wait forever for an answer to it.
    pub(super) async fn fill(&mut self) -> Result<usize, Error> {
        self.flush_io().await?;
        let engine = self.engine.as_mut().ok_or(Error::NotConnected)?;
        let space = engine.rx_space();
        if space.is_empty() {
            return Err(Error::Tls(encore_tls::Error::BufferTooSmall));
        }
        let n = self.io.read(space).await.map_err(|e| Error::Io(e.kind()))?;
        engine.rx_filled(n);
        self.stats.bytes_received += n;
        Ok(n)
    }

    /// Runs every buffered event; application data goes to `out` then to the carry buffer.
    /// Returns the number of bytes written to `out`.
    pub(super) fn pump(&mut self, out: &mut [u8]) -> Result<usize, Error> {
        let mut written = 0;
        loop {
            let Some(engine) = self.engine.as_mut() else {
                return Ok(written);
            };
            match engine.process()? {
                None => break,
                Some(Event::HandshakeComplete(s)) => {
                    self.stats.handshake_sent = self.stats.bytes_sent + engine.pending_tx().len();
                    self.stats.handshake_received =
                        self.stats.bytes_received - engine.rx_unprocessed();
                    self.on_complete(s);
                    // Whatever follows the handshake (tickets, data a server sends right after
                    // its Finished) waits for the first `read`.
                    break;
                }
                Some(Event::NewTicket(t)) => {
                    self.stats.tickets_received += 1;
                    let keep = if self.keep_for_saving {
                        Some(&mut self.to_save)
                    } else {
                        None
                    };
                    on_ticket(
                        self.ctx,
                        &self.peer,
                        self.auth_ms,
                        &mut self.current,
                        &mut self.stats,
                        keep,
                        &t,
                    );
                }
                Some(Event::ApplicationData(d)) => {
                    let room = out.get_mut(written..).unwrap_or(&mut []);
                    let n = room.len().min(d.len());
                    if let (Some(dst), Some(src)) = (room.get_mut(..n), d.get(..n)) {
                        dst.copy_from_slice(src);
                    }
                    written += n;
                    let rest = d.get(n..).unwrap_or(&[]);
                    if !rest.is_empty() {
                        let free = self.carry.len().saturating_sub(self.carry_end);
                        if rest.len() > free {
                            return Err(Error::ReadBufferTooSmall { needed: rest.len() });
                        }
                        if let Some(dst) = self
                            .carry
                            .get_mut(self.carry_end..self.carry_end + rest.len())
                        {
                            dst.copy_from_slice(rest);
                        }
                        self.carry_end += rest.len();
                        // Hand the carried bytes out before reading more records.
                        break;
                    }
                    // One record per call: a buffer that holds the largest record's plaintext
                    // never needs the carry buffer, whatever the records' sizes.
                    if written > 0 {
                        break;
                    }
                }
                Some(Event::Closed) => {
                    self.close_received = true;
                }
            }
        }
        if let Some(engine) = self.engine.as_ref() {
            if engine.close_notify_sent() {
                self.close_sent = true;
            }
            self.stats.tickets_skipped = engine.tickets_skipped() as usize;
        }
        Ok(written)
    }

    pub(super) fn take_carry(&mut self, buf: &mut [u8]) -> usize {
        let avail = self
            .carry
            .get(self.carry_start..self.carry_end)
            .unwrap_or(&[]);
        let n = avail.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), avail.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.carry_start += n;
        if self.carry_start == self.carry_end {
            self.carry_start = 0;
            self.carry_end = 0;
        }
        n
    }

    pub(super) fn check_rng(&mut self) -> Result<(), Error> {
        if self.ctx.rng.failures() != self.rng_failures {
            return Err(Error::Rng);
        }
        Ok(())
    }

    /// Ends a failed operation: sends a pending fatal alert, applies C15, fails the connection.
    /// Returns the error to report: [`Error::Rng`] whenever the generator failed during the
    /// handshake (the only time the engine draws from it), whatever else went wrong, and
    /// then nothing queued leaves (R10).
    pub(super) async fn fail(&mut self, e: Error) -> Error {
        let rng_failed = self.phase == Phase::Handshaking && self.check_rng().is_err();
        let e = if rng_failed { Error::Rng } else { e };
        if e != Error::Rng {
            // A fatal alert, if one is due, must leave before the connection is abandoned.
            if self.send_tx().await.is_ok() {
                let _ = self.flush_io().await;
            }
        } else if let Some(engine) = self.engine.as_mut() {
            // Nothing generated with a failed RNG may leave.
            let n = engine.pending_tx().len();
            engine.tx_sent(n);
        }
        if e.is_fatal_alert() && !self.spoiled {
            // C15: a fatal alert, sent or received, invalidates the connection's session.
            if let Some(s) = self.current.get() {
                self.ctx.cache().remove(s);
            }
            self.spoiled = true;
        }
        self.phase = Phase::Failed;
        e
    }
}
