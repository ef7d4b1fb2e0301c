//! Parser tests over the frame shapes MEXC sends (live captures and
//! the official docs' examples).

use super::*;

fn deals(text: &str) -> (String, Vec<Trade>, usize) {
    match parse_frame(text) {
        Ok(Inbound::Deals {
            symbol,
            trades,
            skipped_rows,
        }) => (symbol, trades, skipped_rows),
        other => panic!("expected deals, got {other:?}"),
    }
}

fn ticker(text: &str) -> TickerUpdate {
    match parse_frame(text) {
        Ok(Inbound::Ticker(t)) => t,
        other => panic!("expected ticker, got {other:?}"),
    }
}

#[test]
fn live_deal_array_frame() {
    // Live capture 2026-09-20: array, string id, string cts.
    let (symbol, trades, skipped) = deals(
        r#"{"symbol":"BTC_USDT","data":[{"p":80489,"v":11,"T":1,"O":3,"M":1,"t":1789897547210,"i":"16270106116","cts":"1789897547210"}],"channel":"push.deal","ts":1789897547215}"#,
    );
    assert_eq!(symbol, "BTC_USDT");
    assert_eq!(skipped, 0);
    assert_eq!(
        trades,
        vec![Trade {
            // `M:1`: a self-trade.
            self_trade: true,
            id: Some(16_270_106_116),
            price: 80489.0,
            contracts: 11.0,
            taker: Side::Buy,
            ts_ms: 1_789_897_547_210,
        }]
    );
}

#[test]
fn documented_deal_object_frame_without_id() {
    // The docs still show `data` as one object, without `i` or `cts`.
    let (_, trades, _) = deals(
        r#"{"channel":"push.deal","data":{"M":1,"O":1,"T":2,"p":6866.5,"t":1587442049632,"v":2362},"symbol":"BTC_USDT","ts":1587442022003}"#,
    );
    assert_eq!(trades.len(), 1);
    assert_eq!(trades[0].id, None);
    assert_eq!(trades[0].taker, Side::Sell);
    assert_eq!(trades[0].price, 6866.5);
    assert_eq!(trades[0].contracts, 2362.0);
}

#[test]
fn exponent_numbers_and_zero_tails() {
    let (_, trades, _) = deals(
        r#"{"symbol":"BTC_USDT","data":[{"p":9.75E+4,"v":1.066397E3,"T":1,"O":3,"M":2,"t":1789897547210,"i":"7"},{"p":25329.000000000000000000000000000000,"v":2E0,"T":2,"O":1,"M":2,"t":"1789897547211","i":8}],"channel":"push.deal","ts":"1789897547215"}"#,
    );
    assert_eq!(trades[0].price, 97_500.0);
    assert_eq!(trades[0].contracts, 1066.397);
    assert_eq!(trades[1].price, 25_329.0);
    assert_eq!(trades[1].ts_ms, 1_789_897_547_211);
    assert_eq!(trades[1].id, Some(8));
}

#[test]
fn bad_deal_rows_are_skipped_not_fatal() {
    let (_, trades, skipped) = deals(
        r#"{"symbol":"ETH_USDT","data":[{"p":"oops","v":1,"T":1,"t":1},{"p":1,"v":1,"T":9,"t":1},{"p":2,"v":3,"T":2,"cts":"5"},"junk"],"channel":"push.deal","ts":9}"#,
    );
    assert_eq!(skipped, 3);
    assert_eq!(trades.len(), 1);
    assert_eq!(trades[0].ts_ms, 5, "falls back to cts when t is missing");
}

const DOC_TICKER: &str = r#"{"channel":"push.ticker","data":{"ask1":6866.5,"bid1":6865,"contractId":1,"fairPrice":6867.4,"fundingRate":0.0008,"high24Price":7223.5,"indexPrice":6861.6,"lastPrice":6865.5,"lower24Price":6756,"maxBidPrice":7073.42,"minAskPrice":6661.37,"riseFallRate":-0.0424,"riseFallValue":-304.5,"symbol":"BTC_USDT","timestamp":1587442022003,"holdVol":2284742,"volume24":164586129,"amount24":1.13E9},"symbol":"BTC_USDT","ts":1587442022003}"#;

