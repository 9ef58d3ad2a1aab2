//! The streamed rewrite of one HTML answer: the body decoded (gzip, deflate, br), fed
//! chunk by chunk through lol_html (Cloudflare's streaming rewriter), which puts the
//! loader's `<script>` first in `<head>` and amends a `<meta>` CSP; what it emits is sent
//! at once, uncompressed. Once the script is in and `<body>` has begun, the rest of the
//! page passes untouched (nothing there is rewritten). Memory per page is bounded (`MAX_REWRITER_MEMORY`, one read
//! buffer); nothing waits for the whole page. An error (a broken upstream body, a
//! corrupt compressed stream, markup past the memory bound) ends the body with an error,
//! so the browser sees a failed load, never a page cut short as if complete.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder, ZlibDecoder};
use axum::body::{Body, Bytes};
use futures_util::TryStreamExt;
use lol_html::html_content::ContentType;
use lol_html::send::{HtmlRewriter, Settings};
use lol_html::{element, end, AsciiCompatibleEncoding, MemorySettings};
use tokio::io::{AsyncRead, AsyncReadExt, BufReader};
use tokio_util::io::StreamReader;

use super::csp;

/// The most memory lol_html may use for one page (it buffers only inside a tag).
pub(crate) const MAX_REWRITER_MEMORY: usize = 1 << 20;

/// The read buffer: what is decoded and rewritten at a time.
const CHUNK: usize = 16 * 1024;

/// What the rewriter is given at a time, until the rest of the page can pass untouched.
const SLICE: usize = 1024;

/// How the upstream's body is compressed (`Content-Encoding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Coding {
    Identity,
    Gzip,
    Deflate,
    Brotli,
}

impl Coding {
    /// The coding a `Content-Encoding` value names; `None` for one not decoded here
    /// (or several stacked).
    pub(crate) fn of(value: Option<&str>) -> Option<Coding> {
        let Some(v) = value else {
            return Some(Coding::Identity);
        };
        match v.trim().to_ascii_lowercase().as_str() {
            "" | "identity" => Some(Coding::Identity),
            "gzip" | "x-gzip" => Some(Coding::Gzip),
            "deflate" => Some(Coding::Deflate),
            "br" => Some(Coding::Brotli),
            _ => None,
        }
    }
}

/// The page's character encoding for lol_html: the `Content-Type` charset when it names
/// an ASCII-compatible one; `Err` for one that is not (UTF-16: it cannot be rewritten).
/// With no charset (or an unknown label, which browsers ignore too) UTF-8, corrected by
/// a `<meta charset>`.
pub(crate) fn encoding_of(
    charset: Option<&str>,
) -> Result<(AsciiCompatibleEncoding, bool), String> {
    let Some(label) = charset else {
        return Ok((AsciiCompatibleEncoding::utf_8(), true));
    };
    match encoding_rs::Encoding::for_label(label.trim().as_bytes()) {
        None => Ok((AsciiCompatibleEncoding::utf_8(), true)),
        Some(e) => AsciiCompatibleEncoding::new(e)
            .map(|a| (a, false))
            .ok_or_else(|| format!("charset {} cannot be rewritten", e.name())),
    }
}

/// The rewritten body of one page.
pub(crate) fn page(
    body: Body,
    coding: Coding,
    encoding: (AsciiCompatibleEncoding, bool),
    tag: String,
    nonce: String,
) -> Body {
    let raw = StreamReader::new(body.into_data_stream().map_err(io::Error::other));
    let input: Pin<Box<dyn AsyncRead + Send>> = match coding {
        Coding::Identity => Box::pin(raw),
        Coding::Gzip => {
            let mut d = GzipDecoder::new(raw);
            d.multiple_members(true);
            Box::pin(d)
        }
        Coding::Deflate => Box::pin(ZlibDecoder::new(raw)),
        Coding::Brotli => Box::pin(BrotliDecoder::new(raw)),
    };
    let out = Arc::new(Mutex::new(Vec::with_capacity(CHUNK)));
    let flags = Arc::new(Flags::default());
    let tag_len = tag.len() as u64;
    let rewriter = rewriter(encoding, tag, nonce, Arc::clone(&out), Arc::clone(&flags));
    let state = State {
        input: Box::pin(BufReader::with_capacity(CHUNK, input)),
        rewriter: Some(rewriter),
        out,
        buf: vec![0; CHUNK],
        flags,
        tag_len,
        read: 0,
        sent: 0,
        passing: false,
    };
    Body::from_stream(futures_util::stream::try_unfold(state, next))
}

type Sink = Box<dyn FnMut(&[u8]) + Send>;

/// What the handlers saw.
#[derive(Default)]
struct Flags {
    /// The script is in.
    injected: AtomicBool,
    /// `<body>` has started: no policy can follow (a `<meta>` CSP counts only in `<head>`).
    in_body: AtomicBool,
    /// A `<meta>` policy was amended (the output's length no longer tells what is buffered).
    meta: AtomicBool,
}

