//! Which streams a fault applies to: `"BTC_USDT"`, `"deal:BTC_USDT"`, `"ticker:*"` or `"*"`.
//!
//! A string form keeps the control API's JSON short (`{"stall":["deal:BTC_USDT"]}`) and curl
//! friendly; parsing validates the channel so a typo is refused instead of silently matching
//! nothing.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Channels a selector may name (the ones the simulator streams).
const CHANNELS: [&str; 9] = [
    "ticker",
    "deal",
    "tickers",
    "depth",
    "depth.full",
    "kline",
    "funding.rate",
    "index.price",
    "fair.price",
];

/// `[channel:]symbol`, either part `*` for "any". A bare symbol means every channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Selector {
    channel: Option<String>,
    symbol: Option<String>,
}

impl Selector {
    /// Every stream of every symbol.
    pub fn all() -> Selector {
        Selector {
            channel: None,
            symbol: None,
        }
    }

    /// Does this selector cover `channel` for `symbol`? Streams without a symbol
    /// (`push.tickers`) are only covered by a `*` symbol.
    pub fn matches(&self, channel: &str, symbol: Option<&str>) -> bool {
        let channel_ok = self.channel.as_deref().is_none_or(|c| c == channel);
        let symbol_ok = match (&self.symbol, symbol) {
            (None, _) => true,
            (Some(want), Some(have)) => want == have,
            (Some(_), None) => false,
        };
        channel_ok && symbol_ok
    }
}

/// True when any selector in `list` covers the stream.
pub fn any_matches(list: &[Selector], channel: &str, symbol: Option<&str>) -> bool {
    list.iter().any(|s| s.matches(channel, symbol))
}

impl std::str::FromStr for Selector {
    type Err = String;

    fn from_str(text: &str) -> Result<Selector, String> {
        let (channel, symbol) = match text.split_once(':') {
            Some((c, s)) => (c.trim(), s.trim()),
            None => ("*", text.trim()),
        };
        if symbol.is_empty() {
            return Err(format!(
                "selector {text:?}: empty symbol (use \"*\" for all)"
            ));
        }
        let channel = match channel {
            "*" => None,
            c if CHANNELS.contains(&c) => Some(c.to_string()),
            c => {
                return Err(format!(
                    "selector {text:?}: unknown channel {c:?} (one of {CHANNELS:?} or \"*\")"
                ));
            }
        };
        let symbol = (symbol != "*").then(|| symbol.to_string());
        Ok(Selector { channel, symbol })
    }
}

impl TryFrom<String> for Selector {
    type Error = String;
    fn try_from(text: String) -> Result<Selector, String> {
        text.parse()
    }
}

impl From<Selector> for String {
    fn from(s: Selector) -> String {
        s.to_string()
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let symbol = self.symbol.as_deref().unwrap_or("*");
        match &self.channel {
            Some(c) => write!(f, "{c}:{symbol}"),
            None => f.write_str(symbol),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(s: &str) -> Selector {
        s.parse().unwrap()
    }

    #[test]
    fn forms_and_matching() {
        assert!(sel("BTC_USDT").matches("deal", Some("BTC_USDT")));
        assert!(sel("BTC_USDT").matches("ticker", Some("BTC_USDT")));
        assert!(!sel("BTC_USDT").matches("deal", Some("ETH_USDT")));
        assert!(!sel("BTC_USDT").matches("tickers", None));
        assert!(sel("deal:BTC_USDT").matches("deal", Some("BTC_USDT")));
        assert!(!sel("deal:BTC_USDT").matches("ticker", Some("BTC_USDT")));
        assert!(sel("ticker:*").matches("ticker", Some("ETH_USDT")));
        assert!(sel("*").matches("tickers", None));
        assert!(sel("tickers:*").matches("tickers", None));
        assert_eq!(Selector::all(), sel("*"));
    }

    #[test]
    fn round_trips_and_refuses_typos() {
        for s in ["*", "BTC_USDT", "deal:BTC_USDT", "ticker:*"] {
            assert_eq!(sel(s).to_string(), s);
        }
        assert!("liquidation:BTC_USDT".parse::<Selector>().is_err());
        assert!(sel("depth.full:BTC_USDT").matches("depth.full", Some("BTC_USDT")));
        assert!(!sel("depth:BTC_USDT").matches("depth.full", Some("BTC_USDT")));
        assert!("deal:".parse::<Selector>().is_err());
        assert!("".parse::<Selector>().is_err());
        let v: Vec<Selector> = serde_json::from_str(r#"["deal:X","*"]"#).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"["deal:X","*"]"#);
    }
}
