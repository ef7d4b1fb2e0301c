//! Property tests of the three parsers at trademon's doors, the same ones the cargo-fuzz
//! targets in `fuzz/` hammer (docs/fuzzing.md): client frames (`protocol::parse_client_frame`),
//! MEXC frames (`exchange::mexc::wire::parse_frame`) and config (`Config::from_layers` +
//! `validate`). These run in CI; case counts are kept modest so the whole file takes a few
//! seconds. Regressions found by fuzzing are pinned as plain tests at the bottom.

use proptest::prelude::*;
use proptest::test_runner::Config as PtConfig;
use serde_json::{Value, json};
use std::path::Path;
use trademon::config::{Config, DEFAULTS_TOML};
use trademon::exchange::Side;
use trademon::exchange::mexc::wire::{Inbound, parse_frame};
use trademon::protocol::{ClientMsg, HistoryQuery, Interval, parse_client_frame};

fn cases(n: u32) -> PtConfig {
    PtConfig {
        cases: n,
        // Shrinking is for humans at a desk; in CI a failure prints the seed.
        max_shrink_iters: 256,
        ..PtConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Client frames
// ---------------------------------------------------------------------------------------------

fn text() -> impl Strategy<Value = String> + Clone {
    // Any Unicode, including escapes-worthy control chars and astral planes.
    prop_oneof![any::<String>(), "[a-z_]{0,16}", Just(String::new())]
}

fn client_msg() -> impl Strategy<Value = ClientMsg> {
    let session = proptest::option::of(text());
    prop_oneof![
        (any::<u32>(), text()).prop_map(|(protocol, client)| ClientMsg::Hello { protocol, client }),
        (any::<u64>(), text(), session.clone()).prop_map(|(id, stream, session_id)| {
            ClientMsg::Subscribe {
                interval: None,
                symbol: None,
                id,
                stream,
                session_id,
            }
        }),
        (any::<u64>(), text(), session).prop_map(|(id, stream, session_id)| {
            ClientMsg::Unsubscribe {
                interval: None,
                symbol: None,
                id,
                stream,
                session_id,
            }
        }),
        any::<u64>().prop_map(|id| ClientMsg::Ping { id }),
        (any::<u64>(), text())
            .prop_map(|(id, session_id)| ClientMsg::StartSession { id, session_id }),
        (any::<u64>(), text())
            .prop_map(|(id, session_id)| ClientMsg::StopSession { id, session_id }),
        (any::<u64>(), text())
            .prop_map(|(id, session_id)| ClientMsg::PauseStrategy { id, session_id }),
        (any::<u64>(), text())
            .prop_map(|(id, session_id)| ClientMsg::ResumeStrategy { id, session_id }),
        (any::<u64>(), text(), text()).prop_map(|(id, session_id, symbol)| {
            ClientMsg::ClosePosition {
                id,
                session_id,
                symbol,
            }
        }),
        (
            any::<u64>(),
            text(),
            proptest::option::of(text()),
            text(),
            proptest::collection::vec(text(), 0..4),
        )
            .prop_map(|(id, session_id, name, strategy, symbols)| {
                ClientMsg::CreateSession {
                    id,
                    session_id,
                    name,
                    strategy,
                    symbols,
                }
            }),
        (
            any::<u64>(),
            history_query(),
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of(any::<u32>()),
        )
            .prop_map(
                |(id, query, session_id, symbol, limit)| ClientMsg::History {
                    id,
                    query,
                    session_id,
                    symbol,
                    limit,
                }
            ),
    ]
}

fn history_query() -> impl Strategy<Value = HistoryQuery> {
    prop_oneof![
        Just(HistoryQuery::Sessions),
        Just(HistoryQuery::Session),
        Just(HistoryQuery::Signals),
        Just(HistoryQuery::Transitions),
    ]
}

/// JSON-looking junk: right keys, wrong types and values, so the parser gets past `{`.
fn client_junk() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        Just("null".to_string()),
        Just("-1".to_string()),
        Just("1.5".to_string()),
        Just("1e400".to_string()),
        Just("18446744073709551616".to_string()),
        Just("\"\\ud800\"".to_string()),
        Just("[[[[[[]]]]]]".to_string()),
        "[0-9]{1,25}",
        "\"[a-z_]{0,12}\"",
    ];
    let key = prop_oneof![
        Just("op"),
        Just("id"),
        Just("stream"),
        Just("session_id"),
        Just("protocol"),
        Just("client"),
        Just("x"),
    ];
    proptest::collection::vec((key, value), 0..6).prop_map(|kv| {
        let body: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", body.join(","))
    })
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn client_frame_never_panics_on_any_string(s in any::<String>()) {
        let _ = parse_client_frame(&s);
    }

    #[test]
    fn client_frame_never_panics_on_any_bytes(b in proptest::collection::vec(any::<u8>(), 0..256)) {
        // Only UTF-8 reaches the parser (tungstenite closes 1007 otherwise).
        if let Ok(s) = std::str::from_utf8(&b) {
            let _ = parse_client_frame(s);
        }
    }

    #[test]
    fn client_frame_junk_with_the_right_keys_never_panics(s in client_junk()) {
        if let Ok(msg) = parse_client_frame(&s) {
            // Anything accepted must survive the round trip too.
            let again = serde_json::to_string(&msg).unwrap();
            prop_assert_eq!(parse_client_frame(&again).unwrap(), msg);
        }
    }

    #[test]
    fn valid_client_messages_round_trip(msg in client_msg(), extra in any::<bool>()) {
        let mut v = serde_json::to_value(&msg).unwrap();
        if extra {
            // Unknown fields are ignored (forward compatibility), wherever they appear.
            v["future_field"] = json!({"nested": [1, 2, 3]});
        }
        let text = serde_json::to_string(&v).unwrap();
        prop_assert_eq!(parse_client_frame(&text).unwrap(), msg);
    }
}

