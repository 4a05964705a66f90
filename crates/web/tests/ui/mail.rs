//! Webmail pages (CLI-1), the bounce explainer (CLI-2) and the SND-7 download route, over a
//! real store: messages are delivered with the store, read and written through the pages,
//! and read back through the pages (or the store for what a page cannot show).

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use postwerk_message::MessageIndex;
use postwerk_model::AddressId;
use postwerk_store::{DeliveryTarget, Flags};

use crate::fixture::{PASSWORD, Page, Ui, session_cookie};

/// Jane (a member of Acme) reads `anna@acme.test` and `bob@acme.test`; `carl@acme.test`
/// is not hers.
struct Mail {
    ui: Ui,
    session: String,
    anna: AddressId,
    bob: AddressId,
    carl: AddressId,
}

impl Mail {
    async fn new() -> Mail {
        let ui = Ui::acme_with_member("jane@outside.test").await;
        for local in ["anna", "bob", "carl"] {
            ui.mailbox(local, PASSWORD).await;
        }
        for address in ["anna@acme.test", "bob@acme.test"] {
            ui.grant(address, "jane@outside.test", &["read_send"]).await;
        }
        let session = sign_in(&ui, "jane@outside.test").await;
        let anna = ui.address_id("anna@acme.test").await;
        let bob = ui.address_id("bob@acme.test").await;
        let carl = ui.address_id("carl@acme.test").await;
        Mail {
            ui,
            session,
            anna,
            bob,
            carl,
        }
    }

    async fn get(&self, uri: &str) -> Page {
        self.ui.get(uri, Some(&self.session)).await
    }

    async fn post(&self, uri: &str, fields: &[(&str, &str)]) -> Page {
        self.ui.post(uri, fields, Some(&self.session)).await
    }

    /// Delivers `raw` to the INBOX of `mailbox`; answers its UID.
    async fn deliver(&self, mailbox: AddressId, raw: &[u8]) -> u32 {
        let index = MessageIndex::parse(raw);
        let stored = self
            .ui
            .stores
            .mail
            .deliver(
                raw,
                &index,
                &[DeliveryTarget::inbox(mailbox)],
                &Flags::none(),
                1_795_000_000,
            )
            .await
            .unwrap();
        stored[0].uid
    }

    /// The path of `mailbox`'s folder labelled `label` in the folder list.
    async fn folder(&self, mailbox: AddressId, label: &str) -> String {
        let inbox = self.get(&format!("/mail/{mailbox}")).await.location();
        if label == "Inbox" {
            return inbox;
        }
        let page = self.get(&inbox).await.ok();
        folder_path(&page.html, mailbox, label)
    }
}

/// Signs in through the API (the sign-in page is another module's).
async fn sign_in(ui: &Ui, login: &str) -> String {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/session")
        .header("content-type", "application/json")
        .body(Body::from(
            serde_json::json!({"login": login, "password": PASSWORD}).to_string(),
        ))
        .unwrap();
    let answer = ui.send(request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.html);
    session_cookie(&answer.headers).unwrap()
}

/// The link of the folder labelled `label` in a page's folder list.
fn folder_path(html: &str, mailbox: AddressId, label: &str) -> String {
    let prefix = format!("<a href=\"/mail/{mailbox}/");
    html.match_indices(&prefix)
        .find_map(|(at, _)| {
            let rest = &html[at + "<a href=\"".len()..];
            let path = &rest[..rest.find('"')?];
            let text_start = rest.find('>')? + 1;
            rest[text_start..]
                .starts_with(label)
                .then(|| path.to_owned())
        })
        .unwrap_or_else(|| panic!("no folder {label} in {html}"))
}

fn message(from: &str, to: &str, subject: &str, text: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n\
         Message-ID: <{}@example.net>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n",
        subject.replace(' ', "-").to_lowercase()
    )
    .into_bytes()
}

