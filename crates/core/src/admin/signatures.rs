//! SVC-4 and ADDR-9 `manage_signatures`: a user picks their own signature for a mailbox among
//! the service's templates. The choice is the `signature` of the user's access row, the same
//! field an administrator sets with `grant_access`; the permissions of the row stay as they are.

use postwerk_model::{Access, MailService, Permissions};

use super::{Actor, Admin, Need, Reached};
use crate::CoreError;
use crate::audit::{Change, Owners};

impl Admin {
    /// The actor's own signature on the mailbox `address`: `Some(name)` names one of the
    /// service's templates, `None` means no signature. The actor needs an access row on the
    /// mailbox holding `MANAGE_SIGNATURES`; an administrator of the organization may also
    /// choose for themselves, given an access row (the signature lives on it). Other users'
    /// signatures are set with [`Admin::grant_access`].
    pub async fn choose_signature(
        &self,
        actor: Actor,
        address: &str,
        template: Option<&str>,
    ) -> Result<(), CoreError> {
        let Actor::User(user) = actor else {
            return Err(CoreError::Forbidden(
                "a signature belongs to a user's access to a mailbox; give that user their \
                 signature with the access instead"
                    .into(),
            ));
        };
        let need = Need::Permission(Permissions::MANAGE_SIGNATURES);
        let Reached { hosted, service } = self.address_for(actor, address, need).await?;
        let own = self
            .directory
            .address_access(hosted.id)
            .await?
            .into_iter()
            .find(|access| access.user == user)
            .ok_or_else(|| {
                CoreError::Forbidden(format!(
                    "you have no access to {}, so it has no signature of yours; give your \
                     account access to it first",
                    hosted.address
                ))
            })?;
        check_template(&service, template)?;
        // The row is written whole: its permissions exactly as read, so choosing a signature
        // never widens or narrows what the user may do (nor ends a unification, ID-5).
        let Access { permissions, .. } = own;
        self.directory
            .grant_access(user, hosted.id, permissions, template.map(str::to_owned))
            .await?;
        let context = self.change_context(actor).await;
        self.audit.change(Change {
            protocol: context.protocol,
            ip: None,
            actor: context.actor,
            subject: hosted.address.to_string(),
            event: "signature_chosen",
            detail: match template {
                Some(name) => format!("signature template \"{name}\""),
                None => "no signature".to_owned(),
            },
            owners: Owners {
                user: Some(user),
                address: Some(hosted.id),
                org: Some(service.org),
            },
        });
        Ok(())
    }
}

/// SVC-4: `template` must be one the service offers; the refusal lists those it does offer,
/// so the user can pick one.
fn check_template(service: &MailService, template: Option<&str>) -> Result<(), CoreError> {
    let Some(name) = template else {
        return Ok(());
    };
    let templates = &service.signature_templates;
    if templates.iter().any(|offered| offered.name == name) {
        return Ok(());
    }
    let sentence = if templates.is_empty() {
        format!(
            "the mail service {} has no signature templates yet; an administrator adds them \
             in the service's settings",
            service.domain
        )
    } else {
        let offered: Vec<String> = templates
            .iter()
            .map(|offered| format!("\"{}\"", offered.name))
            .collect();
        format!(
            "the mail service {} has no signature template named \"{name}\"; choose one of {}",
            service.domain,
            offered.join(", ")
        )
    };
    Err(CoreError::Invalid(sentence))
}
