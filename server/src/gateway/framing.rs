//! Request framing as it arrived on the wire. hyper resolves a request carrying both
//! `Content-Length` and `Transfer-Encoding` itself (chunked wins, the length is dropped
//! from the headers), so the handler cannot see that a client tried to smuggle; the
//! contract wants `400`. [`Watched`] reads along with hyper: it follows each request
//! head and skips its body (by length or by chunks), and leaves one verdict per head in
//! order, which the connection's service takes for each request it is handed.
//! Anything it cannot follow ends the watching, and the requests after that get no
//! verdict: they are refused (failure closes).

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What the wire said of one request head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Plain,
    /// `Content-Length` and `Transfer-Encoding` together.
    Ambiguous,
}

/// The verdicts of one connection, in request order.
#[derive(Clone, Default)]
pub(super) struct Verdicts(Arc<Mutex<VecDeque<Verdict>>>);

impl Verdicts {
    /// The verdict of the next request (`None`: its head could not be followed).
    pub(super) fn next(&self) -> Option<Verdict> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).pop_front()
    }

    fn push(&self, v: Verdict) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(v);
    }
}

/// The longest line kept while following a head (hyper refuses longer heads).
const MAX_LINE: usize = 16 * 1024;

enum State {
    Head {
        line: Vec<u8>,
        started: bool,
        length: Option<u64>,
        te: bool,
        cl: bool,
        upgrade: bool,
    },
    Body(u64),
    ChunkSize(Vec<u8>),
    ChunkData(u64),
    ChunkEnd(u8),
    Trailers(Vec<u8>),
    /// No longer followed (an upgrade, an ambiguous or unreadable head).
    Done,
}

fn new_head() -> State {
    State::Head {
        line: Vec::new(),
        started: false,
        length: None,
        te: false,
        cl: false,
        upgrade: false,
    }
}

/// A connection's byte stream, followed on the way in.
pub(super) struct Watched<T> {
    io: T,
    state: State,
    verdicts: Verdicts,
}

impl<T> Watched<T> {
    pub(super) fn new(io: T, verdicts: Verdicts) -> Self {
        Watched {
            io,
            state: new_head(),
            verdicts,
        }
    }

    fn follow(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Done => return,
                State::Body(left) => {
                    let n = (*left).min(bytes.len() as u64);
                    *left -= n;
                    bytes = &bytes[n as usize..];
                    if *left == 0 {
                        self.state = new_head();
                    }
                }
                State::ChunkData(left) => {
                    let n = (*left).min(bytes.len() as u64);
                    *left -= n;
                    bytes = &bytes[n as usize..];
                    if *left == 0 {
                        self.state = State::ChunkEnd(2);
                    }
                }
                State::ChunkEnd(left) => {
                    *left -= 1;
                    bytes = &bytes[1..];
                    if *left == 0 {
                        self.state = State::ChunkSize(Vec::new());
                    }
                }
                State::Head { line, .. } | State::ChunkSize(line) | State::Trailers(line) => {
                    let Some(end) = bytes.iter().position(|b| *b == b'\n') else {
                        if line.len() + bytes.len() > MAX_LINE {
                            self.state = State::Done;
                        } else {
                            line.extend_from_slice(bytes);
                        }
                        return;
                    };
                    if line.len() + end > MAX_LINE {
                        self.state = State::Done;
                        return;
                    }
                    // A line read whole is followed where it lies; only one split
                    // between reads is copied.
                    let (text, rest) = (&bytes[..end], &bytes[end + 1..]);
                    if line.is_empty() {
                        self.state = self.line(without_cr(text));
                    } else {
                        line.extend_from_slice(text);
                        let whole = std::mem::take(line);
                        self.state = self.line(without_cr(&whole));
                    }
                    bytes = rest;
                }
            }
        }
    }

    /// The state after one whole line.
    fn line(&mut self, text: &[u8]) -> State {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Head {
                line,
                started,
                length,
                te,
                cl,
                upgrade,
            } => {
                if !started {
                    return State::Head {
                        line,
                        started: !text.is_empty(),
                        length,
                        te,
                        cl,
                        upgrade,
                    };
                }
                if text.is_empty() {
                    if te && cl {
                        self.verdicts.push(Verdict::Ambiguous);
                        return State::Done;
                    }
                    self.verdicts.push(Verdict::Plain);
                    return if upgrade {
                        State::Done
                    } else if te {
                        State::ChunkSize(Vec::new())
                    } else {
                        match length {
                            Some(n) if n > 0 => State::Body(n),
                            _ => new_head(),
                        }
                    };
                }
                let Some(colon) = text.iter().position(|b| *b == b':') else {
                    return State::Done;
                };
                let name = &text[..colon];
                let value = text[colon + 1..].trim_ascii();
                let mut next = (length, te, cl, upgrade);
                if name.eq_ignore_ascii_case(b"content-length") {
                    next.2 = true;
                    match std::str::from_utf8(value).map(str::parse::<u64>) {
                        Ok(Ok(n)) => next.0 = Some(n),
                        _ => return State::Done,
                    }
                } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                    next.1 = true;
                } else if name.eq_ignore_ascii_case(b"upgrade") {
                    next.3 = true;
                }
                State::Head {
                    line,
                    started,
                    length: next.0,
                    te: next.1,
                    cl: next.2,
                    upgrade: next.3,
                }
            }
            State::ChunkSize(_) => {
                let size = text.split(|b| *b == b';').next().unwrap_or(b"");
                let size = std::str::from_utf8(size)
                    .ok()
                    .and_then(|s| u64::from_str_radix(s.trim(), 16).ok());
                match size {
                    Some(0) => State::Trailers(Vec::new()),
                    Some(n) => State::ChunkData(n),
                    None => State::Done,
                }
            }
            State::Trailers(_) if text.is_empty() => new_head(),
            State::Trailers(_) => State::Trailers(Vec::new()),
            _ => State::Done,
        }
    }
}

fn without_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.follow(&buf.filled()[before..]);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(chunks: &[&[u8]]) -> Vec<Verdict> {
        let v = Verdicts::default();
        let mut w = Watched::new((), v.clone());
        for c in chunks {
            w.follow(c);
        }
        std::iter::from_fn(|| v.next()).collect()
    }

    #[test]
    fn heads_are_followed_across_bodies_and_reads() {
        let plain = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".as_slice();
        let sized =
            b"POST /a HTTP/1.1\r\nContent-Length: 26\r\n\r\nTransfer-Encoding: x\r\n\r\n\r\n"
                .as_slice();
        let chunked = b"POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\nT: 1\r\n\r\n".as_slice();
        let all = [plain, sized, chunked, plain].concat();
        use Verdict::*;
        assert_eq!(verdicts(&[&all]), [Plain, Plain, Plain, Plain]);
        let bytewise: Vec<&[u8]> = all.chunks(1).collect();
        assert_eq!(verdicts(&bytewise), [Plain, Plain, Plain, Plain]);
        let smuggled = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\ncontent-length: 3\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        assert_eq!(
            verdicts(&[smuggled]),
            [Ambiguous],
            "nothing is followed after it"
        );
        let upgraded = b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        assert_eq!(verdicts(&[upgraded]), [Plain]);
    }
}
