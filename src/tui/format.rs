//! Number and time formatting that never cuts a number silently (UI-3).
//!
//! ratatui clips cell text at the column edge without a marker, so `123456.78` in six cells
//! reads as `123456`. Every number shown on screen goes through [`fit_number`] (or a helper
//! built on it) so it either fits whole, is shortened in a way the reader can see (fewer
//! decimals, a k/M/B/T suffix), or is replaced by an explicit overflow marker.

use unicode_width::UnicodeWidthStr;

/// Shown instead of a number that cannot fit at all: unmistakably not a value.
pub const OVERFLOW_CHAR: char = '#';

/// Shown where a value is unknown (no data yet).
pub const MISSING: &str = "--";

/// Decimals for a price by its magnitude, so every symbol shows a useful number of digits:
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
        // Keep four significant digits for tiny prices (0.00001234).
        let leading_zeros = (-a.log10()).ceil() as usize;
        (leading_zeros + 3).min(12)
    }
}

/// Format a price with magnitude-based decimals, fitted to `width`.
pub fn price(value: f64, width: usize) -> String {
    fit_number(value, price_decimals(value), width)
}

/// Fit `value` into at most `width` columns, trying in order:
/// 1. `decimals` decimals, then fewer, down to none;
/// 2. compact notation with a suffix (`1.23M`), fewer decimals again;
/// 3. an overflow marker (`####`) that cannot be mistaken for a number.
///
/// A shortened form is used only while it stays within [`MAX_ROUNDING`] of the value, so
/// 0.35 never becomes `0` and 3512 never becomes `4k`. The result is never longer than
/// `width`.
pub fn fit_number(value: f64, decimals: usize, width: usize) -> String {
    if !value.is_finite() {
        return fit_text_exact(MISSING, width);
    }
    for d in (0..=decimals).rev() {
        let s = format!("{value:.d$}");
        if s.len() <= width && faithful(value, rounded(value, d), 0.0) {
            return s;
        }
    }
    if let Some(s) = compact_within(value, width) {
        return s;
    }
    overflow(width)
}

/// Largest relative rounding a shortened number may carry.
pub const MAX_ROUNDING: f64 = 0.05;

fn rounded(value: f64, decimals: usize) -> f64 {
    format!("{value:.decimals$}").parse().unwrap_or(f64::NAN)
}

/// Whether `shown` is an honest rounding of `value`: within MAX_ROUNDING relative, or within
/// `abs_tolerance` (for values near zero where relative error explodes).
fn faithful(value: f64, shown: f64, abs_tolerance: f64) -> bool {
    let err = (shown - value).abs();
    err <= value.abs() * MAX_ROUNDING || err <= abs_tolerance
}

/// Compact form (`1.23M`, `-45.6k`) with at most 2 decimals, the most precise that fits
/// `width` and is still faithful; `None` when none does.
fn compact_within(value: f64, width: usize) -> Option<String> {
    (0..=2)
        .rev()
        .map(|d| compact_parts(value, d))
        .find(|(s, shown)| s.len() <= width && faithful(value, *shown, 0.0))
        .map(|(s, _)| s)
}

/// Compact notation with a k/M/B/T suffix (`1.23M`); plain below 1000.
pub fn compact(value: f64, decimals: usize) -> String {
    compact_parts(value, decimals).0
}

/// The compact text and the value it stands for.
fn compact_parts(value: f64, decimals: usize) -> (String, f64) {
    const UNITS: [(f64, &str); 4] = [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")];
    let a = value.abs();
    for (i, (scale, suffix)) in UNITS.iter().enumerate() {
        if a >= *scale {
            let mut scale = *scale;
            let mut suffix = *suffix;
            // Rounding can carry to 1000 (999.996k -> "1000.00k"): use the next unit up.
            if rounded(value / scale, decimals).abs() >= 1000.0 && i > 0 {
                (scale, suffix) = UNITS[i - 1];
            }
            let m = rounded(value / scale, decimals);
            return (format!("{:.decimals$}{suffix}", value / scale), m * scale);
        }
    }
    (format!("{value:.decimals$}"), rounded(value, decimals))
}

/// A 24 h volume in compact form, e.g. `1.23M`, fitted to `width`.
pub fn volume(value: f64, width: usize) -> String {
    if value.abs() < 1000.0 {
        return fit_number(value, 0, width);
    }
    compact_within(value, width).unwrap_or_else(|| overflow(width))
}

/// A signed percentage: `+1.23%`, `-0.50%`, fitted to `width`.
pub fn percent(value: f64, width: usize) -> String {
    if !value.is_finite() {
        return fit_text_exact(MISSING, width);
    }
    for d in (0..=2).rev() {
        let s = format!("{value:+.d$}%");
        // A percentage may round by half a point at most (+0.4% must not read +0%).
        if s.len() <= width && faithful(value, rounded(value, d), 0.05) {
            return s;
        }
    }
    overflow(width)
}

/// A duration in the largest sensible unit: `850ms` is `0s`, `3s`, `2m`, `5h`, `3d`.
/// Negative durations (clock skew) show as `0s` rather than a confusing minus sign.
pub fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86_400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86_400)
    }
}

