//! [`EnvelopeAddress`]: an address as the SMTP envelope carries it (RFC 5321 §4.1.2 `Mailbox`,
//! extended by RFC 6531 §3.3 for SMTPUTF8).
//!
//! This is the transport's view, wider than [`Address`] on purpose: a remote server decides
//! what its local parts mean (RFC 5321 §2.4), so a recipient elsewhere, or a stranger's
//! reverse-path, may have a non-ASCII or quoted local part, and we must carry it unchanged.
//! Hosted addresses stay [`Address`] (ASCII Dot-string, lowercase): [`EnvelopeAddress::to_address`]
//! gives one when the local part fits that policy, and directory lookups only ever use it, so
//! no hosted mailbox can be reached by a spelling we would never create.
//!
//! The local part is kept *decoded* (the text between the quotes, quoted-pairs resolved) and in
//! the case given; [`fmt::Display`] renders it back as a Dot-string when it is one and as a
//! Quoted-string otherwise, so the rendering is what goes on the wire and [`EnvelopeAddress::parse`]
//! reads it back. The domain is normalised to IDNA A-labels ([`Domain`]) for routing.

use std::fmt;
use std::str::FromStr;

use crate::address::{
    Address, AddressError, Domain, DomainProblem, LocalPart, MAX_ADDRESS_LEN, MAX_LOCAL_PART_LEN,
};

/// Why a text is not an address the SMTP envelope can carry.
///
/// Each message is one sentence that names what is wrong, for SMTP replies and logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeAddressError {
    /// No `@` between a local part and a domain.
    #[error("an address needs an @ between the local part and the domain")]
    MissingAt,
    /// Nothing before the `@`.
    #[error("the local part is empty")]
    EmptyLocalPart,
    /// RFC 5321 §4.5.3.1.1: at most 64 octets, counted as sent (quotes included).
    #[error("the local part is {length} octets long, and at most {MAX_LOCAL_PART_LEN} are allowed")]
    LocalPartTooLong {
        /// Length in octets of the local part as it goes on the wire.
        length: usize,
    },
    /// A control character (C0, DEL or C1), which neither `atext` nor `qtextSMTP` allows.
    #[error("the local part contains the control character U+{0:04X}")]
    ControlCharacter(u32),
    /// U+FFFD, which is what invalid UTF-8 became when the command was decoded
    /// (RFC 6531 §3.3 requires well-formed UTF-8).
    #[error("the local part is not valid UTF-8")]
    InvalidUtf8,
    /// A Quoted-string that does not close, text after its closing quote, or a backslash
    /// that escapes something other than printable ASCII (RFC 5321 §4.1.2 `quoted-pairSMTP`).
    #[error("the local part has unbalanced quotes or a bad backslash escape")]
    BadQuoting,
    /// An unquoted local part that is not a Dot-string: a character outside `atext`, or a dot
    /// at an edge or doubled.
    #[error("the local part is not a valid dot-string: {0}")]
    NotDotString(&'static str),
    /// The part after the `@` is not a usable domain name.
    #[error("\"{input}\" is not a valid domain name: {reason}")]
    InvalidDomain {
        /// The text as it was given.
        input: String,
        /// What is wrong with it.
        reason: DomainProblem,
    },
    /// Longer than a path allows (RFC 5321 §4.5.3.1.3), counted with the A-label domain.
    #[error("the address is longer than {MAX_ADDRESS_LEN} octets")]
    TooLong,
}

/// An address as the SMTP envelope carries it: a local part kept exactly as given (decoded,
/// case preserved, possibly non-ASCII) at an IDNA-normalised [`Domain`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EnvelopeAddress {
    /// Decoded: no surrounding quotes, no quoted-pair backslashes.
    local: String,
    domain: Domain,
}

impl EnvelopeAddress {
    /// Parses RFC 6531 §3.3 `Mailbox` syntax as written on the wire: a Dot-string (UTF-8
    /// allowed in atoms) or a Quoted-string, `@`, and a domain (U-labels or A-labels).
    pub fn parse(input: &str) -> Result<EnvelopeAddress, EnvelopeAddressError> {
        if let Some(quoted) = input.strip_prefix('"') {
            let (local, rest) = read_quoted(quoted)?;
            let domain = rest
                .strip_prefix('@')
                .ok_or(EnvelopeAddressError::BadQuoting)?;
            return EnvelopeAddress::build(local, domain);
        }
        let (local, domain) = input
            .rsplit_once('@')
            .ok_or(EnvelopeAddressError::MissingAt)?;
        if local.contains('"') {
            return Err(EnvelopeAddressError::BadQuoting);
        }
        check_characters(local)?;
        dot_string_problem(local).map_or(Ok(()), |problem| {
            Err(EnvelopeAddressError::NotDotString(problem))
        })?;
        EnvelopeAddress::build(local.to_owned(), domain)
    }

