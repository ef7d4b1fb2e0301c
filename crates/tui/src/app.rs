//! All UI state and `update`, the only place it changes.
//!
//! `update` takes an [`Action`] and returns [`Effect`]s for the event loop to carry out. It does
//! no IO and reads no clock, so tests (and later, replays) drive it with plain values.

mod alerting;
pub mod commands;
pub mod control;
pub mod describe;
pub mod symbol;
pub mod watch;

use super::action::{Action, Effect};
use super::format::Clock;
use super::headline::{self, Freshness, Headline, Inputs, Upstream};
use super::keymap::{Command, Keymap, Screen};
use super::theme::Theme;
use crate::settings::TuiConfig;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};
use describe::Popup;
use std::collections::{BTreeMap, BTreeSet};
use symbol::{SymbolViewState, ViewConfig};
use trademon_client::link::LinkStatus;
use trademon_client::market_view::ViewLimits;
use trademon_client::model::{Applied, ClientModel};
use trademon_client::{ClientCommand, ClientEvent, Subscription};
use trademon_protocol::{
    Level, LogEvent, MarketSource, PositionInfo, SessionInfo, SignalInfo, StreamName,
};
use watch::{Sparks, WatchSort};

#[derive(Debug, Clone)]
pub struct App {
    pub(crate) model: ClientModel,
    pub(crate) link: LinkStatus,
    /// Client clock when `link` arrived, to count `next_attempt_in_ms` down locally.
    pub(crate) link_at_ms: i64,
    /// Index into `model.sessions`.
    pub(crate) active: usize,
    /// Selected watchlist row of the active session.
    pub(crate) selected: usize,
    pub(crate) show_help: bool,
    /// Which detail panel shows where they do not all fit (`next_view` / `prev_view`).
    pub(crate) detail: DetailView,
    /// The MEXC upstream detail view replaces the panels; `upstream_scroll` is its first row.
    pub(crate) show_upstream: bool,
    /// Selected row of the upstream subscription list (the list scrolls to keep it visible).
    pub(crate) upstream_scroll: usize,
    /// The list `up`/`down`, page keys and `open` act on.
    pub(crate) focus: Focus,
    /// Selected row of each scrolling list other than the watchlist (0 = the newest row).
    pub(crate) cursors: BTreeMap<Focus, usize>,
    /// A text overlay (full status, full text of a row), drawn over everything; Esc closes it;
    /// `popup_scroll` is its first line.
    pub(crate) popup: Option<Popup>,
    pub(crate) popup_scroll: u16,
    /// Times on screen are in this zone (`tui.timezone`).
    pub(crate) clock: Clock,
    pub(crate) size: (u16, u16),
    pub(crate) now_ms: i64,
    pub(crate) stale_after_ms: u64,
    pub(crate) keymap: Keymap,
    pub(crate) theme: Theme,
    /// Client time when the running recording started (health bar `REC mm:ss`).
    pub(crate) recording_since_ms: Option<i64>,
    /// Set by `trademon replay`: the screen shows a recording, not the present.
    pub(crate) replay: Option<ReplayBadge>,
    /// The symbol view (chart, book, tape) replaces the panels while open; esc closes it.
    pub(crate) symbol_view: Option<SymbolViewState>,
    pub(crate) view_cfg: ViewConfig,
    /// The last hour of each symbol's price, for the watchlist's sparkline and volatility.
    pub(crate) sparks: Sparks,
    pub(crate) watch_sort: WatchSort,
    /// The watchlist shows symbols containing this text; `filter_typing`: keys go to it.
    pub(crate) filter: String,
    pub(crate) filter_typing: bool,
    /// Keyboard commands in flight and the last one's answer.
    pub(crate) commands: commands::Commands,
    pub(crate) command_timeout_ms: u64,
    /// How long an answer stays on the status line (`tui.command_status_ms`).
    pub(crate) command_status_ms: u64,
    /// A y/n question, the add-symbol prompt or the new-session form: takes every key.
    pub(crate) modal: Option<control::Modal>,
    /// The popup is the status popup: its text follows the state while open.
    status_popup: bool,
    /// Last set sent with `SetSubscriptions`, to send again only when it changes.
    subscriptions: BTreeSet<Subscription>,
    /// Something visible changed since the last `take_dirty`.
    dirty: bool,
    /// Alert detection, banners and the bell counter (`with_alerts`); off when `None`.
    pub(crate) alerts: Option<Box<crate::alerts::AlertState>>,
}

