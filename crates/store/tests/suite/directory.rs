//! The directory: organizations, accounts, services, addresses, aliases, access, resolution,
//! deletion.

use postwerk_model::{
    AddressKind, DirectoryError, Expansion, MAX_ALIASES_PER_ADDRESS, Outcome, Permissions,
    Redirection, Role, ServiceFeatures,
};
use postwerk_store::{NewService, NewUser, StoreError, UidSet};

use super::*;

fn new_user(login: &str) -> NewUser {
    NewUser {
        login: address(login),
        display_name: "Jane Doe".to_owned(),
        password_hash: "$argon2id$account".to_owned(),
        phone: Some("+33600000000".to_owned()),
        recovery_email: Some(address("jane@personal.example")),
    }
}

pub async fn org_1_create_lookup_list_and_refuse_duplicates<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let dir = &h.stores().directory;
    let acme = dir.create_org("  Acme  ").await.expect("create");
    assert_eq!(acme.name, "Acme", "the name is trimmed");
    let zeta = dir.create_org("Zeta").await.expect("create");
    assert_eq!(dir.org(acme.id).await.expect("by id"), Some(acme.clone()));
    assert_eq!(
        dir.org_by_name("ACME").await.expect("by name"),
        Some(acme.clone())
    );
    assert_eq!(dir.org_by_name("nobody").await.expect("by name"), None);
    assert_eq!(dir.list_orgs().await.expect("list"), vec![acme, zeta]);
    let sentence = assert_conflict(dir.create_org("acme").await);
    assert_eq!(sentence, "the organization Acme already exists");
    assert!(matches!(
        dir.create_org("   ").await,
        Err(StoreError::Rule(DirectoryError::EmptyOrgName))
    ));
}

pub async fn id_1_user_accounts_and_password_bumps_credential_epoch<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let dir = &h.stores().directory;
    let jane = dir
        .create_user(new_user("jane@personal.example"))
        .await
        .expect("create");
    assert_eq!(jane.credential_epoch, 0);
    assert_eq!(jane.recovery_email, Some(address("jane@personal.example")));
    assert!(!jane.must_choose_login && jane.recovery_username.is_none());
    let bob = dir
        .create_user(new_user("bob@personal.example"))
        .await
        .expect("create");
    assert_eq!(dir.user(jane.id).await.expect("by id"), Some(jane.clone()));
    assert_eq!(
        dir.user_by_login(&address("JANE@personal.example"))
            .await
            .expect("by login"),
        Some(jane.clone()),
        "logins are canonical addresses"
    );
    assert_eq!(
        dir.list_users().await.expect("list"),
        vec![bob, jane.clone()]
    );
    let sentence = assert_conflict(dir.create_user(new_user("jane@personal.example")).await);
    assert!(sentence.contains("jane@personal.example"), "{sentence}");

    // ID-6: a new password bumps the epoch, which ends old sessions.
    assert_eq!(
        dir.set_user_password(jane.id, "$argon2id$new")
            .await
            .expect("password"),
        1
    );
    assert_eq!(
        dir.set_user_password(jane.id, "$argon2id$newer")
            .await
            .expect("password"),
        2
    );
    let jane = dir.user(jane.id).await.expect("by id").expect("exists");
    assert_eq!(
        (jane.password_hash.as_str(), jane.credential_epoch),
        ("$argon2id$newer", 2)
    );
    assert_not_found(
        dir.set_user_password(postwerk_model::UserId(9999), "x")
            .await,
    );
}

pub async fn org_1_memberships_with_roles<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let dir = &h.stores().directory;
    let acme = dir.create_org("Acme").await.expect("org");
    let other = dir.create_org("Other").await.expect("org");
    let jane = dir
        .create_user(new_user("jane@personal.example"))
        .await
        .expect("user");
    let bob = dir
        .create_user(new_user("bob@personal.example"))
        .await
        .expect("user");
    dir.add_membership(acme.id, jane.id, Role::Owner)
        .await
        .expect("member");
    dir.add_membership(acme.id, bob.id, Role::Member)
        .await
        .expect("member");
    dir.add_membership(other.id, jane.id, Role::Admin)
        .await
        .expect("member");
    let members = dir.org_members(acme.id).await.expect("members");
    let roles: Vec<_> = members.iter().map(|m| (m.user, m.role)).collect();
    assert_eq!(roles, vec![(jane.id, Role::Owner), (bob.id, Role::Member)]);
    let of_jane = dir.user_memberships(jane.id).await.expect("memberships");
    assert_eq!(
        of_jane.iter().map(|m| (m.org, m.role)).collect::<Vec<_>>(),
        vec![(acme.id, Role::Owner), (other.id, Role::Admin)]
    );
    assert_conflict(dir.add_membership(acme.id, bob.id, Role::Admin).await);
    assert_not_found(
        dir.add_membership(postwerk_model::OrgId(999), bob.id, Role::Admin)
            .await,
    );
    assert_not_found(
        dir.add_membership(acme.id, postwerk_model::UserId(999), Role::Admin)
            .await,
    );
}

