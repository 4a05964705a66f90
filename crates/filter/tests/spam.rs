//! RCV-4: the built-in spam score on real messages — each rule, the thresholds, the
//! `X-Spam-*` headers — and the score inside `Filters::check_message`, with SPF/DKIM/DMARC
//! results from a loopback DNS server serving test records.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use postwerk_dns::{DnsConfig, FakeResolver};
use postwerk_filter::auth::Verifier;
use postwerk_filter::spam::{
    self, AuthSignals, DkimSignal, DmarcSignal, Score, SpamClass, SpamConfig, SpfSignal, Symbol,
};
use postwerk_filter::{Client, FilterConfig, Filters, MessageVerdict};
use postwerk_testkit::dns::{DnsServer, Zone};

const HOSTNAME: &str = "mx.postwerk.test";

/// A well-formed message as a mail program writes it, with `extra` header lines and `body`
/// (which starts with its own MIME headers when it has any, then a blank line).
fn message(extra: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Alice <alice@example.org>\r\n\
         To: bob@postwerk.test\r\n\
         Date: Mon, 1 Jun 2026 10:00:00 +0000\r\n\
         Message-ID: <1@example.org>\r\n\
         {extra}\
         {body}"
    )
    .into_bytes()
}

/// A plain-text message with this subject.
fn plain(subject: &str, text: &str) -> Vec<u8> {
    message(
        &format!("Subject: {subject}\r\n"),
        &format!("\r\n{text}\r\n"),
    )
}

fn names(score: &Score) -> Vec<&str> {
    score.symbols.iter().map(|symbol| &*symbol.name).collect()
}

fn has(raw: &[u8], rule: &str) -> bool {
    names(&spam::score(raw, None)).contains(&rule)
}

const AUTHENTIC: AuthSignals = AuthSignals {
    spf: SpfSignal::Pass,
    dkim: DkimSignal::Pass,
    dmarc: DmarcSignal::Pass,
};

#[test]
fn a_well_formed_authenticated_message_scores_nothing() {
    let raw = message(
        "Subject: Minutes of Tuesday's meeting\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"alt\"\r\n",
        "\r\n--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHi Bob, the minutes: \
         https://wiki.example.org/minutes\r\n\
         --alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hi Bob, the \
         <a href=\"https://wiki.example.org/minutes\">minutes</a></p>\r\n--alt--\r\n",
    );
    let score = spam::score(&raw, Some(&AUTHENTIC));
    assert_eq!(score.symbols, Vec::<Symbol>::new());
    assert_eq!(score.total, 0.0);
}

#[test]
fn html_only_is_scored_and_an_alternative_with_text_is_not() {
    let html_only = message(
        "Subject: Offer\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n",
        "\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Great offer</p>\r\n\
         --b\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n",
    );
    assert!(has(&html_only, "HTML_ONLY"));
    let single_html = message(
        "Subject: Offer\r\nMIME-Version: 1.0\r\nContent-Type: text/html\r\n",
        "\r\n<html><body>Great offer</body></html>\r\n",
    );
    assert!(has(&single_html, "HTML_ONLY"));
    let alternative = message(
        "Subject: Offer\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"alt\"\r\n",
        "\r\n--alt\r\nContent-Type: text/plain\r\n\r\nGreat offer\r\n\
         --alt\r\nContent-Type: text/html\r\n\r\n<p>Great offer</p>\r\n--alt--\r\n",
    );
    assert!(!has(&alternative, "HTML_ONLY"));
    assert!(!has(&plain("Offer", "Great offer"), "HTML_ONLY"));
}

#[test]
fn base64_text_is_scored_and_a_base64_attachment_is_not() {
    // "Buy cheap watches" in base64.
    let hidden = message(
        "Subject: Watches\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: base64\r\n",
        "\r\nQnV5IGNoZWFwIHdhdGNoZXM=\r\n",
    );
    assert!(has(&hidden, "BASE64_TEXT_BODY"));
    let attachment = message(
        "Subject: Report\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n",
        "\r\n--b\r\nContent-Type: text/plain\r\n\r\nThe report is attached.\r\n\
         --b\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"report.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n",
    );
    assert!(!has(&attachment, "BASE64_TEXT_BODY"));
}

