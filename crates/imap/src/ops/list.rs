//! LIST (RFC 9051 §6.3.9, with LIST-EXTENDED of RFC 5258, LIST-STATUS of RFC 5819, the
//! SPECIAL-USE attributes of RFC 6154 and the child attributes of RFC 3348), LSUB
//! (RFC 3501 §6.3.9, IMAP4rev1 only) and NAMESPACE (RFC 2342).
//!
//! One personal namespace, prefix `""`, delimiter `/`. Every command loads the folder list
//! once, builds the hierarchy (existing folders plus the levels above them that do not exist
//! as folders), then decides line by line what to say; that decision ([`plan`]) is pure and
//! tested below.
//!
//! ```text
//!  list_folders ─► Hierarchy ─► plan(patterns, options) ─► "* LIST (...) "/" name"
//!                                                          [* STATUS name (...)]  LIST-STATUS
//! ```
//!
//! Choices where the RFCs leave room, each marked where it happens:
//! - `\HasChildren`/`\HasNoChildren` and the special-use attributes are always sent (RFC 5258
//!   §4 and RFC 6154 §2 allow it; they cost nothing here and most servers do).
//! - `\Subscribed` only when asked for (RETURN (SUBSCRIBED) or the SUBSCRIBED selection):
//!   RFC 9051 §6.3.9 makes it a return option, not part of the basic LIST.
//! - A hierarchy level that is not a folder is `\NonExistent` for IMAP4rev2 and extended LIST
//!   (RFC 5258 §3: "MUST be accurately computed", implies `\Noselect`), `\Noselect` for a
//!   basic IMAP4rev1 LIST (RFC 3501 §6.3.8).

use std::collections::BTreeMap;
use std::ops::Bound;

use postwerk_store::{Folder, StoreError};

use crate::ops::status::{enable_condstore_if_asked, write_status};
use crate::ops::{DELIMITER, store_error, write_folder_name};
use crate::proto::{ListCommand, ListReturn, ListSelect, MailboxName, StatusItem, mutf7};
use crate::response::Status;
use crate::session::{Connection, Flow, Session};

/// LIST, basic or extended.
pub(crate) async fn list(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    command: ListCommand,
) -> Flow {
    let options = match Options::new(session, &command) {
        Ok(options) => options,
        Err(why) => return session.answer(conn, Status::bad(tag, why)),
    };
    let status_items = command.returns.iter().find_map(|r| match r {
        ListReturn::Status(items) => Some(items.clone()),
        _ => None,
    });
    if let Some(items) = &status_items {
        enable_condstore_if_asked(session, items);
    }
    let reference = decode(session, &command.reference);
    let patterns: Vec<&MailboxName> = command.patterns.iter().collect();
    respond(
        session,
        conn,
        tag,
        &options,
        reference.as_deref(),
        &patterns,
        status_items.as_deref(),
    )
    .await
}

/// LSUB (RFC 3501 §6.3.9): the subscribed folders matching the pattern. A folder that is not
/// subscribed but has subscribed folders below it that `%` hides is listed `\Noselect`.
pub(crate) async fn lsub(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    reference: &MailboxName,
    pattern: &MailboxName,
) -> Flow {
    let options = Options {
        command: Verb::Lsub,
        subscribed: true,
        special_use: false,
        recursive: true,
        return_subscribed: false,
        nonexistent: "\\Noselect",
    };
    let reference = decode(session, reference);
    respond(
        session,
        conn,
        tag,
        &options,
        reference.as_deref(),
        &[pattern],
        None,
    )
    .await
}

/// NAMESPACE (RFC 2342 §5): one personal namespace with the empty prefix, no other users'
/// and no shared namespaces.
pub(crate) fn namespace(session: &mut Session, conn: &mut Connection, tag: &str) -> Flow {
    conn.output()
        .extend_from_slice(b"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
    session.answer(conn, Status::ok(tag, "NAMESPACE completed"))
}

/// The command a line answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    List,
    Lsub,
}

impl Verb {
    fn as_str(self) -> &'static str {
        match self {
            Verb::List => "LIST",
            Verb::Lsub => "LSUB",
        }
    }
}

