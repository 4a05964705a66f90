//! SVC-1 to SVC-4: mail services, their DNS records and DKIM keys, alias domains, quota,
//! feature switches, default permissions and signature templates.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use postwerk_core::records::{DnsRecord, RecordCheck};
use postwerk_core::{Actor, DkimRotation, ServiceUpdate};
use postwerk_model::{
    DkimKeyRef, FilterOverrides, MailService, OrgId, ServiceFeatures, SignatureTemplate,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiState;
use crate::auth::Authenticated;
use crate::dto::{permission_names, permissions_from_names};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::pagination::{Page, PageQuery};

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::default()
        .routes(routes!(list_services, create_service))
        .routes(routes!(get_service, update_service))
        .routes(routes!(check_dns))
        .routes(routes!(rotate_dkim))
        .routes(routes!(add_alias_domain, remove_alias_domain))
}

/// A mail service.
#[derive(Serialize, ToSchema)]
pub struct ServiceView {
    /// Its primary domain; the API names services by it.
    #[schema(example = "example.com")]
    domain: String,
    /// The organization it belongs to.
    org: String,
    /// SVC-2: how many addresses it may hold.
    address_quota: u32,
    /// How many it holds.
    addresses_used: u32,
    /// SVC-3: domains whose addresses map onto the primary domain's.
    alias_domains: Vec<String>,
    /// Plan switches.
    features: FeaturesView,
    /// Issue 7: the service's own filter settings (only those it overrides).
    filters: FilterSettingsView,
    /// SVC-4: permissions prefilled when giving a user access to an address.
    default_permissions: Vec<String>,
    /// SVC-4: signatures offered when giving a user access.
    signature_templates: Vec<SignatureTemplateView>,
    /// The DKIM key signing its mail.
    dkim: Option<DkimKeyView>,
    /// Unix seconds.
    created_at: i64,
}

/// Plan switches of a service.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct FeaturesView {
    /// ADDR-6: whether addresses may have aliases.
    aliases_allowed: bool,
}

/// Issue 7: the service's own settings of the inbound checks; an absent or null field keeps
/// the platform's (`docs/CONFIG.md`). A transaction for recipients of several services gets
/// the strictest of their settings.
#[derive(Serialize, Deserialize, ToSchema, Default)]
pub struct FilterSettingsView {
    /// RCV-3: greylisting on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    greylist: Option<bool>,
    /// RCV-5: the forbidden-attachment check on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    attachments: Option<bool>,
    /// RCV-4: spam scoring on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spam: Option<bool>,
    /// RCV-4: the score from which mail goes to Junk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = 4.0)]
    junk_threshold: Option<f64>,
    /// RCV-4: the score from which mail is refused `554 5.7.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reject_threshold: Option<f64>,
}

impl From<FilterOverrides> for FilterSettingsView {
    fn from(filters: FilterOverrides) -> FilterSettingsView {
        FilterSettingsView {
            greylist: filters.greylist,
            attachments: filters.attachments,
            spam: filters.spam,
            junk_threshold: filters.junk_threshold,
            reject_threshold: filters.reject_threshold,
        }
    }
}

impl From<FilterSettingsView> for FilterOverrides {
    fn from(view: FilterSettingsView) -> FilterOverrides {
        FilterOverrides {
            greylist: view.greylist,
            attachments: view.attachments,
            spam: view.spam,
            junk_threshold: view.junk_threshold,
            reject_threshold: view.reject_threshold,
        }
    }
}

/// SVC-4: a signature template.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct SignatureTemplateView {
    /// The name shown in the picker; unique in the service.
    name: String,
    /// The signature text.
    body: String,
}

/// A DKIM key, by its selector.
#[derive(Serialize, ToSchema)]
pub struct DkimKeyView {
    /// Published at `<selector>._domainkey.<domain>`.
    selector: String,
    /// `rsa-sha256` or `ed25519-sha256`.
    algorithm: String,
}

impl From<DkimKeyRef> for DkimKeyView {
    fn from(key: DkimKeyRef) -> DkimKeyView {
        DkimKeyView {
            selector: key.selector,
            algorithm: key.algorithm,
        }
    }
}

