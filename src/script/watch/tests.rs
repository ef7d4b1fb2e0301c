//! The watch loop against a scripted event stream: what reaches stdout, and what it asks of
//! the connection.

use super::*;
use std::pin::Pin;
use std::task::{Context, Poll};
use trademon_client::link::LinkStatus;

fn ev(json: &str) -> ClientEvent {
    ClientEvent::Message {
        msg: serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}")),
        raw: json.to_string(),
    }
}

fn link(state: LinkState) -> ClientEvent {
    let mut s = LinkStatus::new("ws://127.0.0.1:1/ws");
    s.state = state;
    ClientEvent::Link(s)
}

const SESSIONS: &str = r#"{"type":"full_update","stream":"sessions","seq":2,"ts":1,"data":{"sessions":[{"id":"a","name":"A","mode":"paper","strategy":"demo","symbols":["BTC_USDT"],"state":"running"},{"id":"b","name":"B","mode":"paper","strategy":"demo","symbols":["ETH_USDT"],"state":"running"}]}}"#;

fn signals_full(session: &str, seq: u64) -> String {
    format!(
        r#"{{"type":"full_update","stream":"signals","session_id":"{session}","seq":{seq},"ts":1,"data":{{"signals":[]}}}}"#
    )
}

fn signal(session: &str, seq: u64) -> String {
    format!(
        r#"{{"type":"signal","stream":"signals","session_id":"{session}","seq":{seq},"ts":1,"data":{{"id":{seq},"symbol":"BTC_USDT","side":"BUY","price":1.0,"reason":"r","kind":"entry","at_ms":1}}}}"#
    )
}

fn opts(streams: &[StreamName], session: Option<&str>) -> WatchOptions {
    WatchOptions {
        streams: streams.to_vec(),
        session: session.map(str::to_string),
        close_timeout: Duration::from_millis(50),
    }
}

/// Runs the watch over `events` (then the stop future fires); returns the end, the lines
/// printed and the commands sent.
async fn watch(
    o: &WatchOptions,
    events: Vec<ClientEvent>,
) -> (WatchEnd, Vec<String>, Vec<ClientCommand>) {
    let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::channel(64);
    for e in events {
        ev_tx.send(e).await.unwrap();
    }
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // Stop once every event has been read: the channel is drained in order before this.
    let stopper = tokio::spawn(async move {
        while ev_tx.capacity() < ev_tx.max_capacity() {
            tokio::task::yield_now().await;
        }
        let _ = stop_tx.send(());
        // Keep the sender (the "connection") alive until the watch shuts it down.
        ev_tx
    });
    let mut out = Vec::new();
    let end = run(
        o,
        ClientHandle { commands: cmd_tx },
        ev_rx,
        &mut out,
        async {
            let _ = stop_rx.await;
        },
    )
    .await;
    drop(stopper);
    let mut cmds = Vec::new();
    while let Ok(c) = cmd_rx.try_recv() {
        cmds.push(c);
    }
    let text = String::from_utf8(out).unwrap();
    (end, text.lines().map(str::to_string).collect(), cmds)
}

#[tokio::test]
async fn chosen_streams_of_every_session_print_in_seq_order() {
    let o = opts(&[StreamName::Signals], None);
    let (end, lines, cmds) = watch(
        &o,
        vec![
            link(LinkState::Connecting),
            link(LinkState::Live),
            link(LinkState::Live),
            ev(SESSIONS),
            ev(&signal("a", 4)),
            ev(&signals_full("a", 4)),
            ev(&signal("a", 5)),
            ev(&signals_full("b", 0)),
            ev(&signal("b", 1)),
            ev(&signal("a", 5)),
            ev(&signal("a", 6)),
        ],
    )
    .await;
    assert!(matches!(end, WatchEnd::Stopped), "{end:?}");
    let types: Vec<(String, Option<String>, Option<u64>)> = lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["type"].as_str().unwrap().to_string(),
                v["session_id"].as_str().map(str::to_string),
                v["seq"].as_u64(),
            )
        })
        .collect();
    let t =
        |ty: &str, s: Option<&str>, seq: Option<u64>| (ty.to_string(), s.map(str::to_string), seq);
    assert_eq!(
        types,
        vec![
            t("link", None, None),
            t("link", None, None),
            // `sessions` is followed but not chosen: not printed.
            t("full_update", Some("a"), Some(4)),
            t("signal", Some("a"), Some(5)),
            t("full_update", Some("b"), Some(0)),
            t("signal", Some("b"), Some(1)),
            t("signal", Some("a"), Some(6)),
        ]
    );
    // The sessions' streams were subscribed, then the close asked for.
    let Some(ClientCommand::SetSubscriptions(set)) = cmds.first() else {
        panic!("{cmds:?}");
    };
    let wanted: BTreeSet<Subscription> = [
        (StreamName::Sessions, None),
        (StreamName::Signals, Some("a")),
        (StreamName::Signals, Some("b")),
    ]
    .into_iter()
    .map(|(stream, s)| Subscription {
        stream,
        session_id: s.map(str::to_string),
    })
    .collect();
    assert_eq!(set, &wanted);
    assert_eq!(cmds.last(), Some(&ClientCommand::Shutdown));
}

