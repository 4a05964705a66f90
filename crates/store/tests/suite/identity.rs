//! Identity records (issue 9, SPEC §1): two-factor enrolment, contact details and logins,
//! password unification (ID-5), the credential announcements of ID-6, recovery codes and
//! usernames (ID-8, ID-9, ID-10), verification requests, the SMS outbox (ID-12) and the audit
//! log (ID-11).

use std::collections::BTreeSet;

use postwerk_model::{
    AddressId, OrgId, Permissions, RecoveryUsername, Role, SessionId, UserAccount, UserId,
};
use postwerk_store::{
    AuditCategory, AuditEntry, AuditFilter, Channel, NewAuditEntry, NewRecoveryCode, NewUser,
    NewVerificationRequest, NewWebSession, RecoveryPurpose,
};

use super::*;

/// A fixed "now" for the records of these tests, Unix seconds.
const NOW: i64 = 1_750_000_000;

/// A user account `login` named `name`, with an optional phone number.
async fn account(stores: &Stores, login: &str, name: &str, phone: Option<&str>) -> UserAccount {
    stores
        .directory
        .create_user(NewUser {
            login: address(login),
            display_name: name.to_owned(),
            password_hash: "$argon2id$account".to_owned(),
            phone: phone.map(str::to_owned),
            recovery_email: None,
        })
        .await
        .expect("user")
}

async fn reload(stores: &Stores, user: UserId) -> UserAccount {
    stores
        .directory
        .user(user)
        .await
        .expect("lookup")
        .expect("account")
}

async fn ids_by_phone(stores: &Stores, phone: &str) -> Vec<UserId> {
    stores
        .identity
        .users_by_phone(phone)
        .await
        .expect("lookup")
        .iter()
        .map(|u| u.id)
        .collect()
}

/// The mailboxes whose credentials changed since the last call.
fn announced(events: &mut broadcast::Receiver<AddressId>) -> Vec<AddressId> {
    let mut all = Vec::new();
    while let Ok(id) = events.try_recv() {
        all.push(id);
    }
    all
}

const FULL: Permissions = Permissions::READ_SEND.union(Permissions::CHANGE_PASSWORD);

pub async fn id_9_accounts_found_by_phone_whatever_its_formatting<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let jane = account(
        stores,
        "jane@outside.example",
        "Jane",
        Some("+41 79 123 45 67"),
    )
    .await;
    let john = account(stores, "john@outside.example", "John", None).await;
    let other = account(
        stores,
        "other@outside.example",
        "Other",
        Some("+41 79 000 00 00"),
    )
    .await;
    let email = address("john.recovery@outside.example");
    stores
        .identity
        .set_user_contact(john.id, Some("+41-79-123.45.67"), Some(&email))
        .await
        .expect("contact");
    let john = reload(stores, john.id).await;
    assert_eq!(
        (john.phone.as_deref(), john.recovery_email.as_ref()),
        (Some("+41-79-123.45.67"), Some(&email)),
        "kept as typed"
    );

    assert_eq!(
        ids_by_phone(stores, "+41791234567").await,
        vec![jane.id, john.id]
    );
    assert_eq!(
        ids_by_phone(stores, " +41 (79) 123 45 67 ").await,
        vec![jane.id, john.id]
    );
    assert_eq!(
        ids_by_phone(stores, "+41 79 000 00 00").await,
        vec![other.id]
    );
    assert!(
        ids_by_phone(stores, "41791234567").await.is_empty(),
        "the leading + is part of the number"
    );
    assert!(ids_by_phone(stores, "").await.is_empty());
    assert!(ids_by_phone(stores, " + ").await.is_empty());

    stores
        .identity
        .set_user_contact(jane.id, None, None)
        .await
        .expect("contact removed");
    assert_eq!(ids_by_phone(stores, "+41791234567").await, vec![john.id]);
    assert_eq!(reload(stores, jane.id).await.phone, None);
    assert_not_found(
        stores
            .identity
            .set_user_contact(UserId(999), Some("+1 555"), None)
            .await,
    );
}