pub async fn svc_1_services_by_id_domain_and_org<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let dir = &h.stores().directory;
    let (acme, abc) = service(h.stores(), "abc.xyz", 10).await;
    let (_, other) = service(h.stores(), "other.example", 5).await;
    let xyz = dir
        .create_service(NewService {
            org: acme.id,
            domain: domain("Xyz.Example"),
            address_quota: 3,
            features: ServiceFeatures {
                aliases_allowed: false,
                filters: Default::default(),
            },
            default_permissions: Permissions::ALL,
            signature_templates: vec![postwerk_model::SignatureTemplate {
                name: "default".to_owned(),
                body: "-- \nAcme".to_owned(),
            }],
            dkim: Some(postwerk_model::DkimKeyRef {
                selector: "pw1".to_owned(),
                algorithm: "rsa-sha256".to_owned(),
            }),
        })
        .await
        .expect("service");
    assert_eq!(
        dir.service(xyz.id).await.expect("by id"),
        Some(xyz.clone()),
        "every field kept"
    );
    assert_eq!(
        dir.service_by_domain(&domain("xyz.example"))
            .await
            .expect("by domain"),
        Some(xyz.clone())
    );
    assert_eq!(
        dir.list_services(Some(acme.id)).await.expect("list"),
        vec![abc.clone(), xyz.clone()]
    );
    assert_eq!(
        dir.list_services(None).await.expect("list"),
        vec![abc.clone(), other, xyz]
    );
    dir.add_alias_domain(abc.id, &domain("abc-alias.example"))
        .await
        .expect("alias domain");
    let found = dir
        .service_by_domain(&domain("abc-alias.example"))
        .await
        .expect("by alias");
    let found = found.expect("an alias domain finds its service");
    assert_eq!(
        (found.id, found.alias_domains.clone()),
        (abc.id, vec![domain("abc-alias.example")])
    );
    assert_eq!(
        dir.service_by_domain(&domain("unknown.example"))
            .await
            .expect("lookup"),
        None
    );
    assert_not_found(
        dir.create_service(NewService {
            org: postwerk_model::OrgId(999),
            domain: domain("orphan.example"),
            address_quota: 1,
            features: ServiceFeatures::default(),
            default_permissions: Permissions::READ_SEND,
            signature_templates: Vec::new(),
            dkim: None,
        })
        .await,
    );
}

pub async fn svc_3_a_domain_belongs_to_one_service_only<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let dir = &h.stores().directory;
    let (org, abc) = service(h.stores(), "abc.xyz", 10).await;
    let (_, def) = service(h.stores(), "def.xyz", 10).await;
    let again = |d: &str| NewService {
        org: org.id,
        domain: domain(d),
        address_quota: 1,
        features: ServiceFeatures::default(),
        default_permissions: Permissions::READ_SEND,
        signature_templates: Vec::new(),
        dkim: None,
    };
    assert_eq!(
        assert_conflict(dir.create_service(again("ABC.xyz")).await),
        "the mail service abc.xyz already exists"
    );
    dir.add_alias_domain(abc.id, &domain("alias.xyz"))
        .await
        .expect("alias domain");
    // Neither as a primary domain, nor as an alias of another service, nor twice.
    let sentence = assert_conflict(dir.create_service(again("alias.xyz")).await);
    assert!(
        sentence.contains("alias domain of the mail service abc.xyz"),
        "{sentence}"
    );
    assert_conflict(dir.add_alias_domain(def.id, &domain("alias.xyz")).await);
    assert_conflict(dir.add_alias_domain(def.id, &domain("abc.xyz")).await);
    assert_conflict(dir.add_alias_domain(abc.id, &domain("alias.xyz")).await);
    // Freed, it can be used elsewhere.
    assert_not_found(dir.remove_alias_domain(def.id, &domain("alias.xyz")).await);
    dir.remove_alias_domain(abc.id, &domain("alias.xyz"))
        .await
        .expect("remove");
    dir.add_alias_domain(def.id, &domain("alias.xyz"))
        .await
        .expect("now free");
    assert_not_found(
        dir.add_alias_domain(postwerk_model::ServiceId(999), &domain("new.xyz"))
            .await,
    );
}

pub async fn svc_2_quota_refuses_beyond_and_never_lowers_below_usage<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let dir = &h.stores().directory;
    let (_, abc) = service(h.stores(), "abc.xyz", 2).await;
    mailbox(h.stores(), &abc, "one").await;
    dir.create_address(new_address(&abc, "two", AddressKind::NoReply))
        .await
        .expect("second");
    let refused = dir
        .create_address(new_address(&abc, "three", AddressKind::Mailbox))
        .await;
    match refused {
        Err(StoreError::Rule(rule @ DirectoryError::AddressQuotaReached { .. })) => {
            assert!(
                rule.to_string()
                    .contains("abc.xyz has reached its quota of 2"),
                "{rule}"
            );
        }
        other => panic!("expected the quota rule, got {other:?}"),
    }
    assert_eq!(
        dir.address(postwerk_model::AddressId(3))
            .await
            .expect("lookup"),
        None
    );
    assert_eq!(dir.address_count(abc.id).await.expect("count"), 2);
    assert!(matches!(
        dir.set_address_quota(abc.id, 1).await,
        Err(StoreError::Rule(DirectoryError::QuotaBelowUsage {
            new_quota: 1,
            in_use: 2
        }))
    ));
    dir.set_address_quota(abc.id, 2)
        .await
        .expect("equal to usage is fine");
    dir.set_address_quota(abc.id, 3).await.expect("raise");
    assert_eq!(
        dir.service(abc.id)
            .await
            .expect("lookup")
            .expect("exists")
            .address_quota,
        3
    );
    mailbox(h.stores(), &abc, "three").await;
    assert_not_found(
        dir.set_address_quota(postwerk_model::ServiceId(999), 3)
            .await,
    );
}

pub async fn addr_11_six_default_folders_for_kinds_that_hold_mail<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    for (name, kind, holds_mail) in [
        ("box", AddressKind::Mailbox, true),
        ("all", AddressKind::CatchAll, true),
        ("noreply", AddressKind::NoReply, false),
        ("fwd", AddressKind::RedirectOnly, false),
    ] {
        let hosted = stores
            .directory
            .create_address(new_address(&abc, name, kind))
            .await
            .expect("create");
        let folders = stores.mail.list_folders(hosted.id).await.expect("folders");
        if !holds_mail {
            assert!(folders.is_empty(), "{kind} has no folders");
            continue;
        }
        let mut got: Vec<_> = folders
            .iter()
            .map(|f| (f.name.clone(), f.special_use))
            .collect();
        let mut want: Vec<_> = postwerk_model::DEFAULT_FOLDERS
            .iter()
            .map(|(n, s)| ((*n).to_owned(), *s))
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        want.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, want, "{kind}");
        for folder in &folders {
            assert_eq!(
                (folder.uid_next, folder.highest_modseq, folder.subscribed),
                (1, 1, true)
            );
            assert_ne!(folder.uid_validity, 0);
        }
        let validities: std::collections::BTreeSet<_> =
            folders.iter().map(|f| f.uid_validity).collect();
        assert_eq!(
            validities.len(),
            folders.len(),
            "UIDVALIDITY values are distinct"
        );
    }
}