#[tokio::test]
async fn the_list_shows_subjects_unread_in_bold_and_pages() {
    let mail = Mail::new().await;
    for n in 1..=55 {
        let raw = message(
            "alice@example.net",
            "anna@acme.test",
            &format!("Report number {n:02}"),
            "Hello.",
        );
        mail.deliver(mail.anna, &raw).await;
    }
    let inbox = mail.get("/mail").await.location();
    assert!(
        inbox.starts_with(&format!("/mail/{}/", mail.anna)),
        "{inbox}"
    );
    let first = mail.get(&inbox).await.ok();
    assert!(first.html.contains("Report number 55"), "{}", first.html);
    assert!(!first.html.contains("Report number 01"));
    assert!(first.html.contains("<tr class=\"unread\""));
    assert!(first.html.contains("Page 1 of 2"));
    // Both linked mailboxes are in the switcher, with their unread counts.
    assert!(first.html.contains("bob@acme.test"));
    assert!(!first.html.contains("carl@acme.test"));
    let second = mail.get(&format!("{inbox}?page=2")).await.ok();
    assert!(second.html.contains("Report number 01"));
    assert!(!second.html.contains("Report number 55"));
    // Oldest first puts the first report on the first page.
    let ascending = mail
        .get(&format!("{inbox}?sort=arrival&dir=asc"))
        .await
        .ok();
    assert!(ascending.html.contains("Report number 01"));
    // Search and the unread filter narrow the list; an empty result says so.
    let found = mail.get(&format!("{inbox}?q=number+42")).await.ok();
    assert!(found.html.contains("Report number 42"));
    assert!(!found.html.contains("Report number 41"));
    let none = mail.get(&format!("{inbox}?q=nothing-like-this")).await.ok();
    assert!(none.html.contains("No messages match"), "{}", none.html);
}

#[tokio::test]
async fn another_accounts_mailbox_is_refused() {
    let mail = Mail::new().await;
    let page = mail.get(&format!("/mail/{}", mail.carl)).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.html);
    let inbox = mail.folder(mail.anna, "Inbox").await;
    let folder = inbox.rsplit('/').next().unwrap();
    let page = mail.get(&format!("/mail/{}/{folder}", mail.carl)).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.html);
}

#[tokio::test]
async fn reading_marks_read_and_frames_the_sanitised_body_with_its_own_policy() {
    let mail = Mail::new().await;
    let raw = b"From: alice@example.net\r\nTo: anna@acme.test\r\nSubject: Newsletter\r\n\
        MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
        <p>Hello <b>Anna</b></p><script>alert('stolen')</script>\
        <img src=\"https://tracker.example/pixel.png\" alt=\"pixel\">\r\n";
    let uid = mail.deliver(mail.anna, raw).await;
    let inbox = mail.folder(mail.anna, "Inbox").await;
    assert!(
        mail.get(&inbox)
            .await
            .ok()
            .html
            .contains("<tr class=\"unread\"")
    );

    let page = mail.get(&format!("{inbox}/{uid}")).await.ok();
    assert!(page.html.contains("Newsletter"));
    assert!(
        page.html
            .contains(&format!("src=\"{inbox}/{uid}/body\" sandbox=")),
        "{}",
        page.html
    );
    assert!(page.html.contains("Remote images are blocked"));
    assert!(
        !mail
            .get(&inbox)
            .await
            .ok()
            .html
            .contains("<tr class=\"unread\"")
    );

    let body = mail.get(&format!("{inbox}/{uid}/body")).await.ok();
    assert_eq!(
        body.headers["content-security-policy"],
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
    );
    assert_eq!(body.headers["x-frame-options"], "SAMEORIGIN");
    assert!(body.html.contains("Anna"));
    assert!(!body.html.contains("<script"), "{}", body.html);
    assert!(!body.html.contains("tracker.example"), "{}", body.html);

    // "Show them": the page links the frame with images, which allows remote images.
    let page = mail.get(&format!("{inbox}/{uid}?images=1")).await.ok();
    assert!(!page.html.contains("Remote images are blocked"));
    assert!(page.html.contains(&format!("{inbox}/{uid}/body?images=1")));
    let body = mail.get(&format!("{inbox}/{uid}/body?images=1")).await.ok();
    assert!(
        body.html.contains("https://tracker.example/pixel.png"),
        "{}",
        body.html
    );
    let policy = body.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("img-src data: https: http:"), "{policy}");
}

