//! The `/edge` WebSocket endpoint: one task per connection, and that task is the only writer,
//! so replies, pushes and the heartbeat close can never interleave mid-frame.

use super::Shared;
use super::clock::wall_ms;
use super::commands::{self, Channel, Command, SymbolArg};
use super::feed::{PushFrame, Topic};
use super::frames;
use super::market::symbol_index;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

/// A client that cannot take a frame for this long is dropped rather than stalling its task.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Close code MEXC uses when the JSON heartbeat expires ("unsupported data").
const HEARTBEAT_CLOSE_CODE: u16 = 1003;
const HEARTBEAT_NOTICE: &str = "more than 60 seconds no response, close the channel";
/// Body of the refused upgrade, shaped like the CDN/WAF page MEXC's edge returns.
const WAF_PAGE: &str = "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n\
<center><h1>403 Forbidden</h1></center>\r\n</body>\r\n</html>\r\n";

pub(crate) async fn edge(
    State(shared): State<Arc<Shared>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if shared.faults.upgrades_refused() {
        return (StatusCode::FORBIDDEN, Html(WAF_PAGE)).into_response();
    }
    match upgrade {
        Ok(up) => up.on_upgrade(move |socket| connection(socket, shared)),
        Err(rejection) => rejection.into_response(),
    }
}

/// What a connection streams. Bitmasks over symbol indexes: the simulator has far fewer than
/// 64 symbols, and duplicate subscribes collapse into one stream like on MEXC.
#[derive(Debug, Default)]
struct Subscriptions {
    ticker: u64,
    deal: u64,
    tickers: bool,
}

impl Subscriptions {
    fn wants(&self, topic: Topic) -> bool {
        match topic {
            Topic::Ticker(i) => self.ticker & bit(i) != 0,
            Topic::Deal(i) => self.deal & bit(i) != 0,
            Topic::Tickers => self.tickers,
        }
    }

    fn set(&mut self, channel: Channel, symbol: usize, on: bool) {
        let mask = match channel {
            Channel::Ticker => &mut self.ticker,
            Channel::Deal => &mut self.deal,
            Channel::Tickers => {
                self.tickers = on;
                return;
            }
        };
        if on {
            *mask |= bit(symbol);
        } else {
            *mask &= !bit(symbol);
        }
    }
}

/// `now + d`, saturating instead of panicking on an absurd configured timeout.
fn after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365))
}

fn bit(i: usize) -> u64 {
    1u64.checked_shl(i as u32).unwrap_or(0)
}

/// Why a connection ended, for the log line.
#[derive(Debug)]
enum Exit {
    ClientClosed,
    ReadFailed,
    WriteFailed,
    HeartbeatExpired,
    Dropped,
    Shutdown,
}

#[derive(Debug)]
struct WriteFailed;

/// Send one frame, giving up on a client that does not take it in time.
async fn send(socket: &mut WebSocket, msg: Message) -> Result<(), WriteFailed> {
    match tokio::time::timeout(WRITE_TIMEOUT, socket.send(msg)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(WriteFailed),
    }
}

async fn send_text(
    socket: &mut WebSocket,
    text: serde_json::Result<String>,
) -> Result<(), WriteFailed> {
    match text {
        Ok(text) => send(socket, Message::Text(text.into())).await,
        Err(e) => {
            tracing::warn!(error = %e, "sim: could not render a reply");
            Ok(())
        }
    }
}

