//! `[questdb]` resolved into what the writer needs: the effective client conf string (with a
//! pinned `protocol_version`), the `/exec` base URL, the spool directory and limits.
//!
//! The client silently ignores unknown keys in its conf string (a typo like `retry_timout`
//! would do nothing), so the keys are checked here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{ConfError, StartError};

/// `[questdb]`: the store writer (docs/questdb.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestdbConfig {
    pub enabled: bool,
    pub conf: String,
    pub exec_url: String,
    pub spool_dir: String,
    pub spool_max_mb: u64,
    pub fsync: FsyncPolicy,
    pub flush_rows: usize,
    pub flush_age_ms: u64,
    pub retry_base_ms: u64,
    pub retry_cap_ms: u64,
    pub channel_capacity: usize,
    pub request_timeout_ms: u64,
}

/// When spooled rows are forced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsyncPolicy {
    /// After each spooled batch: a crash loses at most the batch being written.
    Batch,
    /// After every row: slowest, loses nothing the writer accepted into the spool.
    Always,
    /// Never: the OS decides (a power cut can lose recent spool data).
    Never,
}

const KNOWN_KEYS: &[&str] = &[
    "addr",
    "protocol_version",
    "request_timeout",
    "request_min_throughput",
    "retry_timeout",
    "retry_max_backoff_millis",
    "username",
    "password",
    "token",
    "init_buf_size",
    "max_buf_size",
    "max_name_len",
    "tls_verify",
    "tls_ca",
    "tls_roots",
    "auto_flush",
];

/// A parsed `http::key=value;...` string.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedConf {
    pub https: bool,
    pub addr: String,
    pub keys: Vec<(String, String)>,
}

impl ParsedConf {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.keys
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parse and check a client conf string. Only ILP over HTTP(S) is accepted: TCP gives no
/// per-request answer, so poison rows and commits could not be told apart.
pub fn parse_conf(conf: &str) -> Result<ParsedConf, ConfError> {
    let (scheme, rest) = conf
        .split_once("::")
        .ok_or_else(|| ConfError::NoScheme(conf.to_string()))?;
    let https = match scheme {
        "http" => false,
        "https" => true,
        other => return Err(ConfError::Scheme(other.to_string())),
    };
    let mut keys: Vec<(String, String)> = Vec::new();
    for (k, v) in split_pairs(rest)? {
        if !KNOWN_KEYS.contains(&k.as_str()) {
            return Err(ConfError::UnknownKey(k));
        }
        if keys.iter().any(|(seen, _)| *seen == k) {
            return Err(ConfError::DuplicateKey(k));
        }
        if k == "auto_flush" && v != "off" {
            return Err(ConfError::AutoFlush);
        }
        if k == "protocol_version" && !matches!(v.as_str(), "1" | "2" | "3") {
            return Err(ConfError::ProtocolVersion(v));
        }
        keys.push((k, v));
    }
    let addr = keys
        .iter()
        .find(|(k, _)| k == "addr")
        .map(|(_, v)| v.clone())
        .ok_or(ConfError::AddrMissing)?;
    if addr.is_empty() {
        return Err(ConfError::AddrEmpty);
    }
    Ok(ParsedConf { https, addr, keys })
}

/// `key=value;` pairs; `;;` is an escaped `;` inside a value (the client's rule).
fn split_pairs(s: &str) -> Result<Vec<(String, String)>, ConfError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    let mut push = |cur: &mut String| -> Result<(), ConfError> {
        if cur.trim().is_empty() {
            cur.clear();
            return Ok(());
        }
        let (k, v) = cur
            .split_once('=')
            .ok_or_else(|| ConfError::NotKeyValue(cur.clone()))?;
        out.push((k.trim().to_string(), v.to_string()));
        cur.clear();
        Ok(())
    };
    while let Some(ch) = chars.next() {
        if ch == ';' {
            if chars.peek() == Some(&';') {
                chars.next();
                cur.push(';');
            } else {
                push(&mut cur)?;
            }
        } else {
            cur.push(ch);
        }
    }
    push(&mut cur)?;
    Ok(out)
}

/// Keys of a conf string whose values are credentials: `username`, `password`, `token` and the
/// ECDSA `token_x` / `token_y` the client also accepts, plus anything else that names a secret.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.trim().to_ascii_lowercase();
    k == "username"
        || k.starts_with("token")
        || k.contains("password")
        || k.contains("secret")
        || k.ends_with("_token")
}

