//! SND-6: submitted mail that the spam filter scores at or above `[spam] outgoing_threshold`
//! is not sent. It waits in the outbound queue, marked held (the workers never attempt it),
//! and the owners and administrators of the sender's organization get a notice saying what
//! was held and how to release or delete it:
//!
//! ```text
//!  deliver (submission) ─► Filters::check_outgoing ─► score ≥ threshold
//!     ─► QueueStore::enqueue_once(held: reason), every recipient, local ones included
//!     ─► notice to the organization's administrators  ─► Delivered::Held
//!
//!  postwerk admin queue release ID ─► Delivery::release_held
//!     ─► deliver again, as the mailbox, without the hold ─► dequeue the held entry
//! ```
//!
//! A held message is the message as submitted with its trace lines and without a DKIM
//! signature: it is signed when released, like any submission, with the key of that day.

use std::future::Future;
use std::pin::Pin;

use postwerk_filter::spam::Score;
use postwerk_store::{Fingerprint, NewQueued, QueueId, QueuedRecipient};

use super::{Delivered, Delivery, Envelope, EnvelopeRecipient, Recipient};
use crate::CoreError;
use crate::auth::Login;
use crate::send_limit::{LimitNotice, notice_for};

/// Whether a submission may still be held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Review {
    /// Not looked at by anyone: scored, and held when it looks like spam.
    Pending,
    /// Released by an administrator: delivered as it is.
    Released,
}

/// The envelope recipients as text, for the scorer (rspamd's `Rcpt`).
pub(super) fn recipient_texts(envelope: &Envelope) -> Vec<String> {
    envelope
        .recipients
        .iter()
        .map(|rcpt| rcpt.address.to_string())
        .collect()
}

/// Why a message is held, as the queue shows it: the score and the rules that made it.
fn reason(score: &Score) -> String {
    format!(
        "outgoing spam score {:.1} ({})",
        score.total,
        rule_names(score)
    )
}

fn rule_names(score: &Score) -> String {
    let rules: Vec<&str> = score.symbols.iter().map(|s| &*s.name).collect();
    if rules.is_empty() {
        "no rule named".to_string()
    } else {
        rules.join(", ")
    }
}

impl Delivery {
    /// Queues `raw` (trace lines and message as submitted) held for every recipient of
    /// `envelope`, once per `fingerprint` (a retried submission is not held twice), and tells
    /// the administrators of `login`'s organization in the background.
    pub(super) async fn hold(
        &self,
        envelope: &Envelope,
        login: &Login,
        raw: Vec<u8>,
        fingerprint: Fingerprint,
        score: Score,
        received_at: i64,
    ) -> Result<Delivered, CoreError> {
        let recipients = envelope
            .recipients
            .iter()
            .filter(|rcpt| matches!(rcpt.recipient, Recipient::Local(_) | Recipient::Remote))
            .map(|rcpt| QueuedRecipient {
                address: rcpt.address.clone(),
                notify: rcpt.notify,
                orcpt: rcpt.orcpt.clone(),
                forwarded_by: None,
            })
            .collect();
        let message = NewQueued {
            return_path: envelope.return_path.clone(),
            recipients,
            envid: envelope.envid.clone(),
            ret: envelope.ret,
            received_at,
            submitted_by: Some(login.mailbox),
            held: Some(reason(&score)),
        };
        let queued = self.queue.enqueue_once(&raw, message, fingerprint).await?;
        tracing::warn!(
            mailbox = %login.address,
            queue_id = %queued,
            score = score.total,
            "a submission scored as spam is held for an administrator"
        );
        let notice = notice_for(self.directory.as_ref(), login).await?;
        let hostname = self
            .filters
            .as_ref()
            .map_or_else(String::new, |filters| filters.hostname().to_string());
        let raw = held_notice_message(&hostname, &notice, queued, &score, received_at);
        tokio::spawn(self.clone().notice_in_background(notice, raw, received_at));
        Ok(Delivered::Held {
            queued,
            reason: reason(&score),
        })
    }

