//! SND-2 and SVC-1 over a real embedded store: every service gets a DKIM key, signatures
//! verify with mail-auth's verifier against the record `service_dns_records` publishes,
//! rotation switches the selector, and submitted mail is queued signed while received mail is
//! not.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::dkim::Signature;
use mail_auth::hickory_resolver::config::{ResolverConfig, ResolverOpts};
use mail_auth::{
    AuthenticatedMessage, DkimResult, MessageAuthenticator, Parameters, ResolverCache, Txt,
};
use postwerk_core::records::DnsRecord;
use postwerk_core::{
    Actor, Admin, Delivered, Delivery, DkimError, DkimSigner, Envelope, EnvelopeRecipient,
};
use postwerk_model::{Address, AddressKind, Domain, Permissions, ServiceFeatures};
use postwerk_store::{NewService, Stores};
use postwerk_testkit::directory::Directory;

const HOSTNAME: &str = "mail.platform.test";

struct Fixture {
    _dir: tempfile::TempDir,
    stores: Stores,
    admin: Admin,
}

/// Service example.test (alias domain example.org) with the mailbox toto.
async fn fixture() -> Fixture {
    let directory = Directory::open().await;
    directory.org("Acme").await;
    directory.service("Acme", "example.test", 10).await;
    directory
        .admin
        .add_alias_domain(Actor::Operator, "example.test", "example.org")
        .await
        .unwrap();
    directory
        .mailbox("toto@example.test", "mailbox-secret-1")
        .await;
    let Directory { dir, stores, admin } = directory;
    Fixture {
        _dir: dir,
        stores,
        admin,
    }
}

fn domain(text: &str) -> Domain {
    Domain::parse(text).unwrap()
}

fn message(from: &str) -> Vec<u8> {
    format!(
        "From: Toto <{from}>\r\n\
         To: someone@remote.example\r\n\
         Subject: Quarterly  report,\r\n \tfolded\r\n\
         Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n\
         Message-ID: <q1@example.test>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         X-Mailer: test\r\n\
         \r\n\
         Numbers  are up.   \r\n\
         \r\n\
         Regards\r\n\r\n\r\n"
    )
    .into_bytes()
}

/// The DKIM key record among `records`: its owner name and its text (character-strings
/// joined, as a resolver hands them to a verifier, RFC 6376 §3.6.2.2).
fn dkim_record(records: &[DnsRecord]) -> (String, String) {
    let record = records
        .iter()
        .find(|r| r.name.contains("._domainkey."))
        .expect("a DKIM record");
    assert_eq!(record.kind, "TXT");
    let text = record
        .value
        .split("\" \"")
        .map(|s| s.trim_matches('"'))
        .collect::<String>();
    (record.name.clone(), text)
}

/// A TXT cache filled by hand: mail-auth consults it before DNS, so it is the test's zone.
#[derive(Default)]
struct Zone(Mutex<HashMap<Box<str>, Txt>>);

impl Zone {
    fn publish(&self, name: &str, text: &str) {
        let key = DomainKey::parse(text.as_bytes()).expect("a valid key record");
        self.insert(
            format!("{name}.").into_boxed_str(),
            Txt::from(key),
            Instant::now() + Duration::from_secs(3600),
        );
    }
}

impl ResolverCache<Box<str>, Txt> for Zone {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().get(name).cloned()
    }

    fn remove<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().remove(name)
    }

    fn insert(&self, key: Box<str>, value: Txt, _: Instant) {
        self.0.lock().unwrap().insert(key, value);
    }
}

/// Verifies every DKIM signature of `signed` against `zone` only: the resolver has no name
/// server, so a name missing from the zone fails instead of reaching the network.
async fn verify(signed: &[u8], zone: &Zone) -> Vec<DkimResult> {
    let resolver = MessageAuthenticator::new(
        ResolverConfig::from_parts(None, Vec::new(), Vec::new()),
        ResolverOpts::default(),
    )
    .expect("a resolver without name servers");
    let message = AuthenticatedMessage::parse(signed).expect("a parsable message");
    resolver
        .verify_dkim(Parameters::new(&message).with_txt_cache(zone))
        .await
        .iter()
        .map(|output| output.result().clone())
        .collect()
}

