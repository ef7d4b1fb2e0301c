//! Inbound frames -> bookkeeping and [`MarketEvent`]s. A child of `adapter` so it can use
//! the adapter's state directly; the hardening issue's per-subscription watchdogs and gzip
//! inflation hook in here.

use tokio::time::Instant;

use crate::exchange::MarketEvent;
use crate::protocol::DataSource;

use super::super::subscriptions::DataVerdict;
use super::super::wire::{self, Channel, Inbound};
use super::{Adapter, Shutdown};

impl Adapter {
    /// Handle one text frame. `Err` only when the event receiver is gone.
    pub(super) async fn on_text(&mut self, text: &str, conn_id: &str) -> Result<(), Shutdown> {
        let now = Instant::now();
        let inbound = match wire::parse_frame(text) {
            Ok(i) => i,
            Err(e) => {
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
                self.publish();
            }
            Inbound::SubAck { channel, ok, text } => {
                match self.subs.on_ack(channel, ok) {
                    Some(symbol) if ok => {
                        tracing::debug!(
                            event = "mexc.sub_acked",
                            conn_id,
                            channel = channel.name(),
                            symbol
                        );
                    }
                    Some(symbol) => {
                        tracing::warn!(
                            event = "mexc.sub_not_success",
                            conn_id,
                            channel = channel.name(),
                            symbol,
                            text
                        );
                    }
                    None => {
                        tracing::debug!(event = "mexc.stray_ack", conn_id, channel = channel.name())
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
                    tracing::warn!(event = "mexc.symbol_failed", conn_id, symbol, reason = %text);
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
                tracing::warn!(event = "mexc.rs_error", conn_id, text);
            }
            Inbound::Skipped { channel, reason } => {
                tracing::debug!(event = "mexc.frame_skipped", conn_id, channel, reason);
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
                    let trades = self.dedupe.filter(&symbol, trades);
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

    /// Subscription bookkeeping for a data frame; false if we are not subscribed to it.
    fn accept_data(&mut self, channel: Channel, symbol: &str, conn_id: &str) -> bool {
        match self.subs.on_data(channel, symbol) {
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
                self.health.data(Instant::now());
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
    async fn emit(&self, event: MarketEvent) -> Result<(), Shutdown> {
        self.out.send(event).await.map_err(|_| Shutdown)
    }
}