#[tokio::test]
async fn attachments_download_with_safe_headers() {
    let mail = Mail::new().await;
    let raw = b"From: alice@example.net\r\nTo: anna@acme.test\r\nSubject: Files\r\n\
        MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n\
        --b1\r\nContent-Type: text/plain\r\n\r\nTwo files.\r\n\
        --b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"plan.pdf\"\r\n\r\n%PDF-1.4 plan\r\n\
        --b1\r\nContent-Type: text/html\r\nContent-Disposition: attachment; filename=\"../evil.html\"\r\n\r\n<script>x()</script>\r\n\
        --b1--\r\n";
    let uid = mail.deliver(mail.anna, raw).await;
    let inbox = mail.folder(mail.anna, "Inbox").await;
    let page = mail.get(&format!("{inbox}/{uid}")).await.ok();
    assert!(page.html.contains("plan.pdf"), "{}", page.html);
    let mut seen = Vec::new();
    for index in 0..2 {
        let file = mail
            .get(&format!("{inbox}/{uid}/attachments/{index}"))
            .await
            .ok();
        let disposition = file.headers["content-disposition"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(disposition.starts_with("attachment; "), "{disposition}");
        let content_type = file.headers["content-type"].to_str().unwrap().to_owned();
        if disposition.contains("plan.pdf") {
            assert_eq!(content_type, "application/pdf");
            assert!(file.html.contains("%PDF-1.4 plan"));
        } else {
            assert!(
                disposition.contains("filename=\"evil.html\""),
                "{disposition}"
            );
            assert_eq!(content_type, "application/octet-stream");
        }
        seen.push(disposition);
    }
    assert_eq!(seen.len(), 2);
    let raw_download = mail.get(&format!("{inbox}/{uid}/raw")).await.ok();
    assert!(
        raw_download.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; ")
    );
    assert!(raw_download.html.contains("Subject: Files"));
}

#[tokio::test]
async fn sending_delivers_to_another_mailbox_and_keeps_a_copy_in_sent() {
    let mail = Mail::new().await;
    let compose = mail.get(&format!("/mail/{}/compose", mail.anna)).await.ok();
    assert!(
        compose
            .html
            .contains("<option value=\"anna@acme.test\" selected"),
        "{}",
        compose.html
    );
    assert!(compose.html.contains("sent as a download link"));
    let sent = mail
        .ui
        .post_multipart(
            &format!("/mail/{}/compose", mail.anna),
            &[
                ("action", "send"),
                ("from", "anna@acme.test"),
                ("to", "bob@acme.test"),
                ("subject", "Quarterly plan"),
                ("body", "Here is the plan.\r\nAnna"),
            ],
            &[("attachments", "plan.txt", "text/plain", b"step one")],
            Some(&mail.session),
        )
        .await;
    assert_eq!(sent.notice().as_deref(), Some("Message sent."));
    assert!(
        sent.location()
            .starts_with(&format!("/mail/{}/", mail.anna))
    );

    let bob_inbox = mail.folder(mail.bob, "Inbox").await;
    let list = mail.get(&bob_inbox).await.ok();
    assert!(list.html.contains("Quarterly plan"), "{}", list.html);
    let uid = list_uid(&list.html, "Quarterly plan");
    let read = mail.get(&format!("{bob_inbox}/{uid}")).await.ok();
    assert!(read.html.contains("Here is the plan."), "{}", read.html);
    assert!(read.html.contains("plan.txt"));

    let anna_sent = mail.folder(mail.anna, "Sent").await;
    assert!(
        mail.get(&anna_sent)
            .await
            .ok()
            .html
            .contains("Quarterly plan")
    );
}

/// The UID of the list line whose subject is `subject`.
fn list_uid(html: &str, subject: &str) -> u32 {
    let at = html.find(subject).unwrap();
    let row = html[..at].rfind("data-uid=\"").unwrap() + "data-uid=\"".len();
    let end = html[row..].find('"').unwrap();
    html[row..row + end].parse().unwrap()
}

#[tokio::test]
async fn a_reply_is_prefilled_from_the_message() {
    let mail = Mail::new().await;
    let raw = message(
        "Alice <alice@example.net>",
        "anna@acme.test",
        "Lunch",
        "Noon?",
    );
    let uid = mail.deliver(mail.anna, &raw).await;
    let inbox = mail.folder(mail.anna, "Inbox").await;
    let folder = inbox.rsplit('/').next().unwrap();
    let page = mail.get(&format!("{inbox}/{uid}")).await.ok();
    let reply = format!(
        "/mail/{}/compose?reply={uid}&#38;folder={folder}&#38;kind=reply",
        mail.anna
    );
    assert!(page.html.contains(&reply), "{}", page.html);
    let compose = mail
        .get(&format!(
            "/mail/{}/compose?reply={uid}&folder={folder}&kind=reply",
            mail.anna
        ))
        .await
        .ok();
    assert!(
        compose.html.contains("alice@example.net"),
        "{}",
        compose.html
    );
    assert!(
        compose.html.contains("value=\"Re: Lunch\""),
        "{}",
        compose.html
    );
    assert!(
        compose
            .html
            .contains(&format!("name=\"reply_uid\" value=\"{uid}\""))
    );
}

#[tokio::test]
async fn a_saved_draft_opens_again_for_editing() {
    let mail = Mail::new().await;
    let path = format!("/mail/{}/compose", mail.anna);
    let saved = mail
        .ui
        .post_multipart(
            &path,
            &[
                ("action", "save"),
                ("from", "anna@acme.test"),
                ("to", "bob@acme.test"),
                ("subject", "Half written"),
                ("body", "To be continued"),
            ],
            &[],
            Some(&mail.session),
        )
        .await;
    assert_eq!(saved.notice().as_deref(), Some("Draft saved."));
    let location = saved.location();
    assert!(
        location.starts_with(&format!("{path}?draft=")),
        "{location}"
    );
    let draft = location.rsplit('=').next().unwrap().to_owned();
    let edit = mail.get(&location).await.ok();
    assert!(
        edit.html.contains("value=\"Half written\""),
        "{}",
        edit.html
    );
    assert!(edit.html.contains("To be continued"));
    assert!(
        edit.html
            .contains(&format!("name=\"replaces_draft\" value=\"{draft}\""))
    );

    // mail.js saves the same way and reads the new draft's number from JSON; the old draft
    // is replaced, so Drafts holds one message.
    let boundary = "b-autosave";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"action\"\r\n\r\nsave\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"from\"\r\n\r\nanna@acme.test\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"subject\"\r\n\r\nHalf written, more\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"replaces_draft\"\r\n\r\n{draft}\r\n\
         --{boundary}--\r\n"
    );
    let request = Request::builder()
        .method(Method::POST)
        .uri(&path)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("accept", "application/json")
        .header("sec-fetch-site", "same-origin")
        .header("cookie", format!("postwerk_session={}", mail.session))
        .body(Body::from(body))
        .unwrap();
    let answer = mail.ui.send(request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.html);
    let json: serde_json::Value = serde_json::from_str(&answer.html).unwrap();
    assert!(json["draft"].as_u64().is_some(), "{json}");
    let drafts = mail.get(&mail.folder(mail.anna, "Drafts").await).await.ok();
    assert!(
        drafts.html.contains("Half written, more"),
        "{}",
        drafts.html
    );
    assert_eq!(
        drafts.html.matches("data-uid=").count(),
        1,
        "{}",
        drafts.html
    );
}