pub async fn id_10_a_deleted_login_address_issues_unique_recovery_usernames<B: Backend>(
    backend: &B,
) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let (_, abc) = service(stores, "abc.xyz", 20).await;
    let mut hosted = Vec::new();
    let mut accounts = Vec::new();
    // The same initials for all: their usernames differ only by their digits.
    for n in 0..6 {
        let mailbox = mailbox(stores, &abc, &format!("john{n}")).await;
        let login = format!("john{n}@abc.xyz");
        accounts.push(account(stores, &login, "John Doe", None).await);
        hosted.push(mailbox.id);
    }
    let outside = account(stores, "john@outside.example", "John Doe", None).await;

    let orphaned = stores
        .directory
        .delete_addresses(&hosted)
        .await
        .expect("delete");
    assert_eq!(orphaned.len(), accounts.len());
    let mut usernames = BTreeSet::new();
    for (before, after) in accounts.iter().zip(&orphaned) {
        let username = after
            .recovery_username
            .clone()
            .expect("a recovery username");
        assert!(username.as_str().starts_with("jd"), "{username}");
        assert!(after.must_choose_login, "a new login must be chosen");
        assert_eq!(after.login, before.login, "the login stays until replaced");
        assert_eq!(
            &reload(stores, after.id).await,
            after,
            "the answer is what was stored"
        );
        assert_eq!(
            stores
                .identity
                .user_by_recovery_username(&username)
                .await
                .expect("lookup")
                .map(|u| u.id),
            Some(after.id)
        );
        usernames.insert(username);
    }
    assert_eq!(usernames.len(), accounts.len(), "unique: {usernames:?}");
    let outside = reload(stores, outside.id).await;
    assert_eq!(
        (outside.recovery_username, outside.must_choose_login),
        (None, false),
        "a login hosted elsewhere changes nothing"
    );
    assert_eq!(
        stores
            .identity
            .user_by_recovery_username(&RecoveryUsername::parse("zz000000").expect("username"))
            .await
            .expect("lookup"),
        None
    );
}

pub async fn id_10_a_new_login_is_unique_and_ends_the_recovery_state<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let jane = account(stores, "toto@abc.xyz", "Jane Doe", None).await;
    let bob = account(stores, "bob@outside.example", "Bob", None).await;
    let orphaned = stores
        .directory
        .delete_addresses(&[toto.id])
        .await
        .expect("delete");
    let username = orphaned[0].recovery_username.clone().expect("username");

    let sentence = assert_conflict(stores.identity.set_user_login(jane.id, &bob.login).await);
    assert!(sentence.contains("bob@outside.example"), "{sentence}");
    let unchanged = reload(stores, jane.id).await;
    assert_eq!(
        (
            unchanged.recovery_username.as_ref(),
            unchanged.must_choose_login
        ),
        (Some(&username), true),
        "a refused change changes nothing"
    );

    let chosen = address("jane@outside.example");
    stores
        .identity
        .set_user_login(jane.id, &chosen)
        .await
        .expect("login changed");
    let jane = reload(stores, jane.id).await;
    assert_eq!(
        (jane.login, jane.recovery_username, jane.must_choose_login),
        (chosen.clone(), None, false)
    );
    assert_eq!(
        jane.credential_epoch, 0,
        "a login change is not a password change"
    );
    assert_eq!(
        stores
            .identity
            .user_by_recovery_username(&username)
            .await
            .expect("lookup"),
        None,
        "the recovery username no longer signs in"
    );
    assert_eq!(
        stores
            .directory
            .user_by_login(&chosen)
            .await
            .expect("lookup")
            .map(|u| u.id),
        Some(jane.id)
    );
    assert_not_found(stores.identity.set_user_login(UserId(999), &chosen).await);
}

