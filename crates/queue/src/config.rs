//! The queue's settings: how many deliveries at once, the retry schedule and the limits of
//! SND-4, and the names the reports and SRS addresses carry.

use std::time::Duration;

/// How the queue delivers and when it gives up. `Default` holds the values of SND-4.
#[derive(Clone, PartialEq, Eq)]
pub struct QueueConfig {
    /// Deliveries (attempts at one domain) in flight at once, over all domains; also how many
    /// messages one pass leases at most.
    pub workers: usize,
    /// Deliveries in flight at once to one destination domain, so that one slow or hostile
    /// domain cannot take every worker and large providers do not see us as a flood.
    pub per_domain: usize,
    /// The wait after the 1st, 2nd, … failed attempt; the last step repeats. An empty schedule
    /// retries every 4 hours.
    pub retry: Vec<Duration>,
    /// After how long undelivered the sender is warned, once (SND-4: 4 hours).
    pub delay_notice: Duration,
    /// After how long undelivered the queue gives up and returns the message (SND-4: 3 days).
    pub give_up: Duration,
    /// How long a worker holds a message it is attempting. Must exceed the longest attempt
    /// (every SMTP timeout added up): a worker that dies leaves the message to be retried
    /// when the lease expires, and one that outlives its lease may see it attempted twice.
    pub lease: Duration,
    /// This host's name: the `Reporting-MTA` of the reports and the domain of their
    /// `From: MAILER-DAEMON@…` and `Message-ID`.
    pub hostname: String,
    /// The key of the SRS hashes (RCV-13). Must be kept across restarts and shared by every
    /// node, or bounces to addresses rewritten before are refused; an empty key makes the
    /// hashes forgeable.
    pub srs_secret: Vec<u8>,
    /// The domain of SRS addresses when a forward does not name a better one. Forwards carry
    /// the hosted address that forwards (`forwarded_by`), whose domain is used, so this is a
    /// fallback.
    pub srs_domain: String,
}

/// The retry step used when the schedule is empty.
const FALLBACK_STEP: Duration = Duration::from_secs(4 * 3600);

impl QueueConfig {
    /// The wait after `attempts` failed attempts (1 after the first): the schedule's step
    /// for it, the last step repeating.
    pub fn retry_after(&self, attempts: u32) -> Duration {
        let index = usize::try_from(attempts.saturating_sub(1)).unwrap_or(usize::MAX);
        self.retry
            .get(index)
            .or(self.retry.last())
            .copied()
            .unwrap_or(FALLBACK_STEP)
    }
}

impl Default for QueueConfig {
    fn default() -> QueueConfig {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        QueueConfig {
            workers: 16,
            per_domain: 4,
            // Short steps first (greylisting, RFC 6647 §2.1, usually lets a retry through
            // after a few minutes), then the 4 hour step that repeats until the 3 days.
            retry: vec![
                minutes(1),
                minutes(5),
                minutes(15),
                minutes(30),
                minutes(60),
                minutes(120),
                minutes(240),
            ],
            delay_notice: Duration::from_secs(4 * 3600),
            give_up: Duration::from_secs(3 * 86_400),
            lease: minutes(15),
            hostname: "localhost".into(),
            srs_secret: Vec::new(),
            srs_domain: "localhost".into(),
        }
    }
}

/// The secret stays out of logs.
impl std::fmt::Debug for QueueConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueConfig")
            .field("workers", &self.workers)
            .field("per_domain", &self.per_domain)
            .field("retry", &self.retry)
            .field("delay_notice", &self.delay_notice)
            .field("give_up", &self.give_up)
            .field("lease", &self.lease)
            .field("hostname", &self.hostname)
            .field("srs_secret", &"<hidden>")
            .field("srs_domain", &self.srs_domain)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snd_4_defaults() {
        let config = QueueConfig::default();
        assert_eq!(config.workers, 16);
        assert_eq!(config.per_domain, 4);
        assert_eq!(config.delay_notice, Duration::from_secs(4 * 3600));
        assert_eq!(config.give_up, Duration::from_secs(72 * 3600));
        assert_eq!(config.lease, Duration::from_secs(900));
    }

    #[test]
    fn the_last_retry_step_repeats() {
        let config = QueueConfig::default();
        let secs = |attempts| config.retry_after(attempts).as_secs();
        assert_eq!(secs(0), 60, "before any attempt: the first step");
        assert_eq!(secs(1), 60);
        assert_eq!(secs(2), 300);
        assert_eq!(secs(3), 900);
        assert_eq!(secs(4), 1800);
        assert_eq!(secs(5), 3600);
        assert_eq!(secs(6), 7200);
        assert_eq!(secs(7), 14_400);
        assert_eq!(secs(8), 14_400);
        assert_eq!(secs(u32::MAX), 14_400);
    }

    #[test]
    fn an_empty_schedule_retries_every_four_hours() {
        let config = QueueConfig {
            retry: Vec::new(),
            ..QueueConfig::default()
        };
        assert_eq!(config.retry_after(1), FALLBACK_STEP);
    }

    #[test]
    fn debug_hides_the_srs_secret() {
        let config = QueueConfig {
            srs_secret: b"very-secret".to_vec(),
            ..QueueConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("very-secret") && !shown.contains("118"),
            "{shown}"
        );
    }
}