#[tokio::test]
async fn the_spam_button_moves_to_junk_and_flags_show_in_the_list() {
    let mail = Mail::new().await;
    let spam = message(
        "winner@lottery.example",
        "anna@acme.test",
        "You won",
        "Claim it.",
    );
    let spam_uid = mail.deliver(mail.anna, &spam).await;
    let good = message(
        "alice@example.net",
        "anna@acme.test",
        "Minutes",
        "Attached.",
    );
    let good_uid = mail.deliver(mail.anna, &good).await;
    let inbox = mail.folder(mail.anna, "Inbox").await;

    let flagged = mail
        .post(
            &format!("{inbox}/actions"),
            &[("action", "flag"), ("uid", &good_uid.to_string())],
        )
        .await;
    assert_eq!(flagged.location(), inbox);
    assert!(
        mail.get(&inbox)
            .await
            .ok()
            .html
            .contains("class=\"flag-mark\"")
    );

    let moved = mail
        .post(
            &format!("{inbox}/actions"),
            &[("action", "spam"), ("uid", &spam_uid.to_string())],
        )
        .await;
    assert_eq!(moved.location(), inbox);
    assert!(
        moved.notice().unwrap().contains("moved to Junk"),
        "{:?}",
        moved.notice()
    );
    let list = mail.get(&inbox).await.ok();
    assert!(!list.html.contains("You won"));
    assert!(list.html.contains("Minutes"));
    let junk = mail.get(&mail.folder(mail.anna, "Junk").await).await.ok();
    assert!(junk.html.contains("You won"), "{}", junk.html);
    assert!(junk.html.contains("Not spam"));

    let nothing = mail
        .post(&format!("{inbox}/actions"), &[("action", "delete")])
        .await;
    assert_eq!(
        nothing.notice().as_deref(),
        Some("Select at least one message first.")
    );
}

