//! The create-address wizard of the console (ADDR-1 with its four modes, ADDR-2 generic
//! addresses, ADDR-4 redirect-only addresses): first the choice of what to create, then one
//! form for it. The address is made by `Admin::create_address`, as `POST
//! /services/{domain}/addresses`; a generated password is shown in the answer to the post,
//! this once only (it is never stored in clear, so it cannot be shown again).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use postwerk_core::{CreateAddress, Grant, Holder, InvitationRequest};
use postwerk_model::{AddressKind, LoginMode, MailService, Permissions};
use serde::Deserialize;

use super::forms::{Fields, PermissionChoice, permission_choices, segment, split_list};
use super::service_of;
use crate::ApiState;
use crate::ui::format::date;
use crate::ui::page::{self, Layout, PageError, PageUser};

pub fn routes() -> Router<ApiState> {
    Router::new().route(
        "/manager/services/{domain}/addresses/new",
        get(wizard).post(create),
    )
}

/// What the wizard creates.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// ADDR-1 (a): for the signed-in account, with a password it chooses.
    Myself,
    /// ADDR-1 (b): for users of the organization, with a generated password.
    Users,
    /// ADDR-1 (b'): an invitation.
    Invitation,
    /// ADDR-1 (c): "I don't know" — linked to nobody.
    Nobody,
    /// ADDR-2: no-reply or catch-all.
    Generic,
    /// ADDR-4: forwards only.
    Redirect,
}

const MODES: [Mode; 6] = [
    Mode::Myself,
    Mode::Users,
    Mode::Invitation,
    Mode::Nobody,
    Mode::Generic,
    Mode::Redirect,
];

impl Mode {
    fn from_name(name: &str) -> Option<Mode> {
        MODES.into_iter().find(|mode| mode.name() == name)
    }

    fn name(self) -> &'static str {
        match self {
            Mode::Myself => "myself",
            Mode::Users => "users",
            Mode::Invitation => "invitation",
            Mode::Nobody => "nobody",
            Mode::Generic => "generic",
            Mode::Redirect => "redirect",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Mode::Myself => "For myself",
            Mode::Users => "For people of the organization",
            Mode::Invitation => "Invite someone",
            Mode::Nobody => "I don't know yet",
            Mode::Generic => "A no-reply or catch-all address",
            Mode::Redirect => "A redirect-only address",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Mode::Myself => {
                "You will use it: choose its password; it appears in your account at once."
            }
            Mode::Users => {
                "Give it to accounts of your organization. A password is generated and shown once."
            }
            Mode::Invitation => {
                "Email an invitation: the person creates their account (or uses theirs) to use it."
            }
            Mode::Nobody => "Create it now and decide later who uses it.",
            Mode::Generic => {
                "No-reply sends but refuses incoming mail; catch-all also receives mail sent to \
                 unknown addresses of the domain."
            }
            Mode::Redirect => "Holds no mail: forwards everything it receives elsewhere.",
        }
    }
}

/// A mode in the chooser.
struct ModeCard {
    link: String,
    name: &'static str,
    title: &'static str,
    description: &'static str,
}

#[derive(askama::Template)]
#[template(path = "console/new_choose.html")]
struct ChoosePage {
    layout: Layout,
    domain: String,
    base: String,
    modes: Vec<ModeCard>,
}

/// A member of the organization, for mode (b).
struct MemberChoice {
    login: String,
    name: String,
    checked: bool,
}

/// A signature template, for the picker.
struct TemplateChoice {
    name: String,
    selected: bool,
}

/// The form of one mode, with what was typed kept when it comes back with a problem.
#[derive(askama::Template)]
#[template(path = "console/new_form.html")]
struct FormPage {
    layout: Layout,
    domain: String,
    base: String,
    mode: &'static str,
    title: &'static str,
    description: &'static str,
    alias_domains: Vec<String>,
    aliases_allowed: bool,
    local_part: String,
    display_name: String,
    aliases: String,
    members: Vec<MemberChoice>,
    permissions: Vec<PermissionChoice>,
    templates: Vec<TemplateChoice>,
    send_to_other: bool,
    send_to: String,
    login_own_choice: bool,
    catch_all: bool,
    redirect_to: String,
    problem: Option<String>,
}

