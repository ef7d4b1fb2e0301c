//! QuestDB history on both doors (issue 5): `GET /api/v1/history/...` and the WebSocket
//! `history` op run the same fixed templates (`store::Queries`), and a session QuestDB does
//! not know answers "not found" on both, never an empty panel or a 500. The hub never waits
//! on QuestDB: a WebSocket request runs in a task of its own and its answer goes back to the
//! hub, which queues it for that client in order with its data. At start, each session's
//! signals panel is back-filled from QuestDB.

use serde_json::Value;
use std::sync::Arc;
use trademon_protocol::{HistoryQuery, Side, SignalInfo, SignalKind};
use trademon_store::exec::ExecClient;
use trademon_store::{Queries, QueryError, StoreSettings};

/// Rows when a request names no limit.
pub const DEFAULT_LIMIT: u32 = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRequest {
    pub query: HistoryQuery,
    pub session_id: Option<String>,
    pub symbol: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HistoryError {
    /// QuestDB is off, unreachable or answered with an error.
    Unavailable(String),
    /// The session (or instance) is not in QuestDB.
    NotFound(String),
    /// A missing or malformed parameter; nothing was sent to QuestDB.
    Invalid(String),
}

impl HistoryError {
    /// `[questdb] enabled = false`: there is nothing to read.
    pub fn questdb_off() -> HistoryError {
        HistoryError::Unavailable("QuestDB is off ([questdb] enabled = false)".into())
    }
}

impl std::fmt::Display for HistoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HistoryError::Unavailable(m) => write!(f, "history unavailable: {m}"),
            HistoryError::NotFound(what) => write!(f, "{what} is not in QuestDB"),
            HistoryError::Invalid(m) => write!(f, "{m}"),
        }
    }
}

impl From<QueryError> for HistoryError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::NotFound { what } => HistoryError::NotFound(what),
            QueryError::Invalid(m) => HistoryError::Invalid(m),
            QueryError::Exec(e) => HistoryError::Unavailable(e.to_string()),
        }
    }
}

/// The read side, when `[questdb]` is on; `None` otherwise (requests answer `Unavailable`).
pub fn queries(store: Option<&StoreSettings>) -> Option<Arc<Queries>> {
    Some(Arc::new(Queries::new(ExecClient::new(store?))))
}

/// Run one request: the rows, newest first, as the protocol sends them.
pub async fn run(q: Option<&Queries>, req: &HistoryRequest) -> Result<Vec<Value>, HistoryError> {
    let Some(q) = q else {
        return Err(HistoryError::questdb_off());
    };
    let n = req.limit.unwrap_or(DEFAULT_LIMIT) as usize;
    let session = || {
        req.session_id
            .as_deref()
            .ok_or_else(|| HistoryError::Invalid(format!("{:?} needs a session_id", req.query)))
    };
    fn rows<T: serde::Serialize>(v: Vec<T>) -> Vec<Value> {
        v.iter()
            .filter_map(|r| serde_json::to_value(r).ok())
            .collect()
    }
    Ok(match req.query {
        HistoryQuery::Sessions => rows(q.sessions(n).await?),
        HistoryQuery::Session => rows(q.session_history(session()?, n).await?),
        HistoryQuery::Signals => rows(q.signals(session()?, n).await?),
        HistoryQuery::Transitions => {
            let symbol = req.symbol.as_deref().ok_or_else(|| {
                HistoryError::Invalid("transitions needs a symbol (the instance)".into())
            })?;
            rows(q.transitions(session()?, symbol, n).await?)
        }
    })
}

/// A session's signals from before `before_ms` (this backend's start), oldest first, for the
/// signals panel. Signals of this run are in the engine already and are left out. Nothing
/// (not an error) when QuestDB does not know the session yet.
pub async fn backfill_signals(
    q: &Queries,
    session: &str,
    n: usize,
    before_ms: i64,
) -> Result<Vec<SignalInfo>, HistoryError> {
    let records = match q.signals(session, n).await {
        Err(QueryError::NotFound { .. }) => return Ok(Vec::new()),
        other => other?,
    };
    let mut out: Vec<SignalInfo> = records
        .into_iter()
        .filter(|r| r.ts_ms < before_ms)
        .filter_map(|r| {
            let side = match r.side.as_str() {
                "BUY" => Side::Buy,
                "SELL" => Side::Sell,
                _ => return None,
            };
            let kind: SignalKind = serde_json::from_value(Value::String(r.kind)).ok()?;
            Some(SignalInfo {
                id: r.signal_id.and_then(|i| u64::try_from(i).ok()).unwrap_or(0),
                symbol: r.symbol,
                side,
                price: r.price.unwrap_or(f64::NAN),
                reason: r.reason,
                kind,
                at_ms: r.ts_ms,
            })
        })
        .collect();
    out.sort_by_key(|s| s.at_ms);
    Ok(out)
}
