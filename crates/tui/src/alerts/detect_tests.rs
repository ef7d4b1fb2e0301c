//! Detection, driven through the client model by protocol messages as the live UI gets them.

use super::{Alert, AlertKind, Detector};
use trademon_client::link::{LinkState, LinkStatus};
use trademon_client::model::ClientModel;
use trademon_protocol::*;

const NOW: i64 = 1_700_000_000_000;
const S: &str = "majors";

fn env<T>(stream: StreamName, seq: u64, data: T) -> Envelope<T> {
    Envelope {
        interval: None,
        symbol: None,
        stream,
        session_id: Some(S.into()),
        seq,
        ts: NOW,
        data,
    }
}

fn signal(id: u64, at_ms: i64, kind: SignalKind) -> SignalInfo {
    SignalInfo {
        id,
        symbol: "BTC_USDT".into(),
        side: Side::Buy,
        price: 98504.6,
        reason: "entry conditions met".into(),
        kind,
        at_ms,
    }
}

fn signals_full(seq: u64, list: Vec<SignalInfo>) -> ServerMsg {
    ServerMsg::FullUpdate(env(
        StreamName::Signals,
        seq,
        Snapshot {
            signals: Some(list),
            ..Default::default()
        },
    ))
}

fn position(id: u64, symbol: &str, distance: f64) -> PositionInfo {
    PositionInfo {
        id,
        symbol: symbol.into(),
        direction: "long".into(),
        status: PositionStatus::Open,
        size_quote: 100.0,
        leverage: 5.0,
        entry_price: 100.0,
        mark_price: 100.0,
        unrealized_pnl: 0.0,
        realized_pnl: 0.0,
        fees: 0.0,
        pnl_pct: 0.0,
        liquidation_price: 80.5,
        distance_to_liq_pct: distance,
        alert: false,
        opened_at_ms: NOW - 10_000 + id as i64,
        closed_at_ms: None,
        exit_price: None,
        close_reason: None,
    }
}

fn closed(mut p: PositionInfo, at_ms: i64, reason: &str) -> PositionInfo {
    p.status = PositionStatus::Closed;
    p.closed_at_ms = Some(at_ms);
    p.exit_price = Some(103.0);
    p.realized_pnl = 2.5;
    p.close_reason = Some(reason.into());
    p
}

fn positions_full(seq: u64, open: Vec<PositionInfo>, closed: Vec<PositionInfo>) -> ServerMsg {
    ServerMsg::FullUpdate(env(
        StreamName::Positions,
        seq,
        Snapshot {
            positions: Some(Box::new(PositionsSnapshot {
                open,
                closed,
                totals: SessionTotals::default(),
            })),
            ..Default::default()
        },
    ))
}

/// Applies `msg` and returns what the detector finds after it.
fn feed(m: &mut ClientModel, d: &mut Detector, msg: ServerMsg) -> Vec<Alert> {
    assert_eq!(
        m.apply(&msg, NOW),
        trademon_client::model::Applied::Changed,
        "{msg:?}"
    );
    d.trading(m, NOW)
}

fn kinds(alerts: &[Alert]) -> Vec<AlertKind> {
    alerts.iter().map(|a| a.kind).collect()
}

#[test]
fn a_signal_alerts_once_and_not_again_after_a_resync() {
    let mut m = ClientModel::new(10);
    let mut d = Detector::new(2.0);
    // History already on the backend at start: the baseline, no alert.
    let history = vec![
        signal(1, NOW - 9000, SignalKind::Entry),
        signal(2, NOW - 8000, SignalKind::Exit),
    ];
    assert!(feed(&mut m, &mut d, signals_full(1, history.clone())).is_empty());

    let s3 = signal(3, NOW - 1000, SignalKind::Entry);
    let found = feed(
        &mut m,
        &mut d,
        ServerMsg::Signal(env(StreamName::Signals, 2, s3.clone())),
    );
    assert_eq!(kinds(&found), [AlertKind::Signal]);
    let a = &found[0];
    assert_eq!(a.session.as_deref(), Some(S));
    assert_eq!(a.symbol.as_deref(), Some("BTC_USDT"));
    assert_eq!(a.at_ms, NOW - 1000, "the signal's own time");
    assert!(
        a.text.contains("BUY BTC_USDT entry at 98504.6"),
        "{}",
        a.text
    );

    // Reconnect: sequences start over and the full_update repeats every signal.
    m.reset_sequences();
    let mut all = history.clone();
    all.push(s3.clone());
    assert!(feed(&mut m, &mut d, signals_full(1, all.clone())).is_empty());

    // A signal raised while the link was down arrives in the resync: it rings, once.
    m.reset_sequences();
    all.push(signal(4, NOW - 500, SignalKind::Exit));
    let found = feed(&mut m, &mut d, signals_full(1, all.clone()));
    assert_eq!(kinds(&found), [AlertKind::Signal]);
    assert!(found[0].text.contains("exit"), "{}", found[0].text);
    assert!(feed(&mut m, &mut d, signals_full(2, all)).is_empty());
}