#[derive(Deserialize)]
struct ModeQuery {
    mode: Option<String>,
}

/// `…/addresses/new`: the chooser, or `?mode=` the form of one mode.
async fn wizard(
    State(state): State<ApiState>,
    me: PageUser,
    Path(domain): Path<String>,
    Query(query): Query<ModeQuery>,
) -> Result<Response, PageError> {
    let (service, _, org) = service_of(&state, me.caller.actor, &domain).await?;
    let base = format!("/manager/services/{}", segment(service.domain.as_str()));
    let Some(mode) = query.mode.as_deref().and_then(Mode::from_name) else {
        let modes = MODES
            .into_iter()
            .map(|mode| ModeCard {
                link: format!("{base}/addresses/new?mode={}", mode.name()),
                name: mode.name(),
                title: mode.title(),
                description: mode.description(),
            })
            .collect();
        return Ok(page::render(&ChoosePage {
            layout: me.layout("New address", "manager"),
            domain: service.domain.to_string(),
            base,
            modes,
        }));
    };
    let blank = Fields::default();
    let form = form_page(&state, &me, &service, &org, mode, &blank, None).await?;
    Ok(page::render(&form))
}

/// The form of `mode`, filled from `fields` (empty on first display: the permissions are then
/// the service's defaults, SVC-4).
async fn form_page(
    state: &ApiState,
    me: &PageUser,
    service: &MailService,
    org: &str,
    mode: Mode,
    fields: &Fields,
    problem: Option<String>,
) -> Result<FormPage, PageError> {
    let first_display = fields.is_empty();
    let picked = fields.all("user");
    let members = if mode == Mode::Users {
        state
            .admin
            .org_members(me.caller.actor, org)
            .await?
            .into_iter()
            .map(|member| MemberChoice {
                checked: picked.contains(&member.login.to_string()),
                login: member.login.to_string(),
                name: member.display_name,
            })
            .collect()
    } else {
        Vec::new()
    };
    let permissions = if first_display {
        service.default_permissions
    } else {
        fields.permissions().unwrap_or(Permissions::NONE)
    };
    let signature = fields.get("signature");
    let domain = service.domain.to_string();
    Ok(FormPage {
        layout: me.layout(format!("New address: {}", mode.title()), "manager"),
        base: format!("/manager/services/{}", segment(&domain)),
        mode: mode.name(),
        title: mode.title(),
        description: mode.description(),
        alias_domains: service
            .alias_domains
            .iter()
            .map(ToString::to_string)
            .collect(),
        aliases_allowed: service.features.aliases_allowed,
        local_part: fields.get("local_part").to_owned(),
        display_name: fields.get("display_name").to_owned(),
        aliases: fields.get("aliases").to_owned(),
        members,
        permissions: permission_choices(permissions),
        templates: service
            .signature_templates
            .iter()
            .map(|t| TemplateChoice {
                selected: t.name == signature,
                name: t.name.clone(),
            })
            .collect(),
        send_to_other: fields.get("send_to_choice") == "other",
        send_to: fields.get("send_to").to_owned(),
        login_own_choice: fields.get("login_mode") == "own_choice",
        catch_all: fields.get("kind") == "catchall",
        redirect_to: fields.get("redirect_to").to_owned(),
        domain,
        problem,
    })
}

/// What the answer to a successful post shows, once.
#[derive(askama::Template)]
#[template(path = "console/created.html")]
struct CreatedPage {
    layout: Layout,
    address: String,
    link: String,
    base: String,
    domain: String,
    password: Option<String>,
    invitation: Option<InvitationLine>,
    users: Vec<String>,
    mine: bool,
}

struct InvitationLine {
    sent_to: String,
    own_choice: bool,
    expires: String,
}

