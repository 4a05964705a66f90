//! What every page carries (issue 11 item 6): a strict Content-Security-Policy, no framing,
//! no caching; forms from other sites refused; the sign-in redirect keeps the visitor on
//! this site.

use axum::http::StatusCode;

use crate::fixture::Ui;

#[tokio::test]
async fn pages_forbid_inline_script_framing_and_caching() {
    let ui = Ui::new().await;
    let page = ui.get("/signin", None).await;
    let policy = page.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
    assert_eq!(page.headers["cache-control"], "no-store");
}

#[tokio::test]
async fn a_form_posted_from_another_site_is_refused() {
    let ui = Ui::new().await;
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/signout")
        .header("sec-fetch-site", "cross-site")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::empty())
        .unwrap();
    let page = ui.send(request).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.html.contains("another site"), "{}", page.html);
}

#[tokio::test]
async fn pages_behind_the_sign_in_send_visitors_there_and_back() {
    let ui = Ui::new().await;
    let page = ui.get("/mail?page=2", None).await;
    assert_eq!(page.location(), "/signin?next=/mail%3Fpage%3D2");
}

#[tokio::test]
async fn assets_are_served_with_an_etag_and_revalidated() {
    let ui = Ui::new().await;
    let css = ui.get("/assets/style.css", None).await.ok();
    assert!(
        css.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    let etag = css.headers["etag"].to_str().unwrap().to_owned();
    let request = axum::http::Request::builder()
        .uri("/assets/style.css")
        .header("if-none-match", &etag)
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(ui.send(request).await.status, StatusCode::NOT_MODIFIED);
    assert_eq!(
        ui.get("/assets/nothing.js", None).await.status,
        StatusCode::NOT_FOUND
    );
}
