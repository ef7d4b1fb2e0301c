//! Bytes -> the backend's client-frame parser (`protocol::parse_client_frame`, the function
//! the connection reader calls). Invariants: never panics; a parsed message survives a
//! serde round trip unchanged (what the client sends is what the backend reads).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trademon::protocol::{ClientMsg, parse_client_frame};

fuzz_target!(|data: &[u8]| {
    // tungstenite rejects non-UTF-8 text frames before the parser (close 1007), so only
    // valid UTF-8 can reach it.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_client_frame(text) {
        Ok(msg) => {
            let again = serde_json::to_string(&msg).expect("a parsed ClientMsg serializes");
            let back: ClientMsg = parse_client_frame(&again).expect("own output parses");
            assert_eq!(back, msg, "round trip changed {text:?}");
        }
        // The error text goes into the error reply; building it must not panic either.
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
