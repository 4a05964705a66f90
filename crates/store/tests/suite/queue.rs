//! The outbound queue (filled by SMTP, issue 3; drained by the outbound delivery, issue 6).

use postwerk_model::{AddressId, EnvelopeAddress};
use postwerk_store::{
    DsnRet, NewQueued, Notify, QueueId, QueuedRecipient, RecipientState, RecipientStatus,
    StoreError,
};

use super::*;

/// A recipient: address, NOTIFY, ORCPT, forwarding address.
type Rcpt<'a> = (&'a str, Option<Notify>, Option<&'a str>, Option<&'a str>);

fn entry(recipients: &[Rcpt<'_>]) -> NewQueued {
    NewQueued {
        return_path: "sender@test.example".into(),
        recipients: recipients
            .iter()
            .map(|(to, notify, orcpt, forwarded_by)| QueuedRecipient {
                address: EnvelopeAddress::parse(to).expect("a valid envelope address"),
                notify: *notify,
                orcpt: orcpt.map(Into::into),
                forwarded_by: forwarded_by.map(address),
            })
            .collect(),
        envid: Some("ENV-1".into()),
        ret: Some(DsnRet::Headers),
        received_at: DATE,
        submitted_by: Some(AddressId(7)),
        held: None,
    }
}

fn queue_files<B: Backend>(harness: &Harness<'_, B>) -> usize {
    let root = harness.dir().join(postwerk_store::QUEUE_FOLDER);
    let Ok(entries) = std::fs::read_dir(&root) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_name() != "tmp" && e.path().is_dir())
        .map(|e| std::fs::read_dir(e.path()).map_or(0, |files| files.count()))
        .sum()
}

/// Enqueue keeps the envelope and the DSN parameters exactly; dequeue removes the content
/// only once no other entry shares it.
pub async fn snd_2_queue_round_trips_envelope_dsn_parameters_and_content<B: Backend>(backend: &B) {
    let harness = Harness::new(backend).await;
    let queue = &harness.stores().queue;
    let never = Notify::default();
    let some = Notify {
        success: true,
        failure: true,
        delay: false,
    };
    let first = entry(&[
        ("a@remote.example", None, None, None),
        (
            "b@remote.example",
            Some(never),
            Some("rfc822;b@remote.example"),
            None,
        ),
        (
            "c@remote.example",
            Some(some),
            None,
            Some("fwd@test.example"),
        ),
    ]);
    let id1 = queue
        .enqueue(b"same content", first.clone())
        .await
        .expect("enqueue");
    // RFC 6531: a remote mailbox with a non-ASCII or quoted local part is kept exactly.
    let mut second = entry(&[
        ("d@remote.example", None, None, None),
        ("用户@例子.中国", None, None, None),
        ("\"john doe\"@remote.example", None, None, None),
    ]);
    second.return_path = String::new();
    second.envid = None;
    second.ret = None;
    second.submitted_by = None;
    let id2 = queue
        .enqueue(b"same content", second.clone())
        .await
        .expect("enqueue");
    assert!(id2 > id1);

    let listed = queue.queued().await.expect("list");
    assert_eq!(listed.len(), 2);
    assert_eq!((listed[0].id, &listed[0].message), (id1, &first));
    assert_eq!((listed[1].id, &listed[1].message), (id2, &second));
    assert_eq!(listed[0].size, 12);
    assert_eq!(
        listed[0].blob, listed[1].blob,
        "identical content is stored once"
    );
    assert_eq!(queue.read_queued(id2).await.expect("read"), b"same content");
    assert_eq!(queue_files(&harness), 1);

    queue.dequeue(id1).await.expect("dequeue");
    assert_eq!(
        queue.read_queued(id2).await.expect("still there"),
        b"same content"
    );
    queue.dequeue(id2).await.expect("dequeue");
    assert_eq!(
        queue_files(&harness),
        0,
        "the last entry takes its content along"
    );
    assert!(queue.queued().await.expect("list").is_empty());
    assert_not_found(queue.dequeue(id2).await);
    assert_not_found(queue.read_queued(QueueId(999)).await);
    let empty = NewQueued {
        recipients: Vec::new(),
        ..first
    };
    assert!(matches!(
        queue.enqueue(b"x", empty).await,
        Err(StoreError::Refused(_))
    ));
}