impl App {
    /// What the client model holds now (benchmarks describe a run with it).
    pub fn model(&self) -> &ClientModel {
        &self.model
    }

    pub fn new(
        cfg: &TuiConfig,
        keymap: Keymap,
        theme: Theme,
        link: LinkStatus,
        size: (u16, u16),
        now_ms: i64,
    ) -> App {
        App {
            model: ClientModel::new(cfg.event_panel_max).with_view_limits(ViewLimits {
                candles: cfg.chart_candles_max.max(1),
                trades: cfg.tape_max.max(1),
            }),
            link,
            link_at_ms: now_ms,
            active: 0,
            selected: 0,
            show_help: false,
            detail: DetailView::Machines,
            show_upstream: false,
            upstream_scroll: 0,
            focus: Focus::Watchlist,
            cursors: BTreeMap::new(),
            popup: None,
            popup_scroll: 0,
            // `Config::validate` has checked the name; a config that skipped it gets UTC,
            // which the time labels then say.
            clock: Clock::from_config(&cfg.timezone).unwrap_or_else(|_| Clock::utc()),
            size,
            now_ms,
            stale_after_ms: cfg.stale_after_ms,
            keymap,
            theme,
            recording_since_ms: None,
            replay: None,
            symbol_view: None,
            view_cfg: ViewConfig::from_config(cfg),
            sparks: Sparks::default(),
            watch_sort: WatchSort::default(),
            filter: String::new(),
            filter_typing: false,
            commands: commands::Commands::default(),
            command_timeout_ms: cfg.command_timeout_ms.max(1),
            command_status_ms: cfg.command_status_ms,
            modal: None,
            status_popup: false,
            subscriptions: BTreeSet::new(),
            dirty: true,
            alerts: None,
        }
    }

    /// Effects to run once at start: subscribe to the global streams.
    pub fn start(&mut self) -> Vec<Effect> {
        self.sync_subscriptions().into_iter().collect()
    }

