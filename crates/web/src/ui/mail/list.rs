//! The message list (CLI-1): mailbox switcher, folders with unread counts, one page of a
//! folder's messages with sorting, search and the unread-only filter, and the checkboxes of
//! the action form; the JSON of folder counts that mail.js polls to refresh the list.

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use postwerk_core::webmail::{FolderSummary, LinkedMailbox, ListQuery, MessagePage, SortKey};
use postwerk_model::{AddressId, FolderId, UserId};
use serde::{Deserialize, Serialize};

use super::read::{MoveTarget, move_targets, shown_subject};
use super::{folder_label, folder_path, inbox, message_path, webmail};
use crate::ApiState;
use crate::ui::devices::path_segment;
use crate::ui::format::{date_time, file_size};
use crate::ui::page::{self, Layout, PageError, PageUser};

/// The list's query string: `?page=2&sort=date&dir=asc&q=invoice&unread=1`.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    page: Option<u32>,
    sort: Option<String>,
    dir: Option<String>,
    q: Option<String>,
    unread: Option<String>,
}

/// The sort options of the list, as the select shows them.
const SORTS: [(SortKey, &str, &str); 5] = [
    (SortKey::Arrival, "arrival", "Arrival"),
    (SortKey::Date, "date", "Date"),
    (SortKey::From, "from", "Sender"),
    (SortKey::Subject, "subject", "Subject"),
    (SortKey::Size, "size", "Size"),
];

impl ListParams {
    fn sort(&self) -> SortKey {
        let wanted = self.sort.as_deref().unwrap_or_default();
        SORTS
            .iter()
            .find(|(_, name, _)| *name == wanted)
            .map_or(SortKey::Arrival, |(key, _, _)| *key)
    }

    fn search(&self) -> Option<String> {
        self.q
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_owned)
    }

    fn query(&self) -> ListQuery {
        ListQuery {
            sort: self.sort(),
            ascending: self.dir.as_deref() == Some("asc"),
            page: self.page.unwrap_or(1).max(1),
            per_page: 0,
            search: self.search(),
            unread_only: self.unread.as_deref() == Some("1"),
        }
    }

    /// The query string of page `page` with the same order and filters.
    fn page_link(&self, base: &str, page: u32) -> String {
        let query = self.query();
        let sort = SORTS
            .iter()
            .find(|(key, _, _)| *key == query.sort)
            .map_or("arrival", |(_, name, _)| name);
        let mut link = format!("{base}?page={page}&sort={sort}");
        if query.ascending {
            link.push_str("&dir=asc");
        }
        if let Some(search) = &query.search {
            link.push_str("&q=");
            link.push_str(&page::percent_encode(search));
        }
        if query.unread_only {
            link.push_str("&unread=1");
        }
        link
    }
}

/// `/mail`: the INBOX of the first mailbox linked to the account.
pub async fn first_mailbox(
    State(state): State<ApiState>,
    me: PageUser,
) -> Result<Response, PageError> {
    let mailboxes = webmail(&state)?.mailboxes(me.user.id).await?;
    let Some(first) = mailboxes.first() else {
        return Ok(page::render(&NoMailbox {
            layout: me.layout("Mail", "mail"),
        }));
    };
    to_inbox(&state, &me, first.id).await
}

/// `/mail/{mailbox}`: its INBOX.
pub async fn mailbox_inbox(
    State(state): State<ApiState>,
    me: PageUser,
    Path(mailbox): Path<AddressId>,
) -> Result<Response, PageError> {
    to_inbox(&state, &me, mailbox).await
}

async fn to_inbox(
    state: &ApiState,
    me: &PageUser,
    mailbox: AddressId,
) -> Result<Response, PageError> {
    let folders = webmail(state)?.folders(me.user.id, mailbox).await?;
    let inbox = inbox(&folders)
        .ok_or_else(|| PageError::not_found("This mailbox has no folder to show yet."))?;
    Ok(page::redirect(&folder_path(mailbox, inbox.id)))
}

#[derive(Template)]
#[template(path = "mail/no_mailbox.html")]
struct NoMailbox {
    layout: Layout,
}

/// The left column every mail page shares: mailbox switcher and folders.
pub struct Sidebar {
    pub mailboxes: Vec<MailboxLink>,
    pub folders: Vec<FolderLink>,
    pub compose: String,
    /// The mailbox's settings page (password, aliases, forwarding, senders, devices).
    pub settings: String,
    /// The device setup page of the mailbox (CLI-3).
    pub devices: String,
}

pub struct MailboxLink {
    pub path: String,
    pub address: String,
    pub unread: u32,
    pub current: bool,
}

pub struct FolderLink {
    pub id: String,
    pub path: String,
    pub label: String,
    pub unread: u32,
    pub current: bool,
}

