//! SVC-1 to SVC-4 in the console: one mail service's page (quota, alias domains, plan
//! switches, the service's filter settings, default permissions, signature templates, DKIM)
//! and the forms that change them, each through `Admin::update_service` or the alias-domain
//! and DKIM calls the REST API makes.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use postwerk_core::ServiceUpdate;
use postwerk_model::{DkimKeyRef, FilterOverrides, ServiceFeatures, SignatureTemplate};

use super::forms::{Fields, PermissionChoice, permission_choices, segment, settle as settle_with};
use super::service_of;
use crate::ApiState;
use crate::ui::page::{self, Layout, PageError, PageUser};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/manager/services/{domain}", get(service_page))
        .route("/manager/services/{domain}/quota", post(set_quota))
        .route(
            "/manager/services/{domain}/alias-domains",
            post(add_alias_domain),
        )
        .route(
            "/manager/services/{domain}/alias-domains/remove",
            post(remove_alias_domain),
        )
        .route("/manager/services/{domain}/features", post(set_features))
        .route("/manager/services/{domain}/filters", post(set_filters))
        .route("/manager/services/{domain}/defaults", post(set_defaults))
        .route("/manager/services/{domain}/templates", post(add_template))
        .route(
            "/manager/services/{domain}/templates/remove",
            post(remove_template),
        )
        .route("/manager/services/{domain}/dkim/rotate", post(rotate_dkim))
}

/// A three-way switch of the service's filters: the platform's setting, on, or off.
struct Switch {
    name: &'static str,
    label: &'static str,
    help: &'static str,
    value: &'static str,
}

fn switch(name: &'static str, label: &'static str, help: &'static str, v: Option<bool>) -> Switch {
    Switch {
        name,
        label,
        help,
        value: match v {
            None => "platform",
            Some(true) => "on",
            Some(false) => "off",
        },
    }
}

#[derive(askama::Template)]
#[template(path = "console/service.html")]
struct ServicePage {
    layout: Layout,
    domain: String,
    org: String,
    org_link: String,
    base: String,
    used: u32,
    quota: u32,
    alias_domains: Vec<String>,
    aliases_allowed: bool,
    switches: Vec<Switch>,
    junk_threshold: String,
    reject_threshold: String,
    permissions: Vec<PermissionChoice>,
    templates: Vec<SignatureTemplate>,
    dkim: Option<DkimKeyRef>,
    problem: Option<String>,
}

async fn service_view(
    state: &ApiState,
    me: &PageUser,
    domain: &str,
    problem: Option<String>,
) -> Result<ServicePage, PageError> {
    let (service, used, org) = service_of(state, me.caller.actor, domain).await?;
    let filters = &service.features.filters;
    let threshold = |t: Option<f64>| t.map(|t| t.to_string()).unwrap_or_default();
    let domain = service.domain.to_string();
    Ok(ServicePage {
        layout: me.layout(domain.clone(), "manager"),
        base: format!("/manager/services/{}", segment(&domain)),
        org_link: format!("/manager/orgs/{}", segment(&org)),
        org,
        used,
        quota: service.address_quota,
        alias_domains: service
            .alias_domains
            .iter()
            .map(ToString::to_string)
            .collect(),
        aliases_allowed: service.features.aliases_allowed,
        switches: vec![
            switch(
                "greylist",
                "Greylisting",
                "Asks unknown senders to try again a few minutes later; most spam never does.",
                filters.greylist,
            ),
            switch(
                "attachments",
                "Dangerous attachments",
                "Refuses mail carrying programs and scripts (.exe, .js…), even inside zip files.",
                filters.attachments,
            ),
            switch(
                "spam",
                "Spam scoring",
                "Scores mail from strangers and files likely spam in the Junk folder.",
                filters.spam,
            ),
        ],
        junk_threshold: threshold(filters.junk_threshold),
        reject_threshold: threshold(filters.reject_threshold),
        permissions: permission_choices(service.default_permissions),
        templates: service.signature_templates,
        dkim: service.dkim,
        domain,
        problem,
    })
}

