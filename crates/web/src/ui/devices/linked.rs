//! The mailboxes linked to the signed-in account (ADDR-9 access rows), which both the device
//! setup assistant and the mailbox settings are drawn for. A mailbox named in a URL that is not
//! linked to the account is answered 403, so a page can never show another account's mailbox
//! by changing its address in the URL; what may be done with a linked one is still decided by
//! `core` on every change.

use axum::extract::{FromRequestParts, Path};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use postwerk_model::{Access, Address, HostedAddress, Permissions};

use crate::ApiState;
use crate::ui::page::{PageError, PageUser};

/// One mailbox the account has access to.
#[derive(Clone, Debug)]
pub struct Linked {
    /// The mailbox.
    pub hosted: HostedAddress,
    /// The account's access to it: permissions and picked signature template.
    pub access: Access,
}

impl Linked {
    /// The full address, as mail programs use it for the username.
    pub fn address(&self) -> String {
        self.hosted.address.to_string()
    }

    /// Whether the account holds `permission` on the mailbox (to choose which settings to
    /// draw; core decides every change itself).
    pub fn may(&self, permission: Permissions) -> bool {
        self.access.permissions.contains(permission)
    }
}

/// A request about the one linked mailbox its URL names (`/devices/{mailbox}`,
/// `/settings/{mailbox}/…`): the signed-in account and that mailbox. When the URL names no
/// mailbox linked to the account, the request is answered as [`linked_mailbox`] says.
pub struct MailboxRequest {
    pub user: PageUser,
    pub mailbox: Linked,
}

impl FromRequestParts<ApiState> for MailboxRequest {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Response> {
        let user = PageUser::from_request_parts(parts, state).await?;
        let Path(address) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let mailbox = linked_mailbox(state, &user, &address)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(MailboxRequest { user, mailbox })
    }
}

/// Every mailbox linked to the account, by address.
pub async fn linked_mailboxes(state: &ApiState, user: &PageUser) -> Result<Vec<Linked>, PageError> {
    let grants = state
        .directory
        .user_access(user.user.id)
        .await
        .map_err(core_error)?;
    let mut linked = Vec::with_capacity(grants.len());
    for access in grants {
        if let Some(hosted) = state
            .directory
            .address(access.address)
            .await
            .map_err(core_error)?
        {
            linked.push(Linked { hosted, access });
        }
    }
    linked.sort_by_key(|mailbox| mailbox.address());
    Ok(linked)
}

/// Each linked mailbox's address with its page's path segment, for the lists of the
/// `/devices` and `/settings` index pages.
pub async fn mailbox_links(
    state: &ApiState,
    user: &PageUser,
) -> Result<Vec<(String, String)>, PageError> {
    Ok(linked_mailboxes(state, user)
        .await?
        .iter()
        .map(|mailbox| (mailbox.address(), path_segment(&mailbox.address())))
        .collect())
}

/// The linked mailbox named `address` in a URL: 400 when it is not an address, 403 when the
/// account has no access to it.
pub async fn linked_mailbox(
    state: &ApiState,
    user: &PageUser,
    address: &str,
) -> Result<Linked, PageError> {
    let wanted = Address::parse(address.trim()).map_err(|_| {
        PageError::invalid(format!(
            "\"{address}\" is not an email address; pick a mailbox from the list."
        ))
    })?;
    linked_mailboxes(state, user)
        .await?
        .into_iter()
        .find(|mailbox| mailbox.hosted.address == wanted)
        .ok_or_else(|| {
            PageError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "The mailbox {wanted} is not linked to your account; ask its administrator \
                     for access."
                ),
            )
        })
}

fn core_error(error: postwerk_store::StoreError) -> PageError {
    PageError::from(postwerk_core::CoreError::from(error))
}

/// `address` as one path segment (`/settings/{segment}`): everything but unreserved characters
/// and `@` percent-encoded (RFC 3986 §3.3), so a local part holding `/`, `?` or `#` (allowed by
/// RFC 5322 atext) stays inside its segment.
pub fn path_segment(address: &str) -> String {
    let mut out = String::with_capacity(address.len());
    for byte in address.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~@".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_stays_one_path_segment() {
        assert_eq!(path_segment("anna@acme.test"), "anna@acme.test");
        assert_eq!(path_segment("a/b?c#d@acme.test"), "a%2Fb%3Fc%23d@acme.test");
    }
}
