//! ID-5 against the store: where one account and one mailbox stand, and the end of a
//! unification whose conditions stopped holding. [`super::Identity`] (account side) and
//! [`crate::Admin`] (mailbox side) both decide through here, so the two screens never
//! disagree.

use std::net::IpAddr;

use postwerk_model::{
    HostedAddress, OrgId, Permissions, UnificationBlocker, UserAccount, unification_blockers,
};
use postwerk_store::{Directory, IdentityStore, StoreError};

use crate::CoreError;
use crate::audit::{Audit, Change, Owners, Protocol};

/// One account and one mailbox, as ID-5 sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Standing {
    /// What prevents unification now; empty when all three conditions hold.
    pub(crate) blockers: Vec<UnificationBlocker>,
    /// The store marks the two as unified.
    pub(crate) marked: bool,
    /// The organization of the mailbox's service (for the audit log).
    pub(crate) org: Option<OrgId>,
}

impl Standing {
    /// Unified, and rightly so.
    pub(crate) fn unified(&self) -> bool {
        self.marked && self.blockers.is_empty()
    }

    /// Marked unified although a condition no longer holds: the mark must go.
    pub(crate) fn stale(&self) -> bool {
        self.marked && !self.blockers.is_empty()
    }

    /// The blockers as one sentence.
    pub(crate) fn explanation(&self) -> String {
        explain(&self.blockers)
    }
}

/// The ID-5 conditions for `account` and `mailbox`: (a) the login is the address, (b) the
/// account is the only one with access, (c) its access holds `CHANGE_PASSWORD` (the store
/// applies the same rule when access changes). Administering the organization is not access:
/// an administrator without an access row is blocked by (b) and (c).
pub(crate) async fn standing(
    directory: &dyn Directory,
    identity: &dyn IdentityStore,
    account: &UserAccount,
    mailbox: &HostedAddress,
) -> Result<Standing, CoreError> {
    let access = directory.address_access(mailbox.id).await?;
    let may_change = access.iter().any(|grant| {
        grant.user == account.id && grant.permissions.contains(Permissions::CHANGE_PASSWORD)
    });
    let org = directory.service(mailbox.service).await?.map(|s| s.org);
    let blockers = unification_blockers(&account.login, &mailbox.address, access.len(), may_change);
    let marked = identity.unified_address(account.id).await? == Some(mailbox.id);
    Ok(Standing {
        blockers,
        marked,
        org,
    })
}

/// The explanations of `blockers`, joined into one sentence.
pub(crate) fn explain(blockers: &[UnificationBlocker]) -> String {
    let sentences: Vec<&str> = blockers.iter().map(|b| b.explanation()).collect();
    sentences.join("; ")
}

/// What the audit entries of one unification change need besides the account and mailbox.
#[derive(Debug, Clone)]
pub(crate) struct ChangeContext {
    /// Where the change was made.
    pub(crate) protocol: Protocol,
    /// The client.
    pub(crate) ip: Option<IpAddr>,
    /// Who made it: `operator` or a login.
    pub(crate) actor: String,
}

/// Removes the unification mark of `account` and `mailbox` (whose conditions stopped
/// holding) and records why. A mark already gone with its access row is fine.
pub(crate) async fn end(
    identity: &dyn IdentityStore,
    audit: &Audit,
    account: &UserAccount,
    mailbox: &HostedAddress,
    standing: &Standing,
    context: &ChangeContext,
) -> Result<(), CoreError> {
    match identity.set_unified(account.id, mailbox.id, false).await {
        Ok(()) | Err(StoreError::NotFound(_)) => {}
        Err(error) => return Err(error.into()),
    }
    audit.change(Change {
        protocol: context.protocol,
        ip: context.ip,
        actor: context.actor.clone(),
        subject: mailbox.address.to_string(),
        event: "unification_ended",
        detail: format!(
            "the passwords of the account {} and the mailbox {} are separate again: {}",
            account.login,
            mailbox.address,
            standing.explanation()
        ),
        owners: Owners {
            user: Some(account.id),
            address: Some(mailbox.id),
            org: standing.org,
        },
    });
    Ok(())
}
