//! The address fields of the compose form: comma-separated lists as a person types them
//! (`Ann <ann@example.com>, bob@example.org, "Doe, Jane" <jane@example.net>`), parsed into
//! names and addresses (RFC 5322 §3.4, the forms people actually write).

use postwerk_model::Address;

use crate::CoreError;

/// One address of a field, with the display name typed before it, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct NamedAddress {
    pub name: Option<String>,
    pub address: Address,
}

impl NamedAddress {
    /// As shown in a form field: `Name <a@b>`, or the bare address.
    pub fn display(&self) -> String {
        match &self.name {
            Some(name) if needs_quotes(name) => format!("\"{}\" <{}>", name, self.address),
            Some(name) => format!("{name} <{}>", self.address),
            None => self.address.to_string(),
        }
    }
}

/// A name with a character that would split or end the entry is quoted when shown.
fn needs_quotes(name: &str) -> bool {
    name.contains([',', '<', '>', '"', ';', '@'])
}

/// Every address of a typed field, in order; empty entries (`a@b, , c@d,`) are skipped. A
/// malformed entry is refused with a sentence naming it.
pub(super) fn parse_list(field: &str) -> Result<Vec<NamedAddress>, CoreError> {
    split_entries(field)
        .into_iter()
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(parse_entry)
        .collect()
}

/// One entry: `Name <a@b>`, `"Name" <a@b>`, `<a@b>` or `a@b`.
pub(super) fn parse_entry(entry: &str) -> Result<NamedAddress, CoreError> {
    let malformed = || {
        CoreError::Invalid(format!(
            "\"{entry}\" is not an email address; write it as name@example.com or \
             Name <name@example.com>."
        ))
    };
    let entry = entry.trim();
    let (name, address) = match entry.rfind('<') {
        Some(open) => {
            let rest = entry[open + 1..].trim_end();
            let address = rest.strip_suffix('>').ok_or_else(malformed)?;
            let name = entry[..open].trim().trim_matches('"').trim();
            ((!name.is_empty()).then(|| name.to_owned()), address.trim())
        }
        None => (None, entry),
    };
    let address = Address::parse(address).map_err(|_| malformed())?;
    Ok(NamedAddress { name, address })
}

/// Cuts a field at the commas (and semicolons, which Outlook users type) that are outside
/// quotes and angle brackets.
fn split_entries(field: &str) -> Vec<&str> {
    let mut entries = Vec::new();
    let (mut quoted, mut bracketed, mut start) = (false, false, 0);
    for (at, c) in field.char_indices() {
        match c {
            '"' if !bracketed => quoted = !quoted,
            '<' if !quoted => bracketed = true,
            '>' if !quoted => bracketed = false,
            ',' | ';' if !quoted && !bracketed => {
                entries.push(&field[start..at]);
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    entries.push(&field[start..]);
    entries
}

/// `list` without the addresses of `exclude` and without repeats, in order.
pub(super) fn without(list: Vec<NamedAddress>, exclude: &[Address]) -> Vec<NamedAddress> {
    let mut kept: Vec<NamedAddress> = Vec::new();
    for entry in list {
        let repeated = kept.iter().any(|k| k.address == entry.address);
        if !repeated && !exclude.contains(&entry.address) {
            kept.push(entry);
        }
    }
    kept
}

/// A list as a form field shows it.
pub(super) fn display_list(list: &[NamedAddress]) -> String {
    list.iter()
        .map(NamedAddress::display)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(field: &str) -> Vec<(Option<String>, String)> {
        parse_list(field)
            .unwrap_or_default()
            .into_iter()
            .map(|n| (n.name, n.address.to_string()))
            .collect()
    }

    #[test]
    fn typed_lists_give_names_and_addresses() {
        assert_eq!(
            addresses("Ann <ann@example.com>, bob@example.org; \"Doe, Jane\" <jane@example.net>,"),
            vec![
                (Some("Ann".into()), "ann@example.com".into()),
                (None, "bob@example.org".into()),
                (Some("Doe, Jane".into()), "jane@example.net".into()),
            ]
        );
        assert_eq!(
            addresses("  <x@example.com> "),
            vec![(None, "x@example.com".into())]
        );
        assert!(addresses(" , ").is_empty());
    }

    #[test]
    fn a_malformed_entry_is_named_in_the_refusal() {
        for bad in ["bob@", "Ann <ann@example.com", "just words", "a@b@c"] {
            let field = format!("ok@example.com, {bad}");
            match parse_list(&field) {
                Err(CoreError::Invalid(sentence)) => assert!(sentence.contains(bad), "{sentence}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn names_with_commas_are_quoted_when_shown_again() {
        let list = parse_list("\"Doe, Jane\" <jane@example.net>, Ann <ann@example.com>")
            .unwrap_or_default();
        assert_eq!(
            display_list(&list),
            "\"Doe, Jane\" <jane@example.net>, Ann <ann@example.com>"
        );
        assert_eq!(parse_list(&display_list(&list)).ok(), Some(list));
    }
}
