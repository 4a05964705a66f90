//! ADDR-6: the aliases of an address: up to 50, in the address's domain, when the service's
//! plan allows aliases.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use postwerk_model::Address;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiState;
use crate::auth::Authenticated;
use crate::dto::AliasView;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::pagination::{Page, PageQuery};
use crate::routes::addresses::in_domain;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::default()
        .routes(routes!(list_aliases, add_alias))
        .routes(routes!(remove_alias))
}

/// An alias to add.
#[derive(Deserialize, ToSchema)]
pub struct AddAliasBody {
    /// A local part, or a full address in the address's domain.
    #[schema(example = "tata")]
    alias: String,
}

/// The domain part of `address`, for qualifying alias local parts; core checks the rest.
fn domain_of(address: &str) -> Result<&str, ApiError> {
    address
        .rsplit_once('@')
        .map(|(_, domain)| domain)
        .ok_or_else(|| ApiError::invalid(format!("\"{address}\" is not a full address")))
}

/// The aliases of an address.
#[utoipa::path(
    get,
    path = "/api/v1/addresses/{address}/aliases",
    tag = "aliases",
    params(("address" = String, Path, description = "The full address"), PageQuery),
    responses(
        (status = 200, description = "The aliases", body = Page<AliasView>),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of its organization", body = ErrorBody),
        (status = 404, description = "No such address", body = ErrorBody),
    )
)]
async fn list_aliases(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(address): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<AliasView>>, ApiError> {
    let aliases = state.admin.list_aliases(caller.actor, &address).await?;
    let owner = Address::parse(&address)?;
    Ok(Json(page.paginate(aliases, |alias| {
        AliasView::new(&alias, &owner)
    })?))
}

/// Adds an alias: mail to it is delivered to the address.
#[utoipa::path(
    post,
    path = "/api/v1/addresses/{address}/aliases",
    tag = "aliases",
    params(("address" = String, Path, description = "The full address")),
    request_body = AddAliasBody,
    responses(
        (status = 201, description = "Added", body = AliasView),
        (status = 400, description = "An invalid alias, or one outside the address's domain", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of its organization", body = ErrorBody),
        (status = 404, description = "No such address", body = ErrorBody),
        (status = 409, description = "`alias_limit` (the 51st), `aliases_disabled`, or `conflict` (the name is taken by an address or alias)", body = ErrorBody),
    )
)]
async fn add_alias(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(address): ApiPath<String>,
    ApiJson(body): ApiJson<AddAliasBody>,
) -> Result<(StatusCode, Json<AliasView>), ApiError> {
    let alias = in_domain(&body.alias, domain_of(&address)?)?;
    let added = state
        .admin
        .add_alias(caller.actor, &address, &alias)
        .await?;
    let owner = Address::parse(&address)?;
    Ok((StatusCode::CREATED, Json(AliasView::new(&added, &owner))))
}

/// Removes an alias of the address.
#[utoipa::path(
    delete,
    path = "/api/v1/addresses/{address}/aliases/{alias}",
    tag = "aliases",
    params(
        ("address" = String, Path, description = "The full address"),
        ("alias" = String, Path, description = "The alias: a local part or a full address"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of its organization", body = ErrorBody),
        (status = 404, description = "No such address, or not one of its aliases", body = ErrorBody),
    )
)]
async fn remove_alias(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath((address, alias)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    // `in_domain` puts the alias in the address's domain, so comparing local parts suffices.
    let alias = Address::parse(&in_domain(&alias, domain_of(&address)?)?)?;
    // core removes an alias by its own name; check first that it is this address's, so the
    // path cannot remove another address's alias.
    let aliases = state.admin.list_aliases(caller.actor, &address).await?;
    if !aliases
        .iter()
        .any(|existing| &existing.local == alias.local())
    {
        return Err(ApiError::not_found(format!(
            "{alias} is not an alias of {address}"
        )));
    }
    state
        .admin
        .remove_alias(caller.actor, &alias.to_string())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
