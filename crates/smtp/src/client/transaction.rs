//! One mail transaction on a set-up session (RFC 5321 §3.3): MAIL FROM, RCPT TO per recipient,
//! DATA; with PIPELINING (RFC 2920) the three go out as one group.

use postwerk_queue::{Attempt, AttemptRecipient, Outcome};
use postwerk_store::DsnRet;
use smtp_proto::{EXT_8BIT_MIME, EXT_DSN, EXT_PIPELINING, EXT_SIZE, EXT_SMTP_UTF8};

use super::Timeouts;
use super::outcome::{self, status};
use super::reply::Reply;
use super::session::{LinkError, Session};

/// Message data is written in blocks of about this size, each under the data block time limit
/// (RFC 5321 §4.5.3.2.5).
const DATA_BLOCK: usize = 64 * 1024;

/// What to do with the session after a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    /// The dialogue is in step: the session may carry another transaction (after RSET).
    Reusable,
    /// The session is broken or the server is closing it.
    Close,
    /// A reused session turned out dead before MAIL FROM was accepted: nothing was settled
    /// and nothing sent, so the caller opens a fresh session and starts again.
    RetryFresh,
}

/// The result of a transaction.
#[derive(Debug)]
pub(crate) struct Report {
    /// One per recipient, in the attempt's order.
    pub outcomes: Vec<Outcome>,
    /// What to do with the session.
    pub after: After,
}

/// RFC 3461 §4: xtext, for ENVID and ORCPT values: printable ASCII but `+` and `=` as is,
/// everything else as `+` and two upper-case hex digits.
pub(crate) fn xtext(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if (33..=126).contains(&byte) && byte != b'+' && byte != b'=' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("+{byte:02X}"));
        }
    }
    out
}

/// RFC 6533 §3: the `utf-8` address type's text for ORCPT. `+`, `=`, `\`, space and controls
/// are always written `\x{HEX}`; other non-ASCII characters are too unless the transaction
/// is SMTPUTF8 (`utf-8-addr-unitext`), where they go as UTF-8 (else `utf-8-addr-xtext`).
pub(crate) fn utf8_addr_text(address: &str, smtputf8: bool) -> String {
    let mut out = String::with_capacity(address.len());
    for ch in address.chars() {
        let plain = matches!(ch, '!'..='~') && !matches!(ch, '+' | '=' | '\\');
        if plain || (smtputf8 && !ch.is_ascii() && !ch.is_control()) {
            out.push(ch);
        } else {
            out.push_str(&format!("\\x{{{:X}}}", u32::from(ch)));
        }
    }
    out
}

/// Whether an address can go on the wire inside `<…>` without breaking the command line.
fn wire_safe(address: &str) -> bool {
    !address
        .chars()
        .any(|ch| ch.is_control() || ch == '<' || ch == '>')
}

/// The MAIL FROM command line for `attempt` on a server with `session`'s capabilities.
fn mail_from(attempt: &Attempt, session: &Session, size: usize, smtputf8: bool) -> String {
    let caps = &session.caps;
    let mut line = format!("MAIL FROM:<{}>", attempt.return_path);
    if caps.has(EXT_SIZE) {
        // RFC 1870 §3: the size of the message as sent, before dot-stuffing.
        line.push_str(&format!(" SIZE={size}"));
    }
    if attempt.eight_bit && caps.has(EXT_8BIT_MIME) {
        // RFC 6152 §2.
        line.push_str(" BODY=8BITMIME");
    }
    if smtputf8 {
        // RFC 6531 §3.4.
        line.push_str(" SMTPUTF8");
    }
    if caps.has(EXT_DSN) {
        // RFC 3461 §4.3–4.4: only to a server that advertised DSN.
        match attempt.ret {
            Some(DsnRet::Full) => line.push_str(" RET=FULL"),
            Some(DsnRet::Headers) => line.push_str(" RET=HDRS"),
            None => {}
        }
        if let Some(envid) = &attempt.envid {
            line.push_str(&format!(" ENVID={}", xtext(envid)));
        }
    }
    line
}

