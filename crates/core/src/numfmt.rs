//! Number formatting shared by the engine (numbers inside reasons and events) and the TUI
//! (every number on screen), so one value reads the same everywhere. Pure and dependency-free.
//!
//! [`fit`] puts a finite value into a field of `width` columns and never cuts it silently. It
//! tries, in order: the requested decimals (more when a small value would otherwise show fewer
//! than two significant digits, fewer when it does not fit), a compact suffix (`1.23M`), then
//! scientific notation (`1.2e-5`). A form is taken in a first pass only if it keeps two
//! significant digits (or is exact); failing that, any form with one significant digit. A
//! nonzero value is never shown as `0`. Only when even one-digit scientific notation does not
//! fit is the field filled with [`OVERFLOW_CHAR`]: that never happens from [`MIN_WIDTH`] on.

/// Fills a field whose value cannot be shown at all: unmistakably not a number.
pub const OVERFLOW_CHAR: char = '#';

/// Every finite value fits from this width on: the longest one-digit scientific form is
/// `-1e-308` (seven columns); a signed percentage ([`fit_percent`]) needs one more.
pub const MIN_WIDTH: usize = 7;

/// Decimals beyond which plain notation gives way to scientific.
const MAX_PLAIN_DECIMALS: usize = 12;
/// Compact suffixes stop here; beyond, scientific notation is shorter and clearer.
const COMPACT_MAX: f64 = 1e15;

/// What a number measures: decides decimals and the unit sign in reasons and cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A price in quote currency; decimals follow the contract (or the magnitude).
    Price,
    /// Already in percent (`change_pct_1m` = 0.62 means 0.62 %).
    Percent,
    /// A 0-1 fraction shown as a percentage (`buy_ratio_1m` = 0.71 reads `71.0%`).
    Ratio,
    /// A small fraction shown as a percentage with more decimals (funding 0.0001 = `0.0100%`).
    Rate,
    /// An amount of quote currency (volume, PnL, fees).
    Quote,
    /// Basis points.
    Bps,
    /// A duration in seconds.
    Seconds,
    /// A plain number (RSI, a surge ratio, trades per second).
    Plain,
}

impl Unit {
    /// The value in the unit it is shown in (ratios and rates become percentages).
    pub fn shown(self, value: f64) -> f64 {
        match self {
            Unit::Ratio | Unit::Rate => value * 100.0,
            _ => value,
        }
    }

    /// The suffix written after the number.
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Percent | Unit::Ratio | Unit::Rate => "%",
            Unit::Bps => " bps",
            Unit::Seconds => " s",
            _ => "",
        }
    }

    fn decimals(self, value: f64) -> usize {
        match self {
            Unit::Price => price_decimals(value),
            Unit::Ratio => 1,
            Unit::Rate => 4,
            Unit::Seconds => 0,
            Unit::Bps => 1,
            _ => 2,
        }
    }
}

/// Decimals for a price by its magnitude, for when the contract's price scale is unknown:
/// 95123.4, 3512.25, 150.12, 14.523, 1.2345, 0.35012, 0.00001234.
pub fn price_decimals(price: f64) -> usize {
    let a = price.abs();
    if !a.is_finite() || a == 0.0 {
        return 2;
    }
    if a >= 10_000.0 {
        1
    } else if a >= 100.0 {
        2
    } else if a >= 10.0 {
        3
    } else if a >= 1.0 {
        4
    } else if a >= 0.01 {
        5
    } else {
        // Four significant digits for tiny prices (0.00001234).
        let leading_zeros = (-a.log10()).ceil() as usize;
        (leading_zeros + 3).min(MAX_PLAIN_DECIMALS)
    }
}

/// A value with its unit for reasons and events, at full useful precision:
/// `98264.9`, `71.2%`, `0.0100%`, `600 s`.
pub fn with_unit(value: f64, unit: Unit) -> String {
    if !value.is_finite() {
        return "n/a".to_string();
    }
    let shown = unit.shown(value);
    format!(
        "{}{}",
        fit(shown, unit.decimals(value), usize::MAX),
        unit.suffix()
    )
}