/// A DNS record to publish (SVC-1).
#[derive(Serialize, ToSchema)]
pub struct DnsRecordView {
    /// Owner name, fully qualified, without the trailing dot.
    name: String,
    /// MX, TXT, SRV or CNAME.
    #[serde(rename = "type")]
    kind: String,
    /// Record data in zone-file form.
    value: String,
    /// Why it is needed.
    purpose: String,
    /// The whole zone-file line.
    zone_line: String,
}

impl From<&DnsRecord> for DnsRecordView {
    fn from(record: &DnsRecord) -> DnsRecordView {
        DnsRecordView {
            name: record.name.clone(),
            kind: record.kind.to_owned(),
            value: record.value.clone(),
            purpose: record.purpose.to_owned(),
            zone_line: record.zone_line(),
        }
    }
}

/// SVC-1: one required record and what DNS answers for it now.
#[derive(Serialize, ToSchema)]
pub struct RecordCheckView {
    /// The record as it should be published.
    expected: DnsRecordView,
    /// What DNS answers for its name and type, in zone-file form.
    found: Vec<String>,
    /// Whether the record is in place.
    in_place: bool,
    /// Set when the lookup itself failed, so "not in place" may be wrong.
    lookup_error: Option<String>,
}

impl From<RecordCheck> for RecordCheckView {
    fn from(check: RecordCheck) -> RecordCheckView {
        RecordCheckView {
            expected: DnsRecordView::from(&check.expected),
            found: check.found,
            in_place: check.in_place,
            lookup_error: check.lookup_error,
        }
    }
}

/// A service to create.
#[derive(Deserialize, ToSchema)]
pub struct CreateServiceBody {
    /// The domain it serves.
    #[schema(example = "example.com")]
    domain: String,
    /// The organization it belongs to (the caller must administer it).
    org: String,
    /// SVC-2: how many addresses it may hold.
    address_quota: u32,
}

/// A service just created, with the DNS records it needs.
#[derive(Serialize, ToSchema)]
pub struct CreatedServiceView {
    /// The service.
    service: ServiceView,
    /// SVC-1: MX, SPF, DKIM, DMARC and autoconfiguration records to publish.
    dns_records: Vec<DnsRecordView>,
}

/// Changes to a service; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
pub struct UpdateServiceBody {
    /// SVC-2: the address quota, never below the addresses in use.
    address_quota: Option<u32>,
    /// Plan switches.
    features: Option<FeaturesView>,
    /// Issue 7: the service's filter settings, replacing the current ones (`{}` returns to
    /// the platform's everywhere).
    filters: Option<FilterSettingsView>,
    /// SVC-4: permission names prefilled when giving access.
    #[schema(example = json!(["read_send", "change_password"]))]
    default_permissions: Option<Vec<String>>,
    /// SVC-4: the signature templates, replacing the current ones.
    signature_templates: Option<Vec<SignatureTemplateView>>,
}

/// A DKIM key rotation.
#[derive(Serialize, ToSchema)]
pub struct DkimRotationView {
    /// The domain the key signs for.
    domain: String,
    /// The new key, which signs from now on.
    key: DkimKeyView,
    /// Its record, to publish: mail signed with it fails verification until it is in place.
    record: DnsRecordView,
    /// The key it replaces; its record can go once mail signed with it has been delivered.
    retired: Option<DkimKeyView>,
}

impl From<DkimRotation> for DkimRotationView {
    fn from(rotation: DkimRotation) -> DkimRotationView {
        DkimRotationView {
            domain: rotation.domain.to_string(),
            key: rotation.key.into(),
            record: DnsRecordView::from(&rotation.record),
            retired: rotation.retired.map(DkimKeyView::from),
        }
    }
}

/// The names of the organizations the actor may see, to show a service's organization.
async fn org_names(state: &ApiState, actor: Actor) -> Result<HashMap<OrgId, String>, ApiError> {
    let orgs = state.admin.list_orgs(actor).await?;
    Ok(orgs.into_iter().map(|org| (org.id, org.name)).collect())
}