#[test]
fn links_to_ip_addresses_are_scored_and_links_to_names_are_not() {
    let phishing = message(
        "Subject: Your parcel\r\nMIME-Version: 1.0\r\nContent-Type: text/html\r\n",
        "\r\n<p>Track it <a href=\"http://203.0.113.9/track?id=1\">here</a></p>\r\n",
    );
    assert!(has(&phishing, "URL_WITH_IP_HOST"));
    let disguised = plain(
        "Login",
        "Sign in at http://bank.example@198.51.100.4/login now",
    );
    assert!(has(&disguised, "URL_WITH_IP_HOST"));
    let honest = plain(
        "Docs",
        "See https://docs.example.org/v1.2.3/ and https://10x.example/",
    );
    assert!(!has(&honest, "URL_WITH_IP_HOST"));
}

#[test]
fn many_distinct_links_are_scored() {
    let links: String = (0..25)
        .map(|i| format!("https://shop.example/item/{i}\r\n"))
        .collect();
    assert!(has(&plain("Catalogue", &links), "MANY_URLS"));
    let few: String = (0..3)
        .map(|_| "https://shop.example/item\r\n".to_string())
        .collect();
    assert!(!has(&plain("Catalogue", &few), "MANY_URLS"));
}

#[test]
fn a_shouting_subject_is_scored_also_when_encoded() {
    assert!(has(
        &plain("FREE MONEY WAITING FOR YOU", "hi"),
        "SUBJECT_ALL_CAPS"
    ));
    // RFC 2047: "GRATUIT POUR VOUS" in an encoded word.
    assert!(has(
        &plain("=?utf-8?B?R1JBVFVJVCBQT1VSIFZPVVM=?=", "hi"),
        "SUBJECT_ALL_CAPS"
    ));
    for calm in ["RE: OK", "Meeting at 10 with ACME", "IBM / SAP"] {
        assert!(!has(&plain(calm, "hi"), "SUBJECT_ALL_CAPS"), "{calm}");
    }
}

#[test]
fn missing_headers_are_each_scored() {
    let bare = b"To: bob@postwerk.test\r\n\r\nhello\r\n";
    let score = spam::score(bare, None);
    for rule in [
        "MISSING_DATE",
        "MISSING_MESSAGE_ID",
        "MISSING_FROM",
        "EMPTY_SUBJECT",
    ] {
        assert!(names(&score).contains(&rule), "{rule}: {score:?}");
    }
    assert!(has(&plain("", "hello"), "EMPTY_SUBJECT"));
    let complete = spam::score(&plain("Hello", "hello"), None);
    assert_eq!(complete.symbols, Vec::<Symbol>::new());
}

#[test]
fn replies_collected_elsewhere_and_forged_display_names_are_scored() {
    let elsewhere = message(
        "Subject: Payment\r\nReply-To: agent@collector.example\r\n",
        "\r\nhi\r\n",
    );
    assert!(has(&elsewhere, "FROM_REPLYTO_DIFFERENT_DOMAIN"));
    let same_org = message(
        "Subject: News\r\nReply-To: help@support.example.org\r\n",
        "\r\nhi\r\n",
    );
    assert!(!has(&same_org, "FROM_REPLYTO_DIFFERENT_DOMAIN"));

    let forged = b"From: \"service@bank.example\" <x@elsewhere.example>\r\nSubject: Account\r\n\
        Date: Mon, 1 Jun 2026 10:00:00 +0000\r\nMessage-ID: <2@elsewhere.example>\r\n\r\nhi\r\n";
    assert!(has(forged, "FROM_NAME_FORGED_ADDRESS"));
    let own = b"From: \"alice@example.org\" <alice@example.org>\r\nSubject: Hi\r\n\r\nhi\r\n";
    assert!(!has(own, "FROM_NAME_FORGED_ADDRESS"));
}