/// A configured threshold in the unit a trader reads it in, with no padding decimals:
/// `buy_ratio_1m > 0.6` reads `60%`, `change_pct_1m > 0.5` reads `0.5%`, `600 s`.
pub fn threshold(value: f64, unit: Unit) -> String {
    if !value.is_finite() {
        return "n/a".to_string();
    }
    // Rounded to 8 decimals first: 0.6 x 100 is 60.00000000000001 in binary floating point.
    let shown = format!("{:.8}", unit.shown(value));
    let trimmed = shown.trim_end_matches('0').trim_end_matches('.');
    let trimmed = if trimmed == "-0" { "0" } else { trimmed };
    format!("{trimmed}{}", unit.suffix())
}

/// A price for reasons and events, at the contract's decimals when known.
pub fn price(value: f64, decimals: Option<u32>) -> String {
    if !value.is_finite() {
        return "n/a".to_string();
    }
    let d = decimals.map_or_else(|| price_decimals(value), |d| d as usize);
    fit(value, d, usize::MAX)
}

/// `value` in at most `width` columns (see the module docs); [`OVERFLOW_CHAR`]s only below
/// the value's minimum width, never from [`MIN_WIDTH`] on. Not finite: `--`.
pub fn fit(value: f64, decimals: usize, width: usize) -> String {
    fit_inner(value, decimals, width, false)
}

/// Like [`fit`] with a `+` before positive values (`+1.23`, `-0.50`, `0.00`).
pub fn fit_signed(value: f64, decimals: usize, width: usize) -> String {
    fit_inner(value, decimals, width, true)
}

/// A signed percentage (`+1.23%`) in at most `width` columns.
pub fn fit_percent(value: f64, decimals: usize, width: usize) -> String {
    with_suffix(
        fit_signed(value, decimals, width.saturating_sub(1)),
        "%",
        width,
    )
}

/// A value of `unit` fitted to `width` with its suffix, e.g. a ratio `71.0%` or funding
/// `0.0100%`; percentages are unsigned here (a level, not a move).
pub fn fit_unit(value: f64, unit: Unit, width: usize) -> String {
    let suffix = unit.suffix();
    let body = fit(
        unit.shown(value),
        unit.decimals(value),
        width.saturating_sub(suffix.len()),
    );
    with_suffix(body, suffix, width)
}

/// Compact first (`1.23M`), for volumes: a column of volumes reads alike.
pub fn fit_compact(value: f64, width: usize) -> String {
    if !value.is_finite() {
        return missing(width);
    }
    let value = if value == 0.0 { 0.0 } else { value };
    if value.abs() < 1000.0 {
        return fit(value, 0, width);
    }
    let forms = compact_forms(value, false).chain(scientific_forms(value, false));
    choose(value, forms.collect(), width).unwrap_or_else(|| overflow(width))
}

/// The overflow marker for a field of `width` columns.
pub fn overflow(width: usize) -> String {
    std::iter::repeat_n(OVERFLOW_CHAR, width).collect()
}

fn with_suffix(body: String, suffix: &str, width: usize) -> String {
    if body.starts_with(OVERFLOW_CHAR) {
        overflow(width)
    } else if body == MISSING {
        body
    } else {
        body + suffix
    }
}

/// Shown for a value that is not a number.
const MISSING: &str = "--";

fn missing(width: usize) -> String {
    if MISSING.len() <= width {
        MISSING.to_string()
    } else {
        overflow(width)
    }
}

fn fit_inner(value: f64, decimals: usize, width: usize, signed: bool) -> String {
    if !value.is_finite() {
        return missing(width);
    }
    // -0.0 would print as `-0`.
    let value = if value == 0.0 { 0.0 } else { value };
    let sign = signed && value > 0.0;
    let forms = plain_forms(value, decimals, sign)
        .chain(compact_forms(value, sign))
        .chain(scientific_forms(value, sign))
        .collect();
    choose(value, forms, width).unwrap_or_else(|| overflow(width))
}

