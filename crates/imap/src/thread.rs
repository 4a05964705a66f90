//! THREAD (RFC 5256 §3): the ORDEREDSUBJECT and REFERENCES algorithms and the `THREAD` response
//! (RFC 5256 §4).
//!
//! Pure: the session selects the messages (with [`crate::search`]), loads their metas and, for
//! REFERENCES, their indexes (Message-ID, In-Reply-To and References are in the index's summary),
//! then calls [`thread`] and [`write_thread`].
//!
//! Every walk over the trees is iterative (explicit stacks, an arena of containers, an iterative
//! `Drop` for [`ThreadNode`]): a mailing-list thread of ten thousand replies, each to the one
//! before, is a chain ten thousand deep, and recursion over it would overflow the stack and take
//! the whole server down.

use std::collections::HashMap;

use postwerk_message::extract_base_subject;

use crate::fetch::push_number;
use crate::proto::ThreadAlgorithm;
use crate::sort::{SortItem, sent_date, subject};

/// One message to thread: the same as a [`SortItem`]. `number` is what the response lists
/// (sequence number, or UID for UID THREAD); `index` is needed for REFERENCES (see
/// [`needs_index`]) and, when missing, the message threads by subject only.
pub type ThreadItem<'a> = SortItem<'a>;

/// A node of a thread tree: a message and its replies, or a dummy that only groups its
/// children (RFC 5256 §3: a message that is referenced but not in the set, or two messages with
/// the same base subject).
#[derive(Debug, PartialEq, Eq)]
pub struct ThreadNode {
    /// The message's number, `None` for a dummy.
    pub number: Option<u32>,
    /// Replies (and, for a dummy, the grouped messages), oldest first.
    pub children: Vec<ThreadNode>,
}

impl Drop for ThreadNode {
    /// Drops the tree without recursion: a chain of replies can be deeper than the stack.
    fn drop(&mut self) {
        let mut pending = std::mem::take(&mut self.children);
        while let Some(mut node) = pending.pop() {
            pending.append(&mut node.children);
        }
    }
}

/// Whether threading with `algorithm` needs the messages' indexes (REFERENCES reads message ids;
/// ORDEREDSUBJECT needs only the meta's subject and dates).
pub fn needs_index(algorithm: ThreadAlgorithm) -> bool {
    algorithm == ThreadAlgorithm::References
}

