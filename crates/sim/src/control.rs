//! HTTP control API on the simulator's port, under `/control`: a JSON layer over `SimFaults`
//! so a person with curl (or a script) can switch faults on against a running `trademon serve`.
//!
//! Everything here is client input: bodies are parsed, never trusted, and a bad one is a 400
//! with a reason. An empty body means "all defaults" so `curl -X POST .../control/drop` works.
//! The API is refused (403) when the simulator listens on a non-loopback address, unless it
//! was enabled explicitly; see `ControlAccess`.

use super::ServerState;
use super::clock::wall_ms;
use super::faults::{ActionError, Malformed, Outbound};
use super::frames;
use super::market::PumpSpec;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

/// Whether `/control` answers. Decided once at start from the listen address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlAccess {
    Enabled,
    /// Refused, with the reason the 403 body gives.
    Refused(String),
}

impl ControlAccess {
    /// Loopback listeners always get the API; anything else only when `allow_remote` is set,
    /// because the API can drop every connection and is not authenticated.
    pub fn for_listener(addr: SocketAddr, allow_remote: bool) -> ControlAccess {
        if addr.ip().is_loopback() || allow_remote {
            ControlAccess::Enabled
        } else {
            ControlAccess::Refused(format!(
                "control API disabled: the simulator listens on {addr}, not loopback \
                 (start it with --allow-remote-control to enable)"
            ))
        }
    }
}

