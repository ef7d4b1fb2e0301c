//! Client <-> backend wire protocol: JSON text frames on one WebSocket.
//!
//! This crate is the contract between the backend and the client crates; it depends on neither.
//! `docs/protocol.md` describes it for humans and its examples are parsed by tests.
//!
//! Every stream message carries `type`, `stream`, `session_id` (for per-session streams),
//! `seq` (monotonic per stream and session) and `ts` (backend wall clock, ms since the epoch).

mod market_view;
mod store_health;

pub use market_view::{
    BookLevel, BookSnapshot, Candle, CandlesUpdate, Interval, TapeTrade, TapeUpdate,
};
pub use store_health::{StoreHealth, StoreState};

use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change; a mismatch closes with [`close::UNSUPPORTED_VERSION`].
pub const PROTOCOL_VERSION: u32 = 1;

/// Application close codes. 4000-4499 may reconnect, 4500-4999 must not.
pub mod close {
    pub const HEARTBEAT_TIMEOUT: u16 = 4000;
    pub const SLOW_CONSUMER: u16 = 4008;
    pub const RESYNC_REQUIRED: u16 = 4009;
    pub const AUTH_FAILED: u16 = 4501;
    pub const PROTOCOL_VIOLATION: u16 = 4502;
    pub const UNSUPPORTED_VERSION: u16 = 4503;
    /// RFC 6455 codes we use as they are.
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    /// A text frame that is not UTF-8 (RFC 6455 §7.4.1).
    pub const INVALID_PAYLOAD: u16 = 1007;
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// RFC 6455 "Try Again Later": `server.max_clients` connections are open already.
    pub const TOO_MANY_CLIENTS: u16 = 1013;

    /// Whether a client may reconnect after the peer closed with `code`.
    pub fn may_reconnect(code: u16) -> bool {
        !(4500..=4999).contains(&code)
    }
}

/// The closed set of streams. Adding one is adding a variant here and a producer in the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamName {
    Sessions,
    MarketData,
    StateMachines,
    Health,
    Events,
    Indicators,
    Conditions,
    Signals,
    Positions,
    /// One symbol's candles of one interval (the symbol view's chart).
    Candles,
    /// One symbol's order book top.
    Book,
    /// One symbol's trade tape.
    Tape,
}

impl StreamName {
    pub const ALL: [StreamName; 12] = [
        StreamName::Sessions,
        StreamName::MarketData,
        StreamName::StateMachines,
        StreamName::Health,
        StreamName::Events,
        StreamName::Indicators,
        StreamName::Conditions,
        StreamName::Signals,
        StreamName::Positions,
        StreamName::Candles,
        StreamName::Book,
        StreamName::Tape,
    ];

    /// Per-session streams need a `session_id`; global ones ignore it.
    pub fn is_per_session(self) -> bool {
        !matches!(
            self,
            StreamName::Sessions | StreamName::Health | StreamName::Events
        ) && !self.is_per_symbol()
    }

    /// The symbol view's streams: keyed by `symbol` (and `interval` for candles), not by
    /// session, and opened only on request (each one costs upstream subscriptions).
    pub fn is_per_symbol(self) -> bool {
        matches!(
            self,
            StreamName::Candles | StreamName::Book | StreamName::Tape
        )
    }

    /// Conflated streams may skip `seq` values for a client (latest value per key wins),
    /// so a gap there is not a reason to resync.
    pub fn is_conflated(self) -> bool {
        matches!(
            self,
            StreamName::MarketData
                | StreamName::Health
                | StreamName::Indicators
                | StreamName::Conditions
                | StreamName::Positions
                | StreamName::Book
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StreamName::Sessions => "sessions",
            StreamName::MarketData => "market_data",
            StreamName::StateMachines => "state_machines",
            StreamName::Health => "health",
            StreamName::Events => "events",
            StreamName::Indicators => "indicators",
            StreamName::Conditions => "conditions",
            StreamName::Signals => "signals",
            StreamName::Positions => "positions",
            StreamName::Candles => "candles",
            StreamName::Book => "book",
            StreamName::Tape => "tape",
        }
    }

    pub fn parse(s: &str) -> Option<StreamName> {
        StreamName::ALL.into_iter().find(|n| n.as_str() == s)
    }

    pub fn valid_names() -> Vec<String> {
        StreamName::ALL
            .iter()
            .map(|s| s.as_str().to_string())
            .collect()
    }
}

impl std::fmt::Display for StreamName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------------------------
// Client -> backend
// ---------------------------------------------------------------------------------------------

