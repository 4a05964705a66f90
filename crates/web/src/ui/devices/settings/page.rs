//! The settings page of one mailbox as the account sees it: a section per setting its
//! permissions on the mailbox allow (ADDR-9), and a short sentence for each one they do not, so
//! nothing disappears without a word. The forms of `forms.rs` draw the same page again with
//! their problem next to the form.

use askama::Template;
use postwerk_core::Unification;
use postwerk_model::{ListKind, MAX_ALIASES_PER_ADDRESS, Permissions};

use super::super::linked::{Linked, path_segment};
use crate::ApiState;
use crate::ui::page::{Layout, PageError, PageUser};

/// `templates/settings/mailbox.html`.
#[derive(Template)]
#[template(path = "settings/mailbox.html")]
pub struct SettingsPage {
    pub layout: Layout,
    pub address: String,
    /// The address as a path segment, for the forms' actions.
    pub segment: String,
    /// The mailbox password (`change_password`), or `None` when not allowed.
    pub password: Option<PasswordSection>,
    /// Aliases (`manage_aliases`, ADDR-6).
    pub aliases: Option<AliasSection>,
    /// The redirection (`manage_redirections`, ADDR-5).
    pub redirect: Option<RedirectSection>,
    /// The sender lists (`manage_filters`, RCV-4).
    pub senders: Option<SenderSection>,
    /// The signature and the name shown with the address (`manage_signatures` to change
    /// the name).
    pub signature: SignatureSection,
}

/// ID-5 as the page says it.
pub struct UnificationText {
    /// `unified`, `offered` or `separate` (the ID of the page's paragraph says which).
    pub state: &'static str,
    pub sentence: String,
}

pub struct PasswordSection {
    pub unification: UnificationText,
    /// A problem of the last attempt, shown next to the form.
    pub error: Option<String>,
    /// Which form the problem belongs to: the change form or the unification offer.
    pub error_in_offer: bool,
}

pub struct AliasSection {
    /// Each alias as a full address.
    pub aliases: Vec<String>,
    pub limit: usize,
    /// ADDR-6: whether the service's plan allows aliases at all.
    pub allowed_by_plan: bool,
    pub error: Option<String>,
    /// What was typed in the add form, kept when it is shown again with a problem.
    pub value: String,
}

impl AliasSection {
    /// Whether another alias may be added (the form is hidden at the limit).
    pub fn room_left(&self) -> bool {
        self.allowed_by_plan && self.aliases.len() < self.limit
    }
}

pub struct RedirectSection {
    /// The current targets; empty when mail is not redirected.
    pub targets: Vec<String>,
    pub keep_copy: bool,
    /// The form's text: the current targets, one a line, or what was typed.
    pub value: String,
    pub error: Option<String>,
}

pub struct SenderSection {
    pub allowed: Vec<String>,
    pub blocked: Vec<String>,
    pub error: Option<String>,
    pub value: String,
}

/// A section whose add form is drawn again with the problem next to it and what was typed
/// kept in it.
pub trait TypedAgain {
    fn type_again(&mut self, problem: String, typed: String);
}

impl TypedAgain for AliasSection {
    fn type_again(&mut self, problem: String, typed: String) {
        self.error = Some(problem);
        self.value = typed;
    }
}

impl TypedAgain for SenderSection {
    fn type_again(&mut self, problem: String, typed: String) {
        self.error = Some(problem);
        self.value = typed;
    }
}

pub struct SignatureSection {
    /// The name of the template picked for the account, if any.
    pub template: Option<String>,
    /// Its text.
    pub text: Option<String>,
    /// The name shown with the address in mail sent from it.
    pub display_name: String,
    /// Whether the account may change the display name and choose its signature
    /// (`manage_signatures`).
    pub may_rename: bool,
    /// A problem of the name form.
    pub error: Option<String>,
    /// The service's templates to choose from (SVC-4), each with its text; drawn with
    /// `manage_signatures` only.
    pub templates: Vec<TemplateChoice>,
    /// A problem of the signature form.
    pub choice_error: Option<String>,
}

/// One signature template offered in the picker.
pub struct TemplateChoice {
    pub name: String,
    pub text: String,
}

impl SignatureSection {
    /// Whether `name` is the template picked now (to select it in the picker).
    pub fn is_picked(&self, name: &str) -> bool {
        self.template.as_deref() == Some(name)
    }
}

