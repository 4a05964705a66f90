//! The base subject of RFC 5256 §2.1, which IMAP SORT and THREAD and the webmail list sort
//! and group by: `Re: [list] Fwd: Hello (fwd)` is `Hello`.

/// The base subject of RFC 5256 §2.1: `Re: [list] Fwd: Hello (fwd)` is `Hello`.
///
/// `subject` is already decoded (RFC 2047 encoded-words, step 1 of the algorithm, were decoded at
/// ingest). Case is kept; SORT and THREAD compare base subjects case-insensitively.
pub fn base_subject(subject: &str) -> String {
    extract_base_subject(subject).text
}

/// A base subject and whether extracting it removed a reply or forward marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseSubject {
    /// The base subject, case kept.
    pub text: String,
    /// RFC 5256 §3 REFERENCES step 5: the subject was a reply or forward (`Re:`, `Fwd:`, a
    /// trailing `(fwd)` or a `[fwd: ...]` wrapper was removed).
    pub is_reply_or_forward: bool,
}

/// RFC 5256 §2.1, steps 1 to 6.
pub fn extract_base_subject(subject: &str) -> BaseSubject {
    // Step 1: tabs and line breaks (continuations) become spaces, runs of spaces become one.
    let mut text = String::with_capacity(subject.len());
    for ch in subject.chars() {
        let ch = if matches!(ch, '\t' | '\r' | '\n') {
            ' '
        } else {
            ch
        };
        if !(ch == ' ' && text.ends_with(' ')) {
            text.push(ch);
        }
    }
    let mut is_reply_or_forward = false;
    let mut rest: &str = &text;
    loop {
        // Step 2: remove trailing `(fwd)` and white space, repeatedly.
        loop {
            if let Some(stripped) = rest.strip_suffix(' ') {
                rest = stripped;
            } else if let Some(stripped) = strip_suffix_ci(rest, "(fwd)") {
                rest = stripped;
                is_reply_or_forward = true;
            } else {
                break;
            }
        }
        // Steps 3 to 5: remove leaders (`Re:`, `[blob] Fwd:`, white space) and leading blobs,
        // until neither matches.
        loop {
            if let Some((stripped, refwd)) = strip_leader(rest) {
                rest = stripped;
                is_reply_or_forward |= refwd;
                continue;
            }
            // Step 4: a leading blob goes only if something remains after it.
            match strip_blob(rest) {
                Some(stripped) if !stripped.is_empty() => rest = stripped,
                _ => break,
            }
        }
        // Step 6: `[fwd: subject]` is unwrapped and the whole process starts again at step 2.
        match strip_prefix_ci(rest, "[fwd:").and_then(|r| r.strip_suffix(']')) {
            Some(inner) => {
                rest = inner;
                is_reply_or_forward = true;
            }
            None => break,
        }
    }
    BaseSubject {
        text: rest.to_string(),
        is_reply_or_forward,
    }
}

/// RFC 5256 §5 `subj-leader = (*subj-blob subj-refwd) / WSP`: the rest after one leader, and
/// whether it was a `subj-refwd` (a reply or forward marker) rather than white space.
fn strip_leader(s: &str) -> Option<(&str, bool)> {
    if let Some(rest) = s.strip_prefix(' ') {
        return Some((rest, false));
    }
    let mut rest = s;
    while let Some(after) = strip_blob(rest) {
        rest = after;
    }
    strip_refwd(rest).map(|r| (r, true))
}

/// `subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"`.
fn strip_refwd(s: &str) -> Option<&str> {
    let mut rest = strip_prefix_ci(s, "re").or_else(|| {
        let after = strip_prefix_ci(s, "fw")?;
        Some(strip_prefix_ci(after, "d").unwrap_or(after))
    })?;
    rest = rest.trim_start_matches(' ');
    if let Some(after) = strip_blob(rest) {
        rest = after;
    }
    rest.strip_prefix(':')
}

/// `subj-blob = "[" *BLOBCHAR "]" *WSP`, `BLOBCHAR` being anything but `[` and `]`.
fn strip_blob(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('[')?;
    let close = inner.find(['[', ']'])?;
    if inner.as_bytes()[close] != b']' {
        return None;
    }
    Some(inner[close + 1..].trim_start_matches(' '))
}

/// `s` without the ASCII `prefix`, compared case-insensitively.
fn strip_prefix_ci<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    let head = s.as_bytes().get(..prefix.len())?;
    // `prefix` is ASCII, so equal bytes mean `s` has a char boundary at `prefix.len()`.
    head.eq_ignore_ascii_case(prefix.as_bytes())
        .then(|| &s[prefix.len()..])
}

/// `s` without the ASCII `suffix`, compared case-insensitively.
fn strip_suffix_ci<'s>(s: &'s str, suffix: &str) -> Option<&'s str> {
    let cut = s.len().checked_sub(suffix.len())?;
    let tail = s.as_bytes().get(cut..)?;
    tail.eq_ignore_ascii_case(suffix.as_bytes())
        .then(|| &s[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_subject_follows_rfc_5256_section_2_1() {
        let cases = [
            ("Hello", "Hello"),
            ("Re: Hello", "Hello"),
            ("RE: re: Re:Hello", "Hello"),
            ("Fw: Hello", "Hello"),
            ("FWD: Hello", "Hello"),
            ("Re [2]: Hello", "Hello"),
            ("[list] Re: Hello", "Hello"),
            ("[list] [other] Re: Hello", "Hello"),
            ("Re: [list] Re: Hello", "Hello"),
            ("Hello (fwd)", "Hello"),
            ("Hello (FWD) (fwd)  ", "Hello"),
            ("[Fwd: Hello]", "Hello"),
            ("[fwd: Re: Hello (fwd)]", "Hello"),
            ("Re: [fwd: [list] Hello]", "Hello"),
            ("  Hello\t\tWorld  ", "Hello World"),
            ("Hello\r\n World", "Hello World"),
            // Step 4: a blob stays when nothing would be left after it.
            ("[only a blob]", "[only a blob]"),
            ("Re: [only a blob]", "[only a blob]"),
            ("[list] Hello", "Hello"),
            // Not reply markers: no colon, or a word that merely starts like one.
            ("Reply all", "Reply all"),
            ("Recall: x", "Recall: x"),
            ("Fwiw: x", "Fwiw: x"),
            ("[unclosed Re: x", "[unclosed Re: x"),
            ("", ""),
            ("Re:", ""),
            ("   ", ""),
            ("(fwd)", ""),
            ("Grüße: Re: Käse", "Grüße: Re: Käse"),
            ("Re: Käse (fwd)", "Käse"),
        ];
        for (subject, expected) in cases {
            assert_eq!(base_subject(subject), expected, "subject {subject:?}");
        }
    }

    #[test]
    fn reply_and_forward_markers_are_detected() {
        let cases = [
            ("Hello", false),
            ("[list] Hello", false),
            ("  Hello  ", false),
            ("Re: Hello", true),
            ("[list] Fwd: Hello", true),
            ("Hello (fwd)", true),
            ("[fwd: Hello]", true),
        ];
        for (subject, expected) in cases {
            assert_eq!(
                extract_base_subject(subject).is_reply_or_forward,
                expected,
                "subject {subject:?}"
            );
        }
    }
}
