//! The message a compose form makes, built with mail-builder (RFC 5322 headers, MIME parts):
//! the copy sent, the copy kept in Sent (with `Bcc:`), and drafts.

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address as HeaderAddress;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use rand::RngExt;

use super::compose_recipients::NamedAddress;
use super::{ReplyTarget, Upload};
use crate::CoreError;

/// A draft's private header: the message it answers, so that editing the draft again still
/// replies to it. Never in a message sent.
pub(super) const REPLY_TARGET_HEADER: &str = "X-Postwerk-Reply-Target";

/// Everything a built message holds, already checked.
#[derive(Debug)]
pub(super) struct Outgoing {
    pub from: NamedAddress,
    pub to: Vec<NamedAddress>,
    pub cc: Vec<NamedAddress>,
    pub bcc: Vec<NamedAddress>,
    pub subject: String,
    pub body: String,
    /// Without angle brackets.
    pub message_id: String,
    /// The answered message's Message-ID and References (RFC 5322 §3.6.4), without brackets.
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub attachments: Vec<Upload>,
    /// Unix seconds.
    pub date: i64,
}

/// Which copy to build.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Variant<'a> {
    /// The message handed to delivery: no `Bcc:`, or every recipient would see the blind
    /// ones (RFC 5322 §3.6.3).
    Sent,
    /// The sender's own copy in Sent: with `Bcc:`, so they see whom they told.
    Kept,
    /// A draft: with `Bcc:` and the message it answers.
    Draft(Option<&'a ReplyTarget>),
}

/// A new Message-ID right-hand side at `hostname`, a random UUID (version 4) on the left.
pub(super) fn new_message_id(hostname: &str) -> String {
    let mut bytes: [u8; 16] = rand::rng().random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}@{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..],
        hostname
    )
}

fn header_address(named: &NamedAddress) -> HeaderAddress<'static> {
    HeaderAddress::new_address(named.name.clone(), named.address.to_string())
}

fn header_list(list: &[NamedAddress]) -> HeaderAddress<'static> {
    HeaderAddress::new_list(list.iter().map(header_address).collect())
}

impl Outgoing {
    /// The message as octets.
    pub fn build(&self, variant: Variant<'_>) -> Result<Vec<u8>, CoreError> {
        let mut message = MessageBuilder::new()
            .from(header_address(&self.from))
            .subject(self.subject.as_str())
            .date(self.date)
            .message_id(self.message_id.as_str())
            .text_body(self.body.as_str());
        if !self.to.is_empty() {
            message = message.to(header_list(&self.to));
        }
        if !self.cc.is_empty() {
            message = message.cc(header_list(&self.cc));
        }
        if variant != Variant::Sent && !self.bcc.is_empty() {
            message = message.bcc(header_list(&self.bcc));
        }
        if let Some(id) = &self.in_reply_to {
            message = message.in_reply_to(id.as_str());
        }
        if !self.references.is_empty() {
            message = message.references(MessageId::new_list(self.references.iter().cloned()));
        }
        if let Variant::Draft(Some(target)) = variant {
            let value = format!("{}:{}", target.folder.0, target.uid);
            message = message.header(REPLY_TARGET_HEADER, Raw::new(value));
        }
        for file in &self.attachments {
            message = message.attachment(
                file.content_type.clone(),
                file.file_name.clone(),
                file.bytes.as_slice(),
            );
        }
        message
            .write_to_vec()
            .map_err(|error| CoreError::Invalid(format!("the message could not be built: {error}")))
    }
}
