use super::*;

fn set(symbols: &[&str]) -> BTreeSet<String> {
    symbols.iter().map(|s| s.to_string()).collect()
}

fn drain(s: &mut Subscriptions) -> Vec<Command> {
    let now = Instant::now();
    std::iter::from_fn(|| s.next_command(now)).collect()
}

fn sub(ch: Channel, sym: &str) -> Command {
    Command::Sub(ch, sym.into())
}

fn ack(s: &mut Subscriptions, ch: Channel) -> Option<String> {
    s.on_ack(ch.name(), true, Instant::now()).map(|k| k.1)
}

fn data(s: &mut Subscriptions, ch: Channel, sym: &str) -> DataVerdict {
    s.on_data(ch, sym, Instant::now())
}

#[test]
fn connect_subscribes_ticker_and_deal_for_every_symbol() {
    let mut s = Subscriptions::new();
    s.set_desired(&set(&["BTC_USDT", "ETH_USDT"]));
    assert!(!s.has_outbox(), "nothing is sent while disconnected");
    s.on_connected();
    assert_eq!(
        drain(&mut s),
        vec![
            sub(Channel::Ticker, "BTC_USDT"),
            sub(Channel::Ticker, "ETH_USDT"),
            sub(Channel::Deal, "BTC_USDT"),
            sub(Channel::Deal, "ETH_USDT"),
        ]
    );
    assert_eq!(s.counts().pending, 4);
}

#[test]
fn acks_match_fifo_per_channel_and_data_makes_live() {
    let mut s = Subscriptions::new();
    s.set_desired(&set(&["A_USDT", "B_USDT"]));
    s.on_connected();
    drain(&mut s);
    assert_eq!(ack(&mut s, Channel::Deal).as_deref(), Some("A_USDT"));
    assert_eq!(s.state(Channel::Deal, "A_USDT"), Some(SubState::Acked));
    assert_eq!(s.state(Channel::Ticker, "A_USDT"), Some(SubState::Pending));
    // Data before ack: Live at once, and the later ack does not downgrade it.
    assert_eq!(
        data(&mut s, Channel::Deal, "B_USDT"),
        DataVerdict::FirstData
    );
    assert_eq!(ack(&mut s, Channel::Deal).as_deref(), Some("B_USDT"));
    assert_eq!(s.state(Channel::Deal, "B_USDT"), Some(SubState::Live));
    assert_eq!(data(&mut s, Channel::Deal, "B_USDT"), DataVerdict::Data);
    assert_eq!(ack(&mut s, Channel::Deal), None, "no stray acks");
    let c = s.counts();
    assert_eq!((c.pending, c.acked, c.live), (2, 1, 1));
}

#[test]
fn error_without_symbol_answers_the_oldest_and_keeps_fifo_aligned() {
    let mut s = Subscriptions::new();
    s.set_desired(&set(&["A_USDT", "B_USDT"]));
    s.on_connected();
    drain(&mut s); // ticker A, ticker B, deal A, deal B
    assert_eq!(
        s.on_unattributed_error("Contract doesn't exist!"),
        Some((Channel::Ticker, "A_USDT".to_string()))
    );
    // The next ticker ack belongs to B, not to A.
    assert_eq!(ack(&mut s, Channel::Ticker).as_deref(), Some("B_USDT"));
    assert_eq!(s.state(Channel::Ticker, "A_USDT"), Some(SubState::Pending));
    assert_eq!(
        s.get(Channel::Ticker, "A_USDT").unwrap().error.as_deref(),
        Some("Contract doesn't exist!")
    );
}

#[test]
fn unsent_subscriptions_are_not_awaiting_acks() {
    let mut s = Subscriptions::new();
    s.set_desired(&set(&["A_USDT", "B_USDT"]));
    s.on_connected();
    s.next_command(Instant::now()); // ticker A only
    assert_eq!(ack(&mut s, Channel::Ticker).as_deref(), Some("A_USDT"));
    assert_eq!(ack(&mut s, Channel::Ticker), None);
}

