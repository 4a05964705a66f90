//! `postwerk admin bounce explain` end to end (CLI-2): the real binary explains a report our
//! own queue builds (`postwerk_queue::dsn::build`) and a sample of another provider, from a
//! file and from standard input, as text and as JSON, and refuses an ordinary message.
//!
//! It also keeps the hand-written sample of our report in `postwerk-core`'s tests true to the
//! builder: core cannot depend on the queue (the queue depends on core), so the sample there
//! is written by hand and compared here.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use postwerk_queue::dsn::{Action, Report, ReportRecipient, build};
use postwerk_store::{DsnRet, QueueId};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_postwerk");
const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/bounces");

const REPLY: &str = "550 5.1.1 <bob@remote.example>: Recipient address rejected: User unknown \
                     in virtual mailbox table";

const ORIGINAL: &[u8] = b"Received: from [192.0.2.7] ([192.0.2.7])\r\n\tby mail.example.com \
    (Postwerk) with ESMTPSA\r\n\tid 42; Tue, 14 Nov 2023 22:13:20 +0000\r\n\
    From: Anna <anna@example.com>\r\nTo: bob@remote.example\r\nSubject: Lunch on Friday?\r\n\
    Date: Tue, 14 Nov 2023 22:13:19 +0000\r\nMessage-ID: <lunch-1@example.com>\r\n\r\n\
    Shall we meet at noon?\r\n";

/// The failure report our queue sends when mx.remote.example refuses bob@remote.example: the
/// inputs of `postwerk-core/tests/bounces/postwerk-failed.eml`.
fn our_failure_report() -> Vec<u8> {
    let recipients = [ReportRecipient {
        address: "bob@remote.example".into(),
        orcpt: Some("rfc822;bob@remote.example".into()),
        forwarded_by: None,
        status: "5.1.1".into(),
        remote_mta: Some("mx.remote.example".into()),
        reply: Some(REPLY.into()),
        reason: format!("mx.remote.example answered RCPT TO with {REPLY}"),
        last_attempt_at: Some(1_700_000_060),
        expired: false,
    }];
    let report = Report {
        hostname: "mail.example.com",
        queue_id: QueueId(42),
        return_path: "anna@example.com",
        envid: None,
        ret: Some(DsnRet::Headers),
        received_at: 1_700_000_000,
        action: Action::Failed,
        recipients: &recipients,
        original: ORIGINAL,
        now: 1_700_000_061,
        delay_notice: Duration::from_secs(4 * 3600),
        give_up: Duration::from_secs(3 * 86_400),
    };
    build(&report).expect("a report to a real sender is built")
}

/// Runs `postwerk admin bounce explain` with `args`, feeding `stdin`.
fn explain(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(["admin", "bounce", "explain"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the postwerk binary runs");
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin).expect("stdin accepts the message");
    }
    child.wait_with_output().expect("the command finishes")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn cli_2_our_own_failure_report_is_explained_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bounce.eml");
    std::fs::write(&file, our_failure_report()).unwrap();

    let output = explain(&["--json", file.to_str().unwrap()], b"");
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["action"], "failed");
    assert_eq!(json["format"], "delivery_status");
    let recipient = &json["recipients"][0];
    assert_eq!(recipient["address"], "bob@remote.example");
    assert_eq!(recipient["class"], "unknown_user");
    assert_eq!(recipient["status"], "5.1.1");
    assert_eq!(recipient["remote_mta"], "mx.remote.example");
    assert_eq!(
        recipient["diagnostic"], REPLY,
        "the server's words, unfolded"
    );
    assert!(
        recipient["what_to_do"]
            .as_str()
            .unwrap()
            .contains("typing mistakes")
    );
}

#[test]
fn cli_2_a_report_on_standard_input_is_explained_as_text() {
    let sample = std::fs::read(Path::new(SAMPLES).join("mailbox-full.eml")).unwrap();
    let text = stdout(&explain(&[], &sample));
    assert!(text.starts_with("Delivery failed: "), "{text}");
    assert!(
        text.contains("Mailbox full (failed, status 5.2.2)"),
        "{text}"
    );
    assert!(
        text.contains("What to do: Try again in a few days or reach them another way."),
        "{text}"
    );
    assert!(text.contains("said: 552 5.2.2"), "{text}");
}

#[test]
fn cli_2_an_ordinary_message_is_refused_with_a_reason() {
    let sample = std::fs::read(Path::new(SAMPLES).join("ordinary.eml")).unwrap();
    let output = explain(&[], &sample);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not a delivery failure or delay report"),
        "{stderr}"
    );
}

/// The parts of our report that change on every build: the Message-ID token and the MIME
/// boundary derived from it.
fn without_unique_names(report: &str) -> String {
    let boundary = report
        .split("boundary=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the report has a boundary");
    let token = report
        .split("Message-ID: <")
        .nth(1)
        .and_then(|rest| rest.split(".dsn@").next())
        .expect("the report has a Message-ID");
    report.replace(boundary, "BOUNDARY").replace(token, "TOKEN")
}

#[test]
fn cli_2_the_hand_written_sample_of_our_report_matches_the_builder() {
    let built = String::from_utf8(our_failure_report()).unwrap();
    let sample = std::fs::read_to_string(Path::new(SAMPLES).join("postwerk-failed.eml")).unwrap();
    assert_eq!(without_unique_names(&sample), without_unique_names(&built));
}

/// Our report about `recipient` failing or waiting without any remote reply (DNS,
/// connection), as the queue writes it with an `X-Postwerk` diagnostic.
fn our_report_without_a_reply(action: Action, status: &str, reason: &str) -> Vec<u8> {
    let recipients = [ReportRecipient {
        address: "bob@remote.example".into(),
        orcpt: None,
        forwarded_by: None,
        status: status.into(),
        remote_mta: None,
        reply: None,
        reason: reason.into(),
        last_attempt_at: Some(1_700_014_400),
        expired: false,
    }];
    build(&Report {
        hostname: "mail.example.com",
        queue_id: QueueId(43),
        return_path: "anna@example.com",
        envid: None,
        ret: None,
        received_at: 1_700_000_000,
        action,
        recipients: &recipients,
        original: ORIGINAL,
        now: 1_700_014_400,
        delay_notice: Duration::from_secs(4 * 3600),
        give_up: Duration::from_secs(3 * 86_400),
    })
    .expect("a report to a real sender is built")
}

#[test]
fn cli_2_our_own_reports_without_a_remote_reply_are_explained() {
    let reason = "connection refused by every MX host of remote.example";
    let delay = our_report_without_a_reply(Action::Delayed, "4.4.1", reason);
    let explanation = postwerk_core::bounce::explain(&delay).expect("a delay report");
    assert_eq!(explanation.action, postwerk_core::bounce::Action::Delayed);
    let bob = &explanation.recipients[0];
    assert_eq!(bob.class, postwerk_core::BounceClass::Delayed);
    assert_eq!(bob.status.as_deref(), Some("4.4.1"));
    assert_eq!(
        bob.diagnostic.as_deref(),
        Some(reason),
        "our reason, unfolded"
    );
    assert_eq!(bob.remote_mta, None);

    let null_mx = "null MX: remote.example accepts no mail";
    let failure = our_report_without_a_reply(Action::Failed, "5.1.10", null_mx);
    let explanation = postwerk_core::bounce::explain(&failure).expect("a failure report");
    assert_eq!(
        explanation.recipients[0].class,
        postwerk_core::BounceClass::DomainNotFound
    );
}