pub async fn id_5_unification_marks_one_pair_and_ends_with_its_conditions<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let (dir, identity) = (&stores.directory, &stores.identity);
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let titi = mailbox(stores, &abc, "titi").await;
    let jane = account(stores, "toto@abc.xyz", "Jane", None).await;
    let bob = account(stores, "bob@outside.example", "Bob", None).await;
    assert_not_found(identity.set_unified(jane.id, toto.id, true).await);

    for mailbox in [&toto, &titi] {
        dir.grant_access(jane.id, mailbox.id, FULL, None)
            .await
            .expect("grant");
    }
    identity
        .set_unified(jane.id, toto.id, true)
        .await
        .expect("unify");
    assert_eq!(
        identity.unified_address(jane.id).await.expect("read"),
        Some(toto.id)
    );
    assert_eq!(
        identity.unified_user(toto.id).await.expect("read"),
        Some(jane.id)
    );
    assert_eq!(identity.unified_user(titi.id).await.expect("read"), None);

    // One account, one mailbox: the newer unification replaces the older.
    identity
        .set_unified(jane.id, titi.id, true)
        .await
        .expect("unify");
    assert_eq!(
        identity.unified_address(jane.id).await.expect("read"),
        Some(titi.id)
    );
    assert_eq!(identity.unified_user(toto.id).await.expect("read"), None);
    identity
        .set_unified(jane.id, titi.id, false)
        .await
        .expect("end");
    assert_eq!(identity.unified_address(jane.id).await.expect("read"), None);

    // ID-5 (c): the permission to change the password stays: still unified; it goes: ended.
    identity
        .set_unified(jane.id, toto.id, true)
        .await
        .expect("unify");
    dir.grant_access(jane.id, toto.id, FULL, Some("sig".to_owned()))
        .await
        .expect("regrant");
    assert_eq!(
        identity.unified_user(toto.id).await.expect("read"),
        Some(jane.id)
    );
    dir.grant_access(jane.id, toto.id, Permissions::READ_SEND, None)
        .await
        .expect("permission removed");
    assert_eq!(identity.unified_user(toto.id).await.expect("read"), None);

    // ID-5 (b): a second account with access to the mailbox.
    dir.grant_access(jane.id, toto.id, FULL, None)
        .await
        .expect("permission back");
    identity
        .set_unified(jane.id, toto.id, true)
        .await
        .expect("unify");
    dir.grant_access(bob.id, titi.id, FULL, None)
        .await
        .expect("another mailbox");
    assert_eq!(
        identity.unified_user(toto.id).await.expect("read"),
        Some(jane.id),
        "access to another mailbox changes nothing"
    );
    dir.grant_access(bob.id, toto.id, Permissions::READ_SEND, None)
        .await
        .expect("second account");
    assert_eq!(identity.unified_user(toto.id).await.expect("read"), None);
    assert_eq!(identity.unified_address(jane.id).await.expect("read"), None);

    // ID-5 (a): a login change.
    dir.revoke_access(bob.id, toto.id).await.expect("revoke");
    identity
        .set_unified(jane.id, toto.id, true)
        .await
        .expect("unify");
    identity
        .set_user_login(jane.id, &address("toto@abc.xyz"))
        .await
        .expect("the same login again");
    assert_eq!(
        identity.unified_user(toto.id).await.expect("read"),
        Some(jane.id),
        "the login still equals the mailbox"
    );
    identity
        .set_user_login(jane.id, &address("jane@outside.example"))
        .await
        .expect("login changed");
    assert_eq!(identity.unified_user(toto.id).await.expect("read"), None);
}

pub async fn id_5_a_unified_password_change_sets_both_and_cuts_both<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let jane = account(stores, "toto@abc.xyz", "Jane", None).await;
    stores
        .directory
        .grant_access(jane.id, toto.id, FULL, None)
        .await
        .expect("grant");
    let mut credentials = stores.events.subscribe_credentials();

    let epochs = stores
        .identity
        .set_unified_password(jane.id, toto.id, "$argon2id$both")
        .await
        .expect("change");
    assert_eq!(epochs, (1, 1));
    let jane_now = reload(stores, jane.id).await;
    let toto_now = stores
        .directory
        .address(toto.id)
        .await
        .expect("lookup")
        .expect("address");
    assert_eq!(
        (jane_now.password_hash.as_str(), jane_now.credential_epoch),
        ("$argon2id$both", 1)
    );
    assert_eq!(
        (toto_now.password_hash.as_deref(), toto_now.credential_epoch),
        (Some("$argon2id$both"), 1)
    );
    assert_eq!(
        announced(&mut credentials),
        vec![toto.id],
        "ID-6: IDLE ends"
    );

    assert_not_found(
        stores
            .identity
            .set_unified_password(jane.id, AddressId(999), "$argon2id$lost")
            .await,
    );
    let jane_after = reload(stores, jane.id).await;
    assert_eq!(
        (
            jane_after.password_hash.as_str(),
            jane_after.credential_epoch
        ),
        ("$argon2id$both", 1),
        "all or nothing: the account is unchanged"
    );
    assert_not_found(
        stores
            .identity
            .set_unified_password(UserId(999), toto.id, "$argon2id$lost")
            .await,
    );
    assert!(announced(&mut credentials).is_empty(), "nothing changed");
}

