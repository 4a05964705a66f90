//! Micro-benchmark of full-text search (IMAP `UID SEARCH TEXT` / `BODY`, issue 4) in the store.
//!
//! ```text
//! cargo run --release -p postwerk-store --example search_bench [DATA_DIR] [FOLDER_SIZE] [OTHERS]
//! ```
//!
//! Fills, once, the mailbox `bench` with FOLDER_SIZE messages (default 10,000) and ten other
//! mailboxes with OTHERS messages between them (default 100,000): the full-text index holds
//! every message of the server, so a search in one mailbox must not pay for the others. The
//! messages are like `bench/imap-bench.py`'s: 2–4 KB of words from one vocabulary, the rare word
//! in the body of one message in 2,000, and a word absent from every message whose trigrams
//! are all common. A DATA_DIR that already holds the mailboxes is reused as it is (pass one to
//! compare two builds on the same data); without one, a temporary folder is filled and removed.
//!
//! Then, after the indexer has caught up, each search runs once to warm up and seven times
//! timed; it prints the median and the range. Not a test and not run in CI.

use std::sync::Arc;
use std::time::Instant;

use postwerk_message::MessageIndex;
use postwerk_model::{AddressId, AddressKind, Domain, LocalPart, Permissions, ServiceFeatures};
use postwerk_store::{
    DeliveryTarget, Flags, MailStore, NewAddress, NewService, Stores, open_sqlite,
};

/// The word in the body of one message in [`HIT_EVERY`].
const HIT_WORD: &str = "quetzalcoatl";
const HIT_EVERY: usize = 2000;
/// In no message, though "budget" and "review" are in the vocabulary.
const NONE_WORD: &str = "budgetreview";
/// In every subject of the benchmarked mailbox and no body.
const SUBJECT_WORD: &str = "zanzibar";
/// Mailboxes beside the benchmarked one.
const OTHER_MAILBOXES: usize = 10;
/// Concurrent deliveries while filling (group commit shares the commits).
const WRITERS: usize = 64;
const RUNS: usize = 7;

const VOCABULARY: &str = "the of and to in is that for it as was with be by on not he this are \
or his from at which but have an they you were her she there been one all we their has would \
when if so no will more can about out up what into them some time only could new than other \
then these two may first any like now people my made over did down way find use water long \
little very after words called just where most know get through back much before go good year \
three work well also meeting budget review report project schedule deadline customer invoice \
quarter team office update agenda minutes proposal contract supplier delivery order payment \
account balance forecast revenue margin target launch release version feature issue ticket \
support service client partner vendor shipment warehouse inventory product price discount \
offer request approval signature document draft final attached please thanks regards tomorrow \
today monday tuesday wednesday thursday friday morning afternoon evening call conference room \
building floor lunch dinner travel flight hotel booking expense receipt policy training session";

const NAMES: &str = "anna ben clara david emma felix greta hugo ida jonas karla leon mia noah \
olga paul rosa sam tina ulf vera walter xenia yusuf zoe";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let given = args.next().map(std::path::PathBuf::from);
    let folder_size: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let others: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let temporary = match given {
        Some(_) => None,
        None => Some(tempfile::tempdir()?),
    };
    let dir = match (&given, &temporary) {
        (Some(dir), _) => dir.clone(),
        (None, Some(temp)) => temp.path().to_path_buf(),
        (None, None) => unreachable!("one of the two is set"),
    };
    let opened = Instant::now();
    let stores = open_sqlite(&dir).await?;
    let bench = match find_mailbox(&stores, "bench").await? {
        Some(bench) => bench,
        None => fill(&stores, folder_size, others).await?,
    };
    let started = Instant::now();
    stores.wait_indexed().await?;
    println!(
        "data folder {} opened in {:.0} ms; indexer caught up {:.1} s later",
        dir.display(),
        (started - opened).as_secs_f64() * 1e3,
        started.elapsed().as_secs_f64()
    );
    let inbox = stores
        .mail
        .folder_by_name(bench, "INBOX")
        .await?
        .ok_or("the bench mailbox has no INBOX")?
        .id;
    let mail = stores.mail.clone();
    for (scope, needle) in [
        ("TEXT", HIT_WORD),
        ("TEXT", NONE_WORD),
        ("TEXT", "meeting"),
        ("TEXT", SUBJECT_WORD),
        ("BODY", HIT_WORD),
        ("BODY", NONE_WORD),
        ("BODY", "meeting"),
        ("BODY", SUBJECT_WORD),
    ] {
        let mut times = Vec::new();
        let mut hits = 0;
        for run in 0..=RUNS {
            let start = Instant::now();
            let found = if scope == "BODY" {
                mail.search_body(inbox, needle).await?
            } else {
                mail.search_text(inbox, needle).await?
            };
            hits = found.len();
            if run > 0 {
                times.push(start.elapsed().as_secs_f64() * 1e3);
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{scope} {needle:<14} {hits:>6} hits   median {:>7.2} ms   range {:.2}–{:.2} ms",
            times[times.len() / 2],
            times[0],
            times[times.len() - 1]
        );
    }
    stores.close().await;
    Ok(())
}