#[test]
fn a_restarted_backend_with_ids_from_one_still_alerts_new_signals() {
    let mut m = ClientModel::new(10);
    let mut d = Detector::new(2.0);
    feed(
        &mut m,
        &mut d,
        signals_full(1, vec![signal(40, NOW - 5000, SignalKind::Entry)]),
    );
    // New epoch, no journal: ids start over, times do not.
    m.reset_sequences();
    let found = feed(
        &mut m,
        &mut d,
        signals_full(1, vec![signal(1, NOW, SignalKind::Entry)]),
    );
    assert_eq!(kinds(&found), [AlertKind::Signal]);
}

#[test]
fn a_liquidation_is_one_liquidation_alert_not_a_fill() {
    let mut m = ClientModel::new(10);
    let mut d = Detector::new(2.0);
    feed(&mut m, &mut d, signals_full(1, vec![]));
    let p = position(7, "ETH_USDT", 5.0);
    feed(&mut m, &mut d, positions_full(1, vec![p.clone()], vec![]));

    let mut liq = signal(9, NOW, SignalKind::Liquidation);
    liq.symbol = "ETH_USDT".into();
    liq.reason = "liquidated: mark 80.4 crossed the liquidation price 80.5".into();
    let found = feed(
        &mut m,
        &mut d,
        ServerMsg::Signal(env(StreamName::Signals, 2, liq)),
    );
    assert_eq!(kinds(&found), [AlertKind::Liquidation]);
    assert!(found[0].text.contains("liquidated"), "{}", found[0].text);

    let gone = closed(
        p,
        NOW,
        "liquidated: mark 80.4 crossed the liquidation price 80.5",
    );
    let found = feed(
        &mut m,
        &mut d,
        ServerMsg::Position(env(StreamName::Positions, 2, gone)),
    );
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn fills_alert_on_open_and_close_once() {
    let mut m = ClientModel::new(10);
    let mut d = Detector::new(2.0);
    let old = position(1, "BTC_USDT", 10.0);
    let before = closed(position(0, "SOL_USDT", 10.0), NOW - 60_000, "exit");
    assert!(
        feed(
            &mut m,
            &mut d,
            positions_full(1, vec![old.clone()], vec![before.clone()])
        )
        .is_empty(),
        "positions already open or closed at start are no news"
    );

    let new = position(2, "ETH_USDT", 10.0);
    let found = feed(
        &mut m,
        &mut d,
        ServerMsg::Position(env(StreamName::Positions, 2, new.clone())),
    );
    assert_eq!(kinds(&found), [AlertKind::Fill]);
    assert!(
        found[0]
            .text
            .contains("LONG ETH_USDT opened at 100.00, 100.00 USDT x5"),
        "{}",
        found[0].text
    );
    // A mark update of the same position is no fill.
    let mut marked = new.clone();
    marked.mark_price = 101.0;
    assert!(
        feed(
            &mut m,
            &mut d,
            ServerMsg::Position(env(StreamName::Positions, 3, marked))
        )
        .is_empty()
    );

    let done = closed(new, NOW, "exit condition met: pnl_pct >= 3");
    let found = feed(
        &mut m,
        &mut d,
        ServerMsg::Position(env(StreamName::Positions, 4, done.clone())),
    );
    assert_eq!(kinds(&found), [AlertKind::Fill]);
    assert!(
        found[0]
            .text
            .contains("closed at 103.00, PnL 2.50 USDT (exit condition met"),
        "{}",
        found[0].text
    );

    // Resync after a reconnect: the same book again, nothing new.
    m.reset_sequences();
    let found = feed(
        &mut m,
        &mut d,
        positions_full(1, vec![old], vec![done, before]),
    );
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn liquidation_risk_alerts_once_per_position_until_it_recovers() {
    let mut m = ClientModel::new(10);
    let mut d = Detector::new(2.0);
    feed(&mut m, &mut d, positions_full(1, vec![], vec![]));
    let at = |seq, distance| {
        ServerMsg::Position(env(
            StreamName::Positions,
            seq,
            position(5, "BTC_USDT", distance),
        ))
    };
    // Opening: a fill; not near liquidation yet.
    assert_eq!(kinds(&feed(&mut m, &mut d, at(2, 9.0))), [AlertKind::Fill]);
    let found = feed(&mut m, &mut d, at(3, 1.8));
    assert_eq!(kinds(&found), [AlertKind::LiquidationRisk]);
    assert!(
        found[0].text.contains("1.80 % from liquidation at 80.5"),
        "{}",
        found[0].text
    );
    assert!(
        feed(&mut m, &mut d, at(4, 1.2)).is_empty(),
        "still near: no repeat"
    );
    m.reset_sequences();
    assert!(
        feed(
            &mut m,
            &mut d,
            positions_full(1, vec![position(5, "BTC_USDT", 1.1)], vec![])
        )
        .is_empty(),
        "a resync is no new risk"
    );
    assert!(feed(&mut m, &mut d, at(2, 2.5)).is_empty(), "recovered");
    assert_eq!(
        kinds(&feed(&mut m, &mut d, at(3, 1.9))),
        [AlertKind::LiquidationRisk],
        "near again after recovering"
    );
}

#[test]
fn a_position_already_near_liquidation_at_start_is_told() {
    let mut m = ClientModel::new(10);
    let mut d = Detector::new(2.0);
    let found = feed(
        &mut m,
        &mut d,
        positions_full(1, vec![position(3, "BTC_USDT", 0.7)], vec![]),
    );
    assert_eq!(kinds(&found), [AlertKind::LiquidationRisk]);
}

fn link(state: LinkState) -> LinkStatus {
    let mut l = LinkStatus::new("ws://x");
    l.state = state;
    l
}

#[test]
fn link_lost_once_per_loss_and_once_back() {
    let mut d = Detector::new(2.0);
    // Never up yet: failing to connect at start is no loss.
    assert!(d.link(&link(LinkState::Reconnecting), NOW).is_empty());
    assert!(d.link(&link(LinkState::Live), NOW).is_empty());

    let mut down = link(LinkState::Reconnecting);
    down.last_error = Some(("connection refused".into(), 1));
    let found = d.link(&down, NOW + 1000);
    assert_eq!(kinds(&found), [AlertKind::LinkLost]);
    assert_eq!(
        found[0].text,
        "backend link lost: Reconnecting… (connection refused)"
    );
    assert!(d.link(&link(LinkState::Polling), NOW + 2000).is_empty());
    assert!(
        d.link(&link(LinkState::Disconnected), NOW + 3000)
            .is_empty()
    );
    assert!(
        d.link(&link(LinkState::Slow), NOW + 4000).is_empty(),
        "not Live yet"
    );
    let back = d.link(&link(LinkState::Live), NOW + 43_000);
    assert_eq!(kinds(&back), [AlertKind::LinkLost]);
    assert_eq!(back[0].text, "backend link back: Live after 42s down");
    assert!(d.link(&link(LinkState::Live), NOW + 44_000).is_empty());
    // Slow is still up; a later loss is a new one.
    assert!(d.link(&link(LinkState::Slow), NOW + 45_000).is_empty());
    assert_eq!(
        kinds(&d.link(&link(LinkState::Disconnected), NOW + 46_000)),
        [AlertKind::LinkLost]
    );
}

#[test]
fn data_stale_once_per_session_until_fresh_and_not_while_the_link_is_down() {
    let mut m = ClientModel::new(10);
    let mut d = Detector::new(2.0);
    m.apply(
        &ServerMsg::FullUpdate(Envelope {
            session_id: None,
            ..env(
                StreamName::Sessions,
                1,
                Snapshot {
                    sessions: Some(vec![SessionInfo {
                        id: S.into(),
                        name: "Majors".into(),
                        mode: "paper".into(),
                        strategy: "default".into(),
                        symbols: vec!["BTC_USDT".into(), "ETH_USDT".into()],
                        state: SessionState::Running,
                        error: None,
                        paused: false,
                    }]),
                    ..Default::default()
                },
            )
        }),
        NOW,
    );
    let tick = |m: &mut ClientModel, seq: u64, symbol: &str, at: i64| {
        let t = Ticker {
            next_funding_ms: None,
            high_24h: None,
            low_24h: None,
            open_interest: None,
            symbol: symbol.into(),
            last: 1.0,
            bid: None,
            ask: None,
            change_pct: None,
            volume_24h: None,
            fair_price: None,
            index_price: None,
            funding_rate: None,
            price_decimals: None,
            received_ms: at,
            source: DataSource::Ws,
        };
        let mut e = env(StreamName::MarketData, seq, t);
        e.ts = at;
        m.apply(&ServerMsg::Ticker(e), at);
    };
    tick(&mut m, 1, "BTC_USDT", NOW);
    tick(&mut m, 2, "ETH_USDT", NOW + 30_000);
    let live = LinkState::Live;
    // The watchlist's rule (`app::is_stale`) at 60 s.
    let stale = |age: i64| age >= 60_000;
    assert!(
        d.staleness(&m, live, 60_000, stale, NOW + 59_000)
            .is_empty()
    );
    let found = d.staleness(&m, live, 60_000, stale, NOW + 61_000);
    assert_eq!(kinds(&found), [AlertKind::DataStale]);
    assert_eq!(found[0].symbol.as_deref(), Some("BTC_USDT"));
    assert_eq!(
        found[0].text,
        "majors: 1/2 stale: BTC_USDT (no market data for 1m)"
    );
    assert!(
        d.staleness(&m, live, 60_000, stale, NOW + 95_000)
            .is_empty(),
        "ETH stale too now: still the same episode"
    );
    tick(&mut m, 3, "BTC_USDT", NOW + 96_000);
    tick(&mut m, 4, "ETH_USDT", NOW + 96_000);
    assert!(
        d.staleness(&m, live, 60_000, stale, NOW + 97_000)
            .is_empty(),
        "fresh again"
    );
    // The link is down: its own alert says why the data ages.
    let later = NOW + 200_000;
    assert!(
        d.staleness(&m, LinkState::Reconnecting, 60_000, stale, later)
            .is_empty()
    );
    assert_eq!(
        kinds(&d.staleness(&m, live, 60_000, stale, later)),
        [AlertKind::DataStale]
    );
}
