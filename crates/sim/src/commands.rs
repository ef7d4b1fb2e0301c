//! Client commands as the futures endpoint understands them: `{"method":..,"param":{..}}`.
//! Everything a client sends is untrusted; parsing never panics and anything unexpected is a
//! typed error the connection answers with silence, as MEXC does.

use serde::Deserialize;
use serde_json::Value;

/// Subscribable channels the simulator streams: every public futures channel MEXC documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Ticker,
    Deal,
    Tickers,
    Depth,
    DepthFull,
    Kline,
    FundingRate,
    IndexPrice,
    FairPrice,
}

impl Channel {
    pub const ALL: [Channel; 9] = [
        Channel::Ticker,
        Channel::Deal,
        Channel::Tickers,
        Channel::Depth,
        Channel::DepthFull,
        Channel::Kline,
        Channel::FundingRate,
        Channel::IndexPrice,
        Channel::FairPrice,
    ];

    fn from_name(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Channel::Ticker => "ticker",
            Channel::Deal => "deal",
            Channel::Tickers => "tickers",
            Channel::Depth => "depth",
            Channel::DepthFull => "depth.full",
            Channel::Kline => "kline",
            Channel::FundingRate => "funding.rate",
            Channel::IndexPrice => "index.price",
            Channel::FairPrice => "fair.price",
        }
    }
}

/// Methods MEXC's futures endpoint has that this simulator does not serve (the 2026 SDKs'
/// contract channels, whose payload is not documented, and the private ones). They are answered
/// with `rs.error` so a client learns at once instead of waiting for data.
const NOT_SIMULATED: [&str; 8] = [
    "sub.contract",
    "unsub.contract",
    "sub.event.contract",
    "unsub.event.contract",
    "login",
    "personal.filter",
    "sub.personal.filter",
    "unsub.personal.filter",
];

/// A `param` field other than `symbol`, kept as sent so a bad value can be refused as MEXC does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Arg {
    #[default]
    Missing,
    Text(String),
    Int(i64),
    /// Any other JSON value, as JSON text.
    Other(String),
}

impl Arg {
    fn of(v: Option<&Value>) -> Arg {
        match v {
            None | Some(Value::Null) => Arg::Missing,
            Some(Value::String(s)) => Arg::Text(s.clone()),
            Some(Value::Number(n)) => n.as_i64().map_or(Arg::Other(n.to_string()), Arg::Int),
            Some(other) => Arg::Other(other.to_string()),
        }
    }
}

/// The rest of `param`: `compress` (depth), `limit` (depth.full), `interval` (kline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubArgs {
    /// Merged frames unless `"compress": false` (MEXC's default since 2025-04-09).
    pub compress: bool,
    pub limit: Arg,
    pub interval: Arg,
}

impl Default for SubArgs {
    fn default() -> Self {
        SubArgs {
            compress: true,
            limit: Arg::Missing,
            interval: Arg::Missing,
        }
    }
}

/// The `param.symbol` a client sent, kept as written so errors can quote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SymbolArg {
    Missing,
    Text(String),
    /// Some other JSON value (number, object...), as JSON text.
    Other(String),
}

impl SymbolArg {
    /// What MEXC prints between the brackets of `Contract [..] not exists`.
    pub fn label(&self) -> &str {
        match self {
            SymbolArg::Missing => "null",
            SymbolArg::Text(s) | SymbolArg::Other(s) => s,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ping,
    Sub {
        channel: Channel,
        symbol: SymbolArg,
        args: SubArgs,
    },
    Unsub {
        channel: Channel,
        symbol: SymbolArg,
        args: SubArgs,
    },
    /// A real MEXC method the simulator does not serve.
    NotSimulated(String),
}

#[derive(Debug)]
pub enum ParseError {
    /// Not JSON, or JSON without a string `method`.
    Malformed(serde_json::Error),
    /// A well-formed command this simulator does not implement.
    UnknownMethod(String),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Malformed(e) => write!(f, "malformed command: {e}"),
            ParseError::UnknownMethod(m) => write!(f, "unknown method {m:?}"),
        }
    }
}

impl std::error::Error for ParseError {}

#[derive(Deserialize)]
struct Wire {
    method: String,
    // ccxt sends `params` for some commands and MEXC accepts it.
    #[serde(default, alias = "params")]
    param: Option<Value>,
}

