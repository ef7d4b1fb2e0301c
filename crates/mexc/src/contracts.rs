//! Contract specifications from `GET /api/v1/contract/detail`: parsing (pure), the cache file
//! in the data dir, and the loader task.
//!
//! The loader reads the cache first (an offline start still knows sizes and precision), then
//! asks for every contract (one call) and again every `contracts_refresh_s`; a failed load is
//! retried after `contracts_retry_s`. A watched symbol missing from what it knows gets its own
//! `?symbol=` request: MEXC answers an unknown one with `success:false, code 1001`, which makes
//! the symbol unlisted. Requests are at least `contracts_min_gap_ms` apart (MEXC allows one per
//! 5 s on this endpoint). Everything it learns goes out as `MarketEvent::Contracts`, in the
//! market stream, so the backend sees it in order with the data.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::MexcConfig;
use trademon_core::contract::{ContractError, NOT_LISTED};
use trademon_core::market::{ContractSpec, ContractUpdate, MarketEvent};

/// MEXC's code for a contract that does not exist.
const CONTRACT_NOT_FOUND: i64 = 1001;
/// Version of the cache file layout.
const CACHE_VERSION: u32 = 1;

/// What one detail response means.
#[derive(Debug, Clone, PartialEq)]
pub enum Detail {
    /// Valid specs, and the rows that could not be used (with why).
    Specs {
        specs: Vec<ContractSpec>,
        rejected: Vec<String>,
    },
    /// `success:false, code:1001`: the asked symbol does not exist.
    NotFound(String),
    /// Anything else: HTTP error, throttling, not JSON, wrong shape.
    Failed(String),
}

/// The envelope: `{"success":true,"code":0,"data":...}` or `{"success":false,"code":n,"message":"..."}`.
#[derive(Deserialize)]
struct Envelope<'a> {
    success: bool,
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: Option<String>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// One row as MEXC spells it; unknown fields (there are dozens) are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DetailRow {
    symbol: String,
    contract_size: f64,
    price_scale: u32,
    price_unit: f64,
    vol_scale: u32,
    vol_unit: f64,
    min_vol: f64,
    max_vol: f64,
    max_leverage: f64,
    maintenance_margin_rate: f64,
    state: i64,
}

impl From<DetailRow> for ContractSpec {
    fn from(r: DetailRow) -> Self {
        ContractSpec {
            symbol: r.symbol,
            contract_size: r.contract_size,
            price_scale: r.price_scale,
            price_unit: r.price_unit,
            vol_scale: r.vol_scale,
            vol_unit: r.vol_unit,
            min_vol: r.min_vol,
            max_vol: r.max_vol,
            max_leverage: r.max_leverage,
            maintenance_margin_rate: r.maintenance_margin_rate,
            state: r.state,
        }
    }
}

fn sample(text: &str) -> String {
    text.chars().take(80).collect()
}

/// Classify a detail response (all contracts, or one with `?symbol=`), pure. A row that does
/// not parse or validate is rejected alone: one odd contract must not hide the others.
pub fn parse_detail(status: u16, body: &str) -> Detail {
    if status != 200 {
        return Detail::Failed(format!("HTTP {status}: {}", sample(body)));
    }
    let env: Envelope = match serde_json::from_str(body) {
        Ok(e) => e,
        Err(e) => return Detail::Failed(format!("not a MEXC answer ({e}): {}", sample(body))),
    };
    if !env.success {
        let message = env.message.unwrap_or_default();
        return if env.code == CONTRACT_NOT_FOUND {
            Detail::NotFound(message)
        } else {
            Detail::Failed(format!("code {}: {message}", env.code))
        };
    }
    let Some(data) = env.data else {
        return Detail::Failed("success without data".into());
    };
    // With `?symbol=` the data is one object, without it an array.
    let rows: Vec<&RawValue> = if data.get().trim_start().starts_with('[') {
        match serde_json::from_str(data.get()) {
            Ok(rows) => rows,
            Err(e) => return Detail::Failed(format!("data is not a list of contracts: {e}")),
        }
    } else {
        vec![data]
    };
    let mut specs = Vec::new();
    let mut rejected = Vec::new();
    for (i, raw) in rows.into_iter().enumerate() {
        match serde_json::from_str::<DetailRow>(raw.get()) {
            Ok(row) => {
                let spec = ContractSpec::from(row);
                match spec.validate() {
                    Ok(()) => specs.push(spec),
                    Err(e) => rejected.push(e.to_string()),
                }
            }
            Err(e) => rejected.push(format!("contract #{i}: {e}: {}", sample(raw.get()))),
        }
    }
    Detail::Specs { specs, rejected }
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    /// When the exchange last answered, ms since the epoch.
    fetched_ms: i64,
    contracts: Vec<ContractSpec>,
}