#[tokio::test]
async fn a_bounce_is_explained_in_plain_language() {
    let mail = Mail::new().await;
    let raw = include_bytes!("../../../core/tests/bounces/postfix-failed.eml");
    let uid = mail.deliver(mail.anna, raw).await;
    let inbox = mail.folder(mail.anna, "Inbox").await;
    let page = mail.get(&format!("{inbox}/{uid}")).await.ok();
    assert!(
        page.html.contains("id=\"bounce-explanation\""),
        "{}",
        page.html
    );
    assert!(page.html.contains("Your message could not be delivered"));
    assert!(page.html.contains("carol@example.org"));
    assert!(page.html.contains("Unknown user"), "{}", page.html);
    assert!(page.html.contains("What to do:"));
    assert!(page.html.contains("<blockquote>"));

    let ordinary = message("alice@example.net", "anna@acme.test", "Hello", "Hi.");
    let uid = mail.deliver(mail.anna, &ordinary).await;
    let page = mail.get(&format!("{inbox}/{uid}")).await.ok();
    assert!(!page.html.contains("bounce-explanation"));
}

#[tokio::test]
async fn an_unknown_download_link_is_a_404_page() {
    let mail = Mail::new().await;
    let page = mail.ui.get("/files/no-such-token", None).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(
        page.html
            .contains("This link has expired or does not exist")
    );
}

#[tokio::test]
async fn inline_images_are_shown_inside_the_frame() {
    let mail = Mail::new().await;
    let raw = b"From: alice@example.net\r\nTo: anna@acme.test\r\nSubject: Logo\r\n\
        MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=r1\r\n\r\n\
        --r1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Our logo</p><img src=\"cid:logo@acme\" alt=\"logo\">\r\n\
        --r1\r\nContent-Type: image/png\r\nContent-ID: <logo@acme>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n\
        --r1--\r\n";
    let uid = mail.deliver(mail.anna, raw).await;
    let inbox = mail.folder(mail.anna, "Inbox").await;
    let body = mail.get(&format!("{inbox}/{uid}/body")).await.ok();
    assert!(
        body.html
            .contains("src=\"data:image/png;base64,iVBORw0KGgo=\""),
        "{}",
        body.html
    );
}

