//! The Manager's records (issue 8): API tokens, sessions of user accounts, invitations
//! (ADDR-1 b') and sender allow/block lists (RCV-4).

use postwerk_model::{
    AddressKind, ApiTokenId, Invitation, ListKind, LoginMode, Permissions, Role, SenderPattern,
    SenderRule, SessionId, UserAccount, UserId,
};
use postwerk_store::{
    Acceptance, NewApiToken, NewInvitation, NewUser, NewWebSession, TokenOwner, TokenScope,
};

use super::*;

/// A fixed "now" for the records of these tests, Unix seconds.
const NOW: i64 = 1_750_000_000;

fn new_user(login: &str) -> NewUser {
    NewUser {
        login: address(login),
        display_name: "Jane Doe".to_owned(),
        password_hash: "$argon2id$account".to_owned(),
        phone: None,
        recovery_email: None,
    }
}

async fn user(stores: &Stores, login: &str) -> UserAccount {
    stores
        .directory
        .create_user(new_user(login))
        .await
        .expect("user")
}

fn token(owner: TokenOwner, prefix: &str, created_at: i64) -> NewApiToken {
    NewApiToken {
        owner,
        name: format!("token {prefix}"),
        prefix: prefix.to_owned(),
        secret_hash: format!("{prefix}-digest"),
        scope: TokenScope::Write,
        created_at,
        expires_at: None,
    }
}

pub async fn api_tokens_found_by_prefix_listed_revoked_and_touched<B: Backend>(backend: &B) {
    let mut h = Harness::new(backend).await;
    let jane = user(h.stores(), "jane@personal.example").await;
    let bob = user(h.stores(), "bob@personal.example").await;
    let manager = &h.stores().manager;
    let operator = manager
        .create_api_token(token(TokenOwner::Operator, "pwop0001", NOW))
        .await
        .expect("operator token");
    let older = manager
        .create_api_token(NewApiToken {
            scope: TokenScope::Read,
            expires_at: Some(NOW + 86_400),
            ..token(TokenOwner::User(jane.id), "pwja0001", NOW - 100)
        })
        .await
        .expect("token");
    let newer = manager
        .create_api_token(token(TokenOwner::User(jane.id), "pwja0002", NOW))
        .await
        .expect("token");
    manager
        .create_api_token(token(TokenOwner::User(bob.id), "pwbo0001", NOW))
        .await
        .expect("token");
    assert_eq!(
        (
            older.scope,
            older.expires_at,
            older.last_used_at,
            older.revoked_at
        ),
        (TokenScope::Read, Some(NOW + 86_400), None, None)
    );
    assert_eq!(
        manager
            .api_token_by_prefix("pwja0001")
            .await
            .expect("lookup"),
        Some(older.clone())
    );
    assert_eq!(
        manager
            .api_token_by_prefix("nothing")
            .await
            .expect("lookup"),
        None
    );
    assert_eq!(
        manager
            .list_api_tokens(TokenOwner::User(jane.id))
            .await
            .expect("list"),
        vec![newer.clone(), older.clone()],
        "newest first, only jane's"
    );
    assert_eq!(
        manager
            .list_api_tokens(TokenOwner::Operator)
            .await
            .expect("list"),
        vec![operator.clone()],
        "the operator's tokens are not any user's"
    );

    manager
        .touch_api_token(older.id, NOW + 10)
        .await
        .expect("touch");
    manager
        .revoke_api_token(older.id, NOW + 20)
        .await
        .expect("revoke");
    manager
        .revoke_api_token(older.id, NOW + 30)
        .await
        .expect("revoke again");
    h.reopen().await;
    let manager = &h.stores().manager;
    let revoked = manager
        .api_token_by_prefix("pwja0001")
        .await
        .expect("lookup")
        .expect("revoked tokens are still found");
    assert_eq!(
        (revoked.last_used_at, revoked.revoked_at),
        (Some(NOW + 10), Some(NOW + 20)),
        "it stopped working when first revoked"
    );
    assert_eq!(
        manager
            .list_api_tokens(TokenOwner::User(jane.id))
            .await
            .expect("list")
            .len(),
        2,
        "revoked tokens stay listed"
    );
    let untouched = manager
        .api_token_by_prefix("pwja0002")
        .await
        .expect("lookup")
        .expect("exists");
    assert_eq!(untouched, newer);

    // Refusals.
    let duplicate = manager
        .create_api_token(token(TokenOwner::User(jane.id), "pwja0002", NOW))
        .await;
    assert!(assert_conflict(duplicate).contains("pwja0002"));
    assert_not_found(
        manager
            .create_api_token(token(TokenOwner::User(UserId(999)), "pwxx0001", NOW))
            .await,
    );
    assert_not_found(manager.revoke_api_token(ApiTokenId(999), NOW).await);
    assert_not_found(manager.touch_api_token(ApiTokenId(999), NOW).await);
}