/// `/manager/services/{domain}`.
async fn service_page(
    State(state): State<ApiState>,
    me: PageUser,
    Path(domain): Path<String>,
) -> Result<Response, PageError> {
    Ok(page::render(
        &service_view(&state, &me, &domain, None).await?,
    ))
}

/// After a change: back to the service page with `notice`, or the page again with core's
/// refusal.
async fn settle<T>(
    state: &ApiState,
    me: &PageUser,
    domain: &str,
    outcome: Result<T, impl Into<PageError>>,
    notice: &str,
) -> Result<Response, PageError> {
    settle_with(
        outcome.map(|_| notice.to_owned()).map_err(Into::into),
        &format!("/manager/services/{}", segment(domain)),
        |problem| service_view(state, me, domain, Some(problem)),
    )
    .await
}

async fn update(
    state: &ApiState,
    me: &PageUser,
    domain: &str,
    update: ServiceUpdate,
) -> Result<(), PageError> {
    state
        .admin
        .update_service(me.caller.actor, domain, update)
        .await?;
    Ok(())
}

/// SVC-2: raises or lowers the address quota (core refuses going below what is in use).
async fn set_quota(
    State(state): State<ApiState>,
    me: PageUser,
    Path(domain): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let outcome = match fields.get("quota").parse::<u32>() {
        Ok(quota) => {
            let change = ServiceUpdate {
                address_quota: Some(quota),
                ..ServiceUpdate::default()
            };
            update(&state, &me, &domain, change).await
        }
        Err(_) => Err(PageError::invalid(
            "Write the number of addresses the service may hold, such as 50.",
        )),
    };
    let notice = format!(
        "The quota of {domain} is now {} addresses.",
        fields.get("quota")
    );
    settle(&state, &me, &domain, outcome, &notice).await
}

/// SVC-3: adds an alias domain.
async fn add_alias_domain(
    State(state): State<ApiState>,
    me: PageUser,
    Path(domain): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let alias = fields.get("alias_domain");
    let outcome = state
        .admin
        .add_alias_domain(me.caller.actor, &domain, alias)
        .await;
    let notice = format!("Mail to any address @{alias} now reaches the same address @{domain}.");
    settle(&state, &me, &domain, outcome, &notice).await
}

/// SVC-3: removes an alias domain.
async fn remove_alias_domain(
    State(state): State<ApiState>,
    me: PageUser,
    Path(domain): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let alias = fields.get("alias_domain");
    let outcome = state
        .admin
        .remove_alias_domain(me.caller.actor, &domain, alias)
        .await;
    let notice =
        format!("{alias} is no longer an alias domain; its addresses stop receiving mail.");
    settle(&state, &me, &domain, outcome, &notice).await
}

/// Plan switches (ADDR-6: aliases allowed).
async fn set_features(
    State(state): State<ApiState>,
    me: PageUser,
    Path(domain): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let change = ServiceUpdate {
        features: Some(ServiceFeatures {
            aliases_allowed: fields.checked("aliases_allowed"),
            // Left as they are: `ServiceUpdate::features` never touches the filters.
            filters: FilterOverrides::default(),
        }),
        ..ServiceUpdate::default()
    };
    let outcome = update(&state, &me, &domain, change).await;
    settle(&state, &me, &domain, outcome, "The features were saved.").await
}

/// Issue 7: the service's own settings of the inbound checks.
async fn set_filters(
    State(state): State<ApiState>,
    me: PageUser,
    Path(domain): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let outcome = async {
        let filters = FilterOverrides {
            greylist: tri_state(fields.get("greylist"))?,
            attachments: tri_state(fields.get("attachments"))?,
            spam: tri_state(fields.get("spam"))?,
            junk_threshold: threshold(fields.get("junk_threshold"))?,
            reject_threshold: threshold(fields.get("reject_threshold"))?,
        };
        let change = ServiceUpdate {
            filters: Some(filters),
            ..ServiceUpdate::default()
        };
        update(&state, &me, &domain, change).await
    }
    .await;
    settle(
        &state,
        &me,
        &domain,
        outcome,
        "The filter settings were saved.",
    )
    .await
}