async fn find_mailbox(
    stores: &Stores,
    local: &str,
) -> Result<Option<AddressId>, Box<dyn std::error::Error>> {
    let address = format!("{local}@search.example").parse()?;
    Ok(stores
        .directory
        .address_by_address(&address)
        .await?
        .map(|hosted| hosted.id))
}

/// Create the mailboxes and deliver their messages; returns the benchmarked mailbox.
async fn fill(
    stores: &Stores,
    folder_size: usize,
    others: usize,
) -> Result<AddressId, Box<dyn std::error::Error>> {
    let org = stores.directory.create_org("Search bench").await?;
    let service = stores
        .directory
        .create_service(NewService {
            org: org.id,
            domain: Domain::parse("search.example")?,
            address_quota: 100,
            features: ServiceFeatures::default(),
            default_permissions: Permissions::READ_SEND,
            signature_templates: Vec::new(),
            dkim: None,
        })
        .await?;
    let mut mailboxes = Vec::new();
    for n in 0..=OTHER_MAILBOXES {
        let local = if n == 0 {
            "bench".to_owned()
        } else {
            format!("other{n}")
        };
        let hosted = stores
            .directory
            .create_address(NewAddress {
                service: service.id,
                local: LocalPart::parse(&local)?,
                kind: AddressKind::Mailbox,
                display_name: String::new(),
                password_hash: Some("$argon2id$bench".to_owned()),
                redirect: None,
                storage_limit: None,
            })
            .await?;
        mailboxes.push(hosted.id);
    }
    let started = Instant::now();
    let mail = stores.mail.clone();
    let total = folder_size + others;
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let mail: Arc<dyn MailStore> = mail.clone();
            let mailboxes = mailboxes.clone();
            tokio::spawn(async move {
                for n in (w..total).step_by(WRITERS) {
                    // The first `folder_size` go to the benchmarked mailbox.
                    let (mailbox, subject_word) = if n < folder_size {
                        (mailboxes[0], SUBJECT_WORD)
                    } else {
                        (mailboxes[1 + n % OTHER_MAILBOXES], "")
                    };
                    let raw = message(n, subject_word);
                    let index = MessageIndex::parse(&raw);
                    let target = [DeliveryTarget::inbox(mailbox)];
                    mail.deliver(&raw, &index, &target, &Flags::none(), 1_767_600_000)
                        .await?;
                }
                Ok::<_, postwerk_store::StoreError>(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    println!(
        "delivered {total} messages in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(mailboxes[0])
}

/// A small deterministic generator (xorshift64*): the messages are the same on every run.
struct Words(u64);

impl Words {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[self.below(words.len())]
    }
}

/// Message number `n`: 2–4 KB, with `subject_word` (if any) in its subject only.
fn message(n: usize, subject_word: &str) -> Vec<u8> {
    let vocabulary: Vec<&str> = VOCABULARY.split_whitespace().collect();
    let names: Vec<&str> = NAMES.split_whitespace().collect();
    let mut r = Words(n as u64 * 7919 + 17);
    let (first, last) = (r.pick(&names), r.pick(&names));
    let subject: Vec<&str> = (0..3 + r.below(6)).map(|_| r.pick(&vocabulary)).collect();
    let head = format!(
        "Received: from mx{}.example.org (mx.example.org [192.0.2.{}])\r\n\
         \tby mail.search.example with ESMTPS id {:012x}\r\n\
         From: \"{first} {last}\" <{first}.{last}@example.org>\r\n\
         To: \"Bench\" <bench@search.example>\r\n\
         Subject: {} {subject_word}\r\n\
         Date: Mon, 05 Jan 2026 08:00:00 +0000\r\n\
         Message-ID: <{n}.{:010x}@example.org>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
        1 + r.below(9),
        1 + r.below(254),
        r.next() & 0xffff_ffff_ffff,
        subject.join(" "),
        r.next() & 0xff_ffff_ffff,
    );
    let target = 2000 + r.below(2000);
    let mut body = format!("Hello {},\r\n\r\n", r.pick(&names));
    let mut line_number = 0;
    while head.len() + body.len() < target {
        let mut line: Vec<&str> = Vec::new();
        let mut width = 0;
        while width < 68 {
            let word = r.pick(&vocabulary);
            width += word.len() + 1;
            line.push(word);
        }
        if n % HIT_EVERY == 7 && line_number == 3 {
            line[3] = HIT_WORD;
        }
        body.push_str(&line.join(" "));
        body.push_str("\r\n");
        line_number += 1;
    }
    body.push_str(&format!("\r\nRegards,\r\n{first} {last}\r\n"));
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body.as_bytes());
    raw
}
