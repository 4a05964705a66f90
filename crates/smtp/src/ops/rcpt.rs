//! RCPT TO (RFC 5321 §4.1.1.3) with NOTIFY/ORCPT (RFC 3461): every recipient is resolved now
//! (RCV-13) so that unknown ones are refused here and never bounced later (RCV-1).

use postwerk_core::Notify;
use postwerk_core::{Client, EnvelopeRecipient, Recipient, SendVerdict};
use postwerk_model::{Address, EnvelopeAddress, LocalPart, Refusal};
use smtp_proto::{
    RCPT_NOTIFY_DELAY, RCPT_NOTIFY_FAILURE, RCPT_NOTIFY_NEVER, RCPT_NOTIFY_SUCCESS, RcptTo,
};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::reply::{self, Reply};
use crate::server::Server;
use crate::session::{Conn, Flow, Phase, Session};

const NOTIFY_FLAGS: u64 =
    RCPT_NOTIFY_SUCCESS | RCPT_NOTIFY_FAILURE | RCPT_NOTIFY_DELAY | RCPT_NOTIFY_NEVER;

pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
    mut to: RcptTo<String>,
    utf8_orcpt: Option<String>,
) -> Flow {
    // RFC 3461 §4.2: `addr-type;address`; a `utf-8` one was decoded apart (`orcpt`).
    let orcpt = utf8_orcpt.or_else(|| to.orcpt.take().map(original_recipient));
    let server = session.server.clone();
    let may_relay = session.login.is_some() && server.kind.is_submission();
    let Phase::Mail(tx) = &mut session.phase else {
        return session.answer(conn, reply::bad_sequence("Send MAIL first"));
    };
    if tx.chunks.is_some() {
        return session.answer(conn, reply::bad_sequence("RCPT is not allowed during BDAT"));
    }
    // RFC 5321 §4.5.3.1.10: 452, and the client sends the rest in another transaction.
    if tx.recipients.len() >= server.limits.max_recipients {
        return session.answer(conn, reply::too_many_recipients());
    }
    if to.flags & !NOTIFY_FLAGS != 0 || to.rrvs != 0 {
        return session.answer(conn, reply::unsupported_parameter("RRVS/CONNEG"));
    }
    if !to.address.is_ascii() && !tx.smtputf8 {
        return session.answer(conn, reply::needs_smtputf8());
    }
    let declared_size = tx.declared_size;
    // RFC 5321 §4.5.1: "Postmaster" without a domain must be accepted; it names the
    // postmaster of this server's own name, and resolution decides like for any address.
    let text = if to.address.eq_ignore_ascii_case("postmaster") {
        format!("postmaster@{}", server.hostname)
    } else {
        to.address.clone()
    };
    // RCV-13: a bounce to an SRS address that a forward left with goes on to the original
    // sender. Checked before parsing: SRS local parts often exceed 64 octets.
    match server
        .delivery
        .srs_return(&text, chrono::Utc::now().timestamp())
        .await
    {
        Ok(Some(original)) => {
            tracing::info!(rcpt = %to.address, to = %original, "bounce to an SRS address");
            if let Phase::Mail(tx) = &mut session.phase {
                tx.recipients.push(EnvelopeRecipient {
                    address: original.into(),
                    recipient: Recipient::Remote,
                    notify: notify(to.flags),
                    orcpt: orcpt.clone(),
                });
            }
            return session.answer(conn, reply::recipient(&Recipient::Remote));
        }
        Ok(None) => {}
        Err(error) => {
            tracing::error!(%error, "checking an SRS address failed");
            return session.answer(conn, reply::internal(&error));
        }
    }
    // RFC 6531 §3.3: the envelope may carry any UTF-8 or quoted local part; only what its
    // syntax forbids is a syntax error. Hosted lookups use the ASCII `Address` it converts to.
    let envelope_address = match EnvelopeAddress::from_unquoted(&text) {
        Ok(envelope_address) => envelope_address,
        Err(error) => {
            tracing::info!(rcpt = %to.address, %error, "recipient refused: bad syntax");
            return session.answer(conn, reply::bad_recipient_syntax());
        }
    };
    // `hosted_form` is the ASCII `Address` when the local part is one; a non-ASCII or quoted
    // local part is never hosted and can only be a remote recipient of submitted mail.
    let hosted_form = envelope_address.to_address();
    let verdict = match &hosted_form {
        Some(address) => server
            .delivery
            .check_recipient_sized(address, may_relay, declared_size)
            .await
            .inspect_err(|error| tracing::error!(%error, "resolving a recipient failed")),
        None => match outside_hosted_policy(&server, &envelope_address, may_relay).await {
            Ok(Ok(verdict)) => Ok(verdict),
            Ok(Err(reply)) => {
                tracing::info!(rcpt = %to.address, code = reply.code, "recipient refused");
                return session.answer(conn, reply);
            }
            Err(error) => {
                tracing::error!(%error, "resolving a recipient's domain failed");
                Err(error)
            }
        },
    };
    let verdict = match verdict {
        Ok(verdict) => verdict,
        Err(error) => return session.answer(conn, reply::internal(&error)),
    };
    // SND-6: outside recipients of submitted mail count against the sending limits.
    if verdict == Recipient::Remote
        && let Some(login) = &session.login
    {
        let now = chrono::Utc::now().timestamp();
        match server
            .delivery
            .check_sending(login, &server.hostname, now)
            .await
        {
            Ok(SendVerdict::Allowed) => {}
            Ok(SendVerdict::MailboxLimit { per_hour, .. }) => {
                return session.answer(conn, reply::sending_limit(false, per_hour));
            }
            Ok(SendVerdict::OrganizationLimit { per_hour, .. }) => {
                return session.answer(conn, reply::sending_limit(true, per_hour));
            }
            Err(error) => {
                tracing::error!(%error, "checking the sending limits failed");
                return session.answer(conn, reply::internal(&error));
            }
        }
    }
    // RCV-4 and RCV-3: a stranger's mail for a hosted recipient meets the mailbox's sender
    // lists (a block refuses it, an allow skips greylisting), else waits for its retry once.
    if matches!(verdict, Recipient::Local(_))
        && session.login.is_none()
        && let Some(address) = &hosted_form
        && let Phase::Mail(tx) = &session.phase
    {
        let sender = tx.return_path.clone();
        let client = Client {
            ip: session.peer.ip(),
            helo: session
                .helo
                .as_ref()
                .map_or_else(String::new, |h| h.name.clone()),
        };
        let now = chrono::Utc::now().timestamp();
        match server
            .delivery
            .screen_recipient(&client, &sender, address, &verdict, now)
            .await
        {
            Ok(None) => {}
            Ok(Some(refusal)) => {
                tracing::info!(rcpt = %to.address, code = refusal.code, "recipient screened out");
                return session.answer(conn, reply::filtered(&refusal));
            }
            Err(error) => {
                tracing::error!(%error, "checking the recipient's sender lists failed");
                return session.answer(conn, reply::internal(&error));
            }
        }
    }
    let reply = reply::recipient(&verdict);
    if reply.code == 250
        && let Phase::Mail(tx) = &mut session.phase
    {
        tx.recipients.push(EnvelopeRecipient {
            // An ASCII Dot-string is queued normalised, as it always was.
            address: hosted_form.map_or(envelope_address, EnvelopeAddress::from),
            recipient: verdict,
            notify: notify(to.flags),
            orcpt,
        });
    } else {
        tracing::info!(rcpt = %to.address, code = reply.code, "recipient refused");
    }
    session.answer(conn, reply)
}

