//! The UI's side of alerts, inside `App`: the detector, the banners waiting to be acknowledged,
//! and the bell counter the render thread follows. Pure: time is passed in.
//!
//! Serde: a recording's start state carries it, so a replay shows the same banners and does not
//! ring for what the live UI had already seen.

use super::{Alert, AlertKind, AlertsConfig, Detector};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// What one alert does, by its kind's `[alerts.<kind>]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dispatch {
    pub banner: bool,
    /// The bell rings for it (false also when the rate limit held it back).
    pub bell: bool,
    pub hook: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertState {
    /// Per kind: bell, banner, hook. The hook's command stays with the runner, out of the
    /// state (a recording's start state must not carry a command that may hold a token).
    kinds: Vec<(AlertKind, super::KindConfig)>,
    bell_min_interval_ms: u64,
    banner_max: usize,
    pub(crate) detector: Detector,
    /// Oldest first; the banner shows the oldest.
    pending: VecDeque<Alert>,
    /// Bells rung so far; the render thread writes a BEL when this grows.
    bells: u64,
    last_bell_ms: Option<i64>,
}

impl AlertState {
    pub fn new(cfg: &AlertsConfig) -> AlertState {
        AlertState {
            kinds: AlertKind::ALL
                .into_iter()
                .map(|k| {
                    let mut c = cfg.kind(k);
                    c.hook &= cfg.has_hook();
                    (k, c)
                })
                .collect(),
            bell_min_interval_ms: cfg.bell_min_interval_ms,
            banner_max: cfg.banner_max.max(1),
            detector: Detector::new(cfg.liquidation_risk_pct),
            pending: VecDeque::new(),
            bells: 0,
            last_bell_ms: None,
        }
    }

    /// Apply `alert`'s kind settings: queue its banner, ring (at most once per
    /// `bell_min_interval_ms`), and say whether its hook should run.
    pub fn dispatch(&mut self, alert: &Alert, now_ms: i64) -> Dispatch {
        let cfg = self
            .kinds
            .iter()
            .find(|(k, _)| *k == alert.kind)
            .map(|(_, c)| *c)
            .unwrap_or(super::KindConfig {
                bell: false,
                banner: false,
                hook: false,
            });
        if cfg.banner {
            self.pending.push_back(alert.clone());
            while self.pending.len() > self.banner_max {
                self.pending.pop_front();
            }
        }
        let quiet = self
            .last_bell_ms
            .is_some_and(|t| now_ms.saturating_sub(t) < self.bell_min_interval_ms as i64);
        let bell = cfg.bell && !quiet;
        if bell {
            self.bells += 1;
            self.last_bell_ms = Some(now_ms);
        }
        Dispatch {
            banner: cfg.banner,
            bell,
            hook: cfg.hook,
        }
    }

    /// The banner to show and how many more wait behind it.
    pub fn banner(&self) -> Option<(&Alert, usize)> {
        self.pending.front().map(|a| (a, self.pending.len() - 1))
    }

    /// The shown banner is acknowledged: the next one (if any) shows.
    pub fn acknowledge(&mut self) -> Option<Alert> {
        self.pending.pop_front()
    }

    pub fn bells(&self) -> u64 {
        self.bells
    }
}