    /// The notice as a task of a named type: delivering it runs `deliver`, which may hold,
    /// which spawns this; the box breaks that cycle of future types.
    fn notice_in_background(
        self,
        notice: LimitNotice,
        raw: Vec<u8>,
        now: i64,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move { self.notify_administrators(notice, raw, now).await })
    }

    /// SND-6: an administrator releases the held message `id`: it is delivered as its
    /// mailbox submitted it (recipients resolved again, the DKIM signature made now), then
    /// removed from the queue. `Invalid` when the entry is not held or its mailbox is gone;
    /// `NotFound` when there is no such entry.
    ///
    /// The delivery commits before the held entry is removed: a crash in between leaves the
    /// entry held, and releasing it again would send a second copy (the administrator sees
    /// it still held and can delete it instead).
    pub async fn release_held(&self, id: QueueId, now: i64) -> Result<Delivered, CoreError> {
        let queued = self.queue.queued_message(id).await?;
        if queued.message.held.is_none() {
            return Err(CoreError::Invalid(format!(
                "queued message {id} is not held; `postwerk admin queue retry {id}` attempts it now"
            )));
        }
        let login = match queued.message.submitted_by {
            Some(mailbox) => self.directory.address(mailbox).await?.map(|hosted| Login {
                mailbox,
                address: hosted.address,
                epoch: hosted.credential_epoch,
            }),
            None => None,
        };
        let Some(login) = login else {
            return Err(CoreError::Invalid(format!(
                "the mailbox that submitted queued message {id} no longer exists; delete the \
                 message instead"
            )));
        };
        let mut recipients = Vec::with_capacity(queued.message.recipients.len());
        for rcpt in &queued.message.recipients {
            // A non-ASCII or quoted local part (RFC 6531) is never a hosted one: such a
            // recipient was accepted as remote, and still is.
            let checked = match rcpt.address.to_address() {
                Some(address) => self.check_recipient(&address, true).await?,
                None => Recipient::Remote,
            };
            match checked {
                recipient @ (Recipient::Local(_) | Recipient::Remote) => {
                    recipients.push(EnvelopeRecipient {
                        address: rcpt.address.clone(),
                        recipient,
                        notify: rcpt.notify,
                        orcpt: rcpt.orcpt.clone(),
                    });
                }
                refused => {
                    tracing::warn!(queue_id = %id, address = %rcpt.address, ?refused,
                        "a recipient of a released message no longer accepts mail");
                }
            }
        }
        if recipients.is_empty() {
            return Err(CoreError::Invalid(format!(
                "no recipient of queued message {id} accepts mail any more; delete it instead"
            )));
        }
        let raw = self.queue.read_queued(id).await?;
        let envelope = Envelope {
            return_path: queued.message.return_path.clone(),
            recipients,
            envid: queued.message.envid.clone(),
            ret: queued.message.ret,
            submitted_by: Some(login),
            client: None,
        };
        let outcome = self
            .deliver_checked(&envelope, b"", &raw, now, Review::Released)
            .await?;
        if let Delivered::Accepted { .. } = outcome {
            self.queue.dequeue(id).await?;
            tracing::info!(queue_id = %id, "a held message was released");
        }
        Ok(outcome)
    }
}

/// The notice to the administrators of `notice.mailbox`'s organization.
fn held_notice_message(
    hostname: &str,
    notice: &LimitNotice,
    queued: QueueId,
    score: &Score,
    now: i64,
) -> Vec<u8> {
    let date = chrono::DateTime::<chrono::Utc>::from_timestamp(now, 0)
        .unwrap_or_default()
        .to_rfc2822();
    let to: Vec<String> = notice.recipients.iter().map(ToString::to_string).collect();
    let body = format!(
        "The mailbox {mailbox} submitted a message that the spam filter scored\r\n\
         {total:.1} ({rules}). It was not sent: it is held in the outbound queue\r\n\
         as message {queued}.\r\n\
         \r\n\
         If the message is legitimate, release it:\r\n\
         \x20   postwerk admin queue release {queued}\r\n\
         Otherwise delete it:\r\n\
         \x20   postwerk admin queue delete {queued}\r\n\
         \r\n\
         If nobody expected {mailbox} to send such mail, its password may be known to\r\n\
         someone else: change it (postwerk admin address passwd {mailbox}), which also\r\n\
         ends every session that used the old one.\r\n",
        mailbox = notice.mailbox,
        total = score.total,
        rules = rule_names(score),
    );
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\n\
         To: {to}\r\n\
         Subject: Message from {mailbox} held as spam\r\n\
         Date: {date}\r\n\
         Message-ID: <held.{queued}.{now}@{hostname}>\r\n\
         Auto-Submitted: auto-generated\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         {body}",
        to = to.join(", "),
        mailbox = notice.mailbox,
    )
    .into_bytes()
}