/// Why the contract cache could not be read or written; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{} has version {found}, this build reads version {CACHE_VERSION}", path.display())]
    Version { path: PathBuf, found: u32 },
    #[error("{}: {source}", path.display())]
    Invalid {
        path: PathBuf,
        #[source]
        source: ContractError,
    },
    #[error(transparent)]
    Encode(#[from] serde_json::Error),
}

/// Reads the cache: `Ok(None)` when there is none yet.
pub fn load_cache(path: &Path) -> Result<Option<(i64, Vec<ContractSpec>)>, CacheError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CacheError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    let file: CacheFile = serde_json::from_str(&text).map_err(|source| CacheError::Parse {
        path: path.to_owned(),
        source,
    })?;
    if file.version != CACHE_VERSION {
        return Err(CacheError::Version {
            path: path.to_owned(),
            found: file.version,
        });
    }
    let mut specs = Vec::new();
    for s in file.contracts {
        s.validate().map_err(|source| CacheError::Invalid {
            path: path.to_owned(),
            source,
        })?;
        specs.push(s);
    }
    Ok(Some((file.fetched_ms, specs)))
}

/// Atomic replace: `<path>.tmp`, then rename, so a crash never leaves half a file.
pub fn save_cache(path: &Path, fetched_ms: i64, specs: &[ContractSpec]) -> Result<(), CacheError> {
    let file = CacheFile {
        version: CACHE_VERSION,
        fetched_ms,
        contracts: specs.to_vec(),
    };
    let text = serde_json::to_string(&file)?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| CacheError::Io { path, source }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Starts the loader. `cache`: the file in the data dir (`None`: no cache). It follows
/// `symbols` (the watched set) and ends once `out` is closed.
pub fn spawn(
    cfg: MexcConfig,
    cache: Option<PathBuf>,
    symbols: watch::Receiver<BTreeSet<String>>,
    out: mpsc::Sender<MarketEvent>,
) -> JoinHandle<()> {
    tokio::spawn(
        Loader {
            cfg,
            cache,
            symbols,
            out,
            known: BTreeMap::new(),
            unlisted: BTreeSet::new(),
            last_request: None,
            failing: false,
        }
        .run(),
    )
}

struct Loader {
    cfg: MexcConfig,
    cache: Option<PathBuf>,
    symbols: watch::Receiver<BTreeSet<String>>,
    out: mpsc::Sender<MarketEvent>,
    known: BTreeMap<String, ContractSpec>,
    unlisted: BTreeSet<String>,
    last_request: Option<Instant>,
    /// In a streak of failed loads (warned once per streak).
    failing: bool,
}

/// Whether the receiver is gone.
struct Closed;

impl Loader {
    async fn run(mut self) {
        let ms = Duration::from_millis;
        let client = match reqwest::Client::builder()
            .dns_resolver(super::cause::TypedResolver)
            .timeout(ms(self.cfg.rest_timeout_ms))
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(event = "mexc.contracts_failed", error = %e, "cannot build HTTP client");
                return;
            }
        };
        if self.load_cache().await.is_err() {
            return;
        }
        let refresh = Duration::from_secs(self.cfg.contracts_refresh_s);
        let retry = Duration::from_secs(self.cfg.contracts_retry_s);
        let mut next_full = Instant::now();
        // Symbols whose own request failed wait until then.
        let mut hold_until: BTreeMap<String, Instant> = BTreeMap::new();
        let mut symbols_open = true;
        loop {
            let now = Instant::now();
            if now >= next_full {
                next_full = match self.full(&client).await {
                    Ok(true) => Instant::now() + refresh,
                    Ok(false) => Instant::now() + retry,
                    Err(Closed) => return,
                };
                continue;
            }
            let wanted = self.symbols.borrow_and_update().clone();
            let missing = wanted.iter().find(|s| {
                !self.known.contains_key(*s)
                    && !self.unlisted.contains(*s)
                    && hold_until.get(*s).is_none_or(|t| *t <= now)
            });
            if let Some(symbol) = missing.cloned() {
                match self.one(&client, &symbol).await {
                    Ok(true) => {
                        hold_until.remove(&symbol);
                    }
                    Ok(false) => {
                        hold_until.insert(symbol, Instant::now() + retry);
                    }
                    Err(Closed) => return,
                }
                continue;
            }
            let wake = hold_until
                .values()
                .copied()
                .filter(|t| *t > now)
                .chain([next_full])
                .min()
                .unwrap_or(next_full);
            tokio::select! {
                _ = self.out.closed() => return,
                changed = self.symbols.changed(), if symbols_open => {
                    if changed.is_err() {
                        symbols_open = false;
                    }
                }
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    async fn send(&self, update: ContractUpdate) -> Result<(), Closed> {
        if update.specs.is_empty() && update.unlisted.is_empty() {
            return Ok(());
        }
        self.out
            .send(MarketEvent::Contracts(update))
            .await
            .map_err(|_| Closed)
    }

    async fn load_cache(&mut self) -> Result<(), Closed> {
        let Some(path) = self.cache.clone() else {
            return Ok(());
        };
        match load_cache(&path) {
            Ok(Some((fetched_ms, specs))) => {
                tracing::info!(
                    event = "mexc.contracts_cached",
                    path = %path.display(),
                    contracts = specs.len(),
                    fetched_ms,
                );
                for s in &specs {
                    self.known.insert(s.symbol.clone(), s.clone());
                }
                self.send(ContractUpdate {
                    specs,
                    unlisted: Vec::new(),
                })
                .await
            }
            Ok(None) => Ok(()),
            Err(e) => {
                tracing::warn!(
                    event = "mexc.contracts_cache_unreadable",
                    error = %e,
                    "ignoring the contract cache; loading from MEXC"
                );
                Ok(())
            }
        }
    }

    /// Waits out the least gap between two detail requests, then GETs `url`.
    async fn get(&mut self, client: &reqwest::Client, url: &str) -> Detail {
        if let Some(last) = self.last_request {
            let gap = Duration::from_millis(self.cfg.contracts_min_gap_ms);
            tokio::time::sleep_until(last + gap).await;
        }
        self.last_request = Some(Instant::now());
        match client.get(url).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                match resp.text().await {
                    Ok(body) => parse_detail(status, &body),
                    Err(e) => Detail::Failed(e.to_string()),
                }
            }
            Err(e) => Detail::Failed(e.to_string()),
        }
    }

    fn url(&self) -> String {
        format!(
            "{}/api/v1/contract/detail",
            self.cfg.rest_url.trim_end_matches('/')
        )
    }

    fn failed(&mut self, url: &str, why: &str) {
        if self.failing {
            tracing::debug!(event = "mexc.contracts_failed", url, reason = why);
        } else {
            tracing::warn!(
                event = "mexc.contracts_failed",
                url,
                reason = why,
                retry_in_s = self.cfg.contracts_retry_s,
                cached = self.known.len(),
            );
        }
        self.failing = true;
    }

    fn rejected(rejected: &[String]) {
        for r in rejected {
            tracing::warn!(event = "mexc.contract_rejected", reason = %r);
        }
    }

    /// Every contract; `Ok(true)` when the exchange answered.
    async fn full(&mut self, client: &reqwest::Client) -> Result<bool, Closed> {
        let url = self.url();
        match self.get(client, &url).await {
            Detail::Specs { specs, rejected } => {
                Self::rejected(&rejected);
                self.failing = false;
                let fetched_ms = trademon_protocol::now_ms();
                if let Some(path) = &self.cache
                    && let Err(e) = save_cache(path, fetched_ms, &specs)
                {
                    tracing::warn!(event = "mexc.contracts_cache_failed", error = %e);
                }
                tracing::info!(event = "mexc.contracts_loaded", contracts = specs.len());
                self.known = specs
                    .iter()
                    .map(|s| (s.symbol.clone(), s.clone()))
                    .collect();
                // The complete list, just now: a watched symbol not on it is not listed.
                let wanted = self.symbols.borrow().clone();
                let unlisted: Vec<(String, String)> = wanted
                    .into_iter()
                    .filter(|s| !self.known.contains_key(s))
                    .filter(|s| self.unlisted.insert(s.clone()))
                    .map(|s| (s, NOT_LISTED.to_string()))
                    .collect();
                self.send(ContractUpdate { specs, unlisted }).await?;
                Ok(true)
            }
            Detail::NotFound(m) | Detail::Failed(m) => {
                self.failed(&url, &m);
                Ok(false)
            }
        }
    }

    /// One symbol; `Ok(true)` when the exchange answered (with a spec or "no such contract").
    async fn one(&mut self, client: &reqwest::Client, symbol: &str) -> Result<bool, Closed> {
        let url = format!("{}?symbol={symbol}", self.url());
        match self.get(client, &url).await {
            Detail::Specs { specs, rejected } => {
                Self::rejected(&rejected);
                self.failing = false;
                let spec = specs.into_iter().find(|s| s.symbol == symbol);
                let Some(spec) = spec else {
                    // The answer had no usable row for it: treat as a failed load, not as
                    // "not listed" (the exchange did not say that).
                    self.failed(&url, "no usable contract in the answer");
                    return Ok(false);
                };
                self.known.insert(spec.symbol.clone(), spec.clone());
                if let Some(path) = &self.cache {
                    let all: Vec<ContractSpec> = self.known.values().cloned().collect();
                    if let Err(e) = save_cache(path, trademon_protocol::now_ms(), &all) {
                        tracing::warn!(event = "mexc.contracts_cache_failed", error = %e);
                    }
                }
                self.send(ContractUpdate {
                    specs: vec![spec],
                    unlisted: Vec::new(),
                })
                .await?;
                Ok(true)
            }
            Detail::NotFound(message) => {
                self.failing = false;
                tracing::info!(event = "mexc.contract_not_listed", symbol, message = %message);
                self.unlisted.insert(symbol.to_string());
                self.send(ContractUpdate {
                    specs: Vec::new(),
                    unlisted: vec![(symbol.to_string(), NOT_LISTED.to_string())],
                })
                .await?;
                Ok(true)
            }
            Detail::Failed(m) => {
                self.failed(&url, &m);
                Ok(false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BTC: &str = r#"{"symbol":"BTC_USDT","displayName":"BTC_USDT永续","contractSize":0.0001,"priceScale":1,"priceUnit":0.1,"volScale":0,"volUnit":1,"minVol":1,"maxVol":1250000,"maxLeverage":500,"maintenanceMarginRate":0.004,"state":0,"futureType":1,"apiAllowed":false}"#;

    #[test]
    fn parses_the_list_and_the_single_object() {
        let body = format!(r#"{{"success":true,"code":0,"data":[{BTC}]}}"#);
        let Detail::Specs { specs, rejected } = parse_detail(200, &body) else {
            panic!("{:?}", parse_detail(200, &body));
        };
        assert!(rejected.is_empty());
        assert_eq!(specs.len(), 1);
        let s = &specs[0];
        assert_eq!(s.symbol, "BTC_USDT");
        assert_eq!(s.contract_size, 0.0001);
        assert_eq!((s.price_scale, s.price_unit), (1, 0.1));
        assert_eq!((s.vol_scale, s.vol_unit, s.min_vol), (0, 1.0, 1.0));
        assert_eq!((s.max_vol, s.max_leverage), (1_250_000.0, 500.0));
        assert_eq!((s.maintenance_margin_rate, s.state), (0.004, 0));
        let one = format!(r#"{{"success":true,"code":0,"data":{BTC}}}"#);
        assert!(matches!(parse_detail(200, &one), Detail::Specs { specs, .. } if specs.len() == 1));
    }

    #[test]
    fn unknown_symbol_is_not_found_and_other_failures_are_failures() {
        let nf = r#"{"success":false,"code":1001,"message":"contract does not exist"}"#;
        assert_eq!(
            parse_detail(200, nf),
            Detail::NotFound("contract does not exist".into())
        );
        let throttled = r#"{"success":false,"code":510,"message":"Requests are too frequent"}"#;
        assert!(matches!(parse_detail(200, throttled), Detail::Failed(m) if m.contains("510")));
        assert!(matches!(parse_detail(403, "<html>"), Detail::Failed(m) if m.contains("HTTP 403")));
    }

    #[test]
    fn malformed_answers_are_errors_not_panics() {
        let cases = [
            "",
            "<html>",
            "null",
            "[]",
            r#"{"success":true}"#,
            r#"{"success":true,"data":7}"#,
            r#"{"success":true,"data":[7]}"#,
            r#"{"success":true,"data":"x"}"#,
            r#"{"success":"yes","data":[]}"#,
            r#"{"success":true,"data":[{"symbol":"X_USDT"}]}"#,
            r#"{"success":true,"data":{"symbol":"X_USDT","contractSize":"big"}}"#,
        ];
        for body in cases {
            match parse_detail(200, body) {
                Detail::Failed(m) => assert!(!m.is_empty(), "{body}"),
                Detail::Specs { specs, rejected } => {
                    assert!(specs.is_empty(), "{body}");
                    assert!(!rejected.is_empty(), "{body}: a bad row says why");
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_bad_row_is_rejected_alone_with_a_reason() {
        let bad = BTC
            .replace("BTC_USDT", "BAD_USDT")
            .replace("\"contractSize\":0.0001", "\"contractSize\":0");
        let missing = r#"{"symbol":"ETH_USDT","contractSize":0.01}"#;
        let body = format!(r#"{{"success":true,"code":0,"data":[{BTC},{bad},{missing}]}}"#);
        let Detail::Specs { specs, rejected } = parse_detail(200, &body) else {
            panic!()
        };
        assert_eq!(specs.len(), 1);
        assert_eq!(rejected.len(), 2);
        assert!(rejected[0].contains("BAD_USDT") && rejected[0].contains("contractSize"));
        assert!(rejected[1].contains("priceScale"), "{}", rejected[1]);
    }

    #[test]
    fn cache_round_trips_and_reports_damage() {
        let dir = std::env::temp_dir().join(format!("trademon-contracts-{}", fastrand::u64(..)));
        let path = dir.join("contracts.json");
        assert!(matches!(load_cache(&path), Ok(None)));
        let Detail::Specs { specs, .. } =
            parse_detail(200, &format!(r#"{{"success":true,"data":[{BTC}]}}"#))
        else {
            panic!()
        };
        save_cache(&path, 42, &specs).unwrap();
        assert_eq!(load_cache(&path).unwrap(), Some((42, specs)));
        assert!(!dir.join("contracts.json.tmp").exists());
        std::fs::write(&path, "{not json").unwrap();
        let e = load_cache(&path).unwrap_err();
        assert!(matches!(e, CacheError::Parse { .. }), "{e:?}");
        assert!(e.to_string().contains("contracts.json"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
