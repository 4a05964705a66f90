//! ID-12: the one notifier of the platform. Email (invitations, recovery codes, security
//! notices) goes through the same durable path as any mail: local recipients get it in their
//! INBOX, others through the outbound queue. SMS goes through a pluggable [`SmsGateway`]: the
//! outbox the administrator reads ([`OutboxGateway`], the default) or a provider's HTTP endpoint
//! ([`WebhookGateway`]).

mod sms;
mod webhook;

pub use sms::{OutboxGateway, SmsGateway};
pub use webhook::{WebhookConfig, WebhookGateway};

use std::sync::Arc;

use async_trait::async_trait;
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address as HeaderAddress;
use postwerk_model::Address;
use rand::RngExt;

use crate::CoreError;
use crate::delivery::{Delivered, Delivery, Envelope, EnvelopeRecipient, Recipient};

/// A plain-text message from the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The one recipient.
    pub to: Address,
    /// The subject line (UTF-8; encoded as RFC 2047 when needed).
    pub subject: String,
    /// The body, plain text (UTF-8).
    pub text: String,
}

/// Sends notifications.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Hands the message over durably (stored or queued) before answering.
    async fn send(&self, notification: Notification) -> Result<(), CoreError>;
}

/// The [`Mailer`] over [`Delivery`]: `From: Postwerk <postmaster@HOSTNAME>`, null reverse-path
/// (RFC 5321 §4.5.5: a notice never causes a bounce), a `Message-ID` and `Date`, built with
/// mail-builder; the recipient resolved as SMTP would (local: stored; elsewhere: queued).
#[derive(Clone, Debug)]
pub struct DeliveryMailer {
    delivery: Delivery,
    hostname: String,
}

impl DeliveryMailer {
    /// Sends through `delivery`, as `postmaster@hostname`.
    pub fn new(delivery: Delivery, hostname: impl Into<String>) -> DeliveryMailer {
        DeliveryMailer {
            delivery,
            hostname: hostname.into(),
        }
    }
}

#[async_trait]
impl Mailer for DeliveryMailer {
    async fn send(&self, notification: Notification) -> Result<(), CoreError> {
        let to = notification.to.clone();
        // As a submission would: hosted addresses resolve (aliases, redirections), any other
        // domain goes to the queue. The platform may always send, so relaying is allowed.
        let recipient = match self.delivery.check_recipient(&to, true).await? {
            recipient @ (Recipient::Local(_) | Recipient::Remote) => recipient,
            Recipient::Refused(refusal) => {
                return Err(CoreError::Invalid(format!(
                    "a message cannot be sent to {to}: {}",
                    refusal.sentence()
                )));
            }
            Recipient::RelayDenied => {
                return Err(CoreError::Invalid(format!(
                    "a message cannot be sent to {to}: this server does not relay to its domain"
                )));
            }
        };
        let now = chrono::Utc::now().timestamp();
        let raw = self.build(&notification, now)?;
        let envelope = Envelope {
            // RFC 5321 §4.5.5: the null reverse-path, so a failure never bounces.
            return_path: String::new(),
            recipients: vec![EnvelopeRecipient {
                address: to.clone().into(),
                recipient,
                notify: None,
                orcpt: None,
            }],
            envid: None,
            ret: None,
            submitted_by: None,
            client: None,
        };
        match self.delivery.deliver(&envelope, b"", &raw, now).await? {
            // Held only happens to submissions; this mail is the platform's own.
            Delivered::Accepted { .. } | Delivered::Held { .. } => Ok(()),
            Delivered::SenderDenied => Err(CoreError::Invalid(format!(
                "the message to {to} was refused as from a sender this server does not own"
            ))),
            Delivered::Refused(reply) => Err(CoreError::Invalid(format!(
                "the message to {to} was refused: {}",
                reply.text
            ))),
        }
    }
}

impl DeliveryMailer {
    /// The message in RFC 5322 form: `From: Postwerk <postmaster@HOSTNAME>`, `To`, `Subject`
    /// (RFC 2047 when not ASCII), `Date`, a `Message-ID` at the hostname, a plain text body.
    fn build(&self, notification: &Notification, now: i64) -> Result<Vec<u8>, CoreError> {
        let from = format!("postmaster@{}", self.hostname);
        let mut rng = rand::rng();
        let message_id = format!(
            "{:016x}.{:016x}@{}",
            rng.random::<u64>(),
            rng.random::<u64>(),
            self.hostname
        );
        MessageBuilder::new()
            .from(HeaderAddress::new_address(Some("Postwerk"), from))
            .to(notification.to.to_string())
            .subject(notification.subject.as_str())
            .date(now)
            .message_id(message_id)
            .text_body(notification.text.as_str())
            .write_to_vec()
            .map_err(|error| {
                CoreError::Invalid(format!("the notification could not be built: {error}"))
            })
    }
}

/// The one notifier of ID-12: email through [`Mailer`] (the platform's own delivery and
/// queue), SMS through a [`SmsGateway`].
#[derive(Clone)]
pub struct Notifier {
    mailer: Option<Arc<dyn Mailer>>,
    sms: Arc<dyn SmsGateway>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").finish_non_exhaustive()
    }
}

impl Notifier {
    /// Email through `mailer` (`None`: email notifications are refused with a sentence saying
    /// mail cannot be sent from here), SMS through `sms`.
    pub fn new(mailer: Option<Arc<dyn Mailer>>, sms: Arc<dyn SmsGateway>) -> Notifier {
        Notifier { mailer, sms }
    }

    /// Sends an email notification.
    pub async fn email(&self, notification: Notification) -> Result<(), CoreError> {
        match &self.mailer {
            Some(mailer) => mailer.send(notification).await,
            None => Err(CoreError::Invalid(
                "email cannot be sent from here: the server has no mail delivery configured"
                    .to_string(),
            )),
        }
    }

    /// Sends an SMS.
    pub async fn sms(&self, phone: &str, text: &str) -> Result<(), CoreError> {
        self.sms.send(phone, text).await
    }
}
