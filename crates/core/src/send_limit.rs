//! Outgoing rate limits (SND-6): one compromised mailbox must not ruin the platform's sending
//! reputation. Each outside recipient of submitted mail counts against its mailbox and against
//! the mailbox's organization, over a rolling hour (GCRA from the `governor` crate: the full
//! hourly allowance may go at once, then it comes back steadily). Over either limit, the
//! recipient is refused with a temporary error, and the organization's owners and
//! administrators get one notice per mailbox and hour.
//!
//! The counters live in the process: a restart forgets them, and several nodes would each
//! allow the full rate (a shared counter comes with PostgreSQL).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use postwerk_model::{AddressId, OrgId, Role};
use postwerk_store::Directory;

use crate::CoreError;
use crate::auth::Login;

/// How long after a notice about a mailbox the next one may go.
const NOTICE_EVERY: Duration = Duration::from_secs(3600);

/// Limit checks between sweeps of idle counters (they cost memory per mailbox and org).
const SWEEP_EVERY: u32 = 4096;

/// The `[queue]` limits: outside recipients per hour; 0 means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendPolicy {
    /// Per mailbox.
    pub per_mailbox: u32,
    /// Per organization, all its mailboxes together.
    pub per_organization: u32,
}

/// The verdict for one more outside recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendVerdict {
    /// Within the limits; it counted.
    Allowed,
    /// The mailbox's hourly limit is reached.
    MailboxLimit {
        /// The limit, per hour.
        per_hour: u32,
        /// True for the first refusal since the last notice: tell the administrators.
        notify: bool,
    },
    /// The organization's hourly limit is reached.
    OrganizationLimit {
        /// The limit, per hour.
        per_hour: u32,
        /// True for the first refusal since the last notice: tell the administrators.
        notify: bool,
    },
}

/// Who to tell that a mailbox reached a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitNotice {
    /// The mailbox that reached it.
    pub mailbox: postwerk_model::Address,
    /// The organization's owners and administrators (their login addresses).
    pub recipients: Vec<postwerk_model::Address>,
}

/// The outgoing rate limits of one process.
pub struct SendLimiter {
    directory: Arc<dyn Directory>,
    policy: SendPolicy,
    mailboxes: Option<DefaultKeyedRateLimiter<AddressId>>,
    organizations: Option<DefaultKeyedRateLimiter<OrgId>>,
    /// When each mailbox's administrators were last told.
    noticed: Mutex<HashMap<AddressId, Instant>>,
    checks: std::sync::atomic::AtomicU32,
}

impl std::fmt::Debug for SendLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendLimiter")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

fn limiter<K: std::hash::Hash + Eq + Clone>(per_hour: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    NonZeroU32::new(per_hour).map(|n| RateLimiter::keyed(Quota::per_hour(n)))
}