/// The tags of a `DKIM-Signature:` header field, unfolded.
fn tags(header: &str) -> HashMap<String, String> {
    let value = header
        .strip_prefix("DKIM-Signature:")
        .expect("a DKIM-Signature field");
    value
        .split(';')
        .filter_map(|tag| tag.split_once('='))
        .map(|(k, v)| {
            let v: String = v.split_whitespace().collect();
            (k.trim().to_owned(), v)
        })
        .collect()
}

#[tokio::test]
async fn snd_2_signatures_verify_against_the_published_record() {
    let f = fixture().await;
    let records = f
        .admin
        .service_dns_records(Actor::Operator, "example.test", HOSTNAME)
        .await
        .unwrap();
    let (name, text) = dkim_record(&records);
    assert!(name.starts_with("pw") && name.ends_with("._domainkey.example.test"));
    assert!(text.starts_with("v=DKIM1; k=rsa; p=MIIB"), "{text}");
    let zone = Zone::default();
    zone.publish(&name, &text);

    let signer = DkimSigner::new(f.stores.directory.clone());
    let raw = message("toto@example.test");
    let header = signer.sign(&domain("example.test"), &raw).await.unwrap();
    assert!(header.ends_with(";\r\n"), "{header:?}");
    assert!(
        header.lines().skip(1).all(|l| l.starts_with('\t')),
        "folded: {header:?}"
    );
    let tags = tags(&header);
    assert_eq!(tags["a"], "rsa-sha256");
    assert_eq!(tags["c"], "relaxed/relaxed");
    assert_eq!(tags["d"], "example.test");
    assert_eq!(format!("{}._domainkey.example.test", tags["s"]), name);
    assert!(tags["t"].parse::<u64>().is_ok(), "t= is there");
    assert!(!tags.contains_key("x"), "no expiry");
    let signed_headers: Vec<String> = tags["h"].split(':').map(str::to_lowercase).collect();
    for field in [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
    ] {
        assert!(signed_headers.contains(&field.to_owned()), "{field} in h=");
    }
    assert!(!signed_headers.contains(&"x-mailer".to_owned()));

    let signed = [header.as_bytes(), &raw].concat();
    assert_eq!(verify(&signed, &zone).await, [DkimResult::Pass]);

    // A relay may refold and rewhitespace (relaxed canonicalisation), not change content.
    // mail-auth answers a changed body "neutral" (the body hash, RFC 6376 §3.7, no longer
    // matches) and a changed signed header field "fail".
    let refolded = String::from_utf8(signed.clone())
        .unwrap()
        .replace("Numbers  are up.   \r\n", "Numbers are up.\r\n")
        .replace("report,\r\n \tfolded", "report, folded");
    assert_eq!(verify(refolded.as_bytes(), &zone).await, [DkimResult::Pass]);
    let tampered = String::from_utf8(signed.clone())
        .unwrap()
        .replace("Numbers  are up.", "Numbers are down.");
    assert!(matches!(
        verify(tampered.as_bytes(), &zone).await[..],
        [DkimResult::Neutral(mail_auth::Error::Dkim(
            mail_auth::dkim::DkimError::FailedBodyHashMatch
        ))]
    ));
    let tampered = String::from_utf8(signed)
        .unwrap()
        .replace("Quarterly  report", "Quarterly repor");
    assert!(matches!(
        verify(tampered.as_bytes(), &zone).await[..],
        [DkimResult::Fail(_)]
    ));
}

