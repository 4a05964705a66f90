//! SVC-1: the DNS report of a mail service, expected records against what DNS answers
//! (`records::check_records` over `postwerk_dns::FakeResolver`).

use postwerk_core::dkim::generate_key;
use postwerk_core::records::{RecordCheck, check_records, required_records};
use postwerk_core::{DkimAlgorithm, DkimPublicKey};
use postwerk_dns::FakeResolver;
use postwerk_model::Domain;

const DOMAIN: &str = "example.test";
const HOST: &str = "mail.host.test";

/// A service's DKIM key: RSA-2048, so its record spans two TXT character-strings.
fn dkim_key(selector: &str) -> DkimPublicKey {
    let key = generate_key(DkimAlgorithm::RsaSha256, selector).expect("DKIM key");
    DkimPublicKey {
        selector: key.selector.clone(),
        algorithm: DkimAlgorithm::RsaSha256,
        public_key: key.public_key.clone(),
    }
}

/// Publishes in `dns` every record an administrator would paste, DKIM key `published`.
fn publish_all(dns: &FakeResolver, published: &DkimPublicKey) {
    dns.set_mx(DOMAIN, &[(10, HOST)]);
    dns.set_txt(DOMAIN, &[&format!("v=spf1 mx a:{HOST} -all")]);
    dns.set_txt(
        &format!("_dmarc.{DOMAIN}"),
        &[&format!(
            "v=DMARC1; p=quarantine; rua=mailto:postmaster@{DOMAIN}"
        )],
    );
    dns.set_txt(
        &format!("{}._domainkey.{DOMAIN}", published.selector),
        &[&published.record_text()],
    );
    for (service, port) in [
        ("_submissions._tcp", 465),
        ("_imaps._tcp", 993),
        ("_pop3s._tcp", 995),
    ] {
        dns.set_srv(&format!("{service}.{DOMAIN}"), &[(0, 1, port, HOST)]);
    }
    for service in ["_submission._tcp", "_imap._tcp", "_pop3._tcp"] {
        dns.set_srv(&format!("{service}.{DOMAIN}"), &[(0, 0, 0, ".")]);
    }
    for name in ["autoconfig", "autodiscover"] {
        dns.set_cname(&format!("{name}.{DOMAIN}"), HOST);
    }
}

async fn report(dns: &FakeResolver, key: &DkimPublicKey) -> Vec<RecordCheck> {
    let domain = Domain::parse(DOMAIN).expect("domain");
    let records = required_records(&domain, HOST, Some(key));
    check_records(&records, dns).await
}

fn find<'a>(checks: &'a [RecordCheck], kind: &str, name: &str) -> &'a RecordCheck {
    checks
        .iter()
        .find(|check| check.expected.kind == kind && check.expected.name == name)
        .unwrap_or_else(|| panic!("no {kind} check for {name}"))
}

fn not_in_place(checks: &[RecordCheck]) -> Vec<String> {
    checks
        .iter()
        .filter(|check| !check.in_place)
        .map(|check| format!("{} {}", check.expected.kind, check.expected.name))
        .collect()
}

#[tokio::test]
async fn svc_1_every_record_published_is_in_place_with_what_dns_says() {
    let key = dkim_key("pw1");
    let dns = FakeResolver::new();
    publish_all(&dns, &key);
    let checks = report(&dns, &key).await;

    assert_eq!(checks.len(), 12, "MX, SPF, DMARC, DKIM, 6 SRV, 2 CNAME");
    assert_eq!(not_in_place(&checks), Vec::<String>::new());
    assert!(checks.iter().all(|check| check.lookup_error.is_none()));
    // What was found, in the form of a zone file.
    assert_eq!(find(&checks, "MX", DOMAIN).found, ["10 mail.host.test."]);
    assert_eq!(
        find(&checks, "TXT", DOMAIN).found,
        ["\"v=spf1 mx a:mail.host.test -all\""]
    );
    let dkim = find(&checks, "TXT", &format!("pw1._domainkey.{DOMAIN}"));
    assert_eq!(dkim.found, std::slice::from_ref(&dkim.expected.value));
    assert_eq!(
        find(&checks, "SRV", &format!("_imaps._tcp.{DOMAIN}")).found,
        ["0 1 993 mail.host.test."]
    );
    assert_eq!(
        find(&checks, "SRV", &format!("_imap._tcp.{DOMAIN}")).found,
        ["0 0 0 ."]
    );
    assert_eq!(
        find(&checks, "CNAME", &format!("autoconfig.{DOMAIN}")).found,
        ["mail.host.test."]
    );
}

#[tokio::test]
async fn svc_1_nothing_published_is_reported_missing_not_failed() {
    let key = dkim_key("pw1");
    let dns = FakeResolver::new();
    let checks = report(&dns, &key).await;

    assert_eq!(not_in_place(&checks).len(), checks.len());
    for check in &checks {
        assert!(check.found.is_empty(), "{check:?}");
        assert_eq!(check.lookup_error, None, "NXDOMAIN is an answer: {check:?}");
    }
}

