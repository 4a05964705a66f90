//! `fsck` (issue 10) against a real data folder, damaged on purpose through a second database
//! connection and by changing files, the ways a crash, a bug or an operator could.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use postwerk_message::MessageIndex;
use postwerk_model::{
    Address, AddressId, AddressKind, Domain, HostedAddress, LocalPart, Permissions, ServiceFeatures,
};
use postwerk_store::{
    BLOB_FOLDER, BlobId, Check, DATABASE_FILE, DeliveryTarget, Depth, Flags, FsckReport,
    NewAddress, NewQueued, NewService, QUEUE_FOLDER, QueueId, QueuedRecipient, Repair, StoreError,
    Stores, fsck,
};
use sqlx::{ConnectOptions, Connection};
use tempfile::TempDir;

const DATE: i64 = 1_700_000_000;

/// A data folder with one mailbox holding a small (inline) and a large (blob file) message,
/// and two queued messages; closed again, as after a server stopped.
struct Folder {
    dir: TempDir,
    /// The blob id of the large message, whose bytes are a file.
    large: BlobId,
    /// The second queued message.
    second_queued: QueueId,
    /// The mailbox toto@test.example.
    toto: AddressId,
}

impl Folder {
    async fn new() -> Folder {
        let dir = tempfile::tempdir().expect("temporary folder");
        let stores = postwerk_store::open_sqlite(dir.path())
            .await
            .expect("open the store");
        let toto = mailbox(&stores).await;
        deliver(&stores, &toto, message("small", "Hello.")).await;
        let large = message("large", &large_body());
        let large_id = BlobId::of(&large);
        deliver(&stores, &toto, large).await;
        stores
            .queue
            .enqueue(b"Subject: first\r\n\r\nOut.\r\n", queued())
            .await
            .expect("enqueue");
        let second_queued = stores
            .queue
            .enqueue(b"Subject: second\r\n\r\nOut too.\r\n", queued())
            .await
            .expect("enqueue");
        stores.close().await;
        Folder {
            dir,
            large: large_id,
            second_queued,
            toto: toto.id,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn blob_file(&self, id: &BlobId) -> PathBuf {
        let (dir, file) = id.as_str().split_at(2);
        self.path().join(BLOB_FOLDER).join(dir).join(file)
    }

    /// Raw SQL on the database, as a bug or an operator could run it.
    async fn sql(&self, statement: &str) {
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(self.path().join(DATABASE_FILE))
            .connect()
            .await
            .expect("open the database");
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
            .execute(&mut conn)
            .await
            .expect("damage the database");
        // Closed before returning: a dropped connection closes later, on sqlx's thread, and a
        // repair that starts meanwhile would find the database busy.
        conn.close().await.expect("close the database");
    }

    /// A file in the blob folder that no content references, last written `age` ago.
    fn orphan(&self, content: &[u8], age: Duration) -> PathBuf {
        let path = self.blob_file(&BlobId::of(content));
        fs::create_dir_all(path.parent().expect("a parent")).expect("blob sub-folder");
        fs::write(&path, content).expect("write the orphan");
        let file = File::options().write(true).open(&path).expect("open");
        file.set_modified(SystemTime::now() - age)
            .expect("set the modification time");
        path
    }

    /// What a check (or a repair) could change: the folders' counters, the queue, every file.
    async fn state(&self) -> (Vec<(i64, i64)>, i64, Vec<PathBuf>) {
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(self.path().join(DATABASE_FILE))
            .connect()
            .await
            .expect("open the database");
        let counters = sqlx::query_as("SELECT uid_next, highest_modseq FROM folders ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .expect("counters");
        let queued = sqlx::query_scalar("SELECT COUNT(*) FROM queue_messages")
            .fetch_one(&mut conn)
            .await
            .expect("queue");
        let mut files = Vec::new();
        for root in [BLOB_FOLDER, QUEUE_FOLDER] {
            walk(&self.path().join(root), &mut files);
        }
        files.sort();
        conn.close().await.expect("close the database");
        (counters, queued, files)
    }
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read a folder").flatten() {
        if entry.path().is_dir() {
            walk(&entry.path(), files);
        } else {
            files.push(entry.path());
        }
    }
}

async fn mailbox(stores: &Stores) -> HostedAddress {
    let org = stores.directory.create_org("Org").await.expect("org");
    let service = stores
        .directory
        .create_service(NewService {
            org: org.id,
            domain: Domain::parse("test.example").expect("domain"),
            address_quota: 10,
            features: ServiceFeatures::default(),
            default_permissions: Permissions::READ_SEND,
            signature_templates: Vec::new(),
            dkim: None,
        })
        .await
        .expect("service");
    stores
        .directory
        .create_address(NewAddress {
            service: service.id,
            local: LocalPart::parse("toto").expect("local part"),
            kind: AddressKind::Mailbox,
            display_name: String::new(),
            password_hash: Some("$argon2id$fake".to_owned()),
            redirect: None,
            storage_limit: None,
        })
        .await
        .expect("mailbox")
}

fn message(subject: &str, body: &str) -> Vec<u8> {
    format!("From: alice@outside.example\r\nSubject: {subject}\r\n\r\n{body}\r\n").into_bytes()
}

/// Long enough to be stored as a blob file rather than inline.
fn large_body() -> String {
    "A line of a long body.\r\n".repeat(postwerk_store::INLINE_CONTENT_MAX / 24 + 1)
}

async fn deliver(stores: &Stores, to: &HostedAddress, raw: Vec<u8>) {
    stores
        .mail
        .deliver(
            &raw,
            &MessageIndex::parse(&raw),
            &[DeliveryTarget::inbox(to.id)],
            &Flags::none(),
            DATE,
        )
        .await
        .expect("deliver");
}

fn queued() -> NewQueued {
    NewQueued {
        return_path: "toto@test.example".into(),
        recipients: vec![QueuedRecipient {
            address: Address::parse("bob@remote.example")
                .expect("address")
                .into(),
            notify: None,
            orcpt: None,
            forwarded_by: None,
        }],
        envid: None,
        ret: None,
        received_at: DATE,
        submitted_by: None,
        held: None,
    }
}

async fn check(folder: &Folder, repair: Repair) -> FsckReport {
    fsck::check(folder.path(), repair, Depth::Deep)
        .await
        .expect("fsck runs")
}

/// The findings as `check subject: problem` lines, for assertion messages.
fn lines(report: &FsckReport) -> String {
    report
        .findings
        .iter()
        .map(|f| {
            format!(
                "{} {}: {} ({})\n",
                f.check, f.subject, f.problem, f.repaired
            )
        })
        .collect()
}

#[tokio::test]
async fn a_healthy_data_folder_has_no_findings() {
    let folder = Folder::new().await;
    let report = check(&folder, Repair::No).await;
    assert!(report.findings.is_empty(), "{}", lines(&report));
    let repaired = check(&folder, Repair::Yes).await;
    assert!(repaired.findings.is_empty(), "{}", lines(&repaired));
}

#[tokio::test]
async fn damage_is_reported_and_the_safe_repairs_fix_all_but_the_lost_content() {
    let folder = Folder::new().await;
    // UIDs 1 and 2 are in use; a MODSEQ of 3 too.
    folder
        .sql("UPDATE folders SET uid_next = 2, highest_modseq = 1 WHERE name = 'INBOX'")
        .await;
    fs::remove_file(folder.blob_file(&folder.large)).expect("lose the large content");
    let old_orphan = folder.orphan(b"left by a crash", Duration::from_secs(2 * 3600));
    // Young: a server may be about to commit the row that references it.
    let young_orphan = folder.orphan(b"in flight", Duration::from_secs(60));
    folder
        .sql(&format!(
            "DELETE FROM queue_recipients WHERE message_id = {}",
            folder.second_queued.0
        ))
        .await;
    let before = folder.state().await;

    let report = check(&folder, Repair::No).await;
    let all = lines(&report);
    assert_eq!(report.problems(), 5, "{all}");
    assert_eq!(report.repaired(), 0, "{all}");
    let only = |check| {
        let found: Vec<_> = report.of(check).collect();
        assert_eq!(found.len(), 1, "{check}: {all}");
        found[0].clone()
    };
    let uids = only(Check::Uids);
    assert_eq!(uids.subject, "toto@test.example/INBOX");
    assert!(uids.problem.contains("UIDNEXT is 2 but UID 2"), "{all}");
    assert_eq!(only(Check::Modseqs).subject, "toto@test.example/INBOX");
    let lost = only(Check::Contents);
    assert_eq!(lost.subject, "toto@test.example/INBOX UID 2");
    assert!(lost.problem.contains(folder.large.as_str()), "{all}");
    let orphan = only(Check::BlobFiles);
    assert!(old_orphan.ends_with(&orphan.subject), "{all}");
    let queue = only(Check::Queue);
    assert!(
        queue
            .subject
            .starts_with(&format!("queue {} ", folder.second_queued.0)),
        "{all}"
    );
    assert_eq!(folder.state().await, before, "a check changes nothing");

    let repaired = check(&folder, Repair::Yes).await;
    let all = lines(&repaired);
    assert_eq!(repaired.problems(), 5, "{all}");
    assert_eq!(repaired.unrepaired(), 1, "{all}");
    assert!(
        repaired.of(Check::Contents).all(|f| !f.repaired),
        "the lost content is not repairable: {all}"
    );
    assert!(!old_orphan.exists(), "the old orphan is removed");
    assert!(young_orphan.exists(), "a file in flight is never touched");

    let after = check(&folder, Repair::No).await;
    assert_eq!(after.problems(), 1, "{}", lines(&after));
    assert_eq!(after.findings[0], lost, "the loss is still reported");

    // What a user notices: the next message takes a UID never used before, and the queue
    // holds only what can be delivered.
    let stores = postwerk_store::open_sqlite(folder.path())
        .await
        .expect("open");
    let next = message("next", "After the repair.");
    let stored = stores
        .mail
        .deliver(
            &next,
            &MessageIndex::parse(&next),
            &[DeliveryTarget::inbox(folder.toto)],
            &Flags::none(),
            DATE,
        )
        .await
        .expect("deliver");
    assert_eq!(stored[0].uid, 3);
    assert_eq!(stores.queue.queued().await.expect("queue").len(), 1);
    stores.close().await;
}

#[tokio::test]
async fn a_content_only_deep_checks_see_is_reported() {
    let folder = Folder::new().await;
    let path = folder.blob_file(&folder.large);
    let mut bytes = fs::read(&path).expect("read the content");
    bytes[0] ^= 1;
    fs::write(&path, &bytes).expect("corrupt the content, same size");
    let quick = fsck::check(folder.path(), Repair::No, Depth::Quick)
        .await
        .expect("fsck");
    assert!(quick.findings.is_empty(), "{}", lines(&quick));
    let deep = check(&folder, Repair::Yes).await;
    assert_eq!(deep.problems(), 1, "{}", lines(&deep));
    assert_eq!(deep.findings[0].subject, "toto@test.example/INBOX UID 2");
    assert!(deep.findings[0].problem.contains("SHA-256"));
    assert!(!deep.findings[0].repaired);
}

#[tokio::test]
async fn a_content_nothing_would_collect_is_collected_with_its_file() {
    let folder = Folder::new().await;
    // The trigger queues the content for collection; forgetting that is the damage.
    folder
        .sql("DELETE FROM messages WHERE uid = 2; DELETE FROM content_gc;")
        .await;
    let report = check(&folder, Repair::No).await;
    assert_eq!(report.problems(), 1, "{}", lines(&report));
    assert_eq!(
        report.findings[0].subject,
        format!("content {}", folder.large)
    );
    let repaired = check(&folder, Repair::Yes).await;
    assert_eq!(repaired.repaired(), 1, "{}", lines(&repaired));
    assert!(!folder.blob_file(&folder.large).exists());
    assert!(check(&folder, Repair::No).await.findings.is_empty());
}

#[tokio::test]
async fn repairs_are_refused_while_a_server_has_the_folder_open() {
    let folder = Folder::new().await;
    let stores = postwerk_store::open_sqlite(folder.path())
        .await
        .expect("open");
    let refused = fsck::check(folder.path(), Repair::Yes, Depth::Quick).await;
    assert!(
        matches!(&refused, Err(StoreError::Refused(sentence)) if sentence.contains("stop it")),
        "{refused:?}"
    );
    // A check is still possible beside it.
    let report = check(&folder, Repair::No).await;
    assert!(report.findings.is_empty(), "{}", lines(&report));
    stores.close().await;
    // Once it stopped (or died), the repair runs.
    check(&folder, Repair::Yes).await;
}

#[tokio::test]
async fn a_folder_without_a_database_is_an_error_not_a_clean_report() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let result = fsck::check(dir.path(), Repair::No, Depth::Quick).await;
    assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
}

#[tokio::test]
async fn a_temporary_file_left_by_a_crash_is_removed_once_stale() {
    let folder = Folder::new().await;
    let tmp = folder.path().join(QUEUE_FOLDER).join("tmp");
    let stale = tmp.join("1.1.tmp");
    let fresh = tmp.join("1.2.tmp");
    for (path, age) in [(&stale, 2 * 3600), (&fresh, 60)] {
        fs::write(path, b"half a message").expect("write a temporary file");
        File::options()
            .write(true)
            .open(path)
            .expect("open")
            .set_modified(SystemTime::now() - Duration::from_secs(age))
            .expect("set the modification time");
    }
    let report = check(&folder, Repair::No).await;
    assert_eq!(report.problems(), 1, "{}", lines(&report));
    assert_eq!(report.findings[0].subject, "queue/tmp/1.1.tmp");
    let repaired = check(&folder, Repair::Yes).await;
    assert_eq!(repaired.repaired(), 1, "{}", lines(&repaired));
    assert!(!stale.exists());
    assert!(fresh.exists(), "a write in flight is never touched");
}
