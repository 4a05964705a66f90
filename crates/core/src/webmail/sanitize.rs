//! HTML of messages made safe to show (CLI-1): no script, no active content, no form, no
//! tracking by remote images unless the reader asks, links opened outside the page.
//!
//! ammonia does the parsing and keeps only the tags and attributes listed here (an allow list:
//! anything it does not know, `svg`, `iframe`, `form`, `meta`, event handlers, `style`,
//! `srcset`, `background`, is dropped). Two rules are ours, applied per attribute after
//! ammonia's own URL scheme check:
//!
//! - `img src` keeps `cid:` (the page points it at the message's own part), `data:image/…`,
//!   and `http(s):` only when the reader asked for remote images — a remote image is how a
//!   sender learns that and when a message was read.
//! - `href` never keeps `data:` or `cid:`, which are only meaningful as image sources.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The sanitised HTML, and whether remote images were removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sanitized {
    pub html: String,
    pub blocked_remote_images: bool,
}

/// Tags that mail commonly uses for layout beyond ammonia's default set.
const EXTRA_TAGS: [&str; 2] = ["font", "tfoot"];

/// Presentational attributes of layout tags, all inert (colours, sizes, alignment);
/// `background` is not among them, since it loads an image.
const EXTRA_ATTRIBUTES: [(&str, &[&str]); 8] = [
    ("font", &["color", "face", "size"]),
    (
        "table",
        &["width", "border", "cellpadding", "cellspacing", "bgcolor"],
    ),
    ("tr", &["valign", "bgcolor"]),
    ("td", &["width", "height", "valign", "bgcolor", "nowrap"]),
    ("th", &["width", "height", "valign", "bgcolor", "nowrap"]),
    ("div", &["align"]),
    ("p", &["align"]),
    ("span", &["dir"]),
];

/// Tags removed together with their content (ammonia's default is `script` and `style`):
/// a `<title>` of an HTML document would otherwise show up as text.
const DROPPED_WITH_CONTENT: [&str; 1] = ["title"];

/// Sanitises `html` with ammonia: only inert tags and attributes stay; `img` sources other
/// than `data:` and `cid:` are removed unless `remote_images`.
pub fn sanitize(html: &str, remote_images: bool) -> Sanitized {
    let blocked = Arc::new(AtomicBool::new(false));
    let mut builder = ammonia::Builder::default();
    builder
        .add_tags(EXTRA_TAGS)
        .add_clean_content_tags(DROPPED_WITH_CONTENT)
        // `cid:` and `data:` must pass ammonia's scheme check to reach `keep_attribute`, which
        // allows them on images only.
        .add_url_schemes(["cid", "data"])
        // A relative URL means nothing inside a message (and `//host/x` is a remote image in
        // disguise).
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer"))
        .set_tag_attribute_value("a", "target", "_blank");
    for (tag, attributes) in EXTRA_ATTRIBUTES {
        builder.add_tag_attributes(tag, attributes.iter().copied());
    }
    let seen_remote = blocked.clone();
    builder.attribute_filter(move |element, attribute, value| {
        keep_attribute(element, attribute, value, remote_images, &seen_remote)
    });
    let html = builder.clean(html).to_string();
    Sanitized {
        html,
        blocked_remote_images: blocked.load(Ordering::Relaxed),
    }
}

/// Our per-attribute rules (module documentation); `None` drops the attribute.
fn keep_attribute<'v>(
    element: &str,
    attribute: &str,
    value: &'v str,
    remote_images: bool,
    blocked: &AtomicBool,
) -> Option<Cow<'v, str>> {
    let scheme = value
        .split_once(':')
        .map(|(scheme, _)| scheme.trim().to_ascii_lowercase());
    let scheme = scheme.as_deref();
    if attribute == "src" {
        let keep = match scheme {
            Some("cid") => element == "img",
            Some("data") => element == "img" && is_data_image(value),
            Some("http" | "https") => {
                if !remote_images {
                    blocked.store(true, Ordering::Relaxed);
                }
                element == "img" && remote_images
            }
            _ => false,
        };
        return keep.then_some(Cow::Borrowed(value));
    }
    if attribute == "href" && matches!(scheme, Some("data" | "cid")) {
        return None;
    }
    Some(Cow::Borrowed(value))
}

