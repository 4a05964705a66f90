//! The store conformance suite, written once and run against every backend.
//!
//! A backend test file (`tests/sqlite.rs`, later `tests/postgres.rs`) declares
//! `#[macro_use] mod suite;`, implements [`Backend`] (how to open a store on a data folder) and
//! calls `conformance!(path::to::Backend)`, which expands to one `#[tokio::test]` per check, so
//! every check fails on its own and they run in parallel. Test names carry the SPEC ids they
//! prove.

#![allow(dead_code)] // Each backend file uses the whole suite, but only through the macro.

pub mod directory;
pub mod durability;
pub mod greylist;
pub mod identity;
pub mod mail;
pub mod manager;
pub mod queue;
pub mod search;
pub mod views;

use std::future::Future;
use std::path::{Path, PathBuf};

use postwerk_message::MessageIndex;
use postwerk_model::{
    Address, AddressKind, Domain, HostedAddress, LocalPart, MailService, Organization, Permissions,
    ServiceFeatures,
};
use postwerk_store::{
    DeliveryTarget, Flags, FolderEvent, NewAddress, NewService, StoreError, Stored, Stores,
};
use tempfile::TempDir;
use tokio::sync::broadcast;

/// What a backend provides to the suite.
pub trait Backend: Sync {
    /// Open (creating it if needed) a store whose files live in `dir`. Opening the same `dir`
    /// again must find the same data.
    fn open(&self, dir: &Path) -> impl Future<Output = Stores> + Send;

    /// Where the backend keeps blob files for the data folder `dir`.
    fn blob_dir(&self, dir: &Path) -> PathBuf {
        dir.join(postwerk_store::BLOB_FOLDER)
    }

    /// How many message contents the backend keeps inside its database rather than as blob
    /// files (those of at most `INLINE_CONTENT_MAX` octets) for the data folder `dir`.
    fn inline_contents(&self, dir: &Path) -> impl Future<Output = usize> + Send;
}

