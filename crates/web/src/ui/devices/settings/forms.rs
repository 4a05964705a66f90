//! The forms of a mailbox's settings page. Each calls the same `core` method as its REST
//! handler (`routes/addresses.rs`, `aliases.rs`, `sender_rules.rs`) with the account's actor,
//! so core decides what the account may do; a refusal is shown next to the form, with the
//! page drawn again and what was typed kept (passwords excepted: they are never sent back).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use postwerk_core::{AddressUpdate, CoreError, Unification};
use postwerk_model::{Address, ListKind};
use serde::Deserialize;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::super::linked::{Linked, MailboxRequest, path_segment};
use super::page::{SettingsPage, TypedAgain};
use crate::ApiState;
use crate::ui::page::{self, PageError, PageUser};

/// A core refusal as the status and sentence to show next to the form; our own failures stay
/// errors (the error page, logged).
fn refusal(error: CoreError) -> Result<(StatusCode, String), PageError> {
    let error = PageError::from(error);
    if error.status().is_client_error() {
        Ok((error.status(), error.message().to_owned()))
    } else {
        Err(error)
    }
}

/// `result` with core's refusal turned into the status and sentence to show next to the form.
fn refused<T>(result: Result<T, CoreError>) -> Result<Result<T, (StatusCode, String)>, PageError> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(error) => refusal(error).map(Err),
    }
}

/// The answer to a form: back to the section `anchor` with the notice `notice` makes of the
/// outcome, or the page again with the refusal put next to the form by `place`.
async fn answer<T>(
    (state, user, mailbox): (&ApiState, &PageUser, &Linked),
    outcome: Result<T, (StatusCode, String)>,
    anchor: &str,
    notice: impl FnOnce(T) -> String,
    place: impl FnOnce(&mut SettingsPage, String) -> Option<String>,
) -> Result<Response, PageError> {
    match outcome {
        Ok(value) => Ok(done(mailbox, anchor, &notice(value))),
        Err(refused) => redisplay(state, user, mailbox, refused, place).await,
    }
}

/// The settings page drawn again with `status` and `problem` next to the form `place` put it
/// in. When the section is not on the page (the account lacks its permission and posted the
/// form anyway), the problem is shown as the error page instead, so it is never lost.
async fn redisplay(
    state: &ApiState,
    user: &PageUser,
    mailbox: &Linked,
    (status, problem): (StatusCode, String),
    place: impl FnOnce(&mut SettingsPage, String) -> Option<String>,
) -> Result<Response, PageError> {
    let mut settings = SettingsPage::load(state, user, mailbox).await?;
    match place(&mut settings, problem) {
        None => Ok(page::render_with(status, &settings)),
        Some(unplaced) => Err(PageError::new(status, unplaced)),
    }
}

/// Puts `problem` and what was `typed` back into the form of `section`; when the page has no
/// such section, hands the problem back for `redisplay` to show on its own.
fn type_again(
    section: Option<&mut impl TypedAgain>,
    problem: String,
    typed: &str,
) -> Option<String> {
    match section {
        Some(section) => {
            section.type_again(problem, typed.to_owned());
            None
        }
        None => Some(problem),
    }
}

/// Back to the section `anchor` of the settings page with `notice`.
fn done(mailbox: &Linked, anchor: &str, notice: &str) -> Response {
    page::see_other(
        &format!("/settings/{}#{anchor}", path_segment(&mailbox.address())),
        notice,
    )
}

// ---- Password (ID-5, ID-6)

/// A new mailbox password, typed twice; `unify` set by the unification offer's form. Wiped
/// from memory when dropped.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    unify: Option<String>,
}

/// `POST /settings/{mailbox}/password`: the same call as `PUT /api/v1/addresses/{a}/password`,
/// in the caller's session so that session goes on when the account password changes too.
pub async fn change_password(
    State(state): State<ApiState>,
    MailboxRequest { user, mailbox }: MailboxRequest,
    axum::Form(form): axum::Form<PasswordForm>,
) -> Result<Response, PageError> {
    let unify = form.unify.is_some();
    let mismatch = if form.password.is_empty() {
        Some("Type the new password twice.")
    } else if form.password != form.confirm {
        Some("The two passwords differ; type the same password twice.")
    } else {
        None
    };
    let outcome = match mismatch {
        Some(problem) => Err((StatusCode::BAD_REQUEST, problem.to_owned())),
        None => refused(
            state
                .admin
                .set_address_password_in_session(
                    user.caller.actor,
                    &mailbox.address(),
                    Some(&form.password),
                    unify,
                    user.caller.session,
                )
                .await,
        )?,
    };
    let address = mailbox.address();
    answer(
        (&state, &user, &mailbox),
        outcome,
        "password",
        |changed| match changed.unification {
            Unification::Unified { .. } => format!(
                "The password of {address} changed, and your account uses the same one now. \
                     Mail programs must sign in again with it."
            ),
            Unification::Offered => format!(
                "The password of {address} changed; mail programs must sign in again with \
                     it. You may use one password for your account and this mailbox: see below."
            ),
            _ => format!(
                "The password of {address} changed; mail programs must sign in again with it."
            ),
        },
        |settings, problem| {
            let Some(section) = settings.password.as_mut() else {
                return Some(problem);
            };
            // The offer's form is drawn only while unification is offered.
            section.error_in_offer = unify && section.unification.state == "offered";
            section.error = Some(problem);
            None
        },
    )
    .await
}

