//! REST mock: the futures endpoints the adapter falls back to. MEXC answers errors with HTTP 200
//! and `success:false`, so that is what this does too.
//!
//! The REST faults (slow, WAF 403, other HTTP status, 510 throttle, the real 20 / 2 s limiter)
//! are one middleware in front of every endpoint here, and only here: the control API and
//! `/edge` are not affected.

use super::ServerState;
use super::clock::wall_ms;
use super::frames::{self, Spelling};
use super::market;
use super::ws::WAF_PAGE;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// MEXC's code for an unknown contract.
const CONTRACT_NOT_FOUND: u32 = 1001;
/// MEXC's code for "excessive frequency".
const THROTTLED: u32 = 510;
/// The text MEXC answers with (its exact wording is not verified).
const THROTTLED_MESSAGE: &str = "Requests are too frequent, please try again later";

/// The ticker, ping and contract details, then `more` (the other market endpoints), all behind
/// the REST faults.
pub(crate) fn routes(
    shared: Arc<ServerState>,
    more: Router<Arc<ServerState>>,
) -> Router<Arc<ServerState>> {
    Router::new()
        .route("/api/v1/contract/ticker", get(ticker))
        .route("/api/v1/contract/ping", get(ping))
        .route("/api/v1/contract/detail", get(detail))
        .merge(more)
        .route_layer(middleware::from_fn_with_state(shared, rest_faults))
}

async fn rest_faults(State(shared): State<Arc<ServerState>>, req: Request, next: Next) -> Response {
    let f = shared.faults.state();
    if f.rest_delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(f.rest_delay_ms)).await;
    }
    if f.rest_waf {
        return (StatusCode::FORBIDDEN, Html(WAF_PAGE)).into_response();
    }
    if let Some(code) = f.rest_http_status {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
        let body = format!("{status}\n");
        return (status, [(header::CONTENT_TYPE, "text/plain")], body).into_response();
    }
    let over_limit = f.rest_rate_limit && !shared.faults.rest_admit(req.uri().path());
    if f.rest_throttle || over_limit {
        return Json(Failure {
            success: false,
            code: THROTTLED,
            message: THROTTLED_MESSAGE,
        })
        .into_response();
    }
    next.run(req).await
}

#[derive(Serialize)]
struct Success<T> {
    success: bool,
    code: u32,
    data: T,
}

fn ok<T: Serialize>(data: T) -> Json<Success<T>> {
    Json(Success {
        success: true,
        code: 0,
        data,
    })
}

#[derive(Serialize)]
struct Failure {
    success: bool,
    code: u32,
    message: &'static str,
}

#[derive(Deserialize)]
struct TickerQuery {
    symbol: Option<String>,
}

async fn ticker(State(shared): State<Arc<ServerState>>, Query(q): Query<TickerQuery>) -> Response {
    let snapshot = shared.snapshot.borrow().clone();
    let mut plain = Spelling::plain();
    // The `rest_ticker_array` fault: the all-contracts array where one object was asked for.
    let symbol = q
        .symbol
        .filter(|_| !shared.faults.state().rest_ticker_array);
    match symbol {
        None => {
            let all: Vec<_> = snapshot
                .iter()
                .map(|t| frames::ticker_data(t, &mut plain))
                .collect();
            ok(all).into_response()
        }
        Some(symbol) => match snapshot.iter().find(|t| t.symbol == symbol) {
            Some(t) => ok(frames::ticker_data(t, &mut plain)).into_response(),
            None => Json(Failure {
                success: false,
                code: CONTRACT_NOT_FOUND,
                message: "contract does not exist",
            })
            .into_response(),
        },
    }
}

/// One contract as `GET /api/v1/contract/detail` spells it (the fields the adapter reads plus
/// a few MEXC always sends; the live answer has dozens more).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContractDetail {
    symbol: &'static str,
    display_name_en: String,
    base_coin: &'static str,
    quote_coin: &'static str,
    settle_coin: &'static str,
    contract_size: f64,
    price_scale: u32,
    price_unit: f64,
    vol_scale: u32,
    vol_unit: f64,
    min_vol: f64,
    max_vol: f64,
    min_leverage: u32,
    max_leverage: u32,
    maintenance_margin_rate: f64,
    initial_margin_rate: f64,
    state: u32,
    future_type: u32,
    api_allowed: bool,
}

/// The specification of listed contract `i`: size and precision from the market model (so
/// deal sizes and `amount24` agree with it), limits by how volatile the contract is.
fn contract_detail(i: usize) -> ContractDetail {
    let spec = market::spec_of(i);
    // Majors get the high leverage tiers MEXC offers them; the more volatile, the less.
    let (max_leverage, mmr) = match spec.symbol {
        "BTC_USDT" => (500, 0.004),
        "ETH_USDT" => (300, 0.005),
        _ if spec.daily_vol < 0.06 => (200, 0.005),
        _ if spec.daily_vol < 0.08 => (100, 0.01),
        _ => (50, 0.015),
    };
    let base = spec.symbol.split('_').next().unwrap_or(spec.symbol);
    ContractDetail {
        symbol: spec.symbol,
        display_name_en: format!("{base}_USDT PERPETUAL"),
        base_coin: base,
        quote_coin: "USDT",
        settle_coin: "USDT",
        contract_size: spec.contract_size,
        price_scale: spec.decimals,
        price_unit: 10f64.powi(-(spec.decimals as i32)),
        vol_scale: 0,
        vol_unit: 1.0,
        min_vol: 1.0,
        max_vol: 1_000_000.0,
        min_leverage: 1,
        max_leverage,
        maintenance_margin_rate: mmr,
        initial_margin_rate: 1.0 / f64::from(max_leverage),
        state: 0,
        future_type: 1,
        api_allowed: false,
    }
}

/// All listed contracts, or one with `?symbol=`; an unknown one answers MEXC's code 1001.
async fn detail(State(shared): State<Arc<ServerState>>, Query(q): Query<TickerQuery>) -> Response {
    match q.symbol {
        None => ok((0..shared.symbols).map(contract_detail).collect::<Vec<_>>()).into_response(),
        Some(symbol) => match market::symbol_index(&symbol).filter(|i| *i < shared.symbols) {
            Some(i) => ok(contract_detail(i)).into_response(),
            None => Json(Failure {
                success: false,
                code: CONTRACT_NOT_FOUND,
                message: "contract does not exist",
            })
            .into_response(),
        },
    }
}

async fn ping() -> Json<Success<i64>> {
    ok(wall_ms())
}
