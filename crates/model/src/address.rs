//! Email addresses as the platform accepts them: [`Domain`], [`LocalPart`] and [`Address`].
//!
//! Every value of these types is valid and in canonical form, so two addresses that name the
//! same mailbox compare equal and hash alike. Parsing is the only way in (constructors,
//! `FromStr` and serde all go through it), so the rest of the code base never re-validates.
//!
//! Policy for *hosted* addresses, stricter than RFC 5321 on purpose:
//! - the local part is a Dot-string (RFC 5321 §4.1.2) of ASCII `atext`; quoted strings and
//!   non-ASCII (SMTPUTF8) local parts are refused, because hosted addresses must work with
//!   every client and every remote server, so the API, the CLI and CSV import never create
//!   one. This is not a transport policy: the SMTP envelope carries any RFC 6531 mailbox —
//!   a remote recipient or a stranger's reverse-path with a non-ASCII or quoted local part —
//!   as an [`EnvelopeAddress`](crate::EnvelopeAddress), which converts to an [`Address`] only
//!   when its local part fits this policy; one that does not can name no hosted mailbox;
//! - local parts are case-insensitive and kept lowercase, like every large provider does;
//! - domains are stored as lowercase IDNA A-labels (RFC 5890/5891, UTS #46 mapping) and shown
//!   as U-labels with [`Domain::to_unicode`].

use std::fmt;
use std::str::FromStr;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use serde::{Deserialize, Serialize};

/// RFC 5321 §4.5.3.1.1: the maximum total length of a user name or other local-part is 64
/// octets.
pub const MAX_LOCAL_PART_LEN: usize = 64;

/// RFC 1035 §2.3.4 and RFC 5321 §4.5.3.1.2: 255 octets on the wire, which is 253 characters
/// in dotted text form without the trailing root dot.
pub const MAX_DOMAIN_LEN: usize = 253;

/// RFC 1035 §2.3.4: labels are 63 octets or less.
pub const MAX_LABEL_LEN: usize = 63;

/// RFC 5321 §4.5.3.1.3: a path is at most 256 octets including the angle brackets, which
/// leaves 254 for the address itself (RFC 3696 errata 1690 says the same).
pub const MAX_ADDRESS_LEN: usize = 254;

/// Why an address, local part or domain was refused.
///
/// The messages are shown verbatim to administrators by the CLI and the Manager, so each is one
/// sentence that names the input and says what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The part before the `@` breaks the Dot-string rules or the provider policy.
    #[error("\"{input}\" is not a valid local part: {reason}")]
    InvalidLocalPart {
        /// The text as it was given.
        input: String,
        /// What is wrong with it.
        reason: LocalPartProblem,
    },
    /// The part after the `@` is not a usable domain name.
    #[error("\"{input}\" is not a valid domain name: {reason}")]
    InvalidDomain {
        /// The text as it was given.
        input: String,
        /// What is wrong with it.
        reason: DomainProblem,
    },
    /// There is no `@` separating a local part from a domain.
    #[error("an email address needs an @ between the local part and the domain")]
    MissingAt,
    /// The whole address is longer than SMTP allows.
    #[error("an email address can be at most {MAX_ADDRESS_LEN} characters long")]
    TooLong,
}

/// What is wrong with a local part; part of [`AddressError::InvalidLocalPart`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalPartProblem {
    /// Nothing before the `@`.
    #[error("it is empty")]
    Empty,
    /// More than [`MAX_LOCAL_PART_LEN`] octets.
    #[error("it is {length} characters long, and at most {MAX_LOCAL_PART_LEN} are allowed")]
    TooLong {
        /// Length of the input in octets.
        length: usize,
    },
    /// Starts with a double quote: RFC 5321 Quoted-string, refused by policy.
    #[error("quoted local parts are not accepted")]
    QuotedString,
    /// A space, tab or other control character.
    #[error("it contains a space or a control character")]
    WhitespaceOrControl,
    /// A letter outside ASCII (an SMTPUTF8 local part), refused by policy.
    #[error("it contains '{0}', and only ASCII characters are accepted")]
    NonAscii(char),
    /// An ASCII character that is not `atext` (RFC 5322 §3.2.3), such as `@`, `(` or `,`.
    #[error("it contains '{0}', which is not allowed in an address")]
    ForbiddenCharacter(char),
    /// A dot at the start.
    #[error("it starts with a dot")]
    LeadingDot,
    /// A dot at the end.
    #[error("it ends with a dot")]
    TrailingDot,
    /// Two dots in a row.
    #[error("it contains two dots in a row")]
    ConsecutiveDots,
}

