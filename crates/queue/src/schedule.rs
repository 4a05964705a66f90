//! Deciding, after an attempt, where a recipient stands and what the sender is to be told
//! (SND-4, RFC 3461 §4.1). Pure: no I/O, no clock; time comes in as Unix seconds.
//!
//! ```text
//!  Outcome ─┬─ Delivered ─► Delivered            (notice Delivered if NOTIFY has SUCCESS)
//!           ├─ Permanent ─► Failed               (notice Failed    if NOTIFY has FAILURE)
//!           └─ Temporary ─┬─ age ≥ give_up ─► Failed   (notice Expired if FAILURE)
//!                         └─ otherwise ─► Pending, next attempt by the retry schedule
//!                               └─ age ≥ delay_notice, not yet warned ─► notice Delayed
//!                                                        (once; if NOTIFY has DELAY)
//! ```
//!
//! NOTIFY absent means FAILURE and DELAY (RFC 3461 §4.1: "the MTA … MAY behave as if
//! NOTIFY=FAILURE,DELAY had been specified", which is what the common servers do).

use std::time::Duration;

use postwerk_store::{Notify, RecipientState, RecipientStatus};

use crate::config::QueueConfig;
use crate::transport::{Failure, Outcome};

/// What the sender is to be told about one recipient: the event of a DSN (RFC 3464 §2.3.3).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Notice {
    /// It was delivered (`Action: delivered`); only when NOTIFY asked for SUCCESS.
    Delivered,
    /// It is still undelivered after `delay_notice` and will be retried (`Action: delayed`).
    Delayed,
    /// A remote server refused it for good (`Action: failed`).
    Failed,
    /// It stayed undeliverable until `give_up`: the queue gave up (`Action: failed`).
    Expired,
}

impl Notice {
    /// Whether the notice tells of a final failure (one report covers both kinds).
    pub fn is_failure(self) -> bool {
        matches!(self, Notice::Failed | Notice::Expired)
    }
}

/// The result of [`decide`]: the recipient's new state, and the notice the sender's NOTIFY
/// allows, if any. Whether a report is actually sent is the caller's business too: never to
/// the null sender (RFC 3461 §5.1, RFC 5321 §4.5.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The state to record.
    pub state: RecipientState,
    /// What to tell the sender about this recipient.
    pub notice: Option<Notice>,
}

/// Whether a recipient's NOTIFY asks for `notice` (RFC 3461 §4.1).
pub fn wants(notify: Option<Notify>, notice: Notice) -> bool {
    // NOTIFY absent: FAILURE and DELAY, never SUCCESS (RFC 3461 §4.1).
    let notify = notify.unwrap_or(Notify {
        success: false,
        failure: true,
        delay: true,
    });
    match notice {
        Notice::Delivered => notify.success,
        Notice::Delayed => notify.delay,
        Notice::Failed | Notice::Expired => notify.failure,
    }
}

/// The new state of a recipient after an attempt made at `now` with `outcome`, for a message
/// accepted at `received_at`, and what to tell the sender about it.
pub fn decide(
    state: &RecipientState,
    notify: Option<Notify>,
    received_at: i64,
    now: i64,
    config: &QueueConfig,
    outcome: &Outcome,
) -> Decision {
    let mut next = RecipientState {
        attempts: state.attempts.saturating_add(1),
        last_attempt_at: Some(now),
        ..state.clone()
    };
    let allowed = |notice| wants(notify, notice).then_some(notice);
    match outcome {
        Outcome::Delivered { remote_mta, reply } => {
            next.status = RecipientStatus::Delivered;
            next.last_status = Some(success_status(reply));
            next.diagnostic = Some(reply.clone());
            next.remote_mta = Some(remote_mta.clone());
            Decision {
                state: next,
                notice: allowed(Notice::Delivered),
            }
        }
        Outcome::Permanent(failure) => {
            remember(&mut next, failure);
            next.status = RecipientStatus::Failed;
            Decision {
                state: next,
                notice: allowed(Notice::Failed),
            }
        }
        Outcome::Temporary(failure) => {
            remember(&mut next, failure);
            let give_up_at = received_at.saturating_add(secs(config.give_up));
            if now >= give_up_at {
                // SND-4: after 3 days, a final failure. The status stays the last answer's
                // (a 4.x.x): it says why, as Postfix's expiry reports do.
                next.status = RecipientStatus::Failed;
                return Decision {
                    state: next,
                    notice: allowed(Notice::Expired),
                };
            }
            next.status = RecipientStatus::Pending;
            let delay_at = received_at.saturating_add(secs(config.delay_notice));
            let mut notice = None;
            if now >= delay_at && !state.delay_notified {
                // SND-4: once. The flag records that the point was handled, so a NOTIFY
                // without DELAY (or a null sender) is not asked again at every attempt.
                next.delay_notified = true;
                notice = allowed(Notice::Delayed);
            }
            let mut due = now.saturating_add(secs(config.retry_after(next.attempts)));
            if !next.delay_notified && due > delay_at {
                // Attempt at the 4 hour point itself, so that the warning goes out then,
                // with a fresh answer, rather than at the next step of the schedule.
                due = delay_at;
            }
            // The last attempt is made at the give-up point itself, not a step after it.
            next.next_attempt_at = due.min(give_up_at);
            Decision {
                state: next,
                notice,
            }
        }
    }
}

