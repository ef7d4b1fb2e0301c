//! Paper order sizing against the contract specification: the strategy asks for a notional in
//! quote currency; the exchange trades whole volume steps of contracts, refuses orders under its
//! minimum and caps leverage. Without a specification the order is taken as configured (the
//! caller says so nowhere else, so the reason text does).
//!
//! contracts = floor(size_quote / (entry x contractSize) / volUnit) x volUnit, at most maxVol;
//! notional = contracts x contractSize x entry; leverage = min(configured, maxLeverage).

use trademon_core::market::ContractSpec;

use super::position::fill_price;
use super::settings::StrategySettings;

/// A sized order: the strategy settings with the notional and leverage the exchange would take.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub settings: StrategySettings,
    /// Contracts, when a specification sized it.
    pub contracts: Option<f64>,
    /// What was changed from the configuration, for the reason text.
    pub notes: Vec<String>,
}

/// Short decimal text: at most `digits` decimals, trailing zeros dropped.
fn num(v: f64, digits: usize) -> String {
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn round_to(v: f64, scale: u32) -> f64 {
    let f = 10f64.powi(scale as i32);
    (v * f).round() / f
}

/// Sizes an entry at `trade_price` (before slippage). `Err` says why no order is possible.
pub fn size(
    s: &StrategySettings,
    spec: Option<&ContractSpec>,
    mmr: f64,
    trade_price: f64,
) -> Result<Order, String> {
    let Some(spec) = spec else {
        if mmr >= 1.0 / s.leverage {
            return Err(format!(
                "leverage {}x with maintenance margin rate {}% liquidates at entry",
                num(s.leverage, 2),
                num(mmr * 100.0, 4)
            ));
        }
        return Ok(Order {
            settings: s.clone(),
            contracts: None,
            notes: vec!["no contract specification: sized as configured".into()],
        });
    };
    let mut notes = Vec::new();
    let mut leverage = s.leverage;
    if leverage > spec.max_leverage {
        leverage = spec.max_leverage;
        notes.push(format!(
            "leverage capped at {}x, the MEXC maximum for {}",
            num(leverage, 2),
            spec.symbol
        ));
    }
    if mmr >= 1.0 / leverage {
        return Err(format!(
            "leverage {}x with maintenance margin rate {}% liquidates at entry",
            num(leverage, 2),
            num(mmr * 100.0, 4)
        ));
    }
    let entry = fill_price(s.direction, trade_price, s.slippage_bps, true);
    let per_contract = entry * spec.contract_size;
    if !(per_contract.is_finite() && per_contract > 0.0) {
        return Err(format!("no usable entry price ({trade_price})"));
    }
    let raw = s.size_quote / per_contract;
    // The tolerance keeps an exact multiple (3 steps) from flooring to 2 through float noise.
    let steps = (raw / spec.vol_unit + 1e-9).floor();
    let mut contracts = round_to(steps * spec.vol_unit, spec.vol_scale);
    if contracts > spec.max_vol {
        contracts = round_to(
            (spec.max_vol / spec.vol_unit + 1e-9).floor() * spec.vol_unit,
            spec.vol_scale,
        );
        notes.push(format!(
            "size capped at {} contracts, the MEXC maximum",
            num(contracts, 8)
        ));
    }
    if contracts + 1e-12 < spec.min_vol || contracts <= 0.0 {
        return Err(format!(
            "{} quote at {} is {} contracts of {}, under the MEXC minimum of {} contracts",
            num(s.size_quote, 2),
            num(entry, 8),
            num(raw, 4),
            num(spec.contract_size, 10),
            num(spec.min_vol, 8)
        ));
    }
    let settings = StrategySettings {
        size_quote: contracts * per_contract,
        leverage,
        ..s.clone()
    };
    Ok(Order {
        settings,
        contracts: Some(contracts),
        notes,
    })
}

/// `3 contracts x 0.0001`, for reason texts.
pub fn describe(order: &Order, spec: Option<&ContractSpec>) -> String {
    let mut text = match (order.contracts, spec) {
        (Some(c), Some(spec)) => format!(
            "{} contracts x {}, notional {}, {}x",
            num(c, 8),
            num(spec.contract_size, 10),
            num(order.settings.size_quote, 2),
            num(order.settings.leverage, 2)
        ),
        _ => format!(
            "notional {}, {}x",
            num(order.settings.size_quote, 2),
            num(order.settings.leverage, 2)
        ),
    };
    for n in &order.notes {
        text.push_str("; ");
        text.push_str(n);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Direction, StrategySettings};

    fn spec(symbol: &str, contract_size: f64, vol_unit: f64, min_vol: f64) -> ContractSpec {
        ContractSpec {
            symbol: symbol.into(),
            contract_size,
            price_scale: 1,
            price_unit: 0.1,
            vol_scale: 0,
            vol_unit,
            min_vol,
            max_vol: 1_000_000.0,
            max_leverage: 200.0,
            maintenance_margin_rate: 0.004,
            state: 0,
        }
    }

    fn strategy(size_quote: f64, leverage: f64) -> StrategySettings {
        StrategySettings {
            size_quote,
            leverage,
            slippage_bps: 0.0,
            direction: Direction::Long,
            ..StrategySettings::default_strategy()
        }
    }

    #[test]
    fn rounds_down_to_the_volume_unit() {
        // 100 USDT of BTC at 95 000 with 0.0001 BTC per contract: 10.526 contracts -> 10.
        let btc = spec("BTC_USDT", 0.0001, 1.0, 1.0);
        let o = size(&strategy(100.0, 5.0), Some(&btc), 0.004, 95_000.0).unwrap();
        assert_eq!(o.contracts, Some(10.0));
        assert!((o.settings.size_quote - 95.0).abs() < 1e-9);
        assert_eq!(o.settings.leverage, 5.0);
        assert!(o.notes.is_empty());
        // A coarser step: 10 contracts per step -> 10.
        let step10 = spec("BTC_USDT", 0.0001, 10.0, 10.0);
        let o = size(&strategy(199.0, 5.0), Some(&step10), 0.004, 95_000.0).unwrap();
        assert_eq!(o.contracts, Some(20.0), "20.947 contracts -> 20");
        // An exact multiple stays whole despite float noise: 0.3 / 0.1 = 2.9999999999999996.
        let fine = ContractSpec {
            vol_scale: 1,
            ..spec("X_USDT", 1.0, 0.1, 0.1)
        };
        let o = size(&strategy(0.3, 5.0), Some(&fine), 0.004, 1.0).unwrap();
        assert_eq!(o.contracts, Some(0.3));
    }

    #[test]
    fn under_the_minimum_is_refused_with_the_numbers() {
        // PEPE: one contract is 10 000 000 PEPE = 120 USDT at 0.000012: 100 USDT buys 0.83.
        let pepe = spec("PEPE_USDT", 10_000_000.0, 1.0, 1.0);
        let err = size(&strategy(100.0, 5.0), Some(&pepe), 0.01, 0.000012).unwrap_err();
        assert!(
            err.contains("under the MEXC minimum of 1 contracts"),
            "{err}"
        );
        assert!(err.contains("0.8333 contracts"), "{err}");
        // 250 USDT buys 2.08 -> 2 contracts = 240 USDT.
        let o = size(&strategy(250.0, 5.0), Some(&pepe), 0.01, 0.000012).unwrap();
        assert_eq!(o.contracts, Some(2.0));
        assert!((o.settings.size_quote - 240.0).abs() < 1e-9);
    }

    #[test]
    fn leverage_is_capped_and_an_entry_liquidation_refused() {
        let mut s = spec("DOGE_USDT", 100.0, 1.0, 1.0);
        s.max_leverage = 20.0;
        let o = size(&strategy(100.0, 50.0), Some(&s), 0.01, 0.35).unwrap();
        assert_eq!(o.settings.leverage, 20.0);
        assert!(
            o.notes[0].contains("leverage capped at 20x"),
            "{:?}",
            o.notes
        );
        assert!(describe(&o, Some(&s)).contains("leverage capped"));
        // 20x with a 6 % maintenance rate liquidates at once.
        let err = size(&strategy(100.0, 50.0), Some(&s), 0.06, 0.35).unwrap_err();
        assert!(err.contains("liquidates at entry"), "{err}");
    }

    #[test]
    fn without_a_spec_the_order_is_as_configured_and_says_so() {
        let o = size(&strategy(100.0, 5.0), None, 0.005, 10.0).unwrap();
        assert_eq!(o.settings, strategy(100.0, 5.0));
        assert_eq!(o.contracts, None);
        assert!(describe(&o, None).contains("no contract specification"));
    }
}