/// What is wrong with a domain name; part of [`AddressError::InvalidDomain`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainProblem {
    /// Nothing after the `@`.
    #[error("it is empty")]
    Empty,
    /// Ends with the root dot, which addresses never carry (RFC 5321 §4.1.2 `Domain`).
    #[error("it ends with a dot")]
    TrailingDot,
    /// A space, tab or other control character.
    #[error("it contains a space or a control character")]
    WhitespaceOrControl,
    /// UTS #46 / IDNA2008 processing refused the name (bad punycode, disallowed code point).
    #[error("it is not a valid internationalised domain name")]
    Idna,
    /// Two dots in a row, or a dot at the start.
    #[error("it has an empty label")]
    EmptyLabel,
    /// A label longer than [`MAX_LABEL_LEN`] octets once converted to ASCII.
    #[error("it has a label longer than {MAX_LABEL_LEN} characters")]
    LabelTooLong,
    /// A character other than a letter, a digit or a hyphen.
    #[error("it contains '{0}', and only letters, digits, hyphens and dots are allowed")]
    ForbiddenCharacter(char),
    /// A label that starts or ends with a hyphen (RFC 952, RFC 1123 §2.1 LDH rule).
    #[error("it has a label that starts or ends with a hyphen")]
    HyphenAtLabelEdge,
    /// A single label such as `localhost`.
    #[error("it needs at least two labels, like example.com")]
    SingleLabel,
    /// An all-numeric top-level label, which would be read as an IP address.
    #[error("its last label is all digits")]
    NumericTopLevel,
    /// More than [`MAX_DOMAIN_LEN`] octets once converted to ASCII.
    #[error(
        "it is {length} characters long in ASCII form, and at most {MAX_DOMAIN_LEN} are allowed"
    )]
    TooLong {
        /// Length of the A-label form in octets.
        length: usize,
    },
}

/// A domain name that can receive mail here or elsewhere, in canonical form.
///
/// Invariant: lowercase ASCII IDNA A-labels, each 1..=63 LDH characters without a hyphen at
/// either end, at least two labels, no trailing dot, at most 253 characters. Unicode input is
/// converted, so `bücher.example` and `xn--bcher-kva.example` are the same `Domain`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Domain(String);

impl Domain {
    /// Parses and normalises a domain given in Unicode or in ASCII of any case.
    pub fn parse(input: &str) -> Result<Domain, AddressError> {
        let invalid = |reason| AddressError::InvalidDomain {
            input: input.to_owned(),
            reason,
        };
        if input.is_empty() {
            return Err(invalid(DomainProblem::Empty));
        }
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(DomainProblem::WhitespaceOrControl));
        }
        if input.ends_with('.') {
            return Err(invalid(DomainProblem::TrailingDot));
        }
        // Check the ASCII structure first so that plain typing mistakes get a precise reason
        // rather than the generic IDNA one.
        if input.is_ascii() {
            check_ldh_structure(&input.to_ascii_lowercase()).map_err(invalid)?;
        }
        // RFC 5891 §5 via UTS #46 §4: map (lowercase, NFC), then convert each U-label to an
        // A-label; existing `xn--` labels are decoded and validated too. Hyphen and length
        // rules are checked below with our own, clearer reasons.
        let ascii = Uts46::new()
            .to_ascii(
                input.as_bytes(),
                AsciiDenyList::EMPTY,
                Hyphens::Allow,
                DnsLength::Ignore,
            )
            .map_err(|_| invalid(DomainProblem::Idna))?;
        check_ldh_structure(&ascii).map_err(invalid)?;
        Ok(Domain(ascii.into_owned()))
    }

    /// The canonical A-label form, as used in SMTP, DNS and storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The U-label form for display to people (`xn--bcher-kva.example` → `bücher.example`).
    ///
    /// Falls back to the A-label form should a label not decode, which cannot happen for a
    /// value built by [`Domain::parse`].
    pub fn to_unicode(&self) -> String {
        let (unicode, result) = idna::domain_to_unicode(&self.0);
        match result {
            Ok(()) => unicode,
            Err(_) => self.0.clone(),
        }
    }

    /// True when `self` is `other` or one of its subdomains (`mx.example.com` is within
    /// `example.com`; `badexample.com` is not).
    pub fn is_within(&self, other: &Domain) -> bool {
        match self.0.strip_suffix(other.as_str()) {
            Some("") => true,
            Some(prefix) => prefix.ends_with('.'),
            None => false,
        }
    }
}

