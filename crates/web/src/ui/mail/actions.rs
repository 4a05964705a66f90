//! The one endpoint every message button posts to, from the list (checkboxes) and from the
//! reading page (the message's own uid): mark read/unread, flag, move, delete to Trash, spam
//! and not spam (RCV-4, core learns the senders).

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use postwerk_core::webmail::MailFlag;
use postwerk_model::{AddressId, FolderId};

use super::{folder_path, webmail};
use crate::ApiState;
use crate::ui::page::{self, PageError, PageUser};

/// What the form carries: `action`, one `uid` per checked message, `to` (move), `back` (the
/// page to return to). Read as pairs because `uid` repeats.
struct ActionForm {
    action: String,
    uids: Vec<u32>,
    to: Option<FolderId>,
    back: Option<String>,
}

impl ActionForm {
    fn read(pairs: Vec<(String, String)>) -> Result<ActionForm, PageError> {
        let mut form = ActionForm {
            action: String::new(),
            uids: Vec::new(),
            to: None,
            back: None,
        };
        for (name, value) in pairs {
            match name.as_str() {
                "action" => form.action = value,
                "uid" => form.uids.push(value.parse().map_err(|_| {
                    PageError::invalid("A selected message could not be read; reload the page.")
                })?),
                "to" => form.to = value.parse().ok(),
                "back" => form.back = Some(value),
                _ => {}
            }
        }
        Ok(form)
    }
}

/// `POST /mail/{mailbox}/{folder}/actions`.
pub async fn apply(
    State(state): State<ApiState>,
    me: PageUser,
    Path((mailbox, folder)): Path<(AddressId, FolderId)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    match run(&state, &me, mailbox, folder, pairs).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn run(
    state: &ApiState,
    me: &PageUser,
    mailbox: AddressId,
    folder: FolderId,
    pairs: Vec<(String, String)>,
) -> Result<Response, PageError> {
    let form = ActionForm::read(pairs)?;
    let list = folder_path(mailbox, folder);
    // Only a page of this mailbox's folder: the field cannot send the browser elsewhere.
    let back = form
        .back
        .as_deref()
        .filter(|back| back.starts_with(&format!("{list}/")) || *back == list)
        .map(|back| page::local_path(back).to_owned())
        .unwrap_or_else(|| list.clone());
    if form.uids.is_empty() {
        return Ok(page::see_other(&back, "Select at least one message first."));
    }
    let webmail = webmail(state)?;
    let user = me.user.id;
    let uids = &form.uids;
    let count = uids.len();
    let notice = match form.action.as_str() {
        "read" | "unread" | "flag" | "unflag" => {
            let (flag, on, done) = match form.action.as_str() {
                "read" => (MailFlag::Seen, true, "marked as read"),
                "unread" => (MailFlag::Seen, false, "marked as unread"),
                "flag" => (MailFlag::Flagged, true, "flagged"),
                _ => (MailFlag::Flagged, false, "no longer flagged"),
            };
            webmail
                .set_flag(user, mailbox, folder, uids, flag, on)
                .await?;
            // A message marked unread from its own page would be marked read again there.
            let back = if form.action == "unread" { list } else { back };
            return Ok(page::see_other(
                &back,
                &format!("{} {done}.", messages(count)),
            ));
        }
        "move" => {
            let to = form
                .to
                .ok_or_else(|| PageError::invalid("Choose the folder to move the messages to."))?;
            let moved = webmail.move_to(user, mailbox, folder, uids, to).await?;
            format!("{} moved.", messages(moved))
        }
        "delete" => {
            let deleted = webmail.delete(user, mailbox, folder, uids).await?;
            format!("{} deleted.", messages(deleted))
        }
        "spam" | "not_spam" => {
            let spam = form.action == "spam";
            let outcome = webmail.mark_spam(user, mailbox, folder, uids, spam).await?;
            let mut notice = if spam {
                format!("{} moved to Junk.", messages(outcome.moved))
            } else {
                format!("{} moved to the Inbox.", messages(outcome.moved))
            };
            if !outcome.learnt.is_empty() {
                let list = outcome.learnt.join(", ");
                if spam {
                    notice.push_str(&format!(" Mail from {list} will go to Junk from now on."));
                } else {
                    notice.push_str(&format!(" Mail from {list} will be trusted from now on."));
                }
            }
            notice
        }
        _ => {
            return Err(PageError::invalid(
                "This button is unknown; reload the page.",
            ));
        }
    };
    // The message left this folder: back to the list, not to a page that no longer exists.
    Ok(page::see_other(&list, &notice))
}

fn messages(count: usize) -> String {
    if count == 1 {
        "1 message".to_owned()
    } else {
        format!("{count} messages")
    }
}