/// The RCPT TO command line for `recipient`, in a transaction that is SMTPUTF8 or not.
fn rcpt_to(recipient: &AttemptRecipient, session: &Session, smtputf8: bool) -> String {
    let mut line = format!("RCPT TO:<{}>", recipient.address);
    if session.caps.has(EXT_DSN) {
        // RFC 3461 §4.1: NOTIFY=NEVER or a list of the conditions.
        if let Some(notify) = recipient.notify {
            let mut conditions = Vec::new();
            if notify.success {
                conditions.push("SUCCESS");
            }
            if notify.failure {
                conditions.push("FAILURE");
            }
            if notify.delay {
                conditions.push("DELAY");
            }
            if conditions.is_empty() {
                line.push_str(" NOTIFY=NEVER");
            } else {
                line.push_str(&format!(" NOTIFY={}", conditions.join(",")));
            }
        }
        // RFC 3461 §4.2: ORCPT=addr-type;xtext.
        if let Some(orcpt) = &recipient.orcpt {
            match orcpt.split_once(';') {
                Some((kind, address))
                    if !kind.is_empty()
                        && kind
                            .chars()
                            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-') =>
                {
                    let text = if kind.eq_ignore_ascii_case("utf-8") {
                        utf8_addr_text(address.trim(), smtputf8)
                    } else {
                        xtext(address.trim())
                    };
                    line.push_str(&format!(" ORCPT={kind};{text}"));
                }
                _ => line.push_str(&format!(" ORCPT=rfc822;{}", xtext(orcpt))),
            }
        }
    }
    line
}

/// Applies RFC 5321 §4.5.2 transparency to `content` (a line that starts with a period gets
/// one more) and appends the end of data, in blocks of about [`DATA_BLOCK`] octets. A period
/// after a bare LF is doubled too, so that no reading of line ends sees an early end of data.
pub(crate) fn stuffed_blocks(content: &[u8]) -> Vec<Vec<u8>> {
    let mut blocks = Vec::new();
    let mut block = Vec::with_capacity(DATA_BLOCK.min(content.len()) + 8);
    for line in content.split_inclusive(|&byte| byte == b'\n') {
        if line.first() == Some(&b'.') {
            block.push(b'.');
        }
        block.extend_from_slice(line);
        if block.len() >= DATA_BLOCK {
            blocks.push(std::mem::replace(
                &mut block,
                Vec::with_capacity(DATA_BLOCK + 8),
            ));
        }
    }
    if !content.is_empty() && !content.ends_with(b"\r\n") {
        block.extend_from_slice(b"\r\n");
    }
    block.extend_from_slice(b".\r\n");
    blocks.push(block);
    blocks
}