#[test]
fn client_frame_nesting_beyond_the_recursion_limit_is_an_error() {
    // serde_json stops at depth 128; 100k levels would otherwise overflow the stack.
    for depth in [127usize, 200, 100_000] {
        let s = format!(
            r#"{{"op":"ping","id":1,"x":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let r = parse_client_frame(&s);
        if depth > 128 {
            let e = r.unwrap_err().to_string();
            assert!(e.contains("recursion limit"), "{e}");
        }
    }
}

#[test]
fn client_frame_ids_outside_u64_are_errors() {
    for id in ["-1", "18446744073709551616", "1.0", "1e3", "\"1\"", "null"] {
        let s = format!(r#"{{"op":"ping","id":{id}}}"#);
        assert!(parse_client_frame(&s).is_err(), "{s} must be refused");
    }
    let max = parse_client_frame(r#"{"op":"ping","id":18446744073709551615}"#).unwrap();
    assert_eq!(max, ClientMsg::Ping { id: u64::MAX });
}

// ---------------------------------------------------------------------------------------------
// MEXC frames
// ---------------------------------------------------------------------------------------------

/// A positive decimal value and three ways MEXC may write it.
fn mexc_number() -> impl Strategy<Value = (f64, Value)> {
    (1u64..10_000_000, -6i32..6, 0u8..4).prop_map(|(mantissa, exp, form)| {
        let text = format!("{mantissa}E{exp:+}");
        let x: f64 = text.parse().unwrap();
        let v = match form {
            // 9.75E+4 style: serde_json reads exponent numbers from the raw text.
            0 => serde_json::from_str::<Value>(&text).unwrap(),
            1 => Value::String(text),
            2 => json!(x),
            // Trailing zeros, as in `25329.000000000000000000000000000000`.
            _ => serde_json::from_str::<Value>(&format!("{x:.1}000000000000")).unwrap_or(json!(x)),
        };
        let x = match &v {
            Value::Number(n) => n.as_f64().unwrap(),
            Value::String(s) => s.parse().unwrap(),
            _ => unreachable!(),
        };
        (x, v)
    })
}

/// Timestamps arrive as numbers or strings.
fn mexc_ts() -> impl Strategy<Value = (i64, Value)> {
    (1_500_000_000_000i64..2_000_000_000_000, any::<bool>())
        .prop_map(|(t, s)| (t, if s { json!(t.to_string()) } else { json!(t) }))
}

#[derive(Debug, Clone)]
struct Row {
    price: (f64, Value),
    size: (f64, Value),
    buy: bool,
    /// `t`, else `cts`, else none (the frame `ts` applies).
    ts: Option<(i64, Value)>,
    ts_in_cts: bool,
    id: Option<u64>,
    id_as_string: bool,
}

fn row() -> impl Strategy<Value = Row> {
    (
        mexc_number(),
        mexc_number(),
        any::<bool>(),
        proptest::option::of(mexc_ts()),
        any::<bool>(),
        proptest::option::of(any::<u64>()),
        any::<bool>(),
    )
        .prop_map(|(price, size, buy, ts, ts_in_cts, id, id_as_string)| Row {
            price,
            size,
            buy,
            ts,
            ts_in_cts,
            id,
            id_as_string,
        })
}

fn row_json(r: &Row) -> Value {
    let mut o = json!({
        "p": r.price.1, "v": r.size.1, "T": if r.buy { 1 } else { 2 }, "O": 1, "M": 2,
    });
    if let Some((_, v)) = &r.ts {
        o[if r.ts_in_cts { "cts" } else { "t" }] = v.clone();
    }
    if let Some(i) = r.id {
        o["i"] = if r.id_as_string {
            json!(i.to_string())
        } else {
            json!(i)
        };
    }
    o
}

fn close(a: f64, b: f64) -> bool {
    // serde_json's default float parser may differ from std's by an ulp.
    (a - b).abs() <= a.abs().max(b.abs()) * 1e-12
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn mexc_frame_never_panics_on_any_string(s in any::<String>()) {
        let _ = parse_frame(&s);
    }

    #[test]
    fn mexc_deal_frames_parse_to_the_generated_trades(
        rows in proptest::collection::vec(row(), 1..5),
        as_object in any::<bool>(),
        frame_ts in mexc_ts(),
    ) {
        // The docs show `data` as one object, live frames send an array: both must work.
        let single = as_object && rows.len() == 1;
        let data = if single { row_json(&rows[0]) } else { Value::Array(rows.iter().map(row_json).collect()) };
        let frame = json!({"symbol": "BTC_USDT", "channel": "push.deal", "ts": frame_ts.1, "data": data});
        let Ok(Inbound::Deals { symbol, trades, skipped_rows }) = parse_frame(&frame.to_string()) else {
            return Err(TestCaseError::fail(format!("not deals: {frame}")));
        };
        prop_assert_eq!(symbol, "BTC_USDT");
        prop_assert_eq!(skipped_rows, 0);
        prop_assert_eq!(trades.len(), rows.len());
        for (t, r) in trades.iter().zip(&rows) {
            prop_assert!(close(t.price, r.price.0), "price {} vs {}", t.price, r.price.0);
            prop_assert!(close(t.contracts, r.size.0), "size {} vs {}", t.contracts, r.size.0);
            prop_assert_eq!(t.taker, if r.buy { Side::Buy } else { Side::Sell });
            prop_assert_eq!(t.ts_ms, r.ts.as_ref().map_or(frame_ts.0, |x| x.0));
            prop_assert_eq!(t.id, r.id);
        }
    }

    #[test]
    fn mexc_ticker_frames_parse_to_the_generated_values(
        last in proptest::option::of(mexc_number()),
        bid in proptest::option::of(mexc_number()),
        rate in proptest::option::of(mexc_number()),
        funding in proptest::option::of(mexc_number()),
        stamp in proptest::option::of(mexc_ts()),
        frame_ts in mexc_ts(),
        symbol_in_data in any::<bool>(),
    ) {
        let mut data = json!({"contractId": 1, "holdVol": 5});
        if let Some((_, v)) = &last { data["lastPrice"] = v.clone(); }
        if let Some((_, v)) = &bid { data["bid1"] = v.clone(); }
        if let Some((_, v)) = &rate { data["riseFallRate"] = v.clone(); }
        if let Some((_, v)) = &funding { data["fundingRate"] = v.clone(); }
        if let Some((_, v)) = &stamp { data["timestamp"] = v.clone(); }
        let mut frame = json!({"channel": "push.ticker", "ts": frame_ts.1, "data": data});
        if symbol_in_data { frame["data"]["symbol"] = json!("ETH_USDT") } else { frame["symbol"] = json!("ETH_USDT") }
        let parsed = parse_frame(&frame.to_string()).unwrap();
        let Some(last) = last else {
            prop_assert!(matches!(parsed, Inbound::Skipped { .. }), "{parsed:?}");
            return Ok(());
        };
        let Inbound::Ticker(t) = parsed else {
            return Err(TestCaseError::fail(format!("not a ticker: {parsed:?}")));
        };
        prop_assert_eq!(t.symbol.as_str(), "ETH_USDT");
        prop_assert!(close(t.last, last.0));
        prop_assert_eq!(t.bid.is_some(), bid.is_some());
        if let (Some(a), Some(b)) = (t.bid, &bid) { prop_assert!(close(a, b.0)); }
        if let (Some(a), Some(b)) = (t.change_pct, &rate) { prop_assert!(close(a, b.0 * 100.0)); }
        prop_assert_eq!(t.change_pct.is_some(), rate.is_some());
        prop_assert_eq!(t.funding_rate.is_some(), funding.is_some());
        prop_assert!(t.ask.is_none() && t.fair_price.is_none() && t.index_price.is_none());
        prop_assert_eq!(t.exchange_ts_ms, Some(stamp.map_or(frame_ts.0, |s| s.0)));
    }
}

/// A `[price, contracts, orders]` level: price and size in any of MEXC's number forms.
fn mexc_level() -> impl Strategy<Value = ((f64, f64, u32), Value)> {
    (mexc_number(), mexc_number(), 0u32..50)
        .prop_map(|(p, c, n)| ((p.0, c.0, n), json!([p.1, c.1, n])))
}

fn interval() -> impl Strategy<Value = Interval> {
    proptest::sample::select(Interval::ALL.to_vec())
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn mexc_kline_frames_parse_to_the_generated_candle(
        ohlc in proptest::collection::vec(mexc_number(), 6),
        t in 1_500_000_000i64..2_000_000_000,
        iv in interval(),
        symbol_in_data in any::<bool>(),
        missing in proptest::option::of(0usize..6),
    ) {
        let keys = ["o", "h", "l", "c", "q", "a"];
        let mut data = json!({"interval": iv.as_str(), "t": t, "ro": 1, "rc": 1, "rh": 1, "rl": 1});
        for (i, (k, (_, v))) in keys.iter().zip(&ohlc).enumerate() {
            if missing != Some(i) { data[*k] = v.clone(); }
        }
        let mut frame = json!({"channel": "push.kline", "ts": 1_789_897_547_215u64, "data": data});
        if symbol_in_data { frame["data"]["symbol"] = json!("BTC_USDT") } else { frame["symbol"] = json!("BTC_USDT") }
        let parsed = parse_frame(&frame.to_string()).unwrap();
        if missing.is_some() {
            prop_assert!(matches!(parsed, Inbound::Skipped { .. }), "{parsed:?}");
            return Ok(());
        }
        let Inbound::Kline { symbol, interval, candle } = parsed else {
            return Err(TestCaseError::fail(format!("not a kline: {parsed:?}")));
        };
        prop_assert_eq!((symbol.as_str(), interval, candle.t), ("BTC_USDT", iv, t));
        let got = [candle.open, candle.high, candle.low, candle.close, candle.volume, candle.amount];
        for (g, (want, _)) in got.iter().zip(&ohlc) {
            prop_assert!(close(*g, *want), "{} vs {}", g, want);
        }
    }

    #[test]
    fn mexc_depth_frames_parse_to_the_generated_levels(
        bids in proptest::collection::vec(mexc_level(), 0..6),
        asks in proptest::collection::vec(mexc_level(), 0..6),
        begin in 1u64..1_000_000_000_000,
        span in proptest::option::of(0u64..50),
        full in any::<bool>(),
        bad_level in any::<bool>(),
    ) {
        let end = begin + span.unwrap_or(0);
        let mut data = json!({
            "bids": bids.iter().map(|l| l.1.clone()).collect::<Vec<_>>(),
            "asks": asks.iter().map(|l| l.1.clone()).collect::<Vec<_>>(),
            "version": end,
        });
        if let (Some(_), false) = (span, full) {
            data["begin"] = json!(begin);
            data["end"] = json!(end);
        }
        if bad_level {
            data["asks"].as_array_mut().unwrap().push(json!(["oops", 1, 1]));
        }
        let channel = if full { "push.depth.full" } else { "push.depth" };
        let frame = json!({"symbol": "ETH_USDT", "channel": channel, "data": data, "ts": 1});
        let parsed = parse_frame(&frame.to_string()).unwrap();
        // A price of 0 (a zero-tail form can round a tiny one to it) is no level either.
        let zero_price = bids.iter().chain(&asks).any(|((p, _, _), _)| *p <= 0.0);
        if bad_level || zero_price {
            prop_assert!(matches!(parsed, Inbound::Skipped { .. }), "one bad level skips the frame: {parsed:?}");
            return Ok(());
        }
        let (got_bids, got_asks, range) = match parsed {
            Inbound::Depth { delta, .. } if !full => (delta.bids, delta.asks, (delta.begin, delta.end)),
            Inbound::DepthFull { snapshot, .. } if full => (snapshot.bids, snapshot.asks, (end, end)),
            other => return Err(TestCaseError::fail(format!("{channel}: {other:?}"))),
        };
        let want_begin = if span.is_some() && !full { begin } else { end };
        prop_assert_eq!(range, (want_begin, end));
        for (got, want) in [(got_bids, &bids), (got_asks, &asks)] {
            prop_assert_eq!(got.len(), want.len());
            for (g, ((p, c, n), _)) in got.iter().zip(want) {
                prop_assert!(close(g.price, *p) && close(g.contracts, *c), "{:?} vs {} {}", g, p, c);
                prop_assert_eq!(g.orders, *n);
            }
        }
    }

    #[test]
    fn mexc_funding_frames_parse_under_either_name(
        rate in mexc_number(),
        negative in any::<bool>(),
        doc_name in any::<bool>(),
        next in proptest::option::of(mexc_ts()),
    ) {
        let value = if negative { json!(-rate.0) } else { rate.1.clone() };
        let mut data = json!({"symbol": "SOL_USDT"});
        data[if doc_name { "fundingRate" } else { "rate" }] = value;
        if let Some((_, v)) = &next { data["nextSettleTime"] = v.clone(); }
        let frame = json!({"channel": "push.funding.rate", "symbol": "SOL_USDT", "data": data});
        let Ok(Inbound::Funding { symbol, rate: got, next_settle_ms }) = parse_frame(&frame.to_string()) else {
            return Err(TestCaseError::fail(format!("not funding: {frame}")));
        };
        prop_assert_eq!(symbol, "SOL_USDT");
        let want = if negative { -rate.0 } else { rate.0 };
        prop_assert!(close(got, want), "{} vs {}", got, want);
        prop_assert_eq!(next_settle_ms, next.map(|n| n.0));
    }
}

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

/// Every leaf key of the embedded defaults with its default value, `section.key` -> value.
fn leaf_keys() -> Vec<(String, String, toml::Value)> {
    let table: toml::Table = DEFAULTS_TOML.parse().unwrap();
    let mut out = Vec::new();
    for (section, v) in &table {
        let toml::Value::Table(t) = v else { continue };
        for (key, v) in t {
            if !v.is_table() {
                out.push((section.clone(), key.clone(), v.clone()));
            }
        }
    }
    out
}

/// A value of the same TOML type as `default`, biased toward edges (0, huge, negative).
fn same_shape(default: &toml::Value) -> BoxedStrategy<toml::Value> {
    match default {
        toml::Value::Integer(_) => prop_oneof![
            Just(0i64),
            Just(1i64),
            Just(i64::MAX),
            Just(u32::MAX as i64),
            Just(u32::MAX as i64 + 1),
            Just(-1i64),
            0i64..100_000,
            any::<i64>(),
        ]
        .prop_map(toml::Value::Integer)
        .boxed(),
        toml::Value::Float(_) => prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-0.5),
            Just(2.0),
            any::<f64>(),
            0.0f64..1.0,
        ]
        .prop_map(toml::Value::Float)
        .boxed(),
        toml::Value::Boolean(_) => any::<bool>().prop_map(toml::Value::Boolean).boxed(),
        toml::Value::Array(_) => proptest::collection::vec("[a-zA-Z0-9_-]{0,6}", 0..3)
            .prop_map(|v| toml::Value::Array(v.into_iter().map(toml::Value::String).collect()))
            .boxed(),
        _ => prop_oneof![
            Just(default.clone()),
            any::<String>().prop_map(toml::Value::String),
            Just(toml::Value::String("127.0.0.1:0".into())),
            Just(toml::Value::String("ws://x".into())),
        ]
        .boxed(),
    }
}

/// A user file that overrides a random subset of keys with values of the right type.
fn shaped_config() -> impl Strategy<Value = toml::Table> {
    let keys = leaf_keys();
    let picks: Vec<_> = keys
        .iter()
        .map(|(s, k, d)| {
            let (s, k) = (s.clone(), k.clone());
            proptest::option::weighted(0.3, same_shape(d))
                .prop_map(move |v| (s.clone(), k.clone(), v))
        })
        .collect();
    picks.prop_map(|picked| {
        let mut root = toml::Table::new();
        for (s, k, v) in picked {
            if let Some(v) = v {
                let section = root
                    .entry(s)
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                if let toml::Value::Table(t) = section {
                    t.insert(k, v);
                }
            }
        }
        root
    })
}

fn load(user: &str) -> Result<Config, String> {
    let cfg = Config::from_layers(Some((Path::new("prop.toml"), user)), &[])
        .map_err(|e| e.to_string())?;
    cfg.validate().map_err(|e| e.to_string())?;
    Ok(cfg)
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn config_of_the_right_shape_never_panics(table in shaped_config()) {
        let text = toml::to_string(&table).unwrap();
        match load(&text) {
            Ok(cfg) => { let _ = cfg.redacted_toml(); }
            Err(e) => prop_assert!(!e.is_empty()),
        }
    }

    #[test]
    fn config_of_any_text_never_panics(s in any::<String>()) {
        let _ = load(&s);
    }

    #[test]
    fn config_wrong_type_is_refused_naming_the_key(
        idx in 0..leaf_keys().len(),
        bad in prop_oneof![Just("\"text\""), Just("[1]"), Just("{a = 1}"), Just("true"), Just("1.5"), Just("-1")],
    ) {
        let (section, key, default) = &leaf_keys()[idx];
        // Skip values that would be of the right type for this key.
        let same = matches!(
            (default, bad),
            (toml::Value::String(_), "\"text\"") | (toml::Value::Boolean(_), "true") |
            (toml::Value::Float(_), "1.5") | (toml::Value::Float(_), "-1") |
            (toml::Value::Array(_), "[1]")
        );
        prop_assume!(!same);
        let text = format!("[{section}]\n{key} = {bad}\n");
        match load(&text) {
            Ok(_) => prop_assert!(false, "{text} accepted"),
            Err(e) => prop_assert!(e.contains(key.as_str()), "error for {text:?} does not name the key: {e}"),
        }
    }
}

/// Numeric keys that `validate` requires to be above zero: 0 is refused, naming the key.
#[test]
fn config_zero_is_refused_naming_the_key() {
    for key in [
        "client.ping_interval_ms",
        "client.pong_timeout_ms",
        "client.backoff_base_ms",
        "client.poll_interval_ms",
        "client.connect_timeout_ms",
        "client.slow_after_missed",
        "client.poll_after_failures",
        "server.ping_interval_ms",
        "server.client_queue_max_msgs",
        "server.client_queue_max_bytes",
        "server.write_timeout_ms",
        "server.max_ops_per_s",
        "mexc.ping_interval_ms",
        "sim.ticker_interval_ms",
        "sim.heartbeat_timeout_ms",
        "tui.fps",
        "tui.stale_after_ms",
    ] {
        let (section, k) = key.split_once('.').unwrap();
        let e = load(&format!("[{section}]\n{k} = 0\n")).unwrap_err();
        assert!(e.contains(key), "{key}: {e}");
    }
}

proptest! {
    #![proptest_config(cases(128))]

    /// The heartbeat layering checks multiply and compare user numbers; huge ones must give
    /// an error (or pass), never an arithmetic overflow panic.
    #[test]
    fn config_timing_arithmetic_never_panics(
        ping in prop_oneof![Just(i64::MAX), Just(u32::MAX as i64), 1i64..100_000],
        reconnect in prop_oneof![Just(u32::MAX as i64), 3i64..10],
        idle in prop_oneof![Just(i64::MAX), 30_000i64..100_000],
        server_ping in prop_oneof![Just(i64::MAX), Just(i64::MAX / 2 + 1), 1i64..15_000],
    ) {
        let text = format!(
            "[client]\nping_interval_ms = {ping}\nreconnect_after_missed = {reconnect}\n\
             [server]\nidle_timeout_ms = {idle}\nping_interval_ms = {server_ping}\n"
        );
        let _ = load(&text);
    }
}

// ---------------------------------------------------------------------------------------------
// Regressions (inputs that once crashed; see docs/fuzzing.md)
// ---------------------------------------------------------------------------------------------

/// `client.ping_interval_ms x client.reconnect_after_missed` overflowed u64 in `validate`
/// (panic in debug, wrap-around in release that could let the check pass).
#[test]
fn regression_config_heartbeat_product_overflow_is_an_error() {
    let e = load("[client]\nping_interval_ms = 9223372036854775807\n").unwrap_err();
    assert!(e.contains("client.ping_interval_ms"), "{e}");
}

/// Found by `cargo fuzz run mexc_frame` (fuzz/regressions/mexc_frame/crash-0f1ad991...):
/// a finite `riseFallRate` near f64::MAX became `-inf` once multiplied by 100.
#[test]
fn regression_mexc_huge_rise_fall_rate_is_dropped_not_infinite() {
    let frame = include_str!(
        "../../fuzz/regressions/mexc_frame/crash-0f1ad9914de744989005853c11c7487247bf9c4b"
    );
    let Ok(Inbound::Ticker(t)) = parse_frame(frame) else {
        panic!("still a ticker")
    };
    assert_eq!(t.change_pct, None);
    assert_eq!(t.last, 6865.5);
}
