//! The command grammar, sans I/O: one line in, one [`Command`] out (RFC 1939 §3, RFC 2449,
//! RFC 2595, RFC 5034).
//!
//! ```text
//! command  = keyword *(SP argument)        ; RFC 1939 §3, RFC 2449 §3
//! keyword  = 3*4VCHAR                      ; case-insensitive
//! argument = 1*40VCHAR                     ; PASS takes the rest of the line (§7)
//! msg      = 1*DIGIT                       ; a message number, 1-based
//! ```
//!
//! Parsing is strict about numbers (digits only, no sign, no overflow) and arity, and lenient
//! about runs of spaces between arguments, which some clients send.

pub use postwerk_core::sasl::{PlainResponse, Secret};

/// One client command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// RFC 1939 §7 `USER name`.
    User(String),
    /// RFC 1939 §7 `PASS string`.
    Pass(Secret),
    /// RFC 1939 §7 `APOP name digest`: recognised, never offered (it needs the clear-text
    /// password on the server, and passwords are stored only as Argon2id hashes, ID-4).
    Apop,
    /// RFC 5034 §4 `AUTH [mechanism [initial-response]]`; without a mechanism, the list of
    /// mechanisms is asked for (the RFC 1734 form that Outlook still sends).
    Auth {
        /// The SASL mechanism, upper-cased.
        mechanism: Option<String>,
        /// The initial response, base64 (`=` for an empty one).
        initial: Option<Secret>,
    },
    /// RFC 2595 §4 `STLS`.
    Stls,
    /// RFC 2449 §5 `CAPA`.
    Capa,
    /// RFC 1939 §5 `STAT`.
    Stat,
    /// RFC 1939 §5 `LIST [msg]`.
    List(Option<u32>),
    /// RFC 1939 §5 `RETR msg`.
    Retr(u32),
    /// RFC 1939 §5 `DELE msg`.
    Dele(u32),
    /// RFC 1939 §5 `NOOP`.
    Noop,
    /// RFC 1939 §5 `RSET`.
    Rset,
    /// RFC 1939 §6 `QUIT`.
    Quit,
    /// RFC 1939 §7 `TOP msg n`.
    Top {
        /// The message.
        msg: u32,
        /// Lines of the body to send after the header.
        lines: u32,
    },
    /// RFC 1939 §7 `UIDL [msg]`.
    Uidl(Option<u32>),
}

/// Why a line is not a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The keyword is not a command of this server (or the line is empty).
    Unknown,
    /// A known command with wrong arguments; the text says what was expected.
    Syntax(&'static str),
}

impl Command {
    /// Parses one command line, its CRLF already removed.
    pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
        let line = std::str::from_utf8(line).map_err(|_| ParseError::Syntax("not UTF-8"))?;
        let (keyword, rest) = match line.split_once(' ') {
            Some((keyword, rest)) => (keyword, rest),
            None => (line, ""),
        };
        if keyword.len() > 4 || keyword.is_empty() {
            return Err(ParseError::Unknown);
        }
        let keyword = keyword.to_ascii_uppercase();
        // RFC 1939 §7: PASS has exactly one argument, so spaces inside it are part of the
        // password; only the separating space is dropped.
        if keyword == "PASS" {
            if rest.is_empty() {
                return Err(ParseError::Syntax("PASS needs a password"));
            }
            return Ok(Command::Pass(Secret::new(rest.to_owned())));
        }
        let args: Vec<&str> = rest.split(' ').filter(|a| !a.is_empty()).collect();
        let arity = |n: usize, usage: &'static str| {
            if args.len() == n {
                Ok(())
            } else {
                Err(ParseError::Syntax(usage))
            }
        };
        match keyword.as_str() {
            "USER" => {
                arity(1, "USER needs one name: the full email address")?;
                Ok(Command::User(args[0].to_owned()))
            }
            "APOP" => Ok(Command::Apop),
            "AUTH" => match args.as_slice() {
                [] => Ok(Command::Auth {
                    mechanism: None,
                    initial: None,
                }),
                [mechanism] => Ok(Command::Auth {
                    mechanism: Some(mechanism.to_ascii_uppercase()),
                    initial: None,
                }),
                [mechanism, initial] => Ok(Command::Auth {
                    mechanism: Some(mechanism.to_ascii_uppercase()),
                    initial: Some(Secret::new((*initial).to_owned())),
                }),
                _ => Err(ParseError::Syntax(
                    "AUTH takes a mechanism and an optional initial response",
                )),
            },
            "STLS" => arity(0, "STLS takes no argument").map(|()| Command::Stls),
            "CAPA" => arity(0, "CAPA takes no argument").map(|()| Command::Capa),
            "STAT" => arity(0, "STAT takes no argument").map(|()| Command::Stat),
            "NOOP" => arity(0, "NOOP takes no argument").map(|()| Command::Noop),
            "RSET" => arity(0, "RSET takes no argument").map(|()| Command::Rset),
            "QUIT" => arity(0, "QUIT takes no argument").map(|()| Command::Quit),
            "LIST" => optional_msg(&args).map(Command::List),
            "UIDL" => optional_msg(&args).map(Command::Uidl),
            "RETR" => {
                arity(1, "RETR needs a message number")?;
                msg(args[0]).map(Command::Retr)
            }
            "DELE" => {
                arity(1, "DELE needs a message number")?;
                msg(args[0]).map(Command::Dele)
            }
            "TOP" => {
                arity(2, "TOP needs a message number and a number of lines")?;
                Ok(Command::Top {
                    msg: msg(args[0])?,
                    lines: number(args[1])
                        .ok_or(ParseError::Syntax("the number of lines must be digits"))?,
                })
            }
            _ => Err(ParseError::Unknown),
        }
    }
}