/// Runs one transaction. `reused` says the session carried an earlier one, so a dead
/// connection found before MAIL FROM is accepted asks for a fresh session instead of failing.
pub(crate) async fn run(
    session: &mut Session,
    attempt: &Attempt,
    content: &[u8],
    timeouts: &Timeouts,
    reused: bool,
) -> Report {
    let mx = session.mx.clone();
    let count = attempt.recipients.len();
    let settle_all = |outcome: Outcome| Report {
        outcomes: vec![outcome; count],
        after: After::Reusable,
    };

    if !wire_safe(&attempt.return_path) {
        return settle_all(outcome::permanent(
            status::BAD_SENDER,
            None,
            "the return path cannot be sent in MAIL FROM (control characters or angle brackets)",
        ));
    }
    // RFC 6531 §3.2: an address or header outside ASCII needs SMTPUTF8 all the way.
    let smtputf8 = attempt.smtputf8
        || !attempt.return_path.is_ascii()
        || attempt.recipients.iter().any(|r| !r.address.is_ascii());
    if smtputf8 && !session.caps.has(EXT_SMTP_UTF8) {
        return settle_all(outcome::permanent(
            status::NEEDS_SMTPUTF8,
            Some(&mx),
            format!(
                "the message needs SMTPUTF8 (RFC 6531) and {} does not support it",
                session.peer()
            ),
        ));
    }
    if session.caps.has(EXT_SIZE) && session.caps.size > 0 && content.len() > session.caps.size {
        // RFC 1870 §6: do not send what the server said it will refuse.
        return settle_all(outcome::permanent(
            status::TOO_BIG,
            Some(&mx),
            format!(
                "the message ({} octets) is larger than {} accepts ({} octets, RFC 1870)",
                content.len(),
                session.peer(),
                session.caps.size
            ),
        ));
    }
    if attempt.eight_bit && !session.caps.has(EXT_8BIT_MIME) {
        // RFC 6152 §3 would have us convert to 7 bit or bounce; like most MTAs we send the
        // octets as they are, which nearly every server today takes.
        tracing::warn!(
            domain = %attempt.domain,
            mx = %mx,
            "8-bit message sent to a server without 8BITMIME"
        );
    }

    let mut outcomes: Vec<Option<Outcome>> = vec![None; count];
    let mut to_send = Vec::new();
    for (index, recipient) in attempt.recipients.iter().enumerate() {
        if wire_safe(&recipient.address) {
            to_send.push(index);
        } else {
            outcomes[index] = Some(outcome::permanent(
                status::BAD_RECIPIENT,
                None,
                "the address cannot be sent in RCPT TO (control characters or angle brackets)",
            ));
        }
    }
    if to_send.is_empty() {
        return finish(outcomes, &mx, After::Reusable);
    }

    let mail = mail_from(attempt, session, content.len(), smtputf8);
    let rcpts: Vec<String> = to_send
        .iter()
        .map(|&index| rcpt_to(&attempt.recipients[index], session, smtputf8))
        .collect();
    let peer = session.peer();
    // A recipient left without an answer by a broken link.
    let unsettled = |outcomes: &mut Vec<Option<Outcome>>, err: &LinkError, when: &str| {
        for outcome in outcomes.iter_mut().filter(|outcome| outcome.is_none()) {
            *outcome = Some(outcome::temporary(
                err.status(),
                Some(&mx),
                format!("{peer}: {err} {when}"),
            ));
        }
    };
    // Before MAIL FROM is accepted nothing is settled: on a reused session, start afresh.
    let early = if reused {
        After::RetryFresh
    } else {
        After::Close
    };
    let mut accepted = Vec::new();

    if session.caps.has(EXT_PIPELINING) {
        // RFC 2920 §3.1: MAIL, the RCPTs and DATA in one group, DATA last.
        let mut group = format!("{mail}\r\n");
        for rcpt in &rcpts {
            group.push_str(rcpt);
            group.push_str("\r\n");
        }
        group.push_str("DATA\r\n");
        if let Err(err) = session
            .send(group.as_bytes(), timeouts.mail, "the reply to MAIL FROM")
            .await
        {
            unsettled(&mut outcomes, &err, "(before MAIL FROM)");
            return finish(outcomes, &mx, early);
        }
        let mail_reply = match session
            .read_reply(timeouts.mail, "the reply to MAIL FROM")
            .await
        {
            Ok(reply) => reply,
            Err(err) => {
                unsettled(&mut outcomes, &err, "(before MAIL FROM)");
                return finish(outcomes, &mx, early);
            }
        };
        if reused && mail_reply.code == 421 {
            return finish(outcomes, &mx, After::RetryFresh);
        }
        // RFC 2920 §3.1: every reply of the group is read, whatever the first said.
        let mut rcpt_replies = Vec::with_capacity(to_send.len());
        for _ in &to_send {
            match session
                .read_reply(timeouts.rcpt, "the reply to RCPT TO")
                .await
            {
                Ok(reply) => rcpt_replies.push(reply),
                Err(err) => {
                    settle_rcpts(
                        &mut outcomes,
                        &to_send,
                        &rcpt_replies,
                        &mail_reply,
                        &mx,
                        &mut accepted,
                    );
                    unsettled(&mut outcomes, &err, "(during RCPT TO)");
                    return finish(outcomes, &mx, After::Close);
                }
            }
        }
        settle_rcpts(
            &mut outcomes,
            &to_send,
            &rcpt_replies,
            &mail_reply,
            &mx,
            &mut accepted,
        );
        let data_reply = match session.read_reply(timeouts.data, "the reply to DATA").await {
            Ok(reply) => reply,
            Err(err) => {
                unsettled(&mut outcomes, &err, "(waiting for the reply to DATA)");
                return finish(outcomes, &mx, After::Close);
            }
        };
        if accepted.is_empty() {
            let mut after = closing(&[&mail_reply, &data_reply]);
            if data_reply.code == 354 {
                // RFC 2920 §3.1: DATA was accepted with no recipient; end it empty.
                after = end_empty_data(session, timeouts).await;
            }
            return finish(outcomes, &mx, after);
        }
        if data_reply.code != 354 {
            for &index in &accepted {
                outcomes[index] = Some(outcome::from_reply(&data_reply, &mx, "DATA"));
            }
            return finish(outcomes, &mx, closing(&[&data_reply]));
        }
    } else {
        let mail_reply = match session
            .command(&mail, timeouts.mail, "the reply to MAIL FROM")
            .await
        {
            Ok(reply) => reply,
            Err(err) => {
                unsettled(&mut outcomes, &err, "(before MAIL FROM)");
                return finish(outcomes, &mx, early);
            }
        };
        if reused && mail_reply.code == 421 {
            return finish(outcomes, &mx, After::RetryFresh);
        }
        if !mail_reply.is_positive() {
            for &index in &to_send {
                outcomes[index] = Some(outcome::from_reply(&mail_reply, &mx, "MAIL FROM"));
            }
            return finish(outcomes, &mx, closing(&[&mail_reply]));
        }
        for (position, &index) in to_send.iter().enumerate() {
            let reply = match session
                .command(&rcpts[position], timeouts.rcpt, "the reply to RCPT TO")
                .await
            {
                Ok(reply) => reply,
                Err(err) => {
                    unsettled(&mut outcomes, &err, "(during RCPT TO)");
                    return finish(outcomes, &mx, After::Close);
                }
            };
            if reply.is_positive() {
                accepted.push(index);
            } else {
                outcomes[index] = Some(outcome::from_reply(&reply, &mx, "RCPT TO"));
                if reply.code == 421 {
                    // RFC 5321 §3.8: the server is closing; the rest wait for another time.
                    for &rest in &to_send[position + 1..] {
                        outcomes[rest] = Some(outcome::from_reply(&reply, &mx, "RCPT TO"));
                    }
                    for &index in &accepted {
                        outcomes[index] = Some(outcome::from_reply(&reply, &mx, "RCPT TO"));
                    }
                    return finish(outcomes, &mx, After::Close);
                }
            }
        }
        if accepted.is_empty() {
            // No DATA without a recipient; the caller sends RSET or QUIT.
            return finish(outcomes, &mx, After::Reusable);
        }
        let data_reply = match session
            .command("DATA", timeouts.data, "the reply to DATA")
            .await
        {
            Ok(reply) => reply,
            Err(err) => {
                unsettled(&mut outcomes, &err, "(waiting for the reply to DATA)");
                return finish(outcomes, &mx, After::Close);
            }
        };
        if data_reply.code != 354 {
            for &index in &accepted {
                outcomes[index] = Some(outcome::from_reply(&data_reply, &mx, "DATA"));
            }
            return finish(outcomes, &mx, closing(&[&data_reply]));
        }
    }

    // RFC 5321 §4.1.1.4: the message, dot-stuffed, then CRLF.CRLF.
    for block in stuffed_blocks(content) {
        if let Err(err) = session
            .send(
                &block,
                timeouts.data_block,
                "the server to take message data",
            )
            .await
        {
            unsettled(&mut outcomes, &err, "(while sending the message)");
            return finish(outcomes, &mx, After::Close);
        }
    }
    // From here on the server may hold the message: a lost reply is a temporary failure for
    // the queue to retry later (RFC 5321 §6.1 accepts that risk of a duplicate), never a retry
    // on another connection within this attempt.
    let final_reply = match session
        .read_reply(timeouts.data_end, "the reply to the end of data")
        .await
    {
        Ok(reply) => reply,
        Err(err) => {
            unsettled(
                &mut outcomes,
                &err,
                "(after the end of data: the server may have taken the message)",
            );
            return finish(outcomes, &mx, After::Close);
        }
    };
    for &index in &accepted {
        outcomes[index] = Some(outcome::after_data(&final_reply, &mx));
    }
    finish(outcomes, &mx, closing(&[&final_reply]))
}

