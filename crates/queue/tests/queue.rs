//! The queue over a real embedded store in a temporary folder, with a fake transport that
//! answers scripted outcomes and a fake clock moved by hand: SND-4 and SND-5 end to end,
//! reports parsed back with `mail-parser`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use mail_parser::{MessageParser, MimeHeaders};
use postwerk_core::{
    Actor, Admin, CreateAddress, Delivered, Delivery, Envelope, EnvelopeRecipient,
};
use postwerk_model::{Address, AddressKind, EnvelopeAddress};
use postwerk_net::Shutdown;
use postwerk_queue::{Attempt, Clock, Failure, Outcome, Queue, QueueConfig, Srs, Transport};
use postwerk_store::{DsnRet, NewQueued, Notify, QueueId, QueuedRecipient, Stores, UidSet};

const T0: i64 = 1_700_000_000;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
const SENDER: &str = "sender@example.test";
const BODY: &[u8] = b"Received: from client.example ([192.0.2.7])\r\n\tby mx.example.test \
    (Postwerk) with ESMTPSA\r\n\tid T1; Tue, 14 Nov 2023 22:13:20 +0000\r\n\
    From: sender@example.test\r\nTo: a@remote.example\r\nSubject: Quarterly figures\r\n\
    Message-ID: <m1@example.test>\r\n\r\nThe body of the message.\r\n";

#[derive(Debug)]
struct FakeClock(AtomicI64);

impl Clock for FakeClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Records attempts; answers per recipient from a script, `250` once the script is empty.
#[derive(Debug, Default)]
struct FakeTransport {
    attempts: Mutex<Vec<(Attempt, Vec<u8>)>>,
    script: Mutex<HashMap<String, VecDeque<Outcome>>>,
    attempted: tokio::sync::Notify,
}

#[async_trait]
impl Transport for FakeTransport {
    async fn deliver(&self, attempt: &Attempt, content: &[u8]) -> Vec<Outcome> {
        let outcomes = attempt
            .recipients
            .iter()
            .map(|r| {
                self.script
                    .lock()
                    .unwrap()
                    .get_mut(&r.address)
                    .and_then(VecDeque::pop_front)
                    .unwrap_or_else(|| Outcome::Delivered {
                        remote_mta: format!("mx.{}", attempt.domain),
                        reply: "250 2.0.0 Ok: queued as R1".into(),
                    })
            })
            .collect();
        self.attempts
            .lock()
            .unwrap()
            .push((attempt.clone(), content.to_vec()));
        self.attempted.notify_one();
        outcomes
    }
}

impl FakeTransport {
    fn script(&self, address: &str, outcomes: impl IntoIterator<Item = Outcome>) {
        self.script
            .lock()
            .unwrap()
            .entry(address.into())
            .or_default()
            .extend(outcomes);
    }

    fn attempts(&self) -> Vec<Attempt> {
        self.attempts
            .lock()
            .unwrap()
            .iter()
            .map(|(a, _)| a.clone())
            .collect()
    }
}

fn temporary() -> Outcome {
    Outcome::Temporary(Failure {
        status: "4.4.1".into(),
        remote_mta: None,
        reply: None,
        reason: "connection refused by every MX host of remote.example".into(),
    })
}

fn permanent() -> Outcome {
    Outcome::Permanent(Failure {
        status: "5.1.1".into(),
        remote_mta: Some("mx.remote.example".into()),
        reply: Some(
            "550 5.1.1 <a@remote.example>: Recipient address rejected: no such user".into(),
        ),
        reason: "the server refused the recipient".into(),
    })
}

struct Fixture {
    _dir: tempfile::TempDir,
    stores: Stores,
    clock: Arc<FakeClock>,
    transport: Arc<FakeTransport>,
    queue: Queue,
    delivery: Delivery,
}

fn config() -> QueueConfig {
    QueueConfig {
        hostname: "mx.example.test".into(),
        srs_secret: b"srs-test-secret".to_vec(),
        srs_domain: "example.test".into(),
        ..QueueConfig::default()
    }
}