/// What a LIST asks for, once the selection and return options are read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    /// LIST or LSUB.
    command: Verb,
    /// Selection SUBSCRIBED (RFC 5258 §3.1): only subscribed folders.
    subscribed: bool,
    /// Selection SPECIAL-USE (RFC 6154 §4): only folders with a special use.
    special_use: bool,
    /// Selection RECURSIVEMATCH (RFC 5258 §3.1): also folders that match the pattern and have
    /// a descendant that satisfies the selection but does not match.
    recursive: bool,
    /// Return `\Subscribed` (RETURN (SUBSCRIBED), implied by the SUBSCRIBED selection).
    return_subscribed: bool,
    /// The attribute of a listed name that is not a folder.
    nonexistent: &'static str,
}

impl Options {
    /// Reads the options of a LIST command; the error is the text of a `BAD`.
    fn new(session: &Session, command: &ListCommand) -> Result<Options, &'static str> {
        let has = |option| command.selection.contains(&option);
        let subscribed = has(ListSelect::Subscribed);
        let special_use = has(ListSelect::SpecialUse);
        let recursive = has(ListSelect::RecursiveMatch);
        // RFC 5258 §3.1: RECURSIVEMATCH alone (or with only REMOTE) is a syntax error.
        if recursive && !subscribed && !special_use {
            return Err("RECURSIVEMATCH needs another selection option");
        }
        let extended = !command.selection.is_empty() || !command.returns.is_empty();
        Ok(Options {
            command: Verb::List,
            subscribed,
            special_use,
            recursive,
            // RFC 5258 §3.1: the SUBSCRIBED selection implies the SUBSCRIBED return option.
            return_subscribed: subscribed || command.returns.contains(&ListReturn::Subscribed),
            nonexistent: if extended || session.enabled.rev2 {
                "\\NonExistent"
            } else {
                "\\Noselect"
            },
        })
    }

    /// Whether any selection criterion restricts the folders listed.
    fn selects(&self) -> bool {
        self.subscribed || self.special_use
    }

    /// Whether `node` satisfies the selection criteria (only existing folders do: this store
    /// keeps no subscription for a name without a folder).
    fn satisfied_by(&self, node: &Node<'_>) -> bool {
        let Some(folder) = node.folder else {
            return false;
        };
        (!self.subscribed || folder.subscribed)
            && (!self.special_use || folder.special_use.is_some())
    }

    /// The names of the criteria for CHILDINFO (RFC 5258 §3.5).
    fn criteria_names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.subscribed {
            names.push("SUBSCRIBED");
        }
        if self.special_use {
            names.push("SPECIAL-USE");
        }
        names
    }
}

/// The shared body of LIST and LSUB: load, plan, write.
async fn respond(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    options: &Options,
    reference: Option<&str>,
    patterns: &[&MailboxName],
    status_items: Option<&[StatusItem]>,
) -> Flow {
    let Some(mailbox) = session.login.as_ref().map(|login| login.mailbox) else {
        return session.answer(conn, Status::bad(tag, "Log in first"));
    };
    let mut out = Vec::new();
    // RFC 9051 §6.3.9: an empty pattern asks for the delimiter and the root of the reference;
    // with a single namespace whose prefix is "", the root is always "".
    let mut full_patterns = Vec::new();
    let mut root_written = false;
    for pattern in patterns {
        if pattern.0.is_empty() {
            if !root_written {
                out.extend_from_slice(b"* ");
                out.extend_from_slice(options.command.as_str().as_bytes());
                out.extend_from_slice(b" (\\Noselect) \"/\" \"\"\r\n");
                root_written = true;
            }
            continue;
        }
        // A reference or pattern that cannot be decoded names no folder; it matches nothing
        // rather than failing the command, as for any other pattern without a match.
        if let (Some(reference), Some(pattern)) = (reference, decode(session, pattern)) {
            full_patterns.push(Pattern::new(&join(reference, &pattern)));
        }
    }
    if !full_patterns.is_empty() {
        let folders = match session.server.mail.list_folders(mailbox).await {
            Ok(folders) => folders,
            Err(error) => return session.answer(conn, store_error(tag, error)),
        };
        let lines = plan(&folders, &full_patterns, options);
        for line in &lines {
            write_line(session, &mut out, options.command, line);
            if let (Some(items), Some(folder)) = (status_items, line.folder) {
                // RFC 5819 §2: the STATUS of each selectable folder, right after its LIST line.
                match session.server.mail.status(folder.id).await {
                    Ok(status) => write_status(session, &mut out, &folder.name, &status, items),
                    // Deleted meanwhile: its LIST line stands, its STATUS is left out.
                    Err(StoreError::NotFound(_)) => {}
                    Err(error) => return session.answer(conn, store_error(tag, error)),
                }
            }
        }
    }
    conn.output().extend_from_slice(&out);
    let text = match options.command {
        Verb::List => "LIST completed",
        Verb::Lsub => "LSUB completed",
    };
    session.answer(conn, Status::ok(tag, text))
}

