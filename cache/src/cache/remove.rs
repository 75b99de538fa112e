//! Removing and re-timing entries: `remove`, `flush`, `flush_all`, `set_time`, `set_timeout` (C18, C21, C22).

use super::*;

impl<'p, const N: usize, const P: usize, const T: usize> SessionCache<'p, N, P, T> {
    /// Removes `session` (`SSL_CTX_remove_session`, C18): whether or not it was cached, the record is
    /// marked not resumable and the remove callback fires.
    pub fn remove(&self, session: &Session<'_, P, T>) -> Presence {
        let taken = self
            .with_entry(session, |s, i, b| s.remove(i, Some(b)))
            .flatten();
        let _ = session.mark_not_resumable();
        if let Some(events) = self.events {
            events.removed(session);
        }
        match taken {
            Some(e) => {
                // Released without a second callback.
                drop(e.into_raw().map(|raw| self.pool.from_raw(raw)));
                Presence::Found
            }
            None => Presence::NotFound,
        }
    }

    /// Removes exactly the stale entries (C21), each with a remove callback; returns how many.
    pub fn flush(&self, now_ms: u64) -> usize {
        self.remove_stale(now_ms)
    }

    /// Removes every entry (C21), each with a remove callback; returns how many.
    pub fn flush_all(&self) -> usize {
        let mut removed = 0;
        for _ in 0..N {
            let step = self.locked_with_records(|s, records| {
                let oldest = s.oldest;
                s.entry(oldest)
                    .is_some()
                    .then(|| self.remove_entry(s, records, oldest))
            });
            match step {
                Ok(Some(e)) => {
                    removed += 1;
                    self.finish_removal(e);
                }
                _ => break,
            }
        }
        removed
    }

    fn retime(&self, session: &Session<'_, P, T>, f: impl FnOnce(&mut Entry)) -> Presence {
        self.with_entry(session, |s, i, b| {
            if let Some(e) = s.entry_mut(i) {
                f(e);
                let at = e.timeout_at_s();
                s.horizon_s = s.horizon_s.min(at);
            }
            s.touch(i, b.peer);
        })
        .map_or(Presence::NotFound, |()| Presence::Found)
    }

    /// Sets a cached record's time (`SSL_SESSION_set_time`) to `time_ms` on the monotonic clock
    /// (kept in whole seconds); the entry becomes most recently touched (C22).
    pub fn set_time(&self, session: &Session<'_, P, T>, time_ms: u64) -> Presence {
        self.retime(session, |e| e.time_s = secs(time_ms))
    }

    /// Sets a cached record's timeout (`SSL_SESSION_set_timeout`); the entry becomes most recently
    /// touched (C22).
    pub fn set_timeout(&self, session: &Session<'_, P, T>, timeout_s: u32) -> Presence {
        self.retime(session, |e| e.timeout_s = timeout_s)
    }
}
