//! REST ticker polling while the WebSocket cannot deliver.
//!
//! One `GET {rest_url}/api/v1/contract/ticker` (all contracts, one call) per
//! `rest_poll_interval_ms` (validated >= 100 ms, so never above MEXC's 20 requests / 2 s),
//! emitting `MarketEvent::Ticker` with `DataSource::Rest` for the symbols the supervisor
//! hands over. MEXC signals throttling as HTTP 200 `{"success":false,"code":510}` (back off,
//! doubling) and its Akamai WAF as an HTML 403 (cool down for `waf_cooldown_ms`).

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::MexcConfig;
use trademon_core::market::{MarketEvent, TickerUpdate};
use trademon_protocol::DataSource;

use super::wire;

/// Throttle backoff never exceeds this (the 510 window is 2 s; this is generous).
const THROTTLE_CAP: Duration = Duration::from_secs(30);

/// What one response means.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Tickers(Vec<TickerUpdate>),
    /// 200 + `success:false, code:510`, or HTTP 429.
    Throttled(String),
    /// HTML 403 from the WAF.
    Waf,
    Failed(String),
}

/// Classify a response, pure.
pub fn classify(status: u16, body: &str) -> Outcome {
    if status == 403 {
        return Outcome::Waf;
    }
    if status == 429 {
        return Outcome::Throttled("HTTP 429".into());
    }
    if status != 200 {
        return Outcome::Failed(format!("HTTP {status}"));
    }
    let v: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(_) => {
            let sample: String = body.chars().take(80).collect();
            return Outcome::Failed(format!("not JSON: {sample}"));
        }
    };
    let code = v.get("code").and_then(wire::num_i64).unwrap_or(0);
    let message = v
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if v.get("success").and_then(Value::as_bool) != Some(true) {
        return if code == 510 {
            Outcome::Throttled(format!("code 510: {message}"))
        } else {
            Outcome::Failed(format!("code {code}: {message}"))
        };
    }
    let empty = Map::new();
    let rows: Vec<&Value> = match v.get("data") {
        Some(Value::Array(a)) => a.iter().collect(),
        // With `?symbol=` the endpoint answers one object: accept that shape too.
        Some(o @ Value::Object(_)) => vec![o],
        _ => return Outcome::Failed("no data".into()),
    };
    Outcome::Tickers(
        rows.into_iter()
            .filter_map(|r| r.as_object())
            .filter_map(|o| wire::ticker_from_object(o, &empty).ok())
            .collect(),
    )
}

/// Delay before the next request after `outcome`; `streak` counts consecutive throttles
/// or failures.
pub fn next_delay(outcome: &Outcome, streak: u32, interval: Duration, waf: Duration) -> Duration {
    match outcome {
        Outcome::Tickers(_) => interval,
        Outcome::Waf => waf,
        Outcome::Throttled(_) | Outcome::Failed(_) => {
            let factor = 1u32 << streak.min(8);
            // At least one full 2 s window after a throttle.
            (interval * factor)
                .max(Duration::from_secs(2))
                .min(THROTTLE_CAP)
        }
    }
}

pub struct RestPoller {
    pub symbols: watch::Sender<BTreeSet<String>>,
    /// The last request's failure in a few words (`None` after a success), for health.
    pub error: watch::Receiver<Option<String>>,
    task: JoinHandle<()>,
}

impl Drop for RestPoller {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn spawn(
    cfg: &MexcConfig,
    out: mpsc::Sender<MarketEvent>,
    symbols: BTreeSet<String>,
) -> RestPoller {
    let (tx, rx) = watch::channel(symbols);
    let (error_tx, error) = watch::channel(None);
    let task = tokio::spawn(poll(cfg.clone(), out, rx, error_tx));
    RestPoller {
        symbols: tx,
        error,
        task,
    }
}

/// What health says about one outcome: `None` when tickers arrived.
pub fn outcome_words(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Tickers(_) => None,
        Outcome::Throttled(why) => Some(format!("throttled ({why})")),
        Outcome::Waf => Some("blocked by the WAF (HTTP 403)".into()),
        Outcome::Failed(why) => Some(super::cause::shorten(why)),
    }
}

