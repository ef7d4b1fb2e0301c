//! The switchable faults as one typed, serializable value. `FaultState::default()` is "all off":
//! the simulator then behaves exactly as the happy-path protocol describes.
//!
//! The control API and the in-process handle both go through this struct, so the JSON knobs
//! documented in docs/simulator.md are the field names here and nothing else.

use super::selector::Selector;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultState {
    // --- heartbeat ---
    /// Hold every pong this long before sending it (0 = immediately).
    pub delay_pongs_ms: u64,
    /// Swallow pongs; the ping still resets the heartbeat.
    pub drop_pongs: bool,
    /// Heartbeat timeout override (None = the configured `heartbeat_timeout_ms`). Applies to
    /// open connections at once, measured from their last ping.
    pub heartbeat_timeout_ms: Option<u64>,
    /// On heartbeat expiry drop TCP without the notice and close frame (client sees 1006).
    pub heartbeat_drop: bool,
    /// Send `{"channel":"clientId",..}` after each connection's first pong.
    pub client_id_after_pong: bool,

    // --- streams ---
    /// Stop every market push (acks, pongs and errors still flow).
    pub pause_pushes: bool,
    /// Streams that stop pushing while all others continue.
    pub stall: Vec<Selector>,
    /// Streams whose pushes go out as Binary gzip frames instead of Text.
    pub gzip: Vec<Selector>,

    // --- subscription replies ---
    /// Subscriptions that get no `rs.sub.*` reply.
    pub never_ack: Vec<Selector>,
    /// With `never_ack`: stream anyway (true) or also drop the subscription (false).
    pub never_ack_streams: bool,
    /// Subscriptions acked twice (one stream, like a duplicate subscribe on MEXC).
    pub ack_twice: Vec<Selector>,
    /// Subscriptions refused with `rs.error` (`Contract [SYM] not exists`).
    pub rs_error: Vec<Selector>,
    /// Subscriptions acked `success` that never push (lowercase or delisted symbol on MEXC).
    pub silent: Vec<Selector>,
    /// Subscriptions whose ack is held back `delay_acks_ms` (reorders acks across methods).
    pub delay_acks: Vec<Selector>,
    pub delay_acks_ms: u64,

    // --- payload shape ---
    /// `push.deal` with `data` as one object per frame instead of an array.
    pub deal_object: bool,
    /// Every price in pushes spelled in exponent form (`9.50123E+4`).
    pub exponent_numbers: bool,
    /// Envelope `ts` as a JSON string (`"ts":"1790000000000"`), pushes and replies.
    pub ts_string: bool,
    /// Added to every envelope `ts` and pong time: the exchange clock runs ahead (or behind).
    pub ts_skew_ms: i64,

    // --- connection ---
    /// Answer `/edge` upgrades with HTTP 403 and the WAF HTML page.
    pub refuse_upgrades: bool,

    // --- REST ---
    /// Every REST call answers HTTP 200 `success:false` code 510.
    pub rest_throttle: bool,
    /// A real limiter: 20 requests per 2 s window per endpoint, then 510 until the window ends.
    pub rest_rate_limit: bool,
    /// Every REST call answers the HTML 403 WAF page.
    pub rest_waf: bool,
    /// Hold every REST response this long.
    pub rest_delay_ms: u64,
    /// Answer every REST call with this HTTP status and a short text body (e.g. 502, 429).
    pub rest_http_status: Option<u16>,
    /// `ticker?symbol=X` answers the all-symbols array instead of one object.
    pub rest_ticker_array: bool,
}

/// Why a patch was refused.
#[derive(Debug)]
pub struct PatchError(pub String);

impl std::fmt::Display for PatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PatchError {}

impl FaultState {
    /// True when no fault is switched on.
    pub fn is_off(&self) -> bool {
        *self == FaultState::default()
    }

    /// Apply a JSON object of knobs: named fields change, the rest stay; `null` puts a knob
    /// back to its default. Unknown names and wrong types are refused and nothing changes.
    pub fn patched(&self, patch: &Value) -> Result<FaultState, PatchError> {
        let Value::Object(changes) = patch else {
            return Err(PatchError("a fault patch must be a JSON object".into()));
        };
        let mut merged = to_object(self)?;
        let defaults = to_object(&FaultState::default())?;
        for (key, value) in changes {
            let Some(default) = defaults.get(key) else {
                return Err(PatchError(format!(
                    "unknown fault {key:?}; known: {}",
                    defaults.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            };
            let value = if value.is_null() { default } else { value };
            merged.insert(key.clone(), value.clone());
        }
        let next: FaultState = serde_json::from_value(Value::Object(merged))
            .map_err(|e| PatchError(format!("invalid fault patch: {e}")))?;
        next.validate()?;
        Ok(next)
    }

    fn validate(&self) -> Result<(), PatchError> {
        if let Some(status) = self.rest_http_status
            && !(100..=599).contains(&status)
        {
            return Err(PatchError(format!(
                "rest_http_status {status} is not an HTTP status"
            )));
        }
        Ok(())
    }
}

fn to_object(state: &FaultState) -> Result<Map<String, Value>, PatchError> {
    match serde_json::to_value(state) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(PatchError("fault state is not an object".into())),
        Err(e) => Err(PatchError(format!("fault state: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn default_is_off_and_round_trips() {
        let off = FaultState::default();
        assert!(off.is_off());
        let v = serde_json::to_value(&off).unwrap();
        assert_eq!(serde_json::from_value::<FaultState>(v).unwrap(), off);
        assert_eq!(
            serde_json::from_str::<FaultState>("{}").unwrap(),
            FaultState::default()
        );
    }

    #[test]
    fn patch_changes_only_named_knobs_and_null_resets() {
        let s = FaultState::default()
            .patched(&json!({"delay_pongs_ms": 20000, "stall": ["deal:BTC_USDT"]}))
            .unwrap();
        assert_eq!(s.delay_pongs_ms, 20_000);
        assert_eq!(s.stall.len(), 1);
        assert!(!s.drop_pongs);
        let s = s.patched(&json!({"drop_pongs": true})).unwrap();
        assert_eq!(s.delay_pongs_ms, 20_000);
        let s = s
            .patched(&json!({"delay_pongs_ms": null, "stall": null, "drop_pongs": null}))
            .unwrap();
        assert!(s.is_off());
    }

    #[test]
    fn bad_patches_are_refused_with_a_reason() {
        let off = FaultState::default();
        for bad in [
            json!({"delay_pong_ms": 1}),
            json!({"delay_pongs_ms": -1}),
            json!({"drop_pongs": "yes"}),
            json!({"stall": ["liquidation:BTC_USDT"]}),
            json!({"rest_http_status": 7}),
            json!([1]),
        ] {
            let e = off.patched(&bad).unwrap_err();
            assert!(!e.0.is_empty(), "{bad}");
        }
    }
}
