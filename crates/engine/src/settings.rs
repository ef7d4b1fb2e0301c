//! Engine and strategy settings. These are plain serde types so the integrator can embed them in
//! the app config as `[engine]` and `[strategies.<name>]`; every field has a documented default
//! and unknown keys are refused (a typo must not silently fall back to a default).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Engine-wide settings (`[engine]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSettings {
    /// An indicator value whose `updated_at` is this many seconds old (or older) is stale: it is
    /// shown as such and never satisfies an entry condition. Default 60.
    pub stale_after_s: u64,
    /// Signals kept per session for `Engine::signals` snapshots. Default 200.
    pub signal_history: usize,
    /// Maintenance margin rate for the isolated-margin liquidation price. Default 0.005 (0.5 %).
    pub maintenance_margin_rate: f64,
    /// A `LiquidationRisk` event fires when the mark comes within this many percent of the
    /// liquidation price. Default 2.0.
    pub liquidation_alert_pct: f64,
    /// While the mark stays inside `liquidation_alert_pct`, the `LiquidationRisk` event repeats
    /// every this many seconds (it also fires on entering the distance). Default 30.
    pub liquidation_alert_interval_s: u64,
    /// Closed paper trades kept per session for `Engine::closed_trades` (the Trades panel).
    /// Default 200.
    pub trade_history: usize,
    /// Contract size (base units per contract) per symbol, overriding the exchange's contract
    /// specification. Quote volume of a trade = price x contracts x contract_size.
    pub contract_sizes: BTreeMap<String, f64>,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            stale_after_s: 60,
            signal_history: 200,
            maintenance_margin_rate: 0.005,
            liquidation_alert_pct: 2.0,
            liquidation_alert_interval_s: 30,
            trade_history: 200,
            contract_sizes: BTreeMap::new(),
        }
    }
}

impl EngineSettings {
    /// The configured contract size of `symbol`, if any (it overrides the exchange's).
    pub fn contract_size_override(&self, symbol: &str) -> Option<f64> {
        self.contract_sizes.get(symbol).copied()
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.stale_after_s == 0 {
            return Err("engine.stale_after_s must be at least 1".into());
        }
        if self.signal_history == 0 {
            return Err("engine.signal_history must be at least 1".into());
        }
        if self.trade_history == 0 {
            return Err("engine.trade_history must be at least 1".into());
        }
        if self.liquidation_alert_interval_s == 0 {
            return Err("engine.liquidation_alert_interval_s must be at least 1".into());
        }
        let mmr = self.maintenance_margin_rate;
        if !(mmr.is_finite() && (0.0..1.0).contains(&mmr)) {
            return Err(format!(
                "engine.maintenance_margin_rate must be in [0, 1), got {mmr}"
            ));
        }
        let alert = self.liquidation_alert_pct;
        if !(alert.is_finite() && alert >= 0.0) {
            return Err(format!(
                "engine.liquidation_alert_pct must be >= 0, got {alert}"
            ));
        }
        for (symbol, size) in &self.contract_sizes {
            if !(size.is_finite() && *size > 0.0) {
                return Err(format!(
                    "engine.contract_sizes.{symbol} must be a positive number, got {size}"
                ));
            }
        }
        Ok(())
    }
}

/// Trade direction of a strategy: `long` buys to enter, `short` sells to enter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    #[default]
    Long,
    Short,
}

impl Direction {
    /// +1 for long, -1 for short: PnL = sign x quantity x (exit - entry).
    pub fn sign(self) -> f64 {
        match self {
            Direction::Long => 1.0,
            Direction::Short => -1.0,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Long => "long",
            Direction::Short => "short",
        }
    }
}

/// `entry.all`: every expression must hold (on fresh data) to enter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntrySettings {
    pub all: Vec<String>,
}

/// `exit.any`: the first expression that holds exits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExitSettings {
    pub any: Vec<String>,
}

/// One strategy (`[strategies.<name>]`). `entry` and `exit` are required; the rest default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategySettings {
    /// `long` (default) or `short`.
    #[serde(default)]
    pub direction: Direction,
    pub entry: EntrySettings,
    pub exit: ExitSettings,
    /// Seconds in `COOLDOWN` after an exit fill before monitoring again. Default 300.
    #[serde(default = "default_cooldown_s")]
    pub cooldown_s: u64,
    /// Position notional in quote currency at entry (margin = size_quote / leverage). Default 100.
    #[serde(default = "default_size_quote")]
    pub size_quote: f64,
    /// Default 5.
    #[serde(default = "default_leverage")]
    pub leverage: f64,
    /// Taker fee in basis points of the notional, charged on entry and on exit. Default 6.
    #[serde(default = "default_fee_bps")]
    pub fee_bps: f64,
    /// Paper fill slippage in basis points against us. Default 2.
    #[serde(default = "default_slippage_bps")]
    pub slippage_bps: f64,
}

fn default_cooldown_s() -> u64 {
    300
}
fn default_size_quote() -> f64 {
    100.0
}
fn default_leverage() -> f64 {
    5.0
}
fn default_fee_bps() -> f64 {
    6.0
}
fn default_slippage_bps() -> f64 {
    2.0
}