/// `data:image/png;base64,…` and the like; not `data:text/html` or `data:image/svg+xml`
/// (an SVG document can carry script).
fn is_data_image(value: &str) -> bool {
    let media_type = value
        .get("data:".len()..)
        .unwrap_or_default()
        .split([';', ','])
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media_type.starts_with("image/") && media_type != "image/svg+xml"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(html: &str) -> String {
        sanitize(html, false).html
    }

    #[test]
    fn scripts_and_active_content_are_removed() {
        let cases = [
            "<script>alert(1)</script><p>hi</p>",
            "<p onclick=\"alert(1)\">hi</p>",
            "<img src=x onerror=alert(1)><p>hi</p>",
            "<a href=\"javascript:alert(1)\">hi</a>",
            "<a href=\"JaVaScRiPt:alert(1)\">hi</a>",
            "<svg onload=alert(1)><script>alert(1)</script></svg><p>hi</p>",
            "<iframe src=\"https://evil.example/\"></iframe><p>hi</p>",
            "<object data=\"https://evil.example/x.swf\"></object><p>hi</p>",
            "<form action=\"https://evil.example/\"><input name=p></form><p>hi</p>",
            "<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example/\"><p>hi</p>",
            "<link rel=stylesheet href=\"https://evil.example/x.css\"><p>hi</p>",
            "<base href=\"https://evil.example/\"><p>hi</p>",
            "<style>body{background:url(https://evil.example/t.gif)}</style><p>hi</p>",
            "<p style=\"background:url(https://evil.example/t.gif)\">hi</p>",
            "<a href=\"data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;\">hi</a>",
        ];
        for html in cases {
            let out = clean(html).to_ascii_lowercase();
            for bad in [
                "<script",
                "alert",
                "onerror",
                "onclick",
                "onload",
                "javascript",
                "<svg",
                "<iframe",
                "<object",
                "<form",
                "<input",
                "<meta",
                "<link",
                "<base",
                "<style",
                "style=",
                "evil.example",
                "data:",
            ] {
                assert!(!out.contains(bad), "{html:?} gave {out:?}");
            }
            assert!(out.contains("hi"), "{html:?} lost its text: {out:?}");
        }
    }

    #[test]
    fn image_tricks_are_removed() {
        let cases = [
            "<img srcset=\"https://t.example/a.gif 1x\">",
            "<table background=\"https://t.example/a.gif\"><tr><td>x</td></tr></table>",
            "<td background=\"https://t.example/a.gif\">x</td>",
            "<body background=\"https://t.example/a.gif\">x</body>",
            "<img src=\"//t.example/a.gif\">",
            "<img src=\"data:image/svg+xml;base64,PHN2Zz4=\">",
            "<video poster=\"https://t.example/a.gif\"></video>",
        ];
        for html in cases {
            let out = clean(html);
            assert!(
                !out.contains("t.example") && !out.contains("svg"),
                "{html:?} gave {out:?}"
            );
        }
    }

    #[test]
    fn remote_images_are_blocked_unless_asked() {
        let html = "<p>Hello</p><img src=\"https://t.example/pixel.gif\" alt=\"logo\">";
        let blocked = sanitize(html, false);
        assert!(blocked.blocked_remote_images);
        assert!(!blocked.html.contains("t.example"), "{}", blocked.html);
        assert!(blocked.html.contains("alt=\"logo\""), "{}", blocked.html);

        let shown = sanitize(html, true);
        assert!(!shown.blocked_remote_images);
        assert!(
            shown.html.contains("src=\"https://t.example/pixel.gif\""),
            "{}",
            shown.html
        );
    }

    #[test]
    fn inline_and_embedded_images_stay() {
        let html = "<img src=\"cid:logo@example\"><img src=\"data:image/png;base64,iVBORw0KGgo=\">";
        let out = sanitize(html, false);
        assert!(!out.blocked_remote_images);
        assert!(
            out.html.contains("src=\"cid:logo@example\""),
            "{}",
            out.html
        );
        assert!(
            out.html
                .contains("src=\"data:image/png;base64,iVBORw0KGgo=\""),
            "{}",
            out.html
        );
    }

    #[test]
    fn links_open_outside_without_referrer() {
        let out =
            clean("<a href=\"https://example.com/\">site</a> <a href=\"mailto:a@b.example\">m</a>");
        assert!(out.contains("href=\"https://example.com/\""), "{out}");
        assert!(out.contains("href=\"mailto:a@b.example\""), "{out}");
        assert_eq!(
            out.matches("rel=\"noopener noreferrer\"").count(),
            2,
            "{out}"
        );
        assert_eq!(out.matches("target=\"_blank\"").count(), 2, "{out}");
    }

    #[test]
    fn formatting_and_tables_stay() {
        let html = "<table border=\"1\" cellpadding=\"2\"><tr><td valign=\"top\"><b>bold</b> \
                    <i>it</i> <font color=\"red\">red</font></td></tr></table><ul><li>one</li></ul>";
        let out = clean(html);
        for kept in [
            "<table",
            "border=\"1\"",
            "cellpadding=\"2\"",
            "<td valign=\"top\"",
            "<b>bold</b>",
            "<i>it</i>",
            "<font color=\"red\">",
            "<ul><li>one</li></ul>",
        ] {
            assert!(out.contains(kept), "{kept} missing from {out}");
        }
    }
}
