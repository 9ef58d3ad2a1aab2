//! Building text without `core::fmt`: its integer, padding and `Debug` machinery costs
//! kilobytes of wasm, and all we ever print is short strings and whole numbers.

use crate::prelude::*;

/// `n` in decimal.
pub fn int(n: i64) -> String {
    let mut s = String::new();
    push_int(&mut s, n);
    s
}

pub fn push_int(s: &mut String, n: i64) {
    if n < 0 {
        s.push('-');
    }
    push_uint(s, n.unsigned_abs(), 1);
}

/// `n` in decimal, left-padded with zeros to at least `width` digits.
pub fn push_uint(s: &mut String, mut n: u64, width: usize) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while n > 0 || buf.len() - i < width.clamp(1, 20) {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    for &b in &buf[i..] {
        s.push(b as char);
    }
}

/// The parts, concatenated (a plain loop: `[&str]::concat` brings its own copy code).
pub fn cat(parts: &[&str]) -> String {
    let mut s = String::new();
    for p in parts {
        s.push_str(p);
    }
    s
}

/// `s` split at the first `sep` byte (ASCII), without the separator.
pub fn split2(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == sep)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// A decimal integer with an optional leading `-` and nothing else (no `+`, no spaces).
pub fn parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    // Accumulate negatively: i64::MIN has no positive counterpart.
    let mut n: i64 = 0;
    for b in digits.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_sub((b - b'0') as i64)?;
    }
    if neg {
        Some(n)
    } else {
        n.checked_neg()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(int(0), "0");
        assert_eq!(int(-42), "-42");
        assert_eq!(int(i64::MIN), "-9223372036854775808");
        assert_eq!(int(1_764_000_000_000), "1764000000000");
        let mut s = String::new();
        push_uint(&mut s, 7, 2);
        push_uint(&mut s, 123, 2);
        push_uint(&mut s, 5, 6);
        assert_eq!(s, "07123000005");
        assert_eq!(cat(&["a", "", "bc"]), "abc");
        assert_eq!(parse_int("1764000000000"), Some(1_764_000_000_000));
        assert_eq!(parse_int("-5"), Some(-5));
        assert_eq!(parse_int("0"), Some(0));
        // Shared state carries i64::MIN / 2 for "never" (19 digits).
        assert_eq!(parse_int(&int(i64::MIN / 2)), Some(i64::MIN / 2));
        assert_eq!(parse_int(&int(i64::MIN)), Some(i64::MIN));
        assert_eq!(parse_int(&int(i64::MAX)), Some(i64::MAX));
        assert_eq!(split2("12\n[1]", b'\n'), Some(("12", "[1]")));
        assert_eq!(split2("a|", b'|'), Some(("a", "")));
        assert_eq!(split2("abc", b'|'), None);
        for bad in [
            "",
            "-",
            "+5",
            " 5",
            "5 ",
            "1e3",
            "12a",
            "9223372036854775808",
            "-9223372036854775809",
        ] {
            assert_eq!(parse_int(bad), None, "{bad:?}");
        }
    }
}
