//! Client commands as the futures endpoint understands them: `{"method":..,"param":{..}}`.
//! Everything a client sends is untrusted; parsing never panics and anything unexpected is a
//! typed error the connection answers with silence, as MEXC does.

use serde::Deserialize;
use serde_json::Value;

/// Subscribable channels the simulator streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Ticker,
    Deal,
    Tickers,
}

impl Channel {
    fn from_name(name: &str) -> Option<Channel> {
        match name {
            "ticker" => Some(Channel::Ticker),
            "deal" => Some(Channel::Deal),
            "tickers" => Some(Channel::Tickers),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Channel::Ticker => "ticker",
            Channel::Deal => "deal",
            Channel::Tickers => "tickers",
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
    Sub { channel: Channel, symbol: SymbolArg },
    Unsub { channel: Channel, symbol: SymbolArg },
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
    let symbol = match wire.param.as_ref().and_then(|p| p.get("symbol")) {
        None | Some(Value::Null) => SymbolArg::Missing,
        Some(Value::String(s)) => SymbolArg::Text(s.clone()),
        Some(other) => SymbolArg::Other(other.to_string()),
    };
    let (verb, name) = wire
        .method
        .split_once('.')
        .ok_or_else(|| ParseError::UnknownMethod(wire.method.clone()))?;
    let channel =
        Channel::from_name(name).ok_or_else(|| ParseError::UnknownMethod(wire.method.clone()))?;
    match verb {
        "sub" => Ok(Command::Sub { channel, symbol }),
        "unsub" => Ok(Command::Unsub { channel, symbol }),
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
                symbol: SymbolArg::Text("BTC_USDT".into())
            }
        );
        assert_eq!(
            parse(r#"{"method":"sub.tickers","params":{}}"#).unwrap(),
            Command::Sub {
                channel: Channel::Tickers,
                symbol: SymbolArg::Missing
            }
        );
        assert_eq!(
            parse(r#"{"method":"unsub.ticker","param":{"symbol":5}}"#).unwrap(),
            Command::Unsub {
                channel: Channel::Ticker,
                symbol: SymbolArg::Other("5".into())
            }
        );
    }

    #[test]
    fn garbage_and_unknown_methods_are_errors_not_panics() {
        for text in [
            "",
            "ping",
            "{",
            r#"{"op":"ping"}"#,
            r#"{"method":7}"#,
            r#"{"method":"sub.depth","param":{"symbol":"BTC_USDT"}}"#,
            r#"{"method":"subscribe"}"#,
            r#"{"method":"PING"}"#,
            "[1,2]",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
    }
}