/// example.test hosts sender@ (a mailbox) and fwd@ (redirects to out@elsewhere.example).
async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let stores = postwerk_store::open_sqlite(&dir.path().join("data"))
        .await
        .unwrap();
    let admin = Admin::from_stores(&stores);
    let op = Actor::Operator;
    admin.create_org(op, "Acme").await.unwrap();
    admin
        .create_service(op, "example.test", "Acme", 100)
        .await
        .unwrap();
    for (address, kind, password, to) in [
        (
            SENDER,
            AddressKind::Mailbox,
            Some("mailbox-secret-1"),
            vec![],
        ),
        (
            "fwd@example.test",
            AddressKind::RedirectOnly,
            None,
            vec!["out@elsewhere.example".to_string()],
        ),
    ] {
        admin
            .create_address(
                op,
                CreateAddress {
                    address: address.into(),
                    kind,
                    password: password.map(Into::into),
                    holder: postwerk_core::Holder::Nobody,
                    display_name: String::new(),
                    aliases: Vec::new(),
                    redirect_to: to,
                    keep_copy: false,
                },
            )
            .await
            .unwrap();
    }
    let delivery = Delivery::new(
        stores.directory.clone(),
        stores.mail.clone(),
        stores.queue.clone(),
    );
    let clock = Arc::new(FakeClock(AtomicI64::new(T0)));
    let transport = Arc::new(FakeTransport::default());
    let queue = Queue::new(
        stores.queue.clone(),
        delivery.clone(),
        transport.clone(),
        clock.clone(),
        config(),
    );
    Fixture {
        _dir: dir,
        stores,
        clock,
        transport,
        queue,
        delivery,
    }
}

fn address(text: &str) -> Address {
    text.parse().unwrap()
}

fn rcpt(addr: &str) -> QueuedRecipient {
    QueuedRecipient {
        address: EnvelopeAddress::parse(addr).expect("a valid envelope address"),
        notify: None,
        orcpt: None,
        forwarded_by: None,
    }
}

fn queued(return_path: &str, recipients: Vec<QueuedRecipient>) -> NewQueued {
    NewQueued {
        return_path: return_path.into(),
        recipients,
        envid: None,
        ret: None,
        received_at: T0,
        submitted_by: None,
        held: None,
    }
}

impl Fixture {
    async fn enqueue(&self, message: NewQueued) -> QueueId {
        self.enqueue_raw(BODY, message).await
    }

    async fn enqueue_raw(&self, raw: &[u8], message: NewQueued) -> QueueId {
        self.stores.queue.enqueue(raw, message).await.unwrap()
    }

    fn set_clock(&self, now: i64) {
        self.clock.0.store(now, Ordering::SeqCst);
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }

    async fn queue_len(&self) -> usize {
        self.stores.queue.queued().await.unwrap().len()
    }

    /// Moves the clock to the next due time (if any) and runs one pass.
    async fn step(&self) -> Option<usize> {
        let due = self.stores.queue.next_due().await.unwrap()?;
        self.set_clock(due.max(self.now()));
        Some(self.queue.run_once().await)
    }

    /// The messages in `who`'s INBOX, oldest first.
    async fn inbox(&self, who: &str) -> Vec<Vec<u8>> {
        let mailbox = self
            .stores
            .directory
            .address_by_address(&address(who))
            .await
            .unwrap()
            .unwrap();
        let inbox = self
            .stores
            .mail
            .folder_by_name(mailbox.id, "INBOX")
            .await
            .unwrap()
            .unwrap();
        let metas = self
            .stores
            .mail
            .list_messages(inbox.id, &UidSet::all())
            .await
            .unwrap();
        let mut out = Vec::new();
        for meta in metas {
            out.push(
                self.stores
                    .mail
                    .read_message(inbox.id, meta.uid)
                    .await
                    .unwrap(),
            );
        }
        out
    }
}

/// A report parsed back: its header fields, its three parts and the status fields.
#[derive(Debug)]
struct ParsedReport {
    subject: String,
    from: String,
    to: String,
    auto_submitted: String,
    report_type: String,
    human: String,
    /// The per-message group, then one group per recipient.
    groups: Vec<Vec<(String, String)>>,
    returned_type: String,
    returned: Vec<u8>,
}