/// Expand to one test per check of the suite for `$backend` (a path to a unit struct that
/// implements [`Backend`]).
macro_rules! conformance {
    ($backend:path) => {
        conformance!(@module $backend, directory [
            org_1_create_lookup_list_and_refuse_duplicates,
            id_1_user_accounts_and_password_bumps_credential_epoch,
            org_1_memberships_with_roles,
            svc_1_services_by_id_domain_and_org,
            svc_3_a_domain_belongs_to_one_service_only,
            svc_2_quota_refuses_beyond_and_never_lowers_below_usage,
            addr_11_six_default_folders_for_kinds_that_hold_mail,
            addr_1_duplicate_address_or_alias_local_part_refused,
            addr_2_one_catch_all_per_service,
            addr_lookups_setters_and_credential_epoch,
            addr_6_fifty_aliases_and_the_51st_refused,
            addr_6_alias_clashes_and_feature_switch,
            addr_9_access_grant_update_revoke,
            rcv_13_resolve_facts_exact_alias_alias_domain_catch_all,
            addr_8_delete_destroys_content_aliases_access_and_blobs,
            addr_8_delete_with_unknown_id_deletes_nothing,
            org_1_role_changes_keep_an_owner,
            org_1_removing_a_member_removes_their_access_there_only,
            svc_4_service_settings_replace_and_refuse_bad_template_names,
            addr_1_create_address_with_aliases_access_and_display_name,
            addr_6_create_address_with_is_all_or_nothing,
            addr_10_storage_limit_set_and_lifted,
            addr_display_name_changes,
            addr_9_access_signature_round_trip,
        ]);
        conformance!(@module $backend, manager [
            api_tokens_found_by_prefix_listed_revoked_and_touched,
            id_1_web_sessions_created_found_touched_listed_and_ended,
            addr_1_invitation_creates_the_account_once,
            addr_1_invitation_accepted_by_an_existing_member_keeps_their_role,
            addr_1_expired_invitation_refused,
            addr_1_invitation_with_a_taken_login_changes_nothing,
            addr_1_invitations_listed_and_refused_for_addresses_without_mail,
            rcv_4_sender_rules_upserted_ordered_and_removed,
            addr_8_delete_removes_invitations_and_sender_rules,
        ]);
        conformance!(@module $backend, mail [
            folders_create_parents_rename_children_delete_subscribe,
            uidvalidity_changes_when_a_folder_is_recreated,
            rename_inbox_moves_messages_and_leaves_inbox_empty,
            rcv_12_deliver_to_many_mailboxes_shares_one_durable_blob,
            deliver_once_skips_mailboxes_that_have_the_message,
            deliver_falls_back_to_inbox_and_refuses_non_mailboxes,
            append_list_read_and_index_round_trip,
            flags_store_bumps_modseq_once_and_honours_unchangedsince,
            expunge_removes_deleted_records_vanished_and_collects_blobs,
            copy_and_move_keep_flags_share_content_and_report_copyuid,
            status_counts_messages_unseen_deleted_size,
            search_text_finds_substrings_case_insensitively,
            events_follow_every_folder_change,
        ]);
        conformance!(@module $backend, durability [
            group_commit_concurrent_deliveries_all_answered_and_present_after_reopen,
            group_commit_a_failing_write_does_not_fail_its_batch,
            reopen_after_close_keeps_everything_and_counters_continue,
            second_store_on_same_folder_waits_instead_of_failing,
            writes_after_close_fail_cleanly,
        ]);
        conformance!(@module $backend, search [
            search_finds_a_delivery_at_once_and_after_indexing,
            search_forgets_expunged_and_deleted_messages,
            search_index_resumes_after_reopen,
        ]);
        conformance!(@module $backend, views [
            fetch_view_matches_listed_metas_and_rendered_indexes,
            fetch_view_follows_every_change_exactly,
            fetch_view_sees_what_another_store_on_the_same_folder_wrote,
            select_view_agrees_before_and_after_the_folder_is_cached,
        ]);
        conformance!(@module $backend, queue [
            snd_2_queue_round_trips_envelope_dsn_parameters_and_content,
            rcv_12_queue_is_durable_and_apart_from_mailbox_contents,
            snd_4_lease_record_and_expire,
            snd_4_retry_now_makes_pending_recipients_due,
            snd_6_held_messages_are_never_leased,
        ]);
        conformance!(@module $backend, identity [
            id_9_accounts_found_by_phone_whatever_its_formatting,
            id_10_a_deleted_login_address_issues_unique_recovery_usernames,
            id_10_a_new_login_is_unique_and_ends_the_recovery_state,
            id_5_unification_marks_one_pair_and_ends_with_its_conditions,
            id_5_a_unified_password_change_sets_both_and_cuts_both,
            id_6_mailbox_password_disabling_and_deletion_are_announced,
            id_8_recovery_codes_replace_expire_count_and_work_once,
            id_1_totp_enrolment_and_single_use_recovery_codes,
            id_8_verification_requests_are_listed_and_closed_once,
            id_12_sms_outbox_newest_first,
            id_11_audit_log_filtered_by_owner_category_and_paged,
            id_6_the_session_that_changed_the_password_moves_to_the_new_epoch,
        ]);
        conformance!(@module $backend, greylist [
            rcv_3_sighting_creates_then_reads_and_refreshes_daily,
            rcv_3_passed_is_remembered,
            rcv_3_expire_removes_entries_last_seen_before_the_cutoff,
            rcv_3_unretried_triplets_expire_sooner_than_passed_ones,
        ]);
    };
    (@module $backend:path, $module:ident [ $($test:ident),* $(,)? ]) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::suite::$module::$test(&$backend).await
                }
            )*
        }
    };
}

/// A store on a fresh temporary data folder, which can be closed and opened again.
pub struct Harness<'b, B: Backend> {
    backend: &'b B,
    dir: TempDir,
    stores: Option<Stores>,
}

impl<'b, B: Backend> Harness<'b, B> {
    /// A new, empty store.
    pub async fn new(backend: &'b B) -> Self {
        let dir = tempfile::tempdir().expect("temporary data folder");
        let stores = backend.open(dir.path()).await;
        Harness {
            backend,
            dir,
            stores: Some(stores),
        }
    }

    /// The open store.
    pub fn stores(&self) -> &Stores {
        self.stores.as_ref().expect("store is open")
    }

    /// The data folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Open a second, independent store on the same folder (another process would).
    pub async fn open_another(&self) -> Stores {
        self.backend.open(self.dir.path()).await
    }

    /// Close the store and open it again on the same folder.
    pub async fn reopen(&mut self) {
        if let Some(stores) = self.stores.take() {
            stores.close().await;
        }
        self.stores = Some(self.backend.open(self.dir.path()).await);
    }

    /// Close the store and give back the handle (whose clones now fail).
    pub async fn close(&mut self) -> Stores {
        let stores = self.stores.take().expect("store is open");
        stores.clone().close().await;
        stores
    }

    /// Every distinct message content stored: blob files plus inline contents.
    pub async fn stored_contents(&self) -> usize {
        self.blob_files().len() + self.backend.inline_contents(self.dir.path()).await
    }