#[test]
fn spam_phrases_weigh_more_together() {
    let one = spam::score(&plain("Hello", "Act now!"), None);
    assert_eq!(names(&one), ["SPAM_PHRASE"]);
    let many = spam::score(
        &plain(
            "You are a WINNER",
            "Claim your prize: act now, it is 100% free",
        ),
        None,
    );
    assert!(names(&many).contains(&"SPAM_PHRASE"), "{many:?}");
    assert!(names(&many).contains(&"SPAM_PHRASES_MANY"), "{many:?}");
}

#[test]
fn authentication_results_count_and_temporary_errors_do_not() {
    let raw = plain("Hello", "hello");
    let cases = [
        (
            SpfSignal::Fail,
            DkimSignal::Pass,
            DmarcSignal::Pass,
            vec!["SPF_FAIL"],
        ),
        (
            SpfSignal::SoftFail,
            DkimSignal::Pass,
            DmarcSignal::Pass,
            vec!["SPF_SOFTFAIL"],
        ),
        (
            SpfSignal::None,
            DkimSignal::None,
            DmarcSignal::None,
            vec!["SPF_NONE", "DKIM_NONE"],
        ),
        (
            SpfSignal::PermError,
            DkimSignal::Invalid,
            DmarcSignal::Fail,
            vec!["SPF_PERMERROR", "DKIM_INVALID", "DMARC_FAIL"],
        ),
        (
            SpfSignal::TempError,
            DkimSignal::TempError,
            DmarcSignal::Error,
            vec![],
        ),
    ];
    for (spf, dkim, dmarc, expected) in cases {
        let signals = AuthSignals { spf, dkim, dmarc };
        let score = spam::score(&raw, Some(&signals));
        assert_eq!(names(&score), expected, "{signals:?}");
    }
}

/// The typical bulk spam: no date or id, shouting subject, HTML only, a link to an IP, spam
/// phrases, no SPF or DKIM — over the junk threshold, under the reject threshold.
fn bulk_spam() -> Vec<u8> {
    b"From: Lucky Draw <draw@prizes.example>\r\nTo: bob@postwerk.test\r\n\
      Subject: YOU ARE A WINNER TODAY\r\nMIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n\
      <p>Claim your prize now: act now, it is 100% free! \
      <a href=\"http://203.0.113.9/claim\">Claim</a></p>\r\n"
        .to_vec()
}

#[test]
fn thresholds_sort_clean_junk_and_reject() {
    let config = SpamConfig::default();
    assert_eq!(config.classify(4.9), SpamClass::Clean);
    assert_eq!(config.classify(5.0), SpamClass::Junk);
    assert_eq!(config.classify(14.9), SpamClass::Junk);
    assert_eq!(config.classify(15.0), SpamClass::Reject);

    let unauthenticated = AuthSignals {
        spf: SpfSignal::None,
        dkim: DkimSignal::None,
        dmarc: DmarcSignal::None,
    };
    let junk = spam::score(&bulk_spam(), Some(&unauthenticated));
    assert_eq!(config.classify(junk.total), SpamClass::Junk, "{junk:?}");

    let forged = AuthSignals {
        spf: SpfSignal::Fail,
        dkim: DkimSignal::Invalid,
        dmarc: DmarcSignal::Fail,
    };
    let mut raw = bulk_spam();
    raw.splice(
        0..0,
        b"Reply-To: payout@collector.example\r\n".iter().copied(),
    );
    let reject = spam::score(&raw, Some(&forged));
    assert_eq!(
        config.classify(reject.total),
        SpamClass::Reject,
        "{reject:?}"
    );

    // The total is the sum of the weights, rounded to the tenth the headers show.
    let sum: f64 = reject.symbols.iter().map(|symbol| symbol.weight).sum();
    assert!((reject.total - sum).abs() < 0.05, "{reject:?}");
}