impl ParsedReport {
    fn message_field(&self, name: &str) -> Option<&str> {
        field(&self.groups[0], name)
    }

    fn recipient_field(&self, index: usize, name: &str) -> Option<&str> {
        field(&self.groups[index + 1], name)
    }
}

fn field<'a>(group: &'a [(String, String)], name: &str) -> Option<&'a str> {
    group
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn parse_report(raw: &[u8]) -> ParsedReport {
    let message = MessageParser::default().parse(raw).expect("a message");
    let ctype = message.content_type().expect("a content type");
    assert_eq!(ctype.ctype(), "multipart");
    assert_eq!(ctype.subtype(), Some("report"));
    let root = &message.parts[0];
    let ids = root.sub_parts().expect("parts");
    assert_eq!(ids.len(), 3, "human, delivery-status, returned message");
    let part = |i: usize| &message.parts[ids[i] as usize];
    let type_of = |i: usize| {
        let ct = part(i).content_type().unwrap();
        format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or(""))
    };
    assert_eq!(type_of(0), "text/plain");
    assert_eq!(type_of(1), "message/delivery-status");
    let status = String::from_utf8(part(1).contents().to_vec()).unwrap();
    let mut groups = vec![Vec::new()];
    for line in status.split("\r\n") {
        if line.is_empty() {
            if !groups.last().unwrap().is_empty() {
                groups.push(Vec::new());
            }
        } else if line.starts_with([' ', '\t']) {
            let last: &mut (String, String) = groups.last_mut().unwrap().last_mut().unwrap();
            last.1.push(' ');
            last.1.push_str(line.trim());
        } else {
            let (name, value) = line.split_once(':').expect("a field");
            groups
                .last_mut()
                .unwrap()
                .push((name.to_string(), value.trim().to_string()));
        }
    }
    if groups.last().unwrap().is_empty() {
        groups.pop();
    }
    let header = |name: &str| message.header_raw(name).unwrap_or("").trim().to_string();
    ParsedReport {
        subject: message.subject().unwrap_or("").to_string(),
        from: header("From"),
        to: header("To"),
        auto_submitted: header("Auto-Submitted"),
        report_type: ctype.attribute("report-type").unwrap_or("").to_string(),
        human: part(0).text_contents().unwrap().replace("\r\n", " "),
        groups,
        returned_type: type_of(2),
        returned: part(2).contents().to_vec(),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn snd_3_delivered_message_is_dequeued_without_a_report() {
    let f = fixture().await;
    f.enqueue(queued(SENDER, vec![rcpt("a@remote.example")]))
        .await;
    assert_eq!(f.queue.run_once().await, 1);
    let attempts = f.transport.attempts();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].return_path, SENDER);
    assert_eq!(attempts[0].domain, "remote.example");
    assert_eq!(attempts[0].recipients[0].address, "a@remote.example");
    assert!(!attempts[0].eight_bit && !attempts[0].smtputf8);
    assert_eq!(f.transport.attempts.lock().unwrap()[0].1, BODY);
    assert_eq!(f.queue_len().await, 0);
    assert!(f.inbox(SENDER).await.is_empty(), "no SUCCESS asked");
    assert_eq!(f.queue.run_once().await, 0);
}

#[tokio::test]
async fn snd_4_temporary_failure_is_retried_at_the_scheduled_time_not_before() {
    let f = fixture().await;
    f.transport.script("a@remote.example", [temporary()]);
    let id = f
        .enqueue(queued(SENDER, vec![rcpt("a@remote.example")]))
        .await;
    assert_eq!(f.queue.run_once().await, 1);
    let entry = f.stores.queue.queued_message(id).await.unwrap();
    assert_eq!(entry.states[0].attempts, 1);
    assert_eq!(entry.states[0].next_attempt_at, T0 + 60);
    assert_eq!(entry.states[0].last_status.as_deref(), Some("4.4.1"));

    f.set_clock(T0 + 59);
    assert_eq!(
        f.queue.run_once().await,
        0,
        "not before the first retry step"
    );
    f.set_clock(T0 + 60);
    assert_eq!(f.queue.run_once().await, 1);
    assert_eq!(f.transport.attempts().len(), 2);
    assert_eq!(f.queue_len().await, 0);
    assert!(f.inbox(SENDER).await.is_empty());
}

