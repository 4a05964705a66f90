//! The bounce explainer (CLI-2) on reports as providers write them: our own queue's RFC 3464
//! report, Postfix, Sendmail, Gmail and Microsoft 365 reports, Exim and qmail plain-text
//! bounces, delays, and the classes of the seed's bounce guide. Samples are in
//! `tests/bounces/*.eml` (made up from the formats; no real person's mail). Each test checks
//! the class a sender is shown and that the remote server's words reach them unchanged.

use std::path::Path;

use postwerk_core::bounce::{self, Action, Explanation, ReportFormat};
use postwerk_core::{BounceClass, RecipientReport};

fn sample(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/bounces")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn explained(name: &str) -> Explanation {
    bounce::explain(&sample(name)).unwrap_or_else(|| panic!("{name} is explained"))
}

/// The one recipient of a report.
fn only_recipient(explanation: &Explanation) -> &RecipientReport {
    assert_eq!(explanation.recipients.len(), 1, "{explanation:#?}");
    &explanation.recipients[0]
}

#[test]
fn cli_2_our_own_failure_report_is_explained_exactly() {
    let explanation = explained("postwerk-failed.eml");
    assert_eq!(explanation.action, Action::Failed);
    assert_eq!(explanation.format, ReportFormat::DeliveryStatus);
    let bob = only_recipient(&explanation);
    assert_eq!(bob.address.as_deref(), Some("bob@remote.example"));
    assert_eq!(bob.action, Action::Failed);
    assert_eq!(bob.status.as_deref(), Some("5.1.1"));
    assert_eq!(bob.remote_mta.as_deref(), Some("mx.remote.example"));
    // Folded by the builder at a space; unfolded back to the reply the server sent.
    assert_eq!(
        bob.diagnostic.as_deref(),
        Some(
            "550 5.1.1 <bob@remote.example>: Recipient address rejected: User unknown in \
             virtual mailbox table"
        )
    );
    assert_eq!(bob.class, BounceClass::UnknownUser);
    assert_eq!(
        explanation.summary,
        "Your message could not be delivered to bob@remote.example (Unknown user)."
    );
}

#[test]
fn cli_2_postfix_report() {
    let explanation = explained("postfix-failed.eml");
    let carol = only_recipient(&explanation);
    assert_eq!(carol.address.as_deref(), Some("carol@example.org"));
    assert_eq!(carol.class, BounceClass::UnknownUser);
    assert_eq!(carol.remote_mta.as_deref(), Some("mx1.example.org"));
    assert_eq!(
        carol.diagnostic.as_deref(),
        Some(
            "550 5.1.1 <carol@example.org>: Recipient address rejected: User unknown in \
             local recipient table"
        )
    );
}

#[test]
fn cli_2_exim_plain_bounce_quotes_the_reply_after_the_host() {
    let explanation = explained("exim-failed.eml");
    assert_eq!(explanation.format, ReportFormat::PlainText);
    assert_eq!(explanation.action, Action::Failed);
    let dan = only_recipient(&explanation);
    assert_eq!(dan.address.as_deref(), Some("dan@example.org"));
    assert_eq!(dan.remote_mta.as_deref(), Some("mx.example.org"));
    assert_eq!(dan.status.as_deref(), Some("5.1.1"));
    assert_eq!(
        dan.diagnostic.as_deref(),
        Some("550 5.1.1 <dan@example.org>... No such user here"),
        "the returned copy's text is not taken for a reply"
    );
    assert_eq!(dan.class, BounceClass::UnknownUser);
}

#[test]
fn cli_2_gmail_multi_line_reply_is_kept_whole() {
    let bob = explained("gmail-failed.eml").recipients.remove(0);
    assert_eq!(bob.address.as_deref(), Some("bob.martin@example.org"));
    assert_eq!(bob.class, BounceClass::UnknownUser);
    assert_eq!(
        bob.remote_mta.as_deref(),
        Some("aspmx.l.google.com. (142.250.27.26, the server for the domain example.org.)")
    );
    assert_eq!(
        bob.diagnostic.as_deref(),
        Some(
            "550-5.1.1 The email account that you tried to reach does not exist. Please try \
             550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 \
             unnecessary spaces. Learn more at 550 5.1.1 \
             https://support.google.com/mail/?p=NoSuchUser \
             d9443c01a7336-1c9e2f0f5b8si1234567plb.412 - gsmtp"
        )
    );
}

#[test]
fn cli_2_microsoft_365_report_with_two_recipients() {
    let explanation = explained("microsoft365-failed.eml");
    assert_eq!(explanation.recipients.len(), 2);
    let ines = &explanation.recipients[0];
    assert_eq!(ines.address.as_deref(), Some("ines@fabrikam-example.com"));
    assert_eq!(ines.status.as_deref(), Some("5.4.1"));
    // Directory-based edge blocking: the address does not exist at Microsoft 365.
    assert_eq!(ines.class, BounceClass::UnknownUser);
    assert_eq!(
        ines.remote_mta.as_deref(),
        Some("fabrikam-example-com.mail.protection.outlook.com")
    );
    let jon = &explanation.recipients[1];
    assert_eq!(jon.status.as_deref(), Some("5.7.606"));
    assert_eq!(jon.class, BounceClass::BlockList);
    assert_eq!(
        jon.diagnostic.as_deref(),
        Some(
            "550 5.7.606 Access denied, banned sending IP [203.0.113.45]. To request removal \
             from this list please visit https://sender.office.com/ and follow the \
             directions. For more information please go to \
             http://go.microsoft.com/fwlink/?LinkID=526655 AS(1430)"
        )
    );
    assert_eq!(
        explanation.summary,
        "Your message could not be delivered to ines@fabrikam-example.com (Unknown user) and \
         jon@woodgrove-example.com (On a block list)."
    );
}