fn service_view(service: MailService, used: u32, orgs: &HashMap<OrgId, String>) -> ServiceView {
    ServiceView {
        domain: service.domain.to_string(),
        org: orgs
            .get(&service.org)
            .cloned()
            .unwrap_or_else(|| service.org.to_string()),
        address_quota: service.address_quota,
        addresses_used: used,
        alias_domains: service
            .alias_domains
            .iter()
            .map(ToString::to_string)
            .collect(),
        features: FeaturesView {
            aliases_allowed: service.features.aliases_allowed,
        },
        filters: service.features.filters.into(),
        default_permissions: permission_names(service.default_permissions),
        signature_templates: service
            .signature_templates
            .into_iter()
            .map(|template| SignatureTemplateView {
                name: template.name,
                body: template.body,
            })
            .collect(),
        dkim: service.dkim.map(DkimKeyView::from),
        created_at: service.created_at,
    }
}

/// The services the caller administers, with the number of addresses each holds.
#[utoipa::path(
    get,
    path = "/api/v1/services",
    tag = "services",
    params(PageQuery),
    responses(
        (status = 200, description = "The services", body = Page<ServiceView>),
        (status = 401, description = "No valid credential", body = ErrorBody),
    )
)]
async fn list_services(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<ServiceView>>, ApiError> {
    let services = state.admin.list_services(caller.actor).await?;
    let orgs = org_names(&state, caller.actor).await?;
    Ok(Json(page.paginate(services, |(service, used)| {
        service_view(service, used, &orgs)
    })?))
}

/// Creates the mail service of a domain, with its DKIM key; answers the DNS records to
/// publish (SVC-1).
#[utoipa::path(
    post,
    path = "/api/v1/services",
    tag = "services",
    request_body = CreateServiceBody,
    responses(
        (status = 201, description = "Created, with the records to publish", body = CreatedServiceView),
        (status = 400, description = "An invalid domain", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of the organization", body = ErrorBody),
        (status = 404, description = "No such organization", body = ErrorBody),
        (status = 409, description = "The domain already has a service", body = ErrorBody),
    )
)]
async fn create_service(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiJson(body): ApiJson<CreateServiceBody>,
) -> Result<(StatusCode, Json<CreatedServiceView>), ApiError> {
    let actor = caller.actor;
    let service = state
        .admin
        .create_service(actor, &body.domain, &body.org, body.address_quota)
        .await?;
    let domain = service.domain.to_string();
    let records = state
        .admin
        .service_dns_records(actor, &domain, &state.hostname)
        .await?;
    let orgs = org_names(&state, actor).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedServiceView {
            service: service_view(service, 0, &orgs),
            dns_records: records.iter().map(DnsRecordView::from).collect(),
        }),
    ))
}

/// One service.
#[utoipa::path(
    get,
    path = "/api/v1/services/{domain}",
    tag = "services",
    params(("domain" = String, Path, description = "The service's primary or alias domain")),
    responses(
        (status = 200, description = "The service", body = ServiceView),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of its organization", body = ErrorBody),
        (status = 404, description = "No service for the domain", body = ErrorBody),
    )
)]
async fn get_service(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(domain): ApiPath<String>,
) -> Result<Json<ServiceView>, ApiError> {
    Ok(Json(current_view(&state, caller.actor, &domain).await?))
}

/// The service of `domain` as it is now.
async fn current_view(
    state: &ApiState,
    actor: Actor,
    domain: &str,
) -> Result<ServiceView, ApiError> {
    let (service, used) = state.admin.service(actor, domain).await?;
    let orgs = org_names(state, actor).await?;
    Ok(service_view(service, used, &orgs))
}

