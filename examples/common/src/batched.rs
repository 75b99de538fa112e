//! One TLS record per flush for libraries that write in small pieces.
//!
//! `rust-mqtt` and `reqwless` write a packet or a request header as many short
//! `write` calls and `flush` once it is complete. Over [`encore_client::Connection`]
//! every `write` becomes a TLS record of its own (5 bytes of header and 16 of AEAD tag
//! each, and a packet per record on the wire); [`Batched`] gathers the pieces in a
//! buffer the caller provides and hands them to the connection in one `write` when the
//! library flushes or the buffer is full. Reads pass straight through.

use embedded_io_async::{ErrorType, Read, Write};

/// A stream whose writes are gathered until `flush` (or until `buf` is full).
pub struct Batched<'b, S> {
    inner: S,
    buf: &'b mut [u8],
    len: usize,
}

impl<'b, S: Write> Batched<'b, S> {
    /// Wraps `inner`; `buf` bounds how much one record can carry (a write longer than
    /// `buf` goes to `inner` directly, after what was gathered before it).
    pub fn new(inner: S, buf: &'b mut [u8]) -> Self {
        Batched { inner, buf, len: 0 }
    }

    /// Hands what was gathered to `inner`, without flushing it.
    async fn drain(&mut self) -> Result<(), S::Error> {
        if self.len > 0 {
            let gathered = self.buf.get(..self.len).unwrap_or(&[]);
            self.inner.write_all(gathered).await?;
            self.len = 0;
        }
        Ok(())
    }
}

impl<S: ErrorType> ErrorType for Batched<'_, S> {
    type Error = S::Error;
}

impl<S: Read + Write> Read for Batched<'_, S> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, S::Error> {
        self.inner.read(buf).await
    }
}

impl<S: Write> Write for Batched<'_, S> {
    async fn write(&mut self, data: &[u8]) -> Result<usize, S::Error> {
        if data.is_empty() {
            return Ok(0);
        }
        if self.len + data.len() > self.buf.len() {
            self.drain().await?;
        }
        match self.buf.get_mut(self.len..self.len + data.len()) {
            Some(room) => {
                room.copy_from_slice(data);
                self.len += data.len();
                Ok(data.len())
            }
            // Longer than the whole buffer: one record of its own.
            None => self.inner.write(data).await,
        }
    }

    async fn flush(&mut self) -> Result<(), S::Error> {
        self.drain().await?;
        self.inner.flush().await
    }
}
