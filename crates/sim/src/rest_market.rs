//! REST market data beyond the ticker: recent trades, depth and its commits, klines (last,
//! index and fair price), funding rate, index and fair price. All read the venue the feed steps,
//! so they agree with what the streams push.
//!
//! Errors are MEXC's: HTTP 200 `{"success":false,"code":..,"message":..}`, code 1001 for an
//! unknown contract and 600 `Parameter error` for a bad parameter (a bad kline interval
//! included, as live answers it). A path under `/api/` that the simulator does not serve answers
//! HTTP 404 with the same body shape, never an empty page.

use super::ServerState;
use super::book::{BOOK_LEVELS, COMMIT_LOG};
use super::clock::wall_ms;
use super::feed::lock;
use super::interval::KlineInterval;
use super::market::{spec_of, symbol_index};
use super::market_frames as mf;
use super::venue::{DEALS_KEPT, PriceKind, Venue};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use serde::Serialize;
use std::sync::Arc;

/// MEXC's code for an unknown contract.
const CONTRACT_NOT_FOUND: u32 = 1001;
/// MEXC's code and text for a parameter it cannot use.
const PARAM_ERROR: u32 = 600;
const PARAM_ERROR_MESSAGE: &str = "Parameter error";
const NOT_FOUND: u32 = 404;

pub(crate) fn routes() -> Router<Arc<ServerState>> {
    Router::new()
        .route("/api/v1/contract/deals/{symbol}", get(deals))
        .route("/api/v1/contract/depth/{symbol}", get(depth))
        .route(
            "/api/v1/contract/depth_commits/{symbol}/{limit}",
            get(depth_commits),
        )
        .route("/api/v1/contract/kline/{symbol}", get(kline_last))
        .route(
            "/api/v1/contract/kline/index_price/{symbol}",
            get(kline_index),
        )
        .route(
            "/api/v1/contract/kline/fair_price/{symbol}",
            get(kline_fair),
        )
        .route("/api/v1/contract/funding_rate/{symbol}", get(funding_rate))
        .route("/api/v1/contract/index_price/{symbol}", get(index_price))
        .route("/api/v1/contract/fair_price/{symbol}", get(fair_price))
        .route("/api/{*path}", any(not_simulated))
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
    message: String,
}

fn fail(code: u32, message: impl Into<String>) -> Response {
    Json(Failure {
        success: false,
        code,
        message: message.into(),
    })
    .into_response()
}

/// Why a request is refused, turned into MEXC's answer at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    UnknownContract,
    BadParameter,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::UnknownContract => fail(CONTRACT_NOT_FOUND, "contract does not exist"),
            Refusal::BadParameter => fail(PARAM_ERROR, PARAM_ERROR_MESSAGE),
        }
    }
}

fn param_error<E>(_: E) -> Refusal {
    Refusal::BadParameter
}

