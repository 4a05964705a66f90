//! `/mail/{mailbox}/events`: live updates of the message list as Server-Sent Events
//! (CLI-1; the HTML Living Standard's `text/event-stream`), pushed from the store's change
//! events through `core::Webmail::subscribe`. mail.js falls back to polling `/counts`
//! without EventSource or when the stream keeps failing.
//!
//! Each `counts` event carries the same JSON as `/mail/{mailbox}/counts`, read after the
//! change: one when the stream opens (mail that arrived between drawing the page and
//! subscribing, or while the browser reconnected, is not missed), then at most one per
//! [`SETTLE`] however many changes come in a burst. Keep-alive comments every [`KEEP_ALIVE`]
//! hold proxies' idle timers open.
//!
//! A stream lives at most [`LIFETIME`], then the browser reconnects on its own (EventSource
//! does). That reconnection passes the sign-in check of every page, so a stream ends at most
//! that long after its session (sign-out, expiry, a password change: ID-6) without a session
//! check of its own; and a graceful shutdown of the server, which waits for open responses,
//! waits at most that long for this one. Access to the mailbox is checked by `core` on every
//! counts read, so a withdrawn grant ends the stream at the next change.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use postwerk_model::{AddressId, UserId};
use tokio::time::Instant;

use super::list::folder_counts;
use super::webmail;
use crate::ApiState;
use crate::ui::page::{PageError, PageUser};

/// The least time between two `counts` events of one stream: a burst of deliveries is one or
/// two events, not one per message.
const SETTLE: Duration = Duration::from_millis(500);
/// Keep-alive comments, below the usual 30–60 s idle timeouts of proxies.
const KEEP_ALIVE: Duration = Duration::from_secs(25);
/// How long one stream lives before the browser is left to reconnect.
const LIFETIME: Duration = Duration::from_secs(60);

/// `GET /mail/{mailbox}/events`.
pub async fn stream(
    State(state): State<ApiState>,
    me: PageUser,
    Path(mailbox): Path<AddressId>,
) -> Result<Response, PageError> {
    let events = webmail(&state)?.subscribe(me.user.id, mailbox).await?;
    // Which folder changed does not matter here: every event carries all the counts.
    let changes = futures::stream::unfold(events, |mut events| async move {
        events.next().await.map(|_change| ((), events))
    })
    .boxed();
    let live = Live {
        state,
        user: me.user.id,
        mailbox,
        changes,
        ends_at: Instant::now() + LIFETIME,
        last_sent: None,
    };
    let mut response = Sse::new(counts_events(live))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    // Events must leave at once: a buffering reverse proxy (nginx) would hold them back.
    // This crate compresses nothing, so no compression layer buffers them either.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// The `counts` events of one stream: the current counts first, then after each change.
fn counts_events(live: Live) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(live, |mut live| async move {
        let event = live.next_event().await?;
        Some((Ok(event), live))
    })
}

/// One open stream.
struct Live {
    state: ApiState,
    user: UserId,
    mailbox: AddressId,
    /// One item per change of the mailbox (`core::Webmail::subscribe`); ends with the store.
    changes: BoxStream<'static, ()>,
    /// See [`LIFETIME`].
    ends_at: Instant,
    /// When the last `counts` event was read, `None` before the first.
    last_sent: Option<Instant>,
}

impl Live {
    /// The next event to send; `None` ends the stream.
    async fn next_event(&mut self) -> Option<Event> {
        if let Some(last_sent) = self.last_sent {
            self.wait_for_change().await?;
            self.settle(last_sent + SETTLE).await?;
        }
        self.last_sent = Some(Instant::now());
        // Read after the changes were taken in: the store publishes after its commit, so
        // these counts include every change seen so far.
        let counts = folder_counts(&self.state, self.user, self.mailbox)
            .await
            .ok()?;
        Event::default().event("counts").json_data(counts).ok()
    }

    /// Waits for a change of the mailbox; `None` when the store closed or the stream's
    /// lifetime is over.
    async fn wait_for_change(&mut self) -> Option<()> {
        tokio::select! {
            change = self.changes.next() => change,
            () = tokio::time::sleep_until(self.ends_at) => None,
        }
    }

    /// Lets a burst of changes pass until `until`, taking in the changes that arrive
    /// meanwhile; `None` when the store closed.
    async fn settle(&mut self, until: Instant) -> Option<()> {
        let until = tokio::time::sleep_until(until);
        tokio::pin!(until);
        loop {
            tokio::select! {
                () = &mut until => return Some(()),
                change = self.changes.next() => change?,
            }
        }
    }
}
