//! Micro-benchmark of the reads IMAP does per command, on an existing data folder.
//!
//! ```text
//! cargo run --release -p postwerk-store --example read_bench DATA_DIR ADDRESS [FOLDER]
//! ```
//!
//! First the folder view that `FETCH 1:* (FLAGS UID RFC822.SIZE ENVELOPE)` reads (`fetch_view`):
//! cold on stores just opened (metadata only, then with the ENVELOPEs rendered from the
//! indexes), then warm. Then `select_view` (SELECT),
//! `list_messages` and `message_indexes` over the whole folder (what FETCH read before the
//! view) and `search_text`, five runs each after one warm-up. Not a test and not run in CI.

use std::time::Instant;

use postwerk_store::{FetchParts, UidSet, open_sqlite};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().ok_or("DATA_DIR")?);
    let address = args.next().ok_or("ADDRESS")?;
    let folder_name = args.next().unwrap_or_else(|| "INBOX".into());
    let stores = open_sqlite(&dir).await?;
    let hosted = stores
        .directory
        .address_by_address(&address.parse()?)
        .await?
        .ok_or("no such address")?;
    let folder = stores
        .mail
        .folder_by_name(hosted.id, &folder_name)
        .await?
        .ok_or("no such folder")?;
    let mail = stores.mail.clone();
    let all = UidSet::all();
    let envelope = FetchParts {
        envelope: true,
        body_structure: false,
    };
    // Cold: on a store just opened, as the first FETCH after a start finds it.
    let start = Instant::now();
    let metas = mail.fetch_view(folder.id, &all, FetchParts::NONE).await?;
    let metas_ms = start.elapsed().as_secs_f64() * 1e3;
    let fresh = open_sqlite(&dir).await?;
    let start = Instant::now();
    let view = fresh.mail.fetch_view(folder.id, &all, envelope).await?;
    let envelopes_ms = start.elapsed().as_secs_f64() * 1e3;
    fresh.close().await;
    println!(
        "fetch_view cold, {} messages: metadata only {metas_ms:.1} ms, with ENVELOPEs {envelopes_ms:.1} ms; \
         {} octets cached ({} per message)",
        metas.len(),
        view.bytes(),
        view.bytes() / view.len().max(1)
    );
    mail.fetch_view(folder.id, &all, envelope).await?;
    for _ in 0..3 {
        let start = Instant::now();
        let view = mail.fetch_view(folder.id, &all, envelope).await?;
        println!(
            "fetch_view warm: {:.2} ms ({} messages)",
            start.elapsed().as_secs_f64() * 1e3,
            view.len()
        );
    }
    for round in 0..6 {
        let start = Instant::now();
        let view = mail.select_view(folder.id).await?;
        let selected = start.elapsed();
        let start = Instant::now();
        let metas = mail.list_messages(folder.id, &all).await?;
        let listed = start.elapsed();
        let start = Instant::now();
        let indexes = mail.message_indexes(folder.id, &all).await?;
        let indexed = start.elapsed();
        let start = Instant::now();
        let hits = mail.search_text(folder.id, "quetzalcoatl").await?;
        let searched = start.elapsed();
        if round > 0 {
            println!(
                "select_view {} uids: {:>6.1} ms   list_messages {} rows: {:>7.1} ms   message_indexes {} rows: {:>7.1} ms   \
                 search_text {} hits: {:>6.1} ms",
                view.uids.len(),
                selected.as_secs_f64() * 1e3,
                metas.len(),
                listed.as_secs_f64() * 1e3,
                indexes.len(),
                indexed.as_secs_f64() * 1e3,
                hits.len(),
                searched.as_secs_f64() * 1e3
            );
        }
    }
    stores.close().await;
    Ok(())
}
