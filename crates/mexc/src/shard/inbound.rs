//! Inbound frames -> bookkeeping and [`MarketEvent`]s. A child of `shard` so it can use
//! the shard's state directly.

use tokio::time::Instant;

use trademon_core::market::MarketEvent;
use trademon_protocol::{DataSource, now_ms};

use super::super::dedupe::filter_shared;
use super::super::subscriptions::{DataVerdict, SubState};
use super::super::wire::{self, Channel, Inbound};
use super::{Shard, Shutdown};

impl Shard {
    /// Handle one text frame. `Err` only when the event receiver is gone.
    pub(super) async fn on_text(&mut self, text: &str, conn_id: &str) -> Result<(), Shutdown> {
        let now = Instant::now();
        let inbound = match wire::parse_frame(text) {
            Ok(i) => i,
            Err(e) => {
                self.shared
                    .malformed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if let Some(suppressed) = self.malformed.hit(now) {
                    let sample: String = text.chars().take(160).collect();
                    tracing::warn!(event = "mexc.malformed_frame", conn_id, error = %e, sample, suppressed, total = self.malformed.total);
                }
                return Ok(());
            }
        };
        match inbound {
            Inbound::Pong { .. } => {
                self.health.pong(now);
                self.pong.pong(now);
            }
            Inbound::SubAck { channel, ok, text } => {
                match self.subs.on_ack(channel, ok, now) {
                    Some((ch, symbol)) if ok => {
                        tracing::debug!(event = "mexc.sub_acked", conn_id, channel, symbol);
                        if !Channel::ALL.contains(&ch) {
                            self.feed_confirmed(ch, &symbol).await?;
                        }
                    }
                    Some((_, symbol)) => {
                        tracing::warn!(
                            event = "mexc.sub_not_success",
                            conn_id,
                            channel,
                            symbol,
                            text
                        );
                    }
                    None => {
                        tracing::debug!(event = "mexc.stray_ack", conn_id, channel)
                    }
                }
                self.publish();
            }
            Inbound::UnsubAck | Inbound::Ignored { .. } => {}
            Inbound::Error {
                text,
                contract: Some(symbol),
            } => {
                if self.subs.on_contract_refused(&symbol, &text) {
                    // Info, not warn: the backend turns this into the one event per instance.
                    tracing::info!(event = "mexc.symbol_failed", conn_id, symbol, reason = %text);
                    self.publish();
                    self.emit(MarketEvent::SymbolFailed {
                        symbol,
                        reason: text,
                    })
                    .await?;
                }
            }
            Inbound::Error {
                text,
                contract: None,
            } => {
                if wire::is_notice(&text) {
                    tracing::warn!(event = "mexc.rs_error", conn_id, text, kind = "notice");
                } else {
                    // A refusal naming no symbol still answers one subscribe: consume it so
                    // the FIFO stays aligned; the ack timeout retries that stream.
                    let key = self.subs.on_unattributed_error(&text);
                    let (channel, symbol) = key
                        .as_ref()
                        .map_or(("", ""), |(c, s)| (c.name(), s.as_str()));
                    tracing::warn!(
                        event = "mexc.rs_error",
                        conn_id,
                        text,
                        kind = "reply",
                        channel,
                        symbol
                    );
                    self.publish();
                }
            }
            Inbound::Skipped { channel, reason } => {
                tracing::debug!(event = "mexc.frame_skipped", conn_id, channel, reason);
            }
            Inbound::Kline {
                symbol,
                interval,
                candle,
            } => {
                let channel = Channel::Kline(interval);
                if self.accept_feed(channel, &symbol, conn_id).await? {
                    let effects = self.feeds.on_kline(&symbol, interval, candle);
                    self.apply(effects).await?;
                }
            }
            Inbound::Depth {
                symbol,
                delta,
                ts_ms,
            } => {
                if self.accept_feed(Channel::Depth, &symbol, conn_id).await? {
                    let effects = self.feeds.on_depth(&symbol, delta, ts_ms, now_ms(), now);
                    self.apply(effects).await?;
                }
            }
            Inbound::DepthFull { symbol, .. } => {
                // Never subscribed: the incremental book is kept from `push.depth`.
                tracing::debug!(
                    event = "mexc.unsubscribed_data",
                    conn_id,
                    channel = "depth.full",
                    symbol
                );
            }
            Inbound::Funding {
                symbol,
                rate,
                next_settle_ms,
            } => {
                if self
                    .accept_feed(Channel::FundingRate, &symbol, conn_id)
                    .await?
                {
                    let effects = self.feeds.on_funding(&symbol, rate, next_settle_ms);
                    self.apply(effects).await?;
                }
            }
            Inbound::Ticker(update) => {
                if self.accept_data(Channel::Ticker, &update.symbol, conn_id) {
                    self.emit(MarketEvent::Ticker {
                        update,
                        source: DataSource::Ws,
                    })
                    .await?;
                }
            }
            Inbound::Deals {
                symbol,
                trades,
                skipped_rows,
            } => {
                if skipped_rows > 0 {
                    tracing::debug!(
                        event = "mexc.deal_rows_skipped",
                        conn_id,
                        symbol,
                        skipped_rows
                    );
                }
                if self.accept_data(Channel::Deal, &symbol, conn_id) {
                    let trades = filter_shared(&self.shared.dedupe, &symbol, trades);
                    if !trades.is_empty() {
                        self.emit(MarketEvent::Trades {
                            symbol,
                            trades,
                            source: DataSource::Ws,
                        })
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// [`Self::accept_data`] for a feed: its first data confirms the stream (like its ack).
    async fn accept_feed(
        &mut self,
        channel: Channel,
        symbol: &str,
        conn_id: &str,
    ) -> Result<bool, Shutdown> {
        let first = self
            .subs
            .get(channel, symbol)
            .is_some_and(|s| s.state != SubState::Live || s.stale);
        if !self.accept_data(channel, symbol, conn_id) {
            return Ok(false);
        }
        if first {
            self.feed_confirmed(channel, symbol).await?;
        }
        Ok(true)
    }

    /// Subscription bookkeeping for a data frame; false if we are not subscribed to it.
    fn accept_data(&mut self, channel: Channel, symbol: &str, conn_id: &str) -> bool {
        let now = Instant::now();
        match self.subs.on_data(channel, symbol, now) {
            DataVerdict::NotSubscribed => {
                tracing::debug!(
                    event = "mexc.unsubscribed_data",
                    conn_id,
                    channel = channel.name(),
                    symbol
                );
                false
            }
            verdict => {
                self.health.data(now);
                if verdict == DataVerdict::FirstData {
                    tracing::debug!(
                        event = "mexc.stream_live",
                        conn_id,
                        channel = channel.name(),
                        symbol
                    );
                    self.publish();
                }
                true
            }
        }
    }

    /// Hand an event to the consumer. Awaiting here is deliberate back-pressure: pings are
    /// sent by the writer task, so a slow consumer never delays the heartbeat.
    pub(super) async fn emit(&self, event: MarketEvent) -> Result<(), Shutdown> {
        self.shared
            .out
            .send(event)
            .await
            .map_err(|_| Shutdown("adapter stopped".into()))
    }
}
