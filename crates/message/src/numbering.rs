//! IMAP part numbers (RFC 9051 §6.4.5): the one rule that both the `path` of every
//! [`BodyStructure`] node and section lookup ([`BodyStructure::part`]) follow.
//!
//! The numbers are not built while the tree is read from `mail-parser` but given afterwards, from
//! the finished tree's shape, by the same two decisions lookup makes ([`slot`] and [`inside`]).
//! So a part BODYSTRUCTURE lists is always found by its number, whatever shape a malformed
//! message gave the tree (an encapsulated message whose body is itself message/rfc822, a
//! multipart without a usable boundary read as text, ...).

use crate::body::BodyStructure;

/// Where a node stands, which decides what the numbers directly below it name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// The root body of a message: the top-level one or one inside a message/rfc822 part.
    MessageRoot,
    /// A part of a multipart.
    InMultipart,
}

/// What a number names directly below a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// The multipart's part at this index (0-based).
    Part(usize),
    /// The node itself: the non-multipart root body of a message is that message's part 1.
    Itself,
}

/// Where the numbers continue below a numbered part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inside {
    /// In the multipart's own parts.
    Parts,
    /// In the message a message/rfc822 part encapsulates, whose number is the part's number.
    Message,
}

/// What `number` (1-based) names directly below `node` standing at `place`, if anything.
///
/// RFC 9051 §6.4.5: the parts of a multipart are numbered from 1; "non-[MIME-IMB] messages,
/// and non-multipart [MIME-IMB] messages with no encapsulated message, only have a part 1".
pub(crate) fn slot(node: &BodyStructure, place: Place, number: u32) -> Option<Slot> {
    let index = usize::try_from(number.checked_sub(1)?).ok()?;
    match node {
        BodyStructure::Multipart { parts, .. } => {
            (index < parts.len()).then_some(Slot::Part(index))
        }
        BodyStructure::Single { .. } => {
            (place == Place::MessageRoot && index == 0).then_some(Slot::Itself)
        }
    }
}

/// Where the numbers continue below the numbered part `part` (RFC 9051 §6.4.5: a multipart's
/// parts follow its number, and so do the parts of a message/rfc822 part's message).
pub(crate) fn inside(part: &BodyStructure) -> Option<Inside> {
    match part {
        BodyStructure::Multipart { .. } => Some(Inside::Parts),
        BodyStructure::Single {
            message: Some(_), ..
        } => Some(Inside::Message),
        BodyStructure::Single { .. } => None,
    }
}

/// Gives every node of the message body `root` its `path` (see [`BodyStructure`]): the root
/// body carries the message's number (`""` at the top level), every numbered part its number.
pub(crate) fn assign(root: &mut BodyStructure) {
    number_message(root, "");
}

/// Numbers the root body `root` of the message numbered `number`, and everything below it.
fn number_message(root: &mut BodyStructure, number: &str) {
    set_path(root, number);
    number_below(root, Place::MessageRoot, number);
}

/// Numbers the parts directly below `node` (at `place`, numbered `number`) and their insides.
fn number_below(node: &mut BodyStructure, place: Place, number: &str) {
    let mut n = 1;
    while let Some(slot) = slot(node, place, n) {
        let child_number = child_path(number, n);
        match slot {
            // The root body keeps the message's number (the type's convention); what it holds
            // is numbered under its part number, `number.1`.
            Slot::Itself => number_inside(node, &child_number),
            Slot::Part(index) => {
                if let BodyStructure::Multipart { parts, .. } = node
                    && let Some(part) = parts.get_mut(index)
                {
                    set_path(part, &child_number);
                    number_inside(part, &child_number);
                }
            }
        }
        n += 1;
    }
}

/// Numbers what lies inside the part `part`, numbered `number`.
fn number_inside(part: &mut BodyStructure, number: &str) {
    match inside(part) {
        Some(Inside::Parts) => number_below(part, Place::InMultipart, number),
        Some(Inside::Message) => {
            if let BodyStructure::Single {
                message: Some(inner),
                ..
            } = part
            {
                number_message(&mut inner.1, number);
            }
        }
        None => {}
    }
}

fn set_path(node: &mut BodyStructure, number: &str) {
    match node {
        BodyStructure::Single { path, .. } | BodyStructure::Multipart { path, .. } => {
            number.clone_into(path);
        }
    }
}

/// The number of the `index`-th (1-based) part below the part numbered `number`.
fn child_path(number: &str, index: u32) -> String {
    if number.is_empty() {
        index.to_string()
    } else {
        format!("{number}.{index}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_paths_number_from_one() {
        let cases = [
            ("", 1, "1"),
            ("", 12, "12"),
            ("1", 2, "1.2"),
            ("3.1", 4, "3.1.4"),
        ];
        for (number, index, expected) in cases {
            assert_eq!(child_path(number, index), expected);
        }
    }
}