pub(crate) fn routes(access: ControlAccess) -> Router<Arc<ServerState>> {
    match access {
        ControlAccess::Enabled => Router::new()
            .route("/control", get(index))
            .route("/control/faults", get(get_faults).post(patch_faults))
            .route("/control/reset", post(reset))
            .route("/control/drop", post(drop_conns))
            .route("/control/close", post(close))
            .route("/control/half_open", post(half_open))
            .route("/control/inject", post(inject))
            .route("/control/pump", post(pump))
            .route("/control/connections", get(connections))
            .route("/control/stats", get(stats)),
        ControlAccess::Refused(why) => {
            let refuse = move || {
                let why = why.clone();
                async move { error(StatusCode::FORBIDDEN, why) }
            };
            Router::new()
                .route("/control", any(refuse.clone()))
                .route("/control/{*rest}", any(refuse))
        }
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn action_error(e: ActionError) -> Response {
    let status = match e {
        ActionError::UnknownConnection(_) => StatusCode::NOT_FOUND,
        ActionError::UnknownSymbol(_) | ActionError::Invalid(_) => StatusCode::BAD_REQUEST,
    };
    error(status, e.to_string())
}

/// A body that did not parse; answered 400 with the parser's reason.
struct BadBody(String);

impl IntoResponse for BadBody {
    fn into_response(self) -> Response {
        error(StatusCode::BAD_REQUEST, self.0)
    }
}

/// Parse a body; empty means `{}`.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, BadBody> {
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(text).map_err(|e| BadBody(format!("invalid JSON body: {e}")))
}

fn reached(result: Result<usize, ActionError>) -> Response {
    match result {
        Ok(n) => Json(json!({ "reached": n })).into_response(),
        Err(e) => action_error(e),
    }
}

async fn index() -> Json<Value> {
    Json(json!({
        "docs": "docs/simulator.md",
        "endpoints": [
            "GET  /control/faults",
            "POST /control/faults       {\"<knob>\": <value>, ...}  (null = default)",
            "POST /control/reset",
            "POST /control/drop         {\"conn\"?: id, \"rst\"?: bool}",
            "POST /control/close        {\"conn\"?: id, \"code\": 1012, \"reason\"?: \"...\"}",
            "POST /control/half_open    {\"conn\"?: id}",
            "POST /control/inject       {\"conn\"?: id, \"text\" | \"kind\", \"gzip\"?: bool}",
            "POST /control/pump         {\"symbol\": \"BTC_USDT\", \"magnitude_pct\"?, \"rise_ms\"?, \"fade_ms\"?}",
            "GET  /control/connections",
            "GET  /control/stats",
        ],
    }))
}

async fn get_faults(State(shared): State<Arc<ServerState>>) -> Response {
    Json(shared.faults.state()).into_response()
}

async fn patch_faults(State(shared): State<Arc<ServerState>>, bytes: Bytes) -> Response {
    let patch: Value = match body(&bytes) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    match shared.faults.patch(&patch) {
        Ok(state) => {
            tracing::info!(%patch, "sim: faults changed");
            Json(state).into_response()
        }
        Err(e) => error(StatusCode::BAD_REQUEST, e.0),
    }
}

async fn reset(State(shared): State<Arc<ServerState>>) -> Response {
    shared.faults.reset();
    tracing::info!("sim: faults reset");
    Json(shared.faults.state()).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct DropBody {
    conn: Option<u64>,
    rst: bool,
}

async fn drop_conns(State(shared): State<Arc<ServerState>>, bytes: Bytes) -> Response {
    match body::<DropBody>(&bytes) {
        Ok(b) => reached(shared.faults.drop_connections(b.conn, b.rst)),
        Err(r) => r.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseBody {
    #[serde(default)]
    conn: Option<u64>,
    code: u16,
    #[serde(default)]
    reason: String,
}

async fn close(State(shared): State<Arc<ServerState>>, bytes: Bytes) -> Response {
    match body::<CloseBody>(&bytes) {
        Ok(b) => reached(shared.faults.close(b.conn, b.code, &b.reason)),
        Err(r) => r.into_response(),
    }
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct ConnBody {
    conn: Option<u64>,
}

async fn half_open(State(shared): State<Arc<ServerState>>, bytes: Bytes) -> Response {
    match body::<ConnBody>(&bytes) {
        Ok(b) => reached(shared.faults.half_open(b.conn)),
        Err(r) => r.into_response(),
    }
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct InjectBody {
    conn: Option<u64>,
    text: Option<String>,
    kind: Option<Malformed>,
    gzip: bool,
}

async fn inject(State(shared): State<Arc<ServerState>>, bytes: Bytes) -> Response {
    let b = match body::<InjectBody>(&bytes) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let frame = match (b.text, b.kind) {
        (Some(text), None) => Outbound::Text(text),
        (None, Some(kind)) => kind.frame(wall_ms()),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "give exactly one of \"text\" or \"kind\" (invalid_json, truncated, \
                 unknown_channel, client_id, binary_garbage, empty)",
            );
        }
    };
    let shown = match &frame {
        Outbound::Text(t) => json!(t),
        Outbound::Binary(b) => json!(format!("<{} binary bytes>", b.len())),
    };
    let frame = match (b.gzip, frame) {
        (true, Outbound::Text(t)) => match frames::gzip(t.as_bytes()) {
            Ok(bytes) => Outbound::Binary(bytes),
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        },
        (_, frame) => frame,
    };
    match shared.faults.inject(b.conn, frame) {
        Ok(n) => Json(json!({ "reached": n, "frame": shown, "gzip": b.gzip })).into_response(),
        Err(e) => action_error(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PumpBody {
    symbol: String,
    magnitude_pct: Option<f64>,
    rise_ms: Option<i64>,
    fade_ms: Option<i64>,
    retrace: Option<f64>,
    rate_mult: Option<f64>,
    size_mult: Option<f64>,
}

async fn pump(State(shared): State<Arc<ServerState>>, bytes: Bytes) -> Response {
    let b = match body::<PumpBody>(&bytes) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let d = PumpSpec::default();
    let spec = PumpSpec {
        magnitude_pct: b.magnitude_pct.unwrap_or(d.magnitude_pct),
        rise_ms: b.rise_ms.unwrap_or(d.rise_ms),
        fade_ms: b.fade_ms.unwrap_or(d.fade_ms),
        retrace: b.retrace.unwrap_or(d.retrace),
        rate_mult: b.rate_mult.unwrap_or(d.rate_mult),
        size_mult: b.size_mult.unwrap_or(d.size_mult),
    };
    match shared.faults.force_pump_with(&b.symbol, spec) {
        Ok(()) => Json(json!({ "symbol": b.symbol, "pump": spec })).into_response(),
        Err(e) => action_error(e),
    }
}

async fn connections(State(shared): State<Arc<ServerState>>) -> Response {
    Json(shared.faults.connections()).into_response()
}

async fn stats(State(shared): State<Arc<ServerState>>) -> Response {
    Json(shared.faults.stats()).into_response()
}