fn session(user: UserId, hash: &str, created_at: i64) -> NewWebSession {
    NewWebSession {
        user,
        secret_hash: hash.to_owned(),
        credential_epoch: 3,
        created_at,
        expires_at: created_at + 3_600,
        ip: Some("192.0.2.7".to_owned()),
        user_agent: Some("Mozilla/5.0".to_owned()),
    }
}

pub async fn id_1_web_sessions_created_found_touched_listed_and_ended<B: Backend>(backend: &B) {
    let mut h = Harness::new(backend).await;
    let jane = user(h.stores(), "jane@personal.example").await;
    let bob = user(h.stores(), "bob@personal.example").await;
    let manager = &h.stores().manager;
    let first = manager
        .create_web_session(session(jane.id, "digest-1", NOW - 500))
        .await
        .expect("session");
    assert_eq!(
        (
            first.last_seen_at,
            first.credential_epoch,
            first.ip.as_deref()
        ),
        (NOW - 500, 3, Some("192.0.2.7")),
        "last seen when created"
    );
    let second = manager
        .create_web_session(NewWebSession {
            user_agent: Some("x".repeat(500)),
            ip: None,
            ..session(jane.id, "digest-2", NOW)
        })
        .await
        .expect("session");
    assert_eq!(
        second.user_agent.as_ref().map(String::len),
        Some(200),
        "the User-Agent is cut to 200 characters"
    );
    manager
        .create_web_session(session(bob.id, "digest-3", NOW))
        .await
        .expect("session");

    manager
        .touch_web_session(first.id, NOW + 5, NOW + 7_200)
        .await
        .expect("touch");
    h.reopen().await;
    let manager = &h.stores().manager;
    let touched = manager
        .web_session_by_hash("digest-1")
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(
        (touched.id, touched.last_seen_at, touched.expires_at),
        (first.id, NOW + 5, NOW + 7_200),
        "sliding expiry"
    );
    assert_eq!(touched.created_at, first.created_at);
    assert_eq!(
        manager
            .web_session_by_hash("digest-2")
            .await
            .expect("lookup"),
        Some(second.clone())
    );
    assert_eq!(
        manager
            .list_web_sessions(jane.id)
            .await
            .expect("list")
            .iter()
            .map(|s| s.id)
            .collect::<Vec<_>>(),
        vec![second.id, first.id],
        "newest first, only jane's"
    );

    manager
        .delete_web_session(first.id)
        .await
        .expect("sign out");
    assert_eq!(
        manager
            .web_session_by_hash("digest-1")
            .await
            .expect("lookup"),
        None
    );
    assert_eq!(
        manager.list_web_sessions(jane.id).await.expect("list"),
        vec![second]
    );
    assert_not_found(manager.delete_web_session(first.id).await);
    assert_not_found(manager.touch_web_session(first.id, NOW, NOW).await);
    assert_not_found(manager.delete_web_session(SessionId(999)).await);
    assert_not_found(
        manager
            .create_web_session(session(UserId(999), "digest-4", NOW))
            .await,
    );
    assert_conflict(
        manager
            .create_web_session(session(bob.id, "digest-3", NOW))
            .await,
    );
}

fn invitation(address: postwerk_model::AddressId, hash: &str, mode: LoginMode) -> NewInvitation {
    NewInvitation {
        address,
        sent_to: super::address("jane@personal.example"),
        login_mode: mode,
        permissions: Permissions::READ_SEND.union(Permissions::MANAGE_ALIASES),
        signature: Some("Sales".to_owned()),
        secret_hash: hash.to_owned(),
        invited_by: None,
        created_at: NOW,
        expires_at: NOW + 86_400,
    }
}