#[tokio::test]
async fn snd_2_alias_domain_mail_is_signed_for_the_primary_domain() {
    let f = fixture().await;
    let records = f
        .admin
        .service_dns_records(Actor::Operator, "example.test", HOSTNAME)
        .await
        .unwrap();
    let (name, text) = dkim_record(&records);
    let zone = Zone::default();
    zone.publish(&name, &text);
    let raw = message("toto@example.org");
    let header = DkimSigner::new(f.stores.directory.clone())
        .sign(&domain("example.org"), &raw)
        .await
        .unwrap();
    assert_eq!(tags(&header)["d"], "example.test");
    let signed = [header.as_bytes(), &raw].concat();
    assert_eq!(verify(&signed, &zone).await, [DkimResult::Pass]);

    // The alias domain's own records carry no key: it signs as the primary domain.
    let alias_records = f
        .admin
        .service_dns_records(Actor::Operator, "example.org", HOSTNAME)
        .await
        .unwrap();
    assert!(alias_records.iter().all(|r| !r.name.contains("_domainkey")));
    assert!(
        alias_records
            .iter()
            .any(|r| r.kind == "MX" && r.name == "example.org")
    );
}

#[tokio::test]
async fn svc_1_rotation_signs_with_the_new_selector_and_keeps_the_old_record_valid() {
    let f = fixture().await;
    let op = Actor::Operator;
    let before = f
        .admin
        .service_dns_records(op, "example.test", HOSTNAME)
        .await
        .unwrap();
    let (old_name, old_text) = dkim_record(&before);
    let signer = DkimSigner::new(f.stores.directory.clone());
    let raw = message("toto@example.test");
    let old_header = signer.sign(&domain("example.test"), &raw).await.unwrap();

    let rotation = f.admin.rotate_dkim(op, "example.test").await.unwrap();
    let retired = rotation.retired.clone().expect("the first key is retired");
    assert_eq!(
        format!("{}._domainkey.example.test", retired.selector),
        old_name
    );
    assert_ne!(rotation.key.selector, retired.selector);
    assert!(
        rotation.key.selector.starts_with(&retired.selector),
        "same month: a suffix"
    );
    assert_eq!(rotation.key.algorithm, "rsa-sha256");
    assert_eq!(rotation.domain, domain("example.test"));

    let after = f
        .admin
        .service_dns_records(op, "example.test", HOSTNAME)
        .await
        .unwrap();
    let (new_name, new_text) = dkim_record(&after);
    assert_eq!(new_name, rotation.record.name);
    assert_eq!(
        format!("{}._domainkey.example.test", rotation.key.selector),
        new_name
    );
    assert_ne!(new_text, old_text);

    // The same signer notices the rotation (made as by another process, through the store).
    let new_header = signer.sign(&domain("example.test"), &raw).await.unwrap();
    assert_eq!(tags(&new_header)["s"], rotation.key.selector);

    let zone = Zone::default();
    zone.publish(&old_name, &old_text);
    zone.publish(&new_name, &new_text);
    for header in [old_header, new_header] {
        let signed = [header.as_bytes(), &raw].concat();
        assert_eq!(verify(&signed, &zone).await, [DkimResult::Pass]);
    }

    // Only an administrator of the organization rotates.
    let stranger = f
        .admin
        .create_user(
            op,
            postwerk_core::CreateUser {
                login: "stranger@elsewhere.example".into(),
                password: Some("stranger-secret-1".into()),
                display_name: None,
                org: None,
            },
        )
        .await
        .unwrap()
        .value;
    let refused = f
        .admin
        .rotate_dkim(Actor::User(stranger.id), "example.test")
        .await;
    assert!(
        matches!(refused, Err(postwerk_core::CoreError::Forbidden(_))),
        "{refused:?}"
    );
    let refused = f
        .admin
        .service_dns_records(Actor::User(stranger.id), "example.test", HOSTNAME)
        .await;
    assert!(matches!(
        refused,
        Err(postwerk_core::CoreError::Forbidden(_))
    ));
}