/// The verdict for a recipient whose local part is non-ASCII or quoted, which no hosted
/// address has (see `postwerk_model::address`): at a hosted domain it is an unknown user
/// (RCV-1, the refusal as `Err`), elsewhere it is relaying — denied to strangers like any
/// other, and for submitted mail `Ok(Recipient::Remote)`: the queue carries the mailbox
/// exactly and the outbound client sends it with SMTPUTF8 (RFC 6531 §3.4).
async fn outside_hosted_policy(
    server: &Server,
    recipient: &EnvelopeAddress,
    may_relay: bool,
) -> Result<Result<Recipient, Reply>, postwerk_core::CoreError> {
    // Whether the domain is hosted does not depend on the local part: resolution answers
    // "not local" exactly when no service serves the domain (RCV-13), so any valid local
    // part asks the question. No hosted address is looked up on the recipient's behalf.
    let probe = LocalPart::parse("postmaster")
        .and_then(|local| Address::new(local, recipient.domain().clone()));
    let Ok(probe) = probe else {
        return Ok(Err(reply::bad_recipient_syntax()));
    };
    Ok(
        match server.delivery.check_recipient(&probe, may_relay).await? {
            Recipient::Local(_) | Recipient::Refused(_) => {
                Err(reply::recipient(&Recipient::Refused(Refusal::UnknownUser)))
            }
            Recipient::RelayDenied => Err(reply::recipient(&Recipient::RelayDenied)),
            Recipient::Remote => Ok(Recipient::Remote),
        },
    )
}

/// RFC 3461 §4.1: NOTIFY=NEVER, or a list of SUCCESS/FAILURE/DELAY; `None` when absent.
fn notify(flags: u64) -> Option<Notify> {
    if flags & NOTIFY_FLAGS == 0 {
        return None;
    }
    Some(Notify {
        success: flags & RCPT_NOTIFY_SUCCESS != 0,
        failure: flags & RCPT_NOTIFY_FAILURE != 0,
        delay: flags & RCPT_NOTIFY_DELAY != 0,
    })
}

/// The RFC 3461 §4.2 `addr-type;address` form of an ORCPT that smtp-proto parsed: it accepts
/// only the rfc822 type and decodes the xtext octet by octet into characters up to U+00FF.
/// Octets that spell UTF-8 are read back as UTF-8, and an address outside ASCII is given the
/// `utf-8` type (RFC 6533 §3), which the DSN and the next hop then carry.
fn original_recipient(decoded: String) -> String {
    if decoded.is_ascii() {
        return format!("rfc822;{decoded}");
    }
    let octets: Option<Vec<u8>> = decoded.chars().map(|ch| u8::try_from(ch).ok()).collect();
    let text = octets
        .and_then(|octets| String::from_utf8(octets).ok())
        .unwrap_or(decoded);
    format!("utf-8;{text}")
}

#[cfg(test)]
mod tests {
    use super::original_recipient;

    #[test]
    fn rfc_6533_orcpt_outside_ascii_is_typed_utf8() {
        assert_eq!(original_recipient("a@b.test".into()), "rfc822;a@b.test");
        // xtext `j+C3+B6rg`, as smtp-proto hands it over.
        assert_eq!(
            original_recipient("j\u{C3}\u{B6}rg@b.test".into()),
            "utf-8;jörg@b.test"
        );
        assert_eq!(
            original_recipient("jörg@b.test".into()),
            "utf-8;jörg@b.test"
        );
        // Octets that are not UTF-8 stay as decoded.
        assert_eq!(
            original_recipient("j\u{F6}rg@b.test".into()),
            "utf-8;j\u{F6}rg@b.test"
        );
    }
}