pub async fn addr_1_duplicate_address_or_alias_local_part_refused<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let dir = &h.stores().directory;
    let (_, abc) = service(h.stores(), "abc.xyz", 10).await;
    let toto = mailbox(h.stores(), &abc, "toto").await;
    let sentence = assert_conflict(
        dir.create_address(new_address(&abc, "TOTO", AddressKind::NoReply))
            .await,
    );
    assert_eq!(sentence, "the address toto@abc.xyz already exists");
    dir.add_alias(toto.id, &local("contact"))
        .await
        .expect("alias");
    let sentence = assert_conflict(
        dir.create_address(new_address(&abc, "contact", AddressKind::Mailbox))
            .await,
    );
    assert_eq!(
        sentence,
        "contact@abc.xyz already exists as an alias of toto@abc.xyz"
    );
    // Same local part in another service is another address.
    let (_, def) = service(h.stores(), "def.xyz", 10).await;
    mailbox(h.stores(), &def, "toto").await;
    mailbox(h.stores(), &def, "contact").await;
    assert_eq!(
        dir.address_count(abc.id).await.expect("count"),
        1,
        "refusals created nothing"
    );
}

pub async fn addr_2_one_catch_all_per_service<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let dir = &h.stores().directory;
    let (_, abc) = service(h.stores(), "abc.xyz", 10).await;
    dir.create_address(new_address(&abc, "catchall", AddressKind::CatchAll))
        .await
        .expect("first");
    let sentence = assert_conflict(
        dir.create_address(new_address(&abc, "other", AddressKind::CatchAll))
            .await,
    );
    assert_eq!(
        sentence,
        "the mail service abc.xyz already has a catch-all address, catchall@abc.xyz"
    );
    let (_, def) = service(h.stores(), "def.xyz", 10).await;
    dir.create_address(new_address(&def, "catchall", AddressKind::CatchAll))
        .await
        .expect("another service");
}

pub async fn addr_lookups_setters_and_credential_epoch<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let dir = &h.stores().directory;
    let (_, abc) = service(h.stores(), "abc.xyz", 10).await;
    let toto = mailbox(h.stores(), &abc, "toto").await;
    let fwd = dir
        .create_address(new_address(&abc, "fwd", AddressKind::RedirectOnly))
        .await
        .expect("fwd");
    assert_eq!(
        (toto.credential_epoch, toto.enabled, toto.kind),
        (0, true, AddressKind::Mailbox)
    );
    assert_eq!(toto.address, address("toto@abc.xyz"));
    assert_eq!(
        dir.address(toto.id).await.expect("by id"),
        Some(toto.clone())
    );
    assert_eq!(
        dir.address_by_address(&address("Toto@ABC.xyz"))
            .await
            .expect("by address"),
        Some(toto.clone())
    );
    assert_eq!(
        dir.address_by_address(&address("nobody@abc.xyz"))
            .await
            .expect("lookup"),
        None
    );
    assert_eq!(
        dir.list_addresses(abc.id).await.expect("list"),
        vec![fwd.clone(), toto.clone()]
    );

    assert_eq!(
        dir.set_address_password(toto.id, "$argon2id$2")
            .await
            .expect("password"),
        1
    );
    dir.set_address_enabled(toto.id, false)
        .await
        .expect("disable");
    let redirect = Redirection::new(vec![address("out@outside.example")], true).expect("redirect");
    dir.set_redirect(toto.id, Some(redirect.clone()))
        .await
        .expect("redirect");
    let toto = dir.address(toto.id).await.expect("by id").expect("exists");
    assert_eq!(toto.password_hash.as_deref(), Some("$argon2id$2"));
    assert_eq!((toto.credential_epoch, toto.enabled), (1, false));
    assert_eq!(toto.redirect, Some(redirect));
    dir.set_redirect(toto.id, None).await.expect("clear");
    assert_eq!(
        dir.address(toto.id)
            .await
            .expect("by id")
            .expect("exists")
            .redirect,
        None
    );

    // The model's invariants hold on every write: redirect-only keeps its targets, no copy.
    assert!(matches!(
        dir.set_redirect(fwd.id, None).await,
        Err(StoreError::Rule(
            DirectoryError::RedirectOnlyWithoutTargets { .. }
        ))
    ));
    let keep = Redirection::new(vec![address("out@outside.example")], true).expect("redirect");
    assert!(matches!(
        dir.set_redirect(fwd.id, Some(keep)).await,
        Err(StoreError::Rule(
            DirectoryError::RedirectOnlyKeepsCopy { .. }
        ))
    ));
    let missing = postwerk_model::AddressId(999);
    assert_not_found(dir.set_address_password(missing, "x").await);
    assert_not_found(dir.set_address_enabled(missing, true).await);
    assert_not_found(dir.set_redirect(missing, None).await);
}

pub async fn addr_6_fifty_aliases_and_the_51st_refused<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let dir = &h.stores().directory;
    let (_, abc) = service(h.stores(), "abc.xyz", 10).await;
    let toto = mailbox(h.stores(), &abc, "toto").await;
    for n in 0..MAX_ALIASES_PER_ADDRESS {
        dir.add_alias(toto.id, &local(&format!("alias{n:02}")))
            .await
            .expect("alias");
    }
    match dir.add_alias(toto.id, &local("one-too-many")).await {
        Err(StoreError::Rule(rule @ DirectoryError::AliasLimitReached)) => {
            assert_eq!(rule.to_string(), "an address can have at most 50 aliases");
        }
        other => panic!("expected the alias limit, got {other:?}"),
    }
    let aliases = dir.list_aliases(toto.id).await.expect("list");
    assert_eq!(aliases.len(), 50);
    assert_eq!(aliases[0].local, local("alias00"));
    assert!(aliases.iter().all(|a| a.address == toto.id));
    // Removing one makes room again.
    dir.remove_alias(aliases[0].id).await.expect("remove");
    dir.add_alias(toto.id, &local("one-more"))
        .await
        .expect("room again");
}

