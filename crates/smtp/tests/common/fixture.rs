//! The directory the SMTP conversation tests run against (`transcripts.rs`,
//! `rate_limits.rs`): example.test with toto (alias tata), a no-reply address and a
//! redirection outside, on an embedded store in a temporary folder.

use postwerk_core::Actor;
use postwerk_model::AddressKind;
use postwerk_store::Stores;
use postwerk_testkit::directory::{Directory, address_request};
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
    let directory = Directory::open().await;
    directory.org("Acme").await;
    directory.service("Acme", "example.test", 100).await;
    directory.mailbox("toto@example.test", PASSWORD).await;
    directory
        .address(address_request(
            "info@example.test",
            AddressKind::NoReply,
            Some(PASSWORD),
        ))
        .await;
    directory
        .redirection("fwd@example.test", &["out@elsewhere.example"])
        .await;
    directory
        .admin
        .add_alias(Actor::Operator, "toto@example.test", "tata@example.test")
        .await
        .unwrap();
    let Directory { dir, stores, .. } = directory;
    let tls = TlsPair::self_signed(&dir.path().join("tls"));
    Fixture {
        _dir: dir,
        stores,
        tls,
    }
}
