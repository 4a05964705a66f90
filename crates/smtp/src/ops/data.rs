//! DATA (RFC 5321 §4.1.1.4) and the end of every message, DATA or BDAT: the checks on the
//! received content, the `Received:` line, and the durable delivery through `core` whose
//! answer decides the reply (RCV-12: `250` only once everything is on stable storage).

use postwerk_core::{Client, Delivered, Envelope};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::framing::{DataReceiver, Received, non_ascii_header};
use crate::reply;
use crate::session::{Conn, Flow, Phase, Session, Transaction};
use crate::trace::Trace;

pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
) -> Flow {
    let Phase::Mail(tx) = &session.phase else {
        return session.answer(conn, reply::bad_sequence("Send MAIL first"));
    };
    if tx.chunks.is_some() {
        return session.answer(conn, reply::bad_sequence("DATA is not allowed after BDAT"));
    }
    if tx.recipients.is_empty() {
        return session.answer(conn, reply::no_recipients());
    }
    conn.push(&reply::start_data());
    let mut receiver = DataReceiver::new(session.server.limits.max_message_size);
    loop {
        let (used, done) = receiver.feed(conn.buffered());
        conn.consume(used);
        if done {
            break;
        }
        if let Err(stop) = conn.fill(None).await {
            session.stopped(conn, stop);
            return Flow::Close;
        }
    }
    let received = receiver.finish();
    finish(session, conn, received).await
}

/// Ends the transaction with the received message: refuse it, or deliver it and answer once
/// it is durable.
pub(crate) async fn finish<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
    received: Received,
) -> Flow {
    let Phase::Mail(tx) = std::mem::replace(&mut session.phase, Phase::Greeted) else {
        return session.answer(conn, reply::bad_sequence("Send MAIL first"));
    };
    let message = match received {
        Received::Message(message) => message,
        Received::TooBig => {
            log_result(&tx, 0, "refused: too big");
            return session.answer(conn, reply::too_big());
        }
        Received::BareLineEnding => {
            log_result(&tx, 0, "refused: bare CR or LF");
            return session.answer(conn, reply::bare_line_ending_in_message());
        }
    };
    // RCV-10: without SMTPUTF8 the header section must be ASCII (RFC 6532 needs SMTPUTF8).
    if !tx.smtputf8
        && let Some(field) = non_ascii_header(&message)
    {
        log_result(&tx, message.len(), "refused: non-ASCII header");
        return session.answer(conn, reply::non_ascii_header(&field));
    }
    let now = chrono::Utc::now();
    let date = now.to_rfc2822();
    let single = (tx.recipients.len() == 1).then(|| tx.recipients[0].address.to_string());
    let helo = session.helo.as_ref();
    let trace = Trace {
        helo: helo.map_or("unknown", |h| h.name.as_str()),
        ip: session.peer.ip(),
        hostname: &session.server.hostname,
        extended: helo.is_some_and(|h| h.extended),
        smtputf8: tx.smtputf8,
        tls: session.tls.is_some(),
        authenticated: session.login.is_some(),
        id: &tx.id,
        single_recipient: single.as_deref(),
        date: &date,
    }
    .header();
    let rcpts = tx.recipients.len();
    let to = tx
        .recipients
        .iter()
        .map(|r| r.address.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let Transaction {
        id,
        return_path,
        recipients,
        envid,
        ret,
        ..
    } = *tx;
    let envelope = Envelope {
        return_path,
        recipients,
        envid,
        ret,
        submitted_by: session.login.clone(),
        client: Some(Client {
            ip: session.peer.ip(),
            helo: session
                .helo
                .as_ref()
                .map_or_else(String::new, |h| h.name.clone()),
        }),
    };
    let delivery = session.server.delivery.clone();
    let outcome = delivery
        .deliver(&envelope, &trace, &message, now.timestamp())
        .await;
    match outcome {
        Ok(outcome) => {
            let result = match &outcome {
                Delivered::Accepted { stored, queued } => {
                    tracing::info!(
                        queue_id = %id,
                        from = %envelope.return_path,
                        %to,
                        size = message.len(),
                        stored,
                        outbound = %queued.map_or_else(|| "-".into(), |q| q.to_string()),
                        result = "accepted",
                        "message accepted"
                    );
                    None
                }
                Delivered::Held { queued, reason } => {
                    tracing::warn!(
                        queue_id = %id,
                        from = %envelope.return_path,
                        %to,
                        size = message.len(),
                        outbound = %queued,
                        reason,
                        result = "held",
                        "message held as spam (SND-6)"
                    );
                    None
                }
                Delivered::SenderDenied => Some("refused: From: fails the auth guards"),
                Delivered::Refused(_) => Some("refused by a check on the message"),
            };
            if let Some(result) = result {
                tracing::info!(
                    queue_id = %id,
                    from = %envelope.return_path,
                    rcpts,
                    size = message.len(),
                    result,
                    "message refused"
                );
            }
            session.answer(conn, reply::delivered(&outcome, &id))
        }
        Err(error) => {
            tracing::error!(queue_id = %id, %error, "delivery failed");
            session.answer(conn, reply::internal(&error))
        }
    }
}

fn log_result(tx: &Transaction, size: usize, result: &'static str) {
    tracing::info!(
        queue_id = %tx.id,
        from = %tx.return_path,
        rcpts = tx.recipients.len(),
        size,
        result,
        "message refused"
    );
}
