//! Hands events to the UI without letting the socket reader stall behind it.
//!
//! Conflatable market messages (tickers, health: the next one replaces this one anyway) are
//! offered with `try_send` and dropped when the UI is a whole channel behind. Everything else
//! (ordered stream messages, acks, link status, notices) is awaited: the UI always drains the
//! channel and never waits on this task, so awaiting cannot deadlock, and dropping an ordered
//! message would only force a resync.

use super::ClientEvent;
use tokio::sync::mpsc;
use trademon_protocol::ServerMsg;

/// The UI dropped its receiver: nobody is listening any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gone;

#[derive(Debug)]
pub struct Outbox {
    tx: mpsc::Sender<ClientEvent>,
}

impl Outbox {
    pub fn new(tx: mpsc::Sender<ClientEvent>) -> Self {
        Outbox { tx }
    }

    pub async fn send(&self, ev: ClientEvent) -> Result<(), Gone> {
        self.tx.send(ev).await.map_err(|_| Gone)
    }

    /// Delivers a server message; returns `Ok(false)` if it was dropped because the UI is behind.
    pub async fn message(&self, msg: ServerMsg, raw: String) -> Result<bool, Gone> {
        let ev = ClientEvent::Message { msg, raw };
        if !is_conflatable(&ev) {
            return self.send(ev).await.map(|()| true);
        }
        match self.tx.try_send(ev) {
            Ok(()) => Ok(true),
            Err(mpsc::error::TrySendError::Full(_)) => Ok(false),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Gone),
        }
    }

    /// Resolves when the UI dropped its receiver.
    pub async fn closed(&self) {
        self.tx.closed().await
    }

    /// Best effort (for notices about drops, which must not block either).
    pub fn try_send(&self, ev: ClientEvent) {
        let _ = self.tx.try_send(ev);
    }
}

/// Deltas of conflated streams; a `full_update` is never dropped (it resyncs the model).
fn is_conflatable(ev: &ClientEvent) -> bool {
    match ev {
        ClientEvent::Message { msg, .. } => {
            !matches!(msg, ServerMsg::FullUpdate(_))
                && msg
                    .stream_position()
                    .is_some_and(|(stream, _, _)| stream.is_conflated())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trademon_protocol::{Ack, DataSource, Envelope, StreamName, Ticker};

    fn ticker(seq: u64) -> ServerMsg {
        ServerMsg::Ticker(Envelope {
            interval: None,
            symbol: None,
            stream: StreamName::MarketData,
            session_id: Some("s".into()),
            seq,
            ts: 0,
            data: Ticker {
                next_funding_ms: None,
                high_24h: None,
                low_24h: None,
                open_interest: None,
                symbol: "BTC_USDT".into(),
                last: 1.0,
                bid: None,
                ask: None,
                change_pct: None,
                volume_24h: None,
                fair_price: None,
                index_price: None,
                funding_rate: None,
                price_decimals: None,
                received_ms: 0,
                source: DataSource::Ws,
            },
        })
    }

    #[tokio::test]
    async fn full_channel_drops_tickers_but_never_blocks() {
        let (tx, mut rx) = mpsc::channel(1);
        let out = Outbox::new(tx);
        assert_eq!(out.message(ticker(1), String::new()).await, Ok(true));
        assert_eq!(out.message(ticker(2), String::new()).await, Ok(false));
        rx.recv().await;
        let ack = ServerMsg::Ack(Ack {
            id: 1,
            stream: StreamName::Sessions,
            session_id: None,
        });
        assert_eq!(out.message(ack, String::new()).await, Ok(true));
        drop(rx);
        assert_eq!(out.message(ticker(3), String::new()).await, Err(Gone));
    }
}