/// A frame sent by the client. `id` is chosen by the client and echoed in the reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ClientMsg {
    /// Optional first frame; a different major protocol is closed with 4503.
    Hello {
        protocol: u32,
        client: String,
    },
    /// `stream` stays a string here so an unknown name can be answered with a helpful error.
    Subscribe {
        id: u64,
        stream: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
        /// Required by the per-symbol streams (`candles`, `book`, `tape`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        symbol: Option<String>,
        /// Required by `candles`: a MEXC interval name (`Min1` ... `Month1`). A string so an
        /// unknown one can be answered with the valid names.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interval: Option<String>,
    },
    Unsubscribe {
        id: u64,
        stream: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
        /// Required by the per-symbol streams (`candles`, `book`, `tape`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        symbol: Option<String>,
        /// Required by `candles`: a MEXC interval name (`Min1` ... `Month1`). A string so an
        /// unknown one can be answered with the valid names.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interval: Option<String>,
    },
    /// Application heartbeat; answered with `pong` ahead of any queued data.
    Ping {
        id: u64,
    },
    StartSession {
        id: u64,
        session_id: String,
    },
    StopSession {
        id: u64,
        session_id: String,
    },
    /// Adds a symbol to a session (running or stopped); persisted.
    AddSymbol {
        id: u64,
        session_id: String,
        symbol: String,
    },
    /// Removes a symbol from a session, closing its paper position; persisted.
    RemoveSymbol {
        id: u64,
        session_id: String,
        symbol: String,
    },
    /// Creates a paper session and starts it; persisted like the configured ones. The id is
    /// letters, digits, `-` or `_`; `name` defaults to the id; `strategy` must be configured;
    /// `symbols` at least one, each like `BTC_USDT`, each once.
    CreateSession {
        id: u64,
        session_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        strategy: String,
        symbols: Vec<String>,
    },
    /// Closes the session's open paper position on `symbol` at market (the last price, with
    /// slippage and the exit fee), like an exit: a `forced_exit` signal, a closed trade.
    ClosePosition {
        id: u64,
        session_id: String,
        symbol: String,
    },
    /// Monitor only: indicators and conditions keep updating, open positions keep their
    /// exits, no new entries. Persisted; a stopped session starts paused.
    PauseStrategy {
        id: u64,
        session_id: String,
    },
    /// Entries are signalled again.
    ResumeStrategy {
        id: u64,
        session_id: String,
    },
    /// Reads what QuestDB holds (needs `[questdb]`): answered with `history` or an `error`.
    History {
        id: u64,
        query: HistoryQuery,
        /// Required by `session`, `signals` and `transitions`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
        /// Required by `transitions` (the instance is a session and a symbol).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        symbol: Option<String>,
        /// Newest first, at most this many rows (default 100, at most 10 000).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
}

/// The fixed set of QuestDB history templates (docs/questdb.md, "Queries").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryQuery {
    /// Sessions, newest first.
    Sessions,
    /// Every stored run of one session.
    Session,
    /// A session's signals, with side.
    Signals,
    /// An instance's (session + symbol) recent state transitions.
    Transitions,
}

/// Parses one client text frame. This is the exact function the backend's connection reader
/// uses, so the fuzz target `client_frame` and the property tests exercise the real door.
/// Unknown fields are ignored (forward compatibility); an unknown `op`, a wrong type or an
/// out-of-range id is an error. serde_json's recursion limit (128) bounds nesting, so deeply
/// nested input is an error too, never a stack overflow.
pub fn parse_client_frame(text: &str) -> Result<ClientMsg, serde_json::Error> {
    serde_json::from_str(text)
}

/// The `id` of a frame [`parse_client_frame`] refused, when it has one that fits a `u64`: read
/// leniently (any JSON object, any op, other fields ignored) so the error reply can still name
/// the request it answers.
pub fn request_id(text: &str) -> Option<u64> {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()?
        .get("id")?
        .as_u64()
}