fn tri_state(value: &str) -> Result<Option<bool>, PageError> {
    match value {
        "" | "platform" => Ok(None),
        "on" => Ok(Some(true)),
        "off" => Ok(Some(false)),
        _ => Err(PageError::invalid(
            "Choose for each check: the platform's setting, on, or off.",
        )),
    }
}

fn threshold(value: &str) -> Result<Option<f64>, PageError> {
    if value.is_empty() {
        return Ok(None);
    }
    value.replace(',', ".").parse::<f64>().map(Some).map_err(|_| {
        PageError::invalid(format!(
            "\"{value}\" is not a spam score; write a number such as 6 or 7.5, or leave it empty"
        ))
    })
}

/// SVC-4: the permissions prefilled when giving a user access.
async fn set_defaults(
    State(state): State<ApiState>,
    me: PageUser,
    Path(domain): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let outcome = async {
        let change = ServiceUpdate {
            default_permissions: Some(fields.permissions()?),
            ..ServiceUpdate::default()
        };
        update(&state, &me, &domain, change).await
    }
    .await;
    settle(
        &state,
        &me,
        &domain,
        outcome,
        "The default permissions were saved.",
    )
    .await
}

/// Changes the service's signature templates with `edit`: core replaces them all at once, so
/// the change is made on the current list.
async fn edit_templates(
    state: &ApiState,
    me: &PageUser,
    domain: &str,
    edit: impl FnOnce(&mut Vec<SignatureTemplate>),
) -> Result<(), PageError> {
    let (service, _) = state.admin.service(me.caller.actor, domain).await?;
    let mut all = service.signature_templates;
    edit(&mut all);
    let change = ServiceUpdate {
        signature_templates: Some(all),
        ..ServiceUpdate::default()
    };
    update(state, me, domain, change).await
}

/// SVC-4: adds a signature template, or replaces the one with the same name.
async fn add_template(
    State(state): State<ApiState>,
    me: PageUser,
    Path(domain): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let name = fields.get("name").to_owned();
    let outcome = edit_templates(&state, &me, &domain, |all| {
        all.retain(|t| !t.name.eq_ignore_ascii_case(&name));
        all.push(SignatureTemplate {
            name: name.clone(),
            body: fields.raw("body").trim_end().to_owned(),
        });
    })
    .await;
    let notice = format!("The signature template \"{name}\" was saved.");
    settle(&state, &me, &domain, outcome, &notice).await
}

/// SVC-4: removes a signature template.
async fn remove_template(
    State(state): State<ApiState>,
    me: PageUser,
    Path(domain): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let name = fields.get("name").to_owned();
    let outcome = edit_templates(&state, &me, &domain, |all| all.retain(|t| t.name != name)).await;
    let notice = format!("The signature template \"{name}\" was removed.");
    settle(&state, &me, &domain, outcome, &notice).await
}

/// SVC-1: a new DKIM key; its record must be published, so the DNS report comes next.
async fn rotate_dkim(
    State(state): State<ApiState>,
    me: PageUser,
    Path(domain): Path<String>,
) -> Result<Response, PageError> {
    let outcome = state.admin.rotate_dkim(me.caller.actor, &domain).await;
    let outcome = outcome.map_err(PageError::from).map(|rotation| {
        format!(
            "A new DKIM key (selector {}) signs the mail of {domain} from now on. Publish its \
             record below now: until it is in place, receivers cannot verify the signature.",
            rotation.key.selector
        )
    });
    settle_with(
        outcome,
        &format!("/manager/services/{}/dns", segment(&domain)),
        |problem| service_view(&state, &me, &domain, Some(problem)),
    )
    .await
}
