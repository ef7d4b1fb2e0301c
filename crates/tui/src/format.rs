//! Number and time formatting for the screen. Numbers go through [`trademon_core::numfmt`] (shared with
//! the engine's reasons), which never cuts a number silently: ratatui clips cell text at the
//! column edge without a marker, so `123456.78` in six cells would read as `123456`. Here a
//! number either fits whole or is shortened in a way the reader can see (fewer decimals, a
//! k/M/B/T suffix, scientific notation); `#` fills a field only narrower than
//! [`trademon_core::numfmt::MIN_WIDTH`]. Times are shown in the configured zone ([`Clock`]).

use jiff::tz::TimeZone;
use trademon_core::numfmt;
use unicode_width::UnicodeWidthStr;

pub use trademon_core::numfmt::{MIN_WIDTH, OVERFLOW_CHAR, Unit, overflow, price_decimals};

/// Shown where a value is unknown (no data yet).
pub const MISSING: &str = "--";

/// A price with magnitude-based decimals, fitted to `width`.
pub fn price(value: f64, width: usize) -> String {
    price_in(value, None, width)
}

/// A price at the contract's decimals (`Ticker.price_decimals`) when known, else by magnitude.
pub fn price_in(value: f64, decimals: Option<u32>, width: usize) -> String {
    let d = decimals.map_or_else(|| price_decimals(value), |d| d as usize);
    plain_fast(value, d, width).unwrap_or_else(|| numfmt::fit(value, d, width))
}

/// What `numfmt::fit` returns, without building its other forms, where that is certain: a
/// value of 10 or more at `decimals` that fits has two significant digits, so it is the first
/// form `fit` takes. The book and tape format a hundred numbers a frame.
fn plain_fast(value: f64, decimals: usize, width: usize) -> Option<String> {
    if !(value.is_finite() && value >= 10.0 && decimals <= 12) {
        return None;
    }
    let s = format!("{value:.decimals$}");
    (s.len() <= width).then_some(s)
}

/// What `numfmt::fit_compact` returns where that is certain: plain below 1000, else the
/// two-decimal compact form (`11.80k`), the first one it tries.
fn compact_fast(value: f64, width: usize) -> Option<String> {
    if (10.0..1000.0).contains(&value) {
        return plain_fast(value, 0, width);
    }
    if !(1000.0..1e12).contains(&value) {
        return None;
    }
    let s = numfmt::compact(value, 2);
    (s.len() <= width).then_some(s)
}

/// `value` with `decimals` decimals fitted to `width` (see [`trademon_core::numfmt::fit`]).
pub fn fit_number(value: f64, decimals: usize, width: usize) -> String {
    numfmt::fit(value, decimals, width)
}

/// Money with a sign (`+1.23`, `-0.50`, `0.00`), fitted to `width`.
pub fn signed(value: f64, width: usize) -> String {
    numfmt::fit_signed(value, 2, width)
}

/// Compact notation with a k/M/B/T suffix (`1.2k`); plain below 1000.
pub fn compact(value: f64, decimals: usize) -> String {
    numfmt::compact(value, decimals)
}

/// A 24 h volume in compact form, e.g. `1.23M`, fitted to `width`.
pub fn volume(value: f64, width: usize) -> String {
    compact_fast(value, width).unwrap_or_else(|| numfmt::fit_compact(value, width))
}

/// A signed percentage: `+1.23%`, `-0.50%`, fitted to `width`.
pub fn percent(value: f64, width: usize) -> String {
    numfmt::fit_percent(value, 2, width)
}

/// A value of `unit` (a ratio as `71.0%`, funding as `0.0100%`), fitted to `width`.
pub fn unit(value: f64, unit: Unit, width: usize) -> String {
    numfmt::fit_unit(value, unit, width)
}

/// A `tui.timezone` that names no zone this build knows.
#[derive(Debug, thiserror::Error)]
#[error(
    "tui.timezone = {name:?} is not a known time zone; use \"local\", \"UTC\" or an IANA name such as \"Europe/Berlin\""
)]
pub struct TimezoneError {
    pub name: String,
    #[source]
    pub source: jiff::Error,
}

/// Wall-clock times in the zone of `tui.timezone`, with a label for headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Clock {
    zone: TimeZone,
}

impl Clock {
    pub fn utc() -> Clock {
        Clock {
            zone: TimeZone::UTC,
        }
    }

    /// `local` (the system zone), `UTC`, or an IANA name such as `Europe/Berlin`.
    pub fn from_config(name: &str) -> Result<Clock, TimezoneError> {
        let name = name.trim();
        let zone = if name.eq_ignore_ascii_case("local") {
            // Falls back to UTC when the system zone cannot be read; the label then says UTC.
            TimeZone::system()
        } else if name.eq_ignore_ascii_case("utc") {
            TimeZone::UTC
        } else {
            TimeZone::get(name).map_err(|source| TimezoneError {
                name: name.to_string(),
                source,
            })?
        };
        Ok(Clock { zone })
    }

    fn offset_s(&self, ts_ms: i64) -> i64 {
        jiff::Timestamp::from_millisecond(ts_ms)
            .map(|t| i64::from(self.zone.to_offset(t).seconds()))
            .unwrap_or(0)
    }