#[tokio::test]
async fn svc_1_a_different_dkim_key_is_not_in_place() {
    let expected = dkim_key("pw1");
    let other = DkimPublicKey {
        selector: "pw1".into(),
        ..dkim_key("old")
    };
    let dns = FakeResolver::new();
    publish_all(&dns, &other);
    let checks = report(&dns, &expected).await;

    let name = format!("pw1._domainkey.{DOMAIN}");
    assert_eq!(not_in_place(&checks), [format!("TXT {name}")]);
    let dkim = find(&checks, "TXT", &name);
    assert!(
        dkim.found[0].contains(&other.public_key[..40]),
        "the published key is shown: {:?}",
        dkim.found
    );
}

#[tokio::test]
async fn svc_1_records_that_point_elsewhere_are_not_in_place() {
    let key = dkim_key("pw1");
    let dns = FakeResolver::new();
    publish_all(&dns, &key);
    dns.set_mx(DOMAIN, &[(10, "mx.elsewhere.test")]);
    dns.set_txt(DOMAIN, &["v=spf1 include:elsewhere.test -all"]);
    dns.set_txt(&format!("_dmarc.{DOMAIN}"), &["v=DMARC1; p=none"]);
    dns.set_srv(&format!("_imaps._tcp.{DOMAIN}"), &[(0, 1, 143, HOST)]);
    dns.set_cname(&format!("autoconfig.{DOMAIN}"), "autoconfig.elsewhere.test");
    let checks = report(&dns, &key).await;

    assert_eq!(
        not_in_place(&checks),
        [
            format!("MX {DOMAIN}"),
            format!("TXT {DOMAIN}"),
            format!("TXT _dmarc.{DOMAIN}"),
            format!("SRV _imaps._tcp.{DOMAIN}"),
            format!("CNAME autoconfig.{DOMAIN}"),
        ]
    );
    assert_eq!(find(&checks, "MX", DOMAIN).found, ["10 mx.elsewhere.test."]);
}

#[tokio::test]
async fn svc_1_a_stricter_dmarc_policy_and_a_richer_spf_count_as_in_place() {
    let key = dkim_key("pw1");
    let dns = FakeResolver::new();
    publish_all(&dns, &key);
    dns.set_txt(
        DOMAIN,
        &[
            "google-site-verification=abc",
            "v=spf1 include:_spf.other.test mx a:mail.host.test ~all",
        ],
    );
    dns.set_txt(&format!("_dmarc.{DOMAIN}"), &["v=DMARC1; p=reject"]);
    let checks = report(&dns, &key).await;
    assert_eq!(not_in_place(&checks), Vec::<String>::new());
    assert_eq!(find(&checks, "TXT", DOMAIN).found.len(), 2);
}

#[tokio::test]
async fn svc_1_servfail_is_a_lookup_error_not_a_verdict() {
    let key = dkim_key("pw1");
    let dns = FakeResolver::new();
    publish_all(&dns, &key);
    dns.set_failing(DOMAIN);
    dns.set_failing(&format!("_imaps._tcp.{DOMAIN}"));
    let checks = report(&dns, &key).await;

    let failed: Vec<&RecordCheck> = checks
        .iter()
        .filter(|check| check.lookup_error.is_some())
        .collect();
    let names: Vec<String> = failed
        .iter()
        .map(|check| format!("{} {}", check.expected.kind, check.expected.name))
        .collect();
    assert_eq!(
        names,
        [
            format!("MX {DOMAIN}"),
            format!("TXT {DOMAIN}"),
            format!("SRV _imaps._tcp.{DOMAIN}"),
        ]
    );
    for check in failed {
        assert!(!check.in_place && check.found.is_empty(), "{check:?}");
        let error = check.lookup_error.as_deref().unwrap_or_default();
        assert!(error.contains("SERVFAIL"), "{error}");
    }
    // The other names were answered.
    assert_eq!(not_in_place(&checks).len(), 3);
}

#[tokio::test]
async fn svc_1_not_offered_srv_records_need_the_root_target_alone() {
    let key = dkim_key("pw1");
    let dns = FakeResolver::new();
    publish_all(&dns, &key);
    let imap = format!("_imap._tcp.{DOMAIN}");

    // The port of a "." record means nothing (RFC 2782): any port is in place.
    dns.set_srv(&imap, &[(10, 0, 143, ".")]);
    let checks = report(&dns, &key).await;
    assert_eq!(not_in_place(&checks), Vec::<String>::new());
    assert_eq!(find(&checks, "SRV", &imap).found, ["10 0 143 ."]);

    // STARTTLS offered through SRV, alone or beside the "." record, is not what was asked.
    for published in [
        vec![(0, 1, 143, HOST)],
        vec![(0, 0, 0, "."), (10, 1, 143, HOST)],
    ] {
        dns.set_srv(&imap, &published);
        let checks = report(&dns, &key).await;
        assert_eq!(
            not_in_place(&checks),
            [format!("SRV {imap}")],
            "{published:?}"
        );
    }
}

#[tokio::test]
async fn svc_1_a_tls_service_published_as_not_offered_is_not_in_place() {
    let key = dkim_key("pw1");
    let dns = FakeResolver::new();
    publish_all(&dns, &key);
    let submissions = format!("_submissions._tcp.{DOMAIN}");
    dns.set_srv(&submissions, &[(0, 0, 0, ".")]);
    let checks = report(&dns, &key).await;

    assert_eq!(not_in_place(&checks), [format!("SRV {submissions}")]);
    let check = find(&checks, "SRV", &submissions);
    assert_eq!(check.found, ["0 0 0 ."]);
    assert_eq!(check.expected.value, format!("0 1 465 {HOST}."));
}