/// Creates the address of the posted form.
async fn create(
    State(state): State<ApiState>,
    me: PageUser,
    Path(domain): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let (service, _, org) = service_of(&state, me.caller.actor, &domain).await?;
    let Some(mode) = Mode::from_name(fields.get("mode")) else {
        return Err(PageError::invalid(
            "Choose what kind of address to create first.",
        ));
    };
    let outcome = match request(&service, mode, &fields) {
        Ok(request) => state
            .admin
            .create_address(me.caller.actor, request)
            .await
            .map_err(PageError::from),
        Err(problem) => Err(problem),
    };
    let created = match outcome {
        Ok(created) => created,
        Err(problem) => {
            let status = problem.status();
            let message = problem.message().to_owned();
            let form = form_page(&state, &me, &service, &org, mode, &fields, Some(message)).await?;
            return Ok(page::render_with(status, &form));
        }
    };
    let address = created.address.address.to_string();
    let base = format!("/manager/services/{}", segment(service.domain.as_str()));
    Ok(page::render(&CreatedPage {
        layout: me.layout(format!("{address} created"), "manager"),
        link: format!("/manager/addresses/{}", segment(&address)),
        password: created
            .generated_password
            .map(|password| password.as_str().to_owned()),
        invitation: created.invitation.map(|sent| InvitationLine {
            sent_to: sent.sent_to.to_string(),
            own_choice: sent.login_mode == LoginMode::OwnChoice,
            expires: date(sent.expires_at),
        }),
        users: if mode == Mode::Users {
            fields.all("user")
        } else {
            Vec::new()
        },
        mine: mode == Mode::Myself,
        domain: service.domain.to_string(),
        address,
        base,
    }))
}

/// `text` as a full address of the service: a local part gets the domain; a full address is
/// left for core to check.
fn in_service(text: &str, service: &MailService) -> String {
    if text.contains('@') {
        text.to_owned()
    } else {
        format!("{text}@{}", service.domain)
    }
}

/// The core request of the posted form.
fn request(service: &MailService, mode: Mode, fields: &Fields) -> Result<CreateAddress, PageError> {
    let local = fields.get("local_part");
    if local.is_empty() {
        return Err(PageError::invalid(
            "Write the part of the address before the @.",
        ));
    }
    if local.contains('@') {
        return Err(PageError::invalid(format!(
            "Write only the part before the @: the address will end in @{}.",
            service.domain
        )));
    }
    let password = Some(fields.raw("password").to_owned()).filter(|p| !p.is_empty());
    let permissions = || fields.permissions();
    let signature = fields.optional("signature");
    let (kind, holder, password) = match mode {
        Mode::Myself => (AddressKind::Mailbox, Holder::Myself, password),
        Mode::Nobody => (AddressKind::Mailbox, Holder::Nobody, password),
        Mode::Users => {
            let logins = fields.all("user");
            if logins.is_empty() {
                return Err(PageError::invalid(
                    "Tick at least one person who will use the address.",
                ));
            }
            let permissions = permissions()?;
            let grants = logins
                .into_iter()
                .map(|login| Grant {
                    login,
                    permissions: Some(permissions),
                    signature: signature.clone(),
                })
                .collect();
            (AddressKind::Mailbox, Holder::Users(grants), None)
        }
        Mode::Invitation => {
            let send_to = if fields.get("send_to_choice") == "other" {
                let to = fields.get("send_to");
                if to.is_empty() {
                    return Err(PageError::invalid(
                        "Write the address the invitation goes to, or send it to the new address.",
                    ));
                }
                Some(to.to_owned())
            } else {
                None
            };
            let login_mode = if fields.get("login_mode") == "own_choice" {
                LoginMode::OwnChoice
            } else {
                LoginMode::ExactAddress
            };
            let invitation = InvitationRequest {
                send_to,
                login_mode,
                permissions: Some(permissions()?),
                signature: signature.clone(),
            };
            (AddressKind::Mailbox, Holder::Invitation(invitation), None)
        }
        Mode::Generic => {
            let kind = if fields.get("kind") == "catchall" {
                AddressKind::CatchAll
            } else {
                AddressKind::NoReply
            };
            (kind, Holder::Nobody, password)
        }
        Mode::Redirect => (AddressKind::RedirectOnly, Holder::Nobody, None),
    };
    Ok(CreateAddress {
        address: format!("{local}@{}", service.domain),
        kind,
        password,
        holder,
        display_name: fields.get("display_name").to_owned(),
        aliases: split_list(fields.get("aliases"))
            .iter()
            .map(|alias| in_service(alias, service))
            .collect(),
        redirect_to: if mode == Mode::Redirect {
            split_list(fields.get("redirect_to"))
        } else {
            Vec::new()
        },
        keep_copy: false,
    })
}
