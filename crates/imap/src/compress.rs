//! IMAP COMPRESS=DEFLATE (RFC 4978): the session's byte stream wrapped in raw DEFLATE
//! (RFC 1951, no zlib header or checksum, RFC 4978 §3) in both directions.
//!
//! Every flush of the session ends in a DEFLATE sync flush (RFC 4978 §4), so each batch of
//! responses reaches the client whole instead of waiting in the compressor for more. Shutdown
//! ends the DEFLATE stream with its final block, then shuts the inner stream down.
//!
//! Memory: the compressor and decompressor keep their state for the whole session: about
//! 312 KiB for `miniz_oxide`'s compressor (window, hash chains, code and output buffers, the
//! same at every level) and about 42 KiB for its decompressor (32 KiB window and tables). That
//! is far above an idle session's budget, which is why COMPRESS is only what a client asks for.
//! The buffers of compressed octets in each direction (8 KiB for output) are released
//! whenever they are empty, so an idle session holds nothing beyond the two states.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::server::BoxStream;

/// The compression level. With `miniz_oxide` the level changes speed and ratio, not memory.
/// On mail-like text flushed every 4 KiB, level 3 compresses to within about 6% of level 6's
/// size at about half its CPU, while level 1 (the greedy fast path) sends about 40% more.
const LEVEL: u32 = 3;

/// How many compressed octets are read from the inner stream at once.
const READ_CHUNK: usize = 8 * 1024;

/// The room given to the compressor for each step; the output buffer never grows past it.
const WRITE_CHUNK: usize = 8 * 1024;

/// Where the write side stands with respect to the last flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flush {
    /// Everything written so far has been compressed and sync-flushed.
    Clean,
    /// Data was compressed since the last sync flush.
    Dirty,
    /// A sync flush was started and the compressor may still hold part of its output.
    Flushing,
}

/// A byte stream whose both directions are compressed with raw DEFLATE (RFC 4978).
pub(crate) struct Compressed {
    inner: BoxStream,
    inflate: Decompress,
    deflate: Compress,
    /// Compressed input read from `inner` (or handed over as pending) and not inflated yet,
    /// from `input_start` on.
    input: Vec<u8>,
    input_start: usize,
    /// The inner stream reached end of file.
    input_eof: bool,
    /// The client's DEFLATE stream ended with its final block (RFC 1951 §3.2.3): end of file.
    inflate_done: bool,
    /// The client's DEFLATE stream was corrupt; every later read fails.
    inflate_failed: bool,
    /// Compressed output not yet written to `inner`, from `output_start` on.
    output: Vec<u8>,
    output_start: usize,
    flush: Flush,
    /// The DEFLATE stream was finished (shutdown); nothing more may be written.
    deflate_done: bool,
}

impl std::fmt::Debug for Compressed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compressed")
            .field("inflated", &self.inflate.total_out())
            .field("deflated", &self.deflate.total_in())
            .field("flush", &self.flush)
            .finish_non_exhaustive()
    }
}

impl Compressed {
    /// Wraps `inner`. `pending` holds the octets the client sent after the COMPRESS command
    /// and that were already read: the start of its compressed stream.
    pub(crate) fn new(inner: BoxStream, pending: Vec<u8>) -> Compressed {
        Compressed {
            inner,
            inflate: Decompress::new(false),
            deflate: Compress::new(Compression::new(LEVEL), false),
            input: pending,
            input_start: 0,
            input_eof: false,
            inflate_done: false,
            inflate_failed: false,
            output: Vec::new(),
            output_start: 0,
            flush: Flush::Clean,
            deflate_done: false,
        }
    }