pub async fn id_6_mailbox_password_disabling_and_deletion_are_announced<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let dir = &stores.directory;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let titi = mailbox(stores, &abc, "titi").await;
    let mut credentials = stores.events.subscribe_credentials();

    let epoch = dir
        .set_address_password(toto.id, "$argon2id$new")
        .await
        .expect("password");
    assert_eq!(epoch, 1);
    assert_eq!(announced(&mut credentials), vec![toto.id]);
    assert_not_found(
        dir.set_address_password(AddressId(999), "$argon2id$x")
            .await,
    );
    assert!(announced(&mut credentials).is_empty());

    dir.set_address_enabled(toto.id, false)
        .await
        .expect("disable");
    assert_eq!(announced(&mut credentials), vec![toto.id]);
    dir.set_address_enabled(toto.id, true)
        .await
        .expect("enable");
    assert!(
        announced(&mut credentials).is_empty(),
        "enabling cuts nobody"
    );

    dir.delete_addresses(&[toto.id, titi.id])
        .await
        .expect("delete");
    let mut gone = announced(&mut credentials);
    gone.sort();
    assert_eq!(gone, vec![toto.id, titi.id]);
}

fn reset_code(user: UserId, hash: &str, created_at: i64) -> NewRecoveryCode {
    NewRecoveryCode {
        user,
        purpose: RecoveryPurpose::PasswordReset,
        channel: Channel::Sms,
        code_hash: hash.to_owned(),
        created_at,
        expires_at: created_at + 900,
    }
}

pub async fn id_8_recovery_codes_replace_expire_count_and_work_once<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let identity = &stores.identity;
    let jane = account(stores, "jane@outside.example", "Jane", None).await;
    let bob = account(stores, "bob@outside.example", "Bob", None).await;
    let purpose = RecoveryPurpose::PasswordReset;
    assert_not_found(
        identity
            .create_recovery_code(reset_code(UserId(999), "$argon2id$c", NOW))
            .await,
    );

    let first = identity
        .create_recovery_code(reset_code(jane.id, "$argon2id$first", NOW))
        .await
        .expect("code");
    assert_eq!(
        (first.attempts, first.used_at, first.channel),
        (0, None, Channel::Sms)
    );
    assert_eq!(
        identity
            .live_recovery_code(jane.id, purpose, NOW + 1)
            .await
            .expect("live"),
        Some(first.clone())
    );
    let bobs = identity
        .create_recovery_code(reset_code(bob.id, "$argon2id$bob", NOW + 5))
        .await
        .expect("code");
    let second = identity
        .create_recovery_code(NewRecoveryCode {
            channel: Channel::Email,
            ..reset_code(jane.id, "$argon2id$second", NOW + 10)
        })
        .await
        .expect("code");
    let live = identity
        .live_recovery_code(jane.id, purpose, NOW + 11)
        .await
        .expect("live")
        .expect("a live code");
    assert_eq!(live, second, "the newer code replaces the older");
    assert_eq!(
        identity
            .live_recovery_code(bob.id, purpose, NOW + 11)
            .await
            .expect("live"),
        Some(bobs),
        "another account's code is untouched"
    );
    assert_eq!(
        identity
            .recovery_codes_sent_since(jane.id, purpose, NOW)
            .await
            .expect("count"),
        2,
        "a replaced code still counts towards the sending cap"
    );
    assert_eq!(
        identity
            .recovery_codes_sent_since(jane.id, purpose, NOW + 1)
            .await
            .expect("count"),
        1
    );

    // Short-lived.
    assert_eq!(
        identity
            .live_recovery_code(jane.id, purpose, second.expires_at)
            .await
            .expect("live"),
        None,
        "expired at its expiry instant"
    );

    // Attempts are counted; the store leaves their limit to core.
    assert_eq!(
        identity
            .count_recovery_attempt(second.id)
            .await
            .expect("count"),
        1
    );
    assert_eq!(
        identity
            .count_recovery_attempt(second.id)
            .await
            .expect("count"),
        2
    );
    assert_not_found(identity.count_recovery_attempt(9_999).await);

    // Single use.
    assert!(
        identity
            .use_recovery_code(second.id, NOW + 20)
            .await
            .expect("use")
    );
    assert!(
        !identity
            .use_recovery_code(second.id, NOW + 21)
            .await
            .expect("use"),
        "a used code works once"
    );
    assert_eq!(
        identity
            .live_recovery_code(jane.id, purpose, NOW + 22)
            .await
            .expect("live"),
        None,
        "neither the used code nor the replaced one is live"
    );
}

