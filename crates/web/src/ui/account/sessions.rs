//! `/account/sessions`: where the account is signed in (browser, address, last use), with
//! "this session" marked; any other can be ended, or all of them at once.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use postwerk_model::SessionId;

use super::SECTION;
use crate::ApiState;
use crate::ui::format::day_month_time;
use crate::ui::page::{self, Layout, PageError, PageUser};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/account/sessions", get(show))
        .route("/account/sessions/{id}/end", post(end_one))
        .route("/account/sessions/end-others", post(end_others))
}

/// One line of the table.
struct SessionLine {
    id: i64,
    device: String,
    user_agent: String,
    address: String,
    signed_in: String,
    last_used: String,
    current: bool,
}

#[derive(askama::Template)]
#[template(path = "account/sessions.html")]
struct SessionsPage {
    layout: Layout,
    tab: &'static str,
    sessions: Vec<SessionLine>,
    others: usize,
}

async fn show(State(state): State<ApiState>, me: PageUser) -> Result<Response, PageError> {
    let sessions: Vec<SessionLine> = state
        .auth
        .list_sessions(me.caller.actor)
        .await?
        .into_iter()
        .map(|session| {
            let user_agent = session.user_agent.unwrap_or_default();
            SessionLine {
                id: session.id.0,
                device: device(&user_agent),
                user_agent,
                address: session.ip.unwrap_or_else(|| String::from("unknown")),
                signed_in: day_month_time(session.created_at),
                last_used: day_month_time(session.last_seen_at),
                current: me.caller.session == Some(session.id),
            }
        })
        .collect();
    let others = sessions.iter().filter(|line| !line.current).count();
    Ok(page::render(&SessionsPage {
        layout: me.layout("Where you are signed in", SECTION),
        tab: "sessions",
        sessions,
        others,
    }))
}

/// `POST /account/sessions/{id}/end`.
async fn end_one(
    State(state): State<ApiState>,
    me: PageUser,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    state
        .auth
        .revoke_session(me.caller.actor, SessionId(id))
        .await?;
    Ok(page::see_other(
        "/account/sessions",
        "That session was signed out.",
    ))
}

/// `POST /account/sessions/end-others`: every session but the one sending the form.
async fn end_others(State(state): State<ApiState>, me: PageUser) -> Result<Response, PageError> {
    let mut ended = 0;
    for session in state.auth.list_sessions(me.caller.actor).await? {
        if me.caller.session != Some(session.id) {
            state
                .auth
                .revoke_session(me.caller.actor, session.id)
                .await?;
            ended += 1;
        }
    }
    let notice = match ended {
        0 => String::from("You were signed in nowhere else."),
        1 => String::from("You were signed out of 1 other session."),
        n => format!("You were signed out of {n} other sessions."),
    };
    Ok(page::see_other("/account/sessions", &notice))
}

/// A browser and system a person recognises, from a `User-Agent` header ("Firefox on
/// Linux"); the whole header stays on the page as the title of this text.
fn device(user_agent: &str) -> String {
    if user_agent.is_empty() {
        return String::from("Unknown browser");
    }
    // Order matters: Edge and Opera say "Chrome", Chrome says "Safari".
    const BROWSERS: [(&str, &str); 7] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
        ("python", "a Python program"),
    ];
    const SYSTEMS: [(&str, &str); 7] = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ];
    let found = |table: &[(&str, &'static str)]| {
        table
            .iter()
            .find(|(marker, _)| user_agent.contains(marker))
            .map(|(_, name)| *name)
    };
    match (found(&BROWSERS), found(&SYSTEMS)) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(browser), None) => browser.to_owned(),
        (None, Some(system)) => format!("A browser on {system}"),
        (None, None) => String::from("Another program"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_read_as_devices() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(device(firefox), "Firefox on Linux");
        let chrome_android = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like \
                              Gecko) Chrome/130.0 Mobile Safari/537.36";
        assert_eq!(device(chrome_android), "Chrome on Android");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(device(safari), "Safari on iPhone");
        assert_eq!(device("curl/8.5.0"), "curl");
        assert_eq!(device(""), "Unknown browser");
    }
}
