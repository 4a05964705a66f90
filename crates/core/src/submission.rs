//! Auth guards for submission (SND-1): a mailbox sends only as itself or what it was granted.
//!
//! The envelope sender (MAIL FROM) and every address of the `From:` header must be an address
//! the authenticated mailbox owns: the mailbox itself, one of its aliases, either of those in
//! one of the service's alias domains (SVC-3), or an address it has been granted. Ownership is
//! decided by the same directory lookup as recipient resolution ([`Directory::resolve_facts`]):
//! an address is owned when its exact match or its alias match is the mailbox. A catch-all
//! match does not count: catching mail for a name is not owning it.
//!
//! Granted addresses: an administrator may let a mailbox send as another hosted address of
//! its organization (`Directory::grant_send_as`, see `admin::send_as`). A granted address is
//! owned like the mailbox's own: its exact match, an alias of it, and either in an alias
//! domain pass, because they resolve to the granted address.

use std::sync::Arc;

use postwerk_message::MessageIndex;
use postwerk_model::Address;
use postwerk_store::Directory;

use crate::CoreError;
use crate::auth::Login;

/// The verdict of the auth guards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderCheck {
    /// The mailbox may send as this.
    Allowed,
    /// Not an address of the mailbox; the protocol answers SND-1's refusal.
    Denied,
}

/// SND-1 checks against the directory.
#[derive(Clone)]
pub struct AuthGuards {
    directory: Arc<dyn Directory>,
}

impl std::fmt::Debug for AuthGuards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthGuards").finish_non_exhaustive()
    }
}

impl AuthGuards {
    /// Guards reading `directory`.
    pub fn new(directory: Arc<dyn Directory>) -> AuthGuards {
        AuthGuards { directory }
    }

    /// Whether the mailbox of `login` owns `address` (itself, an alias, an alias-domain form,
    /// or any of those of an address it has been granted).
    pub async fn owns(&self, login: &Login, address: &Address) -> Result<bool, CoreError> {
        if *address == login.address {
            return Ok(true);
        }
        let facts = self.directory.resolve_facts(address).await?;
        for hosted in [facts.exact.as_ref(), facts.alias_of.as_ref()]
            .into_iter()
            .flatten()
        {
            if hosted.id == login.mailbox
                || self.directory.may_send_as(login.mailbox, hosted.id).await?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// SND-1 for the envelope sender, as given in MAIL FROM (`""` for the null sender).
    ///
    /// The null reverse-path is refused: a submitted message always has a sender that can
    /// receive its bounces, and a mailbox owns no empty address.
    pub async fn check_envelope(
        &self,
        login: &Login,
        reverse_path: &str,
    ) -> Result<SenderCheck, CoreError> {
        let Ok(sender) = Address::parse(reverse_path) else {
            return Ok(SenderCheck::Denied);
        };
        Ok(verdict(self.owns(login, &sender).await?))
    }

    /// SND-1 for the `From:` header of a parsed message: it must name at least one address,
    /// and every address it names must be owned.
    pub async fn check_from(
        &self,
        login: &Login,
        index: &MessageIndex,
    ) -> Result<SenderCheck, CoreError> {
        let from = &index.summary.from;
        if from.is_empty() {
            return Ok(SenderCheck::Denied);
        }
        for addr in from {
            let Some(text) = addr.address() else {
                return Ok(SenderCheck::Denied);
            };
            let Ok(address) = Address::parse(&text) else {
                return Ok(SenderCheck::Denied);
            };
            if !self.owns(login, &address).await? {
                return Ok(SenderCheck::Denied);
            }
        }
        Ok(SenderCheck::Allowed)
    }
}

fn verdict(owned: bool) -> SenderCheck {
    if owned {
        SenderCheck::Allowed
    } else {
        SenderCheck::Denied
    }
}