struct State {
    input: Pin<Box<dyn AsyncRead + Send>>,
    rewriter: Option<HtmlRewriter<'static, Sink>>,
    out: Arc<Mutex<Vec<u8>>>,
    buf: Vec<u8>,
    flags: Arc<Flags>,
    tag_len: u64,
    /// Bytes given to the rewriter, and bytes it gave back.
    read: u64,
    sent: u64,
    /// Past the point where anything is rewritten: the rest passes as it is.
    passing: bool,
}

impl State {
    /// Once the script is in and `<body>` has begun, nothing more is rewritten: when the
    /// rewriter holds nothing back (all it was given is out, plus the tag), the rest of
    /// the page passes untouched (no parsing cost per element).
    fn done_rewriting(&mut self) -> bool {
        let f = &self.flags;
        let out = self.out.lock().unwrap_or_else(|p| p.into_inner()).len() as u64;
        self.passing = f.injected.load(Ordering::Relaxed)
            && f.in_body.load(Ordering::Relaxed)
            && !f.meta.load(Ordering::Relaxed)
            && self.sent + out == self.read + self.tag_len;
        self.passing
    }
}

/// The next piece of rewritten output (`None` once the page has ended).
async fn next(mut st: State) -> io::Result<Option<(Bytes, State)>> {
    loop {
        if st.passing {
            let n = st.input.read(&mut st.buf).await?;
            if n == 0 {
                return Ok(None);
            }
            return Ok(Some((Bytes::copy_from_slice(&st.buf[..n]), st)));
        }
        if st.rewriter.is_none() {
            return Ok(None);
        }
        let n = st.input.read(&mut st.buf).await?;
        let mut tail = Vec::new();
        if n == 0 {
            if let Some(r) = st.rewriter.take() {
                r.end().map_err(io::Error::other)?;
            }
        } else {
            // In small slices, so that the page passes untouched from the first slice
            // after `<body>` on, not from the next read.
            let mut at = 0;
            while at < n {
                let end = (at + SLICE).min(n);
                if let Some(r) = st.rewriter.as_mut() {
                    r.write(&st.buf[at..end]).map_err(io::Error::other)?;
                }
                st.read += (end - at) as u64;
                at = end;
                if st.done_rewriting() {
                    tail.extend_from_slice(&st.buf[at..n]);
                    break;
                }
            }
        }
        let mut piece = std::mem::take(&mut *st.out.lock().unwrap_or_else(|p| p.into_inner()));
        st.sent += piece.len() as u64;
        if st.passing {
            st.rewriter = None;
        }
        piece.extend_from_slice(&tail);
        if !piece.is_empty() {
            return Ok(Some((Bytes::from(piece), st)));
        }
    }
}

fn rewriter(
    (encoding, from_meta): (AsciiCompatibleEncoding, bool),
    tag: String,
    nonce: String,
    out: Arc<Mutex<Vec<u8>>>,
    flags: Arc<Flags>,
) -> HtmlRewriter<'static, Sink> {
    let (first, meta, last) = (Arc::clone(&flags), Arc::clone(&flags), flags);
    let (tag_first, tag_last) = (tag.clone(), tag);
    let settings = Settings {
        element_content_handlers: vec![
            // The first element: `<head>` gets the script as its first child; anything
            // else but `<html>` gets it just before.
            element!("*", move |el| {
                let name = el.tag_name();
                if name == "body" {
                    first.in_body.store(true, Ordering::Relaxed);
                }
                if first.injected.load(Ordering::Relaxed) {
                    return Ok(());
                }
                match name.as_str() {
                    "html" => {}
                    "head" => {
                        el.prepend(&tag_first, ContentType::Html);
                        first.injected.store(true, Ordering::Relaxed);
                    }
                    _ => {
                        el.before(&tag_first, ContentType::Html);
                        first.injected.store(true, Ordering::Relaxed);
                    }
                }
                Ok(())
            }),
            // A policy in the page itself applies to what follows it: amended alike.
            element!("meta[http-equiv]", move |el| {
                let csp = el
                    .get_attribute("http-equiv")
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("content-security-policy"));
                if let (true, Some(policy)) = (csp, el.get_attribute("content")) {
                    el.set_attribute("content", &csp::amend(&policy, &nonce))?;
                    meta.meta.store(true, Ordering::Relaxed);
                }
                Ok(())
            }),
        ],
        // A page with no element at all still gets the script, at its end.
        document_content_handlers: vec![end!(move |end| {
            if !last.injected.load(Ordering::Relaxed) {
                end.append(&tag_last, ContentType::Html);
            }
            Ok(())
        })],
        encoding,
        adjust_charset_on_meta_tag: from_meta,
        memory_settings: MemorySettings {
            preallocated_parsing_buffer_size: 1024,
            max_allowed_memory_usage: MAX_REWRITER_MEMORY,
        },
        // Markup that makes the parser's state ambiguous deep in a page must not fail
        // the page: the script goes in at its start, before any such markup.
        strict: false,
        ..Settings::new_send()
    };
    let sink: Sink = Box::new(move |bytes: &[u8]| {
        out.lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
    });
    HtmlRewriter::new(settings, sink)
}
