//! Building text without `core::fmt`: its integer, padding and `Debug` machinery costs
//! kilobytes of wasm, and all we ever print is short strings and whole numbers.

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

/// `n` as lowercase hex, zero-padded to `width` digits (at most 16).
pub fn push_hex(s: &mut String, n: u64, width: u32) {
    for k in (0..width.min(16)).rev() {
        s.push(char::from(
            b"0123456789abcdef"[((n >> (k * 4)) & 15) as usize],
        ));
    }
}

/// The parts, joined.
pub fn cat(parts: &[&str]) -> String {
    parts.concat()
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
        let mut h = String::new();
        push_hex(&mut h, 0xbeef, 4);
        push_hex(&mut h, 0x1f, 4);
        assert_eq!(h, "beef001f");
        assert_eq!(cat(&["a", "", "bc"]), "abc");
    }
}