#[tokio::test]
async fn snd_4_delay_report_after_four_hours_once_into_the_local_inbox() {
    let f = fixture().await;
    f.transport
        .script("a@remote.example", std::iter::repeat_n(temporary(), 30));
    f.enqueue(queued(SENDER, vec![rcpt("a@remote.example")]))
        .await;
    f.queue.run_once().await;
    while f.now() < T0 + 12 * HOUR {
        f.step().await.unwrap();
        if f.now() < T0 + 4 * HOUR {
            assert!(f.inbox(SENDER).await.is_empty(), "nothing before 4 hours");
        }
    }
    let inbox = f.inbox(SENDER).await;
    assert_eq!(inbox.len(), 1, "one delay report, however many attempts");
    assert!(
        inbox[0].starts_with(b"Return-Path: <>\r\n"),
        "from the null sender"
    );
    let report = parse_report(&inbox[0]);
    assert_eq!(report.subject, "Delayed Mail (still being retried)");
    assert_eq!(report.report_type, "delivery-status");
    assert_eq!(
        report.from,
        "Mail Delivery System <MAILER-DAEMON@mx.example.test>"
    );
    assert_eq!(report.to, format!("<{SENDER}>"));
    assert_eq!(report.auto_submitted, "auto-replied");
    assert!(
        report.human.contains(
            "Warning: message still undelivered after 4 hours, will keep trying until \
             message is 3 days old"
        ),
        "{}",
        report.human
    );
    assert!(report.human.contains("<a@remote.example>"));
    assert!(
        report
            .human
            .contains("None of the recipient's mail servers could be reached")
    );
    assert_eq!(
        report.message_field("Reporting-MTA"),
        Some("dns; mx.example.test")
    );
    assert_eq!(
        report.message_field("Received-From-MTA"),
        Some("dns; client.example ([192.0.2.7])")
    );
    assert_eq!(
        report.message_field("Arrival-Date"),
        Some("Tue, 14 Nov 2023 22:13:20 +0000")
    );
    assert_eq!(
        report.recipient_field(0, "Final-Recipient"),
        Some("rfc822; a@remote.example")
    );
    assert_eq!(report.recipient_field(0, "Action"), Some("delayed"));
    assert_eq!(report.recipient_field(0, "Status"), Some("4.4.1"));
    assert_eq!(
        report.recipient_field(0, "Will-Retry-Until"),
        Some("Fri, 17 Nov 2023 22:13:20 +0000")
    );
    assert_eq!(
        report.recipient_field(0, "Last-Attempt-Date"),
        Some("Wed, 15 Nov 2023 02:13:20 +0000"),
        "the attempt made at the 4 hour point itself"
    );
    assert!(
        report
            .recipient_field(0, "Diagnostic-Code")
            .unwrap()
            .contains("connection refused")
    );
    assert_eq!(
        report.returned_type, "text/rfc822-headers",
        "a delay returns the header"
    );
    assert!(contains(&report.returned, b"Subject: Quarterly figures"));
    assert!(!contains(&report.returned, b"The body of the message."));
    assert_eq!(f.queue_len().await, 1, "still being retried");
}

#[tokio::test]
async fn snd_4_final_report_after_three_days() {
    let f = fixture().await;
    f.transport
        .script("a@remote.example", std::iter::repeat_n(temporary(), 100));
    f.enqueue(queued(SENDER, vec![rcpt("a@remote.example")]))
        .await;
    f.queue.run_once().await;
    while f.queue_len().await > 0 {
        f.step().await.unwrap();
        assert!(f.now() <= T0 + 3 * DAY, "never past the give-up point");
    }
    assert_eq!(
        f.now(),
        T0 + 3 * DAY,
        "the last attempt at the give-up point"
    );
    let inbox = f.inbox(SENDER).await;
    assert_eq!(inbox.len(), 2, "the delay warning, then the final report");
    let last = parse_report(&inbox[1]);
    assert_eq!(last.subject, "Undelivered Mail Returned to Sender");
    assert_eq!(last.recipient_field(0, "Action"), Some("failed"));
    assert_eq!(last.recipient_field(0, "Status"), Some("4.4.1"));
    assert_eq!(last.recipient_field(0, "Will-Retry-Until"), None);
    assert_eq!(
        last.recipient_field(0, "Last-Attempt-Date"),
        Some("Fri, 17 Nov 2023 22:13:20 +0000")
    );
    assert!(
        last.human.contains("We gave up after 3 days of trying"),
        "{}",
        last.human
    );
    assert_eq!(
        last.returned_type, "message/rfc822",
        "small message: returned whole"
    );
    assert!(contains(&last.returned, b"The body of the message."));
    // Every attempt of the schedule, and none after.
    let attempts = f.transport.attempts().len();
    assert!(
        (15..=25).contains(&attempts),
        "{attempts} attempts in 3 days"
    );
}