/// `key=value` segments of a conf string as written (`;;` escapes kept), each with whether a
/// `;` followed it. Never fails: redaction must work on strings `parse_conf` refuses.
fn raw_segments(rest: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch == ';' {
            if chars.peek() == Some(&';') {
                chars.next();
                cur.push_str(";;");
            } else {
                out.push((std::mem::take(&mut cur), true));
            }
        } else {
            cur.push(ch);
        }
    }
    if !cur.is_empty() {
        out.push((cur, false));
    }
    out
}

/// Credentials in a conf string, for redaction; found even when the string is malformed.
pub fn conf_secrets(conf: &str) -> Vec<String> {
    let rest = conf.split_once("::").map_or(conf, |(_, r)| r);
    raw_segments(rest)
        .into_iter()
        .filter_map(|(seg, _)| {
            let (k, v) = seg.split_once('=')?;
            (is_secret_key(k) && !v.is_empty()).then(|| v.replace(";;", ";"))
        })
        .collect()
}

/// The conf string with every credential's value replaced by `<redacted>`, keys and layout
/// kept, for `config --print`, recordings and bug bundles.
pub fn redact_conf(conf: &str) -> String {
    let (mut out, rest) = match conf.split_once("::") {
        Some((scheme, rest)) => (format!("{scheme}::"), rest),
        None => (String::new(), conf),
    };
    for (seg, semicolon) in raw_segments(rest) {
        match seg.split_once('=') {
            Some((k, v)) if is_secret_key(k) && !v.is_empty() => {
                out.push_str(k);
                out.push('=');
                out.push_str(trademon_core::redact::REDACTED);
            }
            _ => out.push_str(&seg),
        }
        if semicolon {
            out.push(';');
        }
    }
    out
}

/// `text` (a message about `conf`) with the conf's credentials replaced, as written and as
/// `{:?}` quotes them.
pub fn redact_conf_text(text: &str, conf: &str) -> String {
    let mut out = text.to_string();
    let mut secrets = conf_secrets(conf);
    // Longest first, so a secret containing another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in secrets {
        let debug = format!("{s:?}");
        let quoted = debug.trim_matches('"').to_string();
        for form in [s.replace(';', ";;"), s, quoted] {
            if !form.is_empty() {
                out = out.replace(&form, trademon_core::redact::REDACTED);
            }
        }
    }
    out
}

/// Everything the writer thread needs, resolved once.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// The conf string handed to `Sender::from_conf`.
    pub conf: String,
    pub exec_url: String,
    /// Basic auth for `/exec`, taken from the conf string.
    pub exec_auth: Option<(String, String)>,
    pub exec_token: Option<String>,
    pub spool_dir: PathBuf,
    pub spool_max_bytes: u64,
    pub fsync: FsyncPolicy,
    pub flush_rows: usize,
    pub flush_age: Duration,
    pub retry_base: Duration,
    pub retry_cap: Duration,
    pub channel_capacity: usize,
    pub request_timeout: Duration,
    /// How often a held table's schema is checked again.
    pub schema_recheck: Duration,
    /// Notes for the log (e.g. "protocol_version=2 added").
    pub notes: Vec<String>,
}

