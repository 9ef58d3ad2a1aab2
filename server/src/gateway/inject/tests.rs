//! The rewriter on whole pages and on every chunking of them.

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;

use super::rewrite::{self, Coding};
use super::script_tag;

const NONCE: &str = "n0nce";

async fn rewritten(chunks: Vec<Vec<u8>>, coding: Coding, charset: Option<&str>) -> Vec<u8> {
    let stream = futures_util::stream::iter(
        chunks
            .into_iter()
            .map(|c| Ok::<_, std::io::Error>(Bytes::from(c))),
    );
    let body = rewrite::page(
        Body::from_stream(stream),
        coding,
        rewrite::encoding_of(charset).unwrap(),
        script_tag(NONCE),
        NONCE.into(),
    );
    body.collect()
        .await
        .expect("a whole body")
        .to_bytes()
        .to_vec()
}

async fn once(page: &str) -> String {
    String::from_utf8(rewritten(vec![page.as_bytes().to_vec()], Coding::Identity, None).await)
        .unwrap()
}

fn tag() -> String {
    script_tag(NONCE)
}

#[tokio::test]
async fn the_script_is_the_first_child_of_head() {
    let t = tag();
    let cases = [
        (
            "<!doctype html><html><head><title>x</title></head><body>PHI</body></html>",
            format!("<!doctype html><html><head>{t}<title>x</title></head><body>PHI</body></html>"),
        ),
        (
            "<!DOCTYPE HTML><HTML LANG=en><HEAD><META charset=utf-8></HEAD></HTML>",
            format!("<!DOCTYPE HTML><HTML LANG=en><HEAD>{t}<META charset=utf-8></HEAD></HTML>"),
        ),
        (
            "<!-- <head> in a comment --><html><head data-x=\"<head>\"></head></html>",
            format!("<!-- <head> in a comment --><html><head data-x=\"<head>\">{t}</head></html>"),
        ),
        // No <head>: before the first element that is not <html>.
        (
            "<!doctype html><meta charset=utf-8><title>t</title><p>PHI",
            format!("<!doctype html>{t}<meta charset=utf-8><title>t</title><p>PHI"),
        ),
        (
            "<html lang=en><body><p>PHI</p></body></html>",
            format!("<html lang=en>{t}<body><p>PHI</p></body></html>"),
        ),
        // No element at all: at the end.
        ("just text", format!("just text{t}")),
        ("", t.clone()),
        // Once only, even with a second <head>.
        (
            "<head></head><head></head>",
            format!("<head>{t}</head><head></head>"),
        ),
    ];
    for (page, want) in cases {
        assert_eq!(once(page).await, want, "page: {page}");
    }
}

#[tokio::test]
async fn every_chunk_boundary_in_and_around_the_head_tag_gives_the_same_page() {
    let page = "<!doctype html><html lang=en><HEAD class=\"a b\"><title>Ward</title></head><body>PHI</body></html>";
    let whole = once(page).await;
    assert_eq!(whole.matches("auto.js").count(), 1);
    let bytes = page.as_bytes();
    for cut in 0..=bytes.len() {
        let chunks = vec![bytes[..cut].to_vec(), bytes[cut..].to_vec()];
        let out = rewritten(chunks, Coding::Identity, None).await;
        assert_eq!(String::from_utf8(out).unwrap(), whole, "cut at {cut}");
    }
    // One byte at a time.
    let chunks = bytes.iter().map(|b| vec![*b]).collect();
    let out = rewritten(chunks, Coding::Identity, None).await;
    assert_eq!(String::from_utf8(out).unwrap(), whole);
}

#[tokio::test]
async fn a_meta_policy_is_amended_like_the_header() {
    let page =
        "<head><meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'self'\"></head>";
    let out = once(page).await;
    assert!(
        out.contains("content=\"script-src 'self' 'nonce-n0nce' 'wasm-unsafe-eval'\""),
        "{out}"
    );
}