#[tokio::test]
async fn snd_4_permanent_failure_reports_at_once_with_the_diagnostic() {
    let f = fixture().await;
    f.transport.script("a@remote.example", [permanent()]);
    f.enqueue(queued(SENDER, vec![rcpt("a@remote.example")]))
        .await;
    assert_eq!(f.queue.run_once().await, 1);
    assert_eq!(f.queue_len().await, 0, "a 5xx settles the recipient");
    let inbox = f.inbox(SENDER).await;
    assert_eq!(inbox.len(), 1);
    let report = parse_report(&inbox[0]);
    assert_eq!(report.subject, "Undelivered Mail Returned to Sender");
    assert_eq!(report.recipient_field(0, "Action"), Some("failed"));
    assert_eq!(report.recipient_field(0, "Status"), Some("5.1.1"));
    assert_eq!(
        report.recipient_field(0, "Remote-MTA"),
        Some("dns; mx.remote.example")
    );
    assert_eq!(
        report.recipient_field(0, "Diagnostic-Code"),
        Some("smtp; 550 5.1.1 <a@remote.example>: Recipient address rejected: no such user")
    );
    assert_eq!(
        report.recipient_field(0, "Last-Attempt-Date"),
        Some("Tue, 14 Nov 2023 22:13:20 +0000")
    );
    assert!(
        report
            .human
            .contains("Recipient address rejected: no such user")
    );
    assert!(report.human.contains("does not exist"), "{}", report.human);
    assert!(report.human.contains("Check the recipient's address"));
    assert_eq!(report.returned_type, "message/rfc822");
    assert_eq!(report.returned, BODY);
}

#[tokio::test]
async fn rfc_3461_notify_never_means_no_report() {
    let f = fixture().await;
    f.transport.script("a@remote.example", [permanent()]);
    let mut recipient = rcpt("a@remote.example");
    recipient.notify = Some(Notify::default());
    f.enqueue(queued(SENDER, vec![recipient])).await;
    assert_eq!(f.queue.run_once().await, 1);
    assert_eq!(f.queue_len().await, 0);
    assert!(f.inbox(SENDER).await.is_empty());
}

#[tokio::test]
async fn rfc_3461_notify_success_gets_a_success_report() {
    let f = fixture().await;
    let mut recipient = rcpt("a@remote.example");
    recipient.notify = Some(Notify {
        success: true,
        failure: true,
        delay: false,
    });
    f.enqueue(queued(SENDER, vec![recipient])).await;
    assert_eq!(f.queue.run_once().await, 1);
    let inbox = f.inbox(SENDER).await;
    assert_eq!(inbox.len(), 1);
    let report = parse_report(&inbox[0]);
    assert_eq!(report.subject, "Successful Mail Delivery Report");
    assert_eq!(report.recipient_field(0, "Action"), Some("delivered"));
    assert_eq!(report.recipient_field(0, "Status"), Some("2.0.0"));
    assert_eq!(
        report.recipient_field(0, "Remote-MTA"),
        Some("dns; mx.remote.example")
    );
    assert_eq!(report.returned_type, "text/rfc822-headers");
}

#[tokio::test]
async fn rfc_3461_null_sender_never_gets_a_report() {
    let f = fixture().await;
    f.transport.script("a@remote.example", [permanent()]);
    f.enqueue(queued("", vec![rcpt("a@remote.example")])).await;
    assert_eq!(f.queue.run_once().await, 1);
    assert_eq!(f.transport.attempts()[0].return_path, "");
    assert_eq!(f.queue_len().await, 0, "settled, and no report queued");
    assert!(f.inbox(SENDER).await.is_empty());
}

