//! HTTP surface on the one port: `GET /ws` and the REST API (`/api/v1/*`).

use super::auth;
use super::connection::{self, Admission, ClientSlots, ConnCtx, ConnParams};
use super::history::{self, HistoryError, HistoryRequest};
use super::hooks::TestHooks;
use super::hub::control_ops::NewSession;
use super::hub::{CmdError, HubCmd, HubHandle, NotFound};
use super::queue_meter::QueueMeter;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use trademon_protocol::{HistoryQuery, RestError};
use trademon_store::Queries;

#[derive(Clone)]
pub struct AppState {
    pub hub: HubHandle,
    pub hooks: Arc<TestHooks>,
    pub meter: Arc<QueueMeter>,
    pub token: Arc<str>,
    pub epoch: Arc<str>,
    pub params: ConnParams,
    pub max_frame_bytes: usize,
    pub next_conn: Arc<AtomicU64>,
    /// Open client WebSockets against `params.max_clients`.
    pub clients: Arc<ClientSlots>,
    /// Cloned into every connection task (see `ConnCtx::_alive`).
    pub alive: tokio::sync::mpsc::Sender<()>,
    /// QuestDB's read side for `/api/v1/history/*`; `None` when `[questdb]` is off.
    pub history: Option<Arc<Queries>>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/ws", get(ws_upgrade))
        .route("/api/v1/health", get(health))
        .route("/api/v1/sessions", get(sessions).post(create_session))
        .route("/api/v1/snapshot", get(snapshot))
        .route("/api/v1/sessions/{id}/start", post(start_session))
        .route("/api/v1/sessions/{id}/stop", post(stop_session))
        .route("/api/v1/sessions/{id}/pause", post(pause_strategy))
        .route("/api/v1/sessions/{id}/resume", post(resume_strategy))
        .route(
            "/api/v1/sessions/{id}/positions/{symbol}/close",
            post(close_position),
        )
        .route(
            "/api/v1/sessions/{id}/symbols/{symbol}",
            post(add_symbol).delete(remove_symbol),
        )
        .route("/api/v1/history/sessions", get(history_sessions))
        .route("/api/v1/history/sessions/{id}", get(history_session))
        .route(
            "/api/v1/history/sessions/{id}/{what}",
            get(history_of_session),
        )
        .fallback(not_found_route)
        .with_state(state)
}

async fn ws_upgrade(
    State(st): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    ws: WebSocketUpgrade,
) -> Response {
    if st.hooks.refuse_upgrades.load(Ordering::Relaxed) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            None,
            "upgrades refused",
        );
    }
    // A bad token still gets the upgrade so it can be told why with a final close code
    // (4501: do not reconnect) instead of an HTTP status the client would retry.
    let admission = if !auth::authorized(&st.token, &headers, uri.query()) {
        Admission::BadToken
    } else {
        // Like a bad token, a full server still upgrades so the client gets a close code
        // (1013: try again later) it can act on, not an HTTP status.
        st.clients
            .take(st.params.max_clients)
            .map_or(Admission::Full, Admission::Open)
    };
    let num = st.next_conn.fetch_add(1, Ordering::Relaxed) + 1;
    let ctx = ConnCtx {
        num,
        id: format!("c-{num}"),
        epoch: st.epoch.to_string(),
        hub: st.hub.clone(),
        hooks: st.hooks.clone(),
        params: st.params,
        meter: st.meter.clone(),
        _alive: st.alive.clone(),
    };
    ws.max_message_size(st.max_frame_bytes)
        .max_frame_size(st.max_frame_bytes)
        .on_failed_upgrade(|e| {
            tracing::warn!(event = "client.upgrade_failed", error = %e, "websocket upgrade failed")
        })
        .on_upgrade(move |socket| connection::serve(socket, ctx, admission))
}

/// REST requests pass when no token is configured or they carry it (401 JSON otherwise).
pub struct Authorized;

impl FromRequestParts<AppState> for Authorized {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Response> {
        if auth::authorized(&st.token, &parts.headers, parts.uri.query()) {
            Ok(Authorized)
        } else {
            Err(error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                None,
                "missing or wrong token",
            ))
        }
    }
}