#[test]
fn watch_set_changes_sub_new_and_unsub_removed() {
    let mut s = Subscriptions::new();
    s.set_desired(&set(&["A_USDT", "B_USDT"]));
    s.on_connected();
    drain(&mut s);
    s.set_desired(&set(&["B_USDT", "C_USDT"]));
    assert_eq!(
        drain(&mut s),
        vec![
            Command::Unsub(Channel::Ticker, "A_USDT".into()),
            Command::Unsub(Channel::Deal, "A_USDT".into()),
            sub(Channel::Ticker, "C_USDT"),
            sub(Channel::Deal, "C_USDT"),
        ]
    );
    assert_eq!(
        data(&mut s, Channel::Deal, "A_USDT"),
        DataVerdict::NotSubscribed
    );
    // A's ack was still outstanding and must be consumed before B's.
    assert_eq!(ack(&mut s, Channel::Ticker).as_deref(), Some("A_USDT"));
    assert_eq!(ack(&mut s, Channel::Ticker).as_deref(), Some("B_USDT"));
}

#[test]
fn removing_an_unsent_symbol_just_drops_its_subscribes() {
    let mut s = Subscriptions::new();
    s.set_desired(&set(&["A_USDT"]));
    s.on_connected();
    s.set_desired(&set(&[]));
    assert_eq!(drain(&mut s), vec![]);
    assert_eq!(s.counts(), SubscriptionCounts::default());
}

#[test]
fn refused_contract_fails_once_keeps_fifo_and_is_not_resubscribed() {
    let mut s = Subscriptions::new();
    s.set_desired(&set(&["NOPE_USDT", "BTC_USDT"]));
    s.on_connected();
    drain(&mut s);
    assert!(s.on_contract_refused("NOPE_USDT", "Contract [NOPE_USDT] not exists"));
    assert!(!s.on_contract_refused("NOPE_USDT", "Contract [NOPE_USDT] not exists"));
    assert_eq!(ack(&mut s, Channel::Ticker).as_deref(), Some("BTC_USDT"));
    assert_eq!(ack(&mut s, Channel::Deal).as_deref(), Some("BTC_USDT"));
    assert_eq!(s.counts().failed, 2);
    assert_eq!(s.counts().acked, 2);
    assert!(
        !s.resubscribe(Channel::Ticker, "NOPE_USDT"),
        "never retried"
    );

    s.on_disconnected();
    s.on_connected();
    let cmds = drain(&mut s);
    assert!(
        cmds.iter()
            .all(|c| !matches!(c, Command::Sub(_, x) if x == "NOPE_USDT")),
        "failed symbol must not be retried on reconnect: {cmds:?}"
    );
    assert_eq!(cmds.len(), 2);
    let list = s.list(Instant::now());
    let nope = list.iter().find(|x| x.symbol == "NOPE_USDT").unwrap();
    assert_eq!(nope.state, StreamState::Failed);
    assert_eq!(
        nope.error.as_deref(),
        Some("Contract [NOPE_USDT] not exists")
    );

    // Leaving and re-entering the watch set is the explicit way to try again.
    s.set_desired(&set(&["BTC_USDT"]));
    assert!(s.failed().is_empty());
    s.set_desired(&set(&["BTC_USDT", "NOPE_USDT"]));
    assert_eq!(drain(&mut s).len(), 2);
}

#[test]
fn disconnect_resets_states_and_reconnect_resubscribes_everything() {
    let mut s = Subscriptions::new();
    s.set_desired(&set(&["A_USDT"]));
    s.on_connected();
    drain(&mut s);
    data(&mut s, Channel::Ticker, "A_USDT");
    s.on_disconnected();
    assert_eq!(s.counts().pending, 2);
    s.set_desired(&set(&["A_USDT", "B_USDT"]));
    assert!(!s.has_outbox());
    s.on_connected();
    assert_eq!(drain(&mut s).len(), 4);
    assert_eq!(
        data(&mut s, Channel::Ticker, "A_USDT"),
        DataVerdict::FirstData
    );
}

#[test]
fn ready_for_rotation_needs_live_tickers_and_acked_deals() {
    let mut s = Subscriptions::new();
    s.set_desired(&set(&["A_USDT"]));
    s.on_connected();
    drain(&mut s);
    assert!(!s.ready());
    ack(&mut s, Channel::Deal);
    ack(&mut s, Channel::Ticker);
    assert!(!s.ready(), "an acked ticker is not proof");
    data(&mut s, Channel::Ticker, "A_USDT");
    assert!(s.ready(), "a quiet but acked deal stream is enough");
}

