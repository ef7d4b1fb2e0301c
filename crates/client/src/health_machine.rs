//! The link health state machine: Connecting -> Live <-> Slow -> Reconnecting… ->
//! Polling -> Disconnected, and back to Live whenever the WebSocket opens.
//!
//! Pure: inputs are events plus `now`, the output is the state and whether the caller must drop
//! the socket. The connection task does the IO; this file decides. That split is what lets the
//! "never reconnect while traffic flows" rule be tested without sockets or sleeps.

use super::heartbeat::{Heartbeat, Verdict};
use super::link::LinkState;
use crate::ClientConfig;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub pong_timeout: Duration,
    pub slow_after_missed: u32,
    pub reconnect_after_missed: u32,
    pub poll_after_failures: u32,
    pub disconnected_after_poll_failures: u32,
}

impl From<&ClientConfig> for Thresholds {
    fn from(c: &ClientConfig) -> Self {
        Thresholds {
            pong_timeout: Duration::from_millis(c.pong_timeout_ms),
            slow_after_missed: c.slow_after_missed,
            reconnect_after_missed: c.reconnect_after_missed,
            poll_after_failures: c.poll_after_failures,
            disconnected_after_poll_failures: c.disconnected_after_poll_failures,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The WebSocket handshake completed.
    Opened,
    /// An app `ping` with this id went out (ids increase).
    PingSent {
        id: u64,
    },
    Pong {
        id: u64,
    },
    /// Any other inbound frame.
    Frame,
    /// Time passed; check pong deadlines.
    Tick,
    /// The socket ended and a reconnect is allowed.
    Lost,
    /// The peer closed with a do-not-reconnect code (4500-4999): stop until asked.
    Refused,
    ConnectFailed,
    PollOk,
    PollFailed,
    /// The user asked to reconnect (lifts a refusal).
    Retry,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Output {
    pub state: LinkState,
    pub changed: bool,
    /// The heartbeat declared the link dead: close it (4000) and reconnect.
    pub reconnect: bool,
    /// Round trip measured by this input (pongs only).
    pub rtt: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct HealthMachine {
    th: Thresholds,
    state: LinkState,
    heartbeat: Heartbeat,
    connected: bool,
    refused: bool,
    connect_failures: u32,
    poll_failures: u32,
    /// The newest poll succeeded: only then is "Polling" true (data is actually arriving).
    poll_ok: bool,
}

impl HealthMachine {
    pub fn new(th: Thresholds) -> Self {
        HealthMachine {
            th,
            state: LinkState::Connecting,
            heartbeat: Heartbeat::new(
                th.pong_timeout,
                th.slow_after_missed,
                th.reconnect_after_missed,
            ),
            connected: false,
            refused: false,
            connect_failures: 0,
            poll_failures: 0,
            poll_ok: false,
        }
    }

    pub fn state(&self) -> LinkState {
        self.state
    }

    pub fn missed_pongs(&self) -> u32 {
        self.heartbeat.missed()
    }

    pub fn rtt(&self) -> Option<Duration> {
        self.heartbeat.rtt()
    }

    /// When the next pong deadline passes (feed `Tick` then).
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.connected {
            self.heartbeat.next_deadline()
        } else {
            None
        }
    }

    pub fn silent_for(&self, now: Instant) -> Option<Duration> {
        self.heartbeat.silent_for(now)
    }

    /// REST polling runs while the WebSocket is down after enough failed connects, and keeps
    /// running in Disconnected so recovery is automatic. Not after a refusal (auth etc.).
    pub fn should_poll(&self) -> bool {
        !self.connected && !self.refused && self.connect_failures >= self.th.poll_after_failures
    }

    /// False after a do-not-reconnect close until `Retry`.
    pub fn may_connect(&self) -> bool {
        !self.refused
    }

    pub fn on(&mut self, input: Input, now: Instant) -> Output {
        let before = self.state;
        let mut reconnect = false;
        let mut rtt = None;
        match input {
            Input::Opened => {
                self.connected = true;
                self.refused = false;
                self.connect_failures = 0;
                self.poll_failures = 0;
                self.poll_ok = false;
                self.heartbeat.reset();
                self.state = LinkState::Live;
            }
            Input::PingSent { id } if self.connected => self.heartbeat.ping_sent(id, now),
            Input::Pong { id } if self.connected => {
                rtt = self.heartbeat.pong(id, now);
                self.state = LinkState::Live;
            }
            Input::Frame if self.connected => self.heartbeat.frame(now),
            Input::Tick if self.connected => match self.heartbeat.check(now) {
                Verdict::Healthy => self.state = LinkState::Live,
                Verdict::Slow => self.state = LinkState::Slow,
                Verdict::Dead => {
                    self.connected = false;
                    reconnect = true;
                    self.state = LinkState::Reconnecting;
                }
            },
            Input::PingSent { .. } | Input::Pong { .. } | Input::Frame | Input::Tick => {}
            Input::Lost => {
                self.connected = false;
                if !self.refused {
                    self.state = self.down_state();
                }
            }
            Input::Refused => {
                self.connected = false;
                self.refused = true;
                self.state = LinkState::Disconnected;
            }
            Input::ConnectFailed if !self.refused && !self.connected => {
                self.connect_failures = self.connect_failures.saturating_add(1);
                self.state = self.down_state();
            }
            Input::PollOk if self.should_poll() => {
                self.poll_failures = 0;
                self.poll_ok = true;
                self.state = self.down_state();
            }
            Input::PollFailed if self.should_poll() => {
                self.poll_failures = self.poll_failures.saturating_add(1);
                self.poll_ok = false;
                self.state = self.down_state();
            }
            Input::ConnectFailed | Input::PollOk | Input::PollFailed => {}
            Input::Retry => {
                if self.refused {
                    self.refused = false;
                    self.state = self.down_state();
                }
            }
        }
        Output {
            state: self.state,
            changed: self.state != before,
            reconnect,
            rtt,
        }
    }

    /// The state while the WebSocket is not up, from the failure counters. Polling is shown
    /// only once a poll has brought data; failing polls keep showing Reconnecting… until
    /// enough of them fail to say Disconnected.
    fn down_state(&self) -> LinkState {
        if self.poll_failures >= self.th.disconnected_after_poll_failures {
            LinkState::Disconnected
        } else if self.connect_failures >= self.th.poll_after_failures && self.poll_ok {
            LinkState::Polling
        } else {
            LinkState::Reconnecting
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn machine() -> HealthMachine {
        HealthMachine::new(Thresholds {
            pong_timeout: ms(100),
            slow_after_missed: 2,
            reconnect_after_missed: 3,
            poll_after_failures: 3,
            disconnected_after_poll_failures: 3,
        })
    }

    /// Sends pings 1..=n every 100 ms from t0 and ticks just after each deadline, with an
    /// optional data frame in every interval. Returns the outputs of the ticks.
    fn run_pings(m: &mut HealthMachine, t0: Instant, n: u64, traffic: bool) -> Vec<Output> {
        let mut outs = Vec::new();
        for i in 0..n {
            let at = t0 + ms(100 * i);
            m.on(Input::PingSent { id: i + 1 }, at);
            if traffic {
                m.on(Input::Frame, at + ms(30));
            }
            outs.push(m.on(Input::Tick, at + ms(100)));
        }
        outs
    }

    #[test]
    fn starts_connecting_and_opens_live() {
        let mut m = machine();
        assert_eq!(m.state(), LinkState::Connecting);
        let out = m.on(Input::Opened, Instant::now());
        assert_eq!((out.state, out.changed), (LinkState::Live, true));
    }

    #[test]
    fn answered_pings_keep_it_live_with_rtt() {
        let t0 = Instant::now();
        let mut m = machine();
        m.on(Input::Opened, t0);
        m.on(Input::PingSent { id: 1 }, t0);
        let out = m.on(Input::Pong { id: 1 }, t0 + ms(4));
        assert_eq!(out.rtt, Some(ms(4)));
        assert_eq!(m.on(Input::Tick, t0 + ms(1000)).state, LinkState::Live);
    }

    #[test]
    fn two_missed_pongs_make_it_slow_without_reconnect() {
        let t0 = Instant::now();
        let mut m = machine();
        m.on(Input::Opened, t0);
        let outs = run_pings(&mut m, t0, 2, false);
        assert_eq!(outs[0].state, LinkState::Live);
        assert_eq!(outs[1].state, LinkState::Slow);
        assert!(outs.iter().all(|o| !o.reconnect));
    }

    #[test]
    fn traffic_keeps_it_slow_forever_never_reconnecting() {
        let t0 = Instant::now();
        let mut m = machine();
        m.on(Input::Opened, t0);
        let outs = run_pings(&mut m, t0, 50, true);
        assert!(outs.iter().all(|o| !o.reconnect));
        assert_eq!(outs.last().map(|o| o.state), Some(LinkState::Slow));
        assert_eq!(m.missed_pongs(), 50);
    }

    #[test]
    fn silence_and_missed_pongs_reconnect_on_the_third() {
        let t0 = Instant::now();
        let mut m = machine();
        m.on(Input::Opened, t0);
        let outs = run_pings(&mut m, t0, 3, false);
        assert!(!outs[1].reconnect);
        assert!(outs[2].reconnect);
        assert_eq!(outs[2].state, LinkState::Reconnecting);
        // The socket is considered gone: later ticks do nothing.
        assert!(!m.on(Input::Tick, t0 + ms(10_000)).reconnect);
    }

    #[test]
    fn a_frame_before_the_window_does_not_save_a_silent_link() {
        let t0 = Instant::now();
        let mut m = machine();
        m.on(Input::Opened, t0);
        // Traffic flows while pongs are missing, then everything stops.
        run_pings(&mut m, t0, 5, true);
        let outs = run_pings(&mut m, t0 + ms(500), 3, false);
        assert!(outs[2].reconnect, "{outs:?}");
    }

    #[test]
    fn one_frame_inside_the_window_keeps_it_slow() {
        let t0 = Instant::now();
        let mut m = machine();
        m.on(Input::Opened, t0);
        m.on(Input::PingSent { id: 1 }, t0);
        m.on(Input::Frame, t0 + ms(150));
        m.on(Input::PingSent { id: 2 }, t0 + ms(100));
        m.on(Input::PingSent { id: 3 }, t0 + ms(200));
        let out = m.on(Input::Tick, t0 + ms(300));
        assert_eq!(m.missed_pongs(), 3);
        assert!(!out.reconnect);
        assert_eq!(out.state, LinkState::Slow);
    }

    #[test]
    fn a_pong_brings_slow_back_to_live() {
        let t0 = Instant::now();
        let mut m = machine();
        m.on(Input::Opened, t0);
        run_pings(&mut m, t0, 2, false);
        assert_eq!(m.state(), LinkState::Slow);
        let out = m.on(Input::Pong { id: 2 }, t0 + ms(250));
        assert_eq!((out.state, out.changed), (LinkState::Live, true));
        assert_eq!(m.missed_pongs(), 0);
    }

    #[test]
    fn failed_connects_lead_to_polling_then_disconnected_then_back_live() {
        let now = Instant::now();
        let mut m = machine();
        m.on(Input::Opened, now);
        assert_eq!(m.on(Input::Lost, now).state, LinkState::Reconnecting);
        assert!(!m.should_poll());
        m.on(Input::ConnectFailed, now);
        assert_eq!(
            m.on(Input::ConnectFailed, now).state,
            LinkState::Reconnecting
        );
        // Enough failed connects start polling, but "Polling" waits for a poll that worked.
        assert_eq!(
            m.on(Input::ConnectFailed, now).state,
            LinkState::Reconnecting
        );
        assert!(m.should_poll());
        assert_eq!(m.on(Input::PollOk, now).state, LinkState::Polling);
        // A failing poll is not "Polling": no data is coming.
        assert_eq!(m.on(Input::PollFailed, now).state, LinkState::Reconnecting);
        // One good poll resets the poll failure streak.
        m.on(Input::PollFailed, now);
        m.on(Input::PollOk, now);
        m.on(Input::PollFailed, now);
        assert_eq!(m.on(Input::PollFailed, now).state, LinkState::Reconnecting);
        assert_eq!(m.on(Input::PollFailed, now).state, LinkState::Disconnected);
        // WS retries keep failing: still Disconnected; REST recovers: Polling again.
        assert_eq!(
            m.on(Input::ConnectFailed, now).state,
            LinkState::Disconnected
        );
        assert_eq!(m.on(Input::PollOk, now).state, LinkState::Polling);
        let out = m.on(Input::Opened, now);
        assert_eq!(out.state, LinkState::Live);
        assert!(!m.should_poll());
    }

    #[test]
    fn poll_results_outside_polling_are_ignored() {
        let now = Instant::now();
        let mut m = machine();
        m.on(Input::Opened, now);
        for _ in 0..5 {
            m.on(Input::PollFailed, now);
        }
        assert_eq!(m.state(), LinkState::Live);
    }

    #[test]
    fn refusal_stops_everything_until_retry() {
        let now = Instant::now();
        let mut m = machine();
        m.on(Input::Opened, now);
        assert_eq!(m.on(Input::Refused, now).state, LinkState::Disconnected);
        assert!(!m.may_connect());
        assert!(!m.should_poll());
        assert_eq!(m.on(Input::Lost, now).state, LinkState::Disconnected);
        assert_eq!(
            m.on(Input::ConnectFailed, now).state,
            LinkState::Disconnected
        );
        assert_eq!(m.on(Input::Retry, now).state, LinkState::Reconnecting);
        assert!(m.may_connect());
    }

    #[test]
    fn first_connect_failure_shows_reconnecting() {
        let mut m = machine();
        let out = m.on(Input::ConnectFailed, Instant::now());
        assert_eq!((out.state, out.changed), (LinkState::Reconnecting, true));
    }
}