// ---------------------------------------------------------------------------------------------
// Backend -> client
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Hello(Hello),
    Ack(Ack),
    Error(ErrorReply),
    Pong(Pong),
    /// Reply to session commands (start, stop, create, symbols, close a position, pause).
    Result(CommandResult),
    /// Whole current state of one stream (for one session); sent after every `ack`.
    FullUpdate(Envelope<Snapshot>),
    // --- deltas ---
    Ticker(Envelope<Ticker>),
    InstanceAdded(Envelope<Instance>),
    InstanceRemoved(Envelope<InstanceRemoved>),
    StateChange(Envelope<StateChange>),
    SessionChanged(Envelope<SessionInfo>),
    Health(Envelope<Health>),
    Event(Envelope<LogEvent>),
    Indicators(Envelope<SymbolIndicators>),
    Conditions(Envelope<SymbolConditions>),
    Signal(Envelope<SignalInfo>),
    Position(Envelope<PositionInfo>),
    SessionTotals(Envelope<SessionTotals>),
    Candles(Envelope<CandlesUpdate>),
    Book(Envelope<BookSnapshot>),
    Tape(Envelope<TapeUpdate>),
    /// Reply to a `history` request: the rows of the query, newest first.
    History(HistoryReply),
}

impl ServerMsg {
    /// The stream, its key (the session, or the symbol of a per-symbol stream) and sequence of a
    /// stream message, `None` for control replies. A connection views at most one candle
    /// interval per symbol, so the symbol alone keys `candles` too.
    pub fn stream_position(&self) -> Option<(StreamName, Option<&str>, u64)> {
        fn pos<T>(e: &Envelope<T>) -> Option<(StreamName, Option<&str>, u64)> {
            let key = e.session_id.as_deref().or(e.symbol.as_deref());
            Some((e.stream, key, e.seq))
        }
        match self {
            ServerMsg::FullUpdate(e) => pos(e),
            ServerMsg::Ticker(e) => pos(e),
            ServerMsg::InstanceAdded(e) => pos(e),
            ServerMsg::InstanceRemoved(e) => pos(e),
            ServerMsg::StateChange(e) => pos(e),
            ServerMsg::SessionChanged(e) => pos(e),
            ServerMsg::Health(e) => pos(e),
            ServerMsg::Event(e) => pos(e),
            ServerMsg::Indicators(e) => pos(e),
            ServerMsg::Conditions(e) => pos(e),
            ServerMsg::Signal(e) => pos(e),
            ServerMsg::Position(e) => pos(e),
            ServerMsg::SessionTotals(e) => pos(e),
            ServerMsg::Candles(e) => pos(e),
            ServerMsg::Book(e) => pos(e),
            ServerMsg::Tape(e) => pos(e),
            ServerMsg::Hello(_)
            | ServerMsg::Ack(_)
            | ServerMsg::Error(_)
            | ServerMsg::Pong(_)
            | ServerMsg::History(_)
            | ServerMsg::Result(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    pub server: String,
    pub connection_id: String,
    /// Changes on every backend start so sequence numbers of different runs are never mixed.
    pub epoch: String,
    pub streams: Vec<String>,
    pub ping_interval_ms: u64,
    pub idle_timeout_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    pub id: u64,
    pub stream: StreamName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// Error codes are stable strings; `valid` lists the accepted choices when that helps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorReply {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub valid: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryReply {
    pub id: u64,
    pub query: HistoryQuery,
    /// Session, signal or transition records (docs/protocol.md shows each shape).
    pub rows: Vec<serde_json::Value>,
}

pub mod error_code {
    pub const UNKNOWN_STREAM: &str = "unknown_stream";
    pub const SESSION_NOT_FOUND: &str = "session_not_found";
    pub const SESSION_REQUIRED: &str = "session_required";
    pub const INVALID_MESSAGE: &str = "invalid_message";
    pub const UNSUPPORTED_FRAME: &str = "unsupported_frame";
    pub const INVALID_SYMBOL: &str = "invalid_symbol";
    /// The engine refused a session command (duplicate or missing symbol, unknown strategy).
    pub const REJECTED: &str = "rejected";
    /// A `history` request while QuestDB is off (`[questdb] enabled = false`) or unreachable.
    pub const HISTORY_UNAVAILABLE: &str = "history_unavailable";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pong {
    pub id: u64,
    pub ts: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandResult {
    pub id: u64,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub stream: StreamName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Set on the per-symbol streams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// Set on `candles`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
    pub seq: u64,
    pub ts: i64,
    pub data: T,
}

/// The whole state of one stream. Exactly the fields of that stream are present in a
/// `full_update`; `GET /api/v1/snapshot` fills all of them for one session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<Vec<SessionInfo>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_data: Option<Vec<Ticker>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_machines: Option<Vec<Instance>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Box<Health>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<LogEvent>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indicators: Option<Vec<SymbolIndicators>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<SymbolConditions>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signals: Option<Vec<SignalInfo>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Boxed like `health`: it is the largest part and most snapshots lack it.
    pub positions: Option<Box<PositionsSnapshot>>,
    /// The symbol view's streams are boxed too: one of them at most is ever present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candles: Option<Box<CandlesUpdate>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub book: Option<Box<BookSnapshot>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tape: Option<Box<TapeUpdate>>,
}

/// Body of `GET /api/v1/snapshot?session=ID`: every stream of that session with its seq.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestSnapshot {
    pub session_id: String,
    pub epoch: String,
    pub ts: i64,
    /// Current seq per stream name, so a client can tell whether anything moved.
    pub seq: std::collections::BTreeMap<String, u64>,
    pub data: Snapshot,
}

// ---------------------------------------------------------------------------------------------
// Stream payloads
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    Starting,
    Running,
    Stopped,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: String,
    pub name: String,
    /// Always `paper` for now.
    pub mode: String,
    pub strategy: String,
    pub symbols: Vec<String>,
    pub state: SessionState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The strategy is paused (monitor only: no new entries); absent when it is not.
    #[serde(default, skip_serializing_if = "is_false")]
    pub paused: bool,
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// Where a market value came from: the exchange WebSocket or the REST fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DataSource {
    #[default]
    Ws,
    Rest,
}

/// Latest market state of one symbol (conflated: the newest replaces older ones). Every
/// `ticker` delta and `full_update` row is the whole merged row, never a patch; the optional
/// fields are absent until MEXC has sent them (a trade can come before the first ticker).
/// Prices are f64: they come from exchange decimals with at most ~10 significant digits,
/// are only displayed and compared here, and f64 holds 15 exactly (see docs/protocol.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticker {
    pub symbol: String,
    pub last: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bid: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask: Option<f64>,
    /// 24 h change in percent (exchange `riseFallRate` x 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_pct: Option<f64>,
    /// 24 h turnover in quote currency (exchange `amount24`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_24h: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fair_price: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_price: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub funding_rate: Option<f64>,
    /// Next funding settlement (ms since the epoch), for the countdown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_funding_ms: Option<i64>,
    /// 24 h high and low (exchange `high24Price`, `lower24Price`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high_24h: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_24h: Option<f64>,
    /// Open interest in contracts (exchange `holdVol`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_interest: Option<f64>,
    /// Decimals of the contract's price (its price unit, from the exchange's contract detail);
    /// absent while the contract specification is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_decimals: Option<u32>,
    /// Backend wall clock (ms) when the newest data for this symbol arrived.
    pub received_ms: i64,
    pub source: DataSource,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub symbol: String,
    /// Strategy state, e.g. `MONITORING`.
    pub state: String,
    /// Backend wall clock (ms) of the last transition.
    pub since_ms: i64,
    /// Why the instance is in its state (the reason of the last transition).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceRemoved {
    pub symbol: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateChange {
    pub symbol: String,
    pub from: String,
    pub to: String,
    pub reason: String,
    pub at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamState {
    Connecting,
    Live,
    Reconnecting,
    /// WebSocket down, market data from REST polling.
    RestPolling,
    Down,
}

/// Who ended a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Initiator {
    Local,
    Remote,
    /// The transport broke without a close frame (1006).
    Transport,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloseInfo {
    pub initiator: Initiator,
    pub code: u16,
    pub reason: String,
    pub at_ms: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionCounts {
    pub pending: u32,
    pub acked: u32,
    pub live: u32,
    pub stale: u32,
    pub failed: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpstreamHealth {
    pub state: UpstreamState,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pong_age_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_data_age_ms: Option<u64>,
    pub reconnects: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_close: Option<CloseInfo>,
    pub subscriptions: SubscriptionCounts,
    pub source: DataSource,
    /// One entry per exchange WebSocket (several when sharded, two during a rotation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<UpstreamConnection>,
    /// Inbound frames that were not valid JSON objects with a `channel`, since start.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub malformed_frames: u64,
    /// Every (channel, symbol) subscription, for the TUI's upstream detail view.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<UpstreamStream>,
    /// Why the exchange WebSocket is not live, in a few words (`unreachable: DNS lookup failed`,
    /// `connection lost: closed by server (1006)`); absent while every connection is up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// The REST fallback's last failure (`HTTP 503`, `connection refused`); absent while it
    /// succeeds or is not running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rest_error: Option<String>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl Default for UpstreamHealth {
    fn default() -> Self {
        UpstreamHealth {
            state: UpstreamState::Connecting,
            url: String::new(),
            pong_age_ms: None,
            last_data_age_ms: None,
            reconnects: 0,
            last_close: None,
            subscriptions: SubscriptionCounts::default(),
            source: DataSource::Ws,
            connections: Vec::new(),
            malformed_frames: 0,
            streams: Vec::new(),
            cause: None,
            rest_error: None,
        }
    }
}

/// One exchange WebSocket as seen in the `health` stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpstreamConnection {
    /// Current connection id (`mexc-7`); changes on every reconnect.
    pub id: String,
    pub state: UpstreamState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pong_age_ms: Option<u64>,
    pub subscriptions: SubscriptionCounts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_close: Option<CloseInfo>,
    pub reconnects: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamState {
    Pending,
    Acked,
    Live,
    Stale,
    Failed,
}

/// One (channel, symbol) subscription on the exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpstreamStream {
    /// `ticker`, `deal`, `kline.<interval>`, `depth` or `funding.rate`.
    pub channel: String,
    pub symbol: String,
    pub state: StreamState,
    /// Time since the last data frame of this stream; absent before the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_age_ms: Option<u64>,
    pub resubscribes: u32,
    /// The exchange's text for a refusal, or why the stream is in trouble.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Depth streams: version gaps detected since the stream was wanted, each one resynced
    /// from a REST snapshot.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gaps: u64,
}

/// Where the backend's market data comes from. A simulated market must never pass for MEXC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketSource {
    /// The real exchange (also what a backend that predates this field means).
    #[default]
    Mexc,
    /// The built-in simulator (`--demo`).
    Simulator,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub backend_started_ms: i64,
    pub clients: u32,
    /// Live MEXC or the simulator.
    #[serde(default)]
    pub market: MarketSource,
    pub upstream: UpstreamHealth,
    /// The QuestDB writer; absent when the store is not running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreHealth>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// A notable event for the event panel. Repeats of the same `name` and `message` are
/// aggregated into one entry with a `count`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEvent {
    pub ts: i64,
    pub level: Level,
    /// Stable event name, e.g. `mexc.close`.
    pub name: String,
    pub message: String,
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

/// One indicator value. `value` is absent while the indicator has no data yet (warm-up).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorValue {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// Older than `engine.stale_after_s`: shown as such, never allowed to trigger an entry.
    pub stale: bool,
}

/// Every indicator of one symbol (`indicators` stream, conflated per symbol).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SymbolIndicators {
    pub symbol: String,
    /// Indicator name (as condition expressions spell it) -> value.
    pub values: std::collections::BTreeMap<String, IndicatorValue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionKind {
    Entry,
    Exit,
}

/// One condition of a strategy at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionInfo {
    pub kind: ConditionKind,
    /// The expression as configured, e.g. `volume_surge_5m > 3`.
    pub expr: String,
    /// Indicator (or `pnl_pct` / `position_age_s`) the expression reads.
    pub indicator: String,
    pub op: String,
    pub threshold: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// 0-100: how close the value is to meeting the condition.
    pub progress_pct: f64,
    pub met: bool,
    pub stale: bool,
}

/// Condition progress of one instance (`conditions` stream, conflated per symbol).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SymbolConditions {
    pub symbol: String,
    /// Strategy state of the instance; entry conditions matter in `MONITORING`, exit ones in
    /// `IN_POSITION`.
    pub state: String,
    pub conditions: Vec<ConditionInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Side {
    Buy,
    Sell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    Entry,
    Exit,
    /// The session stopped or the symbol was removed with a position open, or the trader
    /// closed the position at market (`close_position`).
    ForcedExit,
    /// The mark crossed the liquidation price: the paper position was closed there and its
    /// isolated margin lost.
    Liquidation,
}

/// A strategy signal (`signals` stream, ordered).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalInfo {
    /// Backend-wide, increasing.
    pub id: u64,
    pub symbol: String,
    pub side: Side,
    /// `last` when the signal was raised (paper fills happen at the next trade).
    pub price: f64,
    pub reason: String,
    pub kind: SignalKind,
    pub at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionStatus {
    Open,
    Closed,
}

/// A paper position (`positions` stream, conflated per symbol). A `closed` one is the last
/// word on it: clients drop it from the open list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionInfo {
    pub id: u64,
    pub symbol: String,
    /// `long` or `short`.
    pub direction: String,
    pub status: PositionStatus,
    /// Notional in quote currency at entry.
    pub size_quote: f64,
    pub leverage: f64,
    pub entry_price: f64,
    /// Fair price when known, else last.
    pub mark_price: f64,
    /// Gross of fees.
    pub unrealized_pnl: f64,
    /// Net of fees; set once closed.
    pub realized_pnl: f64,
    pub fees: f64,
    /// On margin, net of fees paid so far.
    pub pnl_pct: f64,
    pub liquidation_price: f64,
    /// Distance of the mark to the liquidation price, percent of the mark.
    pub distance_to_liq_pct: f64,
    /// Within `engine.liquidation_alert_pct` of liquidation.
    pub alert: bool,
    pub opened_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_price: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_reason: Option<String>,
}

/// Paper results of a session (`positions` stream, conflated; one value per session).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionTotals {
    /// Backend wall clock when the session started running (absent when stopped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<i64>,
    /// Realized PnL of closed positions, net of fees.
    pub realized_pnl: f64,
    /// Unrealized PnL of open positions, gross of fees.
    pub unrealized_pnl: f64,
    pub fees: f64,
    pub open_positions: u32,
    pub signals: u64,
    /// Fees of closed trades (already inside `realized_pnl`).
    #[serde(default)]
    pub closed_fees: f64,
    /// Closed paper trades of the session (all, not only those in the `closed` list).
    #[serde(default)]
    pub closed_trades: u64,
    /// Closed trades with realized PnL above zero (win rate = winning / closed).
    #[serde(default)]
    pub winning_trades: u64,
}