#[tokio::test]
async fn snd_2_no_key_and_not_hosted_are_errors_that_name_the_domain() {
    let f = fixture().await;
    let signer = DkimSigner::new(f.stores.directory.clone());
    let raw = message("x@elsewhere.example");
    let error = signer
        .sign(&domain("elsewhere.example"), &raw)
        .await
        .unwrap_err();
    assert!(matches!(error, DkimError::NotHosted(_)), "{error}");
    assert!(error.to_string().contains("elsewhere.example"));

    // A service stored without a key (as before keys existed).
    let org = f
        .stores
        .directory
        .org_by_name("Acme")
        .await
        .unwrap()
        .unwrap();
    f.stores
        .directory
        .create_service(NewService {
            org: org.id,
            domain: domain("old.example"),
            address_quota: 5,
            features: ServiceFeatures::default(),
            default_permissions: Permissions::READ_SEND,
            signature_templates: Vec::new(),
            dkim: None,
        })
        .await
        .unwrap();
    let error = signer.sign(&domain("old.example"), &raw).await.unwrap_err();
    assert!(matches!(error, DkimError::NoKey(_)), "{error}");
    assert!(
        error.to_string().contains("dkim-rotate old.example"),
        "{error}"
    );
    let records = f
        .admin
        .service_dns_records(Actor::Operator, "old.example", HOSTNAME)
        .await
        .unwrap();
    assert!(records.iter().all(|r| !r.name.contains("_domainkey")));

    // dkim-rotate gives it its first key, which then signs.
    let rotation = f
        .admin
        .rotate_dkim(Actor::Operator, "old.example")
        .await
        .unwrap();
    assert_eq!(rotation.retired, None);
    let header = signer.sign(&domain("old.example"), &raw).await.unwrap();
    assert_eq!(tags(&header)["s"], rotation.key.selector);
}

fn recipient(address: &str, recipient: postwerk_core::Recipient) -> EnvelopeRecipient {
    EnvelopeRecipient {
        address: address.parse().unwrap(),
        recipient,
        notify: None,
        orcpt: None,
    }
}

