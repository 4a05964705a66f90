//! The Manager console (CLI-4, SPEC §2), under `/manager`: organizations and members,
//! mail services with their DNS report, addresses (list, the ADDR-1 creation wizard, one
//! address's page), CSV bulk creation with live progress (ADDR-3), and the audit log (ID-11).
//!
//! Every handler makes the same `core::Admin` (or `Audit`) call as the REST handler of the
//! same resource in `routes/`, with the signed-in account as the actor: core checks the
//! permission and its refusal is shown as it is worded. Forms post to paths ending in a verb
//! and redirect back with a notice (POST-redirect-GET), except the answers shown once (a
//! generated password) and the confirmations asked before deleting.
//!
//! ```text
//!  orgs.rs       /manager, /manager/orgs/{org}         organizations, members (ORG-1)
//!  services.rs   /manager/services/{domain}            quota, alias domains, switches, filters,
//!                                                      default permissions, templates, DKIM
//!  dns.rs        /manager/services/{domain}/dns        expected vs found, what to fix (SVC-1)
//!  addresses.rs  /manager/services/{domain}/addresses  search, sort, pages, deletion (ADDR-8)
//!  create.rs     …/addresses/new                       the ADDR-1 wizard, ADDR-2, ADDR-4
//!  address.rs    /manager/addresses/{address}          one address: ADDR-5/6/9/10, RCV-4
//!  bulk.rs       …/bulk, /manager/jobs/{id}            CSV upload, report, progress (ADDR-3)
//!  audit.rs      /manager/audit                        the audit log (ID-11)
//! ```

mod address;
mod addresses;
mod audit;
mod bulk;
mod create;
mod dns;
mod forms;
mod orgs;
mod services;

use std::collections::HashMap;

use axum::Router;
use postwerk_core::Actor;
use postwerk_model::{MailService, OrgId};

use crate::ApiState;
use crate::ui::page::PageError;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .merge(orgs::routes())
        .merge(services::routes())
        .merge(dns::routes())
        .merge(addresses::routes())
        .merge(create::routes())
        .merge(address::routes())
        .merge(bulk::routes())
        .merge(audit::routes())
}

/// The names of the organizations `actor` belongs to, by id.
async fn org_names(state: &ApiState, actor: Actor) -> Result<HashMap<OrgId, String>, PageError> {
    let orgs = state.admin.list_orgs(actor).await?;
    Ok(orgs.into_iter().map(|org| (org.id, org.name)).collect())
}

/// The service of `domain` with the addresses it holds and its organization's name, as its
/// administrators see it (core refuses anyone else).
async fn service_of(
    state: &ApiState,
    actor: Actor,
    domain: &str,
) -> Result<(MailService, u32, String), PageError> {
    let (service, used) = state.admin.service(actor, domain).await?;
    let org = org_names(state, actor)
        .await?
        .remove(&service.org)
        .unwrap_or_else(|| service.org.to_string());
    Ok((service, used, org))
}
