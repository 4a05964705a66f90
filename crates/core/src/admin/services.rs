//! SVC-1…SVC-4: a mail service's settings after creation, and its DNS report.

use postwerk_model::{
    Domain, FilterOverrides, MailService, Permissions, ServiceFeatures, SignatureTemplate,
    check_quota_change,
};
use postwerk_store::ServiceSettings;

use super::{Actor, Admin};
use crate::CoreError;
use crate::records::RecordCheck;

/// The longest signature template name accepted, in characters.
const MAX_TEMPLATE_NAME_CHARS: usize = 100;

/// The longest signature template body accepted, in characters.
const MAX_TEMPLATE_BODY_CHARS: usize = 10_000;

/// Changes to a service; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceUpdate {
    /// SVC-2: the address quota, never below the addresses in use.
    pub address_quota: Option<u32>,
    /// Plan switches (ADDR-6 aliases allowed); their `filters` are left as they are (see
    /// `filters`).
    pub features: Option<ServiceFeatures>,
    /// Issue 7: the service's filter settings, replacing the current ones (`Default`: the
    /// platform's everywhere).
    pub filters: Option<FilterOverrides>,
    /// SVC-4: permissions prefilled when giving access.
    pub default_permissions: Option<Permissions>,
    /// SVC-4: the signature templates, replacing the current ones; names must be unique and
    /// non-empty.
    pub signature_templates: Option<Vec<SignatureTemplate>>,
}

impl Admin {
    /// One service with the number of addresses it holds. Administrators only.
    pub async fn service(
        &self,
        actor: Actor,
        domain: &str,
    ) -> Result<(MailService, u32), CoreError> {
        let service = self.service_for(actor, domain).await?;
        let used = self.directory.address_count(service.id).await?;
        Ok((service, used))
    }

    /// Applies `update` (administrators only); nothing changes when any field is refused.
    /// Every field is validated first; the quota is then changed (its transaction checks the
    /// live count again), then the settings.
    pub async fn update_service(
        &self,
        actor: Actor,
        domain: &str,
        update: ServiceUpdate,
    ) -> Result<MailService, CoreError> {
        let service = self.service_for(actor, domain).await?;
        if let Some(quota) = update.address_quota {
            let used = self.directory.address_count(service.id).await?;
            check_quota_change(quota, used)?;
        }
        let templates = update
            .signature_templates
            .map(check_templates)
            .transpose()?;
        if let Some(filters) = &update.filters {
            filters.validate()?;
        }
        let settings_change = update.features.is_some()
            || update.filters.is_some()
            || update.default_permissions.is_some()
            || templates.is_some();
        if let Some(quota) = update.address_quota {
            self.directory.set_address_quota(service.id, quota).await?;
        }
        if settings_change {
            let mut features = update.features.unwrap_or(service.features.clone());
            features.filters = update.filters.unwrap_or(service.features.filters.clone());
            let settings = ServiceSettings {
                features,
                default_permissions: update
                    .default_permissions
                    .unwrap_or(service.default_permissions),
                signature_templates: templates.unwrap_or(service.signature_templates.clone()),
            };
            return Ok(self
                .directory
                .set_service_settings(service.id, settings)
                .await?);
        }
        self.directory.service(service.id).await?.ok_or_else(|| {
            CoreError::NotFound(format!(
                "the mail service {} no longer exists",
                service.domain
            ))
        })
    }

    /// Removes an alias domain (SVC-3); its addresses stop receiving mail.
    pub async fn remove_alias_domain(
        &self,
        actor: Actor,
        domain: &str,
        alias_domain: &str,
    ) -> Result<(), CoreError> {
        let service = self.service_for(actor, domain).await?;
        let alias_domain = Domain::parse(alias_domain)?;
        if alias_domain == service.domain {
            return Err(CoreError::Invalid(format!(
                "{alias_domain} is the primary domain of its mail service, not an alias domain"
            )));
        }
        if !service.alias_domains.contains(&alias_domain) {
            return Err(CoreError::NotFound(format!(
                "{alias_domain} is not an alias domain of the mail service {}",
                service.domain
            )));
        }
        Ok(self
            .directory
            .remove_alias_domain(service.id, &alias_domain)
            .await?)
    }

    /// SVC-1: the records `domain` needs, each with what DNS answers now and whether it is in
    /// place, asked through `resolver`.
    pub async fn check_service_dns(
        &self,
        actor: Actor,
        domain: &str,
        hostname: &str,
        resolver: &dyn postwerk_dns::Resolver,
    ) -> Result<Vec<RecordCheck>, CoreError> {
        let records = self.service_dns_records(actor, domain, hostname).await?;
        Ok(crate::records::check_records(&records, resolver).await)
    }
}

/// SVC-4: signature templates with trimmed, non-empty, unique names (ignoring case) and
/// bodies of a sane size.
fn check_templates(templates: Vec<SignatureTemplate>) -> Result<Vec<SignatureTemplate>, CoreError> {
    let mut checked: Vec<SignatureTemplate> = Vec::with_capacity(templates.len());
    for template in templates {
        let name = template.name.trim().to_owned();
        if name.is_empty() {
            return Err(CoreError::Invalid(
                "a signature template needs a name".into(),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(CoreError::Invalid(format!(
                "the name of the signature template \"{}\" cannot contain line breaks or other \
                 control characters",
                name.escape_default()
            )));
        }
        if name.chars().count() > MAX_TEMPLATE_NAME_CHARS {
            return Err(CoreError::Invalid(format!(
                "a signature template name can be at most {MAX_TEMPLATE_NAME_CHARS} characters \
                 long"
            )));
        }
        if template.body.chars().count() > MAX_TEMPLATE_BODY_CHARS {
            return Err(CoreError::Invalid(format!(
                "the signature template \"{name}\" is too long: at most \
                 {MAX_TEMPLATE_BODY_CHARS} characters"
            )));
        }
        if checked.iter().any(|t| t.name.eq_ignore_ascii_case(&name)) {
            return Err(CoreError::Invalid(format!(
                "two signature templates are named \"{name}\"; names must differ"
            )));
        }
        checked.push(SignatureTemplate {
            name,
            body: template.body,
        });
    }
    Ok(checked)
}