async fn not_simulated(method: Method, uri: Uri) -> Response {
    let body = Failure {
        success: false,
        code: NOT_FOUND,
        message: format!("{method} {} is not simulated", uri.path()),
    };
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

type Params = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// A query parameter as a whole number: `Ok(None)` when absent, `Err` when not a number.
/// Parameters the simulator does not know are ignored, as MEXC ignores them.
fn int_param(params: &[(String, String)], name: &str) -> Result<Option<i64>, Refusal> {
    match params.iter().rev().find(|(k, _)| k == name) {
        None => Ok(None),
        Some((_, v)) => v.trim().parse().map(Some).map_err(param_error),
    }
}

/// A listed contract's index, or MEXC's 1001 answer.
fn contract(shared: &ServerState, symbol: &str) -> Result<usize, Refusal> {
    symbol_index(symbol)
        .filter(|i| *i < shared.symbols)
        .ok_or(Refusal::UnknownContract)
}

/// A positive count, capped at `max`; zero, negative or absent-but-required is a parameter
/// error.
fn count(value: Option<i64>, default: usize, max: usize) -> Result<usize, Refusal> {
    match value {
        None => Ok(default),
        Some(n) if n >= 1 => Ok(usize::try_from(n).unwrap_or(max).min(max)),
        Some(_) => Err(Refusal::BadParameter),
    }
}

fn answer(result: Result<Response, Refusal>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn deals(
    State(shared): State<Arc<ServerState>>,
    Path(symbol): Path<String>,
    params: Params,
) -> Response {
    answer((|| {
        let Query(params) = params.map_err(param_error)?;
        let i = contract(&shared, &symbol)?;
        let limit = count(int_param(&params, "limit")?, DEALS_KEPT, DEALS_KEPT)?;
        let v = lock(&shared.venue);
        Ok(ok(mf::deals_data(v.deals(i, limit))).into_response())
    })())
}

async fn depth(
    State(shared): State<Arc<ServerState>>,
    Path(symbol): Path<String>,
    params: Params,
) -> Response {
    answer((|| {
        let Query(params) = params.map_err(param_error)?;
        let i = contract(&shared, &symbol)?;
        let limit = count(int_param(&params, "limit")?, BOOK_LEVELS, BOOK_LEVELS)?;
        let v = lock(&shared.venue);
        let book = v.book(i);
        let (bids, asks) = book.top(limit);
        let data = mf::depth_data(
            spec_of(i).decimals,
            (&bids, &asks),
            book.version(),
            wall_ms(),
        );
        Ok(ok(data).into_response())
    })())
}

async fn depth_commits(
    State(shared): State<Arc<ServerState>>,
    Path((symbol, limit)): Path<(String, String)>,
) -> Response {
    answer((|| {
        let i = contract(&shared, &symbol)?;
        let limit: i64 = limit.trim().parse().map_err(param_error)?;
        let limit = count(Some(limit), COMMIT_LOG, COMMIT_LOG)?;
        let v = lock(&shared.venue);
        let data = mf::commits_data(spec_of(i).decimals, v.book(i).recent_commits(limit));
        Ok(ok(data).into_response())
    })())
}

fn kline(shared: &ServerState, symbol: &str, params: Params, kind: PriceKind) -> Response {
    answer((|| {
        let Query(params) = params.map_err(param_error)?;
        let i = contract(shared, symbol)?;
        let interval = match params.iter().rev().find(|(k, _)| k == "interval") {
            None => KlineInterval::Min1,
            Some((_, name)) => KlineInterval::parse(name).ok_or(Refusal::BadParameter)?,
        };
        let start = int_param(&params, "start")?;
        let end = int_param(&params, "end")?;
        let v = lock(&shared.venue);
        let candles = v.klines(i, kind, interval, start, end);
        Ok(ok(mf::kline_columns(spec_of(i).decimals, &candles)).into_response())
    })())
}

async fn kline_last(
    State(shared): State<Arc<ServerState>>,
    Path(symbol): Path<String>,
    params: Params,
) -> Response {
    kline(&shared, &symbol, params, PriceKind::Last)
}

async fn kline_index(
    State(shared): State<Arc<ServerState>>,
    Path(symbol): Path<String>,
    params: Params,
) -> Response {
    kline(&shared, &symbol, params, PriceKind::Index)
}

async fn kline_fair(
    State(shared): State<Arc<ServerState>>,
    Path(symbol): Path<String>,
    params: Params,
) -> Response {
    kline(&shared, &symbol, params, PriceKind::Fair)
}

async fn funding_rate(
    State(shared): State<Arc<ServerState>>,
    Path(symbol): Path<String>,
) -> Response {
    answer((|| {
        let i = contract(&shared, &symbol)?;
        let now = wall_ms();
        let v = lock(&shared.venue);
        let data = mf::funding_data(&v.tickers()[i], Venue::next_settle_ms(now), now);
        Ok(ok(data).into_response())
    })())
}

async fn index_price(
    State(shared): State<Arc<ServerState>>,
    Path(symbol): Path<String>,
) -> Response {
    answer((|| {
        let i = contract(&shared, &symbol)?;
        let v = lock(&shared.venue);
        Ok(ok(mf::index_price_data(&v.tickers()[i], wall_ms())).into_response())
    })())
}

async fn fair_price(
    State(shared): State<Arc<ServerState>>,
    Path(symbol): Path<String>,
) -> Response {
    answer((|| {
        let i = contract(&shared, &symbol)?;
        let v = lock(&shared.venue);
        Ok(ok(mf::fair_price_data(&v.tickers()[i], wall_ms())).into_response())
    })())
}