/// RCV-12: an answered enqueue survives a restart; the queue's contents are apart from the
/// mailboxes', so deleting a mailbox whose message has the same bytes keeps the queued copy.
pub async fn rcv_12_queue_is_durable_and_apart_from_mailbox_contents<B: Backend>(backend: &B) {
    let mut harness = Harness::new(backend).await;
    let stores = harness.stores().clone();
    let (_, service) = service(&stores, "test.example", 10).await;
    let toto = mailbox(&stores, &service, "toto").await;
    let (raw, index) = message("shared", "bytes");
    stores
        .mail
        .deliver(
            &raw,
            &index,
            &[DeliveryTarget::inbox(toto.id)],
            &Flags::none(),
            DATE,
        )
        .await
        .expect("deliver");
    let id = stores
        .queue
        .enqueue(&raw, entry(&[("x@remote.example", None, None, None)]))
        .await
        .expect("enqueue");
    stores
        .directory
        .delete_addresses(&[toto.id])
        .await
        .expect("delete");
    harness.reopen().await;
    let queue = &harness.stores().queue;
    assert_eq!(queue.queued().await.expect("list").len(), 1);
    assert_eq!(queue.read_queued(id).await.expect("read"), raw);
}

/// Issue 6: a worker leases what is due; nobody else gets it while the lease holds; the
/// recorded states persist and release the lease; a lease never released (the worker died)
/// expires, and the message is leased again rather than forgotten.
pub async fn snd_4_lease_record_and_expire<B: Backend>(backend: &B) {
    let mut harness = Harness::new(backend).await;
    let queue = harness.stores().queue.clone();
    assert_eq!(queue.next_due().await.expect("next due"), None);
    let id = queue
        .enqueue(
            b"content",
            entry(&[
                ("a@remote.example", None, None, None),
                ("b@other.example", None, None, None),
            ]),
        )
        .await
        .expect("enqueue");
    assert_eq!(queue.next_due().await.expect("next due"), Some(0));

    let leased = queue.lease_due(1_000, 60, 10).await.expect("lease");
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0].id, id);
    assert_eq!(leased[0].leased_until, 1_060);
    assert_eq!(leased[0].states, vec![RecipientState::new(); 2]);
    assert!(
        queue
            .lease_due(1_001, 60, 10)
            .await
            .expect("lease")
            .is_empty(),
        "held by the first worker"
    );

    let delivered = RecipientState {
        status: RecipientStatus::Delivered,
        attempts: 1,
        last_attempt_at: Some(1_002),
        last_status: Some("2.0.0".into()),
        diagnostic: Some("250 2.0.0 queued as X".into()),
        remote_mta: Some("mx.remote.example".into()),
        ..RecipientState::new()
    };
    let deferred = RecipientState {
        attempts: 1,
        next_attempt_at: 1_300,
        last_attempt_at: Some(1_002),
        last_status: Some("4.2.2".into()),
        diagnostic: Some("452 4.2.2 mailbox full".into()),
        remote_mta: Some("mx.other.example".into()),
        ..RecipientState::new()
    };
    queue
        .record_attempt(id, vec![(0, delivered.clone()), (1, deferred.clone())])
        .await
        .expect("record");
    assert_eq!(queue.next_due().await.expect("next due"), Some(1_300));
    assert!(
        queue
            .lease_due(1_299, 60, 10)
            .await
            .expect("lease")
            .is_empty(),
        "nothing due before the retry time"
    );
    harness.reopen().await;
    let queue = harness.stores().queue.clone();
    let shown = queue.queued_message(id).await.expect("show");
    assert_eq!(shown.states, vec![delivered, deferred]);
    assert_eq!(shown.leased_until, 0, "recording released the lease");

    // A worker leases it and dies: the lease expires and the message comes back.
    assert_eq!(
        queue.lease_due(1_300, 60, 10).await.expect("lease").len(),
        1
    );
    assert!(
        queue
            .lease_due(1_359, 60, 10)
            .await
            .expect("lease")
            .is_empty()
    );
    assert_eq!(queue.next_due().await.expect("next due"), Some(1_360));
    assert_eq!(
        queue.lease_due(1_360, 60, 10).await.expect("lease").len(),
        1
    );

    assert_not_found(queue.record_attempt(QueueId(999), Vec::new()).await);
    assert_not_found(queue.queued_message(QueueId(999)).await);

    // A restart of the only process delivering: its leases go at once.
    assert_eq!(queue.release_leases().await.expect("release"), 1);
    assert_eq!(
        queue.lease_due(1_361, 60, 10).await.expect("lease").len(),
        1
    );
}

