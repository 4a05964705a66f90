//! The addresses of a service in the console: a table with search, sort and pages, and the
//! deletion of the ticked addresses (ADDR-8) behind a confirmation asked by the server, so it
//! holds without JavaScript too (`console.js`/`app.js` only add a dialog before it).

use std::cmp::Ordering;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use postwerk_model::{Alias, HostedAddress};
use serde::Deserialize;

use super::forms::{Fields, kind_words, segment};
use crate::ApiState;
use crate::pagination::PageQuery;
use crate::ui::format::date;
use crate::ui::page::{self, Layout, PageError, PageUser, percent_encode};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/manager/services/{domain}/addresses", get(list_page))
        .route("/manager/services/{domain}/addresses/delete", post(delete))
}

/// What the table shows: `?q=&sort=&dir=&page=&per_page=`.
#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    /// Words searched in the address, its display name and its aliases.
    #[serde(default)]
    q: String,
    /// `address` (default), `created` or `kind`.
    #[serde(default)]
    sort: String,
    /// `asc` (default) or `desc`.
    #[serde(default)]
    dir: String,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// The columns the table sorts by.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SortBy {
    Address,
    Created,
    Kind,
}

impl SortBy {
    fn from_query(text: &str) -> SortBy {
        match text {
            "created" => SortBy::Created,
            "kind" => SortBy::Kind,
            _ => SortBy::Address,
        }
    }

    fn name(self) -> &'static str {
        match self {
            SortBy::Address => "address",
            SortBy::Created => "created",
            SortBy::Kind => "kind",
        }
    }

    fn compare(self, a: &HostedAddress, b: &HostedAddress) -> Ordering {
        let by_address = a.address.to_string().cmp(&b.address.to_string());
        match self {
            SortBy::Address => by_address,
            SortBy::Created => a.created_at.cmp(&b.created_at).then(by_address),
            SortBy::Kind => kind_words(a.kind).cmp(kind_words(b.kind)).then(by_address),
        }
    }
}

/// One row of the table.
struct Row {
    address: String,
    link: String,
    display_name: String,
    kind: &'static str,
    enabled: bool,
    aliases: usize,
    created: String,
}

/// A sortable column header.
struct Column {
    label: &'static str,
    link: String,
    /// `ascending`, `descending` or `none` (`aria-sort`).
    sorted: &'static str,
}

#[derive(askama::Template)]
#[template(path = "console/addresses.html")]
struct ListPage {
    layout: Layout,
    domain: String,
    base: String,
    q: String,
    sort: &'static str,
    dir: &'static str,
    rows: Vec<Row>,
    columns: Vec<Column>,
    total: u64,
    all: usize,
    page: u32,
    pages: u32,
    previous: Option<String>,
    next: Option<String>,
}

fn matches(query: &str, hosted: &HostedAddress, aliases: &[Alias]) -> bool {
    let query = query.to_lowercase();
    query.split_whitespace().all(|word| {
        hosted.address.to_string().contains(word)
            || hosted.display_name.to_lowercase().contains(word)
            || aliases.iter().any(|a| a.local.to_string().contains(word))
    })
}

/// `/manager/services/{domain}/addresses`.
async fn list_page(
    State(state): State<ApiState>,
    me: PageUser,
    Path(domain): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let mut addresses = state.admin.list_addresses(me.caller.actor, &domain).await?;
    let all = addresses.len();
    let q = query.q.trim().to_owned();
    addresses.retain(|(hosted, aliases)| matches(&q, hosted, aliases));
    let sort = SortBy::from_query(&query.sort);
    let descending = query.dir == "desc";
    addresses.sort_by(|(a, _), (b, _)| {
        let order = sort.compare(a, b);
        if descending { order.reverse() } else { order }
    });
    let paging = PageQuery {
        page: query.page,
        per_page: query.per_page,
    };
    let base = format!("/manager/services/{}", segment(&domain));
    let table = paging.paginate(addresses, |(hosted, aliases)| Row {
        link: format!(
            "/manager/addresses/{}",
            segment(&hosted.address.to_string())
        ),
        address: hosted.address.to_string(),
        display_name: hosted.display_name.clone(),
        kind: kind_words(hosted.kind),
        enabled: hosted.enabled,
        aliases: aliases.len(),
        created: date(hosted.created_at),
    })?;
    let pages = table.total.div_ceil(u64::from(table.per_page)).max(1) as u32;
    let dir = if descending { "desc" } else { "asc" };
    let link = |sort: &str, dir: &str, page: u32| {
        let mut link = format!("{base}/addresses?sort={sort}&dir={dir}&page={page}");
        if !q.is_empty() {
            link.push_str(&format!("&q={}", percent_encode(&q)));
        }
        if let Some(per_page) = query.per_page {
            link.push_str(&format!("&per_page={per_page}"));
        }
        link
    };
    let columns = [
        (SortBy::Address, "Address"),
        (SortBy::Kind, "Kind"),
        (SortBy::Created, "Created"),
    ]
    .into_iter()
    .map(|(column, label)| {
        let current = column == sort;
        // A click on the sorted column turns the order around; another column sorts ascending.
        let next_dir = if current && !descending {
            "desc"
        } else {
            "asc"
        };
        Column {
            label,
            link: link(column.name(), next_dir, 1),
            sorted: match (current, descending) {
                (false, _) => "none",
                (true, false) => "ascending",
                (true, true) => "descending",
            },
        }
    })
    .collect();
    Ok(page::render(&ListPage {
        layout: me.layout(format!("Addresses of {domain}"), "manager"),
        previous: (table.page > 1).then(|| link(sort.name(), dir, table.page - 1)),
        next: (table.page < pages).then(|| link(sort.name(), dir, table.page + 1)),
        page: table.page,
        pages,
        total: table.total,
        all,
        rows: table.items,
        columns,
        sort: sort.name(),
        dir,
        q,
        base,
        domain,
    }))
}

#[derive(askama::Template)]
#[template(path = "console/confirm_delete.html")]
struct ConfirmPage {
    layout: Layout,
    domain: String,
    base: String,
    addresses: Vec<String>,
}

/// ADDR-8: the first post shows what will be deleted and asks again; the second (with
/// `confirmed=yes`) deletes, all or none.
async fn delete(
    State(state): State<ApiState>,
    me: PageUser,
    Path(domain): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let addresses = fields.all("address");
    let base = format!("/manager/services/{}", segment(&domain));
    if addresses.is_empty() {
        return Ok(page::see_other(
            &format!("{base}/addresses"),
            "Tick the addresses to delete first.",
        ));
    }
    if fields.get("confirmed") != "yes" {
        return Ok(page::render(&ConfirmPage {
            layout: me.layout("Delete addresses?", "manager"),
            domain,
            base,
            addresses,
        }));
    }
    let deleted = state
        .admin
        .delete_addresses(me.caller.actor, &addresses)
        .await?;
    state.issue_recovery_usernames(&deleted).await;
    let count = deleted.addresses.len();
    let notice = if count == 1 {
        format!("{} was deleted with all its mail.", deleted.addresses[0])
    } else {
        format!("{count} addresses were deleted with all their mail.")
    };
    Ok(page::see_other(&format!("{base}/addresses"), &notice))
}
