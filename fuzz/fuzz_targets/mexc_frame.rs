//! Bytes -> the MEXC adapter's frame parsing (`wire::parse_frame` for text frames,
//! `wire::decode_binary` for binary ones). Invariants: never panics; every price the parser
//! lets through is finite (a NaN/inf would poison the hub's conflated state and the UI).
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
        Ok(_) => {}
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