#[test]
fn cli_2_delayed_report_is_a_delay_not_a_failure() {
    let explanation = explained("delayed.eml");
    assert_eq!(explanation.action, Action::Delayed);
    let kim = only_recipient(&explanation);
    assert_eq!(kim.status.as_deref(), Some("4.4.1"));
    assert_eq!(kim.class, BounceClass::Delayed);
    assert_eq!(
        kim.diagnostic.as_deref(),
        Some("connect to mx.example.net[192.0.2.30]:25: Connection timed out")
    );
    assert!(
        explanation.summary.contains("is delayed"),
        "{}",
        explanation.summary
    );
}

#[test]
fn cli_2_greylisting_451_4_7_1() {
    let explanation = explained("greylisting.eml");
    assert_eq!(explanation.action, Action::Delayed);
    let lea = only_recipient(&explanation);
    assert_eq!(lea.class, BounceClass::Greylisting);
    assert_eq!(
        lea.diagnostic.as_deref(),
        Some("451 4.7.1 Please try again later")
    );
}

#[test]
fn cli_2_spamhaus_refusal_in_a_qmail_bounce() {
    let explanation = explained("spamhaus.eml");
    assert_eq!(explanation.format, ReportFormat::PlainText);
    assert_eq!(explanation.action, Action::Failed);
    let max = only_recipient(&explanation);
    assert_eq!(max.address.as_deref(), Some("max@example.org"));
    assert_eq!(max.class, BounceClass::BlockList);
    assert_eq!(
        max.diagnostic.as_deref(),
        Some(
            "554 5.7.1 Service unavailable; Client host [203.0.113.45] blocked using \
             zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.45"
        )
    );
}

#[test]
fn cli_2_mailbox_full_552_5_2_2() {
    let erin = explained("mailbox-full.eml").recipients.remove(0);
    assert_eq!(erin.class, BounceClass::MailboxFull);
    assert_eq!(erin.remote_mta.as_deref(), Some("mx.example.org"));
    assert_eq!(
        erin.diagnostic.as_deref(),
        Some("552 5.2.2 <erin@example.org>... Mailbox full")
    );
    assert_eq!(
        format!("{} {}", erin.class.what_happened(), erin.class.what_to_do()),
        "The recipient's mailbox is full. Try again in a few days or reach them another way."
    );
}

#[test]
fn cli_2_spf_5_7_23_in_a_plain_notification() {
    let frank = explained("spf.eml").recipients.remove(0);
    assert_eq!(frank.address.as_deref(), Some("frank@example.org"));
    assert_eq!(frank.status.as_deref(), Some("5.7.23"));
    assert_eq!(frank.class, BounceClass::SpfFailure);
    assert_eq!(
        frank.diagnostic.as_deref(),
        Some(
            "550 5.7.23 SPF validation failed: example.com does not designate 203.0.113.45 \
             as permitted sender"
        )
    );
}

#[test]
fn cli_2_our_auth_guards_refusal_explains_the_sender_address() {
    let paul = explained("auth-guards.eml").recipients.remove(0);
    assert_eq!(paul.class, BounceClass::AuthGuards);
    assert_eq!(
        paul.diagnostic.as_deref(),
        Some("553 5.7.1 Sender denied: auth guards failed")
    );
    assert!(
        paul.class
            .what_happened()
            .starts_with("You tried to send as an address your mailbox does not own")
    );
}

#[test]
fn cli_2_unicode_header_554_5_6_7() {
    let gina = explained("unicode-header.eml").recipients.remove(0);
    assert_eq!(gina.address.as_deref(), Some("gina@example.org"));
    assert_eq!(gina.class, BounceClass::UnicodeHeader);
    assert_eq!(
        gina.diagnostic.as_deref(),
        Some("554 5.6.7 The message contains a unicode character in a disallowed header")
    );
}

#[test]
fn cli_2_ordinary_messages_and_success_reports_are_not_bounces() {
    assert_eq!(
        bounce::explain(&sample("ordinary.eml")),
        None,
        "an SMTP error quoted by a person is no bounce"
    );
    assert_eq!(
        bounce::explain(&sample("delivered.eml")),
        None,
        "a report that says delivered is no failure"
    );
    assert_eq!(bounce::explain(b""), None);
    assert_eq!(bounce::explain(b"\xff\xfe garbage without a header"), None);
}

#[test]
fn cli_2_a_hostile_diagnostic_is_bounded() {
    let long = "x".repeat(50_000);
    let raw = format!(
        "From: MAILER-DAEMON@relay.example.net\r\nSubject: Undelivered Mail\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; relay.example.net\r\n\r\n\
         Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\nStatus: 5.0.0\r\n\
         Diagnostic-Code: smtp; 550 {long}\r\n\r\n--b--\r\n"
    );
    let a = bounce::explain(raw.as_bytes())
        .unwrap()
        .recipients
        .remove(0);
    let words = a.diagnostic.unwrap();
    assert_eq!(words.chars().count(), bounce::MAX_DIAGNOSTIC_CHARS + 1);
    assert!(words.starts_with("550 xxx") && words.ends_with('…'));
    assert_eq!(a.class, BounceClass::Other);
}