/// `admin queue retry`: every pending recipient becomes due now, the lease is dropped, and
/// sleeping workers are woken.
pub async fn snd_4_retry_now_makes_pending_recipients_due<B: Backend>(backend: &B) {
    let harness = Harness::new(backend).await;
    let queue = harness.stores().queue.clone();
    let id = queue
        .enqueue(
            b"content",
            entry(&[
                ("a@remote.example", None, None, None),
                ("b@remote.example", None, None, None),
            ]),
        )
        .await
        .expect("enqueue");
    queue.lease_due(10, 60, 10).await.expect("lease");
    let failed = RecipientState {
        status: RecipientStatus::Failed,
        attempts: 1,
        next_attempt_at: 5_000,
        ..RecipientState::new()
    };
    let later = RecipientState {
        attempts: 1,
        next_attempt_at: 5_000,
        ..RecipientState::new()
    };
    queue
        .record_attempt(id, vec![(0, failed), (1, later)])
        .await
        .expect("record");
    let changed = queue.changed();
    let woken = changed.notified();
    tokio::pin!(woken);
    woken.as_mut().enable();
    queue.retry_now(id, 20).await.expect("retry");
    woken.await;
    let shown = queue.queued_message(id).await.expect("show");
    assert_eq!(shown.states[0].next_attempt_at, 5_000, "a failed one stays");
    assert_eq!(shown.states[1].next_attempt_at, 20);
    assert_eq!(queue.lease_due(20, 60, 10).await.expect("lease").len(), 1);
    assert_not_found(queue.retry_now(QueueId(999), 20).await);
}

/// SND-6: a held submission is kept, shown with its reason, and never leased or waited for
/// by the workers, until an administrator deals with it.
pub async fn snd_6_held_messages_are_never_leased<B: Backend>(backend: &B) {
    let harness = Harness::new(backend).await;
    let queue = harness.stores().queue.clone();
    let held = NewQueued {
        held: Some("spam score 17.0 (GTUBE)".into()),
        ..entry(&[("a@remote.example", None, None, None)])
    };
    let id = queue.enqueue(b"content", held).await.expect("enqueue");
    assert_eq!(queue.lease_due(10, 60, 10).await.expect("lease").len(), 0);
    assert_eq!(queue.next_due().await.expect("next due"), None);
    queue.retry_now(id, 20).await.expect("retry");
    assert_eq!(
        queue.lease_due(20, 60, 10).await.expect("lease").len(),
        0,
        "a retry does not release a hold"
    );
    let shown = queue.queued_message(id).await.expect("show");
    assert_eq!(
        shown.message.held.as_deref(),
        Some("spam score 17.0 (GTUBE)")
    );
    assert_eq!(queue.read_queued(id).await.expect("read"), b"content");
    let free = queue
        .enqueue(b"other", entry(&[("b@remote.example", None, None, None)]))
        .await
        .expect("enqueue");
    let leased = queue.lease_due(30, 60, 10).await.expect("lease");
    assert_eq!(leased.iter().map(|m| m.id).collect::<Vec<_>>(), [free]);
    queue
        .dequeue(id)
        .await
        .expect("an administrator deletes it");
}
