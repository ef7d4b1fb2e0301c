//! The status verdict from scripted client events: Live only with every first snapshot in and
//! the TUI's headline Live; the reason otherwise.

use super::*;

const NOW: i64 = 1_763_772_010_000;

fn msg(json: &str) -> ClientEvent {
    ClientEvent::Message {
        msg: serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}")),
        raw: json.to_string(),
    }
}

fn link(state: LinkState, error: Option<&str>) -> ClientEvent {
    let mut s = LinkStatus::new("ws://127.0.0.1:7878/ws");
    s.state = state;
    s.last_error = error.map(|e| (e.to_string(), 1));
    ClientEvent::Link(s)
}

const SESSIONS: &str = r#"{"type":"full_update","stream":"sessions","seq":2,"ts":1763772010000,"data":{"sessions":[{"id":"majors","name":"Majors","mode":"paper","strategy":"demo","symbols":["BTC_USDT"],"state":"running"},{"id":"alts","name":"Alts","mode":"paper","strategy":"demo","symbols":["DOGE_USDT"],"state":"stopped"}]}}"#;

fn health(state: &str, source: &str) -> String {
    format!(
        r#"{{"type":"full_update","stream":"health","seq":5,"ts":1763772010000,"data":{{"health":{{"backend_started_ms":1763772000000,"clients":1,"market":"simulator","upstream":{{"state":"{state}","url":"ws://sim","reconnects":0,"subscriptions":{{"pending":0,"acked":0,"live":2,"stale":0,"failed":0}},"source":"{source}"}}}}}}}}"#
    )
}

fn market(session: &str, symbol: &str) -> String {
    format!(
        r#"{{"type":"full_update","stream":"market_data","session_id":"{session}","seq":9,"ts":1763772010000,"data":{{"market_data":[{{"symbol":"{symbol}","last":1.5,"received_ms":1763772009900,"source":"ws"}}]}}}}"#
    )
}

fn positions(session: &str) -> String {
    format!(
        r#"{{"type":"full_update","stream":"positions","session_id":"{session}","seq":3,"ts":1763772010000,"data":{{"positions":{{"open":[{{"id":3,"symbol":"BTC_USDT","direction":"long","status":"open","size_quote":100.0,"leverage":5.0,"entry_price":95142.4,"mark_price":95500.0,"unrealized_pnl":0.3758,"realized_pnl":0.0,"fees":0.06,"pnl_pct":1.579,"liquidation_price":77065.34,"distance_to_liq_pct":19.3,"alert":false,"opened_at_ms":1763772003400}}],"closed":[],"totals":{{"started_ms":1763772000000,"realized_pnl":-1.1,"unrealized_pnl":0.3758,"fees":0.06,"open_positions":1,"signals":4,"closed_fees":0.0,"closed_trades":2,"winning_trades":1}}}}}}}}"#
    )
}

fn options() -> StatusOptions {
    StatusOptions {
        timeout: Duration::from_millis(1500),
        stale_after_ms: 60_000,
        close_timeout: Duration::from_millis(10),
    }
}

/// Feeds the events; returns what the status saw, the outcome that ended the wait (if one
/// did) and the commands it sent.
fn observe(events: Vec<ClientEvent>) -> (Observed, Option<Outcome>, Vec<ClientCommand>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let client = ClientHandle { commands: tx };
    let mut seen = Observed::new("ws://127.0.0.1:7878/ws");
    let mut outcome = None;
    for e in events {
        if let Some(o) = seen.on_event(e, &client, NOW) {
            outcome = Some(o);
            break;
        }
        if seen.is_live(60_000, NOW) {
            outcome = Some(Outcome::Live);
            break;
        }
    }
    let mut cmds = Vec::new();
    while let Ok(c) = rx.try_recv() {
        cmds.push(c);
    }
    (seen, outcome, cmds)
}

fn healthy(upstream: (&str, &str)) -> Vec<ClientEvent> {
    vec![
        link(LinkState::Connecting, None),
        link(LinkState::Live, None),
        msg(SESSIONS),
        msg(&health(upstream.0, upstream.1)),
        msg(&market("majors", "BTC_USDT")),
        msg(&positions("majors")),
        msg(&market("alts", "DOGE_USDT")),
        msg(&positions("alts")),
    ]
}

#[test]
fn live_once_every_first_snapshot_is_in() {
    let (seen, outcome, cmds) = observe(healthy(("live", "ws")));
    assert_eq!(outcome, Some(Outcome::Live));
    // Each session's rows and book were asked for once the sessions were known.
    let Some(ClientCommand::SetSubscriptions(set)) = cmds.first() else {
        panic!("{cmds:?}");
    };
    assert_eq!(set.len(), 6, "{set:?}");
    let r = seen.report(&Outcome::Live, &options(), NOW);
    assert_eq!(r.level, StatusLevel::Live);
    assert_eq!(r.exit_code, 0);
    assert_eq!(r.headline, "● Live (simulated)");
    assert_eq!(r.sessions.len(), 2);
    let majors = &r.sessions[0];
    assert_eq!(majors.info.id, "majors");
    assert_eq!(
        majors.rows,
        Rows {
            total: 1,
            stale: 0,
            missing: 0
        }
    );
    assert_eq!(majors.open_positions.len(), 1);
    let totals = majors.totals.as_ref().expect("totals");
    assert_eq!(totals.realized_pnl, -1.1);
    // The JSON round-trips (what a script parses is this type).
    let text = serde_json::to_string(&r).unwrap();
    let back: StatusReport = serde_json::from_str(&text).unwrap();
    assert_eq!(back, r);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["type"], "status");
    assert_eq!(v["level"], "live");
    assert_eq!(v["sessions"][0]["id"], "majors", "session fields are flat");
}

