//! The terms of the full-text index: one per trigram (three characters in a row) of a
//! case-folded text, written as a word that also names the mailbox the text belongs to.
//!
//! Why not FTS5's own `trigram` tokenizer: it indexes every mailbox's texts under the same
//! terms, so a phrase query made for one folder reads and compares the positions of every
//! message on the server before the folder's rows can filter them. A miss whose trigrams are
//! all common (`budgetreview`: "bud", "get", "rev", "iew" are everywhere) cost as much in a
//! mailbox of 10,000 messages as in the whole data folder, and FTS5 does not stop at a rowid
//! bound until it finds a match. With the mailbox in every term, each mailbox has doclists of
//! its own inside the one index, and a search costs what its mailbox holds.
//!
//! A term is `<mailbox id in base 32>y<trigram>`. An ASCII trigram is its three 7-bit codes
//! packed in five base-32 digits; any other is `w` then the hex digits of its UTF-8 bytes.
//! The code is prefix-free (`y` and `w` are not base-32 digits), so distinct (mailbox,
//! trigram) pairs give distinct terms, and every term is lowercase ASCII letters and digits:
//! FTS5's `ascii` tokenizer takes each one whole and unchanged. Terms of one text are written
//! in order, one per character position, so FTS5's phrase of the needle's terms matches
//! exactly the texts that contain the needle (RFC 9051 §6.4.4: SEARCH TEXT/BODY are substring
//! matches), case-insensitively through [`fold`].

use std::fmt::Write as _;

/// Digits of the base-32 numbers in terms; `w` and `y` stay free as markers.
const DIGITS: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

/// The case folding of both texts and needles, for the index and for scanning alike.
pub(super) fn fold(text: &str) -> String {
    text.to_lowercase()
}

/// The terms of `text` (not yet folded) in `mailbox`, separated by spaces, for an FTS5 column
/// with the `ascii` tokenizer. Empty for a text of fewer than three characters.
pub(super) fn terms(mailbox: i64, text: &str) -> String {
    let folded = fold(text);
    let prefix = prefix(mailbox);
    // Most terms are the prefix, five digits and a space.
    let mut out = String::with_capacity(folded.len() * (prefix.len() + 6));
    for_each_trigram(&folded, |trigram| {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&prefix);
        push_trigram(&mut out, trigram);
    });
    out
}

/// The FTS5 phrase (a quoted string of terms) matching the texts of `mailbox` that contain
/// `needle`, case-insensitively; `None` when the needle is too short to have a trigram.
pub(super) fn phrase(mailbox: i64, needle: &str) -> Option<String> {
    let terms = terms(mailbox, needle);
    (!terms.is_empty()).then(|| format!("\"{terms}\""))
}

fn prefix(mailbox: i64) -> String {
    let mut prefix = String::new();
    // Ids are positive; a negative one (never given out) still gets terms of its own.
    if mailbox < 0 {
        prefix.push('x');
    }
    push_base32(&mut prefix, mailbox.unsigned_abs(), 1);
    prefix.push('y');
    prefix
}

/// Appends `value` in base 32, at least `width` digits.
fn push_base32(out: &mut String, mut value: u64, width: usize) {
    let mut digits = [0u8; 13];
    let mut len = 0;
    while value > 0 || len < width {
        digits[len] = DIGITS[(value % 32) as usize];
        value /= 32;
        len += 1;
    }
    out.extend(digits[..len].iter().rev().map(|&d| char::from(d)));
}

fn for_each_trigram(folded: &str, mut each: impl FnMut([char; 3])) {
    let mut chars = folded.chars();
    let (Some(mut a), Some(mut b)) = (chars.next(), chars.next()) else {
        return;
    };
    for c in chars {
        each([a, b, c]);
        (a, b) = (b, c);
    }
}

fn push_trigram(out: &mut String, trigram: [char; 3]) {
    if trigram.iter().all(char::is_ascii) {
        let packed = trigram
            .iter()
            .fold(0u64, |packed, &c| (packed << 7) | u64::from(c));
        push_base32(out, packed, 5);
    } else {
        out.push('w');
        let mut utf8 = [0u8; 4];
        for c in trigram {
            for byte in c.encode_utf8(&mut utf8).bytes() {
                // Writing to a String cannot fail.
                let _ = write!(out, "{byte:02x}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_character_position_gives_one_term_in_order() {
        let terms = terms(7, "Abcd");
        let words: Vec<&str> = terms.split(' ').collect();
        assert_eq!(words.len(), 2, "abc, bcd");
        let abc = (u64::from(b'a') << 14) | (u64::from(b'b') << 7) | u64::from(b'c');
        let mut expected = String::from("7y");
        push_base32(&mut expected, abc, 5);
        assert_eq!(words[0], expected);
        assert!(words.iter().all(|w| w.starts_with("7y") && w.len() == 7));
    }

    #[test]
    fn short_texts_have_no_terms_and_needles_no_phrase() {
        assert_eq!(terms(1, ""), "");
        assert_eq!(terms(1, "ab"), "");
        assert_eq!(phrase(1, "éx"), None);
        assert_eq!(phrase(1, "abc"), Some(format!("\"{}\"", terms(1, "abc"))));
    }

    #[test]
    fn case_is_folded_like_a_scan() {
        assert_eq!(terms(3, "QUETZAL"), terms(3, "quetzal"));
        assert_eq!(terms(3, "ÉTÉ à"), terms(3, "été à"));
        assert_eq!(fold("ÉTÉ"), "été");
    }

    #[test]
    fn terms_are_single_ascii_words_of_the_tokenizer() {
        let terms = terms(1 << 40, "a\u{0}\u{7f}\"b* c:(été)🦀\r\n");
        for term in terms.split(' ') {
            assert!(!term.is_empty());
            assert!(
                term.bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()),
                "{term}"
            );
        }
    }

    #[test]
    fn different_mailboxes_or_trigrams_never_share_a_term() {
        let texts = [
            "abc",
            "abd",
            "ab\u{e9}",
            "\u{e9}ab",
            "a\u{e9}b",
            "🦀ab",
            "xyz",
            "\u{0}\u{0}\u{0}",
        ];
        let mut seen = HashSet::new();
        for mailbox in [0, 1, 31, 32, 33, 1024, i64::MAX, -1] {
            for text in texts {
                assert!(
                    seen.insert(terms(mailbox, text)),
                    "{mailbox} {text:?} repeats a term"
                );
            }
        }
    }

    #[test]
    fn a_needle_inside_a_text_gives_a_run_of_its_terms() {
        let text = terms(9, "Re: the Budget Review, twice");
        let needle = terms(9, "budget rev");
        assert!(text.contains(&needle));
        assert!(!text.contains(&terms(9, "budgetreview")));
        assert!(!text.contains(&terms(10, "budget rev")));
    }
}