fn optional_msg(args: &[&str]) -> Result<Option<u32>, ParseError> {
    match args {
        [] => Ok(None),
        [arg] => msg(arg).map(Some),
        _ => Err(ParseError::Syntax("one message number at most")),
    }
}

/// RFC 1939 §3: a message number is a decimal number, 1 or more.
fn msg(text: &str) -> Result<u32, ParseError> {
    match number(text) {
        Some(n) if n > 0 => Ok(n),
        _ => Err(ParseError::Syntax("invalid message number")),
    }
}

fn number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_case_insensitively_with_their_arguments() {
        let cases: Vec<(&str, Command)> = vec![
            (
                "USER toto@example.test",
                Command::User("toto@example.test".into()),
            ),
            (
                "user  toto@example.test ",
                Command::User("toto@example.test".into()),
            ),
            (
                "PASS two words ",
                Command::Pass(Secret::new("two words ".into())),
            ),
            ("STAT", Command::Stat),
            ("stat", Command::Stat),
            ("LIST", Command::List(None)),
            ("LIST 2", Command::List(Some(2))),
            ("UIDL", Command::Uidl(None)),
            ("uidl 10", Command::Uidl(Some(10))),
            ("RETR 1", Command::Retr(1)),
            ("DELE 4294967295", Command::Dele(u32::MAX)),
            ("TOP 1 0", Command::Top { msg: 1, lines: 0 }),
            ("NOOP", Command::Noop),
            ("RSET", Command::Rset),
            ("QUIT", Command::Quit),
            ("CAPA", Command::Capa),
            ("STLS", Command::Stls),
            ("APOP toto 0123", Command::Apop),
            (
                "AUTH",
                Command::Auth {
                    mechanism: None,
                    initial: None,
                },
            ),
            (
                "AUTH plain",
                Command::Auth {
                    mechanism: Some("PLAIN".into()),
                    initial: None,
                },
            ),
            (
                "AUTH PLAIN AHRvdG8AcHc=",
                Command::Auth {
                    mechanism: Some("PLAIN".into()),
                    initial: Some(Secret::new("AHRvdG8AcHc=".into())),
                },
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(Command::parse(line.as_bytes()), Ok(expected), "{line}");
        }
    }

    #[test]
    fn bad_lines_are_unknown_or_syntax_errors() {
        for line in ["", "FOO", "HELLO", "XTND XMIT", " STAT"] {
            assert_eq!(
                Command::parse(line.as_bytes()),
                Err(ParseError::Unknown),
                "{line}"
            );
        }
        for line in [
            "RETR",
            "RETR 0",
            "RETR -1",
            "RETR +1",
            "RETR x",
            "RETR 1 2",
            "DELE 4294967296",
            "LIST 1 2",
            "TOP 1",
            "TOP 1 x",
            "STAT 1",
            "USER",
            "USER a b",
            "PASS",
            "AUTH PLAIN a b",
            "QUIT now",
        ] {
            assert!(
                matches!(Command::parse(line.as_bytes()), Err(ParseError::Syntax(_))),
                "{line}"
            );
        }
        assert!(matches!(
            Command::parse(b"USER \xff"),
            Err(ParseError::Syntax(_))
        ));
    }

    #[test]
    fn passwords_never_show_in_debug_output() {
        let command = Command::parse(b"PASS hunter2-secret").unwrap();
        let shown = format!("{command:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let auth = Command::parse(b"AUTH PLAIN AHRvdG8AaHVudGVyMg==").unwrap();
        assert!(!format!("{auth:?}").contains("AHRvdG8"), "{auth:?}");
    }
}
