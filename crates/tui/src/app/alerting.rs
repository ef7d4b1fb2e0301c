//! `App`'s alert hooks: detection after the model or the link changed and as time passes,
//! dispatch (banner, bell, hook request), acknowledgement. See `crate::alerts`.

use super::App;
use crate::action::Effect;
use crate::alerts::{Alert, AlertState, AlertsConfig};
use trademon_protocol::ServerMsg;

impl App {
    /// Turn alerts on with these settings (`run` does; tests and benchmarks may leave them off).
    pub fn with_alerts(mut self, cfg: &AlertsConfig) -> App {
        self.alerts = Some(Box::new(AlertState::new(cfg)));
        self
    }

    /// Raise `alert` through its kind's settings: a banner until acknowledged, a bell, and an
    /// `Effect::Alert` the event loop logs (and runs the hook for). Detection calls this; so can
    /// any other part of the UI with an alert of its own (the scanner's thresholds).
    pub fn raise_alert(&mut self, alert: Alert) -> Vec<Effect> {
        let now = self.now_ms;
        let Some(state) = self.alerts.as_mut() else {
            return Vec::new();
        };
        let d = state.dispatch(&alert, now);
        if d.banner || d.bell {
            self.dirty = true;
        }
        vec![Effect::Alert {
            alert,
            hook: d.hook,
        }]
    }

    /// Bells rung so far: the render thread writes one BEL when this grows.
    pub fn bells(&self) -> u64 {
        self.alerts.as_ref().map_or(0, |a| a.bells())
    }

    /// The banner on top of the screen and how many more wait behind it.
    pub fn alert_banner(&self) -> Option<(&Alert, usize)> {
        self.alerts.as_ref()?.banner()
    }

    /// The acknowledge key: the shown banner goes, the next one shows.
    pub(super) fn acknowledge_alert(&mut self) -> Vec<Effect> {
        match self.alerts.as_mut().and_then(|a| a.acknowledge()) {
            Some(alert) => {
                self.dirty = true;
                vec![Effect::AlertAcknowledged(alert)]
            }
            None => Vec::new(),
        }
    }

    /// After a protocol message was applied: signals and positions may have changed.
    pub(super) fn alerts_after_message(&mut self, msg: &ServerMsg) -> Vec<Effect> {
        let relevant = matches!(
            msg,
            ServerMsg::Signal(_) | ServerMsg::Position(_) | ServerMsg::FullUpdate(_)
        );
        if relevant {
            self.alerts_after_model()
        } else {
            Vec::new()
        }
    }

    /// After the model changed (a message or a REST snapshot).
    pub(super) fn alerts_after_model(&mut self) -> Vec<Effect> {
        let now = self.now_ms;
        let found = match self.alerts.as_mut() {
            Some(a) => a.detector.trading(&self.model, now),
            None => return Vec::new(),
        };
        self.raise_all(found)
    }

    /// After the link status changed.
    pub(super) fn alerts_after_link(&mut self) -> Vec<Effect> {
        let now = self.now_ms;
        let found = match self.alerts.as_mut() {
            Some(a) => a.detector.link(&self.link, now),
            None => return Vec::new(),
        };
        self.raise_all(found)
    }

    /// As time passes: data ages grow.
    pub(super) fn alerts_after_tick(&mut self) -> Vec<Effect> {
        let now = self.now_ms;
        let found = match self.alerts.as_mut() {
            Some(a) => a.detector.staleness(
                &self.model,
                self.link.state,
                self.stale_after_ms,
                |age| super::is_stale(age, self.stale_after_ms),
                now,
            ),
            None => return Vec::new(),
        };
        self.raise_all(found)
    }

    fn raise_all(&mut self, alerts: Vec<Alert>) -> Vec<Effect> {
        alerts
            .into_iter()
            .flat_map(|a| self.raise_alert(a))
            .collect()
    }
}