pub async fn id_1_totp_enrolment_and_single_use_recovery_codes<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let identity = &stores.identity;
    let jane = account(stores, "jane@outside.example", "Jane", None).await;
    assert_not_found(identity.set_totp_pending(UserId(999), "SECRET").await);
    assert_not_found(identity.set_totp(UserId(999), Some("SECRET"), &[]).await);
    assert_eq!(identity.totp_pending(jane.id).await.expect("read"), None);

    identity
        .set_totp_pending(jane.id, "FIRSTTRY")
        .await
        .expect("pending");
    identity
        .set_totp_pending(jane.id, "PENDING")
        .await
        .expect("pending replaced");
    assert_eq!(
        identity
            .totp_pending(jane.id)
            .await
            .expect("read")
            .as_deref(),
        Some("PENDING")
    );
    assert_eq!(
        reload(stores, jane.id).await.totp_secret,
        None,
        "sign-in ignores an enrolment in progress"
    );

    let hashes = vec!["$argon2id$r1".to_owned(), "$argon2id$r2".to_owned()];
    identity
        .set_totp(jane.id, Some("PENDING"), &hashes)
        .await
        .expect("enable");
    assert_eq!(
        reload(stores, jane.id).await.totp_secret.as_deref(),
        Some("PENDING")
    );
    assert_eq!(identity.totp_pending(jane.id).await.expect("read"), None);
    let codes = identity.totp_recovery_codes(jane.id).await.expect("codes");
    assert_eq!(
        codes.iter().map(|(_, h)| h.clone()).collect::<Vec<_>>(),
        hashes
    );

    let (used, _) = codes[0];
    assert!(
        identity
            .use_totp_recovery_code(used, NOW)
            .await
            .expect("use")
    );
    assert!(
        !identity
            .use_totp_recovery_code(used, NOW + 1)
            .await
            .expect("use"),
        "a recovery code works once"
    );
    assert_eq!(
        identity.totp_recovery_codes(jane.id).await.expect("codes"),
        vec![codes[1].clone()]
    );

    // A new enrolment replaces every earlier code.
    identity
        .set_totp(jane.id, Some("NEWSECRET"), &["$argon2id$r3".to_owned()])
        .await
        .expect("re-enrol");
    let renewed = identity.totp_recovery_codes(jane.id).await.expect("codes");
    assert_eq!(renewed.len(), 1);
    assert_eq!(renewed[0].1, "$argon2id$r3");
    assert!(
        !identity
            .use_totp_recovery_code(codes[1].0, NOW + 2)
            .await
            .expect("use"),
        "a code of the earlier enrolment no longer works"
    );

    identity
        .set_totp_pending(jane.id, "ABANDONED")
        .await
        .expect("pending");
    identity
        .set_totp(jane.id, None, &[])
        .await
        .expect("disable");
    assert_eq!(reload(stores, jane.id).await.totp_secret, None);
    assert_eq!(identity.totp_pending(jane.id).await.expect("read"), None);
    assert!(
        identity
            .totp_recovery_codes(jane.id)
            .await
            .expect("codes")
            .is_empty()
    );
}

fn request(name: &str, user: Option<UserId>, created_at: i64) -> NewVerificationRequest {
    NewVerificationRequest {
        login: Some("jane@outside.example".to_owned()),
        phone: Some("+41 79 123 45 67".to_owned()),
        email: None,
        name: name.to_owned(),
        message: "I lost my phone and my password.".to_owned(),
        user,
        created_at,
    }
}

