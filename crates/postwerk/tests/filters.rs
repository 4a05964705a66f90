//! Issue 7 end to end: the checks of SPEC §4 on the MX listener of the real server, driven by
//! Python's smtplib (tests/smtp/client.py), with a real DNS server on loopback serving the
//! block list and the SPF records.

use std::time::{Duration, Instant};

use postwerk_testkit::dns::{DnsServer, Zone};

#[path = "common/mx.rs"]
mod mx;

use mx::{TOTO, code, send, server};

fn plain(subject: &str, from: &str) -> String {
    format!("From: {from}\r\nTo: {TOTO}\r\nSubject: {subject}\r\n\r\nhello\r\n")
}

/// RCV-3 with smtplib: the first try of an unknown triplet gets 451 4.7.1, so does a retry
/// before the delay; the retry after it is accepted, and the triplet is then remembered.
#[test]
fn rcv_3_greylisting_defers_the_first_try_and_remembers_the_retry() {
    let dns = DnsServer::start(Zone::new()).unwrap();
    let server = server(&dns, "[greylist]\nenabled = true\ndelay = \"2s\"");
    let first = send(
        &server,
        "sender@remote.example",
        &plain("grey", "sender@remote.example"),
    );
    assert_eq!(code(&first["rcpt"][0]), 451, "{first}");
    let text = first["rcpt"][0][1].as_str().unwrap();
    assert!(
        text.contains("4.7.1") && text.to_lowercase().contains("retry"),
        "{text}"
    );
    let early = send(
        &server,
        "sender@remote.example",
        &plain("grey", "sender@remote.example"),
    );
    assert_eq!(code(&early["rcpt"][0]), 451, "still too early: {early}");
    // Wait out the delay as a retrying MTA would (a deadline, not a timing assertion).
    let started = Instant::now();
    let accepted = loop {
        std::thread::sleep(Duration::from_millis(500));
        let retry = send(
            &server,
            "sender@remote.example",
            &plain("grey", "sender@remote.example"),
        );
        if code(&retry["rcpt"][0]) == 250 {
            break retry;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never accepted: {retry}"
        );
    };
    assert_eq!(code(&accepted["data"]), 250, "{accepted}");
    let again = send(
        &server,
        "sender@remote.example",
        &plain("again", "sender@remote.example"),
    );
    assert_eq!(code(&again["rcpt"][0]), 250, "remembered: {again}");
    let other = send(
        &server,
        "other@remote.example",
        &plain("new", "other@remote.example"),
    );
    assert_eq!(
        code(&other["rcpt"][0]),
        451,
        "another sender is another triplet: {other}"
    );
    assert_eq!(server.inbox(TOTO).unwrap().len(), 2);
}

/// RCV-9: a client whose address a configured block list names is refused 550 5.7.1 with a
/// sentence naming the list; another list that does not name it changes nothing.
/// Issue 7, per-service settings: a service that turns greylisting off gets a stranger's
/// first try at once, while the platform greylists.
#[test]
fn rcv_3_a_service_can_turn_greylisting_off() {
    let dns = DnsServer::start(Zone::new()).unwrap();
    let server = server(&dns, "[greylist]\nenabled = true\ndelay = \"1h\"");
    let first = send(
        &server,
        "a@remote.example",
        &plain("grey", "a@remote.example"),
    );
    assert_eq!(
        code(&first["rcpt"][0]),
        451,
        "the platform greylists: {first}"
    );
    server.admin_ok(&["service", "filters", "example.com", "--greylist", "off"]);
    let first = send(
        &server,
        "b@remote.example",
        &plain("grey", "b@remote.example"),
    );
    assert_eq!(
        code(&first["rcpt"][0]),
        250,
        "not for this service: {first}"
    );
    assert_eq!(code(&first["data"]), 250, "{first}");
}

