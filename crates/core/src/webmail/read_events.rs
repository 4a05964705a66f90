//! Live updates (CLI-1): the store's change events of one mailbox, so a page learns that mail
//! arrived or counts changed without polling.
//!
//! The access check is made once, when subscribing; whoever turns a change into something
//! shown (the web's counts) reads through the other `Webmail` methods, which check again.

use postwerk_model::{AddressId, FolderId, UserId};
use postwerk_store::{FolderEvent, FolderEventKind};
use tokio::sync::broadcast::{self, error::RecvError};

use super::Webmail;
use crate::CoreError;

/// One change to a mailbox's folders, as little as a page needs to decide what to refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderChange {
    /// The folder that changed; `None` when changes were lost (the subscriber fell behind the
    /// store's event buffer), so any folder may have changed and everything must be re-read.
    pub folder: Option<FolderId>,
    /// Whether messages were added (delivery, APPEND, COPY, MOVE). `true` as well when
    /// changes were lost, since they may have included new mail.
    pub added: bool,
}

impl FolderChange {
    /// The change a lagging subscriber reports: anything may have happened.
    const EVERYTHING: FolderChange = FolderChange {
        folder: None,
        added: true,
    };
}

/// The changes of one mailbox's folders from the moment of [`Webmail::subscribe`] on.
#[derive(Debug)]
pub struct MailboxEvents {
    /// The store's events of this mailbox only: other mailboxes' changes never wake the page.
    receiver: broadcast::Receiver<FolderEvent>,
}

impl MailboxEvents {
    /// The next change of the mailbox, waiting for it; `None` once the store stops publishing
    /// (it shut down).
    pub async fn next(&mut self) -> Option<FolderChange> {
        match self.receiver.recv().await {
            Ok(event) => Some(FolderChange {
                folder: Some(event.folder),
                added: matches!(event.kind, FolderEventKind::Appended { .. }),
            }),
            // Some events were dropped before we read them: the caller re-reads everything
            // rather than miss new mail.
            Err(RecvError::Lagged(_)) => Some(FolderChange::EVERYTHING),
            Err(RecvError::Closed) => None,
        }
    }
}

impl Webmail {
    /// The changes of `mailbox`'s folders from now on, if `user` may read it (ADDR-9).
    ///
    /// Subscribed before this returns, so a change committed afterwards is never missed; a
    /// caller that shows counts reads them after subscribing.
    pub async fn subscribe(
        &self,
        user: UserId,
        mailbox: AddressId,
    ) -> Result<MailboxEvents, CoreError> {
        self.checked_mailbox(user, mailbox).await?;
        Ok(MailboxEvents {
            receiver: self.mail.subscribe(mailbox),
        })
    }
}