/// A reference or pattern as text: modified UTF-7 or UTF-8 by the session (RFC 9051 §5.1,
/// RFC 6855 §3). `*` and `%` are printable ASCII and pass through either decoding.
fn decode(session: &Session, name: &MailboxName) -> Option<String> {
    if session.utf8_names() {
        String::from_utf8(name.0.clone()).ok()
    } else {
        mutf7::decode(&name.0).ok()
    }
}

/// The reference and the pattern as one pattern (RFC 9051 §6.3.9: the reference is a prefix
/// of the names to list). A delimiter at the joint is not doubled.
fn join(reference: &str, pattern: &str) -> String {
    match (
        reference.strip_suffix(DELIMITER),
        pattern.strip_prefix(DELIMITER),
    ) {
        (Some(reference), Some(pattern)) => format!("{reference}{DELIMITER}{pattern}"),
        _ => format!("{reference}{pattern}"),
    }
}

/// Writes `* LIST (attributes) "/" name [extended data]\r\n`.
fn write_line(session: &Session, out: &mut Vec<u8>, verb: Verb, line: &Line<'_>) {
    out.extend_from_slice(b"* ");
    out.extend_from_slice(verb.as_str().as_bytes());
    out.extend_from_slice(b" (");
    out.extend_from_slice(line.attributes.join(" ").as_bytes());
    out.extend_from_slice(b") \"/\" ");
    write_folder_name(session, out, &line.name);
    if !line.childinfo.is_empty() {
        // RFC 5258 §3.5: mbox-list-extended `("CHILDINFO" ("SUBSCRIBED"))`.
        out.extend_from_slice(b" (\"CHILDINFO\" (");
        let quoted: Vec<String> = line.childinfo.iter().map(|c| format!("\"{c}\"")).collect();
        out.extend_from_slice(quoted.join(" ").as_bytes());
        out.extend_from_slice(b"))");
    }
    out.extend_from_slice(b"\r\n");
}

/// One line to write.
#[derive(Debug, PartialEq, Eq)]
struct Line<'a> {
    /// The full name.
    name: String,
    /// The folder, when the name is one (for LIST-STATUS).
    folder: Option<&'a Folder>,
    /// The name attributes, in the order written.
    attributes: Vec<&'static str>,
    /// The CHILDINFO criteria (RFC 5258 §3.5), empty for none.
    childinfo: Vec<&'static str>,
}

/// Decides the lines of a LIST or LSUB over `folders`, in hierarchy order with INBOX first.
fn plan<'a>(folders: &'a [Folder], patterns: &[Pattern], options: &Options) -> Vec<Line<'a>> {
    let hierarchy = Hierarchy::new(folders);
    let matches = |name: &str| patterns.iter().any(|p| p.matches(name));
    let mut lines = Vec::new();
    for node in hierarchy.in_order() {
        if !matches(&node.name) {
            continue;
        }
        let satisfied = options.satisfied_by(node);
        // RFC 5258 §3.5 (and RFC 3501 §6.3.9 for LSUB's `%`): a descendant that satisfies the
        // selection but that the pattern does not reach.
        let hidden_selected = options.selects()
            && hierarchy
                .descendants(&node.name)
                .any(|d| options.satisfied_by(d) && !matches(&d.name));
        let listed = if options.selects() {
            satisfied || (options.recursive && hidden_selected)
        } else {
            // RFC 9051 §6.3.9: a level that is not a folder is listed when `%` stops at it,
            // i.e. when a folder below it does not match the pattern itself.
            node.folder.is_some()
                || hierarchy
                    .descendants(&node.name)
                    .any(|d| d.folder.is_some() && !matches(&d.name))
        };
        if !listed {
            continue;
        }
        let (attributes, childinfo) = match options.command {
            Verb::List => {
                let childinfo = if options.recursive && hidden_selected {
                    options.criteria_names()
                } else {
                    Vec::new()
                };
                (list_attributes(node, options), childinfo)
            }
            // RFC 3501 §6.3.9: LSUB marks the unsubscribed levels `\Noselect`, nothing more.
            Verb::Lsub if satisfied => (Vec::new(), Vec::new()),
            Verb::Lsub => (vec!["\\Noselect"], Vec::new()),
        };
        lines.push(Line {
            name: node.name.clone(),
            folder: node.folder,
            attributes,
            childinfo,
        });
    }
    lines
}