// ---- Aliases (ADDR-6)

#[derive(Deserialize)]
pub struct AliasForm {
    #[serde(default)]
    alias: String,
}

/// `POST /settings/{mailbox}/aliases`: a local part, or a full address in the mailbox's domain.
pub async fn add_alias(
    State(state): State<ApiState>,
    MailboxRequest { user, mailbox }: MailboxRequest,
    axum::Form(form): axum::Form<AliasForm>,
) -> Result<Response, PageError> {
    let typed = form.alias.trim();
    let alias = if typed.contains('@') {
        typed.to_owned()
    } else {
        format!("{typed}@{}", mailbox.hosted.address.domain())
    };
    let outcome = if typed.is_empty() {
        Err((
            StatusCode::BAD_REQUEST,
            "Type the alias to add, for example “sales”.".to_owned(),
        ))
    } else {
        refused(
            state
                .admin
                .add_alias(user.caller.actor, &mailbox.address(), &alias)
                .await,
        )?
    };
    answer(
        (&state, &user, &mailbox),
        outcome,
        "aliases",
        |_| format!("Mail to {alias} now arrives in {}.", mailbox.address()),
        |settings, problem| type_again(settings.aliases.as_mut(), problem, typed),
    )
    .await
}

/// `POST /settings/{mailbox}/aliases/remove`.
pub async fn remove_alias(
    State(state): State<ApiState>,
    MailboxRequest { user, mailbox }: MailboxRequest,
    axum::Form(form): axum::Form<AliasForm>,
) -> Result<Response, PageError> {
    let alias = Address::parse(form.alias.trim())
        .map_err(|_| PageError::invalid("Pick the alias to remove from the list."))?;
    // core removes an alias by its own name; check first that it is this mailbox's, as the
    // REST handler does, so the form cannot remove another address's alias.
    let aliases = state
        .admin
        .list_aliases(user.caller.actor, &mailbox.address())
        .await?;
    if alias.domain() != mailbox.hosted.address.domain()
        || !aliases
            .iter()
            .any(|existing| &existing.local == alias.local())
    {
        return Err(PageError::not_found(format!(
            "{alias} is not an alias of {}; reload the page.",
            mailbox.address()
        )));
    }
    state
        .admin
        .remove_alias(user.caller.actor, &alias.to_string())
        .await?;
    Ok(done(
        &mailbox,
        "aliases",
        &format!("The alias {alias} was removed; mail to it is refused from now on."),
    ))
}

// ---- Redirection (ADDR-5)

#[derive(Deserialize)]
pub struct RedirectForm {
    #[serde(default)]
    targets: String,
    #[serde(default)]
    keep_copy: Option<String>,
}