#[test]
fn full_ticker_maps_every_field() {
    let t = ticker(DOC_TICKER);
    assert_eq!(t.symbol, "BTC_USDT");
    assert_eq!(t.last, 6865.5);
    assert_eq!(t.bid, Some(6865.0));
    assert_eq!(t.ask, Some(6866.5));
    let pct = t.change_pct.unwrap();
    assert!((pct - -4.24).abs() < 1e-9, "riseFallRate x100, got {pct}");
    assert_eq!(
        t.volume_24h,
        Some(1.13e9),
        "amount24, not volume24 (contracts)"
    );
    assert_eq!(t.fair_price, Some(6867.4));
    assert_eq!(t.index_price, Some(6861.6));
    assert_eq!(t.funding_rate, Some(0.0008));
    assert_eq!(t.exchange_ts_ms, Some(1_587_442_022_003));
}

#[test]
fn ticker_with_missing_fields_keeps_what_is_there() {
    let t = ticker(
        r#"{"symbol":"SOL_USDT","data":{"symbol":"SOL_USDT","lastPrice":"1.5E2"},"channel":"push.ticker","ts":"1587442022003"}"#,
    );
    assert_eq!(t.last, 150.0);
    assert_eq!(t.bid, None);
    assert_eq!(t.volume_24h, None);
    assert_eq!(
        t.exchange_ts_ms,
        Some(1_587_442_022_003),
        "string frame ts is the fallback"
    );
}

#[test]
fn ticker_without_last_price_is_skipped() {
    let r = parse_frame(
        r#"{"symbol":"SOL_USDT","data":{"symbol":"SOL_USDT","bid1":1},"channel":"push.ticker","ts":1}"#,
    );
    assert!(matches!(r, Ok(Inbound::Skipped { .. })), "{r:?}");
}

