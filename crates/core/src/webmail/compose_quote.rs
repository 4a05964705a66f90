//! The text a reply or a forward starts with: the subject prefix said once, the quoted
//! original, the forwarded-message block.

/// `Re: ` before the subject, unless it is already a reply (no `Re: Re:`).
pub(super) fn reply_subject(subject: &str) -> String {
    prefixed(subject, "Re: ", &["re:"])
}

/// `Fwd: ` before the subject, unless it is already a forward.
pub(super) fn forward_subject(subject: &str) -> String {
    prefixed(subject, "Fwd: ", &["fwd:", "fw:"])
}

fn prefixed(subject: &str, prefix: &str, known: &[&str]) -> String {
    let subject = subject.trim();
    let lower = subject.to_lowercase();
    if known.iter().any(|k| lower.starts_with(k)) {
        subject.to_owned()
    } else {
        format!("{prefix}{subject}")
    }
}

/// A date as the quote headers show it (UTC: the server does not know the reader's zone).
pub(super) fn human_date(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|date| date.format("%a, %-d %b %Y at %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// The body of a reply: room to write, then `On <date>, <from> wrote:` and the original with
/// every line quoted (`> `).
pub(super) fn quoted_reply(date: i64, from: &str, text: &str) -> String {
    let mut body = format!("\n\nOn {}, {} wrote:\n", human_date(date), from);
    for line in lines(text) {
        if line.is_empty() {
            body.push_str(">\n");
        } else {
            body.push_str("> ");
            body.push_str(line);
            body.push('\n');
        }
    }
    body
}

/// What a forward says about the original before its text.
pub(super) struct ForwardedHeaders<'a> {
    pub from: &'a str,
    pub date: i64,
    pub subject: &'a str,
    pub to: &'a [String],
    pub cc: &'a [String],
}

/// The body of a forward: room to write, then the original's headers and its text.
pub(super) fn forwarded(headers: &ForwardedHeaders<'_>, text: &str) -> String {
    let mut body = String::from("\n\n---------- Forwarded message ----------\n");
    body.push_str(&format!("From: {}\n", headers.from));
    body.push_str(&format!("Date: {}\n", human_date(headers.date)));
    body.push_str(&format!("Subject: {}\n", headers.subject));
    if !headers.to.is_empty() {
        body.push_str(&format!("To: {}\n", headers.to.join(", ")));
    }
    if !headers.cc.is_empty() {
        body.push_str(&format!("Cc: {}\n", headers.cc.join(", ")));
    }
    body.push('\n');
    for line in lines(text) {
        body.push_str(line);
        body.push('\n');
    }
    body
}

/// The lines of a text whatever its line ends, without the trailing empty ones.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.trim_end()
        .lines()
        .map(|line| line.trim_end_matches('\r'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_prefixed_once() {
        assert_eq!(reply_subject("Lunch"), "Re: Lunch");
        assert_eq!(reply_subject("RE: Lunch"), "RE: Lunch");
        assert_eq!(reply_subject(""), "Re: ");
        assert_eq!(forward_subject("Lunch"), "Fwd: Lunch");
        assert_eq!(forward_subject("Fw: Lunch"), "Fw: Lunch");
        assert_eq!(forward_subject("Re: Lunch"), "Fwd: Re: Lunch");
    }

    #[test]
    fn replies_quote_every_line() {
        let body = quoted_reply(0, "Ann <ann@example.com>", "Hello\r\n\r\nBye\r\n");
        assert_eq!(
            body,
            "\n\nOn Thu, 1 Jan 1970 at 00:00 UTC, Ann <ann@example.com> wrote:\n> Hello\n>\n> Bye\n"
        );
    }

    #[test]
    fn forwards_say_where_the_message_came_from() {
        let headers = ForwardedHeaders {
            from: "Ann <ann@example.com>",
            date: 0,
            subject: "Plans",
            to: &["bob@example.org".into()],
            cc: &[],
        };
        let body = forwarded(&headers, "See attached.");
        assert!(
            body.contains("---------- Forwarded message ----------\nFrom: Ann <ann@example.com>\n")
        );
        assert!(body.contains("Subject: Plans\nTo: bob@example.org\n\nSee attached.\n"));
        assert!(!body.contains("Cc:"));
    }
}
