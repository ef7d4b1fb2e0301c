//! Token check for the WebSocket upgrade and REST. The token itself never reaches a log.

use axum::http::{HeaderMap, header::AUTHORIZATION};

/// Whether the request carries the configured token (`Authorization: Bearer <t>` or
/// `?token=<t>`). An empty configured token means "no auth" (loopback-only binds).
pub fn authorized(expected: &str, headers: &HeaderMap, query: Option<&str>) -> bool {
    if expected.is_empty() {
        return true;
    }
    let from_header = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if from_header.is_some_and(|t| constant_time_eq(t.as_bytes(), expected.as_bytes())) {
        return true;
    }
    query_token(query).is_some_and(|t| constant_time_eq(t.as_bytes(), expected.as_bytes()))
}

/// `token` from a raw query string, percent-decoded.
fn query_token(query: Option<&str>) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "token").then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Compares in time that depends only on the lengths, never on where the first difference
/// is, so a network attacker cannot find the token byte by byte from response timing.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u64;
    // Walk the longer input in full whatever the contents.
    let n = a.len().max(b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn constant_time_eq_matches_only_equal_inputs() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret", b"s3cres"));
        assert!(!constant_time_eq(b"s3cret", b"s3cret!"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn bearer_header_or_query_token_is_accepted() {
        let mut h = HeaderMap::new();
        assert!(authorized("", &h, None));
        assert!(!authorized("tok", &h, None));
        assert!(!authorized("tok", &h, Some("token=bad")));
        assert!(authorized("tok", &h, Some("a=1&token=tok")));
        assert!(authorized("a b", &h, Some("token=a%20b")));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer tok"));
        assert!(authorized("tok", &h, None));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer nope"));
        assert!(!authorized("tok", &h, None));
    }

    #[test]
    fn broken_percent_escapes_do_not_panic() {
        let h = HeaderMap::new();
        for q in [
            "token=%",
            "token=%4",
            "token=%zz",
            "token",
            "&&",
            "token=%e2%82",
        ] {
            assert!(!authorized("tok", &h, Some(q)));
        }
    }
}
