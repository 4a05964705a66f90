//! RCV-4: a mailbox's sender allow list (whitelist) and block list (blacklist). Administrators
//! and users holding `MANAGE_FILTERS` on the mailbox manage them.

use postwerk_model::{HostedAddress, ListKind, Permissions, SenderPattern, SenderRule};

use super::{Actor, Admin, Need};
use crate::CoreError;

impl Admin {
    /// Adds `pattern` (`user@example.com`, `@example.com` or `example.com`) to the mailbox's
    /// allow or block list; a pattern already listed changes list.
    pub async fn add_sender_rule(
        &self,
        actor: Actor,
        address: &str,
        kind: ListKind,
        pattern: &str,
    ) -> Result<SenderRule, CoreError> {
        let hosted = self.filtered_mailbox(actor, address).await?;
        let rule = SenderRule {
            address: hosted.id,
            kind,
            pattern: SenderPattern::parse(pattern.trim())?,
        };
        self.manager.put_sender_rule(rule.clone()).await?;
        Ok(rule)
    }

    /// Removes `pattern` from the mailbox's lists.
    pub async fn remove_sender_rule(
        &self,
        actor: Actor,
        address: &str,
        pattern: &str,
    ) -> Result<(), CoreError> {
        let hosted = self.filtered_mailbox(actor, address).await?;
        let pattern = SenderPattern::parse(pattern.trim())?;
        Ok(self.manager.remove_sender_rule(hosted.id, &pattern).await?)
    }

    /// The mailbox's rules.
    pub async fn sender_rules(
        &self,
        actor: Actor,
        address: &str,
    ) -> Result<Vec<SenderRule>, CoreError> {
        let hosted = self.filtered_mailbox(actor, address).await?;
        Ok(self.manager.sender_rules(hosted.id).await?)
    }

    /// A mailbox whose lists the actor may manage: administrators, or `MANAGE_FILTERS`.
    /// Only addresses that receive mail into a mailbox have lists.
    async fn filtered_mailbox(
        &self,
        actor: Actor,
        address: &str,
    ) -> Result<HostedAddress, CoreError> {
        let need = Need::Permission(Permissions::MANAGE_FILTERS);
        let hosted = self.address_for(actor, address, need).await?.hosted;
        if !hosted.kind.holds_mail() {
            return Err(CoreError::Invalid(format!(
                "{} receives no mail into a mailbox, so it has no sender lists",
                hosted.address
            )));
        }
        Ok(hosted)
    }
}