impl StoreSettings {
    pub fn resolve(cfg: &QuestdbConfig, data_dir: &Path) -> Result<StoreSettings, StartError> {
        let parsed = parse_conf(&cfg.conf)?;
        let mut conf = cfg.conf.trim().to_string();
        let mut notes = Vec::new();
        if !conf.ends_with(';') {
            conf.push(';');
        }
        if parsed.get("protocol_version").is_none() {
            conf.push_str("protocol_version=2;");
            notes.push(
                "questdb.conf has no protocol_version: added protocol_version=2 (QuestDB >= 9.0) \
                 so start does not depend on the server"
                    .to_string(),
            );
        }
        if parsed.get("request_timeout").is_none() {
            conf.push_str(&format!("request_timeout={};", cfg.request_timeout_ms));
        }
        let exec_url = if cfg.exec_url.is_empty() {
            let scheme = if parsed.https { "https" } else { "http" };
            format!("{scheme}://{}", parsed.addr)
        } else {
            cfg.exec_url.trim_end_matches('/').to_string()
        };
        let exec_auth = match (parsed.get("username"), parsed.get("password")) {
            (Some(u), Some(p)) => Some((u.to_string(), p.to_string())),
            _ => None,
        };
        let spool_dir = if cfg.spool_dir.is_empty() {
            data_dir.join("spool")
        } else {
            PathBuf::from(&cfg.spool_dir)
        };
        Ok(StoreSettings {
            conf,
            exec_url,
            exec_auth,
            exec_token: parsed.get("token").map(str::to_string),
            spool_dir,
            spool_max_bytes: cfg.spool_max_mb.saturating_mul(1024 * 1024),
            fsync: cfg.fsync,
            flush_rows: cfg.flush_rows,
            flush_age: Duration::from_millis(cfg.flush_age_ms),
            retry_base: Duration::from_millis(cfg.retry_base_ms),
            retry_cap: Duration::from_millis(cfg.retry_cap_ms),
            channel_capacity: cfg.channel_capacity,
            request_timeout: Duration::from_millis(cfg.request_timeout_ms),
            schema_recheck: Duration::from_millis(cfg.retry_cap_ms.min(10_000)),
            notes,
        })
    }

    /// Settings for tests and benchmarks against a server at `addr`: short timers.
    pub fn for_test(addr: std::net::SocketAddr, spool_dir: &Path) -> StoreSettings {
        StoreSettings {
            conf: format!(
                "http::addr={addr};protocol_version=2;request_timeout=2000;retry_timeout=300;"
            ),
            exec_url: format!("http://{addr}"),
            exec_auth: None,
            exec_token: None,
            spool_dir: spool_dir.to_path_buf(),
            spool_max_bytes: 64 * 1024 * 1024,
            fsync: FsyncPolicy::Never,
            flush_rows: 1000,
            flush_age: Duration::from_millis(20),
            retry_base: Duration::from_millis(10),
            retry_cap: Duration::from_millis(100),
            channel_capacity: 65536,
            request_timeout: Duration::from_millis(2000),
            schema_recheck: Duration::from_millis(100),
            notes: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `[questdb]` as the shipped defaults file has it.
    fn default_questdb() -> QuestdbConfig {
        let all: toml::Table =
            toml::from_str(include_str!("../../../assets/default-config.toml")).unwrap();
        all["questdb"].clone().try_into().unwrap()
    }

    #[test]
    fn conf_is_checked_and_pinned() {
        let mut q = default_questdb();
        q.conf = "http::addr=db:9000".into();
        let s = StoreSettings::resolve(&q, Path::new("/d")).unwrap();
        assert!(s.conf.contains("protocol_version=2;"), "{}", s.conf);
        assert_eq!(s.exec_url, "http://db:9000");
        assert_eq!(s.spool_dir, Path::new("/d/spool"));
        assert_eq!(s.notes.len(), 1);
        assert!(parse_conf("http::addr=x;retry_timout=5;").is_err());
        assert!(parse_conf("http::addr=x;protocol_version=auto;").is_err());
        assert!(parse_conf("tcp::addr=x;").is_err());
        let p = parse_conf("https::addr=x:1;password=a;;b;username=u").unwrap();
        assert_eq!(p.get("password"), Some("a;b"));
        assert_eq!(conf_secrets("http::addr=x;password=pw;"), vec!["pw"]);
    }

    #[test]
    fn credentials_are_redacted_even_in_a_conf_the_parser_refuses() {
        let conf = "tcp::addr=x:9009;username=alice;token=t0k;token_x=tx;token_y=ty;password=p;;w;";
        assert_eq!(
            redact_conf(conf),
            "tcp::addr=x:9009;username=<redacted>;token=<redacted>;token_x=<redacted>;\
             token_y=<redacted>;password=<redacted>;"
        );
        let mut found = conf_secrets(conf);
        found.sort();
        assert_eq!(found, ["alice", "p;w", "t0k", "tx", "ty"]);
        assert_eq!(redact_conf("http::addr=x;"), "http::addr=x;");
        let e = parse_conf("password=hunter2 no scheme")
            .unwrap_err()
            .to_string();
        assert!(e.contains("hunter2"), "the parser quotes the string: {e}");
        let clean = redact_conf_text(&e, "password=hunter2 no scheme");
        assert!(!clean.contains("hunter2"), "{clean}");
    }
}
