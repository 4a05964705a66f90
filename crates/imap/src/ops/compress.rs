//! COMPRESS DEFLATE (RFC 4978): once the OK is sent, both directions are raw DEFLATE. Only
//! once per connection (§3: `NO [COMPRESSIONACTIVE]` for a second), and only DEFLATE.

use crate::response::Status;
use crate::session::{Connection, Flow, Session};

/// COMPRESS.
pub(crate) fn run(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    mechanism: &str,
) -> Flow {
    if session.compressed {
        return session.answer(
            conn,
            Status::no(tag, "Compression is already active").code("COMPRESSIONACTIVE"),
        );
    }
    if !mechanism.eq_ignore_ascii_case("DEFLATE") {
        return session.answer(conn, Status::bad(tag, "Only DEFLATE is offered"));
    }
    conn.push(&Status::ok(tag, "DEFLATE active"));
    Flow::Compress
}