pub async fn addr_6_alias_clashes_and_feature_switch<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let dir = &h.stores().directory;
    let (org, abc) = service(h.stores(), "abc.xyz", 10).await;
    let toto = mailbox(h.stores(), &abc, "toto").await;
    let titi = mailbox(h.stores(), &abc, "titi").await;
    let contact = dir
        .add_alias(toto.id, &local("contact"))
        .await
        .expect("alias");
    assert_eq!(
        assert_conflict(dir.add_alias(toto.id, &local("titi")).await),
        "the address titi@abc.xyz already exists"
    );
    assert_eq!(
        assert_conflict(dir.add_alias(titi.id, &local("toto")).await),
        "the address toto@abc.xyz already exists"
    );
    assert_eq!(
        assert_conflict(dir.add_alias(titi.id, &local("contact")).await),
        "contact@abc.xyz already exists as an alias of toto@abc.xyz"
    );
    assert_not_found(
        dir.add_alias(postwerk_model::AddressId(999), &local("x"))
            .await,
    );
    dir.remove_alias(contact.id).await.expect("remove");
    assert_not_found(dir.remove_alias(contact.id).await);
    dir.add_alias(titi.id, &local("contact"))
        .await
        .expect("free again");

    let no_aliases = dir
        .create_service(NewService {
            org: org.id,
            domain: domain("basic.example"),
            address_quota: 1,
            features: ServiceFeatures {
                aliases_allowed: false,
                filters: Default::default(),
            },
            default_permissions: Permissions::READ_SEND,
            signature_templates: Vec::new(),
            dkim: None,
        })
        .await
        .expect("service");
    let basic = mailbox(h.stores(), &no_aliases, "basic").await;
    assert!(matches!(
        dir.add_alias(basic.id, &local("other")).await,
        Err(StoreError::Rule(DirectoryError::AliasesNotAllowed))
    ));
}

pub async fn addr_9_access_grant_update_revoke<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let dir = &h.stores().directory;
    let (_, abc) = service(h.stores(), "abc.xyz", 10).await;
    let toto = mailbox(h.stores(), &abc, "toto").await;
    let titi = mailbox(h.stores(), &abc, "titi").await;
    let jane = dir
        .create_user(new_user("jane@personal.example"))
        .await
        .expect("user");
    let bob = dir
        .create_user(new_user("bob@personal.example"))
        .await
        .expect("user");
    let rw = Permissions::READ_SEND.union(Permissions::CHANGE_PASSWORD);
    dir.grant_access(jane.id, toto.id, rw, None)
        .await
        .expect("grant");
    dir.grant_access(jane.id, titi.id, Permissions::READ_SEND, None)
        .await
        .expect("grant");
    dir.grant_access(bob.id, toto.id, Permissions::READ_SEND, None)
        .await
        .expect("grant");
    // Granting again replaces the permissions.
    dir.grant_access(jane.id, titi.id, Permissions::ALL, None)
        .await
        .expect("update");
    let of_jane = dir.user_access(jane.id).await.expect("list");
    assert_eq!(
        of_jane
            .iter()
            .map(|a| (a.address, a.permissions))
            .collect::<Vec<_>>(),
        vec![(toto.id, rw), (titi.id, Permissions::ALL)]
    );
    let on_toto = dir.address_access(toto.id).await.expect("list");
    assert_eq!(
        on_toto.iter().map(|a| a.user).collect::<Vec<_>>(),
        vec![jane.id, bob.id]
    );
    dir.revoke_access(bob.id, toto.id).await.expect("revoke");
    assert_not_found(dir.revoke_access(bob.id, toto.id).await);
    assert_eq!(dir.address_access(toto.id).await.expect("list").len(), 1);
    assert_not_found(
        dir.grant_access(postwerk_model::UserId(999), toto.id, rw, None)
            .await,
    );
    assert_not_found(
        dir.grant_access(jane.id, postwerk_model::AddressId(999), rw, None)
            .await,
    );
}

/// Drive the model's resolution with the store's facts, as `core` will.
async fn resolve(stores: &Stores, recipient: &str) -> Outcome {
    let mut expansion = Expansion::new(address(recipient), 10, 100);
    while let Some(next) = expansion.next_lookup() {
        expansion.feed(stores.directory.resolve_facts(&next).await.expect("facts"));
    }
    expansion.finish()
}

pub async fn rcv_13_resolve_facts_exact_alias_alias_domain_catch_all<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let dir = &stores.directory;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    dir.add_alias_domain(abc.id, &domain("alias.xyz"))
        .await
        .expect("alias domain");
    let toto = mailbox(stores, &abc, "toto").await;
    dir.add_alias(toto.id, &local("contact"))
        .await
        .expect("alias");

    let facts = dir
        .resolve_facts(&address("toto@abc.xyz"))
        .await
        .expect("facts");
    let service = facts.service.clone().expect("local");
    assert_eq!(
        (service.id, service.domain, service.via_alias_domain),
        (abc.id, domain("abc.xyz"), false)
    );
    assert_eq!(facts.exact.as_ref().map(|a| a.id), Some(toto.id));
    assert_eq!((facts.alias_of, facts.catch_all), (None, None));

    let facts = dir
        .resolve_facts(&address("contact@alias.xyz"))
        .await
        .expect("facts");
    assert!(
        facts
            .service
            .as_ref()
            .is_some_and(|s| s.via_alias_domain && s.id == abc.id)
    );
    assert_eq!(facts.exact, None);
    assert_eq!(
        facts.alias_of.as_ref().map(|a| a.id),
        Some(toto.id),
        "alias through alias domain"
    );

    let facts = dir
        .resolve_facts(&address("nobody@abc.xyz"))
        .await
        .expect("facts");
    assert!(facts.service.is_some() && facts.exact.is_none() && facts.alias_of.is_none());
    assert_eq!(facts.catch_all, None);
    assert_eq!(
        dir.resolve_facts(&address("toto@elsewhere.example"))
            .await
            .expect("facts"),
        postwerk_model::Facts::not_local()
    );

    let all = dir
        .create_address(new_address(&abc, "all", AddressKind::CatchAll))
        .await
        .expect("catch-all");
    let facts = dir
        .resolve_facts(&address("nobody@alias.xyz"))
        .await
        .expect("facts");
    assert_eq!(facts.catch_all.as_ref().map(|a| a.id), Some(all.id));
    let facts = dir
        .resolve_facts(&address("toto@abc.xyz"))
        .await
        .expect("facts");
    assert_eq!(
        facts.catch_all.as_ref().map(|a| a.id),
        Some(all.id),
        "the catch-all is always reported"
    );

    // End to end with the model's rules: what SMTP will decide at RCPT.
    let local_to = |outcome: Outcome| match outcome {
        Outcome::Deliver(deliveries) => deliveries,
        other => panic!("expected a delivery, got {other:?}"),
    };
    let to_toto = local_to(resolve(stores, "contact@alias.xyz").await);
    assert_eq!(
        to_toto,
        vec![postwerk_model::Delivery::Local {
            mailbox: toto.id,
            address: address("toto@abc.xyz")
        }]
    );
    let to_all = local_to(resolve(stores, "unknown@abc.xyz").await);
    assert!(
        matches!(&to_all[..], [postwerk_model::Delivery::Local { mailbox, .. }] if *mailbox == all.id)
    );
    assert_eq!(
        resolve(stores, "x@elsewhere.example").await,
        Outcome::NotLocal
    );
}