/// The first form that fits and keeps two significant digits (or is exact, or is the value
/// at two significant digits, like `0.06` for 0.0600001), else the first that fits with one.
fn choose(value: f64, forms: Vec<String>, width: usize) -> Option<String> {
    let fits = |s: &&String| s.len() <= width;
    let two_sig: f64 = format!("{value:.1e}").parse().unwrap_or(f64::NAN);
    let good = |s: &String| {
        let shown = parse_shown(s);
        shown == Some(value) || shown == Some(two_sig) || significant_digits(s) >= 2
    };
    let exact = |s: &String| parse_shown(s) == Some(value);
    forms
        .iter()
        .filter(fits)
        .find(|s| good(s))
        .or_else(|| {
            forms
                .iter()
                .filter(fits)
                .find(|s| exact(s) || significant_digits(s) >= 1)
        })
        .cloned()
}

fn plain_forms(value: f64, decimals: usize, sign: bool) -> impl Iterator<Item = String> {
    // More decimals for small values so they keep two significant digits (0.0012, not 0.00).
    let a = value.abs();
    let wanted = if a > 0.0 && a < 1.0 {
        let leading_zeros = ((-a.log10()).ceil() as usize).saturating_sub(1);
        decimals.max(leading_zeros + 2)
    } else {
        decimals
    };
    let top = wanted.min(MAX_PLAIN_DECIMALS.max(decimals));
    (0..=top)
        .rev()
        .map(move |d| {
            let s = if sign {
                format!("{value:+.d$}")
            } else {
                format!("{value:.d$}")
            };
            (d, s)
        })
        // An extra decimal that is a zero adds nothing (`0.060` for 0.06).
        .filter(move |(d, s)| *d <= decimals || !s.ends_with('0'))
        .map(|(_, s)| s)
}

/// Compact notation at exactly `decimals` (`1.2k` at 1); plain below 1000.
pub fn compact(value: f64, decimals: usize) -> String {
    compact_form(value, decimals, false).unwrap_or_else(|| fit(value, decimals, usize::MAX))
}

fn compact_forms(value: f64, sign: bool) -> impl Iterator<Item = String> {
    (0..=2usize)
        .rev()
        .filter_map(move |d| compact_form(value, d, sign))
}

fn compact_form(value: f64, d: usize, sign: bool) -> Option<String> {
    const UNITS: [(f64, &str); 4] = [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")];
    let a = value.abs();
    if !(1000.0..COMPACT_MAX).contains(&a) {
        return None;
    }
    let i = UNITS.iter().position(|(scale, _)| a >= *scale)?;
    let (mut scale, mut suffix) = UNITS[i];
    // Rounding can carry to 1000 (999.996k -> 1000.00k): use the next unit up.
    if i > 0 && round_to(a / scale, d) >= 1000.0 {
        (scale, suffix) = UNITS[i - 1];
    }
    let m = value / scale;
    Some(if sign {
        format!("{m:+.d$}{suffix}")
    } else {
        format!("{m:.d$}{suffix}")
    })
}

fn scientific_forms(value: f64, sign: bool) -> impl Iterator<Item = String> {
    (0..=3usize).rev().map(move |d| {
        if sign {
            format!("{value:+.d$e}")
        } else {
            format!("{value:.d$e}")
        }
    })
}

fn round_to(x: f64, decimals: usize) -> f64 {
    format!("{x:.decimals$}").parse().unwrap_or(f64::NAN)
}

/// The value a shown form stands for (`1.23M` -> 1 230 000); `None` when it is no number.
pub fn parse_shown(s: &str) -> Option<f64> {
    let (num, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1e3),
        'M' => (&s[..s.len() - 1], 1e6),
        'B' => (&s[..s.len() - 1], 1e9),
        'T' => (&s[..s.len() - 1], 1e12),
        _ => (s, 1.0),
    };
    num.parse::<f64>().ok().map(|v| v * mult)
}

/// Half a unit of the last digit shown: how far the shown number may be from the value.
pub fn shown_precision(s: &str) -> Option<f64> {
    let (body, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1e3),
        'M' => (&s[..s.len() - 1], 1e6),
        'B' => (&s[..s.len() - 1], 1e9),
        'T' => (&s[..s.len() - 1], 1e12),
        _ => (s, 1.0),
    };
    let (mantissa, exp) = match body.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (body, 0),
    };
    let decimals = mantissa.split_once('.').map_or(0, |(_, f)| f.len()) as i32;
    // Parsed rather than computed: powi under- and overflows at the ends of f64.
    let half_unit: f64 = format!("5e{}", exp - decimals - 1).parse().ok()?;
    Some(half_unit * mult)
}