#[tokio::test]
async fn a_remote_sender_gets_the_report_through_the_queue_from_the_null_sender() {
    let f = fixture().await;
    f.transport.script("a@remote.example", [permanent()]);
    f.enqueue(queued("alice@far.example", vec![rcpt("a@remote.example")]))
        .await;
    assert_eq!(f.queue.run_once().await, 1);
    let queue = f.stores.queue.queued().await.unwrap();
    assert_eq!(queue.len(), 1, "the report waits for delivery");
    assert_eq!(queue[0].message.return_path, "");
    assert_eq!(
        queue[0].message.recipients[0].address.to_string(),
        "alice@far.example"
    );
    assert_eq!(f.queue.run_once().await, 1);
    let attempts = f.transport.attempts();
    let (report_attempt, content) = f.transport.attempts.lock().unwrap()[1].clone();
    assert_eq!(attempts[1].domain, "far.example");
    assert_eq!(report_attempt.return_path, "");
    let report = parse_report(&content);
    assert_eq!(report.to, "<alice@far.example>");
    assert_eq!(f.queue_len().await, 0);
}

/// RFC 6531: a sender with a non-ASCII local part, writing to a non-ASCII remote mailbox,
/// still gets the report, and the attempt carries both exactly, with SMTPUTF8.
#[tokio::test]
async fn a_non_ascii_sender_gets_the_report_about_a_non_ascii_recipient() {
    let f = fixture().await;
    f.transport.script("用户@remote.example", [permanent()]);
    f.enqueue(queued("zoë@far.example", vec![rcpt("用户@remote.example")]))
        .await;
    assert_eq!(f.queue.run_once().await, 1);
    let first = f.transport.attempts()[0].clone();
    assert_eq!(first.recipients[0].address, "用户@remote.example");
    assert!(first.smtputf8, "a non-ASCII envelope needs SMTPUTF8");
    let queue = f.stores.queue.queued().await.unwrap();
    assert_eq!(queue.len(), 1, "the report waits for delivery");
    assert_eq!(
        queue[0].message.recipients[0].address.to_string(),
        "zoë@far.example"
    );
}

#[tokio::test]
async fn rfc_3461_ret_hdrs_and_full() {
    let f = fixture().await;
    f.transport.script("h@remote.example", [permanent()]);
    f.transport.script("f@remote.example", [permanent()]);
    let mut headers = queued(SENDER, vec![rcpt("h@remote.example")]);
    headers.ret = Some(DsnRet::Headers);
    let mut full = queued(SENDER, vec![rcpt("f@remote.example")]);
    full.ret = Some(DsnRet::Full);
    let mut big_body = BODY.to_vec();
    big_body.extend(std::iter::repeat_n(b'x', 200 * 1024));
    big_body.extend_from_slice(b"\r\n");
    f.enqueue(headers).await;
    f.enqueue_raw(&big_body, full).await;
    assert_eq!(f.queue.run_once().await, 2);
    let inbox = f.inbox(SENDER).await;
    assert_eq!(inbox.len(), 2);
    let reports: Vec<ParsedReport> = inbox.iter().map(|raw| parse_report(raw)).collect();
    let by_rcpt = |who: &str| {
        reports
            .iter()
            .find(|r| r.recipient_field(0, "Final-Recipient") == Some(who))
            .unwrap()
    };
    let hdrs = by_rcpt("rfc822; h@remote.example");
    assert_eq!(hdrs.returned_type, "text/rfc822-headers");
    assert!(contains(&hdrs.returned, b"Subject: Quarterly figures"));
    assert!(!contains(&hdrs.returned, b"The body of the message."));
    let whole = by_rcpt("rfc822; f@remote.example");
    assert_eq!(whole.returned_type, "message/rfc822");
    assert_eq!(
        whole.returned, big_body,
        "RET=FULL returns even a large message whole"
    );
}

