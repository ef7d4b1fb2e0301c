//! Read side: a small fixed set of `/exec` SELECT templates (sessions, a session's history,
//! its signals with side, an instance's recent transitions). `/exec` has no bind parameters,
//! so every value put into SQL is validated against the id/symbol grammar first and quoted
//! with `'` doubled as a second line of defence: a session id can never become SQL.
//!
//! A session that QuestDB does not know answers `QueryError::NotFound`, never an empty
//! panel or a server error. Async: call from tokio code directly (reqwest; nothing blocks).

use serde::Serialize;
use serde_json::Value;

use super::exec::{Dataset, ExecClient, ExecError};
use super::timefmt::parse_micros;

#[derive(Debug, Clone, PartialEq)]
pub enum QueryError {
    /// The session (or instance) is not in QuestDB.
    NotFound {
        what: String,
    },
    /// A value that cannot be a session id or symbol; nothing was sent.
    Invalid(String),
    Exec(ExecError),
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryError::NotFound { what } => write!(f, "not found: {what}"),
            QueryError::Invalid(m) => write!(f, "invalid query value: {m}"),
            QueryError::Exec(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for QueryError {}

impl From<ExecError> for QueryError {
    fn from(e: ExecError) -> Self {
        QueryError::Exec(e)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionRecord {
    pub session_id: String,
    pub name: String,
    pub strategy: String,
    pub status: String,
    pub symbols: Vec<String>,
    pub realized_pnl: Option<f64>,
    pub signals: Option<i64>,
    pub started_ms: i64,
    pub updated_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalRecord {
    pub ts_ms: i64,
    pub session_id: String,
    pub symbol: String,
    pub signal_id: Option<i64>,
    pub side: String,
    pub kind: String,
    pub price: Option<f64>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransitionRecord {
    pub ts_ms: i64,
    pub session_id: String,
    pub symbol: String,
    pub from: String,
    pub to: String,
    pub reason: String,
}

const SESSION_COLS: &str =
    "ts, session_id, name, strategy, status, symbols, realized_pnl, signals, updated_ts";
const SIGNAL_COLS: &str = "ts, session_id, symbol, signal_id, side, kind, price, reason";
const TRANSITION_COLS: &str = "ts, session_id, symbol, from_state, to_state, reason";

/// Session ids: the config grammar (letters, digits, `-`, `_`), at most 64 chars.
pub fn valid_session_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn check_session(id: &str) -> Result<String, QueryError> {
    if !valid_session_id(id) {
        return Err(QueryError::Invalid(format!("session id {id:?}")));
    }
    Ok(quote(id))
}

fn check_symbol(sym: &str) -> Result<String, QueryError> {
    if !trademon_protocol::is_valid_symbol(sym) {
        return Err(QueryError::Invalid(format!("symbol {sym:?}")));
    }
    Ok(quote(sym))
}

fn limit(n: usize) -> usize {
    n.clamp(1, 10_000)
}

/// The SQL of each template (exposed so the test server and docs can show exactly what runs).
pub mod sql {
    use super::*;

    pub fn sessions(n: usize) -> String {
        format!(
            "SELECT {SESSION_COLS} FROM sessions ORDER BY ts DESC LIMIT {}",
            limit(n)
        )
    }

    pub fn session_history(quoted_id: &str, n: usize) -> String {
        format!(
            "SELECT {SESSION_COLS} FROM sessions WHERE session_id = {quoted_id} ORDER BY ts DESC LIMIT {}",
            limit(n)
        )
    }

    pub fn signals(quoted_id: &str, n: usize) -> String {
        format!(
            "SELECT {SIGNAL_COLS} FROM signals WHERE session_id = {quoted_id} ORDER BY ts DESC LIMIT {}",
            limit(n)
        )
    }

    pub fn transitions(quoted_id: &str, quoted_sym: &str, n: usize) -> String {
        format!(
            "SELECT {TRANSITION_COLS} FROM fsm_transitions WHERE session_id = {quoted_id} AND symbol = {quoted_sym} ORDER BY ts DESC LIMIT {}",
            limit(n)
        )
    }
}

/// Query API over `/exec`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Queries {
    exec: ExecClient,
}

struct Cols<'a> {
    ds: &'a Dataset,
}

impl Cols<'_> {
    fn get<'r>(&self, row: &'r [Value], name: &str) -> Option<&'r Value> {
        self.ds
            .col(name)
            .and_then(|i| row.get(i))
            .filter(|v| !v.is_null())
    }
    fn str(&self, row: &[Value], name: &str) -> String {
        self.get(row, name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }
    fn f64(&self, row: &[Value], name: &str) -> Option<f64> {
        self.get(row, name).and_then(Value::as_f64)
    }
    fn i64(&self, row: &[Value], name: &str) -> Option<i64> {
        self.get(row, name).and_then(Value::as_i64)
    }
    fn ts_ms(&self, row: &[Value], name: &str) -> Option<i64> {
        self.get(row, name)
            .and_then(Value::as_str)
            .and_then(parse_micros)
            .map(|us| us.div_euclid(1000))
    }
}

impl Queries {
    pub fn new(exec: ExecClient) -> Queries {
        Queries { exec }
    }

    /// Newest sessions first.
    pub async fn sessions(&self, n: usize) -> Result<Vec<SessionRecord>, QueryError> {
        let ds = self.exec.run(&sql::sessions(n)).await?;
        Ok(session_records(&ds))
    }

    /// Every run of one session id, newest first; `NotFound` when there is none.
    pub async fn session_history(
        &self,
        id: &str,
        n: usize,
    ) -> Result<Vec<SessionRecord>, QueryError> {
        let q = check_session(id)?;
        let ds = self.exec.run(&sql::session_history(&q, n)).await?;
        let out = session_records(&ds);
        if out.is_empty() {
            return Err(QueryError::NotFound {
                what: format!("session {id}"),
            });
        }
        Ok(out)
    }

    /// The latest run of one session.
    pub async fn session(&self, id: &str) -> Result<SessionRecord, QueryError> {
        let mut all = self.session_history(id, 1).await?;
        all.pop().ok_or(QueryError::NotFound {
            what: format!("session {id}"),
        })
    }

    /// Signals of a session (with side), newest first. An unknown session is `NotFound`, not
    /// an empty list, so the UI can say so.
    pub async fn signals(&self, id: &str, n: usize) -> Result<Vec<SignalRecord>, QueryError> {
        let q = check_session(id)?;
        self.session(id).await?;
        let ds = self.exec.run(&sql::signals(&q, n)).await?;
        let c = Cols { ds: &ds };
        Ok(ds
            .rows
            .iter()
            .map(|r| SignalRecord {
                ts_ms: c.ts_ms(r, "ts").unwrap_or(0),
                session_id: c.str(r, "session_id"),
                symbol: c.str(r, "symbol"),
                signal_id: c.i64(r, "signal_id"),
                side: c.str(r, "side"),
                kind: c.str(r, "kind"),
                price: c.f64(r, "price"),
                reason: c.str(r, "reason"),
            })
            .collect())
    }

    /// Recent transitions of one instance (session, symbol), newest first.
    pub async fn transitions(
        &self,
        id: &str,
        symbol: &str,
        n: usize,
    ) -> Result<Vec<TransitionRecord>, QueryError> {
        let q = check_session(id)?;
        let qs = check_symbol(symbol)?;
        self.session(id).await?;
        let ds = self.exec.run(&sql::transitions(&q, &qs, n)).await?;
        let c = Cols { ds: &ds };
        Ok(ds
            .rows
            .iter()
            .map(|r| TransitionRecord {
                ts_ms: c.ts_ms(r, "ts").unwrap_or(0),
                session_id: c.str(r, "session_id"),
                symbol: c.str(r, "symbol"),
                from: c.str(r, "from_state"),
                to: c.str(r, "to_state"),
                reason: c.str(r, "reason"),
            })
            .collect())
    }
}

fn session_records(ds: &Dataset) -> Vec<SessionRecord> {
    let c = Cols { ds };
    ds.rows
        .iter()
        .map(|r| SessionRecord {
            session_id: c.str(r, "session_id"),
            name: c.str(r, "name"),
            strategy: c.str(r, "strategy"),
            status: c.str(r, "status"),
            symbols: c
                .str(r, "symbols")
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            realized_pnl: c.f64(r, "realized_pnl"),
            signals: c.i64(r, "signals"),
            started_ms: c.ts_ms(r, "ts").unwrap_or(0),
            updated_ms: c.ts_ms(r, "updated_ts"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cannot_become_sql() {
        assert!(check_session("x' OR '1'='1").is_err());
        assert!(check_session("").is_err());
        assert_eq!(check_session("majors").unwrap(), "'majors'");
        assert!(check_symbol("BTC_USDT'--").is_err());
        assert_eq!(quote("a'b"), "'a''b'");
    }
}