    /// Whether a redraw is due; clears the flag.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    pub fn sessions(&self) -> &[SessionInfo] {
        &self.model.sessions
    }

    pub fn active_session(&self) -> Option<&SessionInfo> {
        self.model.sessions.get(self.active)
    }

    pub fn link(&self) -> &LinkStatus {
        &self.link
    }

    /// Time since the running recording started, if one runs. A replay is not recording,
    /// whatever the recorded screen said.
    pub fn recording_elapsed_ms(&self) -> Option<i64> {
        if self.replay.is_some() {
            return None;
        }
        self.recording_since_ms
            .map(|since| (self.now_ms - since).max(0))
    }

    /// `trademon replay` tells the screen what it shows (speed, paused, finished).
    pub fn set_replay(&mut self, badge: Option<ReplayBadge>) {
        if self.replay != badge {
            self.replay = badge;
            self.dirty = true;
        }
    }

    pub fn replay(&self) -> Option<ReplayBadge> {
        self.replay
    }

    /// Where the market data comes from, as the backend last said; `None` before it did.
    pub fn market(&self) -> Option<MarketSource> {
        self.model.health.as_ref().map(|h| h.market)
    }

    /// The active session's rows by the watchlist's rule: stale (`stale!`) or without data.
    pub fn freshness(&self) -> Freshness {
        let Some(session) = self.active_session() else {
            return Freshness::default();
        };
        let market = self.model.market.get(&session.id);
        let mut f = Freshness {
            total: session.symbols.len(),
            ..Freshness::default()
        };
        for sym in &session.symbols {
            match market.and_then(|m| m.get(sym)) {
                None => f.missing += 1,
                Some(t) if is_stale(t.age_ms(self.now_ms), self.stale_after_ms) => f.stale += 1,
                Some(_) => {}
            }
        }
        f
    }

    /// The health bar's first word (see `tui::headline`).
    pub fn headline(&self) -> Headline {
        let upstream = self.model.health.as_ref().map(|h| Upstream {
            state: h.upstream.state,
            source: h.upstream.source,
            cause: h.upstream.cause.as_deref(),
            rest_error: h.upstream.rest_error.as_deref(),
        });
        headline::headline(&Inputs {
            link: self.link.state,
            upstream,
            freshness: self.freshness(),
            market: self.market().unwrap_or_default(),
            replay: self.replay.is_some(),
        })
    }

    /// Age of the backend's last `health`, for values shown as last known.
    pub fn health_age_ms(&self) -> Option<i64> {
        self.model
            .health
            .as_ref()
            .map(|_| (self.now_ms - self.model.health_applied_ms).max(0))
    }

    pub fn show_help(&self) -> bool {
        self.show_help
    }

    pub fn popup(&self) -> Option<&Popup> {
        self.popup.as_ref()
    }

    /// Events the event panel lists, newest first: warnings, errors and the INFO events a
    /// trader must see (connection life cycle, signals, session changes, recordings).
    pub(crate) fn shown_events(&self) -> impl Iterator<Item = &LogEvent> {
        self.model
            .events
            .iter()
            .rev()
            .filter(|e| e.level >= Level::Warn || is_connection_event(e))
    }

    /// Signals of the active session, newest first.
    pub(crate) fn shown_signals(&self) -> impl Iterator<Item = &SignalInfo> {
        self.active_session()
            .and_then(|s| self.model.signals.get(&s.id))
            .into_iter()
            .flatten()
            .rev()
    }

    /// Closed paper trades of the active session, newest first.
    pub(crate) fn shown_trades(&self) -> impl Iterator<Item = &PositionInfo> {
        self.active_session()
            .and_then(|s| self.model.closed.get(&s.id))
            .into_iter()
            .flatten()
    }

    /// Open paper positions of the active session, by symbol.
    pub(crate) fn shown_positions(&self) -> impl Iterator<Item = &PositionInfo> {
        self.active_session()
            .and_then(|s| self.model.positions.get(&s.id))
            .into_iter()
            .flat_map(|m| m.values())
    }

    /// Decimals of `symbol`'s price from its contract (active session), when known.
    pub(crate) fn price_decimals(&self, symbol: &str) -> Option<u32> {
        let session = self.active_session()?;
        self.model
            .market
            .get(&session.id)?
            .get(symbol)?
            .ticker
            .price_decimals
    }

    /// Selected row of a scrolling list (0 = newest).
    pub(crate) fn cursor(&self, list: Focus) -> usize {
        self.cursors.get(&list).copied().unwrap_or(0)
    }

    fn list_len(&self, list: Focus) -> usize {
        match list {
            Focus::Watchlist => self.active_session().map_or(0, |s| s.symbols.len()),
            Focus::Signals => self.shown_signals().count(),
            Focus::Positions => self.shown_positions().count(),
            Focus::Events => self.shown_events().count(),
            Focus::Trades => self.shown_trades().count(),
        }
    }

    /// Rows a page key moves: about a third of the screen, the height of a stacked panel.
    fn page(&self) -> usize {
        (self.size.1 as usize / 3).max(1)
    }

    /// The symbol of the selected watchlist row: the instance the condition panel shows.
    /// None when the watchlist filter hides every row.
    pub fn selected_symbol(&self) -> Option<&str> {
        self.active_session()?
            .symbols
            .get(self.selected)
            .map(String::as_str)
            .filter(|s| watch::matches(&self.filter, s))
    }

    /// Time left until the next reconnect attempt, counted down from when the link status
    /// arrived (the connection task publishes on change, not on every tick).
    pub fn next_attempt_in_ms(&self) -> Option<u64> {
        let at = self.link.next_attempt_in_ms?;
        let elapsed = (self.now_ms - self.link_at_ms).max(0) as u64;
        Some(at.saturating_sub(elapsed))
    }

    /// The set the UI wants: global streams plus the per-session ones of every known session.
    pub fn desired_subscriptions(&self) -> BTreeSet<Subscription> {
        let global = [StreamName::Sessions, StreamName::Health, StreamName::Events]
            .into_iter()
            .map(|stream| Subscription {
                stream,
                session_id: None,
            });
        let per_session = self.model.sessions.iter().flat_map(|s| {
            [
                StreamName::MarketData,
                StreamName::StateMachines,
                StreamName::Indicators,
                StreamName::Conditions,
                StreamName::Signals,
                StreamName::Positions,
            ]
            .into_iter()
            .map(|stream| Subscription {
                stream,
                session_id: Some(s.id.clone()),
            })
        });
        global.chain(per_session).collect()
    }

    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        let effects = self.apply(action);
        if self.status_popup && self.popup.is_some() {
            // The status popup says what is true now, not when it was opened.
            let fresh = describe::status_popup(self);
            if self.popup.as_ref() != Some(&fresh) {
                self.popup = Some(fresh);
                self.dirty = true;
            }
        }
        effects
    }

    fn apply(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Key(key) => self.on_key(key),
            Action::Resize(w, h) => {
                self.size = (w, h);
                self.dirty = true;
                Vec::new()
            }
            Action::Tick(now) => {
                self.on_tick(now);
                self.alerts_after_tick()
            }
            Action::Client(ev) => self.on_client(ev),
            Action::Recording(since) => {
                self.recording_since_ms = since;
                self.dirty = true;
                Vec::new()
            }
        }
    }

    fn on_tick(&mut self, now: i64) {
        let before = self.now_ms;
        self.now_ms = now;
        self.expire_commands();
        // Ages are shown in whole seconds; the reconnect countdown in tenths. Redraw only
        // when one of them can have changed.
        let countdown = self.link.next_attempt_in_ms.is_some();
        if before / 1000 != now / 1000 || (countdown && before / 100 != now / 100) {
            self.dirty = true;
        }
    }

    fn on_client(&mut self, ev: ClientEvent) -> Vec<Effect> {
        let mut effects = Vec::new();
        match ev {
            ClientEvent::Message { msg, .. } => match self.model.apply(&msg, self.now_ms) {
                Applied::Changed => {
                    self.record_sparks(&msg);
                    self.dirty = true;
                    effects.extend(self.alerts_after_message(&msg));
                }
                Applied::Unchanged => self.on_command_reply(&msg),
                Applied::Gap {
                    stream,
                    symbol: Some(symbol),
                    ..
                } => effects.push(Effect::Client(ClientCommand::ResyncSymbol {
                    stream,
                    symbol,
                })),
                Applied::Gap {
                    stream, session_id, ..
                } => effects.push(Effect::Client(ClientCommand::Resync(Subscription {
                    stream,
                    session_id,
                }))),
            },
            ClientEvent::Snapshot(snap) => {
                self.model.apply_rest_snapshot(&snap, self.now_ms);
                self.record_snapshot(&snap.session_id, &snap.data, snap.ts);
                self.dirty = true;
                effects.extend(self.alerts_after_model());
            }
            ClientEvent::Notice(ev) => {
                self.model.push_event(ev);
                self.dirty = true;
            }
            ClientEvent::Link(status) => {
                if status != self.link {
                    self.link = status;
                    self.link_at_ms = self.now_ms;
                    self.dirty = true;
                    effects.extend(self.alerts_after_link());
                }
            }
        }
        self.clamp_selection();
        effects.extend(self.sync_subscriptions());
        effects
    }

    fn sync_subscriptions(&mut self) -> Option<Effect> {
        let desired = self.desired_subscriptions();
        if desired == self.subscriptions {
            return None;
        }
        self.subscriptions = desired.clone();
        Some(Effect::Client(ClientCommand::SetSubscriptions(desired)))
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind != KeyEventKind::Press {
            return Vec::new();
        }
        // A prompt or form takes every key as text (an `A` in a session name is a letter).
        if self.modal.is_some() {
            return self.on_modal_key(key);
        }
        // Acknowledge acts everywhere else (over popups and the help too), except while typing a
        // filter, where every key is text.
        if !self.filter_typing
            && self.alert_banner().is_some()
            && self.keymap.lookup(&key) == Some(Command::Acknowledge)
        {
            return self.acknowledge_alert();
        }
        if self.popup.is_some() {
            return self.on_popup_key(key);
        }
        // Esc always closes the overlay, whatever the keymap says.
        if self.show_help && key.code == KeyCode::Esc {
            self.show_help = false;
            self.dirty = true;
            return Vec::new();
        }
        if self.symbol_view.is_some() && key.code == KeyCode::Esc {
            return self.close_symbol_view();
        }
        if self.show_upstream && !self.show_help && key.code == KeyCode::Esc {
            self.show_upstream = false;
            self.dirty = true;
            return Vec::new();
        }
        if self.symbol_view.is_none() && !self.show_help {
            if self.filter_typing {
                return self.on_filter_key(key);
            }
            if key.code == KeyCode::Esc && !self.filter.is_empty() {
                return self.on_filter_key(key);
            }
        }
        let screen = if self.symbol_view.is_some() {
            Screen::Symbol
        } else {
            Screen::Main
        };
        let Some(command) = self.keymap.lookup_on(&key, screen) else {
            return Vec::new();
        };
        if screen == Screen::Symbol
            && let Some(effects) = self.on_symbol_command(command)
        {
            return effects;
        }
        let n = self.model.sessions.len();
        match command {
            Command::Quit => return vec![Effect::Client(ClientCommand::Shutdown), Effect::Quit],
            Command::Reconnect => return vec![Effect::Client(ClientCommand::ReconnectNow)],
            Command::Record => return vec![Effect::ToggleRecording],
            Command::BugReport => return vec![Effect::BugReport],
            Command::Help => self.show_help = !self.show_help,
            Command::Status => {
                self.popup = Some(describe::status_popup(self));
                self.popup_scroll = 0;
                self.status_popup = true;
            }
            Command::Upstream => self.show_upstream = !self.show_upstream,
            Command::SymbolView => return self.open_symbol_view(),
            Command::Up if self.show_upstream => self.move_upstream(-1),
            Command::Down if self.show_upstream => self.move_upstream(1),
            Command::PageUp if self.show_upstream => self.move_upstream(-(self.page() as i64)),
            Command::PageDown if self.show_upstream => self.move_upstream(self.page() as i64),
            Command::Open if self.show_upstream => self.popup = self.upstream_popup(),
            Command::Open if self.focus == Focus::Watchlist => return self.open_symbol_view(),
            Command::NextSession if n > 0 => self.switch_to((self.active + 1) % n),
            Command::PrevSession if n > 0 => self.switch_to((self.active + n - 1) % n),
            Command::Session(i) if i < n => self.switch_to(i),
            Command::Up => self.move_cursor(-1),
            Command::Down => self.move_cursor(1),
            Command::PageUp => self.move_cursor(-(self.page() as i64)),
            Command::PageDown => self.move_cursor(self.page() as i64),
            Command::Focus => self.focus_next(),
            Command::Open => {
                self.popup = describe::for_selection(self);
                self.popup_scroll = 0;
            }
            Command::Sort => {
                self.watch_sort.key = self.watch_sort.key.next();
                self.watch_sort.reverse = false;
            }
            Command::SortReverse => self.watch_sort.reverse = !self.watch_sort.reverse,
            Command::Filter => {
                self.filter_typing = true;
                self.focus = Focus::Watchlist;
            }
            Command::NextView => self.switch_view(self.detail.next()),
            Command::PrevView => self.switch_view(self.detail.prev()),
            Command::StartStop
            | Command::PauseResume
            | Command::ClosePosition
            | Command::AddSymbol
            | Command::RemoveSymbol
            | Command::NewSession => return self.on_control_command(command),
            _ => return Vec::new(),
        }
        self.clamp_selection();
        self.dirty = true;
        Vec::new()
    }

    /// Keys while a popup is open: esc (or `open` again) closes, up/down and page keys scroll,
    /// quit quits; the rest is ignored so nothing changes unseen behind the popup.
    fn on_popup_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let command = self.keymap.lookup(&key);
        let status_again = self.status_popup && command == Some(Command::Status);
        if key.code == KeyCode::Esc || command == Some(Command::Open) || status_again {
            self.close_popup();
            return Vec::new();
        }
        let page = self.page() as u16;
        match command {
            Some(Command::Quit) => {
                return vec![Effect::Client(ClientCommand::Shutdown), Effect::Quit];
            }
            Some(Command::Up) => self.popup_scroll = self.popup_scroll.saturating_sub(1),
            Some(Command::Down) => self.popup_scroll = self.popup_scroll.saturating_add(1),
            Some(Command::PageUp) => self.popup_scroll = self.popup_scroll.saturating_sub(page),
            Some(Command::PageDown) => self.popup_scroll = self.popup_scroll.saturating_add(page),
            _ => return Vec::new(),
        }
        // The view clamps the scroll to the wrapped text; keep ours from running away.
        self.popup_scroll = self.popup_scroll.min(describe::MAX_SCROLL);
        self.dirty = true;
        Vec::new()
    }

    /// Moves the selection of the focused list by `delta` rows, within the list.
    fn move_cursor(&mut self, delta: i64) {
        let len = self.list_len(self.focus);
        let at = match self.focus {
            Focus::Watchlist => self.selected,
            list => self.cursor(list),
        };
        let to = step(at, delta, len);
        match self.focus {
            // In the order and filter on screen.
            Focus::Watchlist => self.selected = self.watch_step(delta),
            list => {
                self.cursors.insert(list, to);
            }
        }
    }

    fn move_upstream(&mut self, delta: i64) {
        let rows = self
            .model
            .health
            .as_ref()
            .map_or(0, |h| h.upstream.streams.len());
        self.upstream_scroll = step(self.upstream_scroll, delta, rows);
    }

    fn upstream_popup(&self) -> Option<Popup> {
        let health = self.model.health.as_ref()?;
        let s = health.upstream.streams.get(self.upstream_scroll)?;
        Some(describe::upstream_row(s))
    }

    /// The next list gets the focus; where one detail panel shows at a time, the panel of
    /// the focused list is brought up so the focus is never on something hidden.
    fn focus_next(&mut self) {
        self.focus = self.focus.next();
        if let Some(view) = self.focus.detail_view() {
            self.detail = view;
        }
    }

    fn switch_view(&mut self, view: DetailView) {
        self.detail = view;
        if self.focus.detail_view().is_some_and(|v| v != view) {
            self.focus = Focus::Watchlist;
        }
    }

    fn close_popup(&mut self) {
        self.popup = None;
        self.popup_scroll = 0;
        self.status_popup = false;
        self.dirty = true;
    }

    fn switch_to(&mut self, index: usize) {
        if index != self.active {
            self.active = index;
            self.selected = 0;
            self.keep_selection_shown();
            self.cursors.remove(&Focus::Signals);
        }
    }

    /// Keep indices valid when sessions or symbols come and go.
    fn clamp_selection(&mut self) {
        let n = self.model.sessions.len();
        if self.active >= n {
            self.active = n.saturating_sub(1);
        }
        let rows = self.active_session().map_or(0, |s| s.symbols.len());
        self.selected = self.selected.min(rows.saturating_sub(1));
        for list in Focus::ALL {
            if list != Focus::Watchlist && self.cursors.contains_key(&list) {
                let len = self.list_len(list);
                self.cursors
                    .insert(list, self.cursor(list).min(len.saturating_sub(1)));
            }
        }
    }
}