pub async fn addr_1_invitation_creates_the_account_once<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let (org, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let admin = user(stores, "admin@personal.example").await;
    let manager = &stores.manager;
    let created = manager
        .create_invitation(NewInvitation {
            invited_by: Some(admin.id),
            ..invitation(toto.id, "link-1", LoginMode::ExactAddress)
        })
        .await
        .expect("invitation");
    assert_eq!(
        created,
        Invitation {
            id: created.id,
            address: toto.id,
            sent_to: address("jane@personal.example"),
            login_mode: LoginMode::ExactAddress,
            permissions: Permissions::READ_SEND.union(Permissions::MANAGE_ALIASES),
            signature: Some("Sales".to_owned()),
            expires_at: NOW + 86_400,
            accepted_at: None,
        }
    );
    assert_eq!(
        manager.invitation_by_hash("link-1").await.expect("lookup"),
        Some(created.clone())
    );
    assert_eq!(
        manager.invitation_by_hash("other").await.expect("lookup"),
        None
    );

    let account = manager
        .accept_invitation(
            created.id,
            Acceptance::NewAccount(new_user("toto@abc.xyz")),
            NOW + 60,
        )
        .await
        .expect("accept");
    assert_eq!(account.login, address("toto@abc.xyz"));
    assert_eq!(
        stores.directory.user(account.id).await.expect("lookup"),
        Some(account.clone())
    );
    let memberships = stores
        .directory
        .user_memberships(account.id)
        .await
        .expect("memberships");
    assert_eq!(
        memberships
            .iter()
            .map(|m| (m.org, m.role))
            .collect::<Vec<_>>(),
        vec![(org.id, Role::Member)]
    );
    let access = stores
        .directory
        .user_access(account.id)
        .await
        .expect("access");
    assert_eq!(
        access
            .iter()
            .map(|a| (a.address, a.permissions, a.signature.clone()))
            .collect::<Vec<_>>(),
        vec![(toto.id, created.permissions, Some("Sales".to_owned()))]
    );
    let accepted = manager
        .invitation_by_hash("link-1")
        .await
        .expect("lookup")
        .expect("kept");
    assert_eq!(accepted.accepted_at, Some(NOW + 60));
    assert!(!accepted.is_open(NOW + 61));

    // Used once: a second acceptance, by anyone, is refused and creates nothing.
    let users_before = stores.directory.list_users().await.expect("users").len();
    let again = manager
        .accept_invitation(
            created.id,
            Acceptance::NewAccount(new_user("someone@personal.example")),
            NOW + 120,
        )
        .await;
    assert!(assert_refused(again).contains("already accepted"));
    let again = manager
        .accept_invitation(created.id, Acceptance::Existing(admin.id), NOW + 120)
        .await;
    assert_refused(again);
    assert_eq!(
        stores.directory.list_users().await.expect("users").len(),
        users_before
    );
    assert!(
        stores
            .directory
            .user_access(admin.id)
            .await
            .expect("access")
            .is_empty()
    );
    assert_not_found(
        manager
            .accept_invitation(
                postwerk_model::InvitationId(999),
                Acceptance::Existing(admin.id),
                NOW,
            )
            .await,
    );
}

pub async fn addr_1_invitation_accepted_by_an_existing_member_keeps_their_role<B: Backend>(
    backend: &B,
) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let (org, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let jane = user(stores, "jane@personal.example").await;
    stores
        .directory
        .add_membership(org.id, jane.id, Role::Admin)
        .await
        .expect("member");
    let manager = &stores.manager;
    let created = manager
        .create_invitation(invitation(toto.id, "link-1", LoginMode::OwnChoice))
        .await
        .expect("invitation");
    let account = manager
        .accept_invitation(created.id, Acceptance::Existing(jane.id), NOW)
        .await
        .expect("accept");
    assert_eq!(account, jane);
    assert_eq!(
        stores
            .directory
            .user_memberships(jane.id)
            .await
            .expect("memberships")
            .iter()
            .map(|m| (m.org, m.role))
            .collect::<Vec<_>>(),
        vec![(org.id, Role::Admin)],
        "an administrator stays one"
    );
    assert_eq!(
        stores
            .directory
            .address_access(toto.id)
            .await
            .expect("access")
            .iter()
            .map(|a| a.user)
            .collect::<Vec<_>>(),
        vec![jane.id]
    );
    let second = manager
        .create_invitation(invitation(toto.id, "link-2", LoginMode::OwnChoice))
        .await
        .expect("invitation");
    assert_not_found(
        manager
            .accept_invitation(second.id, Acceptance::Existing(UserId(999)), NOW)
            .await,
    );
    assert!(
        manager
            .invitation_by_hash("link-2")
            .await
            .expect("lookup")
            .expect("kept")
            .is_open(NOW)
    );
}

