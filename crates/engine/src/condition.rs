//! Condition expressions: `"<indicator> <op> <number>"`, parsed once at construction.
//!
//! Ops: `> >= < <= == !=`. Exit conditions may also use the position-relative operands `pnl_pct`
//! and `position_age_s`. `==` uses a tolerance of 1e-9 x max(1, |threshold|) because indicator
//! values are floating-point; `!=` is its negation.
//!
//! Progress (0-100 %) toward being met: 100 when met; 0 without a value; otherwise
//! `100 x clamp(1 - d / s, 0, 1)`, capped at 99 so only a met condition shows 100, where
//! `d` = the distance still to go (`t - x` for `>`/`>=`, `x - t` for `<`/`<=`, `|x - t|` for
//! `==`) and `s` = `|t|`, or 1 when `t` is 0. For `x > t` with `t > 0` this is simply `x / t`;
//! for negative thresholds (`pnl_pct <= -1`) it is the fraction of the way from 0 to `t`.
//! `!=` is either met (100) or exactly on the threshold (0).

use serde::Serialize;

use super::indicators::{IndicatorId, IndicatorSet};
use trademon_core::numfmt::{self, Unit};

/// The unit of a condition operand or indicator by name (`Plain` for unknown names), so a
/// client shows thresholds and values the way reasons do.
pub fn unit_of(name: &str) -> Unit {
    match name {
        "pnl_pct" => Unit::Percent,
        "position_age_s" => Unit::Seconds,
        _ => IndicatorId::parse(name).map_or(Unit::Plain, IndicatorId::unit),
    }
}

/// `buy_ratio_1m > 60%`: an expression with its threshold in the operand's unit.
pub fn display_expr(name: &str, op: &str, threshold: f64) -> String {
    format!(
        "{name} {op} {}",
        numfmt::threshold(threshold, unit_of(name))
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }

    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "<" => Op::Lt,
            "<=" => Op::Le,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            _ => return None,
        })
    }
}

/// What a condition reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operand {
    Indicator(IndicatorId),
    /// Position PnL in percent of margin (see `position`); exits only.
    PnlPct,
    /// Seconds since the position was opened; exits only.
    PositionAgeS,
}

impl Operand {
    /// What the operand measures (`pnl_pct` is in percent, `position_age_s` in seconds).
    pub fn unit(self) -> Unit {
        match self {
            Operand::Indicator(id) => id.unit(),
            Operand::PnlPct => Unit::Percent,
            Operand::PositionAgeS => Unit::Seconds,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Operand::Indicator(id) => id.as_str(),
            Operand::PnlPct => "pnl_pct",
            Operand::PositionAgeS => "position_age_s",
        }
    }
}

/// Which list a condition belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionKind {
    Entry,
    Exit,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub expr: String,
    pub operand: Operand,
    pub op: Op,
    pub threshold: f64,
}

/// Position-relative values for exit conditions.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PositionValues {
    pub pnl_pct: f64,
    pub age_s: f64,
}

/// The cheap part of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Check {
    pub value: Option<f64>,
    pub stale: bool,
    /// Holds; for entry conditions also not stale.
    pub met: bool,
}

/// One condition's state at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConditionProgress {
    pub kind: ConditionKind,
    pub expr: String,
    pub name: &'static str,
    pub op: Op,
    pub threshold: f64,
    pub value: Option<f64>,
    /// 0-100, see the module docs.
    pub progress_pct: f64,
    /// Holds on usable data: for entry conditions a stale value is never met.
    pub met: bool,
    pub stale: bool,
}

fn valid_names(allow_position: bool) -> String {
    let mut names: Vec<&str> = IndicatorId::ALL.iter().map(|i| i.as_str()).collect();
    if allow_position {
        names.extend(["pnl_pct", "position_age_s"]);
    }
    names.join(", ")
}