    /// Reads more compressed input from the inner stream; `Ok(false)` at its end of file.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        let mut chunk = [0u8; READ_CHUNK];
        let mut buf = ReadBuf::new(&mut chunk);
        ready!(Pin::new(&mut self.inner).poll_read(cx, &mut buf))?;
        if buf.filled().is_empty() {
            return Poll::Ready(Ok(false));
        }
        if self.input_start == self.input.len() {
            self.input.clear();
            self.input_start = 0;
        }
        self.input.extend_from_slice(buf.filled());
        Poll::Ready(Ok(true))
    }

    /// Inflates what input there is into `out`: (octets consumed, octets produced).
    fn inflate_step(&mut self, out: &mut [u8]) -> io::Result<(usize, usize)> {
        let (in_before, out_before) = (self.inflate.total_in(), self.inflate.total_out());
        let status =
            self.inflate
                .decompress(&self.input[self.input_start..], out, FlushDecompress::None);
        let status = match status {
            Ok(status) => status,
            Err(error) => {
                self.inflate_failed = true;
                self.input = Vec::new();
                self.input_start = 0;
                return Err(io::Error::new(io::ErrorKind::InvalidData, error));
            }
        };
        let consumed = usize::try_from(self.inflate.total_in() - in_before).unwrap_or(usize::MAX);
        let produced = usize::try_from(self.inflate.total_out() - out_before).unwrap_or(usize::MAX);
        self.input_start = (self.input_start + consumed).min(self.input.len());
        if self.input_start == self.input.len() {
            // Nothing left: give the memory back (an idle session holds no input buffer).
            self.input = Vec::new();
            self.input_start = 0;
        }
        if status == Status::StreamEnd {
            self.inflate_done = true;
        }
        Ok((consumed, produced))
    }

    /// Compresses `data` with `flush` into the output buffer, which must have been drained:
    /// (octets consumed, whether the compressor filled all the room it was given, status).
    fn deflate_step(
        &mut self,
        data: &[u8],
        flush: FlushCompress,
    ) -> io::Result<(usize, bool, Status)> {
        self.output.reserve(WRITE_CHUNK);
        let room = self.output.capacity() - self.output.len();
        let (in_before, out_before) = (self.deflate.total_in(), self.deflate.total_out());
        let status = self
            .deflate
            .compress_vec(data, &mut self.output, flush)
            .map_err(io::Error::other)?;
        let consumed = usize::try_from(self.deflate.total_in() - in_before).unwrap_or(usize::MAX);
        let produced = usize::try_from(self.deflate.total_out() - out_before).unwrap_or(usize::MAX);
        Ok((consumed, produced >= room, status))
    }

    /// Writes the whole output buffer to the inner stream.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.output_start < self.output.len() {
            let n = ready!(
                Pin::new(&mut self.inner).poll_write(cx, &self.output[self.output_start..])
            )?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.output_start += n;
        }
        self.output.clear();
        self.output_start = 0;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Compressed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.inflate_failed {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "corrupt DEFLATE stream",
            )));
        }
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            if this.inflate_done {
                return Poll::Ready(Ok(()));
            }
            // Also with no input: the decompressor may still hold output from the last call.
            let (consumed, produced) = this.inflate_step(buf.initialize_unfilled())?;
            if produced > 0 {
                buf.advance(produced);
                return Poll::Ready(Ok(()));
            }
            if consumed > 0 {
                continue;
            }
            if this.input_eof {
                // The client closed the connection without ending its DEFLATE stream, as
                // clients do; only a cut in the middle of buffered input is an error.
                return Poll::Ready(if this.input.is_empty() {
                    Ok(())
                } else {
                    Err(io::ErrorKind::UnexpectedEof.into())
                });
            }
            if !ready!(this.poll_fill(cx))? {
                this.input_eof = true;
            }
        }
    }
}