/// ADDR-8 with everything an address can have: messages (one content shared with another
/// mailbox), aliases, access, a redirection, and an account whose login it is (ID-10).
pub async fn addr_8_delete_destroys_content_aliases_access_and_blobs<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let dir = &stores.directory;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let titi = mailbox(stores, &abc, "titi").await;
    dir.add_alias(toto.id, &local("contact"))
        .await
        .expect("alias");
    let redirect = Redirection::new(vec![address("out@outside.example")], true).expect("redirect");
    dir.set_redirect(toto.id, Some(redirect))
        .await
        .expect("redirect");
    let login = dir
        .create_user(new_user("toto@abc.xyz"))
        .await
        .expect("user");
    let other = dir
        .create_user(new_user("jane@personal.example"))
        .await
        .expect("user");
    dir.grant_access(login.id, toto.id, Permissions::ALL, None)
        .await
        .expect("grant");
    dir.grant_access(other.id, toto.id, Permissions::READ_SEND, None)
        .await
        .expect("grant");
    dir.grant_access(other.id, titi.id, Permissions::READ_SEND, None)
        .await
        .expect("grant");
    deliver(stores, "shared", &[&toto, &titi]).await;
    let own = deliver(stores, "own", &[&toto]).await;
    let inbox = own[0].folder;
    let sent = stores
        .mail
        .folder_by_name(toto.id, "Sent")
        .await
        .expect("lookup")
        .expect("Sent");
    let (raw, index) = message("draft", "In Sent.");
    stores
        .mail
        .append(sent.id, &raw, &index, &Flags::none(), DATE)
        .await
        .expect("append");
    stores
        .mail
        .create_folder(toto.id, "Projects/2024")
        .await
        .expect("folder");
    assert_eq!(h.stored_contents().await, 3);
    let mut events = stores.mail.subscribe(toto.id);

    let orphaned = dir
        .delete_addresses(&[toto.id, toto.id])
        .await
        .expect("delete");
    assert_eq!(
        orphaned.len(),
        1,
        "ID-10: the account that logged in with it"
    );
    assert_eq!(
        (orphaned[0].id, &orphaned[0].login),
        (login.id, &login.login)
    );
    assert!(orphaned[0].must_choose_login && orphaned[0].recovery_username.is_some());

    assert_eq!(dir.address(toto.id).await.expect("lookup"), None);
    assert!(
        stores
            .mail
            .list_folders(toto.id)
            .await
            .expect("folders")
            .is_empty()
    );
    assert_not_found(stores.mail.list_messages(inbox, &UidSet::all()).await);
    assert!(dir.list_aliases(toto.id).await.expect("aliases").is_empty());
    assert!(
        dir.address_access(toto.id)
            .await
            .expect("access")
            .is_empty()
    );
    assert_eq!(
        dir.user_access(other.id).await.expect("access").len(),
        1,
        "titi's grant stays"
    );
    let facts = dir
        .resolve_facts(&address("contact@abc.xyz"))
        .await
        .expect("facts");
    assert_eq!(
        (facts.exact, facts.alias_of),
        (None, None),
        "the alias went with it"
    );
    assert_eq!(
        dir.user(login.id).await.expect("lookup"),
        Some(orphaned[0].clone()),
        "accounts stay (ID-10)"
    );
    assert_eq!(
        dir.address_count(abc.id).await.expect("count"),
        1,
        "the quota is freed"
    );
    // The shared content stays for titi; the two others are gone from the disk.
    assert_eq!(h.stored_contents().await, 1);
    let titi_inbox = stores
        .mail
        .folder_by_name(titi.id, "INBOX")
        .await
        .expect("lookup")
        .expect("INBOX");
    let titi_messages = stores
        .mail
        .list_messages(titi_inbox.id, &UidSet::all())
        .await
        .expect("list");
    assert_eq!(
        stores
            .mail
            .read_message(titi_inbox.id, 1)
            .await
            .expect("read")
            .len(),
        titi_messages[0].size as usize
    );
    let deleted: Vec<_> = drain(&mut events)
        .into_iter()
        .filter(|e| e.kind == postwerk_store::FolderEventKind::Deleted)
        .collect();
    assert_eq!(
        deleted.len(),
        8,
        "six default folders plus Projects and Projects/2024"
    );
    assert!(deleted.iter().all(|e| e.mailbox == toto.id));

    dir.delete_addresses(&[titi.id]).await.expect("delete");
    assert_eq!(h.stored_contents().await, 0, "no content left behind");
    // The address can be created again, fresh.
    let again = mailbox(stores, &abc, "toto").await;
    assert_ne!(again.id, toto.id, "ids are never reused");
    let inbox = stores
        .mail
        .folder_by_name(again.id, "INBOX")
        .await
        .expect("lookup")
        .expect("INBOX");
    assert_eq!(
        stores.mail.status(inbox.id).await.expect("status").messages,
        0
    );
}

