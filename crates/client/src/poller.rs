//! REST polling fallback: while the WebSocket is down, fetch
//! `GET {base}/api/v1/snapshot?session=ID` for every desired session every `poll_interval_ms`.
//!
//! Runs as its own task so a slow HTTP request never holds up WebSocket retries or commands.
//! The connection task switches it on and off through a `watch` plan and reads outcomes from an
//! mpsc; the plan is re-checked before every request so no request starts after the WebSocket
//! is back.

use reqwest::Url;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use trademon_protocol::RestSnapshot;

/// What the poller should do now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollPlan {
    pub active: bool,
    pub sessions: Vec<String>,
}

#[derive(Debug)]
pub enum PollOutcome {
    /// Boxed: snapshots are large and rounds are not.
    Snapshot(Box<RestSnapshot>),
    /// End of one round: `Ok` if the backend delivered at least one snapshot (or, with no
    /// sessions to poll, answered its health check).
    Round(Result<(), String>),
}

/// `ws://host:port/ws` -> `http://host:port` (wss -> https), the REST base on the same port.
pub fn rest_base(ws_url: &str) -> Result<Url, String> {
    let mut url = Url::parse(ws_url).map_err(|e| format!("invalid url {ws_url:?}: {e}"))?;
    let scheme = match url.scheme() {
        "ws" | "http" => "http",
        "wss" | "https" => "https",
        other => return Err(format!("unsupported url scheme {other:?} in {ws_url:?}")),
    };
    url.set_scheme(scheme)
        .map_err(|()| format!("cannot derive a REST url from {ws_url:?}"))?;
    url.set_path("/");
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

pub struct PollerConfig {
    pub base: Url,
    pub token: Option<String>,
    pub interval: Duration,
    pub request_timeout: Duration,
}

pub fn spawn(
    cfg: PollerConfig,
    plan: watch::Receiver<PollPlan>,
    out: mpsc::Sender<PollOutcome>,
) -> JoinHandle<()> {
    tokio::spawn(run(cfg, plan, out))
}

async fn run(
    cfg: PollerConfig,
    mut plan: watch::Receiver<PollPlan>,
    out: mpsc::Sender<PollOutcome>,
) {
    let client = reqwest::Client::builder()
        .timeout(cfg.request_timeout)
        .connect_timeout(cfg.request_timeout)
        .build();
    loop {
        // Sleeps until polling is wanted; ends when the connection task is gone.
        let sessions = match plan.wait_for(|p| p.active).await {
            Ok(p) => p.sessions.clone(),
            Err(_) => return,
        };
        let result = match &client {
            Ok(client) => round(client, &cfg, &plan, &sessions, &out).await,
            Err(e) => Err(format!("http client unavailable: {e}")),
        };
        if out.send(PollOutcome::Round(result)).await.is_err() {
            return;
        }
        // Wait the interval, but wake early if the plan changes (e.g. polling switched off).
        let _ = tokio::time::timeout(cfg.interval, plan.changed()).await;
    }
}

async fn round(
    client: &reqwest::Client,
    cfg: &PollerConfig,
    plan: &watch::Receiver<PollPlan>,
    sessions: &[String],
    out: &mpsc::Sender<PollOutcome>,
) -> Result<(), String> {
    if sessions.is_empty() {
        // Nothing to show, but reachability still decides Polling vs Disconnected.
        let url = cfg.base.join("api/v1/health").map_err(|e| e.to_string())?;
        get(client, cfg, url).await?;
        return Ok(());
    }
    let mut delivered = false;
    let mut last_err = None;
    for session in sessions {
        if !plan.borrow().active {
            // The WebSocket came back mid-round: its full_updates supersede this data.
            return Ok(());
        }
        match snapshot(client, cfg, session).await {
            Ok(snap) => {
                delivered = true;
                if out
                    .send(PollOutcome::Snapshot(Box::new(snap)))
                    .await
                    .is_err()
                {
                    return Ok(());
                }
            }
            Err(e) => last_err = Some(e),
        }
    }
    match (delivered, last_err) {
        (true, _) | (false, None) => Ok(()),
        (false, Some(e)) => Err(e),
    }
}

async fn snapshot(
    client: &reqwest::Client,
    cfg: &PollerConfig,
    session: &str,
) -> Result<RestSnapshot, String> {
    let mut url = cfg
        .base
        .join("api/v1/snapshot")
        .map_err(|e| e.to_string())?;
    url.query_pairs_mut().append_pair("session", session);
    let resp = get(client, cfg, url).await?;
    resp.json::<RestSnapshot>()
        .await
        .map_err(|e| format!("snapshot {session}: bad body: {}", e.without_url()))
}

async fn get(
    client: &reqwest::Client,
    cfg: &PollerConfig,
    url: Url,
) -> Result<reqwest::Response, String> {
    let path = url.path().to_string();
    let mut req = client.get(url);
    if let Some(token) = &cfg.token {
        req = req.bearer_auth(token);
    }
    // `without_url` keeps messages identical across sessions/queries so repeats aggregate,
    // and never echoes anything from the request.
    let resp = req
        .send()
        .await
        .map_err(|e| format!("GET {path}: {}", describe(e)))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("GET {path}: HTTP {status}"));
    }
    Ok(resp)
}

/// reqwest's Display stops at the outermost error ("error sending request"); the cause chain
/// says what actually happened (connection refused, timeout...).
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_base_follows_the_websocket_url() {
        assert_eq!(
            rest_base("ws://127.0.0.1:8080/ws").map(|u| u.to_string()),
            Ok("http://127.0.0.1:8080/".to_string())
        );
        assert_eq!(
            rest_base("wss://example.com/ws?token=x").map(|u| u.to_string()),
            Ok("https://example.com/".to_string())
        );
        assert!(rest_base("ftp://x/ws").is_err());
        assert!(rest_base("not a url").is_err());
    }
}