/// Checks the LDH rules (RFC 1123 §2.1, RFC 5890 §2.3.1) on a lowercase ASCII name.
fn check_ldh_structure(name: &str) -> Result<(), DomainProblem> {
    let labels: Vec<&str> = name.split('.').collect();
    for label in &labels {
        if label.is_empty() {
            return Err(DomainProblem::EmptyLabel);
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(DomainProblem::ForbiddenCharacter(bad));
        }
        // RFC 1035 §2.3.4: labels are 63 octets or less.
        if label.len() > MAX_LABEL_LEN {
            return Err(DomainProblem::LabelTooLong);
        }
        // RFC 1123 §2.1: a label starts and ends with a letter or a digit.
        if label.starts_with('-') || label.ends_with('-') {
            return Err(DomainProblem::HyphenAtLabelEdge);
        }
    }
    // Provider policy: a mail domain has a registrable name, so `localhost` and bare TLDs are
    // refused.
    if labels.len() < 2 {
        return Err(DomainProblem::SingleLabel);
    }
    // RFC 3696 §2: a top-level domain is never all-numeric, so `1.2.3.4` is an IP address, not
    // a domain. Address literals (`[192.0.2.1]`) are refused earlier as forbidden characters.
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(DomainProblem::NumericTopLevel);
    }
    if name.len() > MAX_DOMAIN_LEN {
        return Err(DomainProblem::TooLong { length: name.len() });
    }
    Ok(())
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Domain {
    type Err = AddressError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Domain::parse(input)
    }
}

impl TryFrom<String> for Domain {
    type Error = AddressError;

    fn try_from(input: String) -> Result<Self, Self::Error> {
        Domain::parse(&input)
    }
}

impl From<Domain> for String {
    fn from(domain: Domain) -> String {
        domain.0
    }
}

/// The part of an address before the `@`, in canonical (lowercase) form.
///
/// Invariant: an RFC 5321 §4.1.2 `Dot-string` of 1..=64 ASCII octets: `atext` characters
/// (RFC 5322 §3.2.3) in runs separated by single dots, no dot at either end, lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LocalPart(String);

