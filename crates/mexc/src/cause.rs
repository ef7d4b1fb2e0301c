//! Short human words for why the exchange cannot be reached, for `UpstreamHealth.cause` and
//! `rest_error`: a trader reads `DNS lookup failed`, not `IO error: failed to lookup address
//! information: Name or service not known`. The full error text stays in the logs.

use std::error::Error as StdError;
use std::io;

/// Longest cause text we produce; the TUI shows the whole text in its status popup anyway.
const MAX_CHARS: usize = 80;

/// The shortest true description of `err`, looking through its source chain.
pub fn human(err: &(dyn StdError + 'static)) -> String {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(words) = known(e) {
            return words;
        }
        cur = e.source();
    }
    // Nothing recognised: the innermost message is usually the most specific.
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    shorten(&last.to_string())
}

fn known(e: &(dyn StdError + 'static)) -> Option<String> {
    if let Some(ws) = e.downcast_ref::<tokio_tungstenite::tungstenite::Error>() {
        use tokio_tungstenite::tungstenite::Error as W;
        match ws {
            W::Http(resp) => return Some(format!("HTTP {}", resp.status())),
            W::Tls(_) => return Some("TLS failed".into()),
            W::Url(u) => return Some(shorten(&format!("bad URL: {u}"))),
            W::ConnectionClosed | W::AlreadyClosed => return Some("connection closed".into()),
            _ => {}
        }
    }
    if let Some(io) = e.downcast_ref::<io::Error>()
        && let Some(words) = io_words(io)
    {
        return Some(words);
    }
    if let Some(r) = e.downcast_ref::<reqwest::Error>() {
        if r.is_timeout() {
            return Some("timed out".into());
        }
        if let Some(status) = r.status() {
            return Some(format!("HTTP {status}"));
        }
    }
    text_words(&e.to_string())
}

fn io_words(e: &io::Error) -> Option<String> {
    use io::ErrorKind as K;
    let words = match e.kind() {
        K::ConnectionRefused => "connection refused",
        K::ConnectionReset => "connection reset",
        K::ConnectionAborted => "connection aborted",
        K::TimedOut => "timed out",
        K::NetworkUnreachable => "network unreachable",
        K::HostUnreachable => "host unreachable",
        K::AddrNotAvailable => "address not available",
        K::NetworkDown => "network down",
        K::UnexpectedEof => "connection closed mid-handshake",
        _ => return text_words(&e.to_string()),
    };
    Some(words.into())
}

/// Errors whose kind does not say it (DNS failures are `Uncategorized`): by their text.
fn text_words(text: &str) -> Option<String> {
    let t = text.to_ascii_lowercase();
    let dns = [
        "failed to lookup address",
        "dns error",
        "name or service not known",
        "no address associated",
        "temporary failure in name resolution",
        "nodename nor servname",
    ];
    if dns.iter().any(|d| t.contains(d)) {
        return Some("DNS lookup failed".into());
    }
    if t.contains("connection refused") {
        return Some("connection refused".into());
    }
    if t.contains("certificate") || t.contains("tls handshake") {
        return Some("TLS failed".into());
    }
    None
}

/// At most `MAX_CHARS`, cut at a character boundary with `…`; never empty.
pub fn shorten(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        return "unknown error".into();
    }
    if text.chars().count() <= MAX_CHARS {
        return text.to_string();
    }
    let mut out: String = text.chars().take(MAX_CHARS - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_failures_read_as_dns_lookup_failed() {
        // What std's resolver returns (kind Uncategorized, so only the text tells).
        let e = io::Error::other("failed to lookup address information: Name or service not known");
        assert_eq!(human(&e), "DNS lookup failed");
        let ws = tokio_tungstenite::tungstenite::Error::Io(io::Error::other(
            "failed to lookup address information: Temporary failure in name resolution",
        ));
        assert_eq!(human(&ws), "DNS lookup failed");
    }

    #[test]
    fn socket_kinds_read_as_words() {
        let e = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(human(&e), "connection refused");
        let ws = tokio_tungstenite::tungstenite::Error::Io(io::Error::from(
            io::ErrorKind::ConnectionReset,
        ));
        assert_eq!(human(&ws), "connection reset");
    }

    #[test]
    fn unknown_errors_keep_their_innermost_text_short() {
        let e = io::Error::other("x".repeat(200));
        let words = human(&e);
        assert_eq!(words.chars().count(), MAX_CHARS);
        assert!(words.ends_with('…'));
        assert_eq!(shorten("  "), "unknown error");
    }

    #[tokio::test]
    async fn a_closed_port_is_connection_refused() {
        // Bind then drop: the port is closed for the connect below.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("ws://127.0.0.1:{port}/edge");
        let err = tokio_tungstenite::connect_async(url).await.unwrap_err();
        assert_eq!(human(&err), "connection refused");
        let client = reqwest::Client::new();
        let err = client
            .get(format!("http://127.0.0.1:{port}/api/v1/contract/ticker"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(human(&err), "connection refused");
    }
}
