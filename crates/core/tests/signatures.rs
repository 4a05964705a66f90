//! SVC-4 and ADDR-9 `manage_signatures`: a user chooses their own signature for a mailbox among
//! the service's templates, over a real embedded store; the choice is read back from the
//! access row, whose permissions stay exactly as they were.

use postwerk_core::{Actor, Admin, Audit, AuditQuery, CoreError, ServiceUpdate};
use postwerk_model::{Access, Permissions, Role, SignatureTemplate, UserId};
use postwerk_testkit::directory::Directory;

const MAILBOX: &str = "team@example.test";

/// What the picker allows, plus something the choice must not touch.
fn signer() -> Permissions {
    Permissions::READ_SEND | Permissions::MANAGE_SIGNATURES | Permissions::MANAGE_ALIASES
}

struct Fixture {
    directory: Directory,
    /// `directory.admin`, recording changes in `audit`.
    admin: Admin,
    audit: Audit,
    /// Holds `signer()` on the mailbox.
    anna: UserId,
    /// Holds read and send only.
    ben: UserId,
    /// Administrator of the organization, with access to the mailbox.
    boss: UserId,
    /// Administrator of the organization, without access to the mailbox.
    carl: UserId,
}

async fn fixture() -> Fixture {
    let directory = Directory::open().await;
    directory.org("Acme").await;
    directory.service("Acme", "example.test", 10).await;
    let templates = ServiceUpdate {
        signature_templates: Some(vec![
            SignatureTemplate {
                name: "Formal".into(),
                body: "Kind regards,\nAcme".into(),
            },
            SignatureTemplate {
                name: "Casual".into(),
                body: "Cheers".into(),
            },
        ]),
        ..ServiceUpdate::default()
    };
    directory
        .admin
        .update_service(Actor::Operator, "example.test", templates)
        .await
        .expect("the templates are valid");
    directory.mailbox(MAILBOX, "mailbox secret 1").await;
    let anna = directory
        .account("anna@example.test", "Acme", Role::Member)
        .await;
    let ben = directory
        .account("ben@example.test", "Acme", Role::Member)
        .await;
    let boss = directory
        .account("boss@example.test", "Acme", Role::Admin)
        .await;
    let carl = directory
        .account("carl@example.test", "Acme", Role::Admin)
        .await;
    directory
        .grant(MAILBOX, "anna@example.test", signer())
        .await;
    directory
        .grant(MAILBOX, "ben@example.test", Permissions::READ_SEND)
        .await;
    directory
        .grant(MAILBOX, "boss@example.test", Permissions::READ_SEND)
        .await;
    let audit = Audit::start(directory.stores.identity.clone());
    let admin = directory.admin.clone().with_audit(audit.clone());
    Fixture {
        directory,
        admin,
        audit,
        anna,
        ben,
        boss,
        carl,
    }
}

impl Fixture {
    /// The access row of `user` on the mailbox, as the store holds it.
    async fn access(&self, user: UserId) -> Access {
        let mailbox = self.directory.id(MAILBOX).await;
        self.directory
            .stores
            .directory
            .address_access(mailbox)
            .await
            .expect("the access rows can be read")
            .into_iter()
            .find(|access| access.user == user)
            .expect("the user has access to the mailbox")
    }
}

#[tokio::test]
async fn a_user_with_manage_signatures_picks_a_template_and_keeps_their_permissions() {
    let f = fixture().await;
    f.admin
        .choose_signature(Actor::User(f.anna), MAILBOX, Some("Formal"))
        .await
        .expect("anna may choose her signature");
    let access = f.access(f.anna).await;
    assert_eq!(access.signature.as_deref(), Some("Formal"));
    assert_eq!(access.permissions, signer());

    // Another choice replaces it; `None` clears it; the permissions never move.
    f.admin
        .choose_signature(Actor::User(f.anna), MAILBOX, Some("Casual"))
        .await
        .expect("anna may change her signature");
    assert_eq!(f.access(f.anna).await.signature.as_deref(), Some("Casual"));
    f.admin
        .choose_signature(Actor::User(f.anna), MAILBOX, None)
        .await
        .expect("anna may go without a signature");
    let access = f.access(f.anna).await;
    assert_eq!(access.signature, None);
    assert_eq!(access.permissions, signer());

    // Other users' rows are untouched.
    assert_eq!(f.access(f.ben).await.signature, None);
}

#[tokio::test]
async fn an_unknown_template_is_refused_naming_the_ones_offered() {
    let f = fixture().await;
    let refused = f
        .admin
        .choose_signature(Actor::User(f.anna), MAILBOX, Some("Pirate"))
        .await;
    let Err(CoreError::Invalid(sentence)) = refused else {
        panic!("an unknown template must be refused as invalid, got {refused:?}");
    };
    assert!(sentence.contains("\"Pirate\""), "{sentence}");
    assert!(
        sentence.contains("\"Formal\"") && sentence.contains("\"Casual\""),
        "{sentence}"
    );
    assert_eq!(f.access(f.anna).await.signature, None);
}

#[tokio::test]
async fn a_user_without_manage_signatures_is_refused() {
    let f = fixture().await;
    let refused = f
        .admin
        .choose_signature(Actor::User(f.ben), MAILBOX, Some("Formal"))
        .await;
    let Err(CoreError::Forbidden(sentence)) = refused else {
        panic!("ben lacks manage_signatures and must be refused, got {refused:?}");
    };
    assert!(sentence.contains("signatures"), "{sentence}");
    assert_eq!(f.access(f.ben).await.signature, None);
}

#[tokio::test]
async fn an_administrator_chooses_only_on_a_mailbox_they_have_access_to() {
    let f = fixture().await;
    // With an access row (read and send only): administering the organization is enough.
    f.admin
        .choose_signature(Actor::User(f.boss), MAILBOX, Some("Casual"))
        .await
        .expect("an administrator with access may choose their own signature");
    let access = f.access(f.boss).await;
    assert_eq!(access.signature.as_deref(), Some("Casual"));
    assert_eq!(access.permissions, Permissions::READ_SEND);

    // Without one there is no signature of theirs to choose.
    let refused = f
        .admin
        .choose_signature(Actor::User(f.carl), MAILBOX, Some("Casual"))
        .await;
    let Err(CoreError::Forbidden(sentence)) = refused else {
        panic!("an administrator without access must be refused, got {refused:?}");
    };
    assert!(sentence.contains("no access"), "{sentence}");
    let rows = f
        .directory
        .stores
        .directory
        .address_access(f.directory.id(MAILBOX).await)
        .await
        .expect("the access rows can be read");
    assert!(rows.iter().all(|access| access.user != f.carl));
}

#[tokio::test]
async fn the_choice_is_in_the_audit_log() {
    let f = fixture().await;
    f.admin
        .choose_signature(Actor::User(f.anna), MAILBOX, Some("Formal"))
        .await
        .expect("anna may choose her signature");
    f.audit.flush().await;
    let entries = f
        .audit
        .entries(
            f.directory.stores.directory.as_ref(),
            Actor::Operator,
            AuditQuery::default(),
        )
        .await
        .expect("the operator reads the log");
    let chosen = entries
        .iter()
        .find(|e| e.entry.event == "signature_chosen")
        .expect("the choice is recorded");
    assert_eq!(chosen.entry.subject, MAILBOX);
    assert_eq!(chosen.entry.actor.as_deref(), Some("anna@example.test"));
    assert!(chosen.entry.detail.contains("Formal"));
}