/// `at` moved by `delta` within a list of `len` rows.
pub(crate) fn step(at: usize, delta: i64, len: usize) -> usize {
    let last = len.saturating_sub(1) as i64;
    (at as i64 + delta).clamp(0, last.max(0)) as usize
}

/// The lists that take the focus, in the order `focus` cycles through them. A new scrolling
/// panel adds itself here (and to `list_len`, `detail_view` and `popup::for_selection`) and
/// draws its rows with `view::scroll`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Focus {
    Watchlist,
    Signals,
    /// Open paper positions: the `close_position` key closes the selected one.
    Positions,
    Events,
    Trades,
}

impl Focus {
    pub const ALL: [Focus; 5] = [
        Focus::Watchlist,
        Focus::Signals,
        Focus::Positions,
        Focus::Events,
        Focus::Trades,
    ];

    fn next(self) -> Focus {
        let i = Focus::ALL.iter().position(|f| *f == self).unwrap_or(0);
        Focus::ALL[(i + 1) % Focus::ALL.len()]
    }

    /// The detail panel that shows this list, for lists that are one.
    pub fn detail_view(self) -> Option<DetailView> {
        match self {
            Focus::Signals => Some(DetailView::Signals),
            Focus::Positions => Some(DetailView::Positions),
            Focus::Trades => Some(DetailView::Trades),
            Focus::Watchlist | Focus::Events => None,
        }
    }
}