impl AsyncWrite for Compressed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.deflate_done {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after the DEFLATE stream ended",
            )));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            // Output waiting for the inner stream is sent first: that bounds the buffer and
            // passes the inner stream's back-pressure on.
            ready!(this.poll_drain(cx))?;
            let (consumed, filled, _) = this.deflate_step(data, FlushCompress::None)?;
            if consumed > 0 {
                this.flush = Flush::Dirty;
                return Poll::Ready(Ok(consumed));
            }
            if !filled {
                return Poll::Ready(Err(io::Error::other("DEFLATE compressor made no progress")));
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            ready!(this.poll_drain(cx))?;
            let flush = match this.flush {
                Flush::Clean => break,
                // RFC 4978 §4: a sync flush after each batch of responses.
                Flush::Dirty => FlushCompress::Sync,
                // The rest of the sync flush's output, which did not fit the last step: zlib
                // asks for the same flush again until the output has room to spare (zlib.h,
                // deflate(): "called again with the same value of the flush parameter"). With
                // `None` the last bits could stay inside the compressor, and a client would
                // wait for a response that never came.
                Flush::Flushing => FlushCompress::Sync,
            };
            let (_, filled, _) = this.deflate_step(&[], flush)?;
            this.flush = if filled {
                Flush::Flushing
            } else {
                Flush::Clean
            };
        }
        ready!(Pin::new(&mut this.inner).poll_flush(cx))?;
        this.output = Vec::new();
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            ready!(this.poll_drain(cx))?;
            if this.deflate_done {
                break;
            }
            // The final block tells the client the stream ended cleanly (RFC 1951 §3.2.3).
            let (_, _, status) = this.deflate_step(&[], FlushCompress::Finish)?;
            if status == Status::StreamEnd {
                this.deflate_done = true;
                this.flush = Flush::Clean;
            }
        }
        ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
        this.output = Vec::new();
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Duration;

    use flate2::write::{DeflateDecoder, DeflateEncoder};
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    use super::*;

    /// Raw DEFLATE of `parts`, each part ending in a sync flush: one chunk per part.
    fn compress_parts(parts: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
        let mut chunks = Vec::new();
        for part in parts {
            encoder.write_all(part).unwrap();
            encoder.flush().unwrap();
            chunks.push(std::mem::take(encoder.get_mut()));
        }
        chunks
    }

    /// Text that compresses like mail, and enough of it to span many output steps.
    fn big_text() -> Vec<u8> {
        let mut text = Vec::new();
        let mut x: u32 = 12345;
        for i in 0..20_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            writeln!(
                text,
                "* {i} FETCH (UID {} FLAGS (\\Seen)) {:08x}\r",
                i + 7,
                x
            )
            .unwrap();
        }
        text
    }

    #[tokio::test]
    async fn each_flush_is_a_whole_decodable_chunk() {
        let (ours, mut theirs) = duplex(64 * 1024);
        let mut stream = Compressed::new(Box::new(ours), Vec::new());
        let responses: [&[u8]; 4] = [
            b"* OK [CAPABILITY IMAP4rev1 IMAP4rev2] ready\r\n",
            b"* 3 EXISTS\r\n* 0 RECENT\r\na1 OK [READ-WRITE] SELECT completed\r\n",
            b"* 3 EXISTS\r\n* 0 RECENT\r\na2 OK [READ-WRITE] SELECT completed\r\n",
            b"a3 OK NOOP completed\r\n",
        ];
        let mut decoder = DeflateDecoder::new(Vec::new());
        let mut expected = Vec::new();
        for response in responses {
            // Written in small pieces, as a session's output may be.
            for piece in response.chunks(7) {
                stream.write_all(piece).await.unwrap();
            }
            stream.flush().await.unwrap();
            let mut chunk = vec![0; 64 * 1024];
            let n = theirs.read(&mut chunk).await.unwrap();
            let chunk = &chunk[..n];
            assert!(chunk.ends_with(&[0, 0, 0xff, 0xff]), "sync flush marker");
            decoder.write_all(chunk).unwrap();
            decoder.flush().unwrap();
            expected.extend_from_slice(response);
            assert_eq!(decoder.get_ref(), &expected, "the whole response, decoded");
        }
        // A flush with nothing new sends nothing.
        stream.flush().await.unwrap();
        stream.shutdown().await.unwrap();
        let mut rest = Vec::new();
        theirs.read_to_end(&mut rest).await.unwrap();
        decoder.write_all(&rest).unwrap();
        assert_eq!(decoder.finish().unwrap(), expected, "stream ended cleanly");
        assert!(
            stream.write(b"late").await.is_err(),
            "no write after shutdown"
        );
    }

    #[tokio::test]
    async fn large_output_through_a_narrow_pipe() {
        let (ours, mut theirs) = duplex(1024);
        let text = big_text();
        let sent = text.clone();
        let writer = tokio::spawn(async move {
            let mut stream = Compressed::new(Box::new(ours), Vec::new());
            stream.write_all(&sent).await.unwrap();
            stream.flush().await.unwrap();
            stream.shutdown().await.unwrap();
        });
        let mut wire = Vec::new();
        theirs.read_to_end(&mut wire).await.unwrap();
        writer.await.unwrap();
        assert!(
            wire.len() < text.len() / 2,
            "compressed: {} of {}",
            wire.len(),
            text.len()
        );
        let mut decoder = DeflateDecoder::new(Vec::new());
        decoder.write_all(&wire).unwrap();
        assert_eq!(decoder.finish().unwrap(), text);
    }

    #[tokio::test]
    async fn a_flush_larger_than_the_output_buffer() {
        // Incompressible octets stay in the compressor until the flush, which then has far
        // more than one output step to send.
        let mut x: u32 = 99;
        let noise: Vec<u8> = (0..48 * 1024)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        let (ours, mut theirs) = duplex(1024);
        let sent = noise.clone();
        let writer = tokio::spawn(async move {
            let mut stream = Compressed::new(Box::new(ours), Vec::new());
            stream.write_all(&sent).await.unwrap();
            stream.flush().await.unwrap();
            stream
        });
        let mut decoder = DeflateDecoder::new(Vec::new());
        let mut chunk = vec![0; 4096];
        while decoder.get_ref().len() < noise.len() {
            // A deadline, not a timing assertion: output stuck in the compressor must fail
            // the test rather than hang it.
            let n = tokio::time::timeout(Duration::from_secs(60), theirs.read(&mut chunk))
                .await
                .expect("the flush sent everything")
                .unwrap();
            assert!(n > 0, "the flush sent everything");
            decoder.write_all(&chunk[..n]).unwrap();
            decoder.flush().unwrap();
        }
        assert_eq!(decoder.get_ref(), &noise);
        drop(writer.await.unwrap());
    }

    #[tokio::test]
    async fn pending_input_is_inflated_first() {
        let commands: [&[u8]; 3] = [b"a1 NOOP\r\n", b"a2 SELECT INBOX\r\n", b"a3 LOGOUT\r\n"];
        let chunks = compress_parts(&commands);
        // The first command and part of the second were read before COMPRESS took over.
        let split = chunks[1].len() / 2;
        let mut pending = chunks[0].clone();
        pending.extend_from_slice(&chunks[1][..split]);
        let (ours, mut theirs) = duplex(64 * 1024);
        let mut stream = Compressed::new(Box::new(ours), pending);

        // The first command (and what can be of the second) comes out of `pending` alone,
        // without waiting for the client.
        let all = commands.concat();
        let mut buf = vec![0; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("not blocked on the inner stream")
            .unwrap();
        assert!(n >= commands[0].len(), "{:?}", &buf[..n]);
        assert_eq!(&buf[..n], &all[..n]);

        theirs.write_all(&chunks[1][split..]).await.unwrap();
        theirs.write_all(&chunks[2]).await.unwrap();
        drop(theirs);
        // Read one octet at a time: the decompressor hands out what it holds across calls.
        let mut rest = buf[..n].to_vec();
        let mut one = [0u8; 1];
        loop {
            let n = stream.read(&mut one).await.unwrap();
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&one[..n]);
        }
        assert_eq!(rest, all);
    }

    #[tokio::test]
    async fn large_input_read_back() {
        let text = big_text();
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(&text).unwrap();
        let wire = encoder.finish().unwrap();
        let (ours, mut theirs) = duplex(1024);
        let (pending, rest) = wire.split_at(100);
        let mut stream = Compressed::new(Box::new(ours), pending.to_vec());
        let rest = rest.to_vec();
        let client = tokio::spawn(async move {
            theirs.write_all(&rest).await.unwrap();
            // Keep the connection open: the final block alone ends the input.
            theirs
        });
        let mut read = Vec::new();
        stream.read_to_end(&mut read).await.unwrap();
        assert_eq!(read, text);
        drop(client.await.unwrap());
    }

    #[tokio::test]
    async fn corrupt_input_is_an_error() {
        // BTYPE 11 is reserved (RFC 1951 §3.2.3).
        for (pending, wire) in [
            (vec![0xff; 16], Vec::new()),
            (Vec::new(), vec![0xff; 16]),
            (compress_parts(&[b"a1 NOOP\r\n"]).remove(0), vec![0xff; 16]),
        ] {
            let (ours, mut theirs) = duplex(1024);
            let mut stream = Compressed::new(Box::new(ours), pending);
            theirs.write_all(&wire).await.unwrap();
            let mut buf = vec![0; 4096];
            let mut result = stream.read(&mut buf).await;
            if let Ok(n) = result {
                assert_eq!(&buf[..n], b"a1 NOOP\r\n");
                result = stream.read(&mut buf).await;
            }
            let error = result.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData);
            let error = stream.read(&mut buf).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData, "stays failed");
        }
    }

    #[tokio::test]
    async fn client_closing_without_final_block_is_end_of_file() {
        let chunks = compress_parts(&[b"a1 LOGOUT\r\n"]);
        let (ours, mut theirs) = duplex(1024);
        let mut stream = Compressed::new(Box::new(ours), Vec::new());
        theirs.write_all(&chunks[0]).await.unwrap();
        drop(theirs);
        let mut read = Vec::new();
        stream.read_to_end(&mut read).await.unwrap();
        assert_eq!(read, b"a1 LOGOUT\r\n");
    }
}
