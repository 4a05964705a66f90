//! MAIL FROM (RFC 5321 §4.1.1.2) with SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531),
//! RET/ENVID (RFC 3461) and AUTH (RFC 4954 §5, accepted and ignored).
//!
//! On submission listeners this is where the session must be in TLS and authenticated, where
//! the credential epoch is checked between transactions (ID-6), and where the envelope sender
//! must pass the auth guards (SND-1).
//!
//! Every transaction that gets this far is counted against the rate limits (RCV-8): a
//! stranger's by its envelope sender, a submission by its login, so that one compromised
//! mailbox cannot fill the queue whatever sender addresses it may use.

use postwerk_core::{Client, DsnRet, SenderCheck};
use postwerk_model::EnvelopeAddress;
use smtp_proto::{
    MAIL_BODY_7BIT, MAIL_BODY_8BITMIME, MAIL_RET_FULL, MAIL_RET_HDRS, MAIL_SMTPUTF8, MailFrom,
};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::reply;
use crate::session::{Conn, Flow, Phase, Session, Transaction};

/// The MAIL flags this server understands; any other is a parameter not offered here.
const KNOWN_FLAGS: u64 =
    MAIL_BODY_7BIT | MAIL_BODY_8BITMIME | MAIL_SMTPUTF8 | MAIL_RET_FULL | MAIL_RET_HDRS;

pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
    from: MailFrom<String>,
) -> Flow {
    match session.phase {
        Phase::Connected => {
            return session.answer(conn, reply::bad_sequence("Send EHLO or HELO first"));
        }
        Phase::Mail(_) => {
            return session.answer(conn, reply::bad_sequence("Nested MAIL command"));
        }
        Phase::Greeted => {}
    }
    let server = session.server.clone();
    if let Some(blocked) = &session.blocked {
        let reply = reply::filtered(blocked);
        return session.answer(conn, reply);
    }
    if server.kind.is_submission() {
        if session.tls.is_none() {
            return session.answer(conn, reply::tls_required());
        }
        let Some(login) = session.login.clone() else {
            return session.answer(conn, reply::auth_required());
        };
        // ID-6: a password change since login ends the session, checked between
        // transactions.
        match server.auth.still_valid(&login).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(user = %login.address, "closing: mailbox credentials changed");
                return session.answer(conn, reply::credentials_changed(&server.hostname));
            }
            Err(error) => {
                tracing::error!(%error, "checking the credential epoch failed");
                return session.answer(conn, reply::internal(&error));
            }
        }
    }
    if let Some(param) = unsupported(&from) {
        return session.answer(conn, reply::unsupported_parameter(param));
    }
    let smtputf8 = from.flags & MAIL_SMTPUTF8 != 0;
    if !from.address.is_ascii() {
        // RFC 6531 §3.4: a non-ASCII reverse-path needs SMTPUTF8, and then the §3.3 syntax.
        // ASCII ones keep RFC 5321's leniency here (SRS local parts often pass 64 octets).
        if !smtputf8 {
            return session.answer(conn, reply::needs_smtputf8());
        }
        if let Err(error) = EnvelopeAddress::from_unquoted(&from.address) {
            tracing::info!(sender = %from.address, %error, "sender refused: bad syntax");
            return session.answer(conn, reply::bad_utf8_sender(&error.to_string()));
        }
    }
    // RFC 1870 §6.1: a declared size above the limit is refused before any data is sent.
    if from.size > server.limits.max_message_size {
        return session.answer(conn, reply::too_big());
    }
    if let Some(login) = session.login.clone() {
        // SND-1 for the envelope sender.
        match server
            .delivery
            .guards()
            .check_envelope(&login, &from.address)
            .await
        {
            Ok(SenderCheck::Allowed) => {}
            Ok(SenderCheck::Denied) => {
                tracing::info!(user = %login.address, sender = %from.address, "sender denied");
                return session.answer(conn, reply::sender_denied());
            }
            Err(error) => {
                tracing::error!(%error, "checking the sender failed");
                return session.answer(conn, reply::internal(&error));
            }
        }
    }
    // RCV-8: one count per transaction, only once it is otherwise acceptable.
    let rate_sender = match &session.login {
        Some(login) => login.address.to_string(),
        None => from.address.clone(),
    };
    if let Some(refusal) = server.delivery.check_rate(&client(session), &rate_sender) {
        tracing::info!(sender = %rate_sender, "rate limit exceeded");
        return session.answer(conn, reply::filtered(&refusal));
    }
    let ret = if from.flags & MAIL_RET_FULL != 0 {
        Some(DsnRet::Full)
    } else if from.flags & MAIL_RET_HDRS != 0 {
        Some(DsnRet::Headers)
    } else {
        None
    };
    session.phase = Phase::Mail(Box::new(Transaction {
        id: transaction_id(),
        return_path: reverse_path(from.address),
        smtputf8,
        envid: from.env_id,
        ret,
        declared_size: from.size as u64,
        recipients: Vec::new(),
        chunks: None,
    }));
    session.answer(conn, reply::sender_ok())
}

/// The connecting client, as the checks of SPEC §4 see it.
/// The reverse-path as the message keeps it (`Return-Path:`, the sender of bounces): the
/// parser hands a quoted local part back unquoted (`"john doe"@x` as `john doe@x`), and one
/// that is not a Dot-string must be quoted again to name the same mailbox (RFC 5321
/// §4.1.2). The domain, and anything unparsable (the null sender), stay as given.
fn reverse_path(address: String) -> String {
    match (
        EnvelopeAddress::from_unquoted(&address),
        address.rsplit_once('@'),
    ) {
        (Ok(parsed), Some((_, domain))) => format!("{}@{domain}", parsed.wire_local_part()),
        _ => address,
    }
}

fn client(session: &Session) -> Client {
    Client {
        ip: session.peer.ip(),
        helo: session
            .helo
            .as_ref()
            .map_or_else(String::new, |h| h.name.clone()),
    }
}

/// The first parameter given that this server does not advertise (RFC 5321 §4.1.1.11).
fn unsupported(from: &MailFrom<String>) -> Option<&'static str> {
    if from.flags & !KNOWN_FLAGS != 0 {
        return Some("BODY/REQUIRETLS/CONPERM/BY");
    }
    if from.trans_id.is_some() {
        return Some("TRANSID");
    }
    if from.by != 0 {
        return Some("BY");
    }
    if from.solicit.is_some() {
        return Some("SOLICIT");
    }
    if from.mtrk.is_some() {
        return Some("MTRK");
    }
    if from.hold_for != 0 || from.hold_until != 0 {
        return Some("HOLDFOR/HOLDUNTIL");
    }
    if from.mt_priority != 0 {
        return Some("MT-PRIORITY");
    }
    None
}

/// A transaction id for logs, `Received:` and the 250 reply: 16 random hex digits.
fn transaction_id() -> String {
    use rand::RngExt;
    let value: u64 = rand::rng().random();
    format!("{value:016X}")
}
