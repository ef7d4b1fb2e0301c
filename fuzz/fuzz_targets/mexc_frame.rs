//! Bytes -> the MEXC adapter's frame parsing (`wire::parse_frame` for text frames,
//! `wire::decode_binary` for binary ones). Invariants: never panics; every price the parser
//! lets through is finite (a NaN/inf would poison the hub's conflated state and the UI), and
//! a depth frame's range and levels are ones the book can apply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trademon::exchange::mexc::wire::{Inbound, decode_binary, parse_frame, refused_contract};

fuzz_target!(|data: &[u8]| {
    let _ = decode_binary(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = refused_contract(text);
    match parse_frame(text) {
        Ok(Inbound::Ticker(t)) => {
            assert!(t.last.is_finite(), "last {:?}", t.last);
            for v in [
                t.bid,
                t.ask,
                t.change_pct,
                t.volume_24h,
                t.fair_price,
                t.index_price,
                t.funding_rate,
                t.high_24h,
                t.low_24h,
                t.open_interest,
            ]
            .into_iter()
            .flatten()
            {
                assert!(v.is_finite(), "non-finite field in {t:?}");
            }
        }
        Ok(Inbound::Deals { trades, .. }) => {
            for tr in trades {
                assert!(tr.price.is_finite() && tr.contracts.is_finite(), "{tr:?}");
            }
        }
        Ok(Inbound::Kline { candle: c, .. }) => {
            let values = [c.open, c.high, c.low, c.close, c.volume, c.amount];
            assert!(values.iter().all(|v| v.is_finite()), "{c:?}");
        }
        Ok(Inbound::Depth { delta, .. }) => {
            assert!(delta.begin <= delta.end, "{delta:?}");
            for l in delta.bids.iter().chain(&delta.asks) {
                assert!(l.price.is_finite() && l.price > 0.0 && l.contracts.is_finite() && l.contracts >= 0.0, "{l:?}");
            }
        }
        Ok(Inbound::DepthFull { snapshot, .. }) => {
            for l in snapshot.bids.iter().chain(&snapshot.asks) {
                assert!(l.price.is_finite() && l.contracts.is_finite(), "{l:?}");
            }
        }
        Ok(Inbound::Funding { rate, .. }) => assert!(rate.is_finite(), "{rate}"),
        Ok(_) => {}
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