/// Records a failure's answer in the state.
fn remember(state: &mut RecipientState, failure: &Failure) {
    state.last_status = Some(failure.status.clone());
    // The remote reply when there is one (the DSN's Diagnostic-Code), else our own reason.
    state.diagnostic = Some(
        failure
            .reply
            .clone()
            .unwrap_or_else(|| failure.reason.clone()),
    );
    state.remote_mta = failure.remote_mta.clone();
}

/// The RFC 3463 status of a success reply: its enhanced code (RFC 2034 §4: after the basic
/// code) when it has one, else `2.0.0`.
fn success_status(reply: &str) -> String {
    reply
        .split_whitespace()
        .nth(1)
        .filter(|code| is_enhanced_status(code) && code.starts_with('2'))
        .unwrap_or("2.0.0")
        .to_owned()
}

/// RFC 3463 §2: `class "." subject "." detail`, class 2, 4 or 5, subject and detail of one
/// to three digits.
pub fn is_enhanced_status(code: &str) -> bool {
    let mut parts = code.split('.');
    let (Some(class), Some(subject), Some(detail), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let digits =
        |part: &str| (1..=3).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit());
    matches!(class, "2" | "4" | "5") && digits(subject) && digits(detail)
}

/// A duration in whole seconds, saturating.
fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000;
    const HOUR: i64 = 3600;
    const DAY: i64 = 86_400;

    fn temporary() -> Outcome {
        Outcome::Temporary(Failure {
            status: "4.2.0".into(),
            remote_mta: Some("mx.remote.example".into()),
            reply: Some("451 4.2.0 try later".into()),
            reason: "the server asked to try later".into(),
        })
    }

    fn unreachable() -> Outcome {
        Outcome::Temporary(Failure {
            status: "4.4.1".into(),
            remote_mta: None,
            reply: None,
            reason: "no server of remote.example answered".into(),
        })
    }

    fn permanent() -> Outcome {
        Outcome::Permanent(Failure {
            status: "5.1.1".into(),
            remote_mta: Some("mx.remote.example".into()),
            reply: Some("550 5.1.1 no such user".into()),
            reason: "the server refused the recipient".into(),
        })
    }

    fn delivered() -> Outcome {
        Outcome::Delivered {
            remote_mta: "mx.remote.example".into(),
            reply: "250 2.0.0 Ok: queued as ABC".into(),
        }
    }

    fn notify(success: bool, failure: bool, delay: bool) -> Option<Notify> {
        Some(Notify {
            success,
            failure,
            delay,
        })
    }

    const NEVER: Option<Notify> = Some(Notify {
        success: false,
        failure: false,
        delay: false,
    });

    fn at(state: &RecipientState, now: i64, outcome: &Outcome) -> Decision {
        decide(state, None, T0, now, &QueueConfig::default(), outcome)
    }

    #[test]
    fn delivered_is_final_and_reported_only_on_success_request() {
        let d = at(&RecipientState::new(), T0, &delivered());
        assert_eq!(d.state.status, RecipientStatus::Delivered);
        assert_eq!(d.state.attempts, 1);
        assert_eq!(d.state.last_attempt_at, Some(T0));
        assert_eq!(d.state.last_status.as_deref(), Some("2.0.0"));
        assert_eq!(d.state.remote_mta.as_deref(), Some("mx.remote.example"));
        assert_eq!(
            d.state.diagnostic.as_deref(),
            Some("250 2.0.0 Ok: queued as ABC")
        );
        assert_eq!(d.notice, None, "RFC 3461 §4.1: no SUCCESS without NOTIFY");

        let cfg = QueueConfig::default();
        let state = RecipientState::new();
        let d = decide(
            &state,
            notify(true, false, false),
            T0,
            T0,
            &cfg,
            &delivered(),
        );
        assert_eq!(d.notice, Some(Notice::Delivered));
        let d = decide(
            &state,
            notify(false, true, true),
            T0,
            T0,
            &cfg,
            &delivered(),
        );
        assert_eq!(d.notice, None);
    }

    #[test]
    fn success_status_comes_from_the_reply_when_it_has_one() {
        assert_eq!(success_status("250 2.6.0 Queued"), "2.6.0");
        assert_eq!(success_status("250 Ok"), "2.0.0");
        assert_eq!(success_status("250 5.1.1 odd"), "2.0.0");
        assert_eq!(success_status(""), "2.0.0");
    }

    #[test]
    fn permanent_failure_is_final_at_once_with_a_failure_notice() {
        let d = at(&RecipientState::new(), T0 + 10, &permanent());
        assert_eq!(d.state.status, RecipientStatus::Failed);
        assert_eq!(d.state.last_status.as_deref(), Some("5.1.1"));
        assert_eq!(
            d.state.diagnostic.as_deref(),
            Some("550 5.1.1 no such user")
        );
        assert_eq!(d.notice, Some(Notice::Failed));
    }

    #[test]
    fn notify_never_and_notify_without_failure_suppress_the_failure_notice() {
        let cfg = QueueConfig::default();
        let state = RecipientState::new();
        assert_eq!(
            decide(&state, NEVER, T0, T0, &cfg, &permanent()).notice,
            None
        );
        let success_only = notify(true, false, false);
        assert_eq!(
            decide(&state, success_only, T0, T0, &cfg, &permanent()).notice,
            None
        );
        let delay_only = notify(false, false, true);
        assert_eq!(
            decide(&state, delay_only, T0, T0, &cfg, &permanent()).notice,
            None
        );
        let failure = notify(false, true, false);
        assert_eq!(
            decide(&state, failure, T0, T0, &cfg, &permanent()).notice,
            Some(Notice::Failed)
        );
    }

    #[test]
    fn wants_follows_rfc_3461_defaults() {
        assert!(!wants(None, Notice::Delivered));
        assert!(wants(None, Notice::Delayed));
        assert!(wants(None, Notice::Failed));
        assert!(wants(None, Notice::Expired));
        for notice in [
            Notice::Delivered,
            Notice::Delayed,
            Notice::Failed,
            Notice::Expired,
        ] {
            assert!(!wants(NEVER, notice), "{notice:?}");
        }
    }

    #[test]
    fn temporary_failure_follows_the_retry_schedule() {
        let mut state = RecipientState::new();
        let mut now = T0;
        // 1m, 5m, 15m, 30m, 1h, 2h: the first six waits.
        for (attempt, wait) in [60, 300, 900, 1800, 3600, 7200].into_iter().enumerate() {
            let d = at(&state, now, &temporary());
            assert_eq!(d.state.status, RecipientStatus::Pending);
            assert_eq!(d.state.attempts as usize, attempt + 1);
            assert_eq!(
                d.state.next_attempt_at,
                now + wait,
                "attempt {}",
                attempt + 1
            );
            assert_eq!(d.state.last_status.as_deref(), Some("4.2.0"));
            assert_eq!(d.state.diagnostic.as_deref(), Some("451 4.2.0 try later"));
            assert_eq!(d.notice, None);
            now = d.state.next_attempt_at;
            state = d.state;
        }
        assert_eq!(now, T0 + 60 + 300 + 900 + 1800 + 3600 + 7200);
    }

    #[test]
    fn without_a_reply_the_diagnostic_is_our_reason() {
        let d = at(&RecipientState::new(), T0, &unreachable());
        assert_eq!(
            d.state.diagnostic.as_deref(),
            Some("no server of remote.example answered")
        );
        assert_eq!(d.state.remote_mta, None);
    }

    #[test]
    fn an_attempt_is_placed_at_the_delay_point() {
        // 3h51m after arrival, the next step (4 h) would pass the 4 h point: clamp to it.
        let state = RecipientState {
            attempts: 6,
            ..RecipientState::new()
        };
        let now = T0 + 3 * HOUR + 51 * 60;
        let d = at(&state, now, &temporary());
        assert_eq!(d.state.next_attempt_at, T0 + 4 * HOUR);
        assert_eq!(d.notice, None);
    }

    #[test]
    fn snd_4_delay_notice_once_after_four_hours() {
        let state = RecipientState {
            attempts: 7,
            ..RecipientState::new()
        };
        let d = at(&state, T0 + 4 * HOUR - 1, &temporary());
        assert_eq!(d.notice, None, "not before 4 hours");
        assert!(!d.state.delay_notified);

        let d = at(&state, T0 + 4 * HOUR, &temporary());
        assert_eq!(d.notice, Some(Notice::Delayed));
        assert!(d.state.delay_notified);
        assert_eq!(d.state.status, RecipientStatus::Pending);
        assert_eq!(
            d.state.next_attempt_at,
            T0 + 8 * HOUR,
            "the 4 h step repeats"
        );

        let again = at(&d.state, d.state.next_attempt_at, &temporary());
        assert_eq!(again.notice, None, "only once");
        assert!(again.state.delay_notified);
    }

    #[test]
    fn delay_notice_needs_delay_in_notify_but_the_point_is_still_marked() {
        let cfg = QueueConfig::default();
        let state = RecipientState::new();
        let now = T0 + 5 * HOUR;
        let d = decide(
            &state,
            notify(false, true, false),
            T0,
            now,
            &cfg,
            &temporary(),
        );
        assert_eq!(d.notice, None);
        assert!(d.state.delay_notified);
        let d = decide(
            &state,
            notify(false, false, true),
            T0,
            now,
            &cfg,
            &temporary(),
        );
        assert_eq!(d.notice, Some(Notice::Delayed));
    }

    #[test]
    fn snd_4_gives_up_after_three_days_with_the_last_status() {
        let state = RecipientState {
            attempts: 20,
            delay_notified: true,
            ..RecipientState::new()
        };
        let d = at(&state, T0 + 3 * DAY - 1, &temporary());
        assert_eq!(d.state.status, RecipientStatus::Pending);
        assert_eq!(
            d.state.next_attempt_at,
            T0 + 3 * DAY,
            "the last attempt at the give-up point, not a step later"
        );

        let d = at(&state, T0 + 3 * DAY, &unreachable());
        assert_eq!(d.state.status, RecipientStatus::Failed);
        assert_eq!(d.state.last_status.as_deref(), Some("4.4.1"));
        assert_eq!(d.notice, Some(Notice::Expired));
        assert_eq!(d.state.attempts, 21);
    }

    #[test]
    fn expiry_wins_over_a_pending_delay_notice() {
        let d = at(&RecipientState::new(), T0 + 4 * DAY, &temporary());
        assert_eq!(d.notice, Some(Notice::Expired));
        assert!(!d.state.delay_notified);
    }

    #[test]
    fn expiry_with_notify_never_is_silent() {
        let cfg = QueueConfig::default();
        let d = decide(
            &RecipientState::new(),
            NEVER,
            T0,
            T0 + 3 * DAY,
            &cfg,
            &temporary(),
        );
        assert_eq!(d.state.status, RecipientStatus::Failed);
        assert_eq!(d.notice, None);
    }

    #[test]
    fn a_success_after_delays_keeps_the_delay_flag() {
        let state = RecipientState {
            attempts: 9,
            delay_notified: true,
            ..RecipientState::new()
        };
        let d = at(&state, T0 + DAY, &delivered());
        assert_eq!(d.state.status, RecipientStatus::Delivered);
        assert!(d.state.delay_notified);
        assert_eq!(d.state.attempts, 10);
    }

    #[test]
    fn a_configured_schedule_and_limits_are_used() {
        let cfg = QueueConfig {
            retry: vec![Duration::from_secs(10)],
            delay_notice: Duration::from_secs(100),
            give_up: Duration::from_secs(1000),
            ..QueueConfig::default()
        };
        let state = RecipientState::new();
        let d = decide(&state, None, T0, T0, &cfg, &temporary());
        assert_eq!(d.state.next_attempt_at, T0 + 10);
        let d = decide(&state, None, T0, T0 + 95, &cfg, &temporary());
        assert_eq!(
            d.state.next_attempt_at,
            T0 + 100,
            "clamped to the delay point"
        );
        let d = decide(&state, None, T0, T0 + 100, &cfg, &temporary());
        assert_eq!(d.notice, Some(Notice::Delayed));
        let d = decide(&state, None, T0, T0 + 1000, &cfg, &temporary());
        assert_eq!(d.notice, Some(Notice::Expired));
    }

    #[test]
    fn enhanced_status_syntax() {
        for good in ["2.0.0", "4.4.1", "5.1.10", "5.7.123"] {
            assert!(is_enhanced_status(good), "{good}");
        }
        for bad in [
            "", "3.0.0", "5.1", "5.1.1.1", "5..1", "5.1.1234", "x.1.1", "250",
        ] {
            assert!(!is_enhanced_status(bad), "{bad}");
        }
    }

    #[test]
    fn notice_failure_kinds() {
        assert!(Notice::Failed.is_failure());
        assert!(Notice::Expired.is_failure());
        assert!(!Notice::Delayed.is_failure());
        assert!(!Notice::Delivered.is_failure());
    }
}