pub async fn addr_8_delete_with_unknown_id_deletes_nothing<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    deliver(stores, "kept", &[&toto]).await;
    assert_not_found(
        stores
            .directory
            .delete_addresses(&[toto.id, postwerk_model::AddressId(999)])
            .await,
    );
    assert!(
        stores
            .directory
            .address(toto.id)
            .await
            .expect("lookup")
            .is_some()
    );
    assert_eq!(
        stores
            .mail
            .list_folders(toto.id)
            .await
            .expect("folders")
            .len(),
        6
    );
    assert_eq!(h.stored_contents().await, 1);
    assert_eq!(
        stores
            .directory
            .delete_addresses(&[])
            .await
            .expect("nothing"),
        vec![]
    );
}

// ---- Issue 8: memberships, service settings, creation with extras, storage limits.

pub async fn org_1_role_changes_keep_an_owner<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let dir = &h.stores().directory;
    let acme = dir.create_org("Acme").await.expect("org");
    let jane = dir
        .create_user(new_user("jane@personal.example"))
        .await
        .expect("user");
    let bob = dir
        .create_user(new_user("bob@personal.example"))
        .await
        .expect("user");
    dir.add_membership(acme.id, jane.id, Role::Owner)
        .await
        .expect("member");
    dir.add_membership(acme.id, bob.id, Role::Member)
        .await
        .expect("member");
    let sentence = assert_refused(dir.set_membership_role(acme.id, jane.id, Role::Admin).await);
    assert_eq!(
        sentence,
        "jane@personal.example is the last owner of Acme; make another member an owner first"
    );
    let promoted = dir
        .set_membership_role(acme.id, bob.id, Role::Owner)
        .await
        .expect("promote");
    assert_eq!(
        (promoted.org, promoted.user, promoted.role),
        (acme.id, bob.id, Role::Owner)
    );
    // With a second owner, the first may step down.
    dir.set_membership_role(acme.id, jane.id, Role::Admin)
        .await
        .expect("demote");
    let roles: Vec<_> = dir
        .org_members(acme.id)
        .await
        .expect("members")
        .iter()
        .map(|m| (m.user, m.role))
        .collect();
    assert_eq!(roles, vec![(jane.id, Role::Admin), (bob.id, Role::Owner)]);
    // An owner staying an owner is no demotion.
    dir.set_membership_role(acme.id, bob.id, Role::Owner)
        .await
        .expect("unchanged");
    let stranger = dir
        .create_user(new_user("stranger@personal.example"))
        .await
        .expect("user");
    assert_not_found(
        dir.set_membership_role(acme.id, stranger.id, Role::Admin)
            .await,
    );
    assert_not_found(
        dir.set_membership_role(postwerk_model::OrgId(999), bob.id, Role::Admin)
            .await,
    );
}

pub async fn org_1_removing_a_member_removes_their_access_there_only<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let dir = &stores.directory;
    let (acme, abc) = service(stores, "abc.xyz", 10).await;
    let (other, def) = service(stores, "def.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let titi = mailbox(stores, &abc, "titi").await;
    let elsewhere = mailbox(stores, &def, "box").await;
    let owner = dir
        .create_user(new_user("owner@personal.example"))
        .await
        .expect("user");
    let jane = dir
        .create_user(new_user("jane@personal.example"))
        .await
        .expect("user");
    dir.add_membership(acme.id, owner.id, Role::Owner)
        .await
        .expect("member");
    dir.add_membership(acme.id, jane.id, Role::Member)
        .await
        .expect("member");
    dir.add_membership(other.id, jane.id, Role::Member)
        .await
        .expect("member");
    for mailbox in [&toto, &titi, &elsewhere] {
        dir.grant_access(jane.id, mailbox.id, Permissions::READ_SEND, None)
            .await
            .expect("grant");
    }
    dir.grant_access(owner.id, toto.id, Permissions::ALL, None)
        .await
        .expect("grant");

    dir.remove_membership(acme.id, jane.id)
        .await
        .expect("remove");
    assert_eq!(
        dir.user_memberships(jane.id)
            .await
            .expect("memberships")
            .iter()
            .map(|m| m.org)
            .collect::<Vec<_>>(),
        vec![other.id]
    );
    assert_eq!(
        dir.user_access(jane.id)
            .await
            .expect("access")
            .iter()
            .map(|a| a.address)
            .collect::<Vec<_>>(),
        vec![elsewhere.id],
        "the other organization's mailbox stays"
    );
    assert_eq!(
        dir.address_access(toto.id).await.expect("access").len(),
        1,
        "the owner's access stays"
    );
    assert_not_found(dir.remove_membership(acme.id, jane.id).await);

    let sentence = assert_refused(dir.remove_membership(acme.id, owner.id).await);
    assert!(
        sentence.contains("last owner of Org of abc.xyz"),
        "{sentence}"
    );
    assert_eq!(
        dir.user_access(owner.id).await.expect("access").len(),
        1,
        "a refusal removes nothing"
    );
    assert_eq!(dir.org_members(acme.id).await.expect("members").len(), 1);
}

pub async fn svc_4_service_settings_replace_and_refuse_bad_template_names<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let dir = &stores.directory;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let template = |name: &str| postwerk_model::SignatureTemplate {
        name: name.to_owned(),
        body: format!("-- \n{name}"),
    };
    let settings = postwerk_store::ServiceSettings {
        features: ServiceFeatures {
            aliases_allowed: false,
            filters: Default::default(),
        },
        default_permissions: Permissions::READ_SEND.union(Permissions::MANAGE_SIGNATURES),
        signature_templates: vec![template("Sales"), template("Support")],
    };
    let changed = dir
        .set_service_settings(abc.id, settings.clone())
        .await
        .expect("settings");
    assert_eq!(
        (
            &changed.features,
            changed.default_permissions,
            &changed.signature_templates
        ),
        (
            &settings.features,
            settings.default_permissions,
            &settings.signature_templates
        )
    );
    assert_eq!(
        (changed.id, &changed.domain, changed.address_quota),
        (abc.id, &abc.domain, abc.address_quota),
        "the rest of the service is untouched"
    );
    assert_eq!(
        dir.service(abc.id).await.expect("lookup"),
        Some(changed.clone())
    );

    let duplicate = postwerk_store::ServiceSettings {
        signature_templates: vec![template("Sales"), template(" sales ")],
        ..settings.clone()
    };
    let sentence = assert_refused(dir.set_service_settings(abc.id, duplicate).await);
    assert!(sentence.contains("\"sales\""), "{sentence}");
    let unnamed = postwerk_store::ServiceSettings {
        signature_templates: vec![template("  ")],
        ..settings.clone()
    };
    assert_refused(dir.set_service_settings(abc.id, unnamed).await);
    assert_eq!(
        dir.service(abc.id).await.expect("lookup"),
        Some(changed),
        "refusals change nothing"
    );
    assert_not_found(
        dir.set_service_settings(postwerk_model::ServiceId(999), settings)
            .await,
    );
}

