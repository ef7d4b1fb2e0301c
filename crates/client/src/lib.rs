//! The client side of the one WebSocket: connection (heartbeat, health, backoff, resubscribe,
//! REST polling) and the model that replicates backend state.

pub mod connection;
mod dial;
pub mod health_machine;
pub mod heartbeat;
pub mod link;
pub mod market_view;
pub mod model;
mod outbox;
pub mod poller;
pub mod repeats;
mod settings;

pub use settings::ClientConfig;

use std::collections::BTreeSet;
use tokio::sync::mpsc;
use trademon_protocol::{Interval, LogEvent, RestSnapshot, ServerMsg, StreamName};

/// One entry of the desired subscription set, replayed after every connect.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subscription {
    pub stream: StreamName,
    /// `None` for global streams.
    pub session_id: Option<String>,
}

/// The symbol view the UI has open. Its three streams (candles of `interval`, book, tape)
/// ride the same WebSocket as everything else and are replayed after every connect.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct SymbolView {
    pub symbol: String,
    pub interval: Interval,
}

/// One per-symbol stream subscription; `interval` only for `candles`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SymbolStream {
    pub stream: StreamName,
    pub symbol: String,
    pub interval: Option<Interval>,
}

impl SymbolView {
    /// The streams this view subscribes: at most three, whatever the interval.
    pub fn streams(&self) -> BTreeSet<SymbolStream> {
        [StreamName::Candles, StreamName::Book, StreamName::Tape]
            .into_iter()
            .map(|stream| SymbolStream {
                stream,
                symbol: self.symbol.clone(),
                interval: (stream == StreamName::Candles).then_some(self.interval),
            })
            .collect()
    }
}

/// What the UI asks of the connection task.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientCommand {
    /// Replace the desired set; the difference is (un)subscribed at once if connected.
    SetSubscriptions(BTreeSet<Subscription>),
    /// The model saw a seq gap: unsubscribe + subscribe this one to get a fresh `full_update`.
    Resync(Subscription),
    /// Open (`Some`), change or close (`None`) the symbol view: only the streams that differ
    /// are unsubscribed and subscribed (a new interval moves `candles` alone).
    SetSymbolView(Option<SymbolView>),
    /// The model saw a seq gap on one of the symbol view's streams: resubscribe that one.
    ResyncSymbol {
        stream: StreamName,
        symbol: String,
    },
    /// Send one command op (`add_symbol`, `remove_symbol`, ...) as it is, its `id` chosen by
    /// the caller, who pairs the `result` or `error` reply by it. Only while a socket is open;
    /// otherwise it is dropped (logged), and the caller's own timeout says so.
    Request(trademon_protocol::ClientMsg),
    /// Drop the link and connect again now (the `r` key), resetting the backoff.
    ReconnectNow,
    Shutdown,
}

/// What the connection task tells the UI, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// A frame from the backend, parsed, with the raw text as received (for recordings).
    Message { msg: ServerMsg, raw: String },
    /// The link changed (state, RTT, attempt, countdown...).
    Link(link::LinkStatus),
    /// A REST snapshot fetched while polling.
    Snapshot(RestSnapshot),
    /// Something worth showing in the event panel (closes, aggregated errors).
    Notice(LogEvent),
}

/// Cheap to clone; dropping every handle does not stop the task, `Shutdown` does.
#[derive(Debug, Clone)]
pub struct ClientHandle {
    pub commands: mpsc::UnboundedSender<ClientCommand>,
}

impl ClientHandle {
    pub fn send(&self, cmd: ClientCommand) {
        // The task only ends on Shutdown; a failed send then has nothing left to do.
        let _ = self.commands.send(cmd);
    }
}