/// `positions` in a `full_update`: the open positions, the newest closed trades (newest first,
/// at most `engine.trade_history`) and the session totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PositionsSnapshot {
    pub open: Vec<PositionInfo>,
    #[serde(default)]
    pub closed: Vec<PositionInfo>,
    pub totals: SessionTotals,
}

/// `404` body for an unknown session on REST.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestError {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A symbol as the protocol names it: `BASE_QUOTE`, upper-case letters and digits.
pub fn is_valid_symbol(sym: &str) -> bool {
    let mut parts = sym.split('_');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        })
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// Wall clock in ms since the Unix epoch; the only place the protocol layer reads time.
pub fn now_ms() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_message_round_trip_keeps_type_and_stream() {
        let msg = ServerMsg::InstanceAdded(Envelope {
            interval: None,
            symbol: None,
            stream: StreamName::StateMachines,
            session_id: Some("majors".into()),
            seq: 7,
            ts: 1_700_000_000_000,
            data: Instance {
                symbol: "BTC_USDT".into(),
                state: "MONITORING".into(),
                since_ms: 1_700_000_000_000,
                last_reason: String::new(),
            },
        });
        let text = serde_json::to_string(&msg).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["type"], "instance_added");
        assert_eq!(v["stream"], "state_machines");
        assert_eq!(v["session_id"], "majors");
        assert_eq!(v["seq"], 7);
        assert_eq!(serde_json::from_str::<ServerMsg>(&text).unwrap(), msg);
    }

    #[test]
    fn client_subscribe_parses_with_unknown_stream_name() {
        let m: ClientMsg =
            serde_json::from_str(r#"{"op":"subscribe","id":1,"stream":"nope"}"#).unwrap();
        assert_eq!(
            m,
            ClientMsg::Subscribe {
                interval: None,
                symbol: None,
                id: 1,
                stream: "nope".into(),
                session_id: None
            }
        );
        assert_eq!(StreamName::parse("nope"), None);
        assert_eq!(
            StreamName::parse("market_data"),
            Some(StreamName::MarketData)
        );
    }

    #[test]
    fn close_code_ranges_decide_reconnect() {
        assert!(close::may_reconnect(close::HEARTBEAT_TIMEOUT));
        assert!(close::may_reconnect(close::SLOW_CONSUMER));
        assert!(close::may_reconnect(1006));
        assert!(!close::may_reconnect(close::AUTH_FAILED));
        assert!(!close::may_reconnect(close::UNSUPPORTED_VERSION));
        assert!(close::may_reconnect(close::TOO_MANY_CLIENTS));
    }

    #[test]
    fn request_id_is_read_from_frames_the_strict_parse_refuses() {
        assert_eq!(request_id(r#"{"op":"dance","id":7}"#), Some(7));
        assert_eq!(request_id(r#"{"op":"subscribe","id":3}"#), Some(3));
        assert_eq!(request_id(r#"{"id":18446744073709551615}"#), Some(u64::MAX));
        for no_id in [
            r#"{"op":"x"}"#,
            r#"{"id":-1}"#,
            r#"{"id":"7"}"#,
            "[1]",
            "{",
            "",
        ] {
            assert_eq!(request_id(no_id), None, "{no_id}");
        }
    }
}