/// Parses `expr`; `allow_position` admits `pnl_pct` / `position_age_s` (exit lists). The error
/// says what is wrong; the caller adds the strategy and the expression.
pub fn parse(expr: &str, allow_position: bool) -> Result<Condition, String> {
    let s = expr.trim();
    let name_end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    let name = &s[..name_end];
    if name.is_empty() {
        return Err(format!(
            "expected `<indicator> <op> <number>`, no indicator name found; valid names: {}",
            valid_names(allow_position)
        ));
    }
    let operand = match (name, IndicatorId::parse(name)) {
        (_, Some(id)) => Operand::Indicator(id),
        ("pnl_pct", None) if allow_position => Operand::PnlPct,
        ("position_age_s", None) if allow_position => Operand::PositionAgeS,
        ("pnl_pct" | "position_age_s", None) => {
            return Err(format!(
                "`{name}` is only valid in exit conditions (there is no position before entry)"
            ));
        }
        _ => {
            return Err(format!(
                "unknown indicator `{name}`; valid names: {}",
                valid_names(allow_position)
            ));
        }
    };
    let rest = s[name_end..].trim_start();
    let op_end = rest
        .find(|c: char| !matches!(c, '<' | '>' | '=' | '!'))
        .unwrap_or(rest.len());
    let op_str = &rest[..op_end];
    let Some(op) = Op::parse(op_str) else {
        let shown = if op_str.is_empty() {
            rest.split_whitespace().next().unwrap_or("nothing")
        } else {
            op_str
        };
        return Err(format!(
            "bad operator `{shown}`; expected one of > >= < <= == !="
        ));
    };
    let num = rest[op_end..].trim();
    let threshold: f64 = num
        .parse()
        .map_err(|_| format!("bad number `{num}` after `{}`", op.as_str()))?;
    if !threshold.is_finite() {
        return Err(format!("bad number `{num}`: must be finite"));
    }
    Ok(Condition {
        expr: expr.to_string(),
        operand,
        op,
        threshold,
    })
}

fn tolerance(t: f64) -> f64 {
    1e-9 * t.abs().max(1.0)
}

impl Condition {
    /// Whether `x` satisfies the comparison.
    pub fn holds(&self, x: f64) -> bool {
        let t = self.threshold;
        match self.op {
            Op::Gt => x > t,
            Op::Ge => x >= t,
            Op::Lt => x < t,
            Op::Le => x <= t,
            Op::Eq => (x - t).abs() <= tolerance(t),
            Op::Ne => (x - t).abs() > tolerance(t),
        }
    }

    /// Progress toward being met for value `x`, see the module docs.
    pub fn progress(&self, x: Option<f64>) -> f64 {
        let Some(x) = x else { return 0.0 };
        if self.holds(x) {
            return 100.0;
        }
        let t = self.threshold;
        let d = match self.op {
            Op::Gt | Op::Ge => t - x,
            Op::Lt | Op::Le => x - t,
            Op::Eq => (x - t).abs(),
            Op::Ne => return 0.0,
        };
        let scale = if t == 0.0 { 1.0 } else { t.abs() };
        (100.0 * (1.0 - d / scale)).clamp(0.0, 99.0)
    }

    /// Value, staleness and met-ness without allocating (the per-trade path).
    /// Position operands are never stale.
    pub fn check(
        &self,
        kind: ConditionKind,
        ind: &IndicatorSet,
        position: Option<PositionValues>,
        now_ms: i64,
        stale_ms: i64,
    ) -> Check {
        let (value, stale) = match self.operand {
            Operand::Indicator(id) => match ind.get(id) {
                Some(v) => (Some(v.value), v.is_stale(now_ms, stale_ms)),
                None => (None, false),
            },
            Operand::PnlPct => (position.map(|p| p.pnl_pct), false),
            Operand::PositionAgeS => (position.map(|p| p.age_s), false),
        };
        let holds = value.is_some_and(|x| self.holds(x));
        Check {
            value,
            stale,
            met: holds && !(kind == ConditionKind::Entry && stale),
        }
    }

    /// Evaluates against indicators (and, for exits, the open position, if any).
    pub fn evaluate(
        &self,
        kind: ConditionKind,
        ind: &IndicatorSet,
        position: Option<PositionValues>,
        now_ms: i64,
        stale_ms: i64,
    ) -> ConditionProgress {
        let Check { value, stale, met } = self.check(kind, ind, position, now_ms, stale_ms);
        let mut progress = self.progress(value);
        if !met {
            progress = progress.min(99.0);
        }
        ConditionProgress {
            kind,
            expr: self.expr.clone(),
            name: self.operand.as_str(),
            op: self.op,
            threshold: self.threshold,
            value,
            progress_pct: progress,
            met,
            stale,
        }
    }

