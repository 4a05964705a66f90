//! SND-1 send-as grants: "an address it has been granted". An administrator lets a mailbox
//! send as another hosted address of the same organization ("sales@ may be sent as by anna@
//! and bob@"); [`crate::AuthGuards::owns`] then accepts that address, and its aliases, as the
//! mailbox's envelope sender and `From:`.
//!
//! Who may grant: the owners and administrators of the organization (ORG-1), or the operator.
//! What may be granted: the sender must be an address someone logs into to send (a mailbox or
//! the catch-all mailbox); the granted address may be of any kind (a shared mailbox, a
//! no-reply, a redirect-only address), but never of another organization.

use postwerk_model::{Address, HostedAddress};

use super::{Actor, Admin, Need};
use crate::CoreError;
use crate::audit::{Change, Owners};

impl Admin {
    /// Lets the mailbox `mailbox` send as `address` (both full addresses, in the primary or an
    /// alias domain). Administrators of their organization only. Granting an address the
    /// mailbox has been granted already changes nothing. Returns the granted address.
    pub async fn grant_send_as(
        &self,
        actor: Actor,
        mailbox: &str,
        address: &str,
    ) -> Result<HostedAddress, CoreError> {
        let (sender, granted) = self.send_as_pair(actor, mailbox, address).await?;
        if !sender.kind.holds_mail() {
            return Err(CoreError::Invalid(format!(
                "{} is a {} address that nobody logs into, so it cannot be given other \
                 addresses to send as; choose a mailbox",
                sender.address, sender.kind
            )));
        }
        if sender.id == granted.id {
            return Err(CoreError::Invalid(format!(
                "{} may always send as itself; choose another address to grant",
                sender.address
            )));
        }
        let org = self.service_of(&sender).await?.org;
        if self.service_of(&granted).await?.org != org {
            return Err(CoreError::Invalid(format!(
                "{} belongs to another organization than {}, so it cannot be granted to it",
                granted.address, sender.address
            )));
        }
        if self.directory.may_send_as(sender.id, granted.id).await? {
            return Ok(granted);
        }
        self.directory.grant_send_as(sender.id, granted.id).await?;
        self.audit_send_as(actor, &sender, &granted, org, true)
            .await;
        Ok(granted)
    }

    /// Takes back the mailbox's grant to send as `address`. Administrators of their
    /// organization only; `NotFound` when there was no such grant.
    pub async fn revoke_send_as(
        &self,
        actor: Actor,
        mailbox: &str,
        address: &str,
    ) -> Result<(), CoreError> {
        let (sender, granted) = self.send_as_pair(actor, mailbox, address).await?;
        if !self.directory.may_send_as(sender.id, granted.id).await? {
            return Err(CoreError::NotFound(format!(
                "{} has not been granted to send as {}",
                sender.address, granted.address
            )));
        }
        self.directory.revoke_send_as(sender.id, granted.id).await?;
        let org = self.service_of(&sender).await?.org;
        self.audit_send_as(actor, &sender, &granted, org, false)
            .await;
        Ok(())
    }

    /// The addresses the mailbox has been granted to send as, by address. Administrators, or
    /// a user with access to the mailbox (who sends from it).
    pub async fn list_send_as(
        &self,
        actor: Actor,
        mailbox: &str,
    ) -> Result<Vec<HostedAddress>, CoreError> {
        let sender = self.address_for(actor, mailbox, Need::Access).await?.hosted;
        Ok(self.directory.send_as_grants(sender.id).await?)
    }

    /// The mailboxes that may send as `address`, by address. Administrators only.
    pub async fn send_as_holders(
        &self,
        actor: Actor,
        address: &str,
    ) -> Result<Vec<HostedAddress>, CoreError> {
        let granted = self.hosted(actor, address).await?;
        Ok(self.directory.send_as_holders(granted.id).await?)
    }

    /// The sender, which the actor must administer, and the granted address, looked up
    /// whoever asks (an unknown address is `NotFound` for everyone, as at SMTP RCPT).
    async fn send_as_pair(
        &self,
        actor: Actor,
        mailbox: &str,
        address: &str,
    ) -> Result<(HostedAddress, HostedAddress), CoreError> {
        let sender = self.hosted(actor, mailbox).await?;
        let address = Address::parse(address)?;
        let service = self.service_serving(address.domain()).await?;
        let primary = Address::new(address.local().clone(), service.domain.clone())?;
        let granted = self
            .directory
            .address_by_address(&primary)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("the address {address} does not exist")))?;
        Ok((sender, granted))
    }

    /// ID-11: the grant or revocation, in the sender's entries and its organization's.
    async fn audit_send_as(
        &self,
        actor: Actor,
        sender: &HostedAddress,
        granted: &HostedAddress,
        org: postwerk_model::OrgId,
        given: bool,
    ) {
        let context = self.change_context(actor).await;
        let (event, detail) = if given {
            (
                "send_as_granted",
                format!("may send as {}", granted.address),
            )
        } else {
            (
                "send_as_revoked",
                format!("may no longer send as {}", granted.address),
            )
        };
        self.audit.change(Change {
            protocol: context.protocol,
            ip: None,
            actor: context.actor,
            subject: sender.address.to_string(),
            event,
            detail,
            owners: Owners {
                user: None,
                address: Some(sender.id),
                org: Some(org),
            },
        });
    }
}