#[tokio::test]
async fn rfc_3461_envid_and_orcpt_are_echoed() {
    let f = fixture().await;
    f.transport.script("a@remote.example", [permanent()]);
    let mut recipient = rcpt("a@remote.example");
    recipient.orcpt = Some("rfc822;Original@Example.test".into());
    let mut message = queued(SENDER, vec![recipient]);
    message.envid = Some("ENV-2023-42".into());
    f.enqueue(message).await;
    f.queue.run_once().await;
    let attempt = &f.transport.attempts()[0];
    assert_eq!(attempt.envid.as_deref(), Some("ENV-2023-42"), "passed on");
    assert_eq!(
        attempt.recipients[0].orcpt.as_deref(),
        Some("rfc822;Original@Example.test")
    );
    let report = parse_report(&f.inbox(SENDER).await[0]);
    assert_eq!(
        report.message_field("Original-Envelope-Id"),
        Some("ENV-2023-42")
    );
    assert_eq!(
        report.recipient_field(0, "Original-Recipient"),
        Some("rfc822;Original@Example.test")
    );
}

#[tokio::test]
async fn issue_6_recipients_are_grouped_by_domain() {
    let f = fixture().await;
    f.enqueue(queued(
        SENDER,
        vec![
            rcpt("a@one.example"),
            rcpt("b@two.example"),
            rcpt("c@One.Example"),
        ],
    ))
    .await;
    assert_eq!(f.queue.run_once().await, 2, "one attempt per domain");
    let mut attempts = f.transport.attempts();
    attempts.sort_by(|a, b| a.domain.cmp(&b.domain));
    assert_eq!(attempts[0].domain, "one.example");
    let one: Vec<&str> = attempts[0]
        .recipients
        .iter()
        .map(|r| r.address.as_str())
        .collect();
    assert_eq!(one, ["a@one.example", "c@one.example"]);
    assert_eq!(attempts[1].domain, "two.example");
    assert_eq!(attempts[1].recipients.len(), 1);
    assert_eq!(f.queue_len().await, 0);
}

#[tokio::test]
async fn one_report_covers_every_recipient_settled_in_a_pass() {
    let f = fixture().await;
    f.transport.script("a@one.example", [permanent()]);
    f.transport.script("b@two.example", [permanent()]);
    f.enqueue(queued(
        SENDER,
        vec![
            rcpt("a@one.example"),
            rcpt("b@two.example"),
            rcpt("c@one.example"),
        ],
    ))
    .await;
    assert_eq!(f.queue.run_once().await, 2);
    let inbox = f.inbox(SENDER).await;
    assert_eq!(inbox.len(), 1);
    let report = parse_report(&inbox[0]);
    assert_eq!(
        report.groups.len(),
        3,
        "per-message fields and two recipients"
    );
    let finals: Vec<_> = (0..2)
        .map(|i| report.recipient_field(i, "Final-Recipient").unwrap())
        .collect();
    assert!(finals.contains(&"rfc822; a@one.example"));
    assert!(finals.contains(&"rfc822; b@two.example"));
}

#[tokio::test]
async fn issue_6_a_crashed_workers_lease_expires_and_the_message_is_delivered_once() {
    let f = fixture().await;
    f.enqueue(queued(SENDER, vec![rcpt("a@remote.example")]))
        .await;
    // A worker leases it and dies without recording anything.
    let lease = config().lease.as_secs() as i64;
    let taken = f.stores.queue.lease_due(T0, lease, 10).await.unwrap();
    assert_eq!(taken.len(), 1);
    drop(taken);

    assert_eq!(
        f.queue.run_once().await,
        0,
        "held by the dead worker's lease"
    );
    f.set_clock(T0 + lease - 1);
    assert_eq!(f.queue.run_once().await, 0);
    f.set_clock(T0 + lease);
    assert_eq!(
        f.queue.run_once().await,
        1,
        "retried once the lease expired"
    );
    assert_eq!(f.queue.run_once().await, 0);
    f.set_clock(T0 + 2 * lease);
    assert_eq!(f.queue.run_once().await, 0);
    assert_eq!(f.transport.attempts().len(), 1, "delivered exactly once");
    assert_eq!(f.queue_len().await, 0);
}