async fn health(_: Authorized, State(st): State<AppState>) -> Response {
    match st.hub.ask(HubCmd::Health).await {
        Some(h) => Json(h).into_response(),
        None => hub_gone(),
    }
}

async fn sessions(_: Authorized, State(st): State<AppState>) -> Response {
    match st.hub.ask(HubCmd::Sessions).await {
        Some(s) => Json(s).into_response(),
        None => hub_gone(),
    }
}

#[derive(Deserialize)]
struct SnapshotParams {
    session: Option<String>,
}

async fn snapshot(
    _: Authorized,
    State(st): State<AppState>,
    params: Result<Query<SnapshotParams>, QueryRejection>,
) -> Response {
    let Some(id) = params
        .ok()
        .and_then(|Query(p)| p.session)
        .filter(|s| !s.is_empty())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "missing_parameter",
            None,
            "query parameter `session` is required, e.g. /api/v1/snapshot?session=majors",
        );
    };
    match st.hub.ask(|tx| HubCmd::Snapshot(id.clone(), tx)).await {
        Some(Ok(snap)) => Json(snap).into_response(),
        Some(Err(nf)) => session_not_found(&id, &nf),
        None => hub_gone(),
    }
}

async fn start_session(
    _: Authorized,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let r = st.hub.ask(|tx| HubCmd::Start(id.clone(), tx)).await;
    command_response(&id, r)
}

async fn stop_session(
    _: Authorized,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let r = st.hub.ask(|tx| HubCmd::Stop(id.clone(), tx)).await;
    command_response(&id, r)
}

async fn add_symbol(
    _: Authorized,
    State(st): State<AppState>,
    Path((id, symbol)): Path<(String, String)>,
) -> Response {
    let r = st
        .hub
        .ask(|tx| HubCmd::AddSymbol(id.clone(), symbol, tx))
        .await;
    command_response(&id, r)
}

async fn remove_symbol(
    _: Authorized,
    State(st): State<AppState>,
    Path((id, symbol)): Path<(String, String)>,
) -> Response {
    let r = st
        .hub
        .ask(|tx| HubCmd::RemoveSymbol(id.clone(), symbol, tx))
        .await;
    command_response(&id, r)
}

/// 201 with the new session (started); 400 a body that is not a session or a bad symbol;
/// 409 refused (id or name taken, unknown strategy, no symbols), the reason given.
async fn create_session(
    _: Authorized,
    State(st): State<AppState>,
    body: Result<Json<NewSession>, JsonRejection>,
) -> Response {
    let spec = match body {
        Ok(Json(spec)) => spec,
        Err(e) => {
            let msg = format!(
                "the body must be a JSON session like \
                 {{\"id\":\"alts\",\"strategy\":\"default\",\"symbols\":[\"DOGE_USDT\"]}}: {}",
                e.body_text()
            );
            return error(StatusCode::BAD_REQUEST, "invalid_parameter", None, &msg);
        }
    };
    let id = spec.id.clone();
    let r = st.hub.ask(|tx| HubCmd::Create(spec, tx)).await;
    match r {
        Some(Ok(info)) => (StatusCode::CREATED, Json(info)).into_response(),
        other => command_response(&id, other),
    }
}

async fn pause_strategy(
    _: Authorized,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let r = st.hub.ask(|tx| HubCmd::Pause(id.clone(), true, tx)).await;
    command_response(&id, r)
}

async fn resume_strategy(
    _: Authorized,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let r = st.hub.ask(|tx| HubCmd::Pause(id.clone(), false, tx)).await;
    command_response(&id, r)
}

/// 200 with the closed position; 404 unknown session; 409 nothing to close (the reason).
async fn close_position(
    _: Authorized,
    State(st): State<AppState>,
    Path((id, symbol)): Path<(String, String)>,
) -> Response {
    let r = st
        .hub
        .ask(|tx| HubCmd::ClosePosition(id.clone(), symbol, tx))
        .await;
    command_response(&id, r)
}