pub async fn id_8_verification_requests_are_listed_and_closed_once<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let identity = &stores.identity;
    let jane = account(stores, "jane@outside.example", "Jane", None).await;
    let admin = account(stores, "admin@outside.example", "Admin", None).await;
    let older = identity
        .create_verification_request(request("Jane", Some(jane.id), NOW))
        .await
        .expect("request");
    let newer = identity
        .create_verification_request(request("Someone", None, NOW + 10))
        .await
        .expect("request");
    assert_eq!(
        identity.verification_request(older.id).await.expect("read"),
        Some(older.clone())
    );
    assert_eq!(
        identity.verification_requests(true).await.expect("list"),
        vec![newer.clone(), older.clone()],
        "newest first"
    );

    identity
        .close_verification_request(older.id, NOW + 20, "verified by phone", Some(admin.id))
        .await
        .expect("close");
    let closed = identity
        .verification_request(older.id)
        .await
        .expect("read")
        .expect("request");
    assert_eq!(
        (
            closed.closed_at,
            closed.resolution.as_deref(),
            closed.closed_by
        ),
        (Some(NOW + 20), Some("verified by phone"), Some(admin.id))
    );
    assert_conflict(
        identity
            .close_verification_request(older.id, NOW + 30, "again", None)
            .await,
    );
    assert_eq!(
        identity
            .verification_request(older.id)
            .await
            .expect("read")
            .and_then(|r| r.resolution),
        Some("verified by phone".to_owned()),
        "the first closing stands"
    );
    assert_not_found(
        identity
            .close_verification_request(9_999, NOW, "nothing", None)
            .await,
    );
    assert_eq!(
        identity.verification_requests(true).await.expect("list"),
        vec![newer.clone()],
        "only open ones"
    );
    assert_eq!(
        identity.verification_requests(false).await.expect("list"),
        vec![newer, closed]
    );
    assert_eq!(
        identity.verification_request(9_999).await.expect("read"),
        None
    );
}

pub async fn id_12_sms_outbox_newest_first<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let identity = &h.stores().identity;
    assert!(identity.outbox_sms(10).await.expect("list").is_empty());
    let mut written = Vec::new();
    for n in 0..3 {
        written.push(
            identity
                .push_sms("+41 79 123 45 67", &format!("Your code is {n}"), NOW + n)
                .await
                .expect("push"),
        );
    }
    assert_eq!(written[1].body, "Your code is 1");
    assert_eq!(
        identity.outbox_sms(2).await.expect("list"),
        vec![written[2].clone(), written[1].clone()]
    );
    assert_eq!(identity.outbox_sms(10).await.expect("list").len(), 3);
}

fn entry(
    at: i64,
    category: AuditCategory,
    event: &str,
    owners: (Option<UserId>, Option<AddressId>, Option<OrgId>),
) -> NewAuditEntry {
    NewAuditEntry {
        at,
        category,
        protocol: "imap".to_owned(),
        event: event.to_owned(),
        remote_ip: Some("192.0.2.1".to_owned()),
        subject: "toto@abc.xyz".to_owned(),
        actor: None,
        detail: String::new(),
        user: owners.0,
        address: owners.1,
        org: owners.2,
    }
}

fn events_of(entries: &[AuditEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.entry.event.as_str()).collect()
}