#[test]
fn rcv_9_a_listed_client_is_refused_naming_the_list() {
    let mut zone = Zone::new();
    zone.a("1.0.0.127.bl.test", "127.0.0.2".parse().unwrap());
    let dns = DnsServer::start(zone).unwrap();
    let listed = server(&dns, "[dnsbl]\nzones = [\"clean.test\", \"bl.test\"]");
    let tx = send(
        &listed,
        "sender@remote.example",
        &plain("bl", "sender@remote.example"),
    );
    assert_eq!(code(&tx["mail"]), 550, "{tx}");
    let text = tx["mail"][1].as_str().unwrap();
    assert!(text.contains("5.7.1") && text.contains("bl.test"), "{text}");
    assert!(listed.inbox(TOTO).unwrap().is_empty());

    let clean = server(&dns, "[dnsbl]\nzones = [\"clean.test\"]");
    let tx = send(
        &clean,
        "sender@remote.example",
        &plain("ok", "sender@remote.example"),
    );
    assert_eq!(code(&tx["data"]), 250, "{tx}");
}

/// RCV-5: a forbidden file name, also inside a zip, is refused with the SPEC's exact reply.
#[test]
fn rcv_5_forbidden_attachment_is_refused() {
    let dns = DnsServer::start(Zone::new()).unwrap();
    let server = server(&dns, "");
    let message = "From: sender@remote.example\r\nTo: toto@example.com\r\nSubject: invoice\r\n\
        MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
        --b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
        --b\r\nContent-Type: application/octet-stream; name=\"Invoice.PDF.exe\"\r\n\
        Content-Disposition: attachment; filename=\"Invoice.PDF.exe\"\r\n\
        Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n--b--\r\n";
    let tx = send(&server, "sender@remote.example", message);
    assert_eq!(code(&tx["data"]), 554, "{tx}");
    assert_eq!(
        tx["data"][1].as_str().unwrap(),
        "5.7.0 AV: Message is rejected by headers rule filter",
        "{tx}"
    );
    assert!(server.inbox(TOTO).unwrap().is_empty());
}

/// RCV-2: SPF `fail` is refused 550 5.7.23 by default; a pass is delivered with an
/// `Authentication-Results` header (RFC 8601) naming this server.
#[test]
fn rcv_2_spf_fail_is_refused_and_a_pass_is_recorded() {
    let mut zone = Zone::new();
    zone.txt("forged.test", "v=spf1 -all");
    zone.txt("honest.test", "v=spf1 ip4:127.0.0.1 -all");
    let dns = DnsServer::start(zone).unwrap();
    let server = server(&dns, "");
    let tx = send(
        &server,
        "ceo@forged.test",
        &plain("forged", "ceo@forged.test"),
    );
    assert_eq!(code(&tx["data"]), 550, "{tx}");
    assert!(
        tx["data"][1].as_str().unwrap().starts_with("5.7.23"),
        "{tx}"
    );

    let tx = send(
        &server,
        "friend@honest.test",
        &plain("honest", "friend@honest.test"),
    );
    assert_eq!(code(&tx["data"]), 250, "{tx}");
    let inbox = server.inbox(TOTO).unwrap();
    assert_eq!(inbox.len(), 1);
    let text = String::from_utf8_lossy(&inbox[0]);
    assert!(
        text.contains("Authentication-Results: mail.example.test;"),
        "{text}"
    );
    assert!(text.contains("spf=pass"), "{text}");
}

/// RFC 8601 §5: an `Authentication-Results` field that arrives claiming this server's name is
/// removed (with its continuation line); another server's is kept, under ours.
#[test]
fn rcv_2_forged_authentication_results_in_our_name_are_removed() {
    let mut zone = Zone::new();
    zone.txt("honest.test", "v=spf1 ip4:127.0.0.1 -all");
    let dns = DnsServer::start(zone).unwrap();
    let server = server(&dns, "");
    let message = format!(
        "Authentication-Results: mail.example.test;\r\n dkim=pass header.d=bank.example\r\n\
         Authentication-Results: relay.elsewhere.example; spf=pass\r\n{}",
        plain("trust me", "friend@honest.test")
    );
    let tx = send(&server, "friend@honest.test", &message);
    assert_eq!(code(&tx["data"]), 250, "{tx}");
    let inbox = server.inbox(TOTO).unwrap();
    let text = String::from_utf8_lossy(&inbox[0]);
    assert_eq!(
        text.matches("Authentication-Results: mail.example.test;")
            .count(),
        1,
        "only ours: {text}"
    );
    assert!(!text.contains("header.d=bank.example"), "{text}");
    assert!(
        text.contains("Authentication-Results: relay.elsewhere.example; spf=pass"),
        "{text}"
    );
}