#[tokio::test]
async fn a_large_file_is_sent_as_a_link_that_downloads_without_signing_in() {
    let mail = Mail::new().await;
    let big = vec![b'x'; 10 * 1024 * 1024 + 1];
    let sent = mail
        .ui
        .post_multipart(
            &format!("/mail/{}/compose", mail.anna),
            &[
                ("action", "send"),
                ("from", "anna@acme.test"),
                ("to", "bob@acme.test"),
                ("subject", "The big file"),
                ("body", "Too big to attach."),
            ],
            &[("attachments", "big.bin", "application/octet-stream", &big)],
            Some(&mail.session),
        )
        .await;
    assert_eq!(
        sent.notice().as_deref(),
        Some("Message sent. One large file was sent as a download link.")
    );
    let bob_inbox = mail.folder(mail.bob, "Inbox").await;
    let list = mail.get(&bob_inbox).await.ok();
    let uid = list_uid(&list.html, "The big file");
    let read = mail.get(&format!("{bob_inbox}/{uid}")).await.ok();
    let prefix = "https://mail.platform.test/files/";
    let at = read.html.find(prefix).expect("a download link") + prefix.len();
    let token: String = read.html[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let file = mail.ui.get(&format!("/files/{token}"), None).await.ok();
    assert!(
        file.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"big.bin\"")
    );
    assert_eq!(file.bytes.len(), big.len());
}

