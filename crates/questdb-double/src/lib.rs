//! An in-repo QuestDB TEST DOUBLE (not a database): enough of QuestDB's HTTP surface for the
//! real `questdb-rs` client and trademon's `/exec` layer to run unmodified against it, with
//! scripted faults. No QuestDB server can be installed on the build machines, so the store's
//! tests and `trademon bench store` use this. What it covers and what it does not:
//! docs/questdb.md ("The test server").
//!
//! - `POST /write` (and `/api/v2/write`): ILP v1/v2 (`ilp.rs`), all-or-nothing per request,
//!   204 / 400 JSON with `errorId` and 1-based `line` (`application/json; charset=utf-8`).
//! - `GET /exec?query=`: the DDL and SELECT templates trademon sends (`exec.rs`).
//! - `GET /ping` (204), `GET /settings` (protocol versions 1 and 2).
//! - In-memory tables with DEDUP UPSERT semantics (`tables.rs`).
//! - Faults: stop listening (refused), per-request scripted answers (any status, commit then
//!   500, commit then close, slow), fail one table's commit, drop a column, auto-create off.

pub mod exec;
pub mod http;
pub mod ilp;
pub mod journal;
pub mod tables;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::json;

use http::{Reply, Request};
use journal::{Entry, Journal, Replayed};
use tables::Catalog;

/// A scripted answer for one `/write` request.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteFault {
    /// Answer this status with QuestDB's (or a proxy's) body, committing nothing.
    Status(u16),
    /// Commit, then answer 500: the lost-ack case that duplicates rows without DEDUP.
    CommitThen500,
    /// Commit, then close the connection without answering (in-doubt).
    CommitThenClose,
    /// Commit, then answer 204 after this long (slower than the client's timeout).
    Slow(Duration),
}

/// One request as the double saw it, for asserting retries.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub method: String,
    pub path: String,
    /// 0 when the connection was closed without an answer.
    pub status: u16,
    /// Lines in a `/write` body (parsed up to the first error).
    pub rows: usize,
    pub at: Instant,
}

#[derive(Debug, Default)]
struct Faults {
    script: VecDeque<WriteFault>,
    always: Option<WriteFault>,
    fail_commit_table: Option<String>,
    /// Send `application/json` exactly instead of the real `...; charset=utf-8`.
    exact_json: bool,
    /// A line with this symbol value is rejected with a cast error (a poison row).
    poison_symbol: Option<(String, String)>,
}

struct State {
    catalog: Mutex<Catalog>,
    /// Standalone double only: committed requests, appended under the catalog lock so the
    /// journal's order is the commit order.
    journal: Mutex<Option<Journal>>,
    faults: Mutex<Faults>,
    log: Mutex<Vec<LogEntry>>,
    /// Per-process error id prefix (12 hex chars) and counter, like QuestDB's `errorId`.
    id_prefix: String,
    error_seq: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not wedge the server for the others.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The running double. Dropping it stops it.
pub struct TestServer {
    state: Arc<State>,
    listener: Arc<http::Listener>,
}

impl TestServer {
    /// Start on 127.0.0.1 with an OS-chosen port.
    pub fn start() -> std::io::Result<TestServer> {
        TestServer::start_on("127.0.0.1:0".parse().map_err(std::io::Error::other)?)
    }

    pub fn start_on(addr: SocketAddr) -> std::io::Result<TestServer> {
        TestServer::start_with(addr, Catalog::default(), None)
    }

    /// Start with the tables in the journal at `path` and append every later commit to it,
    /// so the double keeps its data across a restart as QuestDB does.
    pub fn start_journalled(
        addr: SocketAddr,
        path: &std::path::Path,
    ) -> std::io::Result<(TestServer, Replayed)> {
        let mut catalog = Catalog::default();
        let replayed = journal::replay(path, &mut catalog)?;
        let journal = Journal::open(path)?;
        Ok((
            TestServer::start_with(addr, catalog, Some(journal))?,
            replayed,
        ))
    }

    fn start_with(
        addr: SocketAddr,
        catalog: Catalog,
        journal: Option<Journal>,
    ) -> std::io::Result<TestServer> {
        let state = Arc::new(State {
            catalog: Mutex::new(catalog),
            journal: Mutex::new(journal),
            faults: Mutex::new(Faults::default()),
            log: Mutex::new(Vec::new()),
            id_prefix: format!("{:012x}", fastrand::u64(..) & 0xffff_ffff_ffff),
            error_seq: AtomicU64::new(1),
        });
        let st = state.clone();
        let listener = http::serve(addr, Arc::new(move |req| handle(&st, req)))?;
        Ok(TestServer { state, listener })
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.addr
    }

    /// Stop listening and drop every connection: clients get "connection refused".
    pub fn refuse(&self) {
        self.listener.listening.store(false, Ordering::SeqCst);
        // Let the accept thread act before the caller goes on.
        std::thread::sleep(Duration::from_millis(10));
    }

    /// Listen again on the same port.
    pub fn resume(&self) {
        self.listener.listening.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(10));
    }

