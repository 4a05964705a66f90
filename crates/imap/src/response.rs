//! Status responses (RFC 9051 §7.1): `OK`, `NO`, `BAD` tagged or untagged, `PREAUTH` and `BYE`,
//! with an optional response code. Data responses are written by the ops straight into the
//! output buffer; this is the one place for the lines that end a command.

use std::borrow::Cow;

use postwerk_net::Wire;

/// The condition of a status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Condition {
    /// Success.
    Ok,
    /// Operational error: the command was valid but failed.
    No,
    /// Protocol error: the command was not understood or not allowed.
    Bad,
    /// The server is closing the connection.
    Bye,
}

/// A status response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Status {
    /// The command's tag; `None` for an untagged (`*`) response.
    pub tag: Option<String>,
    /// OK, NO, BAD or BYE.
    pub condition: Condition,
    /// The response code, without brackets (`TRYCREATE`, `APPENDUID 7 12`).
    pub code: Option<Cow<'static, str>>,
    /// Human-readable text.
    pub text: Cow<'static, str>,
}

impl Status {
    fn new(tag: &str, condition: Condition, text: impl Into<Cow<'static, str>>) -> Status {
        Status {
            tag: Some(tag.to_owned()),
            condition,
            code: None,
            text: text.into(),
        }
    }

    /// `<tag> OK text`.
    pub(crate) fn ok(tag: &str, text: impl Into<Cow<'static, str>>) -> Status {
        Status::new(tag, Condition::Ok, text)
    }

    /// `<tag> NO text`.
    pub(crate) fn no(tag: &str, text: impl Into<Cow<'static, str>>) -> Status {
        Status::new(tag, Condition::No, text)
    }

    /// `<tag> BAD text`.
    pub(crate) fn bad(tag: &str, text: impl Into<Cow<'static, str>>) -> Status {
        Status::new(tag, Condition::Bad, text)
    }

    /// `* BYE text`.
    pub(crate) fn bye(text: impl Into<Cow<'static, str>>) -> Status {
        Status {
            tag: None,
            condition: Condition::Bye,
            code: None,
            text: text.into(),
        }
    }

    /// The same response untagged.
    pub(crate) fn untagged(mut self) -> Status {
        self.tag = None;
        self
    }

    /// Adds a response code (RFC 9051 §7.1).
    pub(crate) fn code(mut self, code: impl Into<Cow<'static, str>>) -> Status {
        self.code = Some(code.into());
        self
    }

    /// Whether this answers a command the client should not have sent (counted towards the
    /// error limit).
    pub(crate) fn is_bad(&self) -> bool {
        self.condition == Condition::Bad
    }
}

impl Wire for Status {
    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.tag.as_deref().unwrap_or("*").as_bytes());
        out.extend_from_slice(match self.condition {
            Condition::Ok => b" OK ",
            Condition::No => b" NO ",
            Condition::Bad => b" BAD ",
            Condition::Bye => b" BYE ",
        });
        if let Some(code) = &self.code {
            out.push(b'[');
            out.extend_from_slice(code.as_bytes());
            out.extend_from_slice(b"] ");
        }
        // Text is ours, never the client's, but a stray line end must not split the response.
        out.extend(
            self.text
                .bytes()
                .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(status: &Status) -> String {
        let mut out = Vec::new();
        status.write_to(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn status_lines_carry_tag_condition_code_and_text() {
        assert_eq!(wire(&Status::ok("a1", "done")), "a1 OK done\r\n");
        assert_eq!(
            wire(&Status::no("a2", "no such folder").code("TRYCREATE")),
            "a2 NO [TRYCREATE] no such folder\r\n"
        );
        assert_eq!(wire(&Status::bad("a3", "x").untagged()), "* BAD x\r\n");
        assert_eq!(wire(&Status::bye("bye\r\nnow")), "* BYE bye  now\r\n");
    }
}
