//! The engine's two buffers: what was received (handshake bytes kept for the next message, records not yet opened, a ticket too large to hold being skipped, R4) and what waits to be sent; handing them back wiped.

use super::*;

impl<'a, R, const T: usize> Connection<'a, R, T> {
    /// Free space for received bytes; report how many were written with
    /// [`Connection::rx_filled`].
    pub fn rx_space(&mut self) -> &mut [u8] {
        self.apply_discards();
        let used = self.hs_len + self.raw_len;
        self.rx.get_mut(used..).unwrap_or(&mut [])
    }

    /// Marks `n` bytes of [`Connection::rx_space`] as received.
    pub fn rx_filled(&mut self, n: usize) {
        let free = self.rx.len().saturating_sub(self.hs_len + self.raw_len);
        self.raw_len += n.min(free);
    }

    /// Copies as many of `data` into the receive buffer as fit; returns how many.
    pub fn feed(&mut self, data: &[u8]) -> usize {
        let space = self.rx_space();
        let n = space.len().min(data.len());
        if let (Some(dst), Some(src)) = (space.get_mut(..n), data.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.rx_filled(n);
        n
    }

    /// Received bytes not yet opened as records (for accounting: everything else fed in
    /// has been processed).
    pub fn rx_unprocessed(&self) -> usize {
        self.raw_len.saturating_sub(self.discard_raw)
    }

    /// Bytes waiting to be sent.
    pub fn pending_tx(&self) -> &[u8] {
        self.tx.get(..self.tx_len).unwrap_or(&[])
    }

    /// Reports that the first `n` bytes of [`Connection::pending_tx`] were sent.
    pub fn tx_sent(&mut self, n: usize) {
        let n = n.min(self.tx_len);
        move_bytes(self.tx, n..self.tx_len, 0);
        self.tx_len -= n;
        if self.offer_pending > 0 {
            self.offer_pending = self.offer_pending.saturating_sub(n);
            if self.offer_pending == 0 {
                self.offer_sent = true;
            }
        }
    }

    pub(super) fn apply_discards(&mut self) {
        let used = self.hs_len + self.raw_len;
        if self.discard_hs > 0 {
            let from = (self.hs_keep + self.discard_hs).min(used);
            move_bytes(self.rx, from..used, self.hs_keep);
            let n = from.saturating_sub(self.hs_keep);
            self.hs_len = self.hs_len.saturating_sub(n);
            self.discard_hs = 0;
        }
        if self.discard_raw > 0 {
            let used = self.hs_len + self.raw_len;
            let from = (self.hs_len + self.discard_raw).min(used);
            move_bytes(self.rx, from..used, self.hs_len);
            self.raw_len = self
                .raw_len
                .saturating_sub(from.saturating_sub(self.hs_len));
            self.discard_raw = 0;
        }
    }

    /// A NewSessionTicket after the handshake that `rx` cannot hold: its buffered part is
    /// dropped, the rest is dropped as it arrives, and the ticket is counted as skipped
    /// (it costs the ticket, not the connection). Returns false, changing nothing, for any
    /// other message, and during the handshake (where the message is needed).
    pub(super) fn skip_oversized_ticket(&mut self) -> bool {
        if !matches!(self.state, State::Connected(_)) || self.hs_keep != 0 || self.skip_hs != 0 {
            return false;
        }
        let head = self
            .rx
            .get(..self.hs_len.min(hs::HEADER_LEN))
            .unwrap_or(&[]);
        let [ty, a, b, c] = *head else {
            return false;
        };
        if ty != hs::msg_type::NEW_SESSION_TICKET {
            return false;
        }
        let total = hs::HEADER_LEN + (usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c));
        if total <= self.hs_len {
            return false;
        }
        let used = self.hs_len + self.raw_len;
        move_bytes(self.rx, self.hs_len..used, 0);
        self.skip_hs = total - self.hs_len;
        self.hs_len = 0;
        self.discard_hs = 0;
        self.tickets_skipped = self.tickets_skipped.saturating_add(1);
        true
    }

    /// Drops the kept handshake prefix (the server Certificate) once it is no longer needed.
    pub(crate) fn release_kept(&mut self) {
        let used = self.hs_len + self.raw_len;
        let keep = self.hs_keep.min(self.hs_len);
        move_bytes(self.rx, keep..used, 0);
        self.hs_len -= keep;
        self.hs_keep = 0;
    }

    /// True while the first part of a handshake message waits for the rest (a complete
    /// message is always handled before the next record is opened).
    pub(super) fn handshake_message_partial(&self) -> bool {
        self.hs_len > self.hs_keep || self.skip_hs > 0
    }

    /// True when handshake bytes beyond the current message are buffered: a key change
    /// must fall on a record boundary (RFC 8446 §5.1).
    pub(crate) fn handshake_bytes_after(&self, msg: Span) -> bool {
        self.hs_len > msg.end()
    }
    /// [`Connection::into_buffers`] in place (E7): every secret, the offer's ticket and both
    /// buffers are wiped where they lie, and the buffers are handed back. The connection is
    /// left failed, with empty buffers, holding nothing; dropping it is all that is left to do.
    pub fn release(&mut self) -> (&'a mut [u8], &'a mut [u8]) {
        use zeroize::Zeroize;
        self.wipe_secrets();
        self.offer.clear();
        self.state = State::Failed;
        let rx = core::mem::take(&mut self.rx);
        let tx = core::mem::take(&mut self.tx);
        rx.zeroize();
        tx.zeroize();
        self.hs_len = 0;
        self.hs_keep = 0;
        self.raw_len = 0;
        self.discard_hs = 0;
        self.discard_raw = 0;
        self.skip_hs = 0;
        self.tx_len = 0;
        self.offer_pending = 0;
        (rx, tx)
    }

    /// Ends the connection and gives back the receive and transmit buffers, so that the
    /// caller can start another connection in the same memory (the application-level
    /// connection is reused, as OpenSSL's `SSL_clear`).
    ///
    /// Both buffers come back zeroed: the receive buffer held decrypted application data and
    /// handshake messages, the transmit buffer plaintext before sealing, and bytes not yet
    /// sent are of no use without the engine. The secrets and the offer's ticket are wiped
    /// before this returns, in the connection moved into this call: the place it was moved
    /// from keeps its bytes (E7). [`Connection::release`] does the same in place. A
    /// connection dropped without either call leaves the buffers as they are: they belong to
    /// the caller, who wipes them when their contents matter.
    pub fn into_buffers(mut self) -> (&'a mut [u8], &'a mut [u8]) {
        self.release()
    }
}
