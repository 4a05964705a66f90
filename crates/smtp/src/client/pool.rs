//! Idle sessions kept for a short while after a transaction, so that the next message to the
//! same domain skips the connection, greeting, EHLO and TLS handshake (RFC 5321 §3.3 allows
//! several transactions per session).
//!
//! Sessions are keyed by (domain, security): a session is only handed out again when the
//! caller checked that its security is still enough for the host's current policy (DANE and
//! MTA-STS, which can change between two messages, included: see [`Security::satisfies`]). Each stored
//! session has a timer task that closes it (QUIT) when it has been idle for the configured time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::session::Session;
use super::tls::Security;

type Key = (String, Security);

#[derive(Debug)]
struct Idle {
    id: u64,
    session: Session,
}

/// The idle sessions.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    idle: Arc<Mutex<HashMap<Key, Vec<Idle>>>>,
    next_id: AtomicU64,
}

fn lock(idle: &Mutex<HashMap<Key, Vec<Idle>>>) -> MutexGuard<'_, HashMap<Key, Vec<Idle>>> {
    // The map stays consistent even if a holder panicked: every change is one insert/remove.
    idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Pool {
    /// Keeps `session` for `domain` for `idle_for`, then closes it unless taken before.
    pub(crate) fn put(&self, domain: &str, session: Session, idle_for: Duration) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let key = (domain.to_ascii_lowercase(), session.security);
        lock(&self.idle)
            .entry(key.clone())
            .or_default()
            .push(Idle { id, session });
        let idle = Arc::downgrade(&self.idle);
        tokio::spawn(async move {
            tokio::time::sleep(idle_for).await;
            let Some(idle) = idle.upgrade() else {
                return;
            };
            let expired = {
                let mut map = lock(&idle);
                let expired = map.get_mut(&key).and_then(|sessions| {
                    let position = sessions.iter().position(|entry| entry.id == id)?;
                    Some(sessions.swap_remove(position))
                });
                if map.get(&key).is_some_and(Vec::is_empty) {
                    map.remove(&key);
                }
                expired
            };
            if let Some(entry) = expired {
                entry.session.quit().await;
            }
        });
    }

    /// Takes an idle session for `domain` whose host `usable` accepts, the most secure first.
    /// Sessions refused by `usable` stay where they are.
    pub(crate) fn take(&self, domain: &str, usable: impl Fn(&Session) -> bool) -> Option<Session> {
        let domain = domain.to_ascii_lowercase();
        let mut map = lock(&self.idle);
        for security in [
            Security::Dane,
            Security::Sts,
            Security::TlsUnauthenticated,
            Security::Plaintext,
        ] {
            let key = (domain.clone(), security);
            let Some(sessions) = map.get_mut(&key) else {
                continue;
            };
            // The most recently used first: the least likely to have been closed remotely.
            if let Some(position) = sessions.iter().rposition(|entry| usable(&entry.session)) {
                let entry = sessions.remove(position);
                if sessions.is_empty() {
                    map.remove(&key);
                }
                return Some(entry.session);
            }
        }
        None
    }

    /// The security of each idle session kept for `domain`, for tests.
    #[cfg(test)]
    pub(crate) fn securities(&self, domain: &str) -> Vec<Security> {
        let domain = domain.to_ascii_lowercase();
        let map = lock(&self.idle);
        let mut securities: Vec<Security> = map
            .iter()
            .filter(|((key, _), _)| *key == domain)
            .flat_map(|((_, security), sessions)| sessions.iter().map(|_| *security))
            .collect();
        securities.sort();
        securities
    }
}
