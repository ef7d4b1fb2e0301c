//! What the engine consumes. Time is never read: every `apply` gets `now_ms`.

use trademon_core::market::MarketEvent;

use super::book::RestoredBook;

/// One input to `Engine::apply`.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineInput {
    /// Market data from the adapter (tickers, trade batches; `SymbolFailed` is ignored here, the
    /// integrator fails the session).
    Market(MarketEvent),
    /// Open interest (contracts held, MEXC `holdVol`) of a symbol. `TickerUpdate` does not carry
    /// it yet; until the adapter sends these, `open_interest_change_pct_5m` has no value.
    OpenInterest {
        symbol: String,
        contracts: f64,
    },
    /// Time passes: windows roll off, values go stale, cooldowns and `position_age_s` exits fire.
    /// Send it regularly (e.g. every 250 ms - 1 s).
    Tick,
    /// Starts a session on `strategy` with one state-machine instance per symbol.
    StartSession {
        id: String,
        strategy: String,
        symbols: Vec<String>,
    },
    /// Stops a session: open paper positions are closed at the last price, instances removed.
    StopSession {
        id: String,
    },
    AddSymbol {
        session: String,
        symbol: String,
    },
    /// Removes one instance (closing its open position first).
    RemoveSymbol {
        session: String,
        symbol: String,
    },
    /// Closes the instance's open paper position at market, as a trader's order would: at the
    /// last price (the mark while no trade is known), slipped against us, with the exit fee. A
    /// `forced_exit` signal and the closed position go out like any exit (a pending exit signal
    /// is overtaken) and the instance cools down for the strategy's `cooldown_s`. Refused when
    /// the session is not running, lacks the symbol or holds no position on it.
    ClosePosition {
        session: String,
        symbol: String,
    },
    /// Monitor only: indicators and conditions keep updating, open positions keep their exits
    /// and liquidation, but no new entry is signalled; an entry signal still waiting for its
    /// fill is cancelled (MONITORING again). Pausing a paused session changes nothing.
    PauseSession {
        id: String,
    },
    /// Entries are signalled again. Resuming a session that is not paused changes nothing.
    ResumeSession {
        id: String,
    },
    /// Gives a just-started session back its paper book (from the journal the backend keeps):
    /// totals, signals and closed trades, and open positions (their instances go to
    /// IN_POSITION with entry, size, leverage, liquidation price and id unchanged). Signal and
    /// position ids continue above the restored ones.
    Restore {
        session: String,
        book: Box<RestoredBook>,
    },
}