pub async fn addr_1_create_address_with_aliases_access_and_display_name<B: Backend>(backend: &B) {
    let mut h = Harness::new(backend).await;
    let (_, abc) = service(h.stores(), "abc.xyz", 10).await;
    let jane = h
        .stores()
        .directory
        .create_user(new_user("jane@personal.example"))
        .await
        .expect("user");
    let bob = h
        .stores()
        .directory
        .create_user(new_user("bob@personal.example"))
        .await
        .expect("user");
    let new = postwerk_store::NewAddress {
        display_name: "Toto Dupont".to_owned(),
        ..new_address(&abc, "toto", AddressKind::Mailbox)
    };
    let extras = postwerk_store::AddressExtras {
        aliases: vec![local("contact"), local("hello")],
        access: vec![
            (jane.id, Permissions::ALL, Some("Sales".to_owned())),
            (bob.id, Permissions::READ_SEND, None),
        ],
    };
    let toto = h
        .stores()
        .directory
        .create_address_with(new, extras)
        .await
        .expect("create");
    assert_eq!(toto.display_name, "Toto Dupont");
    // Durable and read back the same after a restart.
    h.reopen().await;
    let stores = h.stores();
    let dir = &stores.directory;
    assert_eq!(
        dir.address(toto.id).await.expect("lookup"),
        Some(toto.clone())
    );
    assert_eq!(
        dir.list_aliases(toto.id)
            .await
            .expect("aliases")
            .iter()
            .map(|a| a.local.clone())
            .collect::<Vec<_>>(),
        vec![local("contact"), local("hello")]
    );
    let access = dir.address_access(toto.id).await.expect("access");
    assert_eq!(
        access
            .iter()
            .map(|a| (a.user, a.permissions, a.signature.clone()))
            .collect::<Vec<_>>(),
        vec![
            (jane.id, Permissions::ALL, Some("Sales".to_owned())),
            (bob.id, Permissions::READ_SEND, None)
        ]
    );
    assert_eq!(
        stores
            .mail
            .list_folders(toto.id)
            .await
            .expect("folders")
            .len(),
        6,
        "ADDR-11 as for any mailbox"
    );
    let facts = dir
        .resolve_facts(&address("hello@abc.xyz"))
        .await
        .expect("facts");
    assert_eq!(facts.alias_of.map(|a| a.id), Some(toto.id));
    // Without extras it is a plain creation; an empty display name stays empty.
    let plain = dir
        .create_address_with(
            new_address(&abc, "plain", AddressKind::NoReply),
            postwerk_store::AddressExtras::default(),
        )
        .await
        .expect("plain");
    assert_eq!(plain.display_name, "");
    assert!(
        dir.list_aliases(plain.id)
            .await
            .expect("aliases")
            .is_empty()
    );
}

/// Everything `create_address_with` would have created, checked absent after a refusal.
async fn assert_nothing_created(stores: &Stores, service: &MailService, name: &str, count: u32) {
    let dir = &stores.directory;
    let full = address(&format!("{name}@{}", service.domain));
    assert_eq!(dir.address_by_address(&full).await.expect("lookup"), None);
    assert_eq!(dir.address_count(service.id).await.expect("count"), count);
    let facts = dir.resolve_facts(&full).await.expect("facts");
    assert_eq!((facts.exact, facts.alias_of), (None, None));
}