impl SendLimiter {
    /// Limits per `policy`, finding each mailbox's organization in `directory`.
    pub fn new(directory: Arc<dyn Directory>, policy: SendPolicy) -> SendLimiter {
        SendLimiter {
            directory,
            policy,
            mailboxes: limiter(policy.per_mailbox),
            organizations: limiter(policy.per_organization),
            noticed: Mutex::new(HashMap::new()),
            checks: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// SND-6: counts one outside recipient for the mailbox of `login` and its organization,
    /// unless either is over its limit (then nothing counts).
    pub async fn check(&self, login: &Login) -> Result<SendVerdict, CoreError> {
        self.sweep();
        if let Some(mailboxes) = &self.mailboxes
            && mailboxes.check_key(&login.mailbox).is_err()
        {
            return Ok(SendVerdict::MailboxLimit {
                per_hour: self.policy.per_mailbox,
                notify: self.first_notice(login.mailbox),
            });
        }
        if let Some(organizations) = &self.organizations {
            let org = organization_of(self.directory.as_ref(), login.mailbox).await?;
            if let Some(org) = org
                && organizations.check_key(&org).is_err()
            {
                return Ok(SendVerdict::OrganizationLimit {
                    per_hour: self.policy.per_organization,
                    notify: self.first_notice(login.mailbox),
                });
            }
        }
        Ok(SendVerdict::Allowed)
    }

    /// The owners and administrators of the organization of `login`'s mailbox, to notify.
    pub async fn notice_for(&self, login: &Login) -> Result<LimitNotice, CoreError> {
        notice_for(self.directory.as_ref(), login).await
    }

    /// True once per mailbox and [`NOTICE_EVERY`].
    fn first_notice(&self, mailbox: AddressId) -> bool {
        let now = Instant::now();
        let mut noticed = self.noticed.lock().unwrap_or_else(|e| e.into_inner());
        match noticed.get(&mailbox) {
            Some(at) if now.duration_since(*at) < NOTICE_EVERY => false,
            _ => {
                noticed.insert(mailbox, now);
                true
            }
        }
    }

    /// Forgets counters that are back to a full allowance, now and then.
    fn sweep(&self) {
        let n = self
            .checks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if !n.is_multiple_of(SWEEP_EVERY) {
            return;
        }
        if let Some(mailboxes) = &self.mailboxes {
            mailboxes.retain_recent();
        }
        if let Some(organizations) = &self.organizations {
            organizations.retain_recent();
        }
        let now = Instant::now();
        self.noticed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, at| now.duration_since(*at) < NOTICE_EVERY);
    }
}

/// The notice to the organization's administrators (a plain-text message from the null
/// sender's postmaster name), as a complete message with CRLF line ends.
pub fn limit_notice_message(
    hostname: &str,
    notice: &LimitNotice,
    verdict: &SendVerdict,
    now: i64,
) -> Vec<u8> {
    let (what, per_hour) = match verdict {
        SendVerdict::MailboxLimit { per_hour, .. } => ("this mailbox", *per_hour),
        SendVerdict::OrganizationLimit { per_hour, .. } => ("your organization", *per_hour),
        SendVerdict::Allowed => ("this mailbox", 0),
    };
    let date = chrono::DateTime::<chrono::Utc>::from_timestamp(now, 0)
        .unwrap_or_default()
        .to_rfc2822();
    let to: Vec<String> = notice.recipients.iter().map(ToString::to_string).collect();
    let body = format!(
        "The mailbox {mailbox} has reached the sending limit of {what}: at most {per_hour}\r\n\
         recipients outside the platform per hour. Further mail to outside recipients is\r\n\
         refused with a temporary error (450 4.7.1) until the rate drops below the limit.\r\n\
         \r\n\
         If nobody expected {mailbox} to send that much, its password may be known to\r\n\
         someone else: change it (postwerk admin address passwd {mailbox}), which also\r\n\
         ends every session that used the old one.\r\n\
         \r\n\
         This notice is sent at most once an hour per mailbox.\r\n",
        mailbox = notice.mailbox,
    );
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\n\
         To: {to}\r\n\
         Subject: Sending limit reached by {mailbox}\r\n\
         Date: {date}\r\n\
         Message-ID: <limit.{now}.{token:016x}@{hostname}>\r\n\
         Auto-Submitted: auto-generated\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         {body}",
        to = to.join(", "),
        mailbox = notice.mailbox,
        token = rand::random::<u64>(),
    )
    .into_bytes()
}

/// A notice about `login`'s mailbox for the owners and administrators of its organization
/// (their login addresses): the sending limit above, and a held submission (SND-6).
pub(crate) async fn notice_for(
    directory: &dyn Directory,
    login: &Login,
) -> Result<LimitNotice, CoreError> {
    let mut recipients = Vec::new();
    if let Some(org) = organization_of(directory, login.mailbox).await? {
        for member in directory.org_members(org).await? {
            if matches!(member.role, Role::Owner | Role::Admin)
                && let Some(user) = directory.user(member.user).await?
            {
                recipients.push(user.login);
            }
        }
    }
    Ok(LimitNotice {
        mailbox: login.address.clone(),
        recipients,
    })
}

async fn organization_of(
    directory: &dyn Directory,
    mailbox: AddressId,
) -> Result<Option<OrgId>, CoreError> {
    let Some(hosted) = directory.address(mailbox).await? else {
        return Ok(None);
    };
    Ok(directory
        .service(hosted.service)
        .await?
        .map(|service| service.org))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_means_no_limit() {
        assert!(limiter::<AddressId>(0).is_none());
        let limited = limiter::<AddressId>(2).expect("a limit");
        assert!(limited.check_key(&AddressId(1)).is_ok());
        assert!(limited.check_key(&AddressId(1)).is_ok());
        assert!(
            limited.check_key(&AddressId(1)).is_err(),
            "the third in the hour"
        );
        assert!(
            limited.check_key(&AddressId(2)).is_ok(),
            "each mailbox has its own"
        );
    }

    #[test]
    fn the_notice_names_the_mailbox_the_limit_and_what_to_do() {
        let notice = LimitNotice {
            mailbox: "toto@example.com".parse().unwrap(),
            recipients: vec![
                "boss@example.com".parse().unwrap(),
                "admin@elsewhere.example".parse().unwrap(),
            ],
        };
        let verdict = SendVerdict::MailboxLimit {
            per_hour: 300,
            notify: true,
        };
        let raw = limit_notice_message("mail.example.test", &notice, &verdict, 1_764_000_000);
        let text = String::from_utf8(raw).unwrap();
        assert!(text.contains("To: boss@example.com, admin@elsewhere.example\r\n"));
        assert!(text.contains("Subject: Sending limit reached by toto@example.com\r\n"));
        assert!(text.contains("Auto-Submitted: auto-generated\r\n"));
        assert!(text.contains("at most 300"));
        assert!(text.contains("postwerk admin address passwd toto@example.com"));
        assert_eq!(
            text.matches('\n').count(),
            text.matches("\r\n").count(),
            "CRLF only"
        );
    }
}