#[tokio::test]
async fn a_forward_keeps_the_attachments_unless_removed() {
    let mail = Mail::new().await;
    let raw = b"From: alice@example.net\r\nTo: anna@acme.test\r\nSubject: Files\r\n\
        MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n\
        --b1\r\nContent-Type: text/plain\r\n\r\nTwo files.\r\n\
        --b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"plan.pdf\"\r\n\r\n%PDF-1.4 plan\r\n\
        --b1\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"notes.txt\"\r\n\r\nnotes\r\n\
        --b1--\r\n";
    let uid = mail.deliver(mail.anna, raw).await;
    let inbox = mail.folder(mail.anna, "Inbox").await;
    let folder = inbox.rsplit('/').next().unwrap().to_owned();
    let compose = mail
        .get(&format!(
            "/mail/{}/compose?reply={uid}&folder={folder}&kind=forward",
            mail.anna
        ))
        .await
        .ok();
    assert!(
        compose.html.contains("value=\"Fwd: Files\""),
        "{}",
        compose.html
    );
    assert!(compose.html.contains("Remove plan.pdf"), "{}", compose.html);
    let keys: Vec<String> = compose
        .html
        .match_indices("name=\"kept\" value=\"")
        .map(|(at, m)| {
            let rest = &compose.html[at + m.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect();
    assert_eq!(keys.len(), 2, "{}", compose.html);
    // The key whose "Remove" checkbox names notes.txt.
    let notes_key = keys
        .iter()
        .find(|key| {
            let at = compose
                .html
                .find(&format!("value=\"{key}\"> Remove "))
                .unwrap();
            let label = compose.html[at..].split("</label>").next().unwrap();
            label.contains("notes.txt")
        })
        .unwrap()
        .clone();
    let mut fields = vec![
        ("action", "send"),
        ("from", "anna@acme.test"),
        ("to", "bob@acme.test"),
        ("subject", "Fwd: Files"),
        ("body", "For you."),
        ("reply_folder", folder.as_str()),
    ];
    let uid_text = uid.to_string();
    fields.push(("reply_uid", uid_text.as_str()));
    for key in &keys {
        fields.push(("kept", key.as_str()));
    }
    fields.push(("remove", notes_key.as_str()));
    let sent = mail
        .ui
        .post_multipart(
            &format!("/mail/{}/compose", mail.anna),
            &fields,
            &[],
            Some(&mail.session),
        )
        .await;
    assert_eq!(
        sent.notice().as_deref(),
        Some("Message sent."),
        "{}",
        sent.html
    );
    let bob_inbox = mail.folder(mail.bob, "Inbox").await;
    let list = mail.get(&bob_inbox).await.ok();
    let forwarded = list_uid(&list.html, "Fwd: Files");
    let read = mail.get(&format!("{bob_inbox}/{forwarded}")).await.ok();
    assert!(read.html.contains("plan.pdf"), "{}", read.html);
    assert!(!read.html.contains("notes.txt"), "{}", read.html);
}

#[tokio::test]
async fn a_refused_message_is_shown_again_with_its_values() {
    let mail = Mail::new().await;
    let page = mail
        .ui
        .post_multipart(
            &format!("/mail/{}/compose", mail.anna),
            &[
                ("action", "send"),
                ("from", "carl@acme.test"),
                ("to", "bob@acme.test"),
                ("subject", "Pretending"),
                ("body", "Not my address."),
            ],
            &[],
            Some(&mail.session),
        )
        .await;
    assert!(
        page.status.is_client_error(),
        "{}: {}",
        page.status,
        page.html
    );
    assert!(
        page.html.contains("id=\"compose-problem\""),
        "{}",
        page.html
    );
    assert!(page.html.contains("value=\"Pretending\""));
    assert!(page.html.contains("Not my address."));
}

/// Opens `/mail/{mailbox}/events` as jane, the answer unread.
async fn open_events(mail: &Mail, mailbox: AddressId) -> axum::response::Response {
    let request = Request::builder()
        .method(Method::GET)
        .uri(format!("/mail/{mailbox}/events"))
        .header("accept", "text/event-stream")
        .header("cookie", format!("postwerk_session={}", mail.session))
        .body(Body::empty())
        .unwrap();
    mail.ui.open(request).await
}

/// Reads Server-Sent Events frames from `body` until a `counts` event; its data as JSON.
/// `pending` keeps what was read past that frame for the next call.
async fn next_counts(
    body: &mut axum::body::BodyDataStream,
    pending: &mut String,
) -> serde_json::Value {
    use futures::StreamExt;
    let read = async {
        loop {
            while let Some(end) = pending.find("\n\n") {
                let frame: String = pending.drain(..end + 2).collect();
                if frame.lines().any(|line| line == "event: counts") {
                    let data: String = frame
                        .lines()
                        .filter_map(|line| line.strip_prefix("data: "))
                        .collect();
                    return serde_json::from_str(&data).unwrap();
                }
            }
            let chunk = body.next().await.expect("the stream stays open").unwrap();
            pending.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    // Only a guard against a hang: the event is due as soon as the change is committed.
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("a counts event within 10 s")
}

/// The counts of `folder` in a `counts` event: (messages, unread).
fn folder_counts(counts: &serde_json::Value, folder: &str) -> (u64, u64) {
    let id: u64 = folder.parse().unwrap();
    let entry = counts
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no folder {folder} in {counts}"));
    (
        entry["messages"].as_u64().unwrap(),
        entry["unread"].as_u64().unwrap(),
    )
}

#[tokio::test]
async fn new_mail_is_pushed_to_the_open_list_as_an_event() {
    let mail = Mail::new().await;
    let inbox = mail.folder(mail.anna, "Inbox").await;
    let inbox_id = inbox.rsplit('/').next().unwrap().to_owned();

    let response = open_events(&mail, mail.anna).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body().into_data_stream();
    let mut pending = String::new();

    // The counts when the stream opens: nothing yet.
    let opened = next_counts(&mut body, &mut pending).await;
    assert_eq!(folder_counts(&opened, &inbox_id), (0, 0));

    // Mail for bob leaves anna's counts alone; mail for anna is announced.
    mail.deliver(
        mail.bob,
        &message("alice@example.net", "bob@acme.test", "For Bob", "Hi."),
    )
    .await;
    mail.deliver(
        mail.anna,
        &message("alice@example.net", "anna@acme.test", "For Anna", "Hi."),
    )
    .await;
    let arrived = next_counts(&mut body, &mut pending).await;
    assert_eq!(folder_counts(&arrived, &inbox_id), (1, 1));

    // A mailbox that is not jane's has no stream.
    let refused = open_events(&mail, mail.carl).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}
