//! What the rules look at, read from one parse of a bounded prefix of the message.

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use mail_parser::{Encoding, HeaderName, Message, MessageParser, PartType};

use super::AuthSignals;

/// How much of the message is parsed: headers and the start of the body. Spam shows itself
/// there, and a 50 MB message then costs what a 256 KiB one does.
pub(crate) const SCANNED_BYTES: usize = 256 * 1024;

/// How much decoded text (all text parts together) the body rules read.
pub(crate) const TEXT_BYTES: usize = 64 * 1024;

/// The facts of one message.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    /// The message had a header section mail-parser could read.
    pub parsed: bool,
    /// A `Date:` that parses (RFC 5322 §3.6.1).
    pub has_date: bool,
    /// A `Message-ID:` (RFC 5322 §3.6.4).
    pub has_message_id: bool,
    /// A `From:` with at least one address.
    pub has_from: bool,
    /// The `Subject:`, decoded (RFC 2047); `None` when absent.
    pub subject: Option<String>,
    /// The domain of the first `From:` address, lowercase.
    pub from_domain: Option<String>,
    /// The display name of the first `From:` address.
    pub from_name: Option<String>,
    /// The domains of the `Reply-To:` addresses, lowercase.
    pub reply_to_domains: Vec<String>,
    /// The message has an HTML body and no plain-text alternative.
    pub html_only: bool,
    /// A text part (plain or HTML) is sent base64-encoded.
    pub base64_text: bool,
    /// The decoded text of the text parts, lowercase, at most [`TEXT_BYTES`].
    pub text: String,
    /// The distinct `http(s)://` URLs in that text.
    pub urls: HashSet<String>,
    /// One of the URLs names its host by IP address.
    pub url_with_ip_host: bool,
    /// SPF, DKIM and DMARC, when they were checked.
    pub auth: Option<AuthSignals>,
}

impl Facts {
    /// The facts of `raw`, with `auth` as given.
    pub(crate) fn of(raw: &[u8], auth: Option<AuthSignals>) -> Facts {
        let scanned = &raw[..raw.len().min(SCANNED_BYTES)];
        let mut facts = Facts {
            auth,
            ..Facts::default()
        };
        if let Some(message) = MessageParser::default().parse(scanned) {
            facts.read_headers(&message);
            facts.read_body(&message);
        }
        facts
    }

    fn read_headers(&mut self, message: &Message<'_>) {
        self.parsed = !message.headers().is_empty();
        self.has_date = message.date().is_some();
        self.has_message_id = message.message_id().is_some_and(|id| !id.trim().is_empty());
        self.subject = message.subject().map(str::to_string);
        // A `Subject:` mail-parser reads as empty still counts as present-but-empty.
        if self.subject.is_none() && message.header(HeaderName::Subject).is_some() {
            self.subject = Some(String::new());
        }
        let first_from = message.from().and_then(|from| from.first());
        self.has_from = first_from.is_some_and(|addr| addr.address().is_some());
        self.from_domain = first_from
            .and_then(|addr| addr.address())
            .and_then(domain_of);
        self.from_name = first_from.and_then(|addr| addr.name()).map(str::to_string);
        self.reply_to_domains = message
            .reply_to()
            .map(|reply_to| {
                reply_to
                    .iter()
                    .filter_map(|addr| addr.address().and_then(domain_of))
                    .collect()
            })
            .unwrap_or_default();
    }

    fn read_body(&mut self, message: &Message<'_>) {
        let mut has_plain = false;
        let mut has_html = false;
        // The body parts a reader sees (mail-parser lists the HTML part among the text
        // bodies when there is no plain alternative), attachments excluded.
        let parts = message.text_bodies().chain(message.html_bodies());
        let mut seen = HashSet::new();
        for part in parts {
            // A part is listed twice when it is the only body: read it once.
            if !seen.insert(part.offset_header) {
                continue;
            }
            let text = match &part.body {
                PartType::Text(text) => {
                    has_plain = true;
                    text
                }
                PartType::Html(html) => {
                    has_html = true;
                    html
                }
                _ => continue,
            };
            if part.encoding == Encoding::Base64 {
                self.base64_text = true;
            }
            let room = TEXT_BYTES.saturating_sub(self.text.len());
            self.text.push_str(&prefix(text, room).to_lowercase());
            self.text.push('\n');
        }
        self.html_only = has_html && !has_plain;
        for url in urls(&self.text) {
            if host_is_ip(url) {
                self.url_with_ip_host = true;
            }
            self.urls.insert(url.to_string());
        }
    }
}

/// The lowercase domain of `address`.
fn domain_of(address: &str) -> Option<String> {
    let (_, domain) = address.rsplit_once('@')?;
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    (!domain.is_empty()).then_some(domain)
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The `http://` and `https://` URLs in `text` (lowercase), each up to the first character
/// that cannot be part of it in plain text or an HTML attribute.
fn urls(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices("http")
        .map(move |(start, _)| &text[start..])
        .filter(|rest| rest.starts_with("http://") || rest.starts_with("https://"))
        .map(|rest| {
            let end = rest
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
}

/// True when the URL's host is an IPv4 or a bracketed IPv6 address: legitimate senders link
/// to names, and an IP host hides where the link goes.
fn host_is_ip(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Userinfo (`http://paypal.com@1.2.3.4/`) is a classic disguise: the host is after `@`.
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    if let Some(v6) = host_port.strip_prefix('[') {
        let host = v6.split(']').next().unwrap_or_default();
        return host.parse::<Ipv6Addr>().is_ok();
    }
    let host = host_port.split(':').next().unwrap_or_default();
    host.parse::<Ipv4Addr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_hosts_are_recognised_and_names_are_not() {
        for url in [
            "http://192.0.2.7/login",
            "https://192.0.2.7:8443/x",
            "http://paypal.com@192.0.2.7/",
            "http://[2001:db8::1]/x",
        ] {
            assert!(host_is_ip(url), "{url}");
        }
        for url in [
            "https://example.com/192.0.2.7",
            "http://192.0.2.7.example.com/",
            "https://example.com",
        ] {
            assert!(!host_is_ip(url), "{url}");
        }
    }

    #[test]
    fn urls_end_at_quotes_and_spaces() {
        let found: Vec<&str> =
            urls("see <a href=\"https://a.example/x?y=1\">here</a> and http://b.example/ ok")
                .collect();
        assert_eq!(found, ["https://a.example/x?y=1", "http://b.example/"]);
    }

    #[test]
    fn a_huge_message_is_read_only_up_to_the_bound() {
        let mut raw = b"From: a@example.com\r\nSubject: big\r\n\r\n".to_vec();
        raw.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024));
        raw.extend_from_slice(b"\r\nhttp://192.0.2.1/ at the very end\r\n");
        let facts = Facts::of(&raw, None);
        assert!(facts.text.len() <= TEXT_BYTES + 1, "{}", facts.text.len());
        assert!(
            !facts.url_with_ip_host,
            "the end of a huge message is not read"
        );
    }
}