impl SettingsPage {
    /// The page of `mailbox`, read through the same `core` calls as the REST API with the
    /// account's actor.
    pub async fn load(
        state: &ApiState,
        user: &PageUser,
        mailbox: &Linked,
    ) -> Result<SettingsPage, PageError> {
        let address = mailbox.address();
        let actor = user.caller.actor;
        let service = state
            .directory
            .service(mailbox.hosted.service)
            .await
            .map_err(|error| PageError::from(postwerk_core::CoreError::from(error)))?;

        let password = if mailbox.may(Permissions::CHANGE_PASSWORD) {
            let unification = state
                .identity
                .unification(user.user.id, &mailbox.hosted.address)
                .await?;
            Some(PasswordSection {
                unification: unification_text(&unification, &address),
                error: None,
                error_in_offer: false,
            })
        } else {
            None
        };

        let aliases = if mailbox.may(Permissions::MANAGE_ALIASES) {
            let domain = mailbox.hosted.address.domain().to_string();
            let aliases = state.admin.list_aliases(actor, &address).await?;
            Some(AliasSection {
                aliases: aliases
                    .iter()
                    .map(|alias| format!("{}@{domain}", alias.local))
                    .collect(),
                limit: MAX_ALIASES_PER_ADDRESS,
                allowed_by_plan: service
                    .as_ref()
                    .is_none_or(|service| service.features.aliases_allowed),
                error: None,
                value: String::new(),
            })
        } else {
            None
        };

        let redirect = mailbox.may(Permissions::MANAGE_REDIRECTIONS).then(|| {
            let (targets, keep_copy) = match &mailbox.hosted.redirect {
                Some(redirect) => (
                    redirect.targets.iter().map(ToString::to_string).collect(),
                    redirect.keep_copy,
                ),
                None => (Vec::new(), true),
            };
            RedirectSection {
                value: targets.join("\n"),
                targets,
                keep_copy,
                error: None,
            }
        });

        let senders = if mailbox.may(Permissions::MANAGE_FILTERS) {
            let rules = state.admin.sender_rules(actor, &address).await?;
            let listed = |kind: ListKind| {
                rules
                    .iter()
                    .filter(|rule| rule.kind == kind)
                    .map(|rule| rule.pattern.to_string())
                    .collect()
            };
            Some(SenderSection {
                allowed: listed(ListKind::Allow),
                blocked: listed(ListKind::Block),
                error: None,
                value: String::new(),
            })
        } else {
            None
        };

        let template = mailbox.access.signature.clone();
        let text = template.as_ref().and_then(|name| {
            service.as_ref().and_then(|service| {
                service
                    .signature_templates
                    .iter()
                    .find(|t| &t.name == name)
                    .map(|t| t.body.clone())
            })
        });
        let may_rename = mailbox.may(Permissions::MANAGE_SIGNATURES);
        let templates = match (&service, may_rename) {
            (Some(service), true) => service
                .signature_templates
                .iter()
                .map(|t| TemplateChoice {
                    name: t.name.clone(),
                    text: t.body.clone(),
                })
                .collect(),
            _ => Vec::new(),
        };
        let signature = SignatureSection {
            template,
            text,
            display_name: mailbox.hosted.display_name.clone(),
            may_rename,
            error: None,
            templates,
            choice_error: None,
        };

        Ok(SettingsPage {
            layout: user.layout(format!("Settings of {address}"), "mail"),
            segment: path_segment(&address),
            address,
            password,
            aliases,
            redirect,
            senders,
            signature,
        })
    }
}

/// ID-5 in one sentence for the page.
fn unification_text(unification: &Unification, address: &str) -> UnificationText {
    match unification {
        Unification::Unified { .. } => UnificationText {
            state: "unified",
            sentence: format!(
                "Your account and {address} share one password: changing either changes both."
            ),
        },
        Unification::Offered => UnificationText {
            state: "offered",
            sentence: format!(
                "Your account and {address} have separate passwords. You may use one password \
                 for both: from then on, changing either changes both."
            ),
        },
        Unification::NotOffered(blockers) => {
            let reasons: Vec<&str> = blockers.iter().map(|b| b.explanation()).collect();
            UnificationText {
                state: "separate",
                sentence: format!(
                    "This password is separate from your account's: {}.",
                    reasons.join("; ")
                ),
            }
        }
        Unification::NotApplicable => UnificationText {
            state: "separate",
            sentence: "This password is separate from your account's.".to_owned(),
        },
    }
}