impl LocalPart {
    /// Parses a local part and lowercases it.
    ///
    /// Deliberate deviation: RFC 5321 §2.4 lets a server treat local parts as case-sensitive;
    /// we treat them case-insensitively so `John.Doe` and `john.doe` are one mailbox.
    pub fn parse(input: &str) -> Result<LocalPart, AddressError> {
        let invalid = |reason| AddressError::InvalidLocalPart {
            input: input.to_owned(),
            reason,
        };
        if input.is_empty() {
            return Err(invalid(LocalPartProblem::Empty));
        }
        // Quoted-string (RFC 5321 §4.1.2) is valid SMTP but refused by policy: such addresses
        // break in too many clients and remote servers to be worth hosting.
        if input.starts_with('"') {
            return Err(invalid(LocalPartProblem::QuotedString));
        }
        if let Some(bad) = input.chars().find(|c| !c.is_ascii()) {
            return Err(invalid(LocalPartProblem::NonAscii(bad)));
        }
        if input
            .chars()
            .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
        {
            return Err(invalid(LocalPartProblem::WhitespaceOrControl));
        }
        // RFC 5321 §4.5.3.1.1: at most 64 octets.
        if input.len() > MAX_LOCAL_PART_LEN {
            return Err(invalid(LocalPartProblem::TooLong {
                length: input.len(),
            }));
        }
        // RFC 5321 §4.1.2: Dot-string = Atom *("." Atom); Atom = 1*atext.
        if let Some(bad) = input.chars().find(|c| *c != '.' && !is_atext(*c)) {
            return Err(invalid(LocalPartProblem::ForbiddenCharacter(bad)));
        }
        if input.starts_with('.') {
            return Err(invalid(LocalPartProblem::LeadingDot));
        }
        if input.ends_with('.') {
            return Err(invalid(LocalPartProblem::TrailingDot));
        }
        if input.contains("..") {
            return Err(invalid(LocalPartProblem::ConsecutiveDots));
        }
        Ok(LocalPart(input.to_ascii_lowercase()))
    }

    /// The canonical lowercase form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// RFC 5322 §3.2.3: `atext = ALPHA / DIGIT / "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
/// "-" / "/" / "=" / "?" / "^" / "_" / "`" / "{" / "|" / "}" / "~"`.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

impl fmt::Display for LocalPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for LocalPart {
    type Err = AddressError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        LocalPart::parse(input)
    }
}

impl TryFrom<String> for LocalPart {
    type Error = AddressError;

    fn try_from(input: String) -> Result<Self, Self::Error> {
        LocalPart::parse(&input)
    }
}

impl From<LocalPart> for String {
    fn from(local: LocalPart) -> String {
        local.0
    }
}

/// An email address in canonical form: `local@domain`, at most 254 characters.
///
/// Used for hosted addresses, account logins, redirection targets, recovery addresses and
/// senders alike; equality is mailbox identity under the provider policy of this module.
/// `Debug` shows the address as one string, `Address("a@example.com")`, to keep logs legible.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Address {
    local: LocalPart,
    domain: Domain,
}

impl Address {
    /// Parses `local@domain`, splitting at the last `@` (RFC 5321 §4.1.2: the domain never
    /// contains one, so the last `@` is the separator even in odd inputs).
    pub fn parse(input: &str) -> Result<Address, AddressError> {
        let (local, domain) = input.rsplit_once('@').ok_or(AddressError::MissingAt)?;
        let local = LocalPart::parse(local)?;
        let domain = Domain::parse(domain)?;
        Address::new(local, domain)
    }

    /// Joins a local part and a domain, checking the total length.
    pub fn new(local: LocalPart, domain: Domain) -> Result<Address, AddressError> {
        // RFC 5321 §4.5.3.1.3: path of 256 octets including "<" and ">".
        if local.as_str().len() + 1 + domain.as_str().len() > MAX_ADDRESS_LEN {
            return Err(AddressError::TooLong);
        }
        Ok(Address { local, domain })
    }

    /// The part before the `@`.
    pub fn local(&self) -> &LocalPart {
        &self.local
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// The address with its domain in U-label form, for display to people.
    pub fn to_unicode(&self) -> String {
        format!("{}@{}", self.local, self.domain.to_unicode())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Address").field(&self.to_string()).finish()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Address::parse(input)
    }
}

impl TryFrom<String> for Address {
    type Error = AddressError;