/// Threads `items` with `algorithm` (RFC 5256 §3). The threads and each set of siblings are in
/// order of sent date (the Date header, INTERNALDATE when missing), ties in number order.
pub fn thread(items: &[ThreadItem<'_>], algorithm: ThreadAlgorithm) -> Vec<ThreadNode> {
    match algorithm {
        ThreadAlgorithm::OrderedSubject => ordered_subject(items),
        ThreadAlgorithm::References => references(items),
    }
}

/// Writes the untagged response: `* THREAD (2)(3 6 (4 23)(44 7 96))\r\n` (RFC 5256 §4), or
/// `* THREAD\r\n` when there is nothing to thread.
///
/// ```text
/// thread-list    = "(" (thread-members / thread-nested) ")"
/// thread-members = nz-number *(SP nz-number) [SP thread-nested]
/// thread-nested  = 2*thread-list
/// ```
///
/// A message with one reply continues the member list; with several, each reply opens a nested
/// list. A dummy writes only its children. Dummies without children are skipped.
pub fn write_thread(out: &mut Vec<u8>, threads: &[ThreadNode]) {
    out.extend_from_slice(b"* THREAD");
    let roots: Vec<&ThreadNode> = threads.iter().filter(|t| !is_empty_dummy(t)).collect();
    if !roots.is_empty() {
        out.push(b' ');
    }
    for root in roots {
        out.push(b'(');
        write_members(out, root);
        out.push(b')');
    }
    out.extend_from_slice(b"\r\n");
}

fn is_empty_dummy(node: &ThreadNode) -> bool {
    node.number.is_none() && node.children.is_empty()
}

/// One step of [`write_members`].
enum Step<'a> {
    Node(&'a ThreadNode),
    Text(&'static [u8]),
}

/// Writes the inside of one `thread-list` for `node`, iteratively.
fn write_members(out: &mut Vec<u8>, node: &ThreadNode) {
    let mut steps = vec![Step::Node(node)];
    while let Some(step) = steps.pop() {
        let node = match step {
            Step::Text(text) => {
                out.extend_from_slice(text);
                continue;
            }
            Step::Node(node) => node,
        };
        let children: Vec<&ThreadNode> = node
            .children
            .iter()
            .filter(|c| !is_empty_dummy(c))
            .collect();
        if let Some(number) = node.number {
            push_number(out, u64::from(number));
            if !children.is_empty() {
                out.push(b' ');
            }
        }
        // Pushed in reverse: the stack pops them in order.
        match children.as_slice() {
            [] => {}
            [only] => steps.push(Step::Node(only)),
            several => {
                for child in several.iter().rev() {
                    steps.push(Step::Text(b")"));
                    steps.push(Step::Node(child));
                    steps.push(Step::Text(b"("));
                }
            }
        }
    }
}

/// The base subject as SORT and THREAD compare it (case-folded) and whether it was a reply or
/// forward.
fn subject_key(item: &ThreadItem<'_>) -> (String, bool) {
    let base = extract_base_subject(subject(item));
    (base.text.to_lowercase(), base.is_reply_or_forward)
}

/// The order of messages and siblings: sent date, then number.
fn date_key(item: &ThreadItem<'_>) -> (i64, u32) {
    (sent_date(item.meta), item.number)
}

/// ORDEREDSUBJECT (RFC 5256 §3): messages sorted by base subject, then sent date; each run of
/// one base subject is a thread whose first message is the parent of all the others; threads in
/// order of their first message's sent date.
fn ordered_subject(items: &[ThreadItem<'_>]) -> Vec<ThreadNode> {
    let mut keyed: Vec<(String, (i64, u32))> = items
        .iter()
        .map(|item| (subject_key(item).0, date_key(item)))
        .collect();
    keyed.sort();
    let mut threads: Vec<((i64, u32), ThreadNode)> = Vec::new();
    let mut current_subject: Option<&str> = None;
    for (subject, date) in &keyed {
        let node = ThreadNode {
            number: Some(date.1),
            children: Vec::new(),
        };
        match threads.last_mut() {
            Some((_, parent)) if current_subject == Some(subject.as_str()) => {
                parent.children.push(node)
            }
            _ => {
                threads.push((*date, node));
                current_subject = Some(subject);
            }
        }
    }
    threads.sort_by_key(|(date, _)| *date);
    threads.into_iter().map(|(_, node)| node).collect()
}

/// A container of the REFERENCES algorithm (RFC 5256 §3, after JWZ's threading algorithm): a
/// message (`item`, an index into the items) or a dummy, linked into a tree by indexes into
/// the arena.
#[derive(Debug, Default)]
struct Container {
    item: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

/// The containers of one REFERENCES run.
struct Arena {
    nodes: Vec<Container>,
}

impl Arena {
    fn add(&mut self, item: Option<usize>) -> usize {
        self.nodes.push(Container {
            item,
            ..Container::default()
        });
        self.nodes.len() - 1
    }

    fn is_dummy(&self, c: usize) -> bool {
        self.nodes[c].item.is_none()
    }

    /// Whether `ancestor` is `c` or above it. The parent links form a forest (every link is
    /// checked with this first), so the walk ends; the bound is a second guarantee.
    fn is_ancestor_or_self(&self, ancestor: usize, c: usize) -> bool {
        let mut at = Some(c);
        for _ in 0..=self.nodes.len() {
            match at {
                Some(node) if node == ancestor => return true,
                Some(node) => at = self.nodes[node].parent,
                None => return false,
            }
        }
        true
    }

    /// Makes `child` a child of `parent`, unless that would close a loop (RFC 5256 §3 step 1B:
    /// `parent` is `child` or below it). `child` must have no parent.
    fn link(&mut self, parent: usize, child: usize) -> bool {
        if self.nodes[child].parent.is_some() || parent == child {
            return false;
        }
        // A container without children is nobody's ancestor: the common case (a new message
        // below its last reference) needs no walk, which keeps a long chain linear.
        if !self.nodes[child].children.is_empty() && self.is_ancestor_or_self(child, parent) {
            return false;
        }
        self.nodes[child].parent = Some(parent);
        self.nodes[parent].children.push(child);
        true
    }

    fn unlink(&mut self, child: usize) {
        if let Some(parent) = self.nodes[child].parent.take() {
            self.nodes[parent].children.retain(|&c| c != child);
        }
    }

    /// The containers below `roots` (roots included), every child before its parent.
    fn post_order(&self, roots: &[usize]) -> Vec<usize> {
        let mut order = Vec::with_capacity(self.nodes.len());
        let mut stack: Vec<(usize, bool)> = roots.iter().rev().map(|&r| (r, false)).collect();
        while let Some((c, children_done)) = stack.pop() {
            if children_done {
                order.push(c);
                continue;
            }
            stack.push((c, true));
            stack.extend(self.nodes[c].children.iter().rev().map(|&ch| (ch, false)));
        }
        order
    }
}

/// REFERENCES (RFC 5256 §3).
fn references(items: &[ThreadItem<'_>]) -> Vec<ThreadNode> {
    let mut arena = Arena {
        nodes: Vec::with_capacity(items.len() * 2),
    };
    // Steps 1 and 2: link messages by their references; the roots are what has no parent.
    link_references(&mut arena, items);
    let roots: Vec<usize> = (0..arena.nodes.len())
        .filter(|&c| arena.nodes[c].parent.is_none())
        .collect();
    // Step 3 (discarding the id table) happened when `link_references` returned.
    let roots = prune(&mut arena, &roots);
    let roots = group_by_subject(&mut arena, items, &roots);
    sort_and_build(&mut arena, items, &roots)
}

/// Step 1: a container per message id, messages put into theirs, References (or In-Reply-To)
/// chains linked parent to child, each message below its last reference.
fn link_references(arena: &mut Arena, items: &[ThreadItem<'_>]) {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let summary = item.index.map(|index| &index.summary);
        let own_id = summary
            .and_then(|s| s.message_id.as_deref())
            .filter(|id| !id.is_empty());
        // Step 1A: the container of this id gets the message; a message without an id, or with
        // the id of a message already seen (a duplicate), gets a container of its own.
        let this = match own_id.and_then(|id| ids.get(id).copied()) {
            Some(c) if arena.nodes[c].item.is_none() => {
                arena.nodes[c].item = Some(i);
                c
            }
            _ => {
                let c = arena.add(Some(i));
                if let Some(id) = own_id {
                    ids.entry(id).or_insert(c);
                }
                c
            }
        };
        // RFC 5256 §3 step 1: References, or when it has no ids the first id of In-Reply-To.
        // A message referencing itself would only make a loop.
        let refs: Vec<&str> = match summary {
            Some(s) if !s.references.is_empty() => {
                s.references.iter().map(String::as_str).collect()
            }
            Some(s) => s.in_reply_to.as_deref().into_iter().collect(),
            None => Vec::new(),
        };
        let mut previous: Option<usize> = None;
        for reference in refs
            .into_iter()
            .filter(|r| !r.is_empty() && Some(*r) != own_id)
        {
            let c = match ids.get(reference) {
                Some(&c) => c,
                None => {
                    let c = arena.add(None);
                    ids.insert(reference, c);
                    c
                }
            };
            // Step 1B: link each to the next unless already linked or it would close a loop.
            if let Some(parent) = previous {
                arena.link(parent, c);
            }
            previous = Some(c);
        }
        // Step 1C: the message's own references decide its parent: drop any link an earlier
        // message's References made, then hang it below its last reference.
        arena.unlink(this);
        if let Some(parent) = previous {
            arena.link(parent, this);
        }
    }
}

/// Step 4: dummies without children go; dummies with children are replaced by their children,
/// except at the top, where a dummy stays unless it has a single child.
fn prune(arena: &mut Arena, roots: &[usize]) -> Vec<usize> {
    for c in arena.post_order(roots) {
        let children = std::mem::take(&mut arena.nodes[c].children);
        let mut kept = Vec::with_capacity(children.len());
        for child in children {
            if !arena.is_dummy(child) {
                kept.push(child);
                continue;
            }
            // Its own children were pruned already (post-order): splice them in.
            let grandchildren = std::mem::take(&mut arena.nodes[child].children);
            arena.nodes[child].parent = None;
            for &g in &grandchildren {
                arena.nodes[g].parent = Some(c);
            }
            kept.extend(grandchildren);
        }
        arena.nodes[c].children = kept;
    }
    let mut pruned = Vec::with_capacity(roots.len());
    for &r in roots {
        if !arena.is_dummy(r) {
            pruned.push(r);
            continue;
        }
        match arena.nodes[r].children.as_slice() {
            [] => {}
            &[only] => {
                arena.nodes[r].children.clear();
                arena.nodes[only].parent = None;
                pruned.push(only);
            }
            _ => pruned.push(r),
        }
    }
    pruned
}

/// Step 5: top-level threads with the same base subject are gathered.
fn group_by_subject(arena: &mut Arena, items: &[ThreadItem<'_>], roots: &[usize]) -> Vec<usize> {
    // The subject of a container: its message's, or for a dummy its first child's.
    let subject_of = |arena: &Arena, c: usize| -> (String, bool) {
        let item = arena.nodes[c].item.or_else(|| {
            arena.nodes[c]
                .children
                .first()
                .and_then(|&ch| arena.nodes[ch].item)
        });
        item.map(|i| subject_key(&items[i])).unwrap_or_default()
    };
    // Step 5B: one container per subject; a dummy is preferred, then a message whose subject
    // is not a reply or forward (JWZ: the reply rule applies between two messages only).
    let mut table: HashMap<String, usize> = HashMap::new();
    for &r in roots {
        let (subject, is_reply) = subject_of(arena, r);
        if subject.is_empty() {
            continue;
        }
        let replace = match table.get(&subject) {
            None => true,
            Some(&old) => {
                (arena.is_dummy(r) && !arena.is_dummy(old))
                    || (!arena.is_dummy(r)
                        && !arena.is_dummy(old)
                        && subject_of(arena, old).1
                        && !is_reply)
            }
        };
        if replace {
            table.insert(subject, r);
        }
    }
    // Step 5C: every other top-level container with that subject joins the one in the table.
    let mut new_roots = Vec::new();
    for &r in roots {
        let (subject, is_reply) = subject_of(arena, r);
        // Already moved below a container made in this step.
        if subject.is_empty() || arena.nodes[r].parent.is_some() {
            continue;
        }
        let Some(&t) = table.get(&subject) else {
            continue;
        };
        if t == r {
            continue;
        }
        match (arena.is_dummy(t), arena.is_dummy(r)) {
            // Both dummies: the children of this one join the other's.
            (true, true) => {
                let children = std::mem::take(&mut arena.nodes[r].children);
                for &ch in &children {
                    arena.nodes[ch].parent = Some(t);
                }
                arena.nodes[t].children.extend(children);
            }
            // A message joins the dummy's children.
            (true, false) => {
                arena.link(t, r);
            }
            // A reply becomes a child of the message it replies to by subject.
            (false, false) if is_reply && !subject_of(arena, t).1 => {
                arena.link(t, r);
            }
            // Otherwise both become children of a new dummy, which takes the table's place.
            _ => {
                let dummy = arena.add(None);
                arena.link(dummy, t);
                arena.link(dummy, r);
                table.insert(subject, dummy);
                new_roots.push(dummy);
            }
        }
    }
    roots
        .iter()
        .chain(&new_roots)
        .copied()
        .filter(|&c| {
            let node = &arena.nodes[c];
            node.parent.is_none() && !(node.item.is_none() && node.children.is_empty())
        })
        .collect()
}

/// Step 6: siblings sorted by sent date (a dummy by its first child's), children before
/// parents; then the arena becomes [`ThreadNode`]s.
fn sort_and_build(arena: &mut Arena, items: &[ThreadItem<'_>], roots: &[usize]) -> Vec<ThreadNode> {
    let mut keys: Vec<(i64, u32)> = vec![(i64::MAX, u32::MAX); arena.nodes.len()];
    let mut built: Vec<Option<ThreadNode>> = Vec::new();
    built.resize_with(arena.nodes.len(), || None);
    for c in arena.post_order(roots) {
        let mut children = std::mem::take(&mut arena.nodes[c].children);
        children.sort_by_key(|&ch| keys[ch]);
        keys[c] = match arena.nodes[c].item {
            Some(i) => date_key(&items[i]),
            None => children
                .first()
                .map_or((i64::MAX, u32::MAX), |&first| keys[first]),
        };
        built[c] = Some(ThreadNode {
            number: arena.nodes[c].item.map(|i| items[i].number),
            children: children.iter().filter_map(|&ch| built[ch].take()).collect(),
        });
    }
    let mut roots = roots.to_vec();
    roots.sort_by_key(|&r| keys[r]);
    roots.into_iter().filter_map(|r| built[r].take()).collect()
}

#[cfg(test)]
mod tests {
    use postwerk_message::MessageIndex;
    use postwerk_store::{BlobId, Flags, MessageMeta};

    use super::*;

    /// A test message: number, subject, sent date, Message-ID, References.
    struct Mail {
        number: u32,
        subject: &'static str,
        date: i64,
        id: Option<&'static str>,
        refs: &'static [&'static str],
    }

    fn mail(
        number: u32,
        subject: &'static str,
        date: i64,
        id: Option<&'static str>,
        refs: &'static [&'static str],
    ) -> Mail {
        Mail {
            number,
            subject,
            date,
            id,
            refs,
        }
    }

    fn metas_and_indexes(mails: &[Mail]) -> (Vec<MessageMeta>, Vec<MessageIndex>) {
        let empty = MessageIndex::parse(b"");
        mails
            .iter()
            .map(|m| {
                let meta = MessageMeta {
                    uid: m.number,
                    modseq: 1,
                    flags: Flags::none(),
                    internal_date: 0,
                    saved_at: 0,
                    size: 1,
                    blob: BlobId::of(b"x"),
                    subject: Some(m.subject.to_string()),
                    from: None,
                    sent_date: Some(m.date),
                    has_attachments: false,
                };
                let mut index = empty.clone();
                index.summary.message_id = m.id.map(str::to_string);
                index.summary.references = m.refs.iter().map(|r| r.to_string()).collect();
                (meta, index)
            })
            .unzip()
    }

    /// Threads the mails and renders the response.
    fn run(mails: &[Mail], algorithm: ThreadAlgorithm) -> String {
        let (metas, indexes) = metas_and_indexes(mails);
        let items: Vec<ThreadItem<'_>> = metas
            .iter()
            .zip(&indexes)
            .map(|(meta, index)| ThreadItem {
                number: meta.uid,
                meta,
                index: Some(index),
            })
            .collect();
        let threads = thread(&items, algorithm);
        let mut out = Vec::new();
        write_thread(&mut out, &threads);
        String::from_utf8(out).expect("ascii")
    }

    fn node(number: u32, children: Vec<ThreadNode>) -> ThreadNode {
        ThreadNode {
            number: Some(number),
            children,
        }
    }

    fn dummy(children: Vec<ThreadNode>) -> ThreadNode {
        ThreadNode {
            number: None,
            children,
        }
    }

    fn render(threads: &[ThreadNode]) -> String {
        let mut out = Vec::new();
        write_thread(&mut out, threads);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn response_follows_rfc_5256_section_4() {
        // RFC 5256 §4: `(2)(3 6 (4 23)(44 7 96))`.
        let threads = vec![
            node(2, vec![]),
            node(
                3,
                vec![node(
                    6,
                    vec![
                        node(4, vec![node(23, vec![])]),
                        node(44, vec![node(7, vec![node(96, vec![])])]),
                    ],
                )],
            ),
        ];
        assert_eq!(render(&threads), "* THREAD (2)(3 6 (4 23)(44 7 96))\r\n");
        // RFC 5256 §4: a dummy parent of two threads, `((3)(5))`.
        assert_eq!(
            render(&[dummy(vec![node(3, vec![]), node(5, vec![])])]),
            "* THREAD ((3)(5))\r\n"
        );
        assert_eq!(render(&[]), "* THREAD\r\n");
        assert_eq!(render(&[dummy(vec![])]), "* THREAD\r\n");
        // A dummy with one child writes just the child.
        assert_eq!(
            render(&[node(1, vec![dummy(vec![node(2, vec![])]), node(3, vec![])])]),
            "* THREAD (1 (2)(3))\r\n"
        );
    }

    #[test]
    fn ordered_subject_groups_by_base_subject() {
        let mails = [
            mail(1, "Hello", 100, None, &[]),
            mail(2, "Re: hello", 300, None, &[]),
            mail(3, "Other", 50, None, &[]),
            mail(4, "[list] Fwd: Hello", 200, None, &[]),
            mail(5, "", 10, None, &[]),
            mail(6, "Lone", 400, None, &[]),
            mail(7, "other (fwd)", 60, None, &[]),
        ];
        // Threads by their first message's date: "" (10), Other (50), Hello (100), Lone (400).
        assert_eq!(
            run(&mails, ThreadAlgorithm::OrderedSubject),
            "* THREAD (5)(3 7)(1 (4)(2))(6)\r\n"
        );
    }

    #[test]
    fn references_links_replies_and_makes_dummies_for_missing_parents() {
        let mails = [
            mail(1, "Topic", 100, Some("a"), &[]),
            mail(2, "Re: Topic", 200, Some("b"), &["a"]),
            mail(3, "Re: Topic", 300, Some("c"), &["a", "b"]),
            mail(4, "Re: Topic", 250, Some("d"), &["a"]),
            // Parent "x" is not in the set: 5 and 6 share a dummy at the top.
            mail(5, "Re: Lost", 50, Some("e"), &["x"]),
            mail(6, "Re: Lost", 60, Some("f"), &["x"]),
            // Parent "y" missing and only one child: the dummy is pruned.
            mail(7, "Re: Alone", 70, Some("g"), &["y"]),
            // References through a missing middle message: "z" is a dummy between 1 and 8,
            // pruned away, so 8 hangs below 1.
            mail(8, "Re: Topic", 400, Some("h"), &["a", "z"]),
        ];
        assert_eq!(
            run(&mails, ThreadAlgorithm::References),
            "* THREAD ((5)(6))(7)(1 (2 3)(4)(8))\r\n"
        );
    }

    #[test]
    fn references_gathers_threads_by_subject() {
        let mails = [
            // Same base subject, no references: a dummy groups the two originals.
            mail(1, "Plans", 100, Some("a"), &[]),
            mail(2, "plans", 200, Some("b"), &[]),
            // A reply by subject only becomes a child of the original.
            mail(3, "Lunch", 50, Some("c"), &[]),
            mail(4, "Re: Lunch", 80, Some("d"), &[]),
            // An empty subject is never gathered.
            mail(5, "", 10, Some("e"), &[]),
            mail(6, "Re:", 20, Some("f"), &[]),
        ];
        assert_eq!(
            run(&mails, ThreadAlgorithm::References),
            "* THREAD (5)(6)(3 4)((1)(2))\r\n"
        );
    }

    #[test]
    fn references_survives_loops_duplicates_and_self_references() {
        let mails = [
            // 1 says its parent is 2, 2 says its parent is 1: the second link would close a
            // loop and is refused.
            mail(1, "A", 100, Some("one"), &["two"]),
            mail(2, "B", 200, Some("two"), &["one"]),
            // A duplicate Message-ID gets a container of its own.
            mail(3, "C", 300, Some("dup"), &[]),
            mail(4, "D", 400, Some("dup"), &[]),
            // A message referencing itself.
            mail(5, "E", 500, Some("self"), &["self"]),
            // References in a loop among themselves.
            mail(6, "F", 600, Some("six"), &["p", "q", "p"]),
        ];
        assert_eq!(
            run(&mails, ThreadAlgorithm::References),
            "* THREAD (2 1)(3)(4)(5)(6)\r\n"
        );
    }

    #[test]
    fn later_references_do_not_steal_a_parent_set_by_the_message_itself() {
        // 3 is a reply to 2; 4 wrongly lists 3 directly below 1. 3's own References win when 3
        // is processed after 4.
        let mails = [
            mail(1, "S", 100, Some("a"), &[]),
            mail(2, "Re: S", 200, Some("b"), &["a"]),
            mail(4, "Re: S", 400, Some("d"), &["a", "c"]),
            mail(3, "Re: S", 300, Some("c"), &["a", "b"]),
        ];
        assert_eq!(
            run(&mails, ThreadAlgorithm::References),
            "* THREAD (1 2 3 4)\r\n"
        );
    }

    #[test]
    fn messages_without_index_thread_by_subject() {
        let (metas, _) =
            metas_and_indexes(&[mail(1, "x", 1, None, &[]), mail(2, "Re: x", 2, None, &[])]);
        let items: Vec<ThreadItem<'_>> = metas
            .iter()
            .map(|meta| ThreadItem {
                number: meta.uid,
                meta,
                index: None,
            })
            .collect();
        let threads = thread(&items, ThreadAlgorithm::References);
        assert_eq!(threads, vec![node(1, vec![node(2, vec![])])]);
        assert!(needs_index(ThreadAlgorithm::References));
        assert!(!needs_index(ThreadAlgorithm::OrderedSubject));
    }

    #[test]
    fn a_very_deep_chain_neither_recurses_nor_overflows() {
        const DEPTH: u32 = 50_000;
        let empty = MessageIndex::parse(b"");
        let base = MessageMeta {
            uid: 0,
            modseq: 1,
            flags: Flags::none(),
            internal_date: 0,
            saved_at: 0,
            size: 1,
            blob: BlobId::of(b"x"),
            subject: Some("Re: deep".into()),
            from: None,
            sent_date: None,
            has_attachments: false,
        };
        let metas: Vec<MessageMeta> = (1..=DEPTH)
            .map(|n| MessageMeta {
                uid: n,
                sent_date: Some(i64::from(n)),
                ..base.clone()
            })
            .collect();
        let indexes: Vec<MessageIndex> = (1..=DEPTH)
            .map(|n| {
                let mut index = empty.clone();
                index.summary.message_id = Some(format!("m{n}"));
                if n > 1 {
                    index.summary.references = vec![format!("m{}", n - 1)];
                }
                index
            })
            .collect();
        let items: Vec<ThreadItem<'_>> = metas
            .iter()
            .zip(&indexes)
            .map(|(meta, index)| ThreadItem {
                number: meta.uid,
                meta,
                index: Some(index),
            })
            .collect();
        let threads = thread(&items, ThreadAlgorithm::References);
        assert_eq!(threads.len(), 1);
        let mut out = Vec::new();
        write_thread(&mut out, &threads);
        let expected: Vec<String> = (1..=DEPTH).map(|n| n.to_string()).collect();
        assert_eq!(
            out,
            format!("* THREAD ({})\r\n", expected.join(" ")).into_bytes()
        );
        drop(threads);
        // ORDEREDSUBJECT of the same: one parent with every other message as a child.
        let flat = thread(&items, ThreadAlgorithm::OrderedSubject);
        assert_eq!(flat.len(), 1);
        assert_eq!(flat[0].children.len(), DEPTH as usize - 1);
    }
}