/// A round-trip time: `3 ms`, `0.4 ms`, `1.2 s`.
pub fn rtt(ms: f64) -> String {
    if !ms.is_finite() || ms < 0.0 {
        MISSING.to_string()
    } else if ms < 1.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// Milliseconds as seconds with one decimal: `4.2 s`.
pub fn seconds_tenths(ms: u64) -> String {
    format!("{}.{} s", ms / 1000, (ms % 1000) / 100)
}

/// Wall-clock time of day (UTC) from ms since the epoch: `14:03:09`.
pub fn clock_utc(ts_ms: i64) -> String {
    let secs = ts_ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// The overflow marker for a field of `width` columns.
pub fn overflow(width: usize) -> String {
    std::iter::repeat_n(OVERFLOW_CHAR, width).collect()
}

/// Text (not numbers) shortened to `width` display columns with a visible `…` when cut.
pub fn fit_text(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for ch in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(ch).unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(ch);
        used += w;
    }
    out.push('…');
    out
}

/// Short fixed strings (like `--`) that must not be cut either: overflow marker if too long.
fn fit_text_exact(text: &str, width: usize) -> String {
    if text.len() <= width {
        text.to_string()
    } else {
        overflow(width)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_decimals_follow_magnitude() {
        assert_eq!(price(95123.4, 12), "95123.4");
        assert_eq!(price(3512.25, 12), "3512.25");
        assert_eq!(price(150.123, 12), "150.12");
        assert_eq!(price(1.23456, 12), "1.2346");
        assert_eq!(price(0.35012, 12), "0.35012");
        assert_eq!(price(0.00001234, 12), "0.00001234");
    }

    #[test]
    fn fitting_drops_decimals_then_compacts_then_marks_overflow() {
        assert_eq!(fit_number(123456.78, 2, 9), "123456.78");
        assert_eq!(fit_number(123456.78, 2, 8), "123456.8");
        assert_eq!(fit_number(123456.78, 2, 6), "123457");
        assert_eq!(fit_number(123456.78, 2, 5), "123k");
        assert_eq!(fit_number(1_234_567.0, 2, 5), "1.23M");
        assert_eq!(fit_number(1_234_567.0, 2, 2), "##", "1M would be 19% off");
        assert_eq!(fit_number(3512.25, 2, 3), "###", "4k would be 14% off");
        assert_eq!(fit_number(3512.25, 2, 4), "3512");
        assert_eq!(fit_number(35123.0, 2, 4), "35k");
        assert_eq!(price(0.35012, 3), "###", "never 0 for 0.35");
        assert_eq!(price(0.00001234, 6), "######");
        assert_eq!(fit_number(-1_234_567.0, 2, 6), "-1.23M");
    }

    #[test]
    fn fitted_numbers_never_exceed_width_nor_lose_digits_silently() {
        let values = [
            0.0, 0.00001234, 0.35012, 1.5, 99.99, 3512.25, 95123.4, 123456.78, 9.99e9, -7.5e13,
            1e20,
        ];
        for v in values {
            for width in 0..14 {
                let s = price(v, width);
                assert!(s.len() <= width, "{v} in {width}: {s:?}");
                let all_marker = !s.is_empty() && s.chars().all(|c| c == OVERFLOW_CHAR);
                if s.is_empty() || all_marker {
                    continue;
                }
                // Whatever is shown must parse back to (a rounding of) the value.
                let (num, mult) = match s.chars().last() {
                    Some('k') => (&s[..s.len() - 1], 1e3),
                    Some('M') => (&s[..s.len() - 1], 1e6),
                    Some('B') => (&s[..s.len() - 1], 1e9),
                    Some('T') => (&s[..s.len() - 1], 1e12),
                    _ => (s.as_str(), 1.0),
                };
                let back: f64 = num.parse::<f64>().expect("a number") * mult;
                let tolerance = v.abs() * MAX_ROUNDING;
                assert!((back - v).abs() <= tolerance, "{v} shown as {s:?}");
            }
        }
    }

    #[test]
    fn compact_carries_into_the_next_unit() {
        assert_eq!(compact(999_999.0, 1), "1.0M");
        assert_eq!(compact(1_230_000.0, 2), "1.23M");
        assert_eq!(volume(987.0, 7), "987");
        assert_eq!(volume(12_345_678.0, 7), "12.35M");
        assert_eq!(volume(12_345_678.0, 4), "12M");
        assert_eq!(volume(12_345_678.0, 2), "##");
    }

    #[test]
    fn percent_is_signed() {
        assert_eq!(percent(1.234, 8), "+1.23%");
        assert_eq!(percent(-0.5, 8), "-0.50%");
        assert_eq!(percent(-12.345, 4), "-12%");
        assert_eq!(percent(-1234.0, 3), "###");
        assert_eq!(percent(0.4, 3), "###", "+0% would hide the move");
        assert_eq!(percent(0.4, 5), "+0.4%");
    }

    #[test]
    fn ages_and_times() {
        assert_eq!(age(-5), "0s");
        assert_eq!(age(3_400), "3s");
        assert_eq!(age(125_000), "2m");
        assert_eq!(age(7_300_000), "2h");
        assert_eq!(seconds_tenths(4_200), "4.2 s");
        assert_eq!(rtt(3.2), "3 ms");
        assert_eq!(clock_utc(1_700_000_000_000), "22:13:20");
        assert_eq!(fit_text("ABCDEFGH", 5), "ABCD…");
        assert_eq!(fit_text("ABC", 5), "ABC");
    }
}