    fn try_from(input: String) -> Result<Self, Self::Error> {
        Address::parse(&input)
    }
}

impl From<Address> for String {
    fn from(address: Address) -> String {
        address.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local_problem(input: &str) -> Option<LocalPartProblem> {
        match LocalPart::parse(input) {
            Err(AddressError::InvalidLocalPart { reason, .. }) => Some(reason),
            _ => None,
        }
    }

    fn domain_problem(input: &str) -> Option<DomainProblem> {
        match Domain::parse(input) {
            Err(AddressError::InvalidDomain { reason, .. }) => Some(reason),
            _ => None,
        }
    }

    #[test]
    fn domains_are_normalised_to_lowercase_a_labels() {
        let cases = [
            ("example.com", "example.com"),
            ("EXAMPLE.Com", "example.com"),
            ("mail.sub.example.org", "mail.sub.example.org"),
            ("a-b.example", "a-b.example"),
            ("1example.com", "1example.com"),
            ("x.y", "x.y"),
            ("Dömain.example", "xn--dmain-jua.example"),
            ("bücher.example", "xn--bcher-kva.example"),
            ("BÜCHER.example", "xn--bcher-kva.example"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
            ("XN--BCHER-KVA.EXAMPLE", "xn--bcher-kva.example"),
            ("münchen.de", "xn--mnchen-3ya.de"),
            ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
            ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
            // UTS #46 maps the ideographic full stop to a dot.
            ("bücher。example", "xn--bcher-kva.example"),
            ("straße.de", "xn--strae-oqa.de"),
        ];
        for (input, expected) in cases {
            let domain = Domain::parse(input);
            assert_eq!(
                domain.as_ref().map(Domain::as_str),
                Ok(expected),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn invalid_domains_are_refused_with_the_reason() {
        let long_label = "a".repeat(64);
        let max_label = "a".repeat(63);
        let too_long = format!("{max_label}.{max_label}.{max_label}.{}.com", "b".repeat(58));
        let cases: Vec<(&str, DomainProblem)> = vec![
            ("", DomainProblem::Empty),
            ("example.com.", DomainProblem::TrailingDot),
            ("exa mple.com", DomainProblem::WhitespaceOrControl),
            ("example.com\n", DomainProblem::WhitespaceOrControl),
            ("exa\tmple.com", DomainProblem::WhitespaceOrControl),
            (".example.com", DomainProblem::EmptyLabel),
            ("example..com", DomainProblem::EmptyLabel),
            ("exa_mple.com", DomainProblem::ForbiddenCharacter('_')),
            ("example.com:25", DomainProblem::ForbiddenCharacter(':')),
            ("[192.0.2.1]", DomainProblem::ForbiddenCharacter('[')),
            ("ex@mple.com", DomainProblem::ForbiddenCharacter('@')),
            ("-example.com", DomainProblem::HyphenAtLabelEdge),
            ("example-.com", DomainProblem::HyphenAtLabelEdge),
            ("example.-com", DomainProblem::HyphenAtLabelEdge),
            ("localhost", DomainProblem::SingleLabel),
            ("com", DomainProblem::SingleLabel),
            ("münchen", DomainProblem::SingleLabel),
            ("192.0.2.1", DomainProblem::NumericTopLevel),
            ("example.123", DomainProblem::NumericTopLevel),
            (&long_label, DomainProblem::LabelTooLong),
            ("xn--zz.example", DomainProblem::Idna),
            ("xn--.example", DomainProblem::HyphenAtLabelEdge),
            ("xn--a.example", DomainProblem::Idna),
            ("xn--bcher-kva-.example", DomainProblem::HyphenAtLabelEdge),
            // UTS #46 maps a zero-width space to nothing, leaving an empty label.
            ("\u{200b}.example", DomainProblem::EmptyLabel),
            // An unassigned code point is disallowed.
            ("\u{378}x.example", DomainProblem::Idna),
            ("a\u{fffd}.example", DomainProblem::Idna),
        ];
        for (input, expected) in cases {
            assert_eq!(domain_problem(input), Some(expected), "input {input:?}");
        }
        let labelled = format!("{long_label}.com");
        assert_eq!(domain_problem(&labelled), Some(DomainProblem::LabelTooLong));
        assert_eq!(too_long.len(), 254);
        assert_eq!(
            domain_problem(&too_long),
            Some(DomainProblem::TooLong { length: 254 })
        );
    }

    #[test]
    fn domain_length_limits_apply_to_the_a_label_form() {
        let max_label = "a".repeat(63);
        let exactly_253 = format!("{max_label}.{max_label}.{max_label}.{}.com", "b".repeat(57));
        assert_eq!(exactly_253.len(), 253);
        assert!(Domain::parse(&exactly_253).is_ok());
        // 60 "ü" fit in 63 characters as Unicode but not once encoded as an A-label.
        let unicode_label = format!("{}.example", "ü".repeat(60));
        assert_eq!(
            domain_problem(&unicode_label),
            Some(DomainProblem::LabelTooLong)
        );
        let label_63 = format!("{max_label}.example");
        assert!(Domain::parse(&label_63).is_ok());
    }

    #[test]
    fn domains_display_in_unicode_for_people() {
        let cases = [
            ("xn--bcher-kva.example", "bücher.example"),
            ("Dömain.example", "dömain.example"),
            ("example.com", "example.com"),
        ];
        for (input, expected) in cases {
            let domain = Domain::parse(input);
            assert_eq!(
                domain.map(|d| d.to_unicode()),
                Ok(expected.to_owned()),
                "input {input}"
            );
        }
    }

    #[test]
    fn domain_is_within_itself_and_its_parents_only() {
        let parse = |text: &str| Domain::parse(text).ok();
        let cases = [
            ("example.com", "example.com", true),
            ("mx.example.com", "example.com", true),
            ("a.b.example.com", "example.com", true),
            ("badexample.com", "example.com", false),
            ("example.com", "mx.example.com", false),
            ("example.org", "example.com", false),
        ];
        for (inner, outer, expected) in cases {
            let (Some(inner), Some(outer)) = (parse(inner), parse(outer)) else {
                panic!("test domains must parse");
            };
            assert_eq!(inner.is_within(&outer), expected, "{inner} within {outer}");
        }
    }

    #[test]
    fn local_parts_accept_every_atext_character_and_lowercase() {
        let cases = [
            ("john", "john"),
            ("John.Doe", "john.doe"),
            ("JOHN", "john"),
            ("a", "a"),
            ("1", "1"),
            ("first.middle.last", "first.middle.last"),
            ("user+tag", "user+tag"),
            ("o'brien", "o'brien"),
            ("!#$%&'*+-/=?^_`{|}~", "!#$%&'*+-/=?^_`{|}~"),
            ("a-b_c", "a-b_c"),
        ];
        for (input, expected) in cases {
            let local = LocalPart::parse(input);
            assert_eq!(
                local.as_ref().map(LocalPart::as_str),
                Ok(expected),
                "input {input:?}"
            );
        }
        let sixty_four = "x".repeat(64);
        assert_eq!(
            LocalPart::parse(&sixty_four).map(String::from),
            Ok(sixty_four.clone())
        );
    }

    #[test]
    fn local_parts_outside_the_dot_string_policy_are_refused() {
        let sixty_five = "x".repeat(65);
        let cases: Vec<(&str, LocalPartProblem)> = vec![
            ("", LocalPartProblem::Empty),
            (&sixty_five, LocalPartProblem::TooLong { length: 65 }),
            ("\"john doe\"", LocalPartProblem::QuotedString),
            ("\"john\"", LocalPartProblem::QuotedString),
            ("jöhn", LocalPartProblem::NonAscii('ö')),
            ("用户", LocalPartProblem::NonAscii('用')),
            ("john doe", LocalPartProblem::WhitespaceOrControl),
            (" john", LocalPartProblem::WhitespaceOrControl),
            ("john\t", LocalPartProblem::WhitespaceOrControl),
            ("jo\u{0}hn", LocalPartProblem::WhitespaceOrControl),
            ("jo\rhn", LocalPartProblem::WhitespaceOrControl),
            ("jo\u{7f}hn", LocalPartProblem::WhitespaceOrControl),
            ("john@doe", LocalPartProblem::ForbiddenCharacter('@')),
            ("john(comment)", LocalPartProblem::ForbiddenCharacter('(')),
            ("a,b", LocalPartProblem::ForbiddenCharacter(',')),
            ("a;b", LocalPartProblem::ForbiddenCharacter(';')),
            ("a\\b", LocalPartProblem::ForbiddenCharacter('\\')),
            ("a\"b", LocalPartProblem::ForbiddenCharacter('"')),
            ("<john>", LocalPartProblem::ForbiddenCharacter('<')),
            ("a[b]", LocalPartProblem::ForbiddenCharacter('[')),
            ("a:b", LocalPartProblem::ForbiddenCharacter(':')),
            (".john", LocalPartProblem::LeadingDot),
            (".", LocalPartProblem::LeadingDot),
            ("john.", LocalPartProblem::TrailingDot),
            ("john..doe", LocalPartProblem::ConsecutiveDots),
        ];
        for (input, expected) in cases {
            assert_eq!(local_problem(input), Some(expected), "input {input:?}");
        }
    }

    #[test]
    fn addresses_split_at_the_last_at_and_normalise_both_parts() {
        let cases = [
            ("Local@Dömain.example", "local@xn--dmain-jua.example"),
            ("John.Doe@EXAMPLE.com", "john.doe@example.com"),
            ("user+tag@mail.example.org", "user+tag@mail.example.org"),
            ("a@b.co", "a@b.co"),
        ];
        for (input, expected) in cases {
            let address = Address::parse(input).map(|a| a.to_string());
            assert_eq!(address, Ok(expected.to_owned()), "input {input:?}");
        }
        let address = Address::parse("Local@Dömain.example");
        assert_eq!(address.as_ref().map(|a| a.local().as_str()), Ok("local"));
        assert_eq!(
            address.as_ref().map(|a| a.domain().as_str()),
            Ok("xn--dmain-jua.example")
        );
        assert_eq!(
            address.map(|a| a.to_unicode()),
            Ok("local@dömain.example".to_owned())
        );
        // Splitting at the last "@" puts the first one in the local part, where it is refused.
        assert!(matches!(
            Address::parse("a@b@example.com"),
            Err(AddressError::InvalidLocalPart {
                reason: LocalPartProblem::ForbiddenCharacter('@'),
                ..
            })
        ));
    }

    #[test]
    fn malformed_addresses_are_refused() {
        assert_eq!(
            Address::parse("john.example.com"),
            Err(AddressError::MissingAt)
        );
        assert_eq!(Address::parse(""), Err(AddressError::MissingAt));
        let cases = [
            "@example.com",
            "\"j d\"@example.com",
            "jöhn@example.com",
            "john @x.com",
        ];
        for input in cases {
            assert!(
                matches!(
                    Address::parse(input),
                    Err(AddressError::InvalidLocalPart { .. })
                ),
                "input {input:?}"
            );
        }
        let cases = [
            "john@",
            "john@localhost",
            "john@[192.0.2.1]",
            "john@example.com.",
        ];
        for input in cases {
            assert!(
                matches!(
                    Address::parse(input),
                    Err(AddressError::InvalidDomain { .. })
                ),
                "input {input:?}"
            );
        }
        assert!(matches!(
            Address::parse("<john@example.com>"),
            Err(AddressError::InvalidLocalPart { .. })
        ));
    }

    #[test]
    fn addresses_are_at_most_254_characters() {
        let local = "l".repeat(64);
        let max_label = "a".repeat(63);
        // 64 + 1 + 189 = 254.
        let domain_189 = format!("{max_label}.{max_label}.{}.com", "b".repeat(57));
        assert_eq!(domain_189.len(), 189);
        let at_limit = format!("{local}@{domain_189}");
        assert_eq!(at_limit.len(), 254);
        assert_eq!(
            Address::parse(&at_limit).map(|a| a.to_string().len()),
            Ok(254)
        );
        let domain_190 = format!("{max_label}.{max_label}.{}.com", "b".repeat(58));
        let over = format!("{local}@{domain_190}");
        assert_eq!(Address::parse(&over), Err(AddressError::TooLong));
    }

    #[test]
    fn address_new_checks_the_total_length() {
        let local = LocalPart::parse(&"l".repeat(64));
        let max_label = "a".repeat(63);
        let domain = Domain::parse(&format!("{max_label}.{max_label}.{max_label}.com"));
        let (Ok(local), Ok(domain)) = (local, domain) else {
            panic!("test parts must parse");
        };
        assert_eq!(Address::new(local, domain), Err(AddressError::TooLong));
    }

    #[test]
    fn equal_mailboxes_compare_equal_whatever_the_spelling() {
        let spellings = ["Toto@Abc.Xyz", "toto@abc.xyz", "TOTO@ABC.XYZ"];
        let parsed: Vec<_> = spellings.iter().map(|s| Address::parse(s)).collect();
        assert!(
            parsed.windows(2).all(|pair| pair[0] == pair[1]),
            "{parsed:?}"
        );
        assert_eq!(
            Address::parse("x@bücher.example"),
            Address::parse("X@xn--bcher-kva.EXAMPLE")
        );
    }

    #[test]
    fn debug_shows_an_address_as_one_string() {
        let address = Address::parse("John@Example.com").map(|a| format!("{a:?}"));
        assert_eq!(address, Ok("Address(\"john@example.com\")".to_owned()));
    }

    #[test]
    fn display_and_from_str_round_trip() {
        for input in [
            "a@example.com",
            "first.last+tag@xn--bcher-kva.example",
            "x@y.z",
        ] {
            let address: Result<Address, _> = input.parse();
            let again = address.as_ref().map(|a| a.to_string().parse::<Address>());
            assert_eq!(again, Ok(address.clone()), "input {input}");
            assert_eq!(address.map(|a| a.to_string()), Ok(input.to_owned()));
        }
        assert_eq!(
            "Example.COM".parse::<Domain>().map(String::from),
            Ok("example.com".into())
        );
        assert_eq!(
            "ABC".parse::<LocalPart>().map(String::from),
            Ok("abc".into())
        );
    }

    #[test]
    fn serde_uses_the_canonical_string_and_validates_on_the_way_in() {
        let address = Address::parse("John@Bücher.example");
        let json = address
            .as_ref()
            .ok()
            .and_then(|a| serde_json::to_string(a).ok());
        assert_eq!(json.as_deref(), Some("\"john@xn--bcher-kva.example\""));
        let back: Result<Address, _> = serde_json::from_str("\"JOHN@bücher.example\"");
        assert_eq!(back.ok(), address.ok());
        assert!(serde_json::from_str::<Address>("\"no-at-sign\"").is_err());
        assert!(serde_json::from_str::<Domain>("\"bad_domain.com\"").is_err());
        assert!(serde_json::from_str::<LocalPart>("\"a..b\"").is_err());
        let domain: Result<Domain, _> = serde_json::from_str("\"EXAMPLE.org\"");
        assert_eq!(
            domain.map(String::from).ok().as_deref(),
            Some("example.org")
        );
    }

    #[test]
    fn error_messages_name_the_input_and_the_problem() {
        let cases = [
            (
                Address::parse("john..doe@example.com"),
                "\"john..doe\" is not a valid local part: it contains two dots in a row",
            ),
            (
                Address::parse("john@exa_mple.com"),
                "\"exa_mple.com\" is not a valid domain name: it contains '_', and only letters, \
                 digits, hyphens and dots are allowed",
            ),
            (
                Address::parse("john"),
                "an email address needs an @ between the local part and the domain",
            ),
            (
                Address::parse("\"a b\"@example.com"),
                "\"\"a b\"\" is not a valid local part: quoted local parts are not accepted",
            ),
        ];
        for (result, expected) in cases {
            assert_eq!(result.map_err(|e| e.to_string()), Err(expected.to_owned()));
        }
        assert_eq!(
            AddressError::TooLong.to_string(),
            "an email address can be at most 254 characters long"
        );
    }
}