/// Significant digits of a shown form: digits of the mantissa from the first nonzero one.
fn significant_digits(s: &str) -> usize {
    let mantissa = s.split('e').next().unwrap_or("");
    mantissa
        .chars()
        .filter(char::is_ascii_digit)
        .skip_while(|c| *c == '0')
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_values_get_more_decimals_instead_of_hashes() {
        // A condition value of 0.034 in a narrow column, PnL and fees of a few cents.
        assert_eq!(fit(0.034, 2, 9), "0.034");
        assert_eq!(fit(0.034, 2, 5), "0.034");
        assert_eq!(fit(0.034, 2, 4), "0.03");
        assert_eq!(fit(0.0012, 2, 6), "0.0012");
        assert_eq!(
            fit(0.06, 2, 8),
            "0.06",
            "no padding zero beyond the decimals asked for"
        );
        assert_eq!(fit(0.0600001, 2, 8), "0.06");
        assert_eq!(fit_signed(0.0042, 2, 8), "+0.0042");
        assert_eq!(fit(0.00001234, 2, 6), "1.2e-5");
        assert_eq!(fit(0.00001234, 8, 12), "0.00001234");
    }

    #[test]
    fn order_is_decimals_then_suffix_then_scientific() {
        assert_eq!(fit(123456.78, 2, 9), "123456.78");
        assert_eq!(fit(123456.78, 2, 8), "123456.8");
        assert_eq!(fit(123456.78, 2, 6), "123457");
        assert_eq!(fit(123456.78, 2, 5), "123k");
        assert_eq!(fit(1_234_567.0, 2, 5), "1.23M");
        assert_eq!(fit(1_234_567.0, 2, 2), "1M");
        assert_eq!(fit(3512.25, 2, 4), "3512");
        assert_eq!(fit(3512.25, 2, 3), "4k");
        assert_eq!(fit(35123.0, 2, 2), "##");
        assert_eq!(fit(1e20, 2, 7), "1.00e20");
        assert_eq!(fit(-7.5e13, 2, 7), "-75.00T");
        assert_eq!(fit(1e20, 2, 6), "1.0e20");
        assert_eq!(fit(1e20, 2, 4), "1e20");
        assert_eq!(fit(0.35, 2, 1), "#", "0.35 is never shown as 0");
    }

    #[test]
    fn reasons_carry_rounded_numbers() {
        assert_eq!(price(98264.92458370002, None), "98264.9");
        assert_eq!(price(98264.92458370002, Some(2)), "98264.92");
        assert_eq!(price(0.000012345678, None), "0.00001235");
        assert_eq!(with_unit(0.7123, Unit::Ratio), "71.2%");
        assert_eq!(with_unit(0.0001, Unit::Rate), "0.0100%");
        assert_eq!(with_unit(0.8123, Unit::Percent), "0.81%");
        assert_eq!(with_unit(2.4, Unit::Plain), "2.40");
        assert_eq!(with_unit(612.4, Unit::Seconds), "612 s");
        assert_eq!(with_unit(0.034, Unit::Plain), "0.034");
        assert_eq!(threshold(0.6, Unit::Ratio), "60%");
        assert_eq!(threshold(0.5, Unit::Percent), "0.5%");
        assert_eq!(threshold(-1.5, Unit::Percent), "-1.5%");
        assert_eq!(threshold(600.0, Unit::Seconds), "600 s");
        assert_eq!(threshold(3.0, Unit::Plain), "3");
        assert_eq!(threshold(0.0001, Unit::Rate), "0.01%");
    }

    #[test]
    fn units_in_cells() {
        assert_eq!(fit_unit(0.71, Unit::Ratio, 6), "71.0%");
        assert_eq!(fit_unit(0.71, Unit::Ratio, 4), "71%");
        assert_eq!(fit_unit(0.0001, Unit::Rate, 8), "0.0100%");
        assert_eq!(fit_unit(0.00012, Unit::Rate, 6), "0.012%");
        assert_eq!(fit_percent(1.234, 2, 8), "+1.23%");
        assert_eq!(fit_percent(-0.5, 2, 8), "-0.50%");
        assert_eq!(fit_percent(-12.345, 2, 4), "-12%");
        assert_eq!(fit_percent(0.4, 2, 5), "+0.4%");
        assert_eq!(fit_percent(0.0, 2, 6), "0.00%");
        assert_eq!(fit_compact(1.234e9, 7), "1.23B");
        assert_eq!(fit_compact(12_345_678.0, 4), "12M");
        assert_eq!(fit_compact(987.0, 7), "987");
        assert_eq!(fit_compact(999_999.0, 4), "1.0M");
    }

    #[test]
    fn minimum_width_holds_for_the_extremes() {
        for v in [
            f64::MAX,
            -f64::MAX,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            -1e-100,
        ] {
            let s = fit(v, 2, MIN_WIDTH);
            assert!(
                !s.contains(OVERFLOW_CHAR) && s.len() <= MIN_WIDTH,
                "{v}: {s}"
            );
            let s = fit_percent(v, 2, MIN_WIDTH + 1);
            assert!(
                !s.contains(OVERFLOW_CHAR) && s.len() <= MIN_WIDTH + 1,
                "{v}: {s}"
            );
        }
    }

    fn check_round_trip(v: f64, s: &str) {
        let back = parse_shown(s).unwrap_or_else(|| panic!("{v} shown as {s:?}: not a number"));
        if back.is_infinite() && v.abs() > 1e307 {
            // `2e308` for f64::MAX: right to the digit shown, but it parses beyond f64.
            return;
        }
        let tol = shown_precision(s).expect("precision") * (1.0 + 1e-9) + v.abs() * 1e-12;
        assert!((back - v).abs() <= tol, "{v} shown as {s:?} ({back})");
        if v != 0.0 {
            assert!(back != 0.0, "{v} shown as zero: {s:?}");
        }
    }

    fn values() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>().prop_filter("finite", |v| v.is_finite()),
            -1e7..1e7f64,
            -1.0..1.0f64,
            (-12i32..16, -9.99..9.99f64).prop_map(|(e, m)| m * 10f64.powi(e)),
        ]
    }

    proptest! {
        #[test]
        fn any_finite_value_fits_from_its_minimum_width(v in values(), d in 0usize..9, w in 0usize..24) {
            let s = fit(v, d, w);
            prop_assert!(s.len() <= w, "{} in {}: {:?}", v, w, s);
            if w >= MIN_WIDTH {
                prop_assert!(!s.contains(OVERFLOW_CHAR), "{} in {}: {:?}", v, w, s);
            }
            if !s.is_empty() && !s.contains(OVERFLOW_CHAR) {
                check_round_trip(v, &s);
            } else {
                // Hashes only when not even one scientific digit fits.
                prop_assert!(format!("{v:.0e}").len() > w, "{} in {}: {:?}", v, w, s);
            }
        }

        #[test]
        fn signed_and_percent_forms_fit_too(v in values(), w in 0usize..24) {
            let s = fit_signed(v, 2, w);
            prop_assert!(s.len() <= w);
            if w >= MIN_WIDTH {
                prop_assert!(!s.contains(OVERFLOW_CHAR), "{} in {}: {:?}", v, w, s);
            }
            if w > MIN_WIDTH {
                let p = fit_percent(v, 2, w);
                prop_assert!(p.len() <= w && p.ends_with('%'), "{} in {}: {:?}", v, w, p);
                check_round_trip(v, p.trim_end_matches('%'));
            }
            if !s.is_empty() && !s.contains(OVERFLOW_CHAR) {
                check_round_trip(v, &s);
            }
        }

        #[test]
        fn compact_volumes_fit(v in values(), w in MIN_WIDTH..20) {
            let s = fit_compact(v, w);
            prop_assert!(s.len() <= w && !s.contains(OVERFLOW_CHAR), "{} in {}: {:?}", v, w, s);
            check_round_trip(v, &s);
        }
    }
}
