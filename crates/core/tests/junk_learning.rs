//! RCV-4 learning: moves into and out of Junk update the mailbox's sender lists, over a real
//! embedded store — the lists the next delivery reads.

use postwerk_core::junk_learning::MAX_LEARNT_PER_MOVE;
use postwerk_core::{Actor, Admin, JunkLearning, Learnt};
use postwerk_message::MessageIndex;
use postwerk_model::{Address, AddressId, ListKind, SenderPattern, SenderRule, sender_verdict};
use postwerk_store::{Flags, Folder, Stores, UidSet};
use postwerk_testkit::directory::Directory;

const TOTO: &str = "toto@example.test";
const NOW: i64 = 1_800_000_000;

struct Fixture {
    _dir: tempfile::TempDir,
    stores: Stores,
    admin: Admin,
    mailbox: AddressId,
    learning: JunkLearning,
}

/// example.test with the mailbox toto (its default folders INBOX, Junk, Trash…), no rules.
async fn fixture() -> Fixture {
    let directory = Directory::open().await;
    directory.org("Acme").await;
    directory.service("Acme", "example.test", 100).await;
    let mailbox = directory.mailbox(TOTO, "mailbox-secret-1").await;
    let Directory { dir, stores, admin } = directory;
    let learning = JunkLearning::new(stores.mail.clone(), stores.manager.clone());
    Fixture {
        _dir: dir,
        stores,
        admin,
        mailbox,
        learning,
    }
}

impl Fixture {
    async fn folder(&self, name: &str) -> Folder {
        self.stores
            .mail
            .folder_by_name(self.mailbox, name)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{name} is one of the default folders"))
    }

    /// Puts a message from `from` into `folder`; its UID.
    async fn message(&self, folder: &str, from: &str) -> u32 {
        let raw = format!(
            "From: Someone <{from}>\r\nTo: {TOTO}\r\nSubject: Offers\r\n\
             Message-ID: <{from}.{NOW}@test>\r\n\r\nToday only.\r\n"
        );
        let index = MessageIndex::parse(raw.as_bytes());
        let folder = self.folder(folder).await;
        self.stores
            .mail
            .append(folder.id, raw.as_bytes(), &index, &Flags::none(), NOW)
            .await
            .unwrap()
            .uid
    }

    /// MOVE of `uids` from `source` to `destination`, as IMAP does it, then learning from it.
    async fn move_and_learn(&self, source: &str, destination: &str, uids: &[u32]) -> Learnt {
        let source = self.folder(source).await;
        let destination = self.folder(destination).await;
        let copied = self
            .stores
            .mail
            .move_messages(
                source.id,
                &UidSet::from_uids(uids.iter().copied()),
                destination.id,
            )
            .await
            .unwrap();
        let new_uids: Vec<u32> = copied.uids.iter().map(|&(_, uid)| uid).collect();
        self.learning
            .learn(self.mailbox, &source, &destination, &new_uids)
            .await
            .unwrap()
    }

    async fn rules(&self) -> Vec<SenderRule> {
        self.stores
            .manager
            .sender_rules(self.mailbox)
            .await
            .unwrap()
    }

    /// What the lists now say about `sender`.
    async fn verdict(&self, sender: &str) -> Option<ListKind> {
        sender_verdict(&self.rules().await, &sender.parse().unwrap())
    }

    async fn rule(&self, kind: ListKind, pattern: &str) {
        self.admin
            .add_sender_rule(Actor::Operator, TOTO, kind, pattern)
            .await
            .unwrap();
    }
}