#[test]
fn headers_follow_spamassassin_and_are_folded() {
    let config = SpamConfig::default();
    let clean = Score {
        total: 0.8,
        symbols: vec![
            Symbol {
                name: "MISSING_MESSAGE_ID".into(),
                weight: 0.5,
            },
            Symbol {
                name: "DKIM_NONE".into(),
                weight: 0.3,
            },
        ],
    };
    assert_eq!(
        String::from_utf8(spam::headers(&clean, &config)).unwrap(),
        "X-Spam-Score: 0.8\r\n\
         X-Spam-Status: No, score=0.8 required=5.0 tests=DKIM_NONE,MISSING_MESSAGE_ID\r\n"
    );
    let nothing = Score {
        total: 0.0,
        symbols: vec![],
    };
    assert_eq!(
        String::from_utf8(spam::headers(&nothing, &config)).unwrap(),
        "X-Spam-Score: 0.0\r\nX-Spam-Status: No, score=0.0 required=5.0 tests=none\r\n"
    );

    let junk = spam::score(&bulk_spam(), None);
    let text = String::from_utf8(spam::headers(&junk, &config)).unwrap();
    assert!(
        text.starts_with("X-Spam-Flag: YES\r\nX-Spam-Score: "),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "X-Spam-Status: Yes, score={:.1} required=5.0 tests=",
            junk.total
        )),
        "{text}"
    );
    assert!(text.ends_with("\r\n"), "{text}");
    for line in text.trim_end_matches("\r\n").split("\r\n") {
        assert!(line.len() <= 78, "long line {line:?}");
        assert!(
            line.starts_with("X-Spam-") || line.starts_with('\t'),
            "{line:?}"
        );
    }
    for symbol in &junk.symbols {
        assert!(
            text.contains(&*symbol.name),
            "{} missing: {text}",
            symbol.name
        );
    }
}

#[test]
fn the_refusal_names_the_score_and_the_way_out() {
    let reply = spam::refusal(&Score {
        total: 17.25,
        symbols: vec![],
    });
    assert_eq!((reply.code, reply.status), (554, "5.7.1"));
    assert_eq!(
        reply.text,
        "The message was classified as spam (score 17.2); if this is wrong, ask the recipient \
         to add you to their allowed senders"
    );
}