pub async fn addr_1_expired_invitation_refused<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let manager = &stores.manager;
    let created = manager
        .create_invitation(invitation(toto.id, "link-1", LoginMode::OwnChoice))
        .await
        .expect("invitation");
    // It expires at `expires_at` exactly.
    let late = manager
        .accept_invitation(
            created.id,
            Acceptance::NewAccount(new_user("jane@personal.example")),
            created.expires_at,
        )
        .await;
    assert!(assert_refused(late).contains("expired"));
    assert_eq!(
        stores
            .directory
            .user_by_login(&address("jane@personal.example"))
            .await
            .expect("lookup"),
        None,
        "no account"
    );
    assert!(
        stores
            .directory
            .address_access(toto.id)
            .await
            .expect("access")
            .is_empty()
    );
    // A second before, it works.
    manager
        .accept_invitation(
            created.id,
            Acceptance::NewAccount(new_user("jane@personal.example")),
            created.expires_at - 1,
        )
        .await
        .expect("in time");
}

pub async fn addr_1_invitation_with_a_taken_login_changes_nothing<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let (org, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let taken = user(stores, "jane@personal.example").await;
    let manager = &stores.manager;
    let created = manager
        .create_invitation(invitation(toto.id, "link-1", LoginMode::OwnChoice))
        .await
        .expect("invitation");
    let conflict = manager
        .accept_invitation(
            created.id,
            Acceptance::NewAccount(new_user("jane@personal.example")),
            NOW,
        )
        .await;
    assert!(assert_conflict(conflict).contains("jane@personal.example"));
    assert_eq!(
        stores.directory.list_users().await.expect("users"),
        vec![taken.clone()],
        "no account created"
    );
    assert!(
        stores
            .directory
            .address_access(toto.id)
            .await
            .expect("access")
            .is_empty(),
        "no access granted"
    );
    assert!(
        stores
            .directory
            .org_members(org.id)
            .await
            .expect("members")
            .is_empty(),
        "no membership"
    );
    let still = manager
        .invitation_by_hash("link-1")
        .await
        .expect("lookup")
        .expect("kept");
    assert!(still.is_open(NOW), "the invitation is still open");
    // Another login then works.
    let account = manager
        .accept_invitation(
            created.id,
            Acceptance::NewAccount(new_user("jane.doe@personal.example")),
            NOW,
        )
        .await
        .expect("accept");
    assert_eq!(account.login, address("jane.doe@personal.example"));
}

pub async fn addr_1_invitations_listed_and_refused_for_addresses_without_mail<B: Backend>(
    backend: &B,
) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let titi = mailbox(stores, &abc, "titi").await;
    let manager = &stores.manager;
    let older = manager
        .create_invitation(NewInvitation {
            created_at: NOW - 10,
            ..invitation(toto.id, "link-1", LoginMode::OwnChoice)
        })
        .await
        .expect("invitation");
    let newer = manager
        .create_invitation(invitation(toto.id, "link-2", LoginMode::ExactAddress))
        .await
        .expect("invitation");
    manager
        .create_invitation(invitation(titi.id, "link-3", LoginMode::OwnChoice))
        .await
        .expect("invitation");
    assert_eq!(
        manager.list_invitations(toto.id).await.expect("list"),
        vec![newer, older],
        "newest first, only toto's"
    );
    assert_conflict(
        manager
            .create_invitation(invitation(titi.id, "link-3", LoginMode::OwnChoice))
            .await,
    );
    let noreply = stores
        .directory
        .create_address(new_address(&abc, "noreply", AddressKind::NoReply))
        .await
        .expect("no-reply");
    let sentence = assert_refused(
        manager
            .create_invitation(invitation(noreply.id, "link-4", LoginMode::OwnChoice))
            .await,
    );
    assert!(
        sentence.contains("noreply@abc.xyz holds no mail"),
        "{sentence}"
    );
    assert_not_found(
        manager
            .create_invitation(invitation(
                postwerk_model::AddressId(999),
                "link-5",
                LoginMode::OwnChoice,
            ))
            .await,
    );
    assert_not_found(
        manager
            .create_invitation(NewInvitation {
                invited_by: Some(UserId(999)),
                ..invitation(toto.id, "link-6", LoginMode::OwnChoice)
            })
            .await,
    );
    assert_eq!(
        manager.list_invitations(noreply.id).await.expect("list"),
        vec![]
    );
}

fn rule(address: postwerk_model::AddressId, kind: ListKind, pattern: &str) -> SenderRule {
    SenderRule {
        address,
        kind,
        pattern: SenderPattern::parse(pattern).expect("pattern"),
    }
}