/// The attributes of one LIST line (RFC 9051 §7.3.1).
fn list_attributes(node: &Node<'_>, options: &Options) -> Vec<&'static str> {
    let mut attributes = Vec::new();
    if node.folder.is_none() {
        attributes.push(options.nonexistent);
    }
    // RFC 3348 / RFC 5258 §4: sent without the CHILDREN return option too; a child is any
    // folder below, whatever the selection.
    attributes.push(if node.children {
        "\\HasChildren"
    } else {
        "\\HasNoChildren"
    });
    if let Some(folder) = node.folder {
        // RFC 6154 §2: special-use attributes may be returned by any LIST.
        if let Some(special) = folder.special_use {
            attributes.push(special.attribute());
        }
        if options.return_subscribed && folder.subscribed {
            attributes.push("\\Subscribed");
        }
    }
    attributes
}

/// One name of the hierarchy.
#[derive(Debug)]
struct Node<'a> {
    /// The full name.
    name: String,
    /// The folder of that name; `None` for a level that only exists because folders are below
    /// it (the store creates parents, but a rename can leave a gap).
    folder: Option<&'a Folder>,
    /// Whether any folder is below it.
    children: bool,
}

/// The folders of a mailbox and the levels above them, by name.
struct Hierarchy<'a> {
    nodes: BTreeMap<String, Node<'a>>,
}

impl<'a> Hierarchy<'a> {
    fn new(folders: &'a [Folder]) -> Hierarchy<'a> {
        let mut nodes: BTreeMap<String, Node<'a>> = BTreeMap::new();
        let node = |name: &str| Node {
            name: name.to_owned(),
            folder: None,
            children: false,
        };
        for folder in folders {
            nodes
                .entry(folder.name.clone())
                .or_insert_with(|| node(&folder.name))
                .folder = Some(folder);
            for (at, _) in folder.name.match_indices(DELIMITER) {
                let parent = &folder.name[..at];
                nodes
                    .entry(parent.to_owned())
                    .or_insert_with(|| node(parent))
                    .children = true;
            }
        }
        Hierarchy { nodes }
    }

    /// Every name, INBOX and its subfolders first (clients show it on top), then by name.
    fn in_order(&self) -> impl Iterator<Item = &Node<'a>> {
        let inbox = self.nodes.values().filter(|n| is_inbox_rooted(&n.name));
        let others = self.nodes.values().filter(|n| !is_inbox_rooted(&n.name));
        inbox.chain(others)
    }

    /// The names below `name`, at any depth. `/` sorts before letters and digits, so they
    /// are one range of the map starting at `name/`.
    fn descendants<'s>(&'s self, name: &str) -> impl Iterator<Item = &'s Node<'a>> + 's {
        let prefix = format!("{name}{DELIMITER}");
        self.nodes
            .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
            .map(|(_, node)| node)
            .take_while(move |node| node.name.starts_with(&prefix))
    }
}

/// Whether a canonical name is INBOX or below it.
fn is_inbox_rooted(name: &str) -> bool {
    name.strip_prefix("INBOX")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(DELIMITER))
}

/// One element of a LIST pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// A character matched as itself.
    Literal(char),
    /// `*`: any characters, the delimiter included.
    Any,
    /// `%`: any characters but the delimiter (RFC 9051 §6.3.9).
    Level,
}

/// A LIST pattern (reference and mailbox argument joined), ready to match decoded names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    tokens: Vec<Token>,
    /// How many characters a matching name has at least.
    literals: usize,
}