#[test]
fn a_large_message_is_scored_quickly() {
    let mut raw = bulk_spam();
    raw.extend(b"<p>filler</p>\r\n".repeat(2 * 1024 * 1024 / 15));
    let started = std::time::Instant::now();
    let score = spam::score(&raw, None);
    // The prefix decides: the same rules as the short message.
    assert_eq!(names(&score), names(&spam::score(&bulk_spam(), None)));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

// ---- Inside Filters::check_message, with real SPF/DKIM/DMARC results.

fn client() -> Client {
    Client {
        ip: "127.0.0.1".parse::<IpAddr>().unwrap(),
        helo: "mail.prizes.example".to_string(),
    }
}

async fn filters(dns: &DnsServer, config: FilterConfig, store: &tempfile::TempDir) -> Filters {
    let stores = postwerk_store::open_sqlite(store.path()).await.unwrap();
    let verifier = Verifier::new(&DnsConfig {
        servers: vec![dns.addr()],
        timeout: Duration::from_secs(2),
        ..DnsConfig::default()
    })
    .unwrap();
    Filters::new(
        config,
        Arc::new(FakeResolver::new()),
        stores.greylist.clone(),
        verifier,
        HOSTNAME.to_string(),
    )
}

fn header_text(headers: &[u8]) -> String {
    String::from_utf8(headers.to_vec()).unwrap()
}

#[tokio::test]
async fn spam_from_a_softfailing_domain_is_junk_with_headers_above_the_message() {
    let mut zone = Zone::new();
    zone.txt("prizes.example", "v=spf1 ~all");
    let dns = DnsServer::start(zone).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let filters = filters(&dns, FilterConfig::default(), &dir).await;
    let verdict = filters
        .check_message(Some(&client()), "draw@prizes.example", &bulk_spam(), &[])
        .await;
    let MessageVerdict::Spam {
        headers,
        junk,
        score,
        refusal,
    } = verdict
    else {
        panic!("expected Spam, got {verdict:?}");
    };
    assert_eq!(junk, None);
    assert_eq!(refusal, None, "junk, not refused: {score:?}");
    assert!(names(&score).contains(&"SPF_SOFTFAIL"), "{score:?}");
    let text = header_text(&headers);
    assert!(text.starts_with("Authentication-Results: "), "{text}");
    let results = text.find("Authentication-Results:").unwrap();
    let flag = text.find("\r\nX-Spam-Flag: YES\r\n").unwrap();
    let status = text.find("\r\nX-Spam-Status: Yes").unwrap();
    assert!(results < flag && flag < status, "{text}");
    assert!(text.ends_with("\r\n"), "{text}");
}

#[tokio::test]
async fn clean_mail_is_accepted_with_a_no_and_submissions_are_not_scored() {
    let mut zone = Zone::new();
    zone.txt("example.org", "v=spf1 ip4:127.0.0.1 -all");
    let dns = DnsServer::start(zone).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let filters = filters(&dns, FilterConfig::default(), &dir).await;
    let raw = plain("Lunch", "Shall we meet at noon?");
    let verdict = filters
        .check_message(Some(&client()), "alice@example.org", &raw, &[])
        .await;
    let MessageVerdict::Accept { headers, junk } = verdict else {
        panic!("expected Accept, got {verdict:?}");
    };
    assert_eq!(junk, None);
    let text = header_text(&headers);
    assert!(text.starts_with("Authentication-Results: "), "{text}");
    assert!(text.contains("\r\nX-Spam-Score: "), "{text}");
    assert!(text.contains("\r\nX-Spam-Status: No, score="), "{text}");

    // Authenticated submission: not scored here, so no X-Spam header at all.
    let verdict = filters.check_message(None, "", &bulk_spam(), &[]).await;
    assert_eq!(
        verdict,
        MessageVerdict::Accept {
            headers: Vec::new(),
            junk: None
        }
    );
}

#[tokio::test]
async fn the_reject_threshold_refuses_and_disabled_scoring_adds_nothing() {
    let dns = DnsServer::start(Zone::new()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let strict = FilterConfig {
        spam: SpamConfig {
            reject_threshold: 6.0,
            ..SpamConfig::default()
        },
        ..FilterConfig::default()
    };
    let filters_strict = filters(&dns, strict, &dir).await;
    let verdict = filters_strict
        .check_message(Some(&client()), "draw@prizes.example", &bulk_spam(), &[])
        .await;
    let MessageVerdict::Spam {
        refusal: Some(reply),
        score,
        ..
    } = verdict
    else {
        panic!("expected a refusal, got {verdict:?}");
    };
    assert_eq!((reply.code, reply.status), (554, "5.7.1"));
    assert!(
        reply.text.contains(&format!("score {:.1}", score.total)),
        "{}",
        reply.text
    );

    let off = FilterConfig {
        spam: SpamConfig {
            enabled: false,
            ..SpamConfig::default()
        },
        ..FilterConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let filters_off = filters(&dns, off, &dir).await;
    let verdict = filters_off
        .check_message(Some(&client()), "draw@prizes.example", &bulk_spam(), &[])
        .await;
    let MessageVerdict::Accept { headers, .. } = verdict else {
        panic!("expected Accept, got {verdict:?}");
    };
    assert!(
        !header_text(&headers).contains("X-Spam"),
        "{}",
        header_text(&headers)
    );
}