    /// Time of day in the zone: `14:03:09`.
    pub fn time(&self, ts_ms: i64) -> String {
        let secs = (ts_ms.div_euclid(1000) + self.offset_s(ts_ms)).rem_euclid(86_400);
        format!(
            "{:02}:{:02}:{:02}",
            secs / 3600,
            (secs / 60) % 60,
            secs % 60
        )
    }

    /// Month and day in the zone: `11-14`.
    pub fn date(&self, ts_ms: i64) -> String {
        jiff::Timestamp::from_millisecond(ts_ms)
            .map(|t| {
                let d = t.to_zoned(self.zone.clone()).date();
                format!("{:02}-{:02}", d.month(), d.day())
            })
            .unwrap_or_else(|_| MISSING.to_string())
    }

    /// The zone's offset at `ts_ms` as a label: `UTC`, `UTC+1`, `UTC+5:30`, `UTC-3`.
    pub fn label(&self, ts_ms: i64) -> String {
        let off = self.offset_s(ts_ms);
        if off == 0 {
            return "UTC".to_string();
        }
        let sign = if off < 0 { '-' } else { '+' };
        let (h, m) = (off.abs() / 3600, (off.abs() / 60) % 60);
        if m == 0 {
            format!("UTC{sign}{h}")
        } else {
            format!("UTC{sign}{h}:{m:02}")
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_decimals_follow_magnitude_or_the_contract() {
        assert_eq!(price(95123.4, 12), "95123.4");
        assert_eq!(price(3512.25, 12), "3512.25");
        assert_eq!(price(150.123, 12), "150.12");
        assert_eq!(price(1.23456, 12), "1.2346");
        assert_eq!(price(0.35012, 12), "0.35012");
        assert_eq!(price(0.00001234, 12), "0.00001234");
        assert_eq!(price_in(95123.4, Some(2), 12), "95123.40");
        assert_eq!(price_in(0.1234567, Some(7), 12), "0.1234567");
    }

    #[test]
    fn the_fast_paths_say_exactly_what_numfmt_says() {
        let mut v = 0.5;
        while v < 5e13 {
            for frac in [0.0, 0.004, 0.05, 0.4999, 0.5, 0.96, 0.999] {
                let x = v + frac;
                for width in 3..=14 {
                    for d in 0..=4 {
                        assert_eq!(
                            price_in(x, Some(d), width),
                            numfmt::fit(x, d as usize, width),
                            "{x} d{d} w{width}"
                        );
                    }
                    assert_eq!(
                        volume(x, width),
                        numfmt::fit_compact(x, width),
                        "{x} w{width}"
                    );
                }
            }
            v *= 1.37;
        }
    }

    #[test]
    fn btc_across_100k_keeps_its_column_width() {
        // Columns are sized for a 6-digit integer part, so the text fits whole on both sides.
        let below = price(99_999.9, 10);
        let above = price(100_000.1, 10);
        assert_eq!((below.as_str(), above.as_str()), ("99999.9", "100000.1"));
        assert!(below.len() <= 10 && above.len() <= 10);
    }

    #[test]
    fn small_money_is_never_hashes() {
        assert_eq!(signed(0.0042, 6), "+0.004");
        assert_eq!(signed(-0.0042, 6), "-0.004");
        assert_eq!(signed(0.0, 6), "0.00");
        assert_eq!(fit_number(0.034, 2, 4), "0.03");
        assert_eq!(volume(12_345_678.0, 2), "##");
        assert_eq!(compact(1234.0, 1), "1.2k");
        assert_eq!(unit(0.213, Unit::Ratio, 6), "21.3%");
    }

    #[test]
    fn ages_and_times() {
        assert_eq!(age(-5), "0s");
        assert_eq!(age(3_400), "3s");
        assert_eq!(age(125_000), "2m");
        assert_eq!(age(7_300_000), "2h");
        assert_eq!(seconds_tenths(4_200), "4.2 s");
        assert_eq!(rtt(3.2), "3 ms");
        assert_eq!(Clock::utc().time(1_700_000_000_000), "22:13:20");
        assert_eq!(Clock::utc().label(1_700_000_000_000), "UTC");
        assert_eq!(Clock::utc().date(1_700_000_000_000), "11-14");
        assert_eq!(fit_text("ABCDEFGH", 5), "ABCD…");
        assert_eq!(fit_text("ABC", 5), "ABC");
    }

    #[test]
    fn named_zones_shift_and_label_the_clock() {
        let berlin = Clock::from_config("Europe/Berlin").expect("zone database");
        // 2023-11-14 22:13:20 UTC is winter time in Berlin: UTC+1.
        assert_eq!(berlin.time(1_700_000_000_000), "23:13:20");
        assert_eq!(berlin.label(1_700_000_000_000), "UTC+1");
        let kolkata = Clock::from_config("Asia/Kolkata").expect("zone database");
        assert_eq!(kolkata.label(1_700_000_000_000), "UTC+5:30");
        assert_eq!(Clock::from_config("utc").unwrap(), Clock::utc());
        let err = Clock::from_config("Mars/Olympus").unwrap_err();
        assert_eq!(err.name, "Mars/Olympus");
        assert!(err.to_string().contains("not a known time zone"), "{err}");
    }
}
