//! BDAT (RFC 3030 CHUNKING): `BDAT <size> [LAST]` followed by exactly `size` octets.
//!
//! The octets are read whatever the verdict, so the session stays in step with a pipelining
//! client (RFC 3030 §4.2: the server must read the chunk even when it refuses it).

use tokio::io::{AsyncRead, AsyncWrite};

use crate::framing::Chunks;
use crate::ops::data;
use crate::reply;
use crate::session::{Conn, Flow, Phase, Session};

pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
    size: usize,
    last: bool,
) -> Flow {
    let max = session.server.limits.max_message_size;
    // Where the octets go: into the transaction if there is one that may take them.
    let accepting = match &session.phase {
        Phase::Mail(tx) => !tx.recipients.is_empty(),
        _ => false,
    };
    let mut chunk_ok = true;
    let read = if accepting {
        let Phase::Mail(tx) = &mut session.phase else {
            return Flow::Close;
        };
        let chunks = tx.chunks.get_or_insert_with(Chunks::default);
        conn.read_exact_into(size, |bytes| chunk_ok &= chunks.push(bytes, max))
            .await
    } else {
        conn.read_exact_into(size, |_| {}).await
    };
    if let Err(stop) = read {
        session.stopped(conn, stop);
        return Flow::Close;
    }
    match &session.phase {
        Phase::Mail(tx) if tx.recipients.is_empty() => {
            return session.answer(conn, reply::no_recipients());
        }
        Phase::Mail(_) => {}
        _ => return session.answer(conn, reply::bad_sequence("Send MAIL first")),
    }
    if !chunk_ok {
        // RCV-7: refuse at once; later chunks of this message find no transaction.
        session.phase = Phase::Greeted;
        return session.answer(conn, reply::too_big());
    }
    if !last {
        return session.answer(conn, reply::chunk_received(size));
    }
    let Phase::Mail(tx) = &mut session.phase else {
        return Flow::Close;
    };
    let received = tx.chunks.take().unwrap_or_default().finish(max);
    data::finish(session, conn, received).await
}
