//! CLOSE (RFC 9051 §6.4.1) and UNSELECT (RFC 3691): leave the selected folder; CLOSE also
//! removes the messages marked `\Deleted`, silently, unless the folder was opened read-only.

use crate::ops::store_error;
use crate::response::Status;
use crate::session::{Connection, Flow, Session};

/// CLOSE.
pub(crate) async fn close(session: &mut Session, conn: &mut Connection, tag: &str) -> Flow {
    let Some(selected) = session.selected.take() else {
        return session.answer(conn, Status::bad(tag, "No folder selected"));
    };
    if !selected.read_only
        && let Err(error) = session.server.mail.expunge(selected.folder, None).await
    {
        return session.answer(conn, store_error(tag, error));
    }
    session.answer(conn, Status::ok(tag, "CLOSE completed"))
}

/// UNSELECT.
pub(crate) async fn unselect(session: &mut Session, conn: &mut Connection, tag: &str) -> Flow {
    session.selected = None;
    session.answer(conn, Status::ok(tag, "UNSELECT completed"))
}
