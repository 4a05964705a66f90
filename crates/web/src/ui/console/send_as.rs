//! SND-1 on the address page, section "May also send as": the addresses of its organization
//! a mailbox has been granted to send as (besides itself and its aliases), each with a Remove
//! button, a form to grant one more, and — for any address — the mailboxes that may send as
//! it. The same `Admin` calls as `routes/send_as.rs`; core decides who may grant what
//! (administrators only, the same organization, a mailbox as the sender) and its refusal is
//! shown on the page as worded.
//!
//! Declared inside `address.rs` (its routes are merged into the address page's): a grant
//! belongs to the page of the mailbox that sends.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::post;
use postwerk_core::{Actor, CoreError};

use super::super::forms::Fields;
use super::settle;
use crate::ApiState;
use crate::ui::page::{PageError, PageUser};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/manager/addresses/{address}/send-as", post(grant))
        .route("/manager/addresses/{address}/send-as/remove", post(revoke))
}

/// The addresses the mailbox `address` may send as, as the page lists them; none for an
/// address nobody logs into (it sends as nothing, so the section offers no form).
pub async fn granted(
    state: &ApiState,
    actor: Actor,
    address: &str,
    holds_mail: bool,
) -> Result<Vec<String>, PageError> {
    if !holds_mail {
        return Ok(Vec::new());
    }
    let granted = state.admin.list_send_as(actor, address).await?;
    Ok(granted.iter().map(|a| a.address.to_string()).collect())
}

/// The mailboxes that may send as `address`, or `None` when the viewer may not see them
/// (core shows them to administrators only; a user with access still sees the rest of the
/// page).
pub async fn holders(
    state: &ApiState,
    actor: Actor,
    address: &str,
) -> Result<Option<Vec<String>>, PageError> {
    match state.admin.send_as_holders(actor, address).await {
        Ok(holders) => Ok(Some(
            holders.iter().map(|a| a.address.to_string()).collect(),
        )),
        Err(CoreError::Forbidden(_)) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// What was typed: a full address, or a local part taken in the mailbox's own domain.
fn typed_address(fields: &Fields, mailbox: &str) -> String {
    let typed = fields.get("send_as");
    match mailbox.rsplit_once('@') {
        Some((_, domain)) if !typed.is_empty() && !typed.contains('@') => {
            format!("{typed}@{domain}")
        }
        _ => typed.to_owned(),
    }
}

/// SND-1: lets the mailbox send as another address of its organization.
async fn grant(
    State(state): State<ApiState>,
    me: PageUser,
    Path(address): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let send_as = typed_address(&fields, &address);
    let outcome = if send_as.is_empty() {
        Err(PageError::invalid(
            "Type the address this mailbox may also send as.",
        ))
    } else {
        state
            .admin
            .grant_send_as(me.caller.actor, &address, &send_as)
            .await
            .map_err(PageError::from)
    };
    let notice = format!("{address} may now also send as {send_as}.");
    settle(&state, &me, &address, outcome, &notice).await
}

/// SND-1: takes a grant back; mail from that address is refused again.
async fn revoke(
    State(state): State<ApiState>,
    me: PageUser,
    Path(address): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let send_as = typed_address(&fields, &address);
    let outcome = state
        .admin
        .revoke_send_as(me.caller.actor, &address, &send_as)
        .await;
    let notice = format!("{address} may no longer send as {send_as}.");
    settle(&state, &me, &address, outcome, &notice).await
}