/// What `trademon replay` shows about itself on the screen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayBadge {
    pub speed: f64,
    pub paused: bool,
    pub finished: bool,
}

impl ReplayBadge {
    /// `REPLAY ×4`, `REPLAY ×0.5 paused`, `REPLAY finished`.
    pub fn label(&self) -> String {
        if self.finished {
            return "REPLAY finished".into();
        }
        let speed = format!("{:.2}", self.speed);
        let speed = speed.trim_end_matches('0').trim_end_matches('.');
        if self.paused {
            format!("REPLAY ×{speed} paused")
        } else {
            format!("REPLAY ×{speed}")
        }
    }
}

/// INFO events shown anyway: connection life cycle, signals and session changes, which the
/// trader must see, and where a recording or bug report went.
fn is_connection_event(ev: &LogEvent) -> bool {
    let n = ev.name.as_str();
    n.starts_with("link")
        || n.starts_with("client")
        || n.contains("connect")
        || n.contains("close")
        || n == "signal"
        || n.starts_with("session.")
        || n == "record"
}

/// The detail panels, in the order `next_view` cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetailView {
    Machines,
    Indicators,
    Conditions,
    Signals,
    Positions,
    Trades,
}

impl DetailView {
    pub const ALL: [DetailView; 6] = [
        DetailView::Machines,
        DetailView::Indicators,
        DetailView::Conditions,
        DetailView::Signals,
        DetailView::Positions,
        DetailView::Trades,
    ];

    pub fn title(self) -> &'static str {
        match self {
            DetailView::Machines => "Machines",
            DetailView::Indicators => "Indicators",
            DetailView::Conditions => "Conditions",
            DetailView::Signals => "Signals",
            DetailView::Positions => "Positions",
            DetailView::Trades => "Trades",
        }
    }

    fn index(self) -> usize {
        DetailView::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }

    pub fn next(self) -> DetailView {
        DetailView::ALL[(self.index() + 1) % DetailView::ALL.len()]
    }

    pub fn prev(self) -> DetailView {
        let n = DetailView::ALL.len();
        DetailView::ALL[(self.index() + n - 1) % n]
    }
}

/// True when data this old must be shown as stale.
pub(crate) fn is_stale(age_ms: i64, stale_after_ms: u64) -> bool {
    age_ms >= 0 && age_ms as u64 >= stale_after_ms
}
