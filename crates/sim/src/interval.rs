//! MEXC futures kline intervals and their windows, in UTC seconds.
//!
//! Windows are aligned like the exchange's: minutes and hours on multiples of their length since
//! the epoch, days at 00:00 UTC, weeks on Monday 00:00 UTC and months on the first of the month.
//! MEXC spells one hour `Min60`; `Hour1` and anything else is refused (`Not support interval`).

/// One kline interval, as `sub.kline` and `GET .../kline/{symbol}?interval=` spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KlineInterval {
    Min1,
    Min5,
    Min15,
    Min30,
    Min60,
    Hour4,
    Hour8,
    Day1,
    Week1,
    Month1,
}

const DAY: i64 = 86_400;
/// 1970-01-01 was a Thursday: Monday 1970-01-05 is day 4.
const FIRST_MONDAY: i64 = 4;

impl KlineInterval {
    pub const ALL: [KlineInterval; 10] = [
        KlineInterval::Min1,
        KlineInterval::Min5,
        KlineInterval::Min15,
        KlineInterval::Min30,
        KlineInterval::Min60,
        KlineInterval::Hour4,
        KlineInterval::Hour8,
        KlineInterval::Day1,
        KlineInterval::Week1,
        KlineInterval::Month1,
    ];

    pub fn name(self) -> &'static str {
        match self {
            KlineInterval::Min1 => "Min1",
            KlineInterval::Min5 => "Min5",
            KlineInterval::Min15 => "Min15",
            KlineInterval::Min30 => "Min30",
            KlineInterval::Min60 => "Min60",
            KlineInterval::Hour4 => "Hour4",
            KlineInterval::Hour8 => "Hour8",
            KlineInterval::Day1 => "Day1",
            KlineInterval::Week1 => "Week1",
            KlineInterval::Month1 => "Month1",
        }
    }

    /// Exact, case-sensitive, as MEXC matches it.
    pub fn parse(name: &str) -> Option<KlineInterval> {
        KlineInterval::ALL.into_iter().find(|i| i.name() == name)
    }

    /// Position in [`KlineInterval::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Typical window length (months and weeks vary or are fixed; this is for scaling noise).
    pub fn nominal_secs(self) -> i64 {
        match self {
            KlineInterval::Min1 => 60,
            KlineInterval::Min5 => 300,
            KlineInterval::Min15 => 900,
            KlineInterval::Min30 => 1_800,
            KlineInterval::Min60 => 3_600,
            KlineInterval::Hour4 => 14_400,
            KlineInterval::Hour8 => 28_800,
            KlineInterval::Day1 => DAY,
            KlineInterval::Week1 => 7 * DAY,
            KlineInterval::Month1 => 30 * DAY,
        }
    }

    /// Start of the window holding `ts_s`.
    pub fn window_start(self, ts_s: i64) -> i64 {
        match self {
            KlineInterval::Week1 => {
                let days = ts_s.div_euclid(DAY);
                ((days - FIRST_MONDAY).div_euclid(7) * 7 + FIRST_MONDAY) * DAY
            }
            KlineInterval::Month1 => {
                let (y, m, _) = civil_from_days(ts_s.div_euclid(DAY));
                days_from_civil(y, m, 1) * DAY
            }
            fixed => {
                let len = fixed.nominal_secs();
                ts_s.div_euclid(len) * len
            }
        }
    }

    /// Start of the window after the one starting at `start_s`.
    pub fn next(self, start_s: i64) -> i64 {
        match self {
            KlineInterval::Month1 => {
                let (y, m, _) = civil_from_days(start_s.div_euclid(DAY));
                let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                days_from_civil(y, m, 1) * DAY
            }
            fixed => start_s + fixed.nominal_secs(),
        }
    }

    /// Start of the window before the one starting at `start_s`.
    pub fn prev(self, start_s: i64) -> i64 {
        match self {
            KlineInterval::Month1 => {
                let (y, m, _) = civil_from_days(start_s.div_euclid(DAY));
                let (y, m) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
                days_from_civil(y, m, 1) * DAY
            }
            fixed => start_s - fixed.nominal_secs(),
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-09-23 13:47:12 UTC, a Wednesday.
    const T: i64 = 1_790_171_232;

    #[test]
    fn names_round_trip_and_hour1_is_not_one() {
        for i in KlineInterval::ALL {
            assert_eq!(KlineInterval::parse(i.name()), Some(i));
            assert_eq!(KlineInterval::ALL[i.index()], i);
        }
        for bad in ["Hour1", "min1", "1m", "", "Min2", "Day7"] {
            assert_eq!(KlineInterval::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn windows_align_like_the_exchange() {
        use KlineInterval::*;
        assert_eq!(Min1.window_start(T), T - 12);
        assert_eq!(Min5.window_start(T), T - (2 * 60 + 12));
        assert_eq!(Min60.window_start(T), T - (47 * 60 + 12));
        // 13:47 -> 12:00 for four hours, 08:00 for eight.
        assert_eq!(Hour4.window_start(T), T - (107 * 60 + 12));
        assert_eq!(Hour8.window_start(T), T - (347 * 60 + 12));
        let midnight = T - (13 * 3600 + 47 * 60 + 12);
        assert_eq!(Day1.window_start(T), midnight);
        // Wednesday -> Monday 2026-09-21.
        assert_eq!(Week1.window_start(T), midnight - 2 * DAY);
        // 2026-09-01.
        assert_eq!(Month1.window_start(T), midnight - 22 * DAY);
        assert_eq!(days_from_civil(2026, 9, 1) * DAY, midnight - 22 * DAY);
    }

    #[test]
    fn next_and_prev_walk_whole_windows() {
        for i in KlineInterval::ALL {
            let w = i.window_start(T);
            assert_eq!(i.window_start(i.next(w)), i.next(w), "{i:?}");
            assert_eq!(i.prev(i.next(w)), w, "{i:?}");
            assert_eq!(i.next(i.prev(w)), w, "{i:?}");
            assert!(i.next(w) > T && w <= T, "{i:?}");
        }
        // Months of different lengths, across a year end.
        let dec = days_from_civil(2025, 12, 1) * DAY;
        assert_eq!(
            KlineInterval::Month1.next(dec),
            days_from_civil(2026, 1, 1) * DAY
        );
        assert_eq!(
            KlineInterval::Month1.prev(days_from_civil(2024, 3, 1) * DAY),
            days_from_civil(2024, 2, 1) * DAY
        );
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }
}