#[tokio::test]
async fn a_gap_resyncs_and_says_so() {
    let o = opts(&[StreamName::Signals], Some("a"));
    let (_, lines, cmds) = watch(
        &o,
        vec![
            ev(SESSIONS),
            ev(&signals_full("a", 4)),
            ev(&signals_full("b", 4)),
            ev(&signal("a", 7)),
            ev(&signal("a", 8)),
            ev(&signals_full("a", 8)),
            ev(&signal("a", 9)),
        ],
    )
    .await;
    let v: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v.len(), 4, "{lines:?}");
    assert_eq!(v[0]["seq"], 4);
    assert_eq!(v[0]["session_id"], "a", "session b is filtered out");
    assert_eq!(v[1]["type"], "resync");
    assert_eq!(v[1]["expected"], 5);
    assert_eq!(v[1]["got"], 7);
    assert_eq!(v[2]["type"], "full_update");
    assert_eq!(v[2]["seq"], 8);
    assert_eq!(v[3]["seq"], 9);
    assert!(cmds.contains(&ClientCommand::Resync(Subscription {
        stream: StreamName::Signals,
        session_id: Some("a".into()),
    })));
}

#[tokio::test]
async fn an_unknown_session_ends_the_watch_naming_the_sessions() {
    let o = opts(&[StreamName::Signals], Some("nope"));
    let (end, _, _) = watch(&o, vec![ev(SESSIONS)]).await;
    match end {
        WatchEnd::UnknownSession { id, valid } => {
            assert_eq!(id, "nope");
            assert_eq!(valid, vec!["a".to_string(), "b".to_string()]);
        }
        other => panic!("{other:?}"),
    }
}

/// stdout whose reader went away.
struct ClosedPipe;

impl AsyncWrite for ClosedPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_closed_stdout_ends_the_watch_with_a_normal_close() {
    let o = opts(&[StreamName::Signals], None);
    let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::channel(8);
    ev_tx.send(link(LinkState::Live)).await.unwrap();
    let end = run(
        &o,
        ClientHandle { commands: cmd_tx },
        ev_rx,
        ClosedPipe,
        std::future::pending(),
    )
    .await;
    assert!(matches!(end, WatchEnd::StdoutClosed), "{end:?}");
    assert_eq!(cmd_rx.try_recv().ok(), Some(ClientCommand::Shutdown));
}

#[tokio::test]
async fn a_refusal_for_good_ends_the_watch() {
    let o = opts(&[StreamName::Signals], None);
    let mut s = LinkStatus::new("ws://127.0.0.1:1/ws");
    s.state = LinkState::Disconnected;
    s.last_close = Some(trademon_protocol::CloseInfo {
        initiator: trademon_protocol::Initiator::Remote,
        code: 4501,
        reason: "auth failed".into(),
        at_ms: 1,
    });
    let (end, lines, _) = watch(&o, vec![ClientEvent::Link(s)]).await;
    match end {
        WatchEnd::Refused(why) => assert!(why.contains("4501: auth failed"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(lines.len(), 1, "the link line still went out: {lines:?}");
}

#[test]
fn global_streams_are_followed_from_the_start() {
    let o = opts(&[StreamName::Events, StreamName::Signals], None);
    let set = initial_subscriptions(&o);
    let names: Vec<StreamName> = set.iter().map(|s| s.stream).collect();
    assert_eq!(names, vec![StreamName::Sessions, StreamName::Events]);
    assert!(set.iter().all(|s| s.session_id.is_none()));
}
