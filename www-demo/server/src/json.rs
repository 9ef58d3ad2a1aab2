//! A tiny JSON parser and writer: enough for login bodies, audit records and
//! the test hooks. Strict RFC 8259 syntax, bounded nesting depth, no panics.

use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// A number written without fraction or exponent that fits in an i64.
    Int(i64),
    Float(f64),
    Str(String),
    Arr(Vec<Json>),
    /// Keys in document order (duplicates kept; `get` returns the last one).
    Obj(Vec<(String, Json)>),
}

const MAX_DEPTH: usize = 64;

impl Json {
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(pairs) => pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// An integral number (a float with no fractional part in the exactly
    /// representable range is accepted too, e.g. `1e3`).
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Json::Int(i) => Some(i),
            Json::Float(f)
                if f.is_finite() && f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_991.0 =>
            {
                Some(f as i64)
            }
            _ => None,
        }
    }

    #[allow(dead_code)] // used by tests and handy for handlers
    pub fn to_string_compact(&self) -> String {
        let mut out = String::new();
        self.write_to(&mut out);
        out
    }

    #[allow(dead_code)]
    pub fn write_to(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Json::Float(f) => {
                if f.is_finite() {
                    if f.fract() == 0.0 && f.abs() < 1e15 {
                        let _ = write!(out, "{}", *f as i64);
                    } else {
                        let _ = write!(out, "{f}");
                    }
                } else {
                    out.push_str("null");
                }
            }
            Json::Str(s) => write_str(out, s),
            Json::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_to(out);
                }
                out.push(']');
            }
            Json::Obj(pairs) => {
                out.push('{');
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(out, k);
                    out.push(':');
                    v.write_to(out);
                }
                out.push('}');
            }
        }
    }
}

/// Writes `s` as a JSON string literal (with quotes).
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            // U+2028/2029 are valid JSON but break some JS contexts: escape them.
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_str(&mut out, s);
    out
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub pos: usize,
    pub msg: &'static str,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid JSON at byte {}: {}", self.pos, self.msg)
    }
}

pub fn parse(input: &[u8]) -> Result<Json, ParseError> {
    let mut p = Parser { s: input, i: 0 };
    // Tolerate a UTF-8 BOM.
    if p.s.starts_with(&[0xEF, 0xBB, 0xBF]) {
        p.i = 3;
    }
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(p.err("trailing characters"));
    }
    Ok(v)
}

