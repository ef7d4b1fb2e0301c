//! How often the hub publishes `health`, counted on paused time.

use super::{HubCmd, HubInputs, HubSettings, spawn};
use crate::queue::{ClientQueue, QueueLimits};
use crate::queue_meter::QueueMeter;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use trademon_engine::Engine;
use trademon_protocol::{ClientMsg, ServerMsg, UpstreamHealth};

/// Every message the queue holds now, decoded.
fn drain(q: &ClientQueue) -> Vec<ServerMsg> {
    let mut out = Vec::new();
    let mut batch = Vec::new();
    loop {
        batch.clear();
        assert!(q.take_batch(64, 1 << 20, &mut batch).is_none(), "closed");
        if batch.is_empty() {
            return out;
        }
        out.extend(batch.iter().map(|m| serde_json::from_str(m).unwrap()));
    }
}

#[tokio::test(start_paused = true)]
async fn health_goes_out_once_per_interval_however_often_upstream_changes() {
    let (_market_tx, market) = mpsc::channel(16);
    let (upstream_tx, upstream) = watch::channel(UpstreamHealth::default());
    let (symbols, _symbols_rx) = watch::channel(BTreeSet::new());
    let (_logs_tx, log_events) = mpsc::channel(16);
    let (hub, _task) = spawn(
        HubSettings {
            epoch: "e".into(),
            started_ms: 0,
            events_max: 100,
            health_interval: Duration::from_secs(1),
            engine_tick: Duration::from_secs(1),
            flush_interval: Duration::from_millis(250),
            sessions_file: None,
            paper_journal: None,
            market: Default::default(),
            views: crate::ViewsConfig {
                candles_max: 100,
                tape_max: 100,
                book_interval_ms: 100,
            },
        },
        Engine::new(Default::default(), Default::default()).unwrap(),
        Vec::new(),
        HubInputs {
            market,
            upstream,
            symbols,
            feeds: watch::channel(BTreeSet::new()).0,
            log_events,
            store: None,
            store_health: None,
            history: None,
        },
    );
    let queue = Arc::new(ClientQueue::new(
        QueueLimits {
            max_msgs: 1024,
            max_bytes: 1 << 20,
        },
        Arc::new(QueueMeter::default()),
    ));
    hub.send(HubCmd::Register {
        conn: 1,
        conn_id: "c-1".into(),
        queue: queue.clone(),
    });
    hub.send(HubCmd::Client {
        conn: 1,
        msg: ClientMsg::Subscribe {
            interval: None,
            symbol: None,
            id: 1,
            stream: "health".into(),
            session_id: None,
        },
    });
    tokio::time::sleep(Duration::from_millis(1)).await;
    let first = drain(&queue);
    assert!(
        matches!(
            first.as_slice(),
            [ServerMsg::Ack(_), ServerMsg::FullUpdate(_), ..]
        ),
        "{first:?}"
    );

    // The upstream's ages change all the time; a client also connects and leaves. Read like
    // a fast client: every 50 ms, so the queue's conflation hides nothing.
    let mut health = 0;
    let mut last_pong_age = None;
    for step in 0..200u64 {
        upstream_tx.send_modify(|h| h.pong_age_ms = Some(step));
        if step == 50 {
            hub.send(HubCmd::Register {
                conn: 2,
                conn_id: "c-2".into(),
                queue: Arc::new(ClientQueue::new(
                    QueueLimits {
                        max_msgs: 16,
                        max_bytes: 1 << 16,
                    },
                    Arc::new(QueueMeter::default()),
                )),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        for m in drain(&queue) {
            if let ServerMsg::Health(e) = m {
                health += 1;
                last_pong_age = e.data.upstream.pong_age_ms;
            }
        }
    }
    // 10 s of paused time at a 1 s interval: 10 messages (one boundary either way).
    assert!(
        (9..=11).contains(&health),
        "{health} health messages in 10 s"
    );
    // Each one carries the latest state, not the one of its tick's start.
    assert!(last_pong_age >= Some(180), "{last_pong_age:?}");
}
