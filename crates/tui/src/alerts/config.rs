//! `[alerts]` in the config file (docs/config.md): what each kind of alert does, the hook
//! command and its limits, the bell's rate limit and the liquidation-risk distance.

use super::AlertKind;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Shell command run (`sh -c`) for each alert of a kind with `hook = true`, the alert as
    /// one JSON object on stdin; empty: no hook.
    pub command: String,
    /// A hook still running after this long is killed with its process group.
    pub command_timeout_ms: u64,
    /// Hooks running at once at most; an alert beyond that runs no hook (logged).
    pub max_commands: usize,
    /// At most one bell per this interval, however many alerts arrive.
    pub bell_min_interval_ms: u64,
    /// Banners waiting to be acknowledged at most; the oldest go first.
    pub banner_max: usize,
    /// A paper position whose mark is within this many percent of its liquidation price.
    pub liquidation_risk_pct: f64,
    pub signal: KindConfig,
    pub fill: KindConfig,
    pub liquidation_risk: KindConfig,
    pub liquidation: KindConfig,
    pub link_lost: KindConfig,
    pub data_stale: KindConfig,
}

/// What one kind of alert does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindConfig {
    /// Ring the terminal bell (BEL, subject to `bell_min_interval_ms`).
    pub bell: bool,
    /// Show a banner at the top of the screen until acknowledged.
    pub banner: bool,
    /// Run `alerts.command` (when set).
    pub hook: bool,
}

impl AlertsConfig {
    pub fn kind(&self, kind: AlertKind) -> KindConfig {
        match kind {
            AlertKind::Signal => self.signal,
            AlertKind::Fill => self.fill,
            AlertKind::LiquidationRisk => self.liquidation_risk,
            AlertKind::Liquidation => self.liquidation,
            AlertKind::LinkLost => self.link_lost,
            AlertKind::DataStale => self.data_stale,
        }
    }

    /// Whether any alert can run the hook.
    pub fn has_hook(&self) -> bool {
        !self.command.trim().is_empty()
    }

    /// Every value that cannot work, as (key, message); `config --check` and start report them.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.command_timeout_ms == 0 {
            out.push((
                "alerts.command_timeout_ms",
                "alerts.command_timeout_ms must be above 0".to_string(),
            ));
        }
        if self.max_commands == 0 {
            out.push((
                "alerts.max_commands",
                "alerts.max_commands must be at least 1 (set alerts.command = \"\" for no hook)"
                    .to_string(),
            ));
        }
        if self.banner_max == 0 {
            out.push((
                "alerts.banner_max",
                "alerts.banner_max must be at least 1".to_string(),
            ));
        }
        if !(self.liquidation_risk_pct.is_finite() && self.liquidation_risk_pct > 0.0) {
            out.push((
                "alerts.liquidation_risk_pct",
                format!(
                    "alerts.liquidation_risk_pct ({}) must be a number above 0",
                    self.liquidation_risk_pct
                ),
            ));
        }
        out
    }
}

/// `[alerts]` as the shipped defaults have it (tests; the binary reads the whole config).
pub fn defaults() -> AlertsConfig {
    let all: toml::Table = toml::from_str(include_str!("../../../../assets/default-config.toml"))
        .unwrap_or_else(|e| panic!("defaults: {e}"));
    let section = all
        .get("alerts")
        .cloned()
        .unwrap_or_else(|| panic!("assets/default-config.toml has no [alerts]"));
    section
        .try_into()
        .unwrap_or_else(|e| panic!("assets/default-config.toml [alerts]: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_pass_the_checks() {
        let cfg = defaults();
        assert!(cfg.problems().is_empty(), "{:?}", cfg.problems());
        assert!(!cfg.has_hook(), "no hook unless configured");
        // Bell and banner where a trader must act; a stale feed only shows.
        for kind in [
            AlertKind::Signal,
            AlertKind::Fill,
            AlertKind::LiquidationRisk,
            AlertKind::Liquidation,
            AlertKind::LinkLost,
        ] {
            let k = cfg.kind(kind);
            assert!(k.bell && k.banner, "{kind:?}");
        }
        let stale = cfg.kind(AlertKind::DataStale);
        assert!(!stale.bell && stale.banner);
    }

    #[test]
    fn bad_values_are_named() {
        let mut cfg = defaults();
        cfg.command_timeout_ms = 0;
        cfg.max_commands = 0;
        cfg.liquidation_risk_pct = f64::NAN;
        let keys: Vec<_> = cfg.problems().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "alerts.command_timeout_ms",
                "alerts.max_commands",
                "alerts.liquidation_risk_pct"
            ]
        );
    }
}