#[test]
fn sub_acks_name_the_channel_only() {
    assert_eq!(
        parse_frame(r#"{"channel":"rs.sub.deal","data":"success","ts":1790133892943}"#).ok(),
        Some(Inbound::SubAck {
            channel: "deal",
            ok: true,
            text: "success".into()
        })
    );
    assert_eq!(
        parse_frame(r#"{"channel":"rs.sub.ticker","data":"fail","ts":"1"}"#).ok(),
        Some(Inbound::SubAck {
            channel: "ticker",
            ok: false,
            text: "fail".into()
        })
    );
    assert!(matches!(
        parse_frame(r#"{"channel":"rs.sub.depth.full","data":"success","ts":1}"#).ok(),
        Some(Inbound::Ignored { .. })
    ));
    assert_eq!(
        parse_frame(r#"{"channel":"rs.unsub.deal","data":"success","ts":1}"#).ok(),
        Some(Inbound::UnsubAck)
    );
}

#[test]
fn rs_error_contract_text_names_the_symbol() {
    assert_eq!(
        parse_frame(r#"{"channel":"rs.error","data":"Contract [NOPE_USDT] not exists","ts":1}"#)
            .ok(),
        Some(Inbound::Error {
            text: "Contract [NOPE_USDT] not exists".into(),
            contract: Some("NOPE_USDT".into())
        })
    );
    for other in [
        "Contract doesn't exist!",
        "more than 60 seconds no response, close the channel",
        "Not support interval",
    ] {
        let frame = serde_json::json!({"channel":"rs.error","data":other}).to_string();
        assert_eq!(
            parse_frame(&frame).ok(),
            Some(Inbound::Error {
                text: other.into(),
                contract: None
            })
        );
    }
}

#[test]
fn pong_documented_and_live_shapes() {
    assert_eq!(
        parse_frame(r#"{"channel":"pong","data":1587453241453}"#).ok(),
        Some(Inbound::Pong {
            server_ms: Some(1_587_453_241_453)
        })
    );
    assert_eq!(
        parse_frame(r#"{"channel":"pong","data":1790133892943,"ts":1790133892943}"#).ok(),
        Some(Inbound::Pong {
            server_ms: Some(1_790_133_892_943)
        })
    );
}

#[test]
fn client_id_and_unknown_channels_are_ignored() {
    assert!(matches!(
        parse_frame(r#"{"channel":"clientId","data":"a1b2c3","ts":1790133892943}"#).ok(),
        Some(Inbound::Ignored { channel }) if channel == "clientId"
    ));
    assert!(matches!(
        parse_frame(
            r#"{"symbol":"BTC_USDT","data":{"symbol":"BTC_USDT","price":80000.5},"channel":"push.index.price","ts":1}"#
        ),
        Ok(Inbound::Ignored { .. })
    ));
}

#[test]
fn malformed_frames_are_errors_not_panics() {
    for bad in [
        "",
        "{",
        "[1,2]",
        "42",
        r#"{"data":1}"#,
        r#"{"channel":7}"#,
        "\u{0}",
    ] {
        assert!(parse_frame(bad).is_err(), "{bad:?} should not parse");
    }
    // Known channels with nonsense payloads degrade to skips, never panics.
    for odd in [
        r#"{"channel":"push.deal","data":[1,2]}"#,
        r#"{"channel":"push.deal","symbol":"X","data":"nope"}"#,
        r#"{"channel":"push.ticker","data":[]}"#,
        r#"{"channel":"pong","data":"soon"}"#,
    ] {
        assert!(parse_frame(odd).is_ok(), "{odd}");
    }
}

#[test]
fn commands_always_carry_gzip_false() {
    let v: serde_json::Value =
        serde_json::from_str(&command(true, Channel::Deal, "BTC_USDT")).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"method":"sub.deal","param":{"symbol":"BTC_USDT"},"gzip":false})
    );
    let v: serde_json::Value =
        serde_json::from_str(&command(false, Channel::Ticker, "ETH_USDT")).unwrap();
    assert_eq!(v["method"], "unsub.ticker");
    assert_eq!(v["gzip"], false);
    assert_eq!(PING, r#"{"method":"ping"}"#);
}

#[test]
fn feed_commands_name_symbol_and_kline_interval_both_ways() {
    use trademon_protocol::Interval;
    let cmd =
        |sub, ch| serde_json::from_str::<serde_json::Value>(&command(sub, ch, "BTC_USDT")).unwrap();
    assert_eq!(
        cmd(true, Channel::Kline(Interval::Min1)),
        serde_json::json!({"method":"sub.kline","param":{"symbol":"BTC_USDT","interval":"Min1"},"gzip":false})
    );
    assert_eq!(
        cmd(false, Channel::Kline(Interval::Hour4)),
        serde_json::json!({"method":"unsub.kline","param":{"symbol":"BTC_USDT","interval":"Hour4"},"gzip":false})
    );
    assert_eq!(cmd(true, Channel::Depth)["method"], "sub.depth");
    assert_eq!(cmd(false, Channel::Depth)["method"], "unsub.depth");
    assert_eq!(
        cmd(true, Channel::FundingRate)["method"],
        "sub.funding.rate"
    );
    assert_eq!(
        cmd(false, Channel::FundingRate),
        serde_json::json!({"method":"unsub.funding.rate","param":{"symbol":"BTC_USDT"},"gzip":false})
    );
    assert_eq!(Channel::Kline(Interval::Min15).label(), "kline.Min15");
    assert_eq!(Channel::FundingRate.label(), "funding.rate");
}

#[test]
fn feed_acks_name_the_method_only() {
    for (frame, method) in [
        (
            r#"{"channel":"rs.sub.kline","data":"success","ts":1}"#,
            "kline",
        ),
        (
            r#"{"channel":"rs.sub.depth","data":"success","ts":1}"#,
            "depth",
        ),
        (
            r#"{"channel":"rs.sub.funding.rate","data":"success","ts":1}"#,
            "funding.rate",
        ),
    ] {
        assert_eq!(
            parse_frame(frame).ok(),
            Some(Inbound::SubAck {
                channel: method,
                ok: true,
                text: "success".into()
            })
        );
    }
}

#[test]
fn ticker_24h_range_and_open_interest() {
    let t = ticker(DOC_TICKER);
    assert_eq!(t.high_24h, Some(7223.5));
    assert_eq!(t.low_24h, Some(6756.0));
    assert_eq!(t.open_interest, Some(2_284_742.0));
    let bare = ticker(
        r#"{"channel":"push.ticker","symbol":"X","data":{"lastPrice":1,"high24Price":"bad"}}"#,
    );
    assert_eq!(
        (bare.high_24h, bare.low_24h, bare.open_interest),
        (None, None, None)
    );
}

#[test]
fn deal_m_flag_marks_self_trades() {
    let (_, trades, skipped) = deals(
        r#"{"symbol":"BTC_USDT","data":[{"p":1,"v":1,"T":1,"M":1,"t":1},{"p":1,"v":1,"T":1,"M":2,"t":2},{"p":1,"v":1,"T":1,"t":3},{"p":1,"v":1,"T":1,"M":"1","t":4}],"channel":"push.deal","ts":9}"#,
    );
    assert_eq!(skipped, 0);
    let flags: Vec<bool> = trades.iter().map(|t| t.self_trade).collect();
    assert_eq!(
        flags,
        vec![true, false, false, true],
        "only M = 1 is a self-trade"
    );
}

fn gzip(text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

#[test]
fn gzip_frames_inflate_other_binary_is_dropped() {
    let frame = r#"{"channel":"pong","data":1587453241453}"#;
    assert_eq!(decode_binary(&gzip(frame)).as_deref(), Ok(frame));
    assert!(matches!(
        decode_binary(&[0x1f, 0x8b, 8, 0]),
        Err(BinaryDrop::BadGzip { len: 4, .. })
    ));
    assert_eq!(decode_binary(&[1, 2]), Err(BinaryDrop::Unknown { len: 2 }));
    // A bomb: 8 MiB of zeros compresses to a few KiB and must be refused.
    let bomb = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&vec![b' '; 8 << 20]).unwrap();
        e.finish().unwrap()
    };
    assert!(matches!(
        decode_binary(&bomb),
        Err(BinaryDrop::TooLarge { .. })
    ));
}

#[test]
fn funding_rate_under_either_name_and_rest_shape() {
    let t = ticker(
        r#"{"channel":"push.ticker","data":{"symbol":"BTC_USDT","lastPrice":1,"rate":0.0001},"ts":1}"#,
    );
    assert_eq!(t.funding_rate, Some(0.0001));
    // The REST ticker object goes through the same mapping.
    let v: serde_json::Value = serde_json::from_str(
        r#"{"symbol":"ETH_USDT","lastPrice":"2.5E3","fundingRate":-0.0002,"timestamp":"1789897547210"}"#,
    )
    .unwrap();
    let t = ticker_from_object(v.as_object().unwrap(), &Map::new()).unwrap();
    assert_eq!((t.last, t.funding_rate), (2500.0, Some(-0.0002)));
    assert_eq!(t.exchange_ts_ms, Some(1_789_897_547_210));
}

#[test]
fn numbers_take_one_rounding_from_the_raw_token() {
    // The f64 nearest to each decimal, identical to parsing the literal directly.
    for (token, expect) in [
        ("80489.1", 80489.1_f64),
        ("0.000012345", 0.000012345),
        ("1.066397E3", 1066.397),
        ("9.75E+4", 97500.0),
        ("123456.7891", 123456.7891),
    ] {
        let v: serde_json::Value = serde_json::from_str(token).unwrap();
        assert_eq!(num(&v), Some(expect), "{token}");
        assert_eq!(
            format!("{}", num(&v).unwrap()).parse::<f64>().unwrap(),
            expect
        );
    }
}

#[test]
fn heartbeat_notice_is_not_a_reply() {
    assert!(is_notice(
        "more than 60 seconds no response, close the channel"
    ));
    assert!(!is_notice("Contract doesn't exist!"));
}