#[tokio::test]
async fn snd_2_submitted_mail_is_queued_signed_and_its_local_copy_is_not() {
    let f = fixture().await;
    let records = f
        .admin
        .service_dns_records(Actor::Operator, "example.test", HOSTNAME)
        .await
        .unwrap();
    let (name, text) = dkim_record(&records);
    let zone = Zone::default();
    zone.publish(&name, &text);
    let delivery = Delivery::new(
        f.stores.directory.clone(),
        f.stores.mail.clone(),
        f.stores.queue.clone(),
    )
    .with_signer(DkimSigner::new(f.stores.directory.clone()));
    let toto_address: Address = "toto@example.test".parse().unwrap();
    let toto = f
        .stores
        .directory
        .address_by_address(&toto_address)
        .await
        .unwrap()
        .unwrap();
    let login = postwerk_core::Login {
        mailbox: toto.id,
        address: toto_address,
        epoch: toto.credential_epoch,
    };
    let local = delivery
        .check_recipient(&"toto@example.test".parse().unwrap(), true)
        .await
        .unwrap();
    let envelope = Envelope {
        return_path: "toto@example.test".into(),
        recipients: vec![
            recipient("toto@example.test", local.clone()),
            recipient("someone@remote.example", postwerk_core::Recipient::Remote),
        ],
        envid: None,
        ret: None,
        submitted_by: Some(login),
        client: None,
    };
    let trace = b"Received: from client by mail.platform.test; date\r\n";
    let body = message("toto@example.test");
    let outcome = delivery
        .deliver(&envelope, trace, &body, 1_795_694_400)
        .await
        .unwrap();
    let Delivered::Accepted {
        stored: 1,
        queued: Some(id),
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    let queued = f.stores.queue.read_queued(id).await.unwrap();
    assert!(queued.starts_with(b"DKIM-Signature: v=1; a=rsa-sha256;"));
    assert!(
        queued.ends_with(&[&trace[..], &body].concat()),
        "the signature, then the trace lines, then the message as submitted"
    );
    assert_eq!(verify(&queued, &zone).await, [DkimResult::Pass]);

    let inbox = f
        .stores
        .mail
        .folder_by_name(toto.id, "INBOX")
        .await
        .unwrap()
        .unwrap();
    let stored = f.stores.mail.read_message(inbox.id, 1).await.unwrap();
    assert!(
        !String::from_utf8_lossy(&stored).contains("DKIM-Signature"),
        "the local copy is not signed"
    );

    // Received mail forwarded onwards is not ours to sign.
    let received = Envelope {
        return_path: "someone@remote.example".into(),
        recipients: vec![recipient(
            "r@remote.example",
            postwerk_core::Recipient::Remote,
        )],
        envid: None,
        ret: None,
        submitted_by: None,
        client: None,
    };
    let Delivered::Accepted {
        queued: Some(id), ..
    } = delivery
        .deliver(&received, trace, &body, 1_795_694_400)
        .await
        .unwrap()
    else {
        panic!("not queued");
    };
    let queued = f.stores.queue.read_queued(id).await.unwrap();
    assert_eq!(queued, [&trace[..], &body].concat(), "unsigned");
}

#[tokio::test]
async fn snd_2_without_a_key_mail_still_goes_unsigned() {
    let f = fixture().await;
    let org = f
        .stores
        .directory
        .org_by_name("Acme")
        .await
        .unwrap()
        .unwrap();
    let service = f
        .stores
        .directory
        .create_service(NewService {
            org: org.id,
            domain: domain("old.example"),
            address_quota: 5,
            features: ServiceFeatures::default(),
            default_permissions: Permissions::READ_SEND,
            signature_templates: Vec::new(),
            dkim: None,
        })
        .await
        .unwrap();
    let hosted = f
        .stores
        .directory
        .create_address(postwerk_store::NewAddress {
            service: service.id,
            local: postwerk_model::LocalPart::parse("bob").unwrap(),
            kind: AddressKind::Mailbox,
            display_name: String::new(),
            password_hash: None,
            redirect: None,
            storage_limit: None,
        })
        .await
        .unwrap();
    let delivery = Delivery::new(
        f.stores.directory.clone(),
        f.stores.mail.clone(),
        f.stores.queue.clone(),
    )
    .with_signer(DkimSigner::new(f.stores.directory.clone()));
    let envelope = Envelope {
        return_path: "bob@old.example".into(),
        recipients: vec![recipient(
            "someone@remote.example",
            postwerk_core::Recipient::Remote,
        )],
        envid: None,
        ret: None,
        submitted_by: Some(postwerk_core::Login {
            mailbox: hosted.id,
            address: hosted.address.clone(),
            epoch: 0,
        }),
        client: None,
    };
    let body = message("bob@old.example");
    let outcome = delivery.deliver(&envelope, b"", &body, 0).await.unwrap();
    let Delivered::Accepted {
        queued: Some(id), ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(f.stores.queue.read_queued(id).await.unwrap(), body);
}

/// The signature's `b=` is over the header fields as signed: parsing it back gives the
/// selector the service names.
#[tokio::test]
async fn snd_2_signature_parses_back() {
    let f = fixture().await;
    let header = DkimSigner::new(f.stores.directory.clone())
        .sign(&domain("example.test"), &message("toto@example.test"))
        .await
        .unwrap();
    let value = header.strip_prefix("DKIM-Signature:").unwrap();
    let signature = Signature::parse(value.as_bytes()).unwrap();
    let service = f
        .stores
        .directory
        .service_by_domain(&domain("example.test"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(signature.s, service.dkim.unwrap().selector);
    assert_eq!(signature.x, 0);
}
