//! The submission of a webmail message, exactly as SMTP submission makes it: every recipient
//! resolved as at RCPT (RCV-13, ADDR-10), outside recipients counted against the sending
//! limits (SND-6), then `Delivery::deliver` with the mailbox as the authenticated sender, which
//! checks `From:` (SND-1), scores the message (SND-6), DKIM-signs and queues what leaves
//! (SND-2) and stores what stays.

use postwerk_model::Address;

use super::compose_recipients::NamedAddress;
use super::{SendOutcome, Webmail};
use crate::CoreError;
use crate::auth::Login;
use crate::delivery::{Delivered, Envelope, EnvelopeRecipient, Recipient};
use crate::send_limit::SendVerdict;

/// The SND-1 refusal for a sending identity the mailbox does not own.
pub(super) fn not_owned(from: &Address) -> SendOutcome {
    SendOutcome::Refused(format!(
        "You cannot send as {from}: it is not an address of this mailbox. Choose one of its \
         own addresses as the sender."
    ))
}

impl Webmail {
    /// The envelope recipients of `everyone`, each resolved as SMTP resolves it at RCPT for a
    /// message of about `size` octets; `Err` carries the refusal of the first that cannot
    /// receive it, or of the sending limits.
    pub(super) async fn envelope_recipients(
        &self,
        login: &Login,
        everyone: &[NamedAddress],
        size: u64,
        now: i64,
    ) -> Result<Result<Vec<EnvelopeRecipient>, SendOutcome>, CoreError> {
        let mut recipients = Vec::with_capacity(everyone.len());
        for named in everyone {
            let address = &named.address;
            let recipient = match self
                .delivery
                .check_recipient_sized(address, true, size)
                .await?
            {
                Recipient::Refused(refusal) => {
                    return Ok(Err(SendOutcome::Refused(format!(
                        "{address} cannot receive this message: {}. Remove it from the \
                         recipients and send again.",
                        refusal.sentence().to_lowercase()
                    ))));
                }
                // Authenticated submission may relay, so this does not happen; answered
                // rather than assumed.
                Recipient::RelayDenied => {
                    return Ok(Err(SendOutcome::Refused(format!(
                        "{address} cannot be reached from this server."
                    ))));
                }
                accepted => accepted,
            };
            recipients.push(EnvelopeRecipient {
                address: address.clone().into(),
                recipient,
                notify: None,
                orcpt: None,
            });
        }
        // SND-6: like RCPT of SMTP submission, each outside recipient counts once; local
        // ones do not, so the limits are checked after every recipient was found deliverable.
        for _ in recipients
            .iter()
            .filter(|r| r.recipient == Recipient::Remote)
        {
            let refusal = match self
                .delivery
                .check_sending(login, &self.hostname, now)
                .await?
            {
                SendVerdict::Allowed => continue,
                SendVerdict::MailboxLimit { per_hour, .. } => format!(
                    "This mailbox has reached its limit of {per_hour} outside recipients per \
                     hour. Try again later; nothing was sent."
                ),
                SendVerdict::OrganizationLimit { per_hour, .. } => format!(
                    "Your organization has reached its limit of {per_hour} outside recipients \
                     per hour. Try again later; nothing was sent."
                ),
            };
            return Ok(Err(SendOutcome::Refused(refusal)));
        }
        Ok(Ok(recipients))
    }

    /// Hands the built message to delivery and says what became of it; `Ok(None)` when it
    /// was accepted (stored and queued durably, RCV-12).
    pub(super) async fn submit(
        &self,
        login: Login,
        from: &Address,
        recipients: Vec<EnvelopeRecipient>,
        raw: &[u8],
        now: i64,
    ) -> Result<Option<SendOutcome>, CoreError> {
        let envelope = Envelope {
            return_path: from.to_string(),
            recipients,
            envid: None,
            ret: None,
            submitted_by: Some(login),
            client: None,
        };
        let date = chrono::DateTime::from_timestamp(now, 0)
            .unwrap_or_default()
            .to_rfc2822();
        let trace = format!(
            "Received: by {} (Postwerk webmail); {date}\r\n",
            self.hostname
        );
        let outcome = self
            .delivery
            .deliver(&envelope, trace.as_bytes(), raw, now)
            .await?;
        Ok(match outcome {
            Delivered::Accepted { .. } => None,
            Delivered::Held { .. } => Some(SendOutcome::Held(
                "Your message is held for review: the spam filter found it looks like spam. \
                 An administrator of your organization will release or delete it; do not \
                 send it again."
                    .into(),
            )),
            Delivered::SenderDenied => Some(not_owned(from)),
            Delivered::Refused(reply) => Some(SendOutcome::Refused(reply.text)),
        })
    }
}
