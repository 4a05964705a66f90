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

/// Issue 7, per-service settings: a service's own reject threshold refuses what the
/// platform's would file as Junk; switching spam scoring off for the service delivers it to
/// INBOX unscored; `default` returns to the platform's.
#[test]
fn rcv_4_a_service_overrides_the_platform_spam_settings() {
    let dns = DnsServer::start(Zone::new()).unwrap();
    let server = server(&dns, "");
    let shown = server.admin_ok(&[
        "--json",
        "service",
        "filters",
        "example.com",
        "--reject-threshold",
        "6",
    ]);
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["filters"]["reject_threshold"], 6.0, "{shown}");
    let tx = send(
        &server,
        "draw@prizes.example",
        &spammy("draw@prizes.example"),
    );
    assert_eq!(
        code(&tx["data"]),
        554,
        "refused by the service's threshold: {tx}"
    );

    server.admin_ok(&[
        "service",
        "filters",
        "example.com",
        "--reject-threshold",
        "default",
        "--spam",
        "off",
    ]);
    let tx = send(
        &server,
        "draw@prizes.example",
        &spammy("draw@prizes.example"),
    );
    assert_eq!(code(&tx["data"]), 250, "{tx}");
    let inbox = folder(&server, "INBOX");
    assert_eq!(inbox.len(), 1, "not scored, so not Junk: {inbox:?}");
    assert!(!inbox[0].contains("X-Spam-Status:"), "{}", inbox[0]);

    let refused = server.admin(&[
        "service",
        "filters",
        "example.com",
        "--junk-threshold",
        "9",
        "--reject-threshold",
        "3",
    ]);
    assert!(!refused.status.success());
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(error.contains("must be above junk_threshold"), "{error}");
}

/// SND-6 with smtplib over submission: a spammy message from an authenticated mailbox is
/// accepted but held (the reply says so), reaches nobody, and the organization's
/// administrator is told; `admin queue release` then delivers it. A clean message goes out
/// at once.
#[test]
fn snd_6_a_spammy_submission_is_held_until_an_administrator_releases_it() {
    let server = TestServer::start_with(
        std::path::Path::new(env!("CARGO_BIN_EXE_postwerk")),
        &["submission"],
        "",
    )
    .unwrap();
    for args in [
        &["org", "create", "Acme"][..],
        &["service", "create", "example.com", "--org", "Acme"],
        &["address", "create", TOTO, "--password", "toto-secret-1"],
        &[
            "address",
            "create",
            "friend@example.com",
            "--password",
            "friend-secret-1",
        ],
        &[
            "address",
            "create",
            "boss@example.com",
            "--password",
            "boss-secret-12",
        ],
        &[
            "user",
            "create",
            "boss@example.com",
            "--password",
            "boss-account-12",
            "--org",
            "Acme",
            "--role",
            "admin",
        ],
    ] {
        server.admin_ok(args);
    }
    let submit = |message: String| {
        let addr = server.addr("submission");
        let args = serde_json::json!({
            "host": addr.ip().to_string(), "port": addr.port(), "tls": "starttls",
            "user": TOTO, "password": "toto-secret-1",
            "from": TOTO, "to": ["friend@example.com"], "message": message,
        });
        let out = std::process::Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/client.py"))
            .arg("send")
            .arg(args.to_string())
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(reply["auth"][0], 235, "{reply}");
        reply["transactions"][0].clone()
    };
    let tx = submit(spammy(TOTO).replace(&format!("To: {TOTO}"), "To: friend@example.com"));
    assert_eq!(code(&tx["data"]), 250, "{tx}");
    let text = tx["data"][1].as_str().unwrap();
    assert!(text.contains("held"), "the sender is told: {text}");
    assert!(server.inbox("friend@example.com").unwrap().is_empty());

    let listed = server.admin_ok(&["--json", "queue", "list"]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let held = &listed[0];
    let reason = held["held"].as_str().unwrap_or_default();
    assert!(reason.contains("SUBJECT_ALL_CAPS"), "{listed}");
    let id = held["id"].as_i64().unwrap().to_string();

    // The notice goes out in the background; wait for it (a deadline, not a timing test).
    let started = std::time::Instant::now();
    let notice = loop {
        let inbox = server.inbox("boss@example.com").unwrap();
        if let Some(first) = inbox.first() {
            break String::from_utf8_lossy(first).into_owned();
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "no notice"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert!(
        notice.contains(&format!("postwerk admin queue release {id}")),
        "{notice}"
    );
    assert!(notice.contains(TOTO), "{notice}");

    let tx = submit(clean(TOTO).replace(&format!("To: {TOTO}"), "To: friend@example.com"));
    assert_eq!(code(&tx["data"]), 250, "{tx}");
    assert_eq!(
        server.inbox("friend@example.com").unwrap().len(),
        1,
        "clean mail goes out"
    );

    server.admin_ok(&["queue", "release", &id]);
    let inbox = server.inbox("friend@example.com").unwrap();
    assert_eq!(inbox.len(), 2, "released");
    assert!(String::from_utf8_lossy(&inbox[1]).contains("YOU ARE A WINNER"));
    assert!(server.queued().unwrap().is_empty(), "no longer held");
}