#[tokio::test]
async fn rcv_13_forwards_leave_with_an_srs_address_that_decodes_back() {
    let f = fixture().await;
    let sender = address("alice@remote.example");
    let to = address("fwd@example.test");
    let recipient = f.delivery.check_recipient(&to, false).await.unwrap();
    let envelope = Envelope {
        return_path: sender.to_string(),
        recipients: vec![EnvelopeRecipient {
            address: to.into(),
            recipient,
            notify: None,
            orcpt: None,
        }],
        envid: None,
        ret: None,
        submitted_by: None,
        client: None,
    };
    let outcome = f.delivery.deliver(&envelope, b"", BODY, T0).await.unwrap();
    assert!(matches!(
        outcome,
        Delivered::Accepted {
            queued: Some(_),
            ..
        }
    ));
    assert_eq!(f.queue.run_once().await, 1);
    let attempt = &f.transport.attempts()[0];
    assert_eq!(attempt.domain, "elsewhere.example");
    assert!(
        attempt.return_path.starts_with("SRS0=")
            && attempt
                .return_path
                .ends_with("=remote.example=alice@example.test"),
        "{}",
        attempt.return_path
    );
    // The MX decodes a bounce to it with the same secret.
    let srs = Srs::new(config().srs_secret);
    assert_eq!(
        srs.decode(&attempt.return_path, T0 + DAY).as_deref(),
        Some("alice@remote.example")
    );
    assert_eq!(
        f.queue.srs().decode(&attempt.return_path, T0).as_deref(),
        Some("alice@remote.example")
    );
}

#[tokio::test]
async fn forwarded_and_direct_recipients_at_one_domain_get_separate_attempts() {
    let f = fixture().await;
    let mut forwarded = rcpt("x@elsewhere.example");
    forwarded.forwarded_by = Some(address("fwd@example.test"));
    f.enqueue(queued(
        "alice@remote.example",
        vec![forwarded, rcpt("y@elsewhere.example")],
    ))
    .await;
    assert_eq!(
        f.queue.run_once().await,
        2,
        "two reverse-paths: two transactions"
    );
    let attempts = f.transport.attempts();
    let paths: Vec<&str> = attempts.iter().map(|a| a.return_path.as_str()).collect();
    assert!(paths.contains(&"alice@remote.example"));
    assert!(paths.iter().any(|p| p.starts_with("SRS0=")));
}

#[tokio::test]
async fn smtputf8_and_8bitmime_follow_the_content() {
    let f = fixture().await;
    f.enqueue_raw(
        "From: s@example.test\r\nSubject: caf\u{e9}\r\n\r\nbody\r\n".as_bytes(),
        queued(SENDER, vec![rcpt("a@one.example")]),
    )
    .await;
    f.enqueue_raw(
        "From: s@example.test\r\nSubject: x\r\n\r\ncaf\u{e9}\r\n".as_bytes(),
        queued(SENDER, vec![rcpt("b@two.example")]),
    )
    .await;
    assert_eq!(f.queue.run_once().await, 2);
    let attempts = f.transport.attempts();
    let by = |domain: &str| attempts.iter().find(|a| a.domain == domain).unwrap();
    assert!(by("one.example").smtputf8 && by("one.example").eight_bit);
    assert!(!by("two.example").smtputf8 && by("two.example").eight_bit);
}

#[tokio::test]
async fn run_wakes_on_enqueue_and_finishes_in_flight_work_on_shutdown() {
    let f = fixture().await;
    let shutdown = Shutdown::new();
    let running = tokio::spawn(f.queue.clone().run(shutdown.clone()));
    // Give the loop a chance to go idle first (not required for correctness: an enqueue
    // before it looks is found by its first pass).
    tokio::task::yield_now().await;
    let attempted = f.transport.attempted.notified();
    f.enqueue(queued(SENDER, vec![rcpt("a@remote.example")]))
        .await;
    // A guard against hanging, not a timing assertion.
    tokio::time::timeout(Duration::from_secs(30), attempted)
        .await
        .expect("the queue woke up on enqueue");
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("run stops on shutdown")
        .unwrap();
    assert_eq!(f.transport.attempts().len(), 1);
    assert_eq!(f.queue_len().await, 0, "the attempt in flight was recorded");
}
