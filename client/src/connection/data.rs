//! Application data and the end of a connection: `read`, `write`, `flush`, KeyUpdate, fatal alerts, close_notify (C11), `clear` (C14).

use super::*;

impl<S: Stream, C: Clock, G: TryCryptoRng, const N: usize, const P: usize, const T: usize>
    Connection<'_, '_, S, C, G, N, P, T>
{
    /// Reads application data into `buf`; `Ok(0)` once the server sent close_notify (answered
    /// with ours, so the session stays resumable: CONTRACT "Decided"). Tickets that arrive are
    /// turned into records (C5, C27). A transport error is returned as is and leaves the
    /// connection usable (for example a read timeout).
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        self.settle_aborted();
        if self.carry_end > self.carry_start {
            return Ok(self.take_carry(buf));
        }
        self.check_connected()?;
        loop {
            if self.close_received {
                return Ok(0);
            }
            let got = match self.pump(buf) {
                Ok(n) => n,
                Err(e) => return Err(self.fail(e).await),
            };
            let sent = self.send_tx().await;
            if self.close_received {
                // Our answering close_notify is best effort: a server that closed first may
                // have shut its socket already.
                if sent.is_ok() {
                    let _ = self.flush_io().await;
                }
                return Ok(got);
            }
            sent?;
            if got > 0 {
                return Ok(got);
            }
            if self.fill().await? == 0 {
                return Err(Error::TransportClosed);
            }
        }
    }

    /// Asks the server for fresh traffic keys in both directions (RFC 8446 §4.6.3): the
    /// KeyUpdate is sent and flushed now, our own keys change at once, and the server's
    /// answer switches its keys when it arrives (handled by [`Connection::read`]).
    pub async fn request_key_update(&mut self) -> Result<(), Error> {
        self.check_writable()?;
        let engine = self.engine.as_mut().ok_or(Error::NotConnected)?;
        engine.request_key_update()?;
        self.send_tx().await?;
        self.flush_io().await
    }

    /// Ends the connection with a fatal alert of the application's choice (for example
    /// `no_application_protocol` when the negotiated ALPN is unacceptable, RFC 7301 §3.2):
    /// the alert is sent and flushed, the connection fails, and its session is invalidated
    /// (C15). Only after a completed handshake; during one, the engine sends the alerts.
    pub async fn send_fatal_alert(
        &mut self,
        description: encore_tls::wire::AlertDescription,
    ) -> Result<(), Error> {
        self.check_connected()?;
        let engine = self.engine.as_mut().ok_or(Error::NotConnected)?;
        let queued = engine.send_fatal_alert(description);
        let sent = match queued {
            Ok(()) => match self.send_tx().await {
                Ok(()) => self.flush_io().await,
                Err(e) => Err(e),
            },
            Err(e) => Err(Error::Tls(e)),
        };
        if !self.spoiled {
            // C15: a fatal alert sent invalidates the connection's session.
            if let Some(s) = self.current.get() {
                self.ctx.cache().remove(s);
            }
            self.spoiled = true;
        }
        self.phase = Phase::Failed;
        sent
    }

    /// Writes all of `data` as application data and sends it.
    pub async fn write(&mut self, data: &[u8]) -> Result<usize, Error> {
        self.check_writable()?;
        let mut off = 0;
        while off < data.len() {
            let rest = data.get(off..).unwrap_or(&[]);
            let engine = self.engine.as_mut().ok_or(Error::NotConnected)?;
            let n = engine.write(rest)?;
            off += n;
            // Handed to the transport, not flushed: see "Flushing the transport".
            self.send_tx().await?;
        }
        Ok(data.len())
    }

    /// Makes sure everything written has left: flushes the transport if anything was written
    /// since its last flush (`embedded_io_async::Write::flush`).
    pub async fn flush(&mut self) -> Result<(), Error> {
        self.check_connected()?;
        self.send_tx().await?;
        self.flush_io().await
    }

    /// Sends close_notify (`SSL_shutdown`); from then on the session is no longer open and stays
    /// cached and resumable (C11). Returns whether the server's close_notify was received
    /// already. Calling it again only flushes.
    pub async fn shutdown(&mut self) -> Result<bool, Error> {
        self.settle_aborted();
        if self.phase != Phase::Connected {
            return Err(match self.phase {
                Phase::Failed => Error::Failed,
                _ => Error::NotConnected,
            });
        }
        if let Some(engine) = self.engine.as_mut() {
            engine.close()?;
        }
        self.close_sent = true;
        self.send_tx().await?;
        // The end of the connection: everything written must leave.
        self.io.flush().await.map_err(|e| Error::Io(e.kind()))?;
        self.unflushed = false;
        Ok(self.close_received)
    }

    /// Marks close_notify as sent without sending it (`SSL_set_shutdown(SSL_SENT_SHUTDOWN)`), so
    /// that closing the transport does not spoil the session (C11).
    pub fn set_shutdown(&mut self) {
        self.settle_aborted();
        self.close_sent = true;
    }

    /// Readies the connection for another `connect` (`SSL_clear`), in the same buffers.
    ///
    /// C14: after a clean shutdown the session stays set, so the next `connect` offers it if it
    /// is still resumable; after an unclean end (open without close_notify, failed, or a dropped
    /// `connect`) it is released, and an open session is invalidated first (C13). C8: resets
    /// `session_reused`. E7: the engine's secrets are wiped where they lie, and the buffers
    /// and the carry buffer are zeroed.
    pub fn clear(&mut self) {
        self.settle_aborted();
        let clean = self.completed && self.close_sent && !self.spoiled;
        let unclean = self.phase == Phase::Failed || (self.completed && !self.close_sent);
        self.invalidate_if_open();
        if unclean && !clean {
            drop(self.current.take());
        }
        // E7: the engine is wiped where it lies (secrets, offer, both buffers, zeroed as they
        // come back) before its place is emptied; taking it out first would leave a copy of
        // its secrets in `self.engine`.
        if let Some(engine) = self.engine.as_mut() {
            self.buffers = Some(engine.release());
        }
        self.engine = None;
        // Application data the caller's `read` buffers could not take.
        self.carry.zeroize();
        self.phase = Phase::Idle;
        self.unflushed = false;
        self.completed = false;
        self.close_sent = false;
        self.close_received = false;
        self.spoiled = false;
        self.reused = false;
        self.summary = None;
        self.carry_start = 0;
        self.carry_end = 0;
    }
}
