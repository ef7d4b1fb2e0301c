//! Opening the one WebSocket: request with the bearer token, message size limit, TCP_NODELAY,
//! a connect timeout, and errors worded so identical failures compare equal.

use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, header::AUTHORIZATION};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite};

pub type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialError {
    pub message: String,
    /// Retrying cannot help (bad URL, rejected credentials): stop until the user asks.
    pub permanent: bool,
}

impl DialError {
    fn retry(message: String) -> Self {
        DialError {
            message,
            permanent: false,
        }
    }
}

/// Owned so the pending connect does not borrow the connection task's state.
pub struct DialParams {
    pub url: String,
    pub token: Option<String>,
    pub max_message_bytes: usize,
    pub timeout: Duration,
}

pub async fn dial(p: DialParams) -> Result<WsStream, DialError> {
    let mut req = p
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| DialError {
            message: format!("invalid websocket url: {e}"),
            permanent: true,
        })?;
    if let Some(token) = &p.token {
        // The error text must not contain the token.
        let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| DialError {
            message: "token is not a valid HTTP header value".into(),
            permanent: true,
        })?;
        req.headers_mut().insert(AUTHORIZATION, value);
    }
    let config = WebSocketConfig::default()
        .max_message_size(Some(p.max_message_bytes))
        .max_frame_size(Some(p.max_message_bytes));
    let connect = tokio_tungstenite::connect_async_with_config(req, Some(config), true);
    match tokio::time::timeout(p.timeout, connect).await {
        Err(_) => Err(DialError::retry(format!(
            "connect timed out after {} ms",
            p.timeout.as_millis()
        ))),
        Ok(Ok((ws, _response))) => Ok(ws),
        Ok(Err(tungstenite::Error::Http(resp))) => {
            let status = resp.status();
            Err(DialError {
                message: format!("upgrade refused: HTTP {status}"),
                permanent: status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN,
            })
        }
        Ok(Err(tungstenite::Error::Url(e))) => Err(DialError {
            message: format!("invalid websocket url: {e}"),
            permanent: true,
        }),
        Ok(Err(e)) => Err(DialError::retry(e.to_string())),
    }
}

/// The URL as shown and logged: without a query, which may carry `?token=`.
pub fn display_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => base.to_string(),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_url_hides_the_query() {
        assert_eq!(
            display_url("ws://h:1/ws?token=secret"),
            "ws://h:1/ws".to_string()
        );
        assert_eq!(display_url("ws://h:1/ws"), "ws://h:1/ws".to_string());
    }

    #[tokio::test]
    async fn refused_connection_is_a_retryable_error() {
        // Bind then drop to get a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(9);
        let url = format!("ws://127.0.0.1:{port}/ws");
        let err = dial(DialParams {
            url,
            token: Some("secret-token".into()),
            max_message_bytes: 1 << 20,
            timeout: Duration::from_secs(2),
        })
        .await
        .err();
        let err = err.unwrap_or_else(|| panic!("nothing listens on {port}"));
        assert!(!err.permanent);
        assert!(!err.message.contains("secret-token"));
    }
}