impl Pattern {
    fn new(text: &str) -> Pattern {
        let mut tokens: Vec<Token> = Vec::with_capacity(text.len());
        for c in text.chars() {
            let token = match c {
                '*' => Token::Any,
                '%' => Token::Level,
                c => Token::Literal(c),
            };
            // Runs of wildcards match what their widest member matches (`**`, `%*` and `*%`
            // are `*`, `%%` is `%`), so a long run costs no more than one.
            match (tokens.last_mut(), token) {
                (Some(last @ (Token::Any | Token::Level)), Token::Any) => *last = Token::Any,
                (Some(Token::Any | Token::Level), Token::Level) => {}
                _ => tokens.push(token),
            }
        }
        let literals = tokens
            .iter()
            .filter(|t| matches!(t, Token::Literal(_)))
            .count();
        Pattern { tokens, literals }
    }

    /// Whether `name` (canonical, so INBOX is upper case) matches. The `INBOX` level matches
    /// case-insensitively (RFC 9051 §5.1: "INBOX" in any case means INBOX); other levels are
    /// case-sensitive.
    ///
    /// Dynamic programming over (pattern position, name position), one row at a time: time
    /// is bounded by pattern length × name length, never exponential. Wildcard runs being
    /// collapsed, a pattern that could match is at most about twice as long as the name.
    fn matches(&self, name: &str) -> bool {
        let inbox = is_inbox_rooted(name);
        let name: Vec<char> = name.chars().collect();
        if self.literals > name.len() {
            return false;
        }
        let same = |p: char, at: usize| {
            let c = name[at];
            c == p || (inbox && at < "INBOX".len() && c.eq_ignore_ascii_case(&p))
        };
        let n = name.len();
        // row[j]: the tokens so far match the first j characters of the name.
        let mut row = vec![false; n + 1];
        row[0] = true;
        let mut next = vec![false; n + 1];
        for token in &self.tokens {
            match *token {
                Token::Any => {
                    next[0] = row[0];
                    for j in 1..=n {
                        next[j] = row[j] || next[j - 1];
                    }
                }
                Token::Level => {
                    next[0] = row[0];
                    for j in 1..=n {
                        next[j] = row[j] || (next[j - 1] && name[j - 1] != DELIMITER);
                    }
                }
                Token::Literal(p) => {
                    next[0] = false;
                    for j in 1..=n {
                        next[j] = row[j - 1] && same(p, j - 1);
                    }
                }
            }
            std::mem::swap(&mut row, &mut next);
            if !row.contains(&true) {
                return false;
            }
        }
        row[n]
    }
}

#[cfg(test)]
mod tests {
    use postwerk_model::{AddressId, FolderId, SpecialUse};

    use super::*;

    fn folder(id: i64, name: &str, special_use: Option<SpecialUse>, subscribed: bool) -> Folder {
        Folder {
            id: FolderId(id),
            mailbox: AddressId(1),
            name: name.to_owned(),
            special_use,
            uid_validity: 1,
            uid_next: 1,
            highest_modseq: 1,
            subscribed,
        }
    }

    fn options(command: Verb) -> Options {
        Options {
            command,
            subscribed: false,
            special_use: false,
            recursive: false,
            return_subscribed: false,
            nonexistent: "\\Noselect",
        }
    }

    /// Lines as `name (attributes) [childinfo]` for compact assertions.
    fn render(folders: &[Folder], patterns: &[&str], options: &Options) -> Vec<String> {
        let patterns: Vec<Pattern> = patterns.iter().map(|p| Pattern::new(p)).collect();
        plan(folders, &patterns, options)
            .into_iter()
            .map(|line| {
                let mut text = format!("{} ({})", line.name, line.attributes.join(" "));
                if !line.childinfo.is_empty() {
                    text.push_str(&format!(" [{}]", line.childinfo.join(" ")));
                }
                text
            })
            .collect()
    }

    fn mailbox() -> Vec<Folder> {
        vec![
            folder(1, "INBOX", None, true),
            folder(2, "Archive", Some(SpecialUse::Archive), true),
            folder(3, "Archive/2025", None, false),
            folder(4, "Archive/2026", None, true),
            folder(5, "Fruit", None, false),
            folder(6, "Fruit/Apple", None, true),
            folder(7, "Fruit/Banana", None, false),
            folder(8, "INBOX/Receipts", None, false),
            folder(9, "Sent", Some(SpecialUse::Sent), true),
            folder(10, "Trash", Some(SpecialUse::Trash), false),
            // A gap: "Projects" itself is no folder.
            folder(11, "Projects/Alpha/Notes", None, true),
        ]
    }

