//! Contract specifications end to end: the loader against the simulator's
//! `/api/v1/contract/detail` over a real loopback socket, the cache when REST is down, and the
//! backend failing an unknown symbol (FAILED instance, one event, not subscribed).

use crate::support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use support::*;
use tokio::sync::{mpsc, watch};
use trademon::config::{Config, MexcConfig};
use trademon::exchange::contract::NOT_LISTED;
use trademon::exchange::mexc::contracts;
use trademon::exchange::{ContractSpec, ContractUpdate, MarketEvent, sim};
use trademon::protocol::RestSnapshot;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "trademon-contracts-{name}-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn mexc_cfg(rest_url: &str) -> MexcConfig {
    MexcConfig {
        rest_url: rest_url.to_string(),
        rest_timeout_ms: 1000,
        contracts_min_gap_ms: 10,
        contracts_retry_s: 1,
        ..Config::defaults().mexc
    }
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Collects `Contracts` updates until `done` holds for everything seen so far.
async fn collect(
    rx: &mut mpsc::Receiver<MarketEvent>,
    seen: &mut Vec<ContractUpdate>,
    done: impl Fn(&[ContractUpdate]) -> bool,
) {
    tokio::time::timeout(WAIT, async {
        while !done(seen) {
            match rx.recv().await {
                Some(MarketEvent::Contracts(u)) => seen.push(u),
                Some(_) => {}
                None => panic!("loader ended"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out; seen {seen:?}"));
}

fn spec<'a>(seen: &'a [ContractUpdate], symbol: &str) -> Option<&'a ContractSpec> {
    seen.iter()
        .rev()
        .flat_map(|u| &u.specs)
        .find(|s| s.symbol == symbol)
}

fn unlisted(seen: &[ContractUpdate], symbol: &str) -> Option<String> {
    seen.iter()
        .flat_map(|u| &u.unlisted)
        .find(|(s, _)| s == symbol)
        .map(|(_, r)| r.clone())
}

async fn start_sim() -> sim::SimHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    sim::start(&Config::defaults().sim, listener).await.unwrap()
}

#[tokio::test]
async fn loader_reads_contract_detail_from_the_simulator_and_fails_unknown_symbols() {
    let sim = start_sim().await;
    let dir = temp_dir("sim");
    let cache = dir.join("contracts.json");
    let (symbols_tx, symbols_rx) =
        watch::channel(set(&["BTC_USDT", "PEPE_USDT", "DOGE_USDT", "NOPE_USDT"]));
    let (out, mut rx) = mpsc::channel(64);
    let task = contracts::spawn(
        mexc_cfg(&sim.rest_url()),
        Some(cache.clone()),
        symbols_rx,
        out,
    );
    let mut seen = Vec::new();
    collect(&mut rx, &mut seen, |s| {
        spec(s, "PEPE_USDT").is_some() && unlisted(s, "NOPE_USDT").is_some()
    })
    .await;
    let pepe = spec(&seen, "PEPE_USDT").unwrap();
    assert_eq!(pepe.contract_size, 10_000_000.0);
    assert_eq!(pepe.price_scale, 10);
    assert_eq!(spec(&seen, "DOGE_USDT").unwrap().contract_size, 100.0);
    let btc = spec(&seen, "BTC_USDT").unwrap();
    assert_eq!((btc.contract_size, btc.price_scale), (0.0001, 1));
    assert_eq!((btc.vol_unit, btc.min_vol, btc.state), (1.0, 1.0, 0));
    assert!(btc.max_leverage >= 1.0 && btc.maintenance_margin_rate > 0.0);
    assert_eq!(unlisted(&seen, "NOPE_USDT").as_deref(), Some(NOT_LISTED));
    assert_eq!(unlisted(&seen, "BTC_USDT"), None);
    // The complete answer is cached for an offline start.
    let (_, cached) = contracts::load_cache(&cache).unwrap().unwrap();
    assert_eq!(cached.len(), sim::SYMBOLS.len());

    // A symbol added later is asked for alone (`?symbol=`) and refused with MEXC's code.
    symbols_tx.send_modify(|s| {
        s.insert("NEW_USDT".into());
    });
    collect(&mut rx, &mut seen, |s| unlisted(s, "NEW_USDT").is_some()).await;

    task.abort();
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn simulator_detail_speaks_mexc_shapes() {
    let sim = start_sim().await;
    let url = format!("{}/api/v1/contract/detail", sim.rest_url());
    let all: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    assert_eq!(all["success"], true);
    let list = all["data"].as_array().unwrap();
    assert_eq!(list.len(), sim::SYMBOLS.len());
    let one: serde_json::Value = reqwest::get(format!("{url}?symbol=DOGE_USDT"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["data"]["symbol"], "DOGE_USDT");
    assert_eq!(one["data"]["contractSize"], 100.0);
    let resp = reqwest::get(format!("{url}?symbol=NOPE_USDT"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "MEXC answers errors with HTTP 200");
    let nope: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(nope["success"], false);
    assert_eq!(nope["code"], 1001);
    assert!(nope["message"].as_str().unwrap().contains("not exist"));
    sim.shutdown().await;
}

#[tokio::test]
async fn cache_serves_when_rest_is_down() {
    let dir = temp_dir("offline");
    let cache = dir.join("contracts.json");
    let doge = ContractSpec {
        symbol: "DOGE_USDT".into(),
        contract_size: 100.0,
        price_scale: 5,
        price_unit: 0.00001,
        vol_scale: 0,
        vol_unit: 1.0,
        min_vol: 1.0,
        max_vol: 1_000_000.0,
        max_leverage: 100.0,
        maintenance_margin_rate: 0.01,
        state: 0,
    };
    contracts::save_cache(&cache, 1_700_000_000_000, std::slice::from_ref(&doge)).unwrap();
    // A port nobody listens on: every REST request is refused.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let (_symbols_tx, symbols_rx) = watch::channel(set(&["DOGE_USDT", "NOPE_USDT"]));
    let (out, mut rx) = mpsc::channel(64);
    let task = contracts::spawn(
        mexc_cfg(&format!("http://{closed}")),
        Some(cache.clone()),
        symbols_rx,
        out,
    );
    let mut seen = Vec::new();
    collect(&mut rx, &mut seen, |s| spec(s, "DOGE_USDT").is_some()).await;
    assert_eq!(spec(&seen, "DOGE_USDT"), Some(&doge));
    // Unreachable is not "not listed": nothing is refused while REST is down.
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok(ev) = rx.try_recv() {
        if let MarketEvent::Contracts(u) = ev {
            assert!(u.unlisted.is_empty(), "{u:?}");
        }
    }
    task.abort();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn backend_fails_an_unknown_symbol_once_and_stops_asking_for_it() {
    let mut sessions = sessions();
    sessions[0].symbols.push("NOPE_USDT".into());
    let mut b = start_with(test_config(), sessions).await;
    b.symbols
        .wait_for(|s| s.contains("NOPE_USDT"))
        .await
        .unwrap();
    b.market
        .send(MarketEvent::Contracts(ContractUpdate {
            specs: Vec::new(),
            unlisted: vec![("NOPE_USDT".into(), NOT_LISTED.into())],
        }))
        .await
        .unwrap();
    // The WebSocket's `rs.error` for it too (as when the subscribe went out first).
    b.market
        .send(MarketEvent::SymbolFailed {
            symbol: "NOPE_USDT".into(),
            reason: "Contract [NOPE_USDT] not exists".into(),
        })
        .await
        .unwrap();
    tokio::time::timeout(WAIT, b.symbols.wait_for(|s| !s.contains("NOPE_USDT")))
        .await
        .expect("NOPE_USDT leaves the adapter's set")
        .unwrap();
    assert!(b.symbols.borrow().contains("BTC_USDT"));
    // Everything sent before this ticker has been handled once it shows.
    b.market
        .send(ticker("BTC_USDT", 95_000.0, None))
        .await
        .unwrap();
    let snap = tokio::time::timeout(WAIT, async {
        loop {
            let snap: RestSnapshot = reqwest::get(b.http("/api/v1/snapshot?session=majors"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if snap
                .data
                .market_data
                .as_ref()
                .is_some_and(|m| !m.is_empty())
            {
                return snap;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    let inst = snap
        .data
        .state_machines
        .unwrap()
        .into_iter()
        .find(|i| i.symbol == "NOPE_USDT")
        .unwrap();
    assert_eq!(inst.state, "FAILED");
    assert_eq!(inst.last_reason, NOT_LISTED);
    let events: Vec<_> = snap
        .data
        .events
        .unwrap()
        .into_iter()
        .filter(|e| e.message.contains("NOPE_USDT"))
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0].message.contains("not listed on MEXC"),
        "{events:?}"
    );
    b.handle.shutdown().await;
}

mod parsing {
    use proptest::prelude::*;
    use serde_json::json;
    use trademon::exchange::mexc::contracts::{Detail, parse_detail};

    fn junk_value() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            Just(json!(null)),
            any::<bool>().prop_map(|b| json!(b)),
            any::<f64>().prop_map(|f| json!(f)),
            any::<i64>().prop_map(|i| json!(i)),
            ".{0,8}".prop_map(|s| json!(s)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn any_text_is_an_answer_or_an_error_never_a_panic(status in 100u16..600, body in any::<String>()) {
            let _ = parse_detail(status, &body);
        }

        /// The right keys with any values: every row either validates or is rejected with a
        /// reason; nothing invalid gets through.
        #[test]
        fn rows_with_junk_values_are_rejected_with_reasons(
            size in junk_value(), scale in junk_value(), unit in junk_value(),
            min in junk_value(), lev in junk_value(), mmr in junk_value(), state in junk_value(),
        ) {
            let row = json!({
                "symbol": "X_USDT", "contractSize": size, "priceScale": scale, "priceUnit": unit,
                "volScale": 0, "volUnit": 1, "minVol": min, "maxVol": 1000,
                "maxLeverage": lev, "maintenanceMarginRate": mmr, "state": state,
            });
            let body = json!({"success": true, "code": 0, "data": [row]}).to_string();
            match parse_detail(200, &body) {
                Detail::Specs { specs, rejected } => {
                    prop_assert_eq!(specs.len() + rejected.len(), 1);
                    for s in specs {
                        prop_assert!(s.validate().is_ok());
                    }
                }
                other => prop_assert!(false, "{other:?}"),
            }
        }
    }
}

#[test]
fn contract_timers_are_validated() {
    let mut cfg = Config::defaults();
    cfg.mexc.contracts_refresh_s = 5;
    let e = cfg.validate().unwrap_err().to_string();
    assert!(e.contains("mexc.contracts_refresh_s"), "{e}");
    let mut cfg = Config::defaults();
    cfg.mexc.contracts_retry_s = 0;
    assert!(cfg.validate().is_err());
}