fn unsub(ch: Channel, sym: &str) -> Command {
    Command::Unsub(ch, sym.into())
}

fn feeds(list: &[(Channel, &str)]) -> BTreeSet<Key> {
    list.iter().map(|(c, s)| (*c, s.to_string())).collect()
}

#[test]
fn feeds_ride_beside_the_watch_set_and_acks_match_by_method() {
    use trademon_protocol::Interval;
    let m1 = Channel::Kline(Interval::Min1);
    let m5 = Channel::Kline(Interval::Min5);
    let mut s = Subscriptions::new();
    s.set_desired(&set(&["BTC_USDT"]));
    s.on_connected();
    drain(&mut s);
    // A viewed symbol no session watches, and one that is watched.
    s.set_feeds(&feeds(&[
        (m1, "ETH_USDT"),
        (Channel::Depth, "ETH_USDT"),
        (m5, "BTC_USDT"),
    ]));
    assert_eq!(
        drain(&mut s),
        vec![
            sub(m5, "BTC_USDT"),
            sub(m1, "ETH_USDT"),
            sub(Channel::Depth, "ETH_USDT")
        ]
    );
    assert_eq!(
        s.desired(),
        &set(&["BTC_USDT"]),
        "feeds are not watched symbols"
    );
    // `rs.sub.kline` names no interval: the oldest kline subscribe takes it.
    assert_eq!(
        s.on_ack("kline", true, Instant::now()),
        Some((m5, "BTC_USDT".into()))
    );
    assert_eq!(
        s.on_ack("kline", true, Instant::now()),
        Some((m1, "ETH_USDT".into()))
    );
    assert_eq!(s.on_ack("kline", true, Instant::now()), None);
    // Rotation needs acked feeds, not data (a quiet book may not move).
    ack(&mut s, Channel::Ticker);
    ack(&mut s, Channel::Deal);
    data(&mut s, Channel::Ticker, "BTC_USDT");
    assert!(!s.ready(), "depth not acked yet");
    ack(&mut s, Channel::Depth);
    assert!(s.ready());
    // Gaps are shown per stream, with the interval in the kline channel name.
    s.note_gap(Channel::Depth, "ETH_USDT");
    s.note_gap(Channel::Depth, "ETH_USDT");
    let list = s.list(Instant::now());
    let depth = list.iter().find(|x| x.channel == "depth").unwrap();
    assert_eq!((depth.symbol.as_str(), depth.gaps), ("ETH_USDT", 2));
    assert!(
        list.iter()
            .any(|x| x.channel == "kline.Min5" && x.symbol == "BTC_USDT")
    );
    // The view closes: its feeds are unsubscribed, the watched symbol stays.
    s.set_feeds(&BTreeSet::new());
    assert_eq!(
        drain(&mut s),
        vec![
            unsub(m5, "BTC_USDT"),
            unsub(m1, "ETH_USDT"),
            unsub(Channel::Depth, "ETH_USDT")
        ]
    );
    assert_eq!(s.counts().live, 1);
}

#[test]
fn a_refused_viewed_symbol_fails_once_and_new_feeds_of_it_start_failed() {
    use trademon_protocol::Interval;
    let mut s = Subscriptions::new();
    s.on_connected();
    s.set_feeds(&feeds(&[(Channel::Depth, "NOPE_USDT")]));
    drain(&mut s);
    assert!(s.on_contract_refused("NOPE_USDT", "Contract [NOPE_USDT] not exists"));
    assert!(!s.on_contract_refused("NOPE_USDT", "Contract [NOPE_USDT] not exists"));
    s.set_feeds(&feeds(&[
        (Channel::Depth, "NOPE_USDT"),
        (Channel::Kline(Interval::Min1), "NOPE_USDT"),
    ]));
    assert!(!s.has_outbox(), "never sent");
    assert_eq!(s.counts().failed, 2);
    assert_eq!(
        s.get(Channel::Kline(Interval::Min1), "NOPE_USDT")
            .and_then(|x| x.error.clone())
            .as_deref(),
        Some("Contract [NOPE_USDT] not exists")
    );
    assert!(!s.on_contract_refused("OTHER_USDT", "x"), "not ours");
}