    #[test]
    fn star_matches_across_levels_and_percent_within_one() {
        let cases = [
            ("*", "Archive/2025/x", true),
            ("%", "Archive", true),
            ("%", "Archive/2025", false),
            ("Archive/%", "Archive/2025", true),
            ("Archive/%", "Archive/2025/x", false),
            ("Archive/*", "Archive/2025/x", true),
            ("Archive/*", "Archive", false),
            ("Arch*", "Archive", true),
            ("*ive", "Archive", true),
            ("*2025", "Archive/2025", true),
            ("%/%", "Archive/2025", true),
            ("%/%", "Archive", false),
            ("A%e", "Archive", true),
            ("A%e", "Apple/Tree", false),
            ("A*e", "Apple/Tree", true),
            ("archive", "Archive", false),
            ("", "Archive", false),
            ("Archive", "Archive", true),
            ("Archive/", "Archive", false),
            ("**%%*", "x/y/z", true),
            ("%*%", "x/y", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("Entwürfe", "Entwürfe", true),
            ("Entw%", "Entwürfe", true),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(
                Pattern::new(pattern).matches(name),
                expected,
                "{pattern:?} {name:?}"
            );
        }
    }

    #[test]
    fn inbox_matches_in_any_case_and_nothing_else_does() {
        let cases = [
            ("inbox", "INBOX", true),
            ("InBoX", "INBOX", true),
            ("inb*", "INBOX", true),
            ("inbox/%", "INBOX/Receipts", true),
            ("inbox/receipts", "INBOX/Receipts", false),
            ("INBOX", "Inboxes", false),
            ("inboxes", "Inboxes", false),
            ("sent", "Sent", false),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(
                Pattern::new(pattern).matches(name),
                expected,
                "{pattern:?} {name:?}"
            );
        }
    }

    #[test]
    fn a_pathological_pattern_stays_cheap() {
        let pattern = Pattern::new(&"*a".repeat(200));
        assert!(!pattern.matches(&"a".repeat(199)));
        // Exponential for a backtracking matcher; 101 × 152 steps here.
        let pattern = Pattern::new(&format!("{}b", "*a".repeat(50)));
        assert!(!pattern.matches(&format!("{}c", "a".repeat(150))));
        assert!(pattern.matches(&format!("{}b", "a".repeat(150))));
        let pattern = Pattern::new(&"%*".repeat(10_000));
        assert_eq!(pattern.tokens, vec![Token::Any]);
        assert!(pattern.matches(&"b".repeat(500)));
    }

    #[test]
    fn reference_and_pattern_join_without_doubling_the_delimiter() {
        assert_eq!(join("", "*"), "*");
        assert_eq!(join("Archive/", "%"), "Archive/%");
        assert_eq!(join("Archive/", "/%"), "Archive/%");
        assert_eq!(join("Archive", "/%"), "Archive/%");
        assert_eq!(join("Arch", "ive"), "Archive");
    }

    #[test]
    fn basic_list_has_child_and_special_use_attributes_inbox_first() {
        assert_eq!(
            render(&mailbox(), &["*"], &options(Verb::List)),
            [
                "INBOX (\\HasChildren)",
                "INBOX/Receipts (\\HasNoChildren)",
                "Archive (\\HasChildren \\Archive)",
                "Archive/2025 (\\HasNoChildren)",
                "Archive/2026 (\\HasNoChildren)",
                "Fruit (\\HasChildren)",
                "Fruit/Apple (\\HasNoChildren)",
                "Fruit/Banana (\\HasNoChildren)",
                "Projects/Alpha/Notes (\\HasNoChildren)",
                "Sent (\\HasNoChildren \\Sent)",
                "Trash (\\HasNoChildren \\Trash)",
            ]
        );
    }

    #[test]
    fn percent_lists_levels_that_are_no_folder_as_noselect() {
        assert_eq!(
            render(&mailbox(), &["%"], &options(Verb::List)),
            [
                "INBOX (\\HasChildren)",
                "Archive (\\HasChildren \\Archive)",
                "Fruit (\\HasChildren)",
                "Projects (\\Noselect \\HasChildren)",
                "Sent (\\HasNoChildren \\Sent)",
                "Trash (\\HasNoChildren \\Trash)",
            ]
        );
        assert_eq!(
            render(&mailbox(), &["Projects/%"], &options(Verb::List)),
            ["Projects/Alpha (\\Noselect \\HasChildren)"]
        );
        // `*` reaches the folder itself, so the levels above it are not listed.
        assert_eq!(
            render(&mailbox(), &["Proj*"], &options(Verb::List)),
            ["Projects/Alpha/Notes (\\HasNoChildren)"]
        );
        let extended = Options {
            nonexistent: "\\NonExistent",
            ..options(Verb::List)
        };
        assert_eq!(
            render(&mailbox(), &["P%"], &extended),
            ["Projects (\\NonExistent \\HasChildren)"]
        );
    }

    #[test]
    fn several_patterns_list_each_name_once() {
        assert_eq!(
            render(&mailbox(), &["Sent", "S*", "Trash"], &options(Verb::List)),
            [
                "Sent (\\HasNoChildren \\Sent)",
                "Trash (\\HasNoChildren \\Trash)"
            ]
        );
    }

    #[test]
    fn subscribed_selection_lists_only_subscribed_folders_with_the_attribute() {
        let subscribed = Options {
            subscribed: true,
            return_subscribed: true,
            ..options(Verb::List)
        };
        assert_eq!(
            render(&mailbox(), &["*"], &subscribed),
            [
                "INBOX (\\HasChildren \\Subscribed)",
                "Archive (\\HasChildren \\Archive \\Subscribed)",
                "Archive/2026 (\\HasNoChildren \\Subscribed)",
                "Fruit/Apple (\\HasNoChildren \\Subscribed)",
                "Projects/Alpha/Notes (\\HasNoChildren \\Subscribed)",
                "Sent (\\HasNoChildren \\Sent \\Subscribed)",
            ]
        );
        // Without RECURSIVEMATCH, `%` does not show the parents of subscribed folders.
        assert_eq!(
            render(&mailbox(), &["%"], &subscribed),
            [
                "INBOX (\\HasChildren \\Subscribed)",
                "Archive (\\HasChildren \\Archive \\Subscribed)",
                "Sent (\\HasNoChildren \\Sent \\Subscribed)",
            ]
        );
    }

    #[test]
    fn recursivematch_adds_childinfo_to_parents_of_hidden_matches() {
        let recursive = Options {
            subscribed: true,
            recursive: true,
            return_subscribed: true,
            nonexistent: "\\NonExistent",
            ..options(Verb::List)
        };
        assert_eq!(
            render(&mailbox(), &["%"], &recursive),
            [
                "INBOX (\\HasChildren \\Subscribed)",
                "Archive (\\HasChildren \\Archive \\Subscribed) [SUBSCRIBED]",
                "Fruit (\\HasChildren) [SUBSCRIBED]",
                "Projects (\\NonExistent \\HasChildren) [SUBSCRIBED]",
                "Sent (\\HasNoChildren \\Sent \\Subscribed)",
            ]
        );
    }

    #[test]
    fn return_subscribed_marks_without_filtering() {
        let marked = Options {
            return_subscribed: true,
            ..options(Verb::List)
        };
        assert_eq!(
            render(&mailbox(), &["Fruit*"], &marked),
            [
                "Fruit (\\HasChildren)",
                "Fruit/Apple (\\HasNoChildren \\Subscribed)",
                "Fruit/Banana (\\HasNoChildren)",
            ]
        );
    }

    #[test]
    fn special_use_selection_lists_only_special_folders() {
        let special = Options {
            special_use: true,
            ..options(Verb::List)
        };
        assert_eq!(
            render(&mailbox(), &["*"], &special),
            [
                "Archive (\\HasChildren \\Archive)",
                "Sent (\\HasNoChildren \\Sent)",
                "Trash (\\HasNoChildren \\Trash)",
            ]
        );
    }

    #[test]
    fn lsub_lists_subscribed_and_noselect_parents_hidden_by_percent() {
        let lsub = Options {
            subscribed: true,
            recursive: true,
            ..options(Verb::Lsub)
        };
        assert_eq!(
            render(&mailbox(), &["%"], &lsub),
            [
                "INBOX ()",
                "Archive ()",
                "Fruit (\\Noselect)",
                "Projects (\\Noselect)",
                "Sent ()"
            ]
        );
        assert_eq!(render(&mailbox(), &["Fruit/*"], &lsub), ["Fruit/Apple ()"]);
    }
}
