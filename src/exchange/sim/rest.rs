//! REST mock: the futures endpoints the adapter falls back to. MEXC answers errors with HTTP 200
//! and `success:false`, so that is what this does too.

use super::Shared;
use super::clock::wall_ms;
use super::frames::{self, Spelling};
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// MEXC's code for an unknown contract.
const CONTRACT_NOT_FOUND: u32 = 1001;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v1/contract/ticker", get(ticker))
        .route("/api/v1/contract/ping", get(ping))
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

async fn ticker(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<TickerQuery>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let snapshot = shared.snapshot.borrow().clone();
    let mut plain = Spelling::plain();
    match q.symbol {
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

async fn ping() -> Json<Success<i64>> {
    ok(wall_ms())
}
