//! Why the store could not start: a conf string it refuses, or a resource it could not get.
//! Messages may quote the conf string; callers pass them through `redact_conf_text`.

use std::path::PathBuf;

/// A `[questdb] conf` string the store refuses.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfError {
    #[error("{0:?} is not like \"http::addr=host:9000;\"")]
    NoScheme(String),
    #[error("scheme {0:?} is not supported; use http:: or https:: (ILP over HTTP)")]
    Scheme(String),
    #[error("{0:?} is not key=value")]
    NotKeyValue(String),
    #[error("unknown key {0:?} (the client would ignore it)")]
    UnknownKey(String),
    #[error("duplicate key {0:?}")]
    DuplicateKey(String),
    #[error("auto_flush must be off: the store flushes itself")]
    AutoFlush,
    #[error(
        "protocol_version {0:?} must be 1, 2 or 3: \"auto\" probes the server at start, \
         so start would fail while QuestDB is down"
    )]
    ProtocolVersion(String),
    #[error("addr is missing")]
    AddrMissing,
    #[error("addr is empty")]
    AddrEmpty,
}

/// Why `spawn` started nothing.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("questdb.conf: {0}")]
    Conf(#[from] ConfError),
    #[error("questdb.conf: {}", .0.msg())]
    Client(#[source] questdb::Error),
    #[error("questdb.spool_dir {}: {source}", dir.display())]
    Spool {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("store runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("cannot start the writer thread: {0}")]
    Thread(#[source] std::io::Error),
}