async fn poll(
    cfg: MexcConfig,
    out: mpsc::Sender<MarketEvent>,
    symbols: watch::Receiver<BTreeSet<String>>,
    error: watch::Sender<Option<String>>,
) {
    let ms = Duration::from_millis;
    let url = format!(
        "{}/api/v1/contract/ticker",
        cfg.rest_url.trim_end_matches('/')
    );
    let client = match reqwest::Client::builder()
        .dns_resolver(super::cause::TypedResolver)
        .timeout(ms(cfg.rest_timeout_ms))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(event = "mexc.rest_failed", error = %e, "cannot build HTTP client");
            return;
        }
    };
    let mut streak: u32 = 0;
    loop {
        let outcome = match client.get(&url).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                match resp.text().await {
                    Ok(body) => classify(status, &body),
                    Err(e) => Outcome::Failed(super::cause::human(&e)),
                }
            }
            Err(e) => {
                tracing::debug!(event = "mexc.rest_error", url, error = ?e);
                Outcome::Failed(super::cause::human(&e))
            }
        };
        error.send_if_modified(|old| {
            let new = outcome_words(&outcome);
            let changed = *old != new;
            *old = new;
            changed
        });
        let delay = next_delay(
            &outcome,
            streak,
            ms(cfg.rest_poll_interval_ms),
            ms(cfg.waf_cooldown_ms),
        );
        match outcome {
            Outcome::Tickers(tickers) => {
                streak = 0;
                let wanted = symbols.borrow().clone();
                for update in tickers.into_iter().filter(|t| wanted.contains(&t.symbol)) {
                    let ev = MarketEvent::Ticker {
                        update,
                        source: DataSource::Rest,
                    };
                    if out.send(ev).await.is_err() {
                        return;
                    }
                }
            }
            Outcome::Throttled(why) => {
                streak += 1;
                tracing::warn!(
                    event = "mexc.throttled",
                    url,
                    reason = why,
                    retry_in_ms = delay.as_millis() as u64,
                    streak
                );
            }
            Outcome::Waf => {
                streak += 1;
                tracing::warn!(
                    event = "mexc.waf_cooldown",
                    url,
                    status = 403,
                    cooldown_ms = delay.as_millis() as u64
                );
            }
            Outcome::Failed(why) => {
                streak += 1;
                tracing::warn!(
                    event = "mexc.rest_failed",
                    url,
                    reason = why,
                    retry_in_ms = delay.as_millis() as u64,
                    streak
                );
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = out.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_mexc_answers() {
        let ok = r#"{"success":true,"code":0,"data":[{"symbol":"BTC_USDT","lastPrice":80000.5,"bid1":80000,"fundingRate":0.0001,"timestamp":1789897547210},{"symbol":"BROKEN"}]}"#;
        match classify(200, ok) {
            Outcome::Tickers(t) => {
                assert_eq!(t.len(), 1, "rows without lastPrice are skipped");
                assert_eq!((t[0].symbol.as_str(), t[0].last), ("BTC_USDT", 80000.5));
            }
            other => panic!("{other:?}"),
        }
        let one = r#"{"success":true,"code":0,"data":{"symbol":"ETH_USDT","lastPrice":"2.5E3"}}"#;
        assert!(matches!(classify(200, one), Outcome::Tickers(t) if t[0].last == 2500.0));
        assert!(matches!(
            classify(200, r#"{"success":false,"code":510,"message":"Requests are too frequent"}"#),
            Outcome::Throttled(m) if m.contains("510")
        ));
        assert_eq!(
            classify(403, "<html><body>Access Denied</body></html>"),
            Outcome::Waf
        );
        assert!(matches!(classify(429, ""), Outcome::Throttled(_)));
        assert!(matches!(classify(502, "bad gateway"), Outcome::Failed(_)));
        assert!(matches!(classify(200, "<html>"), Outcome::Failed(_)));
        assert!(matches!(
            classify(200, r#"{"success":false,"code":1001}"#),
            Outcome::Failed(_)
        ));
    }

    #[test]
    fn outcomes_in_words_for_health() {
        assert_eq!(outcome_words(&Outcome::Tickers(vec![])), None);
        assert_eq!(
            outcome_words(&classify(503, "")).as_deref(),
            Some("HTTP 503")
        );
        assert_eq!(
            outcome_words(&Outcome::Waf).as_deref(),
            Some("blocked by the WAF (HTTP 403)")
        );
        assert_eq!(
            outcome_words(&classify(429, "")).as_deref(),
            Some("throttled (HTTP 429)")
        );
    }

    #[test]
    fn delays_respect_the_window_and_cooldown() {
        let i = Duration::from_millis(2000);
        let waf = Duration::from_secs(60);
        assert_eq!(next_delay(&Outcome::Tickers(vec![]), 0, i, waf), i);
        assert_eq!(next_delay(&Outcome::Waf, 0, i, waf), waf);
        let t = Outcome::Throttled(String::new());
        assert_eq!(next_delay(&t, 1, i, waf), Duration::from_secs(4));
        assert_eq!(next_delay(&t, 9, i, waf), THROTTLE_CAP);
        assert_eq!(
            next_delay(&t, 0, Duration::from_millis(100), waf),
            Duration::from_secs(2),
            "a throttle always waits out the 2 s window"
        );
    }
}