#[derive(Deserialize, Default)]
struct HistoryParams {
    limit: Option<u32>,
    symbol: Option<String>,
}

async fn history_sessions(
    _: Authorized,
    State(st): State<AppState>,
    params: Result<Query<HistoryParams>, QueryRejection>,
) -> Response {
    history_response(&st, HistoryQuery::Sessions, None, params).await
}

async fn history_session(
    _: Authorized,
    State(st): State<AppState>,
    Path(id): Path<String>,
    params: Result<Query<HistoryParams>, QueryRejection>,
) -> Response {
    history_response(&st, HistoryQuery::Session, Some(id), params).await
}

/// `signals` or `transitions` of one session.
async fn history_of_session(
    _: Authorized,
    State(st): State<AppState>,
    Path((id, what)): Path<(String, String)>,
    params: Result<Query<HistoryParams>, QueryRejection>,
) -> Response {
    let query = match what.as_str() {
        "signals" => HistoryQuery::Signals,
        "transitions" => HistoryQuery::Transitions,
        _ => {
            let msg = format!("no history {what:?}; valid: signals, transitions");
            return error(StatusCode::NOT_FOUND, "not_found", Some(&id), &msg);
        }
    };
    history_response(&st, query, Some(id), params).await
}

/// 200 with the rows (newest first); 404 a session QuestDB does not know; 400 a bad
/// parameter; 503 QuestDB off or unreachable.
async fn history_response(
    st: &AppState,
    query: HistoryQuery,
    session_id: Option<String>,
    params: Result<Query<HistoryParams>, QueryRejection>,
) -> Response {
    let Query(p) = match params {
        Ok(p) => p,
        Err(e) => {
            let msg = format!("bad query parameters: {}", e.body_text());
            return error(StatusCode::BAD_REQUEST, "invalid_parameter", None, &msg);
        }
    };
    let req = HistoryRequest {
        query,
        session_id: session_id.clone(),
        symbol: p.symbol,
        limit: p.limit,
    };
    let sid = session_id.as_deref();
    match history::run(st.history.as_deref(), &req).await {
        Ok(rows) => Json(rows).into_response(),
        Err(e @ HistoryError::NotFound(_)) => error(
            StatusCode::NOT_FOUND,
            "session_not_found",
            sid,
            &e.to_string(),
        ),
        Err(e @ HistoryError::Invalid(_)) => error(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            sid,
            &e.to_string(),
        ),
        Err(e @ HistoryError::Unavailable(_)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "history_unavailable",
            sid,
            &e.to_string(),
        ),
    }
}

/// 200 with the session, 404 unknown session, 400 bad symbol, 409 refused (reason given).
fn command_response<T: serde::Serialize>(id: &str, r: Option<Result<T, CmdError>>) -> Response {
    match r {
        Some(Ok(info)) => Json(info).into_response(),
        Some(Err(CmdError::NotFound(nf))) => session_not_found(id, &nf),
        Some(Err(CmdError::InvalidSymbol(m))) => {
            error(StatusCode::BAD_REQUEST, "invalid_symbol", Some(id), &m)
        }
        Some(Err(CmdError::Rejected(m))) => error(StatusCode::CONFLICT, "rejected", Some(id), &m),
        None => hub_gone(),
    }
}

async fn not_found_route(uri: Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        None,
        &format!(
            "no route {}; see /api/v1/health, /api/v1/sessions, /api/v1/snapshot?session=ID, \
             /api/v1/history/sessions",
            uri.path()
        ),
    )
}

fn session_not_found(id: &str, nf: &NotFound) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "session_not_found",
        Some(id),
        &format!("valid sessions: {}", nf.valid.join(", ")),
    )
}

fn hub_gone() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "shutting_down",
        None,
        "backend is shutting down",
    )
}

fn error(status: StatusCode, code: &str, session_id: Option<&str>, message: &str) -> Response {
    let body = RestError {
        error: code.to_string(),
        session_id: session_id.map(str::to_string),
        message: Some(message.to_string()),
    };
    (status, Json(body)).into_response()
}