/// Changes a service's quota, feature switches, default permissions or signature templates;
/// nothing changes when any field is refused.
#[utoipa::path(
    patch,
    path = "/api/v1/services/{domain}",
    tag = "services",
    params(("domain" = String, Path, description = "The service's primary or alias domain")),
    request_body = UpdateServiceBody,
    responses(
        (status = 200, description = "The service as changed", body = ServiceView),
        (status = 400, description = "An unknown permission or a bad template", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of its organization", body = ErrorBody),
        (status = 404, description = "No service for the domain", body = ErrorBody),
        (status = 409, description = "The quota would be below the addresses in use", body = ErrorBody),
    )
)]
async fn update_service(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(domain): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateServiceBody>,
) -> Result<Json<ServiceView>, ApiError> {
    let update = ServiceUpdate {
        address_quota: body.address_quota,
        features: body.features.map(|features| ServiceFeatures {
            aliases_allowed: features.aliases_allowed,
            filters: FilterOverrides::default(),
        }),
        filters: body.filters.map(FilterOverrides::from),
        default_permissions: body
            .default_permissions
            .as_deref()
            .map(permissions_from_names)
            .transpose()?,
        signature_templates: body.signature_templates.map(|templates| {
            templates
                .into_iter()
                .map(|template| SignatureTemplate {
                    name: template.name,
                    body: template.body,
                })
                .collect()
        }),
    };
    state
        .admin
        .update_service(caller.actor, &domain, update)
        .await?;
    Ok(Json(current_view(&state, caller.actor, &domain).await?))
}

/// SVC-1: the records the domain needs, each with what DNS answers now and whether it is in
/// place.
#[utoipa::path(
    get,
    path = "/api/v1/services/{domain}/dns",
    tag = "services",
    params(("domain" = String, Path, description = "The service's primary or alias domain")),
    responses(
        (status = 200, description = "Expected against found, record by record", body = Vec<RecordCheckView>),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of its organization", body = ErrorBody),
        (status = 404, description = "No service for the domain", body = ErrorBody),
    )
)]
async fn check_dns(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(domain): ApiPath<String>,
) -> Result<Json<Vec<RecordCheckView>>, ApiError> {
    let checks = state
        .admin
        .check_service_dns(
            caller.actor,
            &domain,
            &state.hostname,
            state.resolver.as_ref(),
        )
        .await?;
    Ok(Json(
        checks.into_iter().map(RecordCheckView::from).collect(),
    ))
}

/// Gives the service a new DKIM key, which signs from now on; the old one is kept. Publish
/// the new record at once.
#[utoipa::path(
    post,
    path = "/api/v1/services/{domain}/dkim/rotate",
    tag = "services",
    params(("domain" = String, Path, description = "The service's primary or alias domain")),
    responses(
        (status = 200, description = "The new key and its record", body = DkimRotationView),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of its organization", body = ErrorBody),
        (status = 404, description = "No service for the domain", body = ErrorBody),
    )
)]
async fn rotate_dkim(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(domain): ApiPath<String>,
) -> Result<Json<DkimRotationView>, ApiError> {
    let rotation = state.admin.rotate_dkim(caller.actor, &domain).await?;
    Ok(Json(rotation.into()))
}

/// SVC-3: adds an alias domain: `x@alias` delivers to `x@domain`.
#[utoipa::path(
    put,
    path = "/api/v1/services/{domain}/alias-domains/{alias}",
    tag = "services",
    params(
        ("domain" = String, Path, description = "The service's primary domain"),
        ("alias" = String, Path, description = "The alias domain"),
    ),
    responses(
        (status = 204, description = "Added"),
        (status = 400, description = "An invalid domain", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of its organization", body = ErrorBody),
        (status = 404, description = "No service for the domain", body = ErrorBody),
        (status = 409, description = "The alias domain is already served", body = ErrorBody),
    )
)]
async fn add_alias_domain(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath((domain, alias)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .admin
        .add_alias_domain(caller.actor, &domain, &alias)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// SVC-3: removes an alias domain; its addresses stop receiving mail.
#[utoipa::path(
    delete,
    path = "/api/v1/services/{domain}/alias-domains/{alias}",
    tag = "services",
    params(
        ("domain" = String, Path, description = "The service's primary domain"),
        ("alias" = String, Path, description = "The alias domain"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of its organization", body = ErrorBody),
        (status = 404, description = "No such service or alias domain", body = ErrorBody),
    )
)]
async fn remove_alias_domain(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath((domain, alias)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .admin
        .remove_alias_domain(caller.actor, &domain, &alias)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