    /// Builds one from the form an SMTP command parser hands over, with the quoting already
    /// removed (smtp-proto turns `"john doe"@example.org` into `john doe@example.org`): the
    /// local part is everything before the last `@`, since a domain never contains one.
    pub fn from_unquoted(input: &str) -> Result<EnvelopeAddress, EnvelopeAddressError> {
        let (local, domain) = input
            .rsplit_once('@')
            .ok_or(EnvelopeAddressError::MissingAt)?;
        EnvelopeAddress::build(local.to_owned(), domain)
    }

    fn build(local: String, domain: &str) -> Result<EnvelopeAddress, EnvelopeAddressError> {
        if local.is_empty() {
            return Err(EnvelopeAddressError::EmptyLocalPart);
        }
        check_characters(&local)?;
        let domain = Domain::parse(domain).map_err(|error| match error {
            AddressError::InvalidDomain { input, reason } => {
                EnvelopeAddressError::InvalidDomain { input, reason }
            }
            _ => EnvelopeAddressError::InvalidDomain {
                input: domain.to_owned(),
                reason: DomainProblem::Empty,
            },
        })?;
        let address = EnvelopeAddress { local, domain };
        let wire_local = address.wire_local_part();
        if wire_local.len() > MAX_LOCAL_PART_LEN {
            return Err(EnvelopeAddressError::LocalPartTooLong {
                length: wire_local.len(),
            });
        }
        if wire_local.len() + 1 + address.domain.as_str().len() > MAX_ADDRESS_LEN {
            return Err(EnvelopeAddressError::TooLong);
        }
        Ok(address)
    }

    /// The local part, decoded and in the case given.
    pub fn local(&self) -> &str {
        &self.local
    }

    /// The domain, in A-label form: where to route.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// Whether the address can only travel with SMTPUTF8 (RFC 6531 §3.2): its local part is
    /// not ASCII (the domain is always kept in A-labels, so it never needs it).
    pub fn needs_smtputf8(&self) -> bool {
        !self.local.is_ascii()
    }

    /// The address as a hosted address could have it: `Some` when the local part is an ASCII
    /// Dot-string (then lowercased, like every [`Address`]); `None` for a non-ASCII or quoted
    /// local part, which no hosted address has (see the policy in [`crate::address`]).
    pub fn to_address(&self) -> Option<Address> {
        let local = LocalPart::parse(&self.local).ok()?;
        Address::new(local, self.domain.clone()).ok()
    }

    /// The local part as written on the wire: a Dot-string as is, anything else quoted with
    /// `"` and `\` escaped (RFC 5321 §4.1.2 `Quoted-string`).
    pub fn wire_local_part(&self) -> String {
        if dot_string_problem(&self.local).is_none() {
            return self.local.clone();
        }
        let mut quoted = String::with_capacity(self.local.len() + 2);
        quoted.push('"');
        for c in self.local.chars() {
            if c == '"' || c == '\\' {
                quoted.push('\\');
            }
            quoted.push(c);
        }
        quoted.push('"');
        quoted
    }
}

impl From<Address> for EnvelopeAddress {
    fn from(address: Address) -> EnvelopeAddress {
        EnvelopeAddress {
            local: address.local().as_str().to_owned(),
            domain: address.domain().clone(),
        }
    }
}

impl fmt::Display for EnvelopeAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.wire_local_part(), self.domain)
    }
}

impl fmt::Debug for EnvelopeAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EnvelopeAddress")
            .field(&self.to_string())
            .finish()
    }
}

impl FromStr for EnvelopeAddress {
    type Err = EnvelopeAddressError;

    fn from_str(input: &str) -> Result<EnvelopeAddress, EnvelopeAddressError> {
        EnvelopeAddress::parse(input)
    }
}

