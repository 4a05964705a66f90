//! SND-1 on the console's address page: the section "May also send as" grants a mailbox
//! another address of its organization, lists it, takes it back, and shows core's refusal of
//! an address of another organization — read back through the REST API.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::fixture::{PASSWORD, Ui};

const BOSS: &str = "boss@example.net";
const ANNA: &str = "anna@acme.test";
const SALES: &str = "sales@acme.test";
const ANNA_PAGE: &str = "/manager/addresses/anna@acme.test";

/// Acme with the mailboxes anna@ and sales@ and its administrator signed in.
async fn acme_with_anna_and_sales() -> (Ui, String) {
    let ui = Ui::new().await;
    ui.acme().await;
    ui.user(BOSS, "admin").await;
    ui.mailbox("anna", PASSWORD).await;
    ui.mailbox("sales", PASSWORD).await;
    let boss = ui.sign_in(BOSS).await;
    (ui, boss)
}

/// What the API says anna@ may send as.
async fn anna_sends_as(ui: &Ui) -> Value {
    ui.api_get(&format!("/api/v1/addresses/{ANNA}/send-as"))
        .await["send_as"]
        .clone()
}

/// The HTML of the element with `id` up to its closing `</ul>` (the lists of the section).
fn list_of<'a>(html: &'a str, id: &str) -> Option<&'a str> {
    let start = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[start..];
    Some(&rest[..rest.find("</ul>")?])
}

#[tokio::test]
async fn snd_1_the_address_page_grants_lists_and_removes_an_address_to_send_as() {
    let (ui, boss) = acme_with_anna_and_sales().await;
    let page = ui.get(ANNA_PAGE, Some(&boss)).await.ok();
    assert!(page.html.contains("May also send as"), "{}", page.html);
    assert!(page.html.contains("id=\"send-as-empty\""), "{}", page.html);
    assert!(page.html.contains("id=\"send-as-form\""));

    // A name alone is taken in anna's own domain.
    let granted = ui
        .post(
            &format!("{ANNA_PAGE}/send-as"),
            &[("send_as", "sales")],
            Some(&boss),
        )
        .await;
    assert_eq!(granted.location(), ANNA_PAGE, "{}", granted.html);
    assert_eq!(
        granted.notice().as_deref(),
        Some("anna@acme.test may now also send as sales@acme.test.")
    );
    assert_eq!(anna_sends_as(&ui).await, json!([SALES]));

    let page = ui.get(ANNA_PAGE, Some(&boss)).await.ok();
    let listed = list_of(&page.html, "send-as-list").expect("the granted address is listed");
    assert!(listed.contains(SALES), "{listed}");
    assert!(
        listed.contains("Stop sending as sales@acme.test"),
        "the Remove button says what goes: {listed}"
    );
    let sales_page = ui
        .get(&format!("/manager/addresses/{SALES}"), Some(&boss))
        .await
        .ok();
    let holders = list_of(&sales_page.html, "send-as-holders").expect("sales@ names its holders");
    assert!(holders.contains(ANNA), "{holders}");

    let removed = ui
        .post(
            &format!("{ANNA_PAGE}/send-as/remove"),
            &[("send_as", SALES)],
            Some(&boss),
        )
        .await;
    assert_eq!(removed.location(), ANNA_PAGE, "{}", removed.html);
    assert_eq!(
        removed.notice().as_deref(),
        Some("anna@acme.test may no longer send as sales@acme.test.")
    );
    assert_eq!(anna_sends_as(&ui).await, json!([]));
    let page = ui.get(ANNA_PAGE, Some(&boss)).await.ok();
    assert!(
        list_of(&page.html, "send-as-list").is_none(),
        "{}",
        page.html
    );
    assert!(page.html.contains("id=\"send-as-empty\""));
}

#[tokio::test]
async fn snd_1_an_address_of_another_organization_is_refused_with_core_s_sentence() {
    let (ui, boss) = acme_with_anna_and_sales().await;
    ui.api(Method::POST, "/api/v1/orgs", json!({"name": "Globex"}))
        .await;
    ui.api(
        Method::POST,
        "/api/v1/services",
        json!({"org": "Globex", "domain": "globex.test", "address_quota": 5}),
    )
    .await;
    ui.api(
        Method::POST,
        "/api/v1/services/globex.test/addresses",
        json!({"local_part": "sales", "kind": "redirect", "redirect_to": ["out@example.org"]}),
    )
    .await;

    let refused = ui
        .post(
            &format!("{ANNA_PAGE}/send-as"),
            &[("send_as", "sales@globex.test")],
            Some(&boss),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert!(
        refused.html.contains(
            "sales@globex.test belongs to another organization than anna@acme.test, \
             so it cannot be granted to it"
        ),
        "{}",
        refused.html
    );
    assert!(refused.html.contains("id=\"problem\""));
    assert!(
        refused.html.contains("id=\"send-as-form\""),
        "the page is shown again with its form"
    );
    assert_eq!(anna_sends_as(&ui).await, json!([]));
}