/// The target addresses typed in the form: one a line, or separated by commas, semicolons or
/// spaces.
fn split_targets(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `POST /settings/{mailbox}/redirect`: the same call as `PATCH /api/v1/addresses/{a}` with
/// `redirect`.
pub async fn set_redirect(
    State(state): State<ApiState>,
    MailboxRequest { user, mailbox }: MailboxRequest,
    axum::Form(form): axum::Form<RedirectForm>,
) -> Result<Response, PageError> {
    let targets = split_targets(&form.targets);
    let keep_copy = form.keep_copy.is_some();
    let update = AddressUpdate {
        redirect: Some(Some((targets.clone(), keep_copy))),
        ..AddressUpdate::default()
    };
    let outcome = refused(
        state
            .admin
            .update_address(user.caller.actor, &mailbox.address(), update)
            .await,
    )?;
    let copy = if keep_copy {
        "a copy stays in this mailbox"
    } else {
        "no copy is kept here"
    };
    answer(
        (&state, &user, &mailbox),
        outcome,
        "redirect",
        |_| {
            format!(
                "Mail to {} now goes to {}; {copy}.",
                mailbox.address(),
                targets.join(", ")
            )
        },
        |settings, problem| {
            let Some(section) = settings.redirect.as_mut() else {
                return Some(problem);
            };
            section.error = Some(problem);
            section.value = form.targets.trim().to_owned();
            section.keep_copy = keep_copy;
            None
        },
    )
    .await
}

/// `POST /settings/{mailbox}/redirect/remove`.
pub async fn remove_redirect(
    State(state): State<ApiState>,
    MailboxRequest { user, mailbox }: MailboxRequest,
) -> Result<Response, PageError> {
    let update = AddressUpdate {
        redirect: Some(None),
        ..AddressUpdate::default()
    };
    state
        .admin
        .update_address(user.caller.actor, &mailbox.address(), update)
        .await?;
    Ok(done(
        &mailbox,
        "redirect",
        &format!("Mail to {} is no longer forwarded.", mailbox.address()),
    ))
}

// ---- Sender lists (RCV-4)

#[derive(Deserialize)]
pub struct SenderForm {
    #[serde(default)]
    pattern: String,
    #[serde(default)]
    list: String,
}

/// `POST /settings/{mailbox}/senders`: `list` is `allow` or `block`.
pub async fn add_sender(
    State(state): State<ApiState>,
    MailboxRequest { user, mailbox }: MailboxRequest,
    axum::Form(form): axum::Form<SenderForm>,
) -> Result<Response, PageError> {
    let kind = match form.list.as_str() {
        "allow" => Some(ListKind::Allow),
        "block" => Some(ListKind::Block),
        _ => None,
    };
    let outcome = match kind {
        None => Err((
            StatusCode::BAD_REQUEST,
            "Choose whether to allow or to block this sender.".to_owned(),
        )),
        Some(kind) => refused(
            state
                .admin
                .add_sender_rule(user.caller.actor, &mailbox.address(), kind, &form.pattern)
                .await,
        )?,
    };
    answer(
        (&state, &user, &mailbox),
        outcome,
        "senders",
        |rule| match rule.kind {
            ListKind::Allow => format!(
                "Mail from {} is never treated as spam from now on.",
                rule.pattern
            ),
            ListKind::Block => format!("Mail from {} is kept out from now on.", rule.pattern),
        },
        |settings, problem| type_again(settings.senders.as_mut(), problem, form.pattern.trim()),
    )
    .await
}

/// `POST /settings/{mailbox}/senders/remove`.
pub async fn remove_sender(
    State(state): State<ApiState>,
    MailboxRequest { user, mailbox }: MailboxRequest,
    axum::Form(form): axum::Form<SenderForm>,
) -> Result<Response, PageError> {
    state
        .admin
        .remove_sender_rule(user.caller.actor, &mailbox.address(), &form.pattern)
        .await?;
    Ok(done(
        &mailbox,
        "senders",
        &format!("{} is no longer on either list.", form.pattern.trim()),
    ))
}

// ---- The name shown with the address (manage_signatures)

#[derive(Deserialize)]
pub struct NameForm {
    #[serde(default)]
    display_name: String,
}

/// `POST /settings/{mailbox}/name`: the same call as `PATCH /api/v1/addresses/{a}` with
/// `display_name`.
pub async fn set_name(
    State(state): State<ApiState>,
    MailboxRequest { user, mailbox }: MailboxRequest,
    axum::Form(form): axum::Form<NameForm>,
) -> Result<Response, PageError> {
    let update = AddressUpdate {
        display_name: Some(form.display_name.clone()),
        ..AddressUpdate::default()
    };
    let outcome = refused(
        state
            .admin
            .update_address(user.caller.actor, &mailbox.address(), update)
            .await,
    )?;
    answer(
        (&state, &user, &mailbox),
        outcome,
        "signature",
        |_| "The name shown with your mail was saved.".to_owned(),
        |settings, problem| {
            if !settings.signature.may_rename {
                return Some(problem);
            }
            settings.signature.error = Some(problem);
            settings.signature.display_name = form.display_name.clone();
            None
        },
    )
    .await
}

// ---- The signature (SVC-4, manage_signatures)

#[derive(Deserialize)]
pub struct SignatureForm {
    /// A template's name; empty for no signature.
    #[serde(default)]
    signature: String,
}

/// `POST /settings/{mailbox}/signature`: the account's own choice among the service's
/// templates, through `Admin::choose_signature`.
pub async fn choose_signature(
    State(state): State<ApiState>,
    MailboxRequest { user, mailbox }: MailboxRequest,
    axum::Form(form): axum::Form<SignatureForm>,
) -> Result<Response, PageError> {
    let template = Some(form.signature.as_str()).filter(|name| !name.is_empty());
    let outcome = refused(
        state
            .admin
            .choose_signature(user.caller.actor, &mailbox.address(), template)
            .await,
    )?;
    answer(
        (&state, &user, &mailbox),
        outcome,
        "signature",
        |()| "Signature saved.".to_owned(),
        |settings, problem| {
            if !settings.signature.may_rename {
                return Some(problem);
            }
            settings.signature.choice_error = Some(problem);
            None
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_targets_may_be_typed_one_a_line_or_in_a_list() {
        assert_eq!(
            split_targets("a@x.test\r\nb@y.test, c@z.test;d@w.test  "),
            ["a@x.test", "b@y.test", "c@z.test", "d@w.test"]
        );
        assert!(split_targets(" \n ").is_empty());
    }
}