#[tokio::test]
async fn gzip_deflate_and_brotli_pages_are_decoded_and_rewritten() {
    use async_compression::tokio::bufread::{BrotliEncoder, GzipEncoder, ZlibEncoder};
    use tokio::io::AsyncReadExt;
    let page = format!(
        "<html><head><title>x</title></head><body>{}</body></html>",
        "PHI ".repeat(50_000)
    );
    let want = once(&page).await;
    let mut gz = Vec::new();
    GzipEncoder::new(page.as_bytes())
        .read_to_end(&mut gz)
        .await
        .unwrap();
    let mut zl = Vec::new();
    ZlibEncoder::new(page.as_bytes())
        .read_to_end(&mut zl)
        .await
        .unwrap();
    let mut br = Vec::new();
    BrotliEncoder::new(page.as_bytes())
        .read_to_end(&mut br)
        .await
        .unwrap();
    for (coding, bytes) in [
        (Coding::Gzip, gz),
        (Coding::Deflate, zl),
        (Coding::Brotli, br),
    ] {
        // In odd pieces, as a network delivers them.
        let chunks = bytes.chunks(997).map(<[u8]>::to_vec).collect();
        let out = rewritten(chunks, coding, None).await;
        assert_eq!(String::from_utf8(out).unwrap(), want, "{coding:?}");
    }
}

#[tokio::test]
async fn a_corrupt_compressed_page_fails_rather_than_ends_early() {
    let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(
        b"\x1f\x8b\x08\x00garbage",
    ))]);
    let body = rewrite::page(
        Body::from_stream(stream),
        Coding::Gzip,
        rewrite::encoding_of(None).unwrap(),
        tag(),
        NONCE.into(),
    );
    assert!(body.collect().await.is_err());
}

#[tokio::test]
async fn the_pages_charset_is_kept() {
    // windows-1252 é (0xE9) and a Shift_JIS title pass byte for byte.
    let latin = b"<html><head><title>Caf\xe9</title></head></html>".to_vec();
    let out = rewritten(vec![latin.clone()], Coding::Identity, Some("windows-1252")).await;
    let mut want = b"<html><head>".to_vec();
    want.extend_from_slice(tag().as_bytes());
    want.extend_from_slice(&latin[12..]);
    assert_eq!(out, want);
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("<head><title>病棟</title></head>");
    let out = rewritten(vec![sjis.to_vec()], Coding::Identity, Some("Shift_JIS")).await;
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&out);
    assert!(!bad);
    assert_eq!(text, format!("<head>{}<title>病棟</title></head>", tag()));
    // UTF-16 cannot be rewritten: refused (the caller answers 502).
    assert!(rewrite::encoding_of(Some("utf-16le")).is_err());
}

#[test]
fn accept_encoding_is_narrowed_to_what_is_decoded() {
    use axum::http::{header, HeaderMap, HeaderValue};
    let mut h = HeaderMap::new();
    h.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("gzip, deflate, br, zstd;q=0.9"),
    );
    super::Injector::narrow_accept_encoding(&mut h);
    assert_eq!(h[header::ACCEPT_ENCODING], "gzip, deflate, br");
    h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("zstd"));
    super::Injector::narrow_accept_encoding(&mut h);
    assert!(h.get(header::ACCEPT_ENCODING).is_none());
}

#[tokio::test]
async fn past_body_the_rest_passes_untouched_in_any_chunking() {
    let rest =
        "<p>PHI <head> <meta http-equiv=content-security-policy content=\"x\"></p>\n".repeat(3000);
    let page = format!("<html><head><title>t</title></head><body>{rest}</body></html>");
    let want = format!(
        "<html><head>{}<title>t</title></head><body>{rest}</body></html>",
        tag()
    );
    for size in [1, 7, 1000, 16 * 1024, 1 << 20] {
        let chunks = page.as_bytes().chunks(size).map(<[u8]>::to_vec).collect();
        let out = rewritten(chunks, Coding::Identity, None).await;
        assert!(String::from_utf8(out).unwrap() == want, "chunks of {size}");
    }
}
