//! Typed rows: what the backend hands the store, what the spool keeps on disk (so buffers can be
//! rebuilt after a restart), and how each row becomes one ILP line.
//!
//! Every row carries its own event timestamp (`ts_ms`): rows are written with `at(ts)`, never
//! `at_now()`, because the DEDUP keys include the designated timestamp and a replayed row must
//! land on the same key.

use questdb::ingress::{Buffer, TimestampMicros};
use serde::{Deserialize, Serialize};

use trademon_core::market::{LinkChange, MarketEvent, Side};
use trademon_engine::events::{EngineEvent, SessionView};
use trademon_protocol::{Candle, Initiator, Interval};

/// The tables trademon writes. The order is the order of DDL and of health reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    Trades,
    Prices,
    IndicatorValues,
    Signals,
    FsmTransitions,
    Sessions,
    ConnectionEvents,
    Klines,
}

/// What may be given up when the channel or the spool is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// Market data: replaceable from the exchange, dropped first (oldest first).
    Market,
    /// Connection events: diagnostics, dropped after market data.
    Diagnostic,
    /// Signals, transitions, sessions: the trading record; never dropped.
    Critical,
}

impl Table {
    pub const COUNT: usize = 8;

    pub const ALL: [Table; Table::COUNT] = [
        Table::Trades,
        Table::Prices,
        Table::IndicatorValues,
        Table::Signals,
        Table::FsmTransitions,
        Table::Sessions,
        Table::ConnectionEvents,
        Table::Klines,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Trades => "trades",
            Table::Prices => "prices",
            Table::IndicatorValues => "indicator_values",
            Table::Signals => "signals",
            Table::FsmTransitions => "fsm_transitions",
            Table::Sessions => "sessions",
            Table::ConnectionEvents => "connection_events",
            Table::Klines => "klines",
        }
    }

    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn priority(self) -> Priority {
        match self {
            Table::Trades | Table::Prices | Table::IndicatorValues | Table::Klines => {
                Priority::Market
            }
            Table::ConnectionEvents => Priority::Diagnostic,
            Table::Signals | Table::FsmTransitions | Table::Sessions => Priority::Critical,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One row of one table. Field names are the spool's on-disk format: renaming one makes old
/// spool lines unreadable (they would be counted as corrupt), so add fields with defaults only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum StoreRow {
    Trade {
        symbol: String,
        /// Exchange trade id; the DEDUP identity together with `ts_ms` and `symbol`.
        trade_id: i64,
        price: f64,
        qty: f64,
        /// Taker side, `BUY` or `SELL`.
        side: String,
        ts_ms: i64,
    },
    Price {
        symbol: String,
        last: f64,
        #[serde(default)]
        bid: Option<f64>,
        #[serde(default)]
        ask: Option<f64>,
        #[serde(default)]
        change_pct: Option<f64>,
        #[serde(default)]
        volume_24h: Option<f64>,
        #[serde(default)]
        fair_price: Option<f64>,
        #[serde(default)]
        index_price: Option<f64>,
        #[serde(default)]
        funding_rate: Option<f64>,
        ts_ms: i64,
    },
    IndicatorValue {
        session: String,
        symbol: String,
        name: String,
        value: f64,
        ts_ms: i64,
    },
    Signal {
        session: String,
        symbol: String,
        signal_id: i64,
        /// `BUY` or `SELL`.
        side: String,
        /// `entry`, `exit`, `forced_exit` or `liquidation`.
        kind: String,
        price: f64,
        reason: String,
        ts_ms: i64,
    },
    FsmTransition {
        session: String,
        symbol: String,
        from: String,
        to: String,
        reason: String,
        ts_ms: i64,
    },
    Session {
        session: String,
        name: String,
        strategy: String,
        /// Comma-separated symbol list.
        symbols: String,
        /// `running`, `stopped`, ...
        status: String,
        realized_pnl: f64,
        signals: i64,
        /// Session start: the row's designated timestamp, fixed for the session's lifetime so
        /// re-sending the full row upserts it in place.
        started_ms: i64,
        updated_ms: i64,
    },
    ConnectionEvent {
        /// `mexc`, `client`, ...
        link: String,
        conn_id: String,
        /// `open`, `close`, `reconnect`, ...
        event: String,
        /// `local`, `remote`, `unknown`.
        initiator: String,
        #[serde(default)]
        code: Option<i64>,
        reason: String,
        ts_ms: i64,
    },
    /// One closed candle; `ts_ms` is its open time.
    Kline {
        symbol: String,
        /// MEXC's interval name (`Min1`, `Min60`, `Day1`, ...).
        interval: String,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        /// In contracts.
        volume: f64,
        /// Turnover in quote currency.
        amount: f64,
        ts_ms: i64,
    },
}

impl StoreRow {
    pub fn table(&self) -> Table {
        match self {
            StoreRow::Trade { .. } => Table::Trades,
            StoreRow::Price { .. } => Table::Prices,
            StoreRow::IndicatorValue { .. } => Table::IndicatorValues,
            StoreRow::Signal { .. } => Table::Signals,
            StoreRow::FsmTransition { .. } => Table::FsmTransitions,
            StoreRow::Session { .. } => Table::Sessions,
            StoreRow::ConnectionEvent { .. } => Table::ConnectionEvents,
            StoreRow::Kline { .. } => Table::Klines,
        }
    }

    /// The designated (event) timestamp in ms.
    pub fn ts_ms(&self) -> i64 {
        match self {
            StoreRow::Trade { ts_ms, .. }
            | StoreRow::Price { ts_ms, .. }
            | StoreRow::IndicatorValue { ts_ms, .. }
            | StoreRow::Signal { ts_ms, .. }
            | StoreRow::FsmTransition { ts_ms, .. }
            | StoreRow::ConnectionEvent { ts_ms, .. }
            | StoreRow::Kline { ts_ms, .. } => *ts_ms,
            StoreRow::Session { started_ms, .. } => *started_ms,
        }
    }

    /// Append this row as one ILP line. On error the buffer is rewound to before the row, so
    /// the caller can quarantine it and go on with the next one.
    pub fn write_ilp(&self, buf: &mut Buffer) -> questdb::Result<()> {
        buf.set_marker()?;
        let res = self.write_ilp_inner(buf);
        if res.is_err() {
            // The marker was set just above, so rewinding cannot fail in practice; if it did,
            // the caller discards the whole buffer anyway.
            let _ = buf.rewind_to_marker();
        } else {
            buf.clear_marker();
        }
        res
    }

    fn write_ilp_inner(&self, buf: &mut Buffer) -> questdb::Result<()> {
        let at = |ms: i64| TimestampMicros::new(ms.saturating_mul(1000));
        match self {
            StoreRow::Trade {
                symbol,
                trade_id,
                price,
                qty,
                side,
                ts_ms,
            } => buf
                .table("trades")?
                .symbol("symbol", symbol)?
                .symbol("side", side)?
                .column_i64("trade_id", *trade_id)?
                .column_f64("price", *price)?
                .column_f64("qty", *qty)?
                .at(at(*ts_ms)),
            StoreRow::Price {
                symbol,
                last,
                bid,
                ask,
                change_pct,
                volume_24h,
                fair_price,
                index_price,
                funding_rate,
                ts_ms,
            } => buf
                .table("prices")?
                .symbol("symbol", symbol)?
                .column_f64("last", *last)?
                .column_f64_opt("bid", *bid)?
                .column_f64_opt("ask", *ask)?
                .column_f64_opt("change_pct", *change_pct)?
                .column_f64_opt("volume_24h", *volume_24h)?
                .column_f64_opt("fair_price", *fair_price)?
                .column_f64_opt("index_price", *index_price)?
                .column_f64_opt("funding_rate", *funding_rate)?
                .at(at(*ts_ms)),
            StoreRow::IndicatorValue {
                session,
                symbol,
                name,
                value,
                ts_ms,
            } => buf
                .table("indicator_values")?
                .symbol("session_id", session)?
                .symbol("symbol", symbol)?
                .symbol("indicator", name)?
                .column_f64("value", *value)?
                .at(at(*ts_ms)),
            StoreRow::Signal {
                session,
                symbol,
                signal_id,
                side,
                kind,
                price,
                reason,
                ts_ms,
            } => buf
                .table("signals")?
                .symbol("session_id", session)?
                .symbol("symbol", symbol)?
                .symbol("side", side)?
                .symbol("kind", kind)?
                .column_i64("signal_id", *signal_id)?
                .column_f64("price", *price)?
                .column_str("reason", reason)?
                .at(at(*ts_ms)),
            StoreRow::FsmTransition {
                session,
                symbol,
                from,
                to,
                reason,
                ts_ms,
            } => buf
                .table("fsm_transitions")?
                .symbol("session_id", session)?
                .symbol("symbol", symbol)?
                .symbol("from_state", from)?
                .symbol("to_state", to)?
                .column_str("reason", reason)?
                .at(at(*ts_ms)),
            StoreRow::Session {
                session,
                name,
                strategy,
                symbols,
                status,
                realized_pnl,
                signals,
                started_ms,
                updated_ms,
            } => buf
                .table("sessions")?
                .symbol("session_id", session)?
                .symbol("strategy", strategy)?
                .symbol("status", status)?
                .column_str("name", name)?
                .column_str("symbols", symbols)?
                .column_f64("realized_pnl", *realized_pnl)?
                .column_i64("signals", *signals)?
                .column_ts("updated_ts", at(*updated_ms))?
                .at(at(*started_ms)),
            StoreRow::ConnectionEvent {
                link,
                conn_id,
                event,
                initiator,
                code,
                reason,
                ts_ms,
            } => buf
                .table("connection_events")?
                .symbol("link", link)?
                .symbol("event", event)?
                .symbol("initiator", initiator)?
                .column_str("conn_id", conn_id)?
                .column_i64_opt("code", *code)?
                .column_str("reason", reason)?
                .at(at(*ts_ms)),
            StoreRow::Kline {
                symbol,
                interval,
                open,
                high,
                low,
                close,
                volume,
                amount,
                ts_ms,
            } => buf
                .table("klines")?
                .symbol("symbol", symbol)?
                .symbol("interval", interval)?
                .column_f64("open", *open)?
                .column_f64("high", *high)?
                .column_f64("low", *low)?
                .column_f64("close", *close)?
                .column_f64("volume", *volume)?
                .column_f64("amount", *amount)?
                .at(at(*ts_ms)),
        }
    }
}

fn side_str(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// Rows for one market event. `now_ms` stamps tickers that carry no exchange time.
///
/// A trade without an exchange id gets a negative surrogate (`-(index in the push + 1)`): it
/// still separates same-ms trades of one push, but a re-received push would not map onto it.
pub fn rows_from_market(ev: &MarketEvent, now_ms: i64) -> Vec<StoreRow> {
    match ev {
        MarketEvent::Trades { symbol, trades, .. } => trades
            .iter()
            .enumerate()
            .map(|(i, t)| StoreRow::Trade {
                symbol: symbol.clone(),
                trade_id: t
                    .id
                    .and_then(|id| i64::try_from(id).ok())
                    .unwrap_or(-(i as i64) - 1),
                price: t.price,
                qty: t.contracts,
                side: side_str(t.taker).to_string(),
                ts_ms: t.ts_ms,
            })
            .collect(),
        MarketEvent::Ticker { update: u, .. } => vec![StoreRow::Price {
            symbol: u.symbol.clone(),
            last: u.last,
            bid: u.bid,
            ask: u.ask,
            change_pct: u.change_pct,
            volume_24h: u.volume_24h,
            fair_price: u.fair_price,
            index_price: u.index_price,
            funding_rate: u.funding_rate,
            ts_ms: u.exchange_ts_ms.unwrap_or(now_ms),
        }],
        MarketEvent::SymbolFailed { .. }
        | MarketEvent::Contracts(_)
        | MarketEvent::Candles { .. }
        | MarketEvent::Book(_)
        | MarketEvent::Funding { .. } => Vec::new(),
        MarketEvent::Link {
            conn_id,
            change,
            at_ms,
        } => vec![link_row("mexc", conn_id, change, *at_ms)],
    }
}

/// A `klines` row for a closed candle. Candles carry their open time in seconds (as MEXC sends
/// them); the row's `ts` is that instant, so a candle written again lands on the same key.
pub fn kline_row(symbol: &str, interval: Interval, c: &Candle) -> StoreRow {
    StoreRow::Kline {
        symbol: symbol.to_string(),
        interval: interval.as_str().to_string(),
        open: c.open,
        high: c.high,
        low: c.low,
        close: c.close,
        volume: c.volume,
        amount: c.amount,
        ts_ms: c.t.saturating_mul(1000),
    }
}

/// A `connection_events` row: `link` is `mexc` (the exchange) or `client` (a TUI's socket).
pub fn link_row(link: &str, conn_id: &str, change: &LinkChange, at_ms: i64) -> StoreRow {
    let close = match change {
        LinkChange::Opened => None,
        LinkChange::Closed(c) | LinkChange::ConnectFailed(c) => Some(c),
    };
    StoreRow::ConnectionEvent {
        link: link.to_string(),
        conn_id: conn_id.to_string(),
        event: change.name().to_string(),
        initiator: close
            .map_or("unknown", |c| match c.initiator {
                Initiator::Local => "local",
                Initiator::Remote => "remote",
                Initiator::Transport => "transport",
            })
            .to_string(),
        code: close.map(|c| i64::from(c.code)),
        reason: close.map(|c| c.reason.clone()).unwrap_or_default(),
        ts_ms: at_ms,
    }
}

/// Rows for one engine event: signals (with side) and instance state changes. Indicator values
/// and session rows are read from the engine by the caller ([`indicator_row`], [`session_row`]).
pub fn rows_from_engine(ev: &EngineEvent) -> Vec<StoreRow> {
    match ev {
        EngineEvent::Signal(s) => vec![StoreRow::Signal {
            session: s.session.clone(),
            symbol: s.symbol.clone(),
            signal_id: i64::try_from(s.id).unwrap_or(i64::MAX),
            side: match s.side {
                trademon_engine::events::SignalSide::Buy => "BUY".into(),
                trademon_engine::events::SignalSide::Sell => "SELL".into(),
            },
            kind: serde_json::to_value(s.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            price: s.price,
            reason: s.reason.clone(),
            ts_ms: s.at_ms,
        }],
        EngineEvent::StateChange {
            session,
            symbol,
            from,
            to,
            reason,
            at_ms,
        } => vec![StoreRow::FsmTransition {
            session: session.clone(),
            symbol: symbol.clone(),
            from: from.as_str().into(),
            to: to.as_str().into(),
            reason: reason.clone(),
            ts_ms: *at_ms,
        }],
        // Creation and removal are transitions from/to a pseudo state, so an instance's history
        // reads as one sequence.
        EngineEvent::InstanceAdded {
            session,
            symbol,
            state,
            at_ms,
        } => vec![StoreRow::FsmTransition {
            session: session.clone(),
            symbol: symbol.clone(),
            from: "NONE".into(),
            to: state.as_str().into(),
            reason: "instance added".into(),
            ts_ms: *at_ms,
        }],
        EngineEvent::InstanceRemoved {
            session,
            symbol,
            reason,
            at_ms,
        } => vec![StoreRow::FsmTransition {
            session: session.clone(),
            symbol: symbol.clone(),
            from: "ANY".into(),
            to: "REMOVED".into(),
            reason: reason.clone(),
            ts_ms: *at_ms,
        }],
        _ => Vec::new(),
    }
}

pub fn indicator_row(session: &str, symbol: &str, name: &str, value: f64, ts_ms: i64) -> StoreRow {
    StoreRow::IndicatorValue {
        session: session.into(),
        symbol: symbol.into(),
        name: name.into(),
        value,
        ts_ms,
    }
}

/// The full session row (re-send it whole on every change: an upsert that leaves a column out
/// stores NULL there).
pub fn session_row(v: &SessionView, name: &str, status: &str, now_ms: i64) -> StoreRow {
    StoreRow::Session {
        session: v.id.clone(),
        name: name.into(),
        strategy: v.strategy.clone(),
        symbols: v.symbols.join(","),
        status: status.into(),
        realized_pnl: v.realized_pnl,
        signals: i64::try_from(v.signals).unwrap_or(i64::MAX),
        started_ms: v.started_ms,
        updated_ms: now_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use questdb::ingress::ProtocolVersion;

    #[test]
    fn spool_format_round_trips() {
        let r = StoreRow::Signal {
            session: "majors".into(),
            symbol: "BTC_USDT".into(),
            signal_id: 3,
            side: "BUY".into(),
            kind: "entry".into(),
            price: 1.5,
            reason: "x".into(),
            ts_ms: 1,
        };
        let s = serde_json::to_string(&r).unwrap();
        assert!(s.starts_with("{\"t\":\"signal\""), "{s}");
        assert_eq!(serde_json::from_str::<StoreRow>(&s).unwrap(), r);
    }

    #[test]
    fn a_kline_row_is_keyed_by_its_open_time_symbol_and_interval() {
        let c = Candle {
            t: 1_763_772_000,
            open: 1.0,
            high: 2.0,
            low: 0.5,
            close: 1.5,
            volume: 10.0,
            amount: 15.0,
        };
        let row = kline_row("BTC_USDT", Interval::Min60, &c);
        assert_eq!(row.table(), Table::Klines);
        assert_eq!(row.ts_ms(), 1_763_772_000_000, "seconds become ms");
        let mut buf = Buffer::new(ProtocolVersion::V1);
        row.write_ilp(&mut buf).unwrap();
        let line = String::from_utf8_lossy(buf.as_bytes()).into_owned();
        assert!(
            line.starts_with("klines,symbol=BTC_USDT,interval=Min60 open=1"),
            "{line}"
        );
        assert!(line.trim_end().ends_with(" 1763772000000000000"), "{line}");
        let spooled = serde_json::to_string(&row).unwrap();
        assert_eq!(serde_json::from_str::<StoreRow>(&spooled).unwrap(), row);
    }

    #[test]
    fn a_bad_row_leaves_the_buffer_as_before() {
        let mut buf = Buffer::new(ProtocolVersion::V2);
        let good = StoreRow::FsmTransition {
            session: "s".into(),
            symbol: "X_Y".into(),
            from: "A".into(),
            to: "B".into(),
            reason: "r".into(),
            ts_ms: 5,
        };
        good.write_ilp(&mut buf).unwrap();
        let len = buf.len();
        let mut bad = good.clone();
        if let StoreRow::FsmTransition { ts_ms, .. } = &mut bad {
            *ts_ms = -5;
        }
        assert!(bad.write_ilp(&mut buf).is_err());
        assert_eq!(buf.len(), len);
        assert_eq!(buf.row_count(), 1);
    }
}