/// Settles the pipelined RCPT replies read so far: all of them fail with the MAIL reply when
/// MAIL FROM failed (RFC 5321 §3.3: no transaction), else each by its own reply.
fn settle_rcpts(
    outcomes: &mut [Option<Outcome>],
    to_send: &[usize],
    rcpt_replies: &[Reply],
    mail_reply: &Reply,
    mx: &str,
    accepted: &mut Vec<usize>,
) {
    if !mail_reply.is_positive() {
        for &index in to_send {
            outcomes[index] = Some(outcome::from_reply(mail_reply, mx, "MAIL FROM"));
        }
        return;
    }
    for (&index, reply) in to_send.iter().zip(rcpt_replies) {
        if outcomes[index].is_some() || accepted.contains(&index) {
            continue;
        }
        if reply.is_positive() {
            accepted.push(index);
        } else {
            outcomes[index] = Some(outcome::from_reply(reply, mx, "RCPT TO"));
        }
    }
}

/// A 421 means the server is closing the session (RFC 5321 §3.8).
fn closing(replies: &[&Reply]) -> After {
    if replies.iter().any(|reply| reply.code == 421) {
        After::Close
    } else {
        After::Reusable
    }
}

/// Ends a DATA that was accepted although no recipient was, with an empty message, and
/// ignores the reply (RFC 2920 §3.1).
async fn end_empty_data(session: &mut Session, timeouts: &Timeouts) -> After {
    match session
        .command(".", timeouts.data_end, "the reply to an empty end of data")
        .await
    {
        Ok(reply) => closing(&[&reply]),
        Err(_) => After::Close,
    }
}