pub async fn addr_6_create_address_with_is_all_or_nothing<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let dir = &stores.directory;
    let (org, abc) = service(stores, "abc.xyz", 10).await;
    let titi = mailbox(stores, &abc, "titi").await;
    dir.add_alias(titi.id, &local("sales"))
        .await
        .expect("alias");
    let jane = dir
        .create_user(new_user("jane@personal.example"))
        .await
        .expect("user");
    let with = |aliases: Vec<postwerk_model::LocalPart>| postwerk_store::AddressExtras {
        aliases,
        access: vec![(jane.id, Permissions::READ_SEND, None)],
    };
    // Ids are handed out in order and a refused creation takes none (AUTOINCREMENT rolls
    // back with it), so every attempt below would make its folders under this id; the
    // successful one at the end shows it.
    let next = postwerk_model::AddressId(titi.id.0 + 1);
    let mut events = stores.mail.subscribe(next);

    // ADDR-6: fifty come with the address, the 51st among them refuses the whole creation.
    let fifty_one: Vec<_> = (0..=MAX_ALIASES_PER_ADDRESS)
        .map(|n| local(&format!("a{n:02}")))
        .collect();
    let refused = dir
        .create_address_with(
            new_address(&abc, "toto", AddressKind::Mailbox),
            with(fifty_one.clone()),
        )
        .await;
    let sentence = assert_refused(refused);
    assert_eq!(
        sentence,
        "the alias a50@abc.xyz cannot be added: an address can have at most 50 aliases"
    );
    assert_nothing_created(stores, &abc, "toto", 1).await;
    assert_nothing_created(stores, &abc, "a00", 1).await;
    assert!(dir.user_access(jane.id).await.expect("access").is_empty());
    assert!(
        drain(&mut events).is_empty(),
        "no folder event for folders that never existed"
    );

    // Collisions name the alias in the way.
    for (alias, why) in [
        ("titi", "the address titi@abc.xyz already exists"),
        (
            "sales",
            "sales@abc.xyz already exists as an alias of titi@abc.xyz",
        ),
        ("toto", "the address toto@abc.xyz already exists"),
    ] {
        let refused = dir
            .create_address_with(
                new_address(&abc, "toto", AddressKind::Mailbox),
                with(vec![local("fine"), local(alias)]),
            )
            .await;
        assert_eq!(
            assert_conflict(refused),
            format!("the alias {alias}@abc.xyz cannot be added: {why}")
        );
        assert_nothing_created(stores, &abc, "toto", 1).await;
        assert_nothing_created(stores, &abc, "fine", 1).await;
    }
    // The same alias twice in the list collides with itself.
    let twice = dir
        .create_address_with(
            new_address(&abc, "toto", AddressKind::Mailbox),
            with(vec![local("dup"), local("dup")]),
        )
        .await;
    assert!(assert_conflict(twice).starts_with("the alias dup@abc.xyz cannot be added"));
    assert_nothing_created(stores, &abc, "dup", 1).await;

    // An unknown account among the grants.
    let unknown_user = postwerk_store::AddressExtras {
        aliases: vec![local("fine")],
        access: vec![(postwerk_model::UserId(999), Permissions::READ_SEND, None)],
    };
    assert_not_found(
        dir.create_address_with(
            new_address(&abc, "toto", AddressKind::Mailbox),
            unknown_user,
        )
        .await,
    );
    assert_nothing_created(stores, &abc, "toto", 1).await;
    assert_nothing_created(stores, &abc, "fine", 1).await;

    // A plan without aliases refuses any alias, and so the address that came with it.
    let basic = dir
        .create_service(NewService {
            org: org.id,
            domain: domain("basic.example"),
            address_quota: 5,
            features: ServiceFeatures {
                aliases_allowed: false,
                filters: Default::default(),
            },
            default_permissions: Permissions::READ_SEND,
            signature_templates: Vec::new(),
            dkim: None,
        })
        .await
        .expect("service");
    let refused = dir
        .create_address_with(
            new_address(&basic, "toto", AddressKind::Mailbox),
            with(vec![local("contact")]),
        )
        .await;
    assert_eq!(
        assert_refused(refused),
        "the alias contact@basic.example cannot be added: aliases are not enabled for this \
         mail service"
    );
    assert_nothing_created(stores, &basic, "toto", 0).await;
    assert!(dir.user_access(jane.id).await.expect("access").is_empty());

    // The address's own refusals come first and are the plain ones.
    let full = dir.create_service(NewService {
        org: org.id,
        domain: domain("full.example"),
        address_quota: 0,
        features: ServiceFeatures::default(),
        default_permissions: Permissions::READ_SEND,
        signature_templates: Vec::new(),
        dkim: None,
    });
    let full = full.await.expect("service");
    assert!(matches!(
        dir.create_address_with(
            new_address(&full, "toto", AddressKind::Mailbox),
            with(vec![local("contact")])
        )
        .await,
        Err(StoreError::Rule(DirectoryError::AddressQuotaReached { .. }))
    ));

    // And exactly fifty is fine.
    let fifty = fifty_one[..MAX_ALIASES_PER_ADDRESS].to_vec();
    let toto = dir
        .create_address_with(new_address(&abc, "toto", AddressKind::Mailbox), with(fifty))
        .await
        .expect("fifty aliases");
    assert_eq!(dir.list_aliases(toto.id).await.expect("aliases").len(), 50);
    assert_eq!(dir.user_access(jane.id).await.expect("access").len(), 1);
    // ADDR-11: the creation announced its six default folders, and only it: none of the
    // refused attempts above published anything under the same id.
    assert_eq!(toto.id, next, "the id the refused attempts would have used");
    let created = drain(&mut events);
    assert_eq!(created.len(), 6, "{created:?}");
    assert!(
        created
            .iter()
            .all(|e| e.kind == postwerk_store::FolderEventKind::Created && e.mailbox == toto.id)
    );
}

pub async fn addr_10_storage_limit_set_and_lifted<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let dir = &stores.directory;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    assert_eq!(toto.storage_limit, None, "unlimited by default");
    let limit = async |stores: &Stores| {
        let stored = stores.directory.address(toto.id).await.expect("lookup");
        stored.expect("exists").storage_limit
    };
    dir.set_storage_limit(toto.id, Some(5_000_000_000))
        .await
        .expect("set");
    assert_eq!(limit(stores).await, Some(5_000_000_000));
    dir.set_storage_limit(toto.id, Some(1_000))
        .await
        .expect("change");
    assert_eq!(limit(stores).await, Some(1_000));
    dir.set_storage_limit(toto.id, None).await.expect("lift");
    assert_eq!(limit(stores).await, None);
    assert_refused(dir.set_storage_limit(toto.id, Some(u64::MAX)).await);
    assert_eq!(limit(stores).await, None, "a refusal changes nothing");
    assert_not_found(
        dir.set_storage_limit(postwerk_model::AddressId(999), Some(1))
            .await,
    );
}

pub async fn addr_display_name_changes<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let dir = &stores.directory;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    dir.set_address_display_name(toto.id, "Toto Dupont")
        .await
        .expect("set");
    let stored = dir.address(toto.id).await.expect("lookup").expect("exists");
    assert_eq!(stored.display_name, "Toto Dupont");
    assert_not_found(
        dir.set_address_display_name(postwerk_model::AddressId(999), "x")
            .await,
    );
}

pub async fn addr_9_access_signature_round_trip<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let dir = &stores.directory;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let jane = dir
        .create_user(new_user("jane@personal.example"))
        .await
        .expect("user");
    let granted = dir
        .grant_access(
            jane.id,
            toto.id,
            Permissions::READ_SEND,
            Some("Sales".to_owned()),
        )
        .await
        .expect("grant");
    assert_eq!(granted.signature.as_deref(), Some("Sales"));
    assert_eq!(
        dir.address_access(toto.id).await.expect("access"),
        vec![granted.clone()]
    );
    assert_eq!(
        dir.user_access(jane.id).await.expect("access"),
        vec![granted]
    );
    // Granting again replaces the signature too, clearing it with `None`.
    dir.grant_access(jane.id, toto.id, Permissions::ALL, None)
        .await
        .expect("regrant");
    let access = dir.user_access(jane.id).await.expect("access");
    assert_eq!(
        access
            .iter()
            .map(|a| (a.permissions, a.signature.clone()))
            .collect::<Vec<_>>(),
        vec![(Permissions::ALL, None)]
    );
}