pub async fn rcv_4_sender_rules_upserted_ordered_and_removed<B: Backend>(backend: &B) {
    let mut h = Harness::new(backend).await;
    let (_, abc) = service(h.stores(), "abc.xyz", 10).await;
    let toto = mailbox(h.stores(), &abc, "toto").await;
    let titi = mailbox(h.stores(), &abc, "titi").await;
    let manager = &h.stores().manager;
    for (kind, pattern) in [
        (ListKind::Block, "spam.example"),
        (ListKind::Allow, "boss@work.example"),
        (ListKind::Block, "@ads.example"),
        (ListKind::Allow, "@friends.example"),
        (ListKind::Allow, "news@ads.example"),
    ] {
        manager
            .put_sender_rule(rule(toto.id, kind, pattern))
            .await
            .expect("rule");
    }
    manager
        .put_sender_rule(rule(titi.id, ListKind::Block, "@friends.example"))
        .await
        .expect("rule");
    // Same pattern again: the kind changes, no second row.
    manager
        .put_sender_rule(rule(toto.id, ListKind::Allow, "@spam.example"))
        .await
        .expect("upsert");
    h.reopen().await;
    let manager = &h.stores().manager;
    assert_eq!(
        manager.sender_rules(toto.id).await.expect("rules"),
        vec![
            rule(toto.id, ListKind::Allow, "@friends.example"),
            rule(toto.id, ListKind::Allow, "@spam.example"),
            rule(toto.id, ListKind::Allow, "boss@work.example"),
            rule(toto.id, ListKind::Allow, "news@ads.example"),
            rule(toto.id, ListKind::Block, "@ads.example"),
        ],
        "allow rules first, then by pattern"
    );
    assert_eq!(
        manager.sender_rules(titi.id).await.expect("rules"),
        vec![rule(titi.id, ListKind::Block, "@friends.example")],
        "each mailbox has its own list"
    );

    let pattern = SenderPattern::parse("@ads.example").expect("pattern");
    manager
        .remove_sender_rule(toto.id, &pattern)
        .await
        .expect("remove");
    assert_not_found(manager.remove_sender_rule(toto.id, &pattern).await);
    assert_eq!(manager.sender_rules(toto.id).await.expect("rules").len(), 4);
    let friends = SenderPattern::parse("friends.example").expect("pattern");
    manager
        .remove_sender_rule(titi.id, &friends)
        .await
        .expect("remove titi's");
    assert_eq!(
        manager.sender_rules(toto.id).await.expect("rules")[0],
        rule(toto.id, ListKind::Allow, "@friends.example"),
        "toto's rule with the same pattern stays"
    );
    let missing = postwerk_model::AddressId(999);
    assert_not_found(
        manager
            .put_sender_rule(rule(missing, ListKind::Allow, "a@b.example"))
            .await,
    );
    assert_eq!(manager.sender_rules(missing).await.expect("rules"), vec![]);
}

/// ADDR-8: nothing of a deleted address stays, its invitations and sender lists included; an
/// address created again under the same name starts without them.
pub async fn addr_8_delete_removes_invitations_and_sender_rules<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let titi = mailbox(stores, &abc, "titi").await;
    let jane = user(stores, "jane@personal.example").await;
    let manager = &stores.manager;
    let open = manager
        .create_invitation(invitation(toto.id, "link-1", LoginMode::OwnChoice))
        .await
        .expect("invitation");
    let used = manager
        .create_invitation(invitation(toto.id, "link-2", LoginMode::OwnChoice))
        .await
        .expect("invitation");
    manager
        .accept_invitation(used.id, Acceptance::Existing(jane.id), NOW)
        .await
        .expect("accept");
    manager
        .create_invitation(invitation(titi.id, "link-3", LoginMode::OwnChoice))
        .await
        .expect("invitation");
    for target in [&toto, &titi] {
        manager
            .put_sender_rule(rule(target.id, ListKind::Block, "@spam.example"))
            .await
            .expect("rule");
    }

    stores
        .directory
        .delete_addresses(&[toto.id])
        .await
        .expect("delete");
    assert_eq!(
        manager.list_invitations(toto.id).await.expect("list"),
        vec![]
    );
    for hash in ["link-1", "link-2"] {
        assert_eq!(
            manager.invitation_by_hash(hash).await.expect("lookup"),
            None,
            "{hash}"
        );
    }
    assert_not_found(
        manager
            .accept_invitation(open.id, Acceptance::Existing(jane.id), NOW)
            .await,
    );
    assert_eq!(manager.sender_rules(toto.id).await.expect("rules"), vec![]);
    assert_eq!(
        manager.list_invitations(titi.id).await.expect("list").len(),
        1,
        "another address's invitation stays"
    );
    assert_eq!(manager.sender_rules(titi.id).await.expect("rules").len(), 1);

    let again = mailbox(stores, &abc, "toto").await;
    assert_eq!(
        manager.list_invitations(again.id).await.expect("list"),
        vec![]
    );
    assert_eq!(manager.sender_rules(again.id).await.expect("rules"), vec![]);
}
