//! Short human words for why the exchange cannot be reached, for `UpstreamHealth.cause` and
//! `rest_error`: a trader reads `DNS lookup failed`, not `IO error: failed to lookup address
//! information: Name or service not known`. The full error text stays in the logs.
//!
//! Errors are told apart by type only. The system resolver's failures have no stable
//! `io::ErrorKind`, so every lookup the adapter makes goes through [`resolve`] or
//! [`TypedResolver`], which wrap them in [`DnsError`].

use std::error::Error as StdError;
use std::io;
use std::net::SocketAddr;

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
    if e.is::<DnsError>() {
        return Some("DNS lookup failed".into());
    }
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
    None
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
        _ => return None,
    };
    Some(words.into())
}

/// The resolver could not turn `host` into addresses.
#[derive(Debug, thiserror::Error)]
#[error("failed to look up {host}: {source}")]
pub struct DnsError {
    pub host: String,
    #[source]
    pub source: io::Error,
}

/// Look `host` up, a failure typed as [`DnsError`].
pub async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, DnsError> {
    match tokio::net::lookup_host((host, port)).await {
        Ok(addrs) => Ok(addrs.collect()),
        Err(source) => Err(DnsError {
            host: host.to_string(),
            source,
        }),
    }
}

/// reqwest's resolver, with failures typed as [`DnsError`] so [`human`] finds them in the
/// request error's source chain.
#[derive(Debug, Clone, Copy, Default)]
pub struct TypedResolver;

impl reqwest::dns::Resolve for TypedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = resolve(&host, 0).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
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

    #[tokio::test]
    async fn dns_failures_read_as_dns_lookup_failed() {
        // `.invalid` never resolves (RFC 6761), with or without a network.
        let e = resolve("trademon.invalid", 443).await.unwrap_err();
        assert_eq!(human(&e), "DNS lookup failed");
        // The same words from the message text alone would be a guess: they are not given.
        let text_only = io::Error::other("failed to lookup address information");
        assert_ne!(human(&text_only), "DNS lookup failed");
        let client = reqwest::Client::builder()
            .dns_resolver(TypedResolver)
            .build()
            .unwrap();
        let err = client
            .get("http://trademon.invalid/api/v1/contract/ticker")
            .send()
            .await
            .unwrap_err();
        assert_eq!(human(&err), "DNS lookup failed");
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