pub fn parse_str(input: &str) -> Result<Json, ParseError> {
    parse(input.as_bytes())
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, msg: &'static str) -> ParseError {
        ParseError { pos: self.i, msg }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn lit(&mut self, word: &'static [u8], v: Json) -> Result<Json, ParseError> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        match self.peek() {
            None => Err(self.err("unexpected end of input")),
            Some(b'n') => self.lit(b"null", Json::Null),
            Some(b't') => self.lit(b"true", Json::Bool(true)),
            Some(b'f') => self.lit(b"false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::Str),
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(items));
                        }
                        _ => return Err(self.err("expected ',' or ']'")),
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut pairs = Vec::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(pairs));
                }
                loop {
                    self.ws();
                    if self.peek() != Some(b'"') {
                        return Err(self.err("expected string key"));
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.peek() != Some(b':') {
                        return Err(self.err("expected ':'"));
                    }
                    self.i += 1;
                    self.ws();
                    let v = self.value(depth + 1)?;
                    pairs.push((k, v));
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(pairs));
                        }
                        _ => return Err(self.err("expected ',' or '}'")),
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("unexpected character")),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Json, ParseError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let int_start = self.i;
        let n = self.digits();
        if n == 0 {
            return Err(self.err("expected digit"));
        }
        if n > 1 && self.s[int_start] == b'0' {
            return Err(self.err("leading zero"));
        }
        let mut is_int = true;
        if self.peek() == Some(b'.') {
            self.i += 1;
            is_int = false;
            if self.digits() == 0 {
                return Err(self.err("expected digit after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            is_int = false;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("expected exponent digit"));
            }
        }
        // The slice is ASCII by construction.
        let text =
            std::str::from_utf8(&self.s[start..self.i]).map_err(|_| self.err("bad number"))?;
        if is_int {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Json::Int(i));
            }
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Json::Float(f)),
            _ => Err(self.err("number out of range")),
        }
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return Err(self.err("bad \\u escape")),
            };
            v = v * 16 + d as u32;
            self.i += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, ParseError> {
        // Caller guarantees the opening quote.
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err("unterminated string"));
            };
            match c {
                b'"' => {
                    self.i += 1;
                    return String::from_utf8(out).map_err(|_| self.err("invalid UTF-8 in string"));
                }
                b'\\' => {
                    self.i += 1;
                    let Some(e) = self.peek() else {
                        return Err(self.err("unterminated escape"));
                    };
                    self.i += 1;
                    let ch: char = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xD800..0xDC00).contains(&hi) {
                                if self.s[self.i..].starts_with(b"\\u") {
                                    self.i += 2;
                                    let lo = self.hex4()?;
                                    if !(0xDC00..0xE000).contains(&lo) {
                                        return Err(self.err("invalid surrogate pair"));
                                    }
                                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                } else {
                                    return Err(self.err("lone surrogate"));
                                }
                            } else if (0xDC00..0xE000).contains(&hi) {
                                return Err(self.err("lone surrogate"));
                            } else {
                                hi
                            };
                            char::from_u32(cp).ok_or_else(|| self.err("invalid code point"))?
                        }
                        _ => return Err(self.err("invalid escape")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                0x00..=0x1F => return Err(self.err("control character in string")),
                _ => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scalars() {
        assert_eq!(parse_str("null").unwrap(), Json::Null);
        assert_eq!(parse_str(" true ").unwrap(), Json::Bool(true));
        assert_eq!(parse_str("false").unwrap(), Json::Bool(false));
        assert_eq!(parse_str("0").unwrap(), Json::Int(0));
        assert_eq!(parse_str("-12").unwrap(), Json::Int(-12));
        assert_eq!(parse_str("1.5").unwrap(), Json::Float(1.5));
        assert_eq!(parse_str("1e3").unwrap(), Json::Float(1000.0));
        assert_eq!(parse_str("1e3").unwrap().as_i64(), Some(1000));
        assert_eq!(parse_str("1.5").unwrap().as_i64(), None);
        assert_eq!(
            parse_str("99999999999999999999").unwrap(),
            Json::Float(1e20)
        );
    }

    #[test]
    fn parses_strings_and_escapes() {
        assert_eq!(
            parse_str(r#""a\"b\\c\/\n\u00e9""#).unwrap(),
            Json::Str("a\"b\\c/\né".into())
        );
        assert_eq!(
            parse_str(r#""\ud83d\ude00""#).unwrap(),
            Json::Str("😀".into())
        );
        assert_eq!(parse_str("\"héllo\"").unwrap(), Json::Str("héllo".into()));
    }

    #[test]
    fn parses_nested() {
        let v =
            parse_str(r#"[{"seq":1,"tab":"t","type":"lock","at":"x","reason":null},[]]"#).unwrap();
        let Json::Arr(items) = &v else {
            panic!("not array")
        };
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].get("seq").and_then(Json::as_i64), Some(1));
        assert_eq!(items[0].get("tab").and_then(Json::as_str), Some("t"));
        assert_eq!(items[0].get("reason"), Some(&Json::Null));
        assert_eq!(items[0].get("missing"), None);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            " ",
            "nul",
            "tru",
            "[1,]",
            "{\"a\":1,}",
            "{a:1}",
            "[1 2]",
            "01",
            "-",
            "1.",
            "1e",
            "\"abc",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "not json{",
            "{\"a\" 1}",
            "[1]]",
            "\"a\u{1}b\"",
            "NaN",
            "Infinity",
            "1e999",
        ] {
            assert!(parse_str(bad).is_err(), "accepted {bad:?}");
        }
        assert!(parse(&[b'"', 0xff, b'"']).is_err());
    }

    #[test]
    fn rejects_deep_nesting_without_overflow() {
        let deep = "[".repeat(100_000);
        assert!(parse_str(&deep).is_err());
        let ok = format!("{}{}", "[".repeat(60), "]".repeat(60));
        assert!(parse_str(&ok).is_ok());
    }

    #[test]
    fn writes_compact_and_round_trips() {
        let v = Json::Obj(vec![
            ("seq".into(), Json::Int(3)),
            ("type".into(), Json::Str("lo\"ck\n\u{1}\u{2028}".into())),
            ("f".into(), Json::Float(2.0)),
            ("g".into(), Json::Float(0.25)),
            ("n".into(), Json::Null),
            (
                "a".into(),
                Json::Arr(vec![Json::Bool(true), Json::Bool(false)]),
            ),
        ]);
        let s = v.to_string_compact();
        assert_eq!(
            s,
            r#"{"seq":3,"type":"lo\"ck\n\u0001\u2028","f":2,"g":0.25,"n":null,"a":[true,false]}"#
        );
        let back = parse_str(&s).unwrap();
        assert_eq!(back.get("type"), v.get("type"));
        assert_eq!(quote("a\\b"), r#""a\\b""#);
    }
}