async fn connection(mut socket: WebSocket, shared: Arc<Shared>) {
    let faults = &shared.faults;
    let (n, _open) = faults.open_connection();
    let session = format!("{:016x}", n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut pushes = shared.pushes.subscribe();
    let mut drops = faults.drop_signal();
    let mut shutdown = shared.shutdown.clone();
    let started = Instant::now();
    // MEXC's clock starts at accept and only JSON pings move it.
    let deadline = tokio::time::sleep_until(after(shared.heartbeat));
    tokio::pin!(deadline);
    let mut subs = Subscriptions::default();

    let exit = loop {
        tokio::select! {
            _ = drops.changed() => break Exit::Dropped,
            _ = shutdown.changed() => {
                let _ = send(&mut socket, Message::Close(None)).await;
                break Exit::Shutdown;
            }
            () = &mut deadline => {
                let _ = expire(&mut socket, &session).await;
                break Exit::HeartbeatExpired;
            }
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(text))) => {
                    faults.record_command(&text);
                    let reply = match commands::parse(&text) {
                        Ok(Command::Ping) => {
                            faults.count_ping();
                            deadline.as_mut().reset(after(shared.heartbeat));
                            (!faults.pongs_stalled()).then(|| frames::pong(wall_ms()))
                        }
                        Ok(Command::Sub { channel, symbol }) => Some(subscribe(&mut subs, channel, &symbol)),
                        Ok(Command::Unsub { channel, symbol }) => {
                            // MEXC sends no unsubscribe ack.
                            unsubscribe(&mut subs, channel, &symbol);
                            None
                        }
                        // Unknown methods and garbage get no reply at all, like MEXC.
                        Err(e) => {
                            tracing::debug!(session, error = %e, "sim: ignored client frame");
                            None
                        }
                    };
                    if let Some(reply) = reply
                        && send_text(&mut socket, reply).await.is_err()
                    {
                        break Exit::WriteFailed;
                    }
                }
                // tungstenite queued the close reply; the next read flushes it and ends.
                Some(Ok(Message::Close(_))) => {}
                // Protocol Pings are answered by tungstenite and do not count as heartbeat.
                Some(Ok(_)) => {}
                Some(Err(_)) => break Exit::ReadFailed,
                None => break Exit::ClientClosed,
            },
            push = pushes.recv() => match push {
                Ok(PushFrame { topic, text }) => {
                    if subs.wants(topic)
                        && !faults.pushes_paused()
                        && send(&mut socket, Message::Text(text)).await.is_err()
                    {
                        break Exit::WriteFailed;
                    }
                }
                Err(RecvError::Lagged(n)) => faults.count_lagged(n),
                Err(RecvError::Closed) => break Exit::Shutdown,
            },
        }
    };
    // Dropping the socket here closes TCP; for `Exit::Dropped` that is without a close frame.
    tracing::debug!(
        session,
        ?exit,
        duration_ms = started.elapsed().as_millis() as u64,
        "sim: connection ended"
    );
}

fn subscribe(
    subs: &mut Subscriptions,
    channel: Channel,
    symbol: &SymbolArg,
) -> serde_json::Result<String> {
    let now = wall_ms();
    if channel == Channel::Tickers {
        subs.set(channel, 0, true);
        return frames::sub_ack(channel.name(), now);
    }
    let known = match symbol {
        SymbolArg::Text(s) => symbol_index(s),
        _ => None,
    };
    match known {
        Some(i) => {
            subs.set(channel, i, true);
            frames::sub_ack(channel.name(), now)
        }
        None => frames::rs_error(&format!("Contract [{}] not exists", symbol.label()), now),
    }
}

fn unsubscribe(subs: &mut Subscriptions, channel: Channel, symbol: &SymbolArg) {
    match (channel, symbol) {
        (Channel::Tickers, _) => subs.set(channel, 0, false),
        (_, SymbolArg::Text(s)) => {
            if let Some(i) = symbol_index(s) {
                subs.set(channel, i, false);
            }
        }
        _ => {}
    }
}

/// The heartbeat close MEXC does: an `rs.error` notice, then close 1003.
async fn expire(socket: &mut WebSocket, session: &str) -> Result<(), WriteFailed> {
    send_text(socket, frames::rs_error(HEARTBEAT_NOTICE, wall_ms())).await?;
    let frame = CloseFrame {
        code: HEARTBEAT_CLOSE_CODE,
        reason: format!("ping check expired, session: {session}").into(),
    };
    send(socket, Message::Close(Some(frame))).await
}