impl Sidebar {
    /// The switcher and folder list of `mailbox`, with `current` highlighted.
    pub async fn load(
        state: &ApiState,
        me: &PageUser,
        mailbox: AddressId,
        current: Option<FolderId>,
    ) -> Result<(Sidebar, Vec<FolderSummary>), PageError> {
        let webmail = webmail(state)?;
        // The mailbox itself first: it answers Forbidden for another account's mailbox.
        webmail.mailbox(me.user.id, mailbox).await?;
        let linked = webmail.mailboxes(me.user.id).await?;
        let folders = webmail.folders(me.user.id, mailbox).await?;
        let sidebar = Sidebar {
            mailboxes: linked
                .iter()
                .map(|m: &LinkedMailbox| MailboxLink {
                    path: format!("/mail/{}", m.id),
                    address: m.address.clone(),
                    unread: m.unread,
                    current: m.id == mailbox,
                })
                .collect(),
            folders: folders
                .iter()
                .map(|f| FolderLink {
                    id: f.id.to_string(),
                    path: folder_path(mailbox, f.id),
                    label: folder_label(f),
                    unread: f.unread,
                    current: Some(f.id) == current,
                })
                .collect(),
            compose: super::compose_path(mailbox),
            settings: linked
                .iter()
                .find(|m| m.id == mailbox)
                .map(|m| format!("/settings/{}", path_segment(&m.address)))
                .unwrap_or_else(|| "/settings".to_owned()),
            devices: linked
                .iter()
                .find(|m| m.id == mailbox)
                .map(|m| format!("/devices/{}", path_segment(&m.address)))
                .unwrap_or_else(|| "/devices".to_owned()),
        };
        Ok((sidebar, folders))
    }
}

/// A line of the list as the template draws it.
struct Line {
    uid: u32,
    path: String,
    subject: String,
    from: String,
    date: String,
    size: String,
    seen: bool,
    flagged: bool,
    answered: bool,
    has_attachments: bool,
}

struct SortOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "mail/list.html")]
struct ListPage {
    layout: Layout,
    sidebar: Sidebar,
    heading: String,
    actions: String,
    counts: String,
    /// `messages:unread` of the folder when the page was drawn (mail.js compares).
    state: String,
    lines: Vec<Line>,
    search: String,
    unread_only: bool,
    ascending: bool,
    sorts: Vec<SortOption>,
    move_targets: Vec<MoveTarget>,
    is_junk: bool,
    page: u32,
    pages: u32,
    total: u32,
    previous: Option<String>,
    next: Option<String>,
    filtered: bool,
}

/// `/mail/{mailbox}/{folder}`: one page of the folder's messages.
pub async fn folder(
    State(state): State<ApiState>,
    me: PageUser,
    Path((mailbox, folder)): Path<(AddressId, FolderId)>,
    Query(params): Query<ListParams>,
) -> Result<Response, PageError> {
    let (sidebar, folders) = Sidebar::load(&state, &me, mailbox, Some(folder)).await?;
    let query = params.query();
    let listed: MessagePage = webmail(&state)?
        .list(me.user.id, mailbox, folder, &query)
        .await?;
    let base = folder_path(mailbox, folder);
    let pages = listed.total.div_ceil(listed.per_page.max(1)).max(1);
    let heading = folder_label(&listed.folder);
    let page = ListPage {
        layout: me.layout(heading.clone(), "mail"),
        heading,
        actions: format!("{base}/actions"),
        counts: format!("/mail/{mailbox}/counts"),
        state: format!("{}:{}", listed.folder.messages, listed.folder.unread),
        lines: listed
            .messages
            .iter()
            .map(|m| Line {
                uid: m.uid,
                path: message_path(mailbox, folder, m.uid),
                subject: shown_subject(&m.subject),
                from: m.from.clone(),
                date: date_time(m.date),
                size: file_size(m.size),
                seen: m.seen,
                flagged: m.flagged,
                answered: m.answered,
                has_attachments: m.has_attachments,
            })
            .collect(),
        search: query.search.clone().unwrap_or_default(),
        unread_only: query.unread_only,
        ascending: query.ascending,
        sorts: SORTS
            .iter()
            .map(|(key, value, label)| SortOption {
                value,
                label,
                selected: *key == query.sort,
            })
            .collect(),
        move_targets: move_targets(&folders, folder),
        is_junk: listed.folder.role.as_deref() == Some("junk"),
        page: listed.page,
        pages,
        total: listed.total,
        previous: (listed.page > 1).then(|| params.page_link(&base, listed.page - 1)),
        next: (listed.page < pages).then(|| params.page_link(&base, listed.page + 1)),
        filtered: query.search.is_some() || query.unread_only,
        sidebar,
    };
    Ok(page::render(&page))
}

/// A folder's counts, as `/mail/{mailbox}/counts` answers them.
#[derive(Serialize)]
pub struct FolderCounts {
    id: FolderId,
    messages: u32,
    unread: u32,
}

/// `/mail/{mailbox}/counts`: every folder's message and unread counts. mail.js reads them
/// (from here when it polls, as the `counts` events of events.rs otherwise) and refreshes the
/// list when the shown folder's counts change.
pub async fn counts(
    State(state): State<ApiState>,
    me: PageUser,
    Path(mailbox): Path<AddressId>,
) -> Result<Json<Vec<FolderCounts>>, PageError> {
    Ok(Json(folder_counts(&state, me.user.id, mailbox).await?))
}

/// Every folder's counts of `mailbox`, if `user` may read it.
pub(super) async fn folder_counts(
    state: &ApiState,
    user: UserId,
    mailbox: AddressId,
) -> Result<Vec<FolderCounts>, PageError> {
    let folders = webmail(state)?.folders(user, mailbox).await?;
    Ok(folders
        .iter()
        .map(|f| FolderCounts {
            id: f.id,
            messages: f.messages,
            unread: f.unread,
        })
        .collect())
}
