//! Every problem `Engine::new` would refuse, all at once and each with the config key it is
//! about, for `config --check` and for start (which runs the same check before building).
//! Pure: parses and validates, builds nothing.

use std::collections::BTreeMap;

use super::settings::{EngineSettings, StrategySettings};
use super::{EngineError, condition};

/// One refused value: the config key (`engine`, `strategies.quick`,
/// `strategies.quick.entry.all[1]`) and the engine's reason.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsProblem {
    pub key: String,
    pub error: EngineError,
}

/// Everything wrong with `[engine]` and `[strategies.*]`; empty when `Engine::new` would
/// accept them (the caller still builds the engine afterwards, so a check added to
/// `Engine::new` alone can never be skipped).
pub fn check_settings(
    settings: &EngineSettings,
    strategies: &BTreeMap<String, StrategySettings>,
) -> Vec<SettingsProblem> {
    let mut out = Vec::new();
    if let Err(m) = settings.validate() {
        out.push(SettingsProblem {
            key: "engine".into(),
            error: EngineError::Settings(m),
        });
    }
    let mmr = settings.maintenance_margin_rate;
    for (name, s) in strategies {
        if let Err(message) = s.validate(mmr) {
            out.push(SettingsProblem {
                key: format!("strategies.{name}"),
                error: EngineError::Strategy {
                    strategy: name.clone(),
                    message,
                },
            });
        }
        let lists = [
            ("entry.all", &s.entry.all, false),
            ("exit.any", &s.exit.any, true),
        ];
        for (list, exprs, allow_position) in lists {
            for (i, expr) in exprs.iter().enumerate() {
                if let Err(problem) = condition::parse(expr, allow_position) {
                    out.push(SettingsProblem {
                        key: format!("strategies.{name}.{list}[{i}]"),
                        error: EngineError::Condition {
                            strategy: name.clone(),
                            expression: expr.clone(),
                            problem,
                        },
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_condition_of_every_strategy_is_reported_with_its_key() {
        let mut a = StrategySettings::default_strategy();
        a.entry.all = vec!["lsat > 1".into(), "change_pct_1m > 0.5".into(), "x".into()];
        let mut b = StrategySettings::default_strategy();
        b.exit.any = vec!["pnl_pct >= 3".into(), "nope_5m < 2".into()];
        b.leverage = 0.0;
        let strategies = BTreeMap::from([("a".to_string(), a), ("b".to_string(), b)]);
        let keys: Vec<String> = check_settings(&EngineSettings::default(), &strategies)
            .into_iter()
            .map(|p| p.key)
            .collect();
        assert_eq!(
            keys,
            [
                "strategies.a.entry.all[0]",
                "strategies.a.entry.all[2]",
                "strategies.b",
                "strategies.b.exit.any[1]",
            ]
        );
    }

    #[test]
    fn position_operands_only_in_exit_lists() {
        let mut a = StrategySettings::default_strategy();
        a.entry.all = vec!["pnl_pct > 1".into()];
        let strategies = BTreeMap::from([("a".to_string(), a)]);
        let problems = check_settings(&EngineSettings::default(), &strategies);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].error.to_string().contains("pnl_pct"));
    }
}