    /// Answer the next `/write` requests with these, in order.
    pub fn script_writes(&self, faults: impl IntoIterator<Item = WriteFault>) {
        lock(&self.state.faults).script.extend(faults);
    }

    /// Answer every `/write` with this until cleared (`None`).
    pub fn set_write_fault(&self, f: Option<WriteFault>) {
        lock(&self.state.faults).always = f;
    }

    /// Fail the commit of this table (500) after the tables before it in the request committed.
    pub fn fail_commit_of(&self, table: Option<&str>) {
        lock(&self.state.faults).fail_commit_table = table.map(str::to_string);
    }

    /// Reject (400, cast error, with its line number) any line whose symbol `key` is `value`.
    pub fn poison_symbol(&self, key: &str, value: &str) {
        lock(&self.state.faults).poison_symbol = Some((key.to_string(), value.to_string()));
    }

    pub fn set_exact_json(&self, on: bool) {
        lock(&self.state.faults).exact_json = on;
    }

    /// Remove a column from a table (simulates a schema without e.g. `signals.side`), and
    /// stop ILP from re-creating columns so the gap stays.
    pub fn drop_column(&self, table: &str, column: &str) -> bool {
        let mut c = lock(&self.state.catalog);
        c.auto_create_columns = false;
        c.get_mut(table).is_some_and(|t| t.drop_column(column))
    }

    pub fn set_auto_create(&self, tables: bool, columns: bool) {
        let mut c = lock(&self.state.catalog);
        c.auto_create_tables = tables;
        c.auto_create_columns = columns;
    }

    /// Run `f` on the catalog (assertions, setup).
    pub fn with_catalog<R>(&self, f: impl FnOnce(&mut Catalog) -> R) -> R {
        f(&mut lock(&self.state.catalog))
    }

    /// Rows stored in a table (0 if it does not exist).
    pub fn row_count(&self, table: &str) -> usize {
        self.with_catalog(|c| c.get(table).map_or(0, |t| t.rows.len()))
    }