/// Name under which `StrategySettings::default_strategy` is registered when the configuration
/// does not define a strategy of that name (sessions default to it).
pub const DEFAULT_STRATEGY: &str = "default";

impl StrategySettings {
    /// The built-in `default` strategy, tuned for the simulator's pumps (a 2.5-7 % move over
    /// 10-40 s with 5-10x trade rate, 2-4x size and ~80 % taker buys): long when the last minute's
    /// volume is over 3x the 30-minute mean, price is up over 0.5 % in a minute and over 60 % of
    /// the volume is taker buys; out at +3 % / -1.5 % on margin or after 10 minutes.
    ///
    /// Note `volume_surge_5m` needs warm-up: no value before 60 s of trade history, and it can
    /// exceed 3 only once more than 3 minutes of history exist (see `indicators`).
    pub fn default_strategy() -> StrategySettings {
        StrategySettings {
            direction: Direction::Long,
            entry: EntrySettings {
                all: vec![
                    "volume_surge_5m > 3".into(),
                    "change_pct_1m > 0.5".into(),
                    "buy_ratio_1m > 0.6".into(),
                ],
            },
            exit: ExitSettings {
                any: vec![
                    "pnl_pct >= 3".into(),
                    "pnl_pct <= -1.5".into(),
                    "position_age_s > 600".into(),
                ],
            },
            cooldown_s: default_cooldown_s(),
            size_quote: default_size_quote(),
            leverage: default_leverage(),
            fee_bps: default_fee_bps(),
            slippage_bps: default_slippage_bps(),
        }
    }

    /// Numeric checks; the caller adds the strategy name.
    pub(crate) fn validate(&self, mmr: f64) -> Result<(), String> {
        if !(self.size_quote.is_finite() && self.size_quote > 0.0) {
            return Err(format!("size_quote must be > 0, got {}", self.size_quote));
        }
        if !(self.leverage.is_finite() && self.leverage >= 1.0) {
            return Err(format!("leverage must be >= 1, got {}", self.leverage));
        }
        if mmr >= 1.0 / self.leverage {
            return Err(format!(
                "leverage {} with maintenance margin rate {mmr} liquidates at entry",
                self.leverage
            ));
        }
        for (name, v) in [
            ("fee_bps", self.fee_bps),
            ("slippage_bps", self.slippage_bps),
        ] {
            if !(v.is_finite() && (0.0..10_000.0).contains(&v)) {
                return Err(format!("{name} must be in [0, 10000), got {v}"));
            }
        }
        if self.entry.all.is_empty() {
            return Err("entry.all is empty: a strategy needs at least one entry condition".into());
        }
        if self.exit.any.is_empty() {
            return Err("exit.any is empty: a strategy needs at least one exit condition".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_settings_defaults_and_unknown_keys() {
        let s: EngineSettings = toml::from_str("").unwrap();
        assert_eq!(s, EngineSettings::default());
        assert_eq!(s.stale_after_s, 60);
        assert_eq!(s.signal_history, 200);
        assert_eq!(s.contract_size_override("BTC_USDT"), None);
        assert!(toml::from_str::<EngineSettings>("stale_after = 3").is_err());
        let s: EngineSettings =
            toml::from_str("stale_after_s = 30\n[contract_sizes]\nBTC_USDT = 0.0001").unwrap();
        assert_eq!(s.stale_after_s, 30);
        assert_eq!(s.contract_size_override("BTC_USDT"), Some(0.0001));
    }

    #[test]
    fn strategy_settings_defaults_and_required_fields() {
        let s: StrategySettings =
            toml::from_str("entry.all = [\"change_pct_1m > 1\"]\nexit.any = [\"pnl_pct >= 2\"]")
                .unwrap();
        assert_eq!(s.direction, Direction::Long);
        assert_eq!(s.cooldown_s, 300);
        assert_eq!(s.size_quote, 100.0);
        assert_eq!(s.leverage, 5.0);
        assert_eq!(s.fee_bps, 6.0);
        assert_eq!(s.slippage_bps, 2.0);
        assert!(toml::from_str::<StrategySettings>("exit.any = [\"pnl_pct >= 2\"]").is_err());
        assert!(
            toml::from_str::<StrategySettings>(
                "direction = \"sideways\"\nentry.all = []\nexit.any = []"
            )
            .is_err()
        );
        assert!(
            toml::from_str::<StrategySettings>("entry.all = []\nexit.any = []\nlevrage = 3")
                .is_err()
        );
    }

    #[test]
    fn validation_names_the_field() {
        let mut s = StrategySettings::default_strategy();
        assert!(s.validate(0.005).is_ok());
        s.leverage = 0.5;
        assert!(s.validate(0.005).unwrap_err().contains("leverage"));
        s.leverage = 300.0;
        assert!(
            s.validate(0.005)
                .unwrap_err()
                .contains("liquidates at entry")
        );
        let mut e = EngineSettings::default();
        e.contract_sizes.insert("X".into(), f64::NAN);
        assert!(e.validate().unwrap_err().contains("contract_sizes.X"));
    }
}