pub fn parse(text: &str) -> Result<Command, ParseError> {
    let wire: Wire = serde_json::from_str(text).map_err(ParseError::Malformed)?;
    if wire.method == "ping" {
        return Ok(Command::Ping);
    }
    if NOT_SIMULATED.contains(&wire.method.as_str()) {
        return Ok(Command::NotSimulated(wire.method));
    }
    let param = wire.param.as_ref();
    let symbol = match param.and_then(|p| p.get("symbol")) {
        None | Some(Value::Null) => SymbolArg::Missing,
        Some(Value::String(s)) => SymbolArg::Text(s.clone()),
        Some(other) => SymbolArg::Other(other.to_string()),
    };
    let args = SubArgs {
        compress: param
            .and_then(|p| p.get("compress"))
            .and_then(Value::as_bool)
            .unwrap_or(true),
        limit: Arg::of(param.and_then(|p| p.get("limit"))),
        interval: Arg::of(param.and_then(|p| p.get("interval"))),
    };
    let (verb, name) = wire
        .method
        .split_once('.')
        .ok_or_else(|| ParseError::UnknownMethod(wire.method.clone()))?;
    let channel =
        Channel::from_name(name).ok_or_else(|| ParseError::UnknownMethod(wire.method.clone()))?;
    match verb {
        "sub" => Ok(Command::Sub {
            channel,
            symbol,
            args,
        }),
        // The docs misspell it `usub.depth.full`; SDKs send `unsub`.
        "unsub" | "usub" => Ok(Command::Unsub {
            channel,
            symbol,
            args,
        }),
        _ => Err(ParseError::UnknownMethod(wire.method)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_commands_we_serve() {
        assert_eq!(parse(r#"{"method":"ping"}"#).unwrap(), Command::Ping);
        assert_eq!(
            parse(r#"{"method":"sub.deal","param":{"symbol":"BTC_USDT"},"gzip":false}"#).unwrap(),
            Command::Sub {
                channel: Channel::Deal,
                symbol: SymbolArg::Text("BTC_USDT".into()),
                args: SubArgs::default(),
            }
        );
        assert_eq!(
            parse(r#"{"method":"sub.tickers","params":{}}"#).unwrap(),
            Command::Sub {
                channel: Channel::Tickers,
                symbol: SymbolArg::Missing,
                args: SubArgs::default(),
            }
        );
        assert_eq!(
            parse(r#"{"method":"unsub.ticker","param":{"symbol":5}}"#).unwrap(),
            Command::Unsub {
                channel: Channel::Ticker,
                symbol: SymbolArg::Other("5".into()),
                args: SubArgs::default(),
            }
        );
    }

    #[test]
    fn parses_the_market_data_channels_and_their_params() {
        let sub = |text: &str| match parse(text).unwrap() {
            Command::Sub {
                channel,
                symbol,
                args,
            } => (channel, symbol, args),
            other => panic!("{other:?}"),
        };
        let (c, s, a) =
            sub(r#"{"method":"sub.depth","param":{"symbol":"BTC_USDT","compress":false}}"#);
        assert_eq!((c, s), (Channel::Depth, SymbolArg::Text("BTC_USDT".into())));
        assert!(!a.compress);
        let (c, _, a) =
            sub(r#"{"method":"sub.depth.full","param":{"symbol":"BTC_USDT","limit":5}}"#);
        assert_eq!(
            (c, a.limit, a.compress),
            (Channel::DepthFull, Arg::Int(5), true)
        );
        let (_, _, a) = sub(r#"{"method":"sub.depth.full","param":{"symbol":"X","limit":"5"}}"#);
        assert_eq!(a.limit, Arg::Text("5".into()));
        let (c, _, a) =
            sub(r#"{"method":"sub.kline","param":{"symbol":"BTC_USDT","interval":"Min60"}}"#);
        assert_eq!((c, a.interval), (Channel::Kline, Arg::Text("Min60".into())));
        let (_, _, a) = sub(r#"{"method":"sub.kline","param":{"symbol":"X","interval":1.5}}"#);
        assert_eq!(a.interval, Arg::Other("1.5".into()));
        for (name, channel) in [
            ("funding.rate", Channel::FundingRate),
            ("index.price", Channel::IndexPrice),
            ("fair.price", Channel::FairPrice),
        ] {
            let text = format!(r#"{{"method":"sub.{name}","param":{{"symbol":"BTC_USDT"}}}}"#);
            assert_eq!(sub(&text).0, channel);
        }
        assert!(matches!(
            parse(r#"{"method":"usub.depth.full","param":{"symbol":"X"}}"#).unwrap(),
            Command::Unsub {
                channel: Channel::DepthFull,
                ..
            }
        ));
        for method in ["sub.contract", "sub.event.contract", "login"] {
            let text = format!(r#"{{"method":"{method}","param":{{}}}}"#);
            assert_eq!(parse(&text).unwrap(), Command::NotSimulated(method.into()));
        }
    }

    #[test]
    fn garbage_and_unknown_methods_are_errors_not_panics() {
        for text in [
            "",
            "ping",
            "{",
            r#"{"op":"ping"}"#,
            r#"{"method":7}"#,
            r#"{"method":"sub.depth.nope","param":{"symbol":"BTC_USDT"}}"#,
            r#"{"method":"sub.liquidation","param":{"symbol":"BTC_USDT"}}"#,
            r#"{"method":"subscribe"}"#,
            r#"{"method":"PING"}"#,
            "[1,2]",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
    }
}