/// Fills any outcome still missing (it should not happen) and packs the report.
fn finish(outcomes: Vec<Option<Outcome>>, mx: &str, after: After) -> Report {
    let outcomes = outcomes
        .into_iter()
        .map(|outcome| {
            outcome.unwrap_or_else(|| {
                outcome::temporary(status::PROTOCOL, Some(mx), "no answer for this recipient")
            })
        })
        .collect();
    Report { outcomes, after }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xtext_encodes_plus_equals_and_non_printables() {
        assert_eq!(xtext("a@b.example"), "a@b.example");
        assert_eq!(xtext("a+b=c d"), "a+2Bb+3Dc+20d");
        assert_eq!(xtext("é"), "+C3+A9");
    }

    #[test]
    fn dot_stuffing_and_end_of_data() {
        let blocks = stuffed_blocks(b"Subject: x\r\n\r\n.hidden\r\n..two\r\nend.\r\n");
        assert_eq!(blocks.len(), 1);
        assert_eq!(
            blocks[0],
            b"Subject: x\r\n\r\n..hidden\r\n...two\r\nend.\r\n.\r\n".to_vec()
        );
        // A message without a final line end still gets CRLF before the dot.
        assert_eq!(stuffed_blocks(b"a"), vec![b"a\r\n.\r\n".to_vec()]);
        assert_eq!(stuffed_blocks(b""), vec![b".\r\n".to_vec()]);
        // First line.
        assert_eq!(stuffed_blocks(b".\r\n"), vec![b"..\r\n.\r\n".to_vec()]);
    }

    #[test]
    fn large_messages_go_in_blocks() {
        let line = b"0123456789012345678901234567890123456789012345678901234567890123456789\r\n";
        let content: Vec<u8> = line.repeat(5000);
        let blocks = stuffed_blocks(&content);
        assert!(blocks.len() > 1);
        let joined: Vec<u8> = blocks.concat();
        assert_eq!(joined.len(), content.len() + 3);
    }
}
