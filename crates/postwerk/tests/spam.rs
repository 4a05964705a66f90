//! RCV-4 end to end: the built-in spam score and the mailboxes' sender lists on the MX
//! listener of the real server, driven by Python's smtplib (tests/smtp/client.py), with a
//! real DNS server on loopback (no SPF, DKIM or DMARC records: every sender is unauthenticated).

use postwerk_testkit::TestServer;
use postwerk_testkit::dns::{DnsServer, Zone};

#[path = "common/mx.rs"]
mod mx;

use mx::{TOTO, code, send, server};

fn folder(server: &TestServer, name: &'static str) -> Vec<String> {
    server
        .with_store(|stores| async move {
            let address = TOTO.parse()?;
            let hosted = stores
                .directory
                .address_by_address(&address)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no address {TOTO}"))?;
            let folder = stores
                .mail
                .folder_by_name(hosted.id, name)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no folder {name}"))?;
            let metas = stores
                .mail
                .list_messages(folder.id, &postwerk_store::UidSet::all())
                .await?;
            let mut out = Vec::new();
            for meta in metas {
                let raw = stores.mail.read_message(folder.id, meta.uid).await?;
                out.push(String::from_utf8_lossy(&raw).into_owned());
            }
            Ok(out)
        })
        .unwrap()
}

/// What a bulk spam tool sends: no date or id, a shouting subject, HTML only, a link to a
/// bare IP address, spam phrases.
fn spammy(from: &str) -> String {
    format!(
        "From: Lucky Draw <{from}>\r\nTo: {TOTO}\r\nSubject: YOU ARE A WINNER TODAY\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n\
         <p>Claim your prize: act now, it is 100% free! \
         <a href=\"http://203.0.113.9/claim\">Claim</a></p>\r\n"
    )
}

/// What a mail program sends.
fn clean(from: &str) -> String {
    format!(
        "From: Friend <{from}>\r\nTo: {TOTO}\r\nSubject: Lunch on Friday\r\n\
         Date: Mon, 1 Jun 2026 10:00:00 +0000\r\nMessage-ID: <lunch-1@pals.example>\r\n\r\n\
         Noon at the usual place?\r\n"
    )
}

/// The value of the first `X-Spam-Status:` header of a stored message.
fn spam_status(message: &str) -> &str {
    message
        .lines()
        .find_map(|line| line.strip_prefix("X-Spam-Status: "))
        .unwrap_or_else(|| panic!("no X-Spam-Status in {message}"))
}

/// Spam goes to Junk marked Yes; a clean message goes to INBOX marked No; a sender's own
/// `X-Spam-Status: No` does not come first.
#[test]
fn rcv_4_spam_lands_in_junk_and_clean_mail_in_the_inbox() {
    let dns = DnsServer::start(Zone::new()).unwrap();
    let server = server(&dns, "");

    let disguised = format!(
        "X-Spam-Status: No, score=0.0\r\n{}",
        spammy("draw@prizes.example")
    );
    let tx = send(&server, "draw@prizes.example", &disguised);
    assert_eq!(code(&tx["data"]), 250, "Junk, not refused: {tx}");
    let junk = folder(&server, "Junk");
    assert_eq!(junk.len(), 1, "{junk:?}");
    assert!(
        spam_status(&junk[0]).starts_with("Yes, score="),
        "{}",
        junk[0]
    );
    assert!(junk[0].contains("URL_WITH_IP_HOST"), "{}", junk[0]);
    assert!(junk[0].contains("\r\nX-Spam-Flag: YES\r\n"), "{}", junk[0]);
    assert!(folder(&server, "INBOX").is_empty());

    let tx = send(
        &server,
        "friend@pals.example",
        &clean("friend@pals.example"),
    );
    assert_eq!(code(&tx["data"]), 250, "{tx}");
    let inbox = folder(&server, "INBOX");
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert!(
        spam_status(&inbox[0]).starts_with("No, score="),
        "{}",
        inbox[0]
    );
    assert!(inbox[0].contains("\r\nX-Spam-Score: "), "{}", inbox[0]);
}

/// A blocked sender is refused at RCPT with 550 5.7.1; an allowed sender's spam reaches the
/// INBOX. The lists are changed with the admin CLI while the server runs.
#[test]
fn rcv_4_sender_lists_refuse_at_rcpt_and_let_allowed_spam_in() {
    let dns = DnsServer::start(Zone::new()).unwrap();
    let server = server(&dns, "");
    server.admin_ok(&["sender-rule", "add", TOTO, "block", "blocked.example"]);
    server.admin_ok(&["sender-rule", "add", TOTO, "allow", "draw@prizes.example"]);

    let tx = send(
        &server,
        "boss@blocked.example",
        &clean("boss@blocked.example"),
    );
    assert_eq!(code(&tx["rcpt"][0]), 550, "{tx}");
    let text = tx["rcpt"][0][1].as_str().unwrap();
    assert_eq!(
        text,
        "5.7.1 The recipient does not accept mail from this sender"
    );

    let tx = send(
        &server,
        "draw@prizes.example",
        &spammy("draw@prizes.example"),
    );
    assert_eq!(code(&tx["data"]), 250, "{tx}");
    let inbox = folder(&server, "INBOX");
    assert_eq!(inbox.len(), 1, "the allowed sender's spam is in INBOX");
    assert!(
        spam_status(&inbox[0]).starts_with("Yes, score="),
        "the score is still shown: {}",
        inbox[0]
    );
    assert!(folder(&server, "Junk").is_empty());
}