    /// A column's values as i64 (LONG columns), all rows.
    pub fn longs(&self, table: &str, column: &str) -> Vec<i64> {
        self.with_catalog(|c| {
            c.get(table)
                .map(|t| {
                    t.column_values(column)
                        .into_iter()
                        .filter_map(|v| match v {
                            Some(tables::Value::Long(n)) => Some(n),
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    pub fn requests(&self) -> Vec<LogEntry> {
        lock(&self.state.log).clone()
    }

    pub fn write_requests(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.path.ends_with("/write"))
            .count()
    }

    pub fn clear_log(&self) {
        lock(&self.state.log).clear();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.listener.listening.store(false, Ordering::SeqCst);
        self.listener.stop.store(true, Ordering::SeqCst);
        if let Ok(mut cs) = self.listener.conns.lock() {
            for c in cs.drain(..) {
                let _ = c.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

const JSON_REAL: &str = "application/json; charset=utf-8";
const JSON_EXACT: &str = "application/json";

fn respond(status: u16, content_type: &'static str, body: Vec<u8>) -> Reply {
    Reply::Response {
        status,
        content_type,
        headers: Vec::new(),
        body,
        delay: Duration::ZERO,
    }
}

fn handle(st: &State, req: Request) -> Reply {
    let (method, path) = (req.method.clone(), req.path.clone());
    let (reply, rows) = route(st, req);
    let status = match &reply {
        Reply::Response { status, .. } => *status,
        Reply::Close => 0,
    };
    lock(&st.log).push(LogEntry {
        method,
        path,
        status,
        rows,
        at: Instant::now(),
    });
    reply
}

fn route(st: &State, req: Request) -> (Reply, usize) {
    match (req.method.as_str(), req.path.as_str()) {
        ("GET" | "HEAD", "/ping") => (
            Reply::Response {
                status: 204,
                content_type: "text/plain",
                headers: vec![("X-Influxdb-Version", "v2.7.4".into())],
                body: Vec::new(),
                delay: Duration::ZERO,
            },
            0,
        ),
        ("GET", "/settings") => {
            let body = json!({"config": {"release.type": "OSS", "release.version": "9.x-double",
                "line.proto.support.versions": [1, 2], "cairo.max.file.name.length": 127},
                "preferences.version": 0, "preferences": {}});
            (respond(200, JSON_REAL, body.to_string().into_bytes()), 0)
        }
        ("POST", "/write" | "/api/v2/write") => write(st, &req),
        ("GET", "/exec") => {
            let q = req.param("query").unwrap_or("").to_string();
            let (status, body) = {
                let mut cat = lock(&st.catalog);
                let (status, body) = exec::run(&mut cat, &q);
                let ddl = q.trim_start().to_ascii_uppercase().starts_with("CREATE");
                if status == 200 && ddl {
                    if let Err(e) = journal_append(st, Entry::Exec { query: q }) {
                        let msg = format!("journal: {e}");
                        (500, json!({"error": msg, "position": 0}))
                    } else {
                        (status, body)
                    }
                } else {
                    (status, body)
                }
            };
            (respond(status, JSON_REAL, body.to_string().into_bytes()), 0)
        }
        _ => (respond(404, "text/plain", b"Not Found".to_vec()), 0),
    }
}

/// Append to the journal when there is one. Called with the catalog lock held.
fn journal_append(st: &State, e: Entry) -> std::io::Result<()> {
    match lock(&st.journal).as_mut() {
        Some(j) => j.append(&e),
        None => Ok(()),
    }
}

fn error_id(st: &State) -> String {
    format!(
        "{}-{}",
        st.id_prefix,
        st.error_seq.fetch_add(1, Ordering::Relaxed)
    )
}

/// QuestDB's error body for a status (or what a proxy in front of it would send).
fn status_reply(st: &State, status: u16, exact: bool) -> Reply {
    let ct = if exact { JSON_EXACT } else { JSON_REAL };
    let j = |code: &str, msg: &str| {
        json!({"code": code, "message": msg, "errorId": error_id(st)})
            .to_string()
            .into_bytes()
    };
    match status {
        413 => respond(
            413,
            ct,
            j(
                "request too large",
                "unable to read data: ILP line does not fit QuestDB ILP buffer size",
            ),
        ),
        401 | 403 => respond(status, ct, j("unauthorised", "authentication failed")),
        500 => respond(
            500,
            ct,
            j(
                "internal error",
                "commit error for table: x, errno: 5, error: io",
            ),
        ),
        // 429 and 502 come from proxies/load balancers, not QuestDB: plain text / HTML.
        429 => respond(429, "text/plain", b"Too Many Requests".to_vec()),
        502 => respond(
            502,
            "text/html",
            b"<html><body><h1>502 Bad Gateway</h1></body></html>".to_vec(),
        ),
        s => respond(s, ct, j("internal error", "scripted failure")),
    }
}

fn write(st: &State, req: &Request) -> (Reply, usize) {
    let (fault, exact, fail_table, poison) = {
        let mut f = lock(&st.faults);
        let fault = f.script.pop_front().or_else(|| f.always.clone());
        (
            fault,
            f.exact_json,
            f.fail_commit_table.clone(),
            f.poison_symbol.clone(),
        )
    };
    let ct = if exact { JSON_EXACT } else { JSON_REAL };
    if let Some(WriteFault::Status(s)) = fault {
        return (status_reply(st, s, exact), 0);
    }
    let precision = match req.param("precision").map(ilp::precision_nanos) {
        None => 1,
        Some(Some(p)) => p,
        Some(None) => {
            let body = json!({"code": "not supported", "message": "unsupported precision", "errorId": error_id(st)});
            return (respond(400, ct, body.to_string().into_bytes()), 0);
        }
    };
    let invalid = |line: usize, detail: String| {
        let body = json!({
            "code": "invalid",
            "message": format!("failed to parse line protocol:errors encountered on line(s):\nerror in line {line}: {detail}"),
            "line": line,
            "errorId": error_id(st),
        });
        respond(400, ct, body.to_string().into_bytes())
    };
    let lines = match ilp::parse(&req.body, precision) {
        Ok(l) => l,
        Err((line, detail)) => return (invalid(line, detail), line.saturating_sub(1)),
    };
    let rows = lines.len();
    if let Some((k, v)) = &poison {
        let bad = lines
            .iter()
            .position(|l| l.symbols.iter().any(|(sk, sv)| sk == k && sv == v));
        if let Some(i) = bad {
            let detail = format!(
                "table: {}, column: {k}; cast error from protocol type: SYMBOL to column type: INT",
                lines[i].table
            );
            return (invalid(i + 1, detail), rows);
        }
    }
    let now_us = trademon_protocol::now_ms() * 1000;
    let committed = {
        let mut cat = lock(&st.catalog);
        match cat.stage(&lines, now_us) {
            Err((line, detail)) => return (invalid(line, detail), rows),
            Ok(staged) => cat.commit(staged, fail_table.as_deref()).and_then(|n| {
                let body = req.body.clone();
                journal_append(st, Entry::Write { precision, body })
                    .map(|()| n)
                    .map_err(|e| format!("journal: {e}"))
            }),
        }
    };
    if let Err(msg) = committed {
        let body = json!({"code": "internal error", "message": msg, "errorId": error_id(st)});
        return (respond(500, ct, body.to_string().into_bytes()), rows);
    }
    let ok = respond(204, "text/plain", Vec::new());
    match fault {
        Some(WriteFault::CommitThen500) => (status_reply(st, 500, exact), rows),
        Some(WriteFault::CommitThenClose) => (Reply::Close, rows),
        Some(WriteFault::Slow(d)) => match ok {
            Reply::Response {
                status,
                content_type,
                headers,
                body,
                ..
            } => (
                Reply::Response {
                    status,
                    content_type,
                    headers,
                    body,
                    delay: d,
                },
                rows,
            ),
            other => (other, rows),
        },
        _ => (ok, rows),
    }
}