    /// Short text for reasons, numbers in the operand's unit:
    /// `change_pct_1m > 0.5% (0.81%)`, `buy_ratio_1m > 60% (71.2%)`.
    pub fn describe(&self, value: Option<f64>) -> String {
        let expr = display_expr(self.operand.as_str(), self.op.as_str(), self.threshold);
        match value {
            Some(v) => format!("{expr} ({})", numfmt::with_unit(v, self.operand.unit())),
            None => format!("{expr} (no value)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(expr: &str) -> Condition {
        parse(expr, true).unwrap()
    }

    #[test]
    fn parses_every_op_with_or_without_spaces() {
        for (e, op) in [
            ("volume_surge_5m > 3", Op::Gt),
            ("change_pct_1m>=0.8", Op::Ge),
            ("rsi_14_1m < 30", Op::Lt),
            ("  spread_bps <= 5  ", Op::Le),
            ("funding_rate == 0", Op::Eq),
            ("mid != -1e3", Op::Ne),
        ] {
            let cond = parse(e, false).unwrap();
            assert_eq!(cond.op, op, "{e}");
        }
        assert_eq!(c("mid != -1e3").threshold, -1000.0);
        assert_eq!(c("pnl_pct <= -1").operand, Operand::PnlPct);
        assert_eq!(c("position_age_s > 900").operand, Operand::PositionAgeS);
    }

    #[test]
    fn parse_errors_say_what_is_wrong() {
        let e = parse("volume_surge > 3", false).unwrap_err();
        assert!(e.contains("unknown indicator `volume_surge`"), "{e}");
        assert!(e.contains("volume_surge_5m") && e.contains("open_interest_change_pct_5m"));
        assert!(!e.contains("pnl_pct"));
        let e = parse("pnl_pct >= 2", false).unwrap_err();
        assert!(e.contains("only valid in exit"), "{e}");
        let e = parse("last => 3", false).unwrap_err();
        assert!(e.contains("bad operator `=>`"), "{e}");
        let e = parse("last 3", false).unwrap_err();
        assert!(e.contains("bad operator `3`"), "{e}");
        let e = parse("last > abc", false).unwrap_err();
        assert!(e.contains("bad number `abc`"), "{e}");
        let e = parse("last > ", false).unwrap_err();
        assert!(e.contains("bad number ``"), "{e}");
        let e = parse("last > inf", false).unwrap_err();
        assert!(e.contains("finite"), "{e}");
        let e = parse("> 3", false).unwrap_err();
        assert!(e.contains("no indicator name"), "{e}");
    }

    #[test]
    fn progress_values() {
        let gt = c("volume_surge_5m > 3");
        assert_eq!(gt.progress(None), 0.0);
        assert_eq!(gt.progress(Some(1.5)), 50.0);
        assert_eq!(gt.progress(Some(0.0)), 0.0);
        assert_eq!(gt.progress(Some(-2.0)), 0.0);
        assert_eq!(gt.progress(Some(3.0)), 99.0); // on the threshold, not met
        assert_eq!(gt.progress(Some(3.1)), 100.0);
        // Negative threshold: fraction of the way from 0 to t.
        let sl = c("pnl_pct <= -1");
        assert_eq!(sl.progress(Some(-0.5)), 50.0);
        assert_eq!(sl.progress(Some(0.5)), 0.0);
        assert_eq!(sl.progress(Some(-1.0)), 100.0);
        let lt = c("spread_bps < 5");
        assert_eq!(lt.progress(Some(7.5)), 50.0);
        assert_eq!(lt.progress(Some(4.0)), 100.0);
        let gt_neg = c("change_pct_1m > -2");
        assert_eq!(gt_neg.progress(Some(-3.0)), 50.0);
        assert_eq!(gt_neg.progress(Some(-1.0)), 100.0);
        let zero = c("funding_rate > 0");
        assert_eq!(zero.progress(Some(-0.25)), 75.0);
        let eq = c("rsi_14_1m == 50");
        assert_eq!(eq.progress(Some(50.0 + 1e-12)), 100.0);
        assert_eq!(eq.progress(Some(40.0)), 80.0);
        assert_eq!(eq.progress(Some(60.0)), 80.0);
        let ne = c("rsi_14_1m != 50");
        assert_eq!(ne.progress(Some(50.0)), 0.0);
        assert_eq!(ne.progress(Some(51.0)), 100.0);
    }
}
