//! The directory the SMTP conversation tests run against (`transcripts.rs`,
//! `rate_limits.rs`): example.test with toto (alias tata), a no-reply address and a
//! redirection outside, on an embedded store in a temporary folder.

use postwerk_core::{Actor, Admin, CreateAddress};
use postwerk_model::AddressKind;
use postwerk_store::Stores;
use postwerk_testkit::transcript::TlsPair;

/// The mailbox password of toto and info (AUTH PLAIN in the scripts is its base64).
const PASSWORD: &str = "mailbox-secret-1";

/// A store in a temporary folder and a TLS pair for the sessions.
pub struct Fixture {
    _dir: tempfile::TempDir,
    pub stores: Stores,
    pub tls: TlsPair,
}

/// example.test with toto (alias tata), a no-reply address and a redirection outside.
pub async fn fixture() -> Fixture {
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
    let create =
        |address: &str, kind: AddressKind, password: Option<&str>, to: &[&str]| CreateAddress {
            address: address.into(),
            kind,
            password: password.map(Into::into),
            holder: postwerk_core::Holder::Nobody,
            display_name: String::new(),
            aliases: Vec::new(),
            redirect_to: to.iter().map(|s| s.to_string()).collect(),
            keep_copy: false,
        };
    for request in [
        create(
            "toto@example.test",
            AddressKind::Mailbox,
            Some(PASSWORD),
            &[],
        ),
        create(
            "info@example.test",
            AddressKind::NoReply,
            Some(PASSWORD),
            &[],
        ),
        create(
            "fwd@example.test",
            AddressKind::RedirectOnly,
            None,
            &["out@elsewhere.example"],
        ),
    ] {
        admin.create_address(op, request).await.unwrap();
    }
    admin
        .add_alias(op, "toto@example.test", "tata@example.test")
        .await
        .unwrap();
    let tls = TlsPair::self_signed(&dir.path().join("tls"));
    Fixture {
        _dir: dir,
        stores,
        tls,
    }
}
