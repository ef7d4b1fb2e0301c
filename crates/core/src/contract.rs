//! Contract specifications: what one futures contract is on the exchange (size, price and
//! volume steps, limits, margin rate, trading state). The MEXC adapter loads them
//! (`mexc::contracts`), the engine sizes paper orders and volumes with them, the backend takes
//! price decimals from them.

use serde::{Deserialize, Serialize};

/// One contract as the exchange specifies it (`GET /api/v1/contract/detail` on MEXC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContractSpec {
    pub symbol: String,
    /// Base-currency amount of one contract (`contractSize`); sizes on MEXC are in contracts.
    pub contract_size: f64,
    /// Price decimals (`priceScale`).
    pub price_scale: u32,
    /// Price step (`priceUnit`).
    pub price_unit: f64,
    /// Volume decimals (`volScale`), in contracts.
    pub vol_scale: u32,
    /// Volume step in contracts (`volUnit`): order sizes are multiples of it.
    pub vol_unit: f64,
    /// Smallest order in contracts (`minVol`).
    pub min_vol: f64,
    /// Largest order in contracts (`maxVol`).
    pub max_vol: f64,
    /// Highest leverage the exchange allows (`maxLeverage`).
    pub max_leverage: f64,
    /// Maintenance margin rate of the first risk tier (`maintenanceMarginRate`).
    pub maintenance_margin_rate: f64,
    /// Trading state (`state`): 0 enabled; 1 delivering, 2 delivered, 3 offline, 4 paused.
    pub state: i64,
}

/// The reason shown for a contract the exchange does not list.
pub const NOT_LISTED: &str = "not listed on MEXC";

impl ContractSpec {
    /// Why the contract cannot be traded now (`None`: enabled).
    pub fn not_tradable(&self) -> Option<String> {
        let what = match self.state {
            0 => return None,
            1 => "delivering",
            2 => "delivered",
            3 => "offline",
            4 => "paused",
            _ => "unknown state",
        };
        Some(format!(
            "not tradable on MEXC: {what} (state {})",
            self.state
        ))
    }

    /// Checks the numbers a sizing or volume computation relies on.
    pub fn validate(&self) -> Result<(), ContractError> {
        let symbol = || self.symbol.clone();
        let positive = |field: &'static str, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err(ContractError::NotPositive {
                    symbol: symbol(),
                    field,
                    value,
                })
            }
        };
        positive("contractSize", self.contract_size)?;
        positive("priceUnit", self.price_unit)?;
        positive("volUnit", self.vol_unit)?;
        positive("minVol", self.min_vol)?;
        positive("maxVol", self.max_vol)?;
        if !(self.max_leverage.is_finite() && self.max_leverage >= 1.0) {
            return Err(ContractError::MaxLeverage {
                symbol: symbol(),
                value: self.max_leverage,
            });
        }
        let mmr = self.maintenance_margin_rate;
        if !(mmr.is_finite() && (0.0..1.0).contains(&mmr)) {
            return Err(ContractError::MaintenanceMarginRate {
                symbol: symbol(),
                value: mmr,
            });
        }
        if self.price_scale > 18 || self.vol_scale > 18 {
            return Err(ContractError::Scale {
                symbol: symbol(),
                price_scale: self.price_scale,
                vol_scale: self.vol_scale,
            });
        }
        if self.min_vol > self.max_vol {
            return Err(ContractError::MinAboveMax {
                symbol: symbol(),
                min_vol: self.min_vol,
                max_vol: self.max_vol,
            });
        }
        Ok(())
    }
}

/// Why a contract's numbers cannot be used for sizing or volumes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ContractError {
    #[error("{symbol}: {field} must be a positive number, got {value}")]
    NotPositive {
        symbol: String,
        field: &'static str,
        value: f64,
    },
    #[error("{symbol}: maxLeverage must be at least 1, got {value}")]
    MaxLeverage { symbol: String, value: f64 },
    #[error("{symbol}: maintenanceMarginRate must be in [0, 1), got {value}")]
    MaintenanceMarginRate { symbol: String, value: f64 },
    #[error("{symbol}: priceScale {price_scale} / volScale {vol_scale} beyond 18 decimals")]
    Scale {
        symbol: String,
        price_scale: u32,
        vol_scale: u32,
    },
    #[error("{symbol}: minVol {min_vol} above maxVol {max_vol}")]
    MinAboveMax {
        symbol: String,
        min_vol: f64,
        max_vol: f64,
    },
}

/// New knowledge about contracts, from the exchange or the cache of its last answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContractUpdate {
    pub specs: Vec<ContractSpec>,
    /// Symbols the exchange says it does not list, with the reason to show.
    pub unlisted: Vec<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn spec(symbol: &str) -> ContractSpec {
        ContractSpec {
            symbol: symbol.into(),
            contract_size: 0.0001,
            price_scale: 1,
            price_unit: 0.1,
            vol_scale: 0,
            vol_unit: 1.0,
            min_vol: 1.0,
            max_vol: 1_000_000.0,
            max_leverage: 125.0,
            maintenance_margin_rate: 0.004,
            state: 0,
        }
    }

    #[test]
    fn state_other_than_enabled_is_not_tradable_with_the_reason() {
        let mut s = spec("BTC_USDT");
        assert_eq!(s.not_tradable(), None);
        s.state = 3;
        assert_eq!(
            s.not_tradable().as_deref(),
            Some("not tradable on MEXC: offline (state 3)")
        );
        s.state = 9;
        assert!(
            s.not_tradable()
                .unwrap()
                .contains("unknown state (state 9)")
        );
    }

    #[test]
    fn validation_names_the_field() {
        assert_eq!(spec("A_USDT").validate(), Ok(()));
        let mut s = spec("A_USDT");
        s.contract_size = 0.0;
        assert!(matches!(
            s.validate(),
            Err(ContractError::NotPositive {
                field: "contractSize",
                ..
            })
        ));
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("contractSize")
        );
        let mut s = spec("A_USDT");
        s.maintenance_margin_rate = 1.5;
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("maintenanceMarginRate")
        );
        let mut s = spec("A_USDT");
        s.max_leverage = f64::NAN;
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("maxLeverage")
        );
        let mut s = spec("A_USDT");
        s.min_vol = 10.0;
        s.max_vol = 5.0;
        assert!(s.validate().unwrap_err().to_string().contains("minVol"));
    }
}