/// RFC 6531 §3.3: `qtextSMTP` and `quoted-pairSMTP` allow every printable ASCII character and
/// every non-ASCII one; controls are never allowed, quoted or not.
fn check_characters(local: &str) -> Result<(), EnvelopeAddressError> {
    for c in local.chars() {
        if c.is_control() {
            return Err(EnvelopeAddressError::ControlCharacter(u32::from(c)));
        }
        if c == char::REPLACEMENT_CHARACTER {
            return Err(EnvelopeAddressError::InvalidUtf8);
        }
    }
    Ok(())
}

/// Reads a Quoted-string after its opening quote: the decoded content and what follows the
/// closing quote.
fn read_quoted(text: &str) -> Result<(String, &str), EnvelopeAddressError> {
    let mut content = String::new();
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Ok((content, &text[at + 1..])),
            // RFC 5321 §4.1.2 quoted-pairSMTP: a backslash and one printable ASCII character.
            '\\' => match chars.next() {
                Some((_, escaped)) if (' '..='~').contains(&escaped) => content.push(escaped),
                _ => return Err(EnvelopeAddressError::BadQuoting),
            },
            other => content.push(other),
        }
    }
    Err(EnvelopeAddressError::BadQuoting)
}

/// Why `local` is not an RFC 6531 Dot-string (atoms of `atext` or non-ASCII, joined by single
/// dots); `None` when it is one.
fn dot_string_problem(local: &str) -> Option<&'static str> {
    if local.starts_with('.') {
        return Some("it starts with a dot");
    }
    if local.ends_with('.') {
        return Some("it ends with a dot");
    }
    if local.contains("..") {
        return Some("it contains two dots in a row");
    }
    let atext =
        |c: char| !c.is_ascii() || c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    (!local.chars().all(atext)).then_some("it contains a character that must be quoted")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(input: &str) -> Result<String, EnvelopeAddressError> {
        EnvelopeAddress::parse(input).map(|a| a.to_string())
    }

    #[test]
    fn utf8_mailboxes_keep_the_local_part_and_normalise_the_domain() {
        let cases = [
            ("用户@例子.中国", "用户@xn--fsqu00a.xn--fiqs8s"),
            (
                "Zoë.Martin@Bücher.example",
                "Zoë.Martin@xn--bcher-kva.example",
            ),
            ("Anna@EXAMPLE.test", "Anna@example.test"),
            ("\"john doe\"@example.org", "\"john doe\"@example.org"),
            ("\"a\\\"b\"@example.org", "\"a\\\"b\"@example.org"),
            ("\"a@b\"@example.org", "\"a@b\"@example.org"),
            // A needlessly quoted Dot-string is the same mailbox, rendered unquoted.
            ("\"john\"@example.org", "john@example.org"),
        ];
        for (input, expected) in cases {
            assert_eq!(parsed(input), Ok(expected.to_owned()), "input {input:?}");
        }
        let utf8 = EnvelopeAddress::parse("用户@例子.中国");
        assert_eq!(utf8.as_ref().map(EnvelopeAddress::local), Ok("用户"));
        assert_eq!(utf8.as_ref().map(EnvelopeAddress::needs_smtputf8), Ok(true));
    }

    #[test]
    fn the_rendering_reads_back_as_the_same_address() {
        for input in [
            "用户@例子.中国",
            "\"x y\\\\z\"@example.org",
            "A.b+c@example.org",
        ] {
            let address = EnvelopeAddress::parse(input);
            let again = address
                .as_ref()
                .map(|a| EnvelopeAddress::parse(&a.to_string()));
            assert_eq!(again, Ok(address.clone()), "input {input:?}");
        }
    }

    #[test]
    fn unquoted_command_text_is_requoted_when_needed() {
        let cases = [
            ("john doe@example.org", "\"john doe\"@example.org"),
            ("a\"b@example.org", "\"a\\\"b\"@example.org"),
            ("a@b@example.org", "\"a@b\"@example.org"),
            ("用户@例子.中国", "用户@xn--fsqu00a.xn--fiqs8s"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                EnvelopeAddress::from_unquoted(input).map(|a| a.to_string()),
                Ok(expected.to_owned()),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn what_rfc_6531_forbids_is_refused() {
        let sixty_five = format!("{}@example.org", "x".repeat(65));
        // 22 three-octet characters: 66 octets, though only 22 characters.
        let wide = format!("{}@example.org", "用".repeat(22));
        let long_domain = format!(
            "{}@{}.{}.{}.{}.org",
            "x".repeat(64),
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(50)
        );
        let cases: Vec<(&str, EnvelopeAddressError)> = vec![
            ("no-at-sign", EnvelopeAddressError::MissingAt),
            ("@example.org", EnvelopeAddressError::EmptyLocalPart),
            (
                "jo\u{7}hn@example.org",
                EnvelopeAddressError::ControlCharacter(7),
            ),
            (
                "jo\u{7f}hn@example.org",
                EnvelopeAddressError::ControlCharacter(0x7f),
            ),
            (
                "jo\u{85}hn@example.org",
                EnvelopeAddressError::ControlCharacter(0x85),
            ),
            ("a\u{fffd}b@example.org", EnvelopeAddressError::InvalidUtf8),
            ("\"john@example.org", EnvelopeAddressError::BadQuoting),
            ("\"jo\"hn@example.org", EnvelopeAddressError::BadQuoting),
            ("jo\"hn\"@example.org", EnvelopeAddressError::BadQuoting),
            (
                "\"a\\\u{e9}\"@example.org",
                EnvelopeAddressError::BadQuoting,
            ),
            (
                "john doe@example.org",
                EnvelopeAddressError::NotDotString("it contains a character that must be quoted"),
            ),
            (
                ".用户@example.org",
                EnvelopeAddressError::NotDotString("it starts with a dot"),
            ),
            (
                "用户.@example.org",
                EnvelopeAddressError::NotDotString("it ends with a dot"),
            ),
            (
                "a..b@example.org",
                EnvelopeAddressError::NotDotString("it contains two dots in a row"),
            ),
            (
                &sixty_five,
                EnvelopeAddressError::LocalPartTooLong { length: 65 },
            ),
            (&wide, EnvelopeAddressError::LocalPartTooLong { length: 66 }),
            (&long_domain, EnvelopeAddressError::TooLong),
        ];
        for (input, expected) in cases {
            assert_eq!(
                EnvelopeAddress::parse(input),
                Err(expected),
                "input {input:?}"
            );
        }
        for input in [
            "用户@localhost",
            "用户@[192.0.2.1]",
            "用户@exa_mple.org",
            "用户@",
        ] {
            assert!(
                matches!(
                    EnvelopeAddress::parse(input),
                    Err(EnvelopeAddressError::InvalidDomain { .. })
                ),
                "input {input:?}"
            );
        }
        assert_eq!(
            EnvelopeAddress::from_unquoted("tab\there@example.org"),
            Err(EnvelopeAddressError::ControlCharacter(9))
        );
    }

    #[test]
    fn only_ascii_dot_strings_become_hosted_addresses() {
        let hosted = |input: &str| {
            EnvelopeAddress::parse(input)
                .ok()
                .and_then(|a| a.to_address())
                .map(|a| a.to_string())
        };
        assert_eq!(
            hosted("John.Doe@Example.org").as_deref(),
            Some("john.doe@example.org")
        );
        assert_eq!(
            hosted("\"john\"@example.org").as_deref(),
            Some("john@example.org")
        );
        assert_eq!(hosted("用户@example.org"), None);
        assert_eq!(hosted("zoë@example.org"), None);
        assert_eq!(hosted("\"john doe\"@example.org"), None);
    }

    #[test]
    fn a_hosted_address_converts_without_change() {
        let address = Address::parse("user+tag@Bücher.example");
        let envelope = address.clone().map(EnvelopeAddress::from);
        assert_eq!(
            envelope.as_ref().map(ToString::to_string),
            Ok("user+tag@xn--bcher-kva.example".to_owned())
        );
        assert_eq!(envelope.ok().and_then(|e| e.to_address()), address.ok());
    }

    #[test]
    fn errors_read_as_sentences() {
        assert_eq!(
            EnvelopeAddress::parse("a\u{1}b@example.org").map_err(|e| e.to_string()),
            Err("the local part contains the control character U+0001".to_owned())
        );
        assert_eq!(
            EnvelopeAddress::parse("用户@exa_mple.org").map_err(|e| e.to_string()),
            Err(
                "\"exa_mple.org\" is not a valid domain name: it contains '_', and only \
                 letters, digits, hyphens and dots are allowed"
                    .to_owned()
            )
        );
    }
}
