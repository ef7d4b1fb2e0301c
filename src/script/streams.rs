//! Which streams `trademon watch` can follow, and the `--stream` list parser.
//!
//! Every stream of the protocol's closed set except the symbol view's (`candles`, `book`,
//! `tape`): those are per symbol and cost upstream subscriptions, which a watch over all
//! sessions should not open.

use trademon_protocol::StreamName;

/// What `--stream` means when it is not given.
pub const DEFAULT_STREAMS: &str = "signals,positions";

/// The streams `watch` follows, in the protocol's order.
pub fn watchable() -> impl Iterator<Item = StreamName> {
    StreamName::ALL.into_iter().filter(|s| !s.is_per_symbol())
}

fn valid_list() -> String {
    watchable()
        .map(StreamName::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One `--stream` item (clap splits the list at commas). The error names the valid streams.
pub fn parse_stream(item: &str) -> Result<StreamName, String> {
    let name = item.trim();
    match StreamName::parse(name) {
        Some(s) if !s.is_per_symbol() => Ok(s),
        Some(_) => Err(format!(
            "stream {name:?} is per symbol (the symbol view's); watch follows: {}",
            valid_list()
        )),
        None => Err(format!(
            "unknown stream {name:?}; valid streams: {}",
            valid_list()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_mistakes_list_the_valid_streams() {
        assert_eq!(parse_stream("signals"), Ok(StreamName::Signals));
        assert_eq!(parse_stream(" positions "), Ok(StreamName::Positions));
        let e = parse_stream("signal").unwrap_err();
        assert!(e.contains("unknown stream \"signal\""), "{e}");
        assert!(
            e.contains("sessions, market_data, state_machines, health, events, indicators, conditions, signals, positions"),
            "{e}"
        );
        let e = parse_stream("book").unwrap_err();
        assert!(e.contains("per symbol"), "{e}");
        assert!(!e.contains("book,"), "{e}");
        assert!(parse_stream("").is_err());
    }

    #[test]
    fn the_default_list_parses() {
        let d: Vec<_> = DEFAULT_STREAMS.split(',').map(parse_stream).collect();
        assert_eq!(d, vec![Ok(StreamName::Signals), Ok(StreamName::Positions)]);
    }
}