#[test]
fn a_rest_fallback_is_degraded_at_the_deadline() {
    let (seen, outcome, _) = observe(healthy(("rest_polling", "rest")));
    assert_eq!(outcome, None, "not Live: the wait goes on to the deadline");
    let r = seen.report(&Outcome::Deadline, &options(), NOW);
    assert_eq!(r.level, StatusLevel::Degraded);
    assert_eq!(r.exit_code, 1);
    assert_eq!(r.headline, "◐ Degraded — simulator REST fallback");
}

#[test]
fn stale_rows_of_a_running_session_are_not_live() {
    let (seen, outcome, _) = observe(healthy(("live", "ws")));
    assert_eq!(outcome, Some(Outcome::Live));
    // Two minutes on, the one row is stale (the stopped session's row does not count).
    let later = NOW + 120_000;
    let r = seen.report(&Outcome::Deadline, &options(), later);
    assert_eq!(r.level, StatusLevel::NoData);
    assert!(r.headline.contains("1/1 stale"), "{}", r.headline);
    assert_eq!(r.sessions[0].rows.stale, 1);
}

#[test]
fn a_backend_that_refuses_the_connection_is_unreachable_at_once() {
    let (seen, outcome, _) = observe(vec![
        link(LinkState::Connecting, None),
        link(
            LinkState::Reconnecting,
            Some("IO error: Connection refused (os error 111)"),
        ),
    ]);
    assert_eq!(outcome, Some(Outcome::Unreachable));
    let r = seen.report(&Outcome::Unreachable, &options(), NOW);
    assert_eq!(r.level, StatusLevel::Unreachable);
    assert_eq!(r.exit_code, 1);
    assert_eq!(
        r.headline,
        "✕ Disconnected — backend unreachable: IO error: Connection refused (os error 111) (ws://127.0.0.1:7878/ws)"
    );
    assert!(r.sessions.is_empty());
}

#[test]
fn a_link_lost_while_looking_ends_the_wait() {
    let mut events = healthy(("rest_polling", "rest"));
    events.push(link(LinkState::Reconnecting, None));
    let (_, outcome, _) = observe(events);
    assert_eq!(outcome, Some(Outcome::Unreachable));
}

#[test]
fn missing_snapshots_at_the_deadline_are_named() {
    let (seen, outcome, _) = observe(vec![link(LinkState::Live, None), msg(SESSIONS)]);
    assert_eq!(outcome, None);
    let r = seen.report(&Outcome::Deadline, &options(), NOW);
    assert_eq!(r.level, StatusLevel::Connecting);
    assert_eq!(r.exit_code, 1);
    let why = r.reasons.join("; ");
    assert!(why.contains("no full snapshot within 1500 ms"), "{why}");
    assert!(why.contains("health"), "{why}");
    assert!(why.contains("market_data of majors"), "{why}");
    assert!(why.contains("positions of alts"), "{why}");
}

/// The whole wait with tokio's clock paused: an unreachable backend ends it at once, missing
/// snapshots at the deadline, and the link is closed either way (Live ending it at once is
/// `live_once_every_first_snapshot_is_in` and the e2e test).
#[tokio::test(start_paused = true)]
async fn the_wait_ends_when_live_or_at_the_deadline() {
    let run = |events: Vec<ClientEvent>| async move {
        let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::channel(64);
        for e in events {
            ev_tx.send(e).await.unwrap();
        }
        let started = tokio::time::Instant::now();
        let opts = options();
        let report = collect(
            &opts,
            "ws://127.0.0.1:7878/ws",
            ClientHandle { commands: cmd_tx },
            ev_rx,
        )
        .await;
        let waited = started.elapsed();
        drop(ev_tx);
        let mut cmds = Vec::new();
        while let Ok(c) = cmd_rx.try_recv() {
            cmds.push(c);
        }
        (report, waited, cmds)
    };
    let (report, waited, cmds) = run(vec![link(LinkState::Live, None), msg(SESSIONS)]).await;
    assert_eq!(report.level, StatusLevel::Connecting);
    // The deadline, plus the close handshake's wait (the test keeps the channel open).
    assert!(waited >= Duration::from_millis(1500), "{waited:?}");
    assert!(waited < Duration::from_millis(1600), "{waited:?}");
    assert_eq!(cmds.last(), Some(&ClientCommand::Shutdown));

    let (report, waited, _) = run(vec![
        link(LinkState::Connecting, None),
        link(LinkState::Reconnecting, Some("refused")),
    ])
    .await;
    assert_eq!(report.level, StatusLevel::Unreachable);
    assert!(waited < Duration::from_millis(100), "at once: {waited:?}");
}
