//! Reading the console's forms, and the bits of wording several pages share.
//!
//! Forms are read as the list of their `(name, value)` pairs rather than into a struct, because
//! several carry one name many times (a checkbox per address, a checkbox per permission), which
//! `serde_urlencoded` cannot put into a struct field.

use axum::Form;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use postwerk_model::{AddressKind, Permissions};

use crate::dto::permissions_from_names;
use crate::ui::format;
use crate::ui::page::{self, PageError};

/// The fields of a posted form, in the order the browser sent them.
#[derive(Default)]
pub struct Fields(Vec<(String, String)>);

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Fields, Response> {
        match Form::<Vec<(String, String)>>::from_request(request, state).await {
            Ok(Form(pairs)) => Ok(Fields(pairs)),
            Err(_) => Err(PageError::invalid(
                "This form could not be read. Open the page again and send the form from there.",
            )
            .into_response()),
        }
    }
}

impl Fields {
    /// Whether nothing was posted (a form shown for the first time).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first value of `name`, trimmed; empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim())
            .unwrap_or_default()
    }

    /// The first value of `name` untouched (passwords keep their spaces).
    pub fn raw(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .unwrap_or_default()
    }

    /// Every non-empty value of `name` (ticked checkboxes), trimmed.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, value)| key == name && !value.trim().is_empty())
            .map(|(_, value)| value.trim().to_owned())
            .collect()
    }

    /// Whether the checkbox `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(key, _)| key == name)
    }

    /// `name` as an optional value: `None` when blank.
    pub fn optional(&self, name: &str) -> Option<String> {
        Some(self.get(name))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    /// The ticked permission checkboxes (named `permission`), as core's permission set.
    pub fn permissions(&self) -> Result<Permissions, PageError> {
        permissions_from_names(&self.all("permission")).map_err(PageError::from)
    }
}

/// `text` made safe as one path segment of a link: everything but unreserved characters and
/// `@` (allowed in a segment by RFC 3986 §3.3, and what every address holds) is
/// percent-encoded, so an organization named `A/B` or an address with `+` stays one segment.
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~@".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Splits a list typed by a person (commas, spaces or line breaks between items).
pub fn split_list(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// One permission checkbox (ADDR-9), with words a person understands.
#[derive(Debug, Clone)]
pub struct PermissionChoice {
    /// The API name, the checkbox's value.
    pub name: &'static str,
    /// What it allows, in words.
    pub label: &'static str,
    /// Whether it is ticked.
    pub checked: bool,
}

/// The permissions a user can be given on a mailbox, in words (ADDR-9).
const PERMISSION_WORDS: [(Permissions, &str, &str); 6] = [
    (Permissions::READ_SEND, "read_send", "Read and send mail"),
    (
        Permissions::CHANGE_PASSWORD,
        "change_password",
        "Change the mailbox password",
    ),
    (
        Permissions::MANAGE_ALIASES,
        "manage_aliases",
        "Manage aliases",
    ),
    (
        Permissions::MANAGE_REDIRECTIONS,
        "manage_redirections",
        "Manage redirections",
    ),
    (
        Permissions::MANAGE_FILTERS,
        "manage_filters",
        "Manage allowed and blocked senders",
    ),
    (
        Permissions::MANAGE_SIGNATURES,
        "manage_signatures",
        "Manage signatures and display name",
    ),
];

/// Every permission checkbox, ticked where `selected` holds it.
pub fn permission_choices(selected: Permissions) -> Vec<PermissionChoice> {
    PERMISSION_WORDS
        .iter()
        .map(|(permission, name, label)| PermissionChoice {
            name,
            label,
            checked: selected.contains(*permission),
        })
        .collect()
}

/// A permission set in words, for tables.
pub fn permission_words(permissions: Permissions) -> String {
    let words: Vec<&str> = PERMISSION_WORDS
        .iter()
        .filter(|(permission, _, _)| permissions.contains(*permission))
        .map(|(_, _, label)| *label)
        .collect();
    if words.is_empty() {
        "No permission".to_owned()
    } else {
        words.join(", ")
    }
}

/// The answer to a form that changed something (POST-redirect-GET): when `outcome` holds the
/// notice of the change, a redirect to `back` showing it; when it holds core's refusal, the
/// form's page drawn again by `page_with` around the refusal's sentence, with its status.
pub async fn settle<P, F>(
    outcome: Result<String, PageError>,
    back: &str,
    page_with: impl FnOnce(String) -> F,
) -> Result<Response, PageError>
where
    P: askama::Template,
    F: Future<Output = Result<P, PageError>>,
{
    match outcome {
        Ok(notice) => Ok(page::see_other(back, &notice)),
        Err(error) => {
            let page = page_with(error.message().to_owned()).await?;
            Ok(page::render_with(error.status(), &page))
        }
    }
}

/// What an address is, in words.
pub fn kind_words(kind: AddressKind) -> &'static str {
    match kind {
        AddressKind::Mailbox => "Mailbox",
        AddressKind::NoReply => "No-reply",
        AddressKind::CatchAll => "Catch-all",
        AddressKind::RedirectOnly => "Redirect only",
    }
}

/// Reads a storage size typed as `500 MB`, `2GB`, `1.5 GB` or a plain number of megabytes.
pub fn parse_size(text: &str) -> Result<u64, PageError> {
    format::parse_storage_size(text).ok_or_else(|| {
        PageError::invalid(format!(
            "\"{text}\" is not a size; write it like 500 MB or 2 GB"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_sizes_are_refused_in_a_sentence() {
        assert_eq!(parse_size("2 GB").unwrap(), 2_000_000_000);
        let refused = parse_size("lots").unwrap_err();
        assert!(refused.message().contains("500 MB"));
    }

    #[test]
    fn path_segments_keep_addresses_readable_and_slashes_out() {
        assert_eq!(segment("anna+news@acme.test"), "anna%2Bnews@acme.test");
        assert_eq!(segment("A/B Team"), "A%2FB%20Team");
    }

    #[test]
    fn typed_lists_split_on_commas_spaces_and_lines() {
        assert_eq!(
            split_list("a@x.test, b@x.test\nc@x.test;;"),
            ["a@x.test", "b@x.test", "c@x.test"]
        );
    }

    #[test]
    fn permissions_read_in_words() {
        assert_eq!(permission_words(Permissions::NONE), "No permission");
        let choices = permission_choices(Permissions::READ_SEND);
        assert_eq!(choices.len(), 6);
        assert!(choices[0].checked && !choices[1].checked);
    }
}