    /// Every blob file on disk (temporary files excluded).
    pub fn blob_files(&self) -> Vec<PathBuf> {
        let root = self.backend.blob_dir(self.dir.path());
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&root).expect("blob folder") {
            let entry = entry.expect("blob folder entry");
            if entry.file_name() == "tmp" || !entry.path().is_dir() {
                continue;
            }
            for file in std::fs::read_dir(entry.path()).expect("blob sub-folder") {
                files.push(file.expect("blob file").path());
            }
        }
        files.sort();
        files
    }
}

/// A fixed INTERNALDATE for messages of the suite.
pub const DATE: i64 = 1_700_000_000;

pub fn domain(text: &str) -> Domain {
    Domain::parse(text).expect("valid domain")
}

pub fn local(text: &str) -> LocalPart {
    LocalPart::parse(text).expect("valid local part")
}

pub fn address(text: &str) -> Address {
    Address::parse(text).expect("valid address")
}

/// An organization and a mail service for `domain_name` with this quota.
pub async fn service(
    stores: &Stores,
    domain_name: &str,
    quota: u32,
) -> (Organization, MailService) {
    let org = stores
        .directory
        .create_org(&format!("Org of {domain_name}"))
        .await
        .expect("org");
    let service = stores
        .directory
        .create_service(NewService {
            org: org.id,
            domain: domain(domain_name),
            address_quota: quota,
            features: ServiceFeatures::default(),
            default_permissions: Permissions::READ_SEND,
            signature_templates: Vec::new(),
            dkim: None,
        })
        .await
        .expect("service");
    (org, service)
}

/// What creating an address of `kind` with local part `name` in `service` needs.
pub fn new_address(service: &MailService, name: &str, kind: AddressKind) -> NewAddress {
    let redirect = (kind == AddressKind::RedirectOnly).then(|| {
        postwerk_model::Redirection::new(vec![address("elsewhere@outside.example")], false)
            .expect("redirection")
    });
    NewAddress {
        service: service.id,
        local: local(name),
        kind,
        display_name: String::new(),
        password_hash: (kind != AddressKind::RedirectOnly).then(|| "$argon2id$fake".to_owned()),
        redirect,
        storage_limit: None,
    }
}

/// A mailbox `name@<service domain>`.
pub async fn mailbox(stores: &Stores, service: &MailService, name: &str) -> HostedAddress {
    stores
        .directory
        .create_address(new_address(service, name, AddressKind::Mailbox))
        .await
        .expect("mailbox")
}

/// A small message, unique per `(subject, body)`.
pub fn message(subject: &str, body: &str) -> (Vec<u8>, MessageIndex) {
    let raw = format!(
        "From: Alice Example <alice@outside.example>\r\nTo: someone@test.example\r\n\
         Subject: {subject}\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n\
         Message-ID: <{subject}@outside.example>\r\n\r\n{body}\r\n"
    )
    .into_bytes();
    let index = MessageIndex::parse(&raw);
    (raw, index)
}

/// A message body long enough to put the message above the inline threshold: it is stored as
/// a blob file.
pub fn large_body() -> String {
    let line = "A line of a long message body, repeated to pass the inline threshold.\r\n";
    line.repeat(postwerk_store::INLINE_CONTENT_MAX / line.len() + 1)
}

/// Deliver a fresh message to the INBOX of each mailbox.
pub async fn deliver(stores: &Stores, subject: &str, to: &[&HostedAddress]) -> Vec<Stored> {
    let (raw, index) = message(subject, "Hello.");
    let targets: Vec<DeliveryTarget> = to.iter().map(|a| DeliveryTarget::inbox(a.id)).collect();
    stores
        .mail
        .deliver(&raw, &index, &targets, &Flags::none(), DATE)
        .await
        .expect("deliver")
}

/// Every event already published on `events`.
pub fn drain(events: &mut broadcast::Receiver<FolderEvent>) -> Vec<FolderEvent> {
    let mut all = Vec::new();
    while let Ok(event) = events.try_recv() {
        all.push(event);
    }
    all
}

/// Assert a refusal of the given class, printing the error otherwise.
#[track_caller]
pub fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) -> String {
    match result {
        Err(StoreError::Conflict(sentence)) => sentence,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[track_caller]
pub fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("expected not found, got {other:?}"),
    }
}

#[track_caller]
pub fn assert_refused<T: std::fmt::Debug>(result: Result<T, StoreError>) -> String {
    match result {
        Err(StoreError::Refused(sentence)) => sentence,
        other => panic!("expected a refusal, got {other:?}"),
    }
}