fn addresses(list: &[Address]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn moving_into_junk_blocks_each_sender_once() {
    let f = fixture().await;
    let first = f.message("INBOX", "news@shop.example").await;
    let second = f.message("INBOX", "News@Shop.example").await;
    let third = f.message("INBOX", "deals@outlet.example").await;

    let learnt = f
        .move_and_learn("INBOX", "Junk", &[first, second, third])
        .await;

    assert_eq!(
        addresses(&learnt.blocked),
        ["news@shop.example", "deals@outlet.example"],
        "addresses are compared in canonical form, so one sender written two ways is one rule"
    );
    assert!(learnt.allowed.is_empty());
    assert_eq!(f.verdict("news@shop.example").await, Some(ListKind::Block));
    assert_eq!(
        f.verdict("deals@outlet.example").await,
        Some(ListKind::Block)
    );
    assert_eq!(
        f.verdict("other@shop.example").await,
        None,
        "only the exact address is learnt, not its domain"
    );
}

#[tokio::test]
async fn moving_out_of_junk_allows_the_sender() {
    let f = fixture().await;
    let uid = f.message("Junk", "promo@spam.example").await;

    let learnt = f.move_and_learn("Junk", "INBOX", &[uid]).await;

    assert_eq!(addresses(&learnt.allowed), ["promo@spam.example"]);
    assert!(learnt.blocked.is_empty());
    assert_eq!(f.verdict("promo@spam.example").await, Some(ListKind::Allow));
}

#[tokio::test]
async fn deleting_spam_and_moves_elsewhere_teach_nothing() {
    let f = fixture().await;
    let spam = f.message("Junk", "promo@spam.example").await;
    let mail = f.message("INBOX", "friend@pals.example").await;

    assert_eq!(
        f.move_and_learn("Junk", "Trash", &[spam]).await,
        Learnt::default()
    );
    assert_eq!(
        f.move_and_learn("INBOX", "Archive", &[mail]).await,
        Learnt::default()
    );
    assert!(f.rules().await.is_empty(), "{:?}", f.rules().await);
}

#[tokio::test]
async fn changing_ones_mind_replaces_the_opposite_rule() {
    let f = fixture().await;
    f.rule(ListKind::Allow, "news@shop.example").await;
    let uid = f.message("INBOX", "news@shop.example").await;

    f.move_and_learn("INBOX", "Junk", &[uid]).await;
    let rules = f.rules().await;
    assert_eq!(rules.len(), 1, "one rule per address: {rules:?}");
    assert_eq!(rules[0].kind, ListKind::Block);

    // And back: the message was a wanted newsletter after all.
    let in_junk = f.folder("Junk").await;
    let listed = f
        .stores
        .mail
        .list_messages(in_junk.id, &UidSet::all())
        .await
        .unwrap();
    let uids: Vec<u32> = listed.iter().map(|meta| meta.uid).collect();
    f.move_and_learn("Junk", "INBOX", &uids).await;
    let rules = f.rules().await;
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].kind, ListKind::Allow);
}

#[tokio::test]
async fn a_domain_rule_the_user_wrote_stays_and_the_address_outranks_it() {
    let f = fixture().await;
    f.rule(ListKind::Block, "@shop.example").await;
    let uid = f.message("Junk", "news@shop.example").await;

    f.move_and_learn("Junk", "INBOX", &[uid]).await;

    let domain = SenderPattern::parse("@shop.example").unwrap();
    let rules = f.rules().await;
    assert!(
        rules
            .iter()
            .any(|rule| rule.pattern == domain && rule.kind == ListKind::Block),
        "the domain rule is untouched: {rules:?}"
    );
    assert_eq!(f.verdict("news@shop.example").await, Some(ListKind::Allow));
    assert_eq!(f.verdict("sales@shop.example").await, Some(ListKind::Block));
}

#[tokio::test]
async fn one_move_learns_at_most_the_cap_of_senders() {
    let f = fixture().await;
    let mut uids = Vec::new();
    for n in 0..MAX_LEARNT_PER_MOVE + 5 {
        uids.push(f.message("INBOX", &format!("sender{n}@bulk.example")).await);
    }

    let learnt = f.move_and_learn("INBOX", "Junk", &uids).await;

    assert_eq!(learnt.blocked.len(), MAX_LEARNT_PER_MOVE);
    assert_eq!(f.rules().await.len(), MAX_LEARNT_PER_MOVE);
    assert_eq!(
        f.verdict("sender0@bulk.example").await,
        Some(ListKind::Block),
        "the first senders are the ones learnt"
    );
    let last = format!("sender{}@bulk.example", MAX_LEARNT_PER_MOVE + 4);
    assert_eq!(f.verdict(&last).await, None);
}

#[tokio::test]
async fn a_message_without_a_sender_address_teaches_nothing() {
    let f = fixture().await;
    let raw = b"From: undisclosed-recipients:;\r\nSubject: ?\r\n\r\nbody\r\n";
    let index = MessageIndex::parse(raw);
    let inbox = f.folder("INBOX").await;
    let uid = f
        .stores
        .mail
        .append(inbox.id, raw, &index, &Flags::none(), NOW)
        .await
        .unwrap()
        .uid;

    let learnt = f.move_and_learn("INBOX", "Junk", &[uid]).await;

    assert_eq!(learnt, Learnt::default());
    assert!(f.rules().await.is_empty());
}

#[tokio::test]
async fn the_mailboxs_own_address_is_never_learnt() {
    let f = fixture().await;
    // Spam forging the recipient's own address, beside a real spammer.
    let forged = f.message("INBOX", "Toto@Example.test").await;
    let spam = f.message("INBOX", "promo@spam.example").await;
    let source = f.folder("INBOX").await;
    let junk = f.folder("Junk").await;
    let copied = f
        .stores
        .mail
        .copy_messages(source.id, &UidSet::from_uids([forged, spam]), junk.id)
        .await
        .unwrap();
    let uids: Vec<u32> = copied.uids.iter().map(|&(_, uid)| uid).collect();
    let own: Address = TOTO.parse().unwrap();

    let learnt = f
        .learning
        .learn_as(f.mailbox, &own, &source, &junk, &uids)
        .await
        .unwrap();

    assert_eq!(addresses(&learnt.blocked), ["promo@spam.example"]);
    assert_eq!(f.verdict(TOTO).await, None, "{:?}", f.rules().await);
}