pub async fn id_11_audit_log_filtered_by_owner_category_and_paged<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let identity = &stores.identity;
    let (org, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let member = account(stores, "member@outside.example", "Member", None).await;
    let stranger = account(stores, "stranger@outside.example", "Stranger", None).await;
    stores
        .directory
        .add_membership(org.id, member.id, Role::Member)
        .await
        .expect("member");
    use AuditCategory::{Change, Login};
    let written = vec![
        entry(NOW, Login, "member_login", (Some(member.id), None, None)),
        entry(
            NOW + 1,
            Login,
            "mailbox_login",
            (None, Some(toto.id), Some(org.id)),
        ),
        entry(
            NOW + 2,
            Change,
            "stranger_change",
            (Some(stranger.id), None, None),
        ),
        entry(NOW + 3, Change, "org_change", (None, None, Some(org.id))),
        entry(
            NOW + 4,
            Login,
            "stranger_login",
            (Some(stranger.id), None, None),
        ),
    ];
    identity
        .append_audit(written.clone())
        .await
        .expect("append");
    identity
        .append_audit(Vec::new())
        .await
        .expect("nothing to append");

    let read = |filter: AuditFilter| async move {
        identity
            .audit_entries(&AuditFilter {
                limit: 100,
                ..filter
            })
            .await
            .expect("read")
    };
    let all = read(AuditFilter {
        everything: true,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(
        all.iter()
            .map(|e| e.entry.clone())
            .rev()
            .collect::<Vec<_>>(),
        written,
        "stored as written, newest first"
    );
    assert!(all.windows(2).all(|w| w[0].id > w[1].id));
    assert!(
        read(AuditFilter::default()).await.is_empty(),
        "no owner, nothing"
    );
    assert_eq!(
        events_of(
            &read(AuditFilter {
                users: vec![stranger.id],
                ..AuditFilter::default()
            })
            .await
        ),
        vec!["stranger_login", "stranger_change"]
    );
    assert_eq!(
        events_of(
            &read(AuditFilter {
                addresses: vec![toto.id],
                ..AuditFilter::default()
            })
            .await
        ),
        vec!["mailbox_login"]
    );
    assert_eq!(
        events_of(
            &read(AuditFilter {
                orgs: vec![org.id],
                ..AuditFilter::default()
            })
            .await
        ),
        vec!["org_change", "mailbox_login", "member_login"],
        "the organization's entries and its members'"
    );
    assert_eq!(
        events_of(
            &read(AuditFilter {
                users: vec![stranger.id],
                addresses: vec![toto.id],
                category: Some(Login),
                ..AuditFilter::default()
            })
            .await
        ),
        vec!["stranger_login", "mailbox_login"],
        "any owner, one category"
    );
    assert_eq!(
        events_of(
            &read(AuditFilter {
                everything: true,
                category: Some(Change),
                ..AuditFilter::default()
            })
            .await
        ),
        vec!["org_change", "stranger_change"]
    );

    // Paging backwards.
    let page = |before: Option<i64>| AuditFilter {
        everything: true,
        before,
        limit: 2,
        ..AuditFilter::default()
    };
    let first = identity.audit_entries(&page(None)).await.expect("page");
    assert_eq!(events_of(&first), vec!["stranger_login", "org_change"]);
    let second = identity
        .audit_entries(&page(first.last().map(|e| e.id)))
        .await
        .expect("page");
    assert_eq!(events_of(&second), vec!["stranger_change", "mailbox_login"]);
    let third = identity
        .audit_entries(&page(second.last().map(|e| e.id)))
        .await
        .expect("page");
    assert_eq!(events_of(&third), vec!["member_login"]);
    assert!(
        identity
            .audit_entries(&AuditFilter {
                limit: 0,
                ..page(None)
            })
            .await
            .expect("read")
            .is_empty()
    );

    assert_eq!(identity.prune_audit(NOW + 2).await.expect("prune"), 2);
    assert_eq!(
        events_of(
            &read(AuditFilter {
                everything: true,
                ..AuditFilter::default()
            })
            .await
        ),
        vec!["stranger_login", "org_change", "stranger_change"]
    );
    assert_eq!(identity.prune_audit(NOW + 2).await.expect("prune"), 0);
}

pub async fn id_6_the_session_that_changed_the_password_moves_to_the_new_epoch<B: Backend>(
    backend: &B,
) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let jane = account(stores, "jane@outside.example", "Jane", None).await;
    let session = stores
        .manager
        .create_web_session(NewWebSession {
            user: jane.id,
            secret_hash: "digest".to_owned(),
            credential_epoch: 0,
            created_at: NOW,
            expires_at: NOW + 3_600,
            ip: None,
            user_agent: None,
        })
        .await
        .expect("session");
    stores
        .manager
        .set_web_session_epoch(session.id, 4)
        .await
        .expect("epoch");
    let reread = stores
        .manager
        .web_session_by_hash("digest")
        .await
        .expect("lookup")
        .expect("session");
    assert_eq!(reread.credential_epoch, 4);
    assert_not_found(
        stores
            .manager
            .set_web_session_epoch(SessionId(999), 4)
            .await,
    );
}
