//! The `/exec` REST client (DDL, schema checks, queries). Async on reqwest; the writer thread
//! drives it with its own current-thread runtime so nothing blocks a tokio worker.

use std::time::Duration;

use serde_json::Value;

use super::config::StoreSettings;

#[derive(Debug, Clone, PartialEq)]
pub enum ExecError {
    /// Connection refused, reset, timeout: QuestDB is not answering.
    Transport(String),
    /// 400 with QuestDB's `{"query","error","position"}`.
    Sql { error: String, position: i64 },
    /// Any other non-200 answer (401/403, 5xx, a proxy's 502 page).
    Status { status: u16, body: String },
    /// A 200 whose body is not the `/exec` JSON shape.
    Decode(String),
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExecError::Transport(e) => write!(f, "/exec unreachable: {e}"),
            ExecError::Sql { error, position } => {
                write!(f, "/exec SQL error at {position}: {error}")
            }
            ExecError::Status { status, body } => write!(f, "/exec HTTP {status}: {body}"),
            ExecError::Decode(e) => write!(f, "/exec answer not understood: {e}"),
        }
    }
}

impl std::error::Error for ExecError {}

/// A SELECT answer: column names and types, rows as JSON values in column order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dataset {
    pub columns: Vec<(String, String)>,
    pub rows: Vec<Vec<Value>>,
}

impl Dataset {
    pub fn col(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|(n, _)| n == name)
    }
}

#[derive(Debug, Clone)]
pub struct ExecClient {
    http: reqwest::Client,
    base: String,
    auth: Option<(String, String)>,
    token: Option<String>,
}

impl ExecClient {
    pub fn new(s: &StoreSettings) -> ExecClient {
        ExecClient::with(
            &s.exec_url,
            s.request_timeout,
            s.exec_auth.clone(),
            s.exec_token.clone(),
        )
    }

    pub fn with(
        base: &str,
        timeout: Duration,
        auth: Option<(String, String)>,
        token: Option<String>,
    ) -> ExecClient {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        ExecClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            auth,
            token,
        }
    }

    /// `GET /ping`: is QuestDB answering at all.
    pub async fn ping(&self) -> Result<(), ExecError> {
        let resp = self
            .http
            .get(format!("{}/ping", self.base))
            .send()
            .await
            .map_err(|e| ExecError::Transport(error_chain(&e)))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(ExecError::Status {
                status,
                body: String::new(),
            })
        }
    }

    /// Run one statement. DDL answers an empty dataset.
    pub async fn run(&self, sql: &str) -> Result<Dataset, ExecError> {
        let url =
            reqwest::Url::parse_with_params(&format!("{}/exec", self.base), &[("query", sql)])
                .map_err(|e| ExecError::Transport(format!("bad exec_url {}: {e}", self.base)))?;
        let mut req = self.http.get(url);
        if let Some((u, p)) = &self.auth {
            req = req.basic_auth(u, Some(p));
        } else if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| ExecError::Transport(error_chain(&e)))?;
        let status = resp.status().as_u16();
        let body = resp
            .text()
            .await
            .map_err(|e| ExecError::Transport(error_chain(&e)))?;
        let json: Option<Value> = serde_json::from_str(&body).ok();
        if status == 400
            && let Some(j) = &json
            && let Some(err) = j.get("error").and_then(Value::as_str)
        {
            return Err(ExecError::Sql {
                error: err.to_string(),
                position: j.get("position").and_then(Value::as_i64).unwrap_or(0),
            });
        }
        if status != 200 {
            return Err(ExecError::Status {
                status,
                body: body.chars().take(300).collect(),
            });
        }
        let json = json.ok_or_else(|| ExecError::Decode(body.chars().take(200).collect()))?;
        parse_dataset(&json)
    }
}

fn parse_dataset(j: &Value) -> Result<Dataset, ExecError> {
    if j.get("ddl").is_some() || j.get("dml").is_some() {
        return Ok(Dataset::default());
    }
    if let Some(err) = j.get("error").and_then(Value::as_str) {
        return Err(ExecError::Sql {
            error: err.to_string(),
            position: 0,
        });
    }
    let columns = j
        .get("columns")
        .and_then(Value::as_array)
        .ok_or_else(|| ExecError::Decode("no columns".into()))?
        .iter()
        .map(|c| {
            let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
            let ty = c.get("type").and_then(Value::as_str).unwrap_or_default();
            (name.to_string(), ty.to_string())
        })
        .collect::<Vec<_>>();
    let rows = j
        .get("dataset")
        .and_then(Value::as_array)
        .ok_or_else(|| ExecError::Decode("no dataset".into()))?
        .iter()
        .map(|r| r.as_array().cloned().unwrap_or_default())
        .collect();
    Ok(Dataset { columns, rows })
}

/// reqwest's Display hides the cause ("error sending request"); the chain names it.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
