//! The one word a trader reads first: is the data on screen live? Pure: the worst of the
//! client <-> backend link, the backend's exchange link and the freshness of the active
//! session's rows, each said in words. `Live` only when all three are good.
//!
//! While the client link does not deliver (connecting, reconnecting, disconnected) the
//! backend's exchange state and the rows are last known, not current: the headline is then
//! the client link alone, and the health bar shows the rest as last known with its age.

use trademon_client::link::LinkState;
use trademon_protocol::{DataSource, MarketSource, UpstreamState};

/// Severity, mildest first: the headline takes the largest of its parts. `Connecting` ranks
/// above `NoData`: before the first connect, rows without data are expected, and what the
/// trader needs to know is that the link is still being set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Live,
    Degraded,
    NoData,
    Connecting,
    Reconnecting,
    Disconnected,
}

impl Level {
    /// Single-width symbols so the state never depends on colour alone.
    pub fn symbol(self) -> &'static str {
        match self {
            Level::Live => "●",
            Level::Degraded => "◐",
            Level::Connecting => "~",
            Level::NoData | Level::Disconnected => "✕",
            Level::Reconnecting => "↻",
        }
    }

    /// The link state whose colour this level borrows.
    pub fn style_as(self) -> LinkState {
        match self {
            Level::Live => LinkState::Live,
            Level::Degraded => LinkState::Slow,
            Level::Connecting => LinkState::Connecting,
            Level::Reconnecting => LinkState::Reconnecting,
            Level::NoData | Level::Disconnected => LinkState::Disconnected,
        }
    }
}

/// What the backend last said about its exchange link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upstream<'a> {
    pub state: UpstreamState,
    pub source: DataSource,
    /// `UpstreamHealth.cause`: why the WebSocket is not live.
    pub cause: Option<&'a str>,
    /// `UpstreamHealth.rest_error`: the REST fallback's last failure.
    pub rest_error: Option<&'a str>,
}

/// The active session's rows by the watchlist's own rule (`app::is_stale`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Freshness {
    pub total: usize,
    /// Rows with data older than the stale threshold (`stale!` in the watchlist).
    pub stale: usize,
    /// Rows that never had data (`no data` in the watchlist).
    pub missing: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inputs<'a> {
    pub link: LinkState,
    /// `None` until the backend's first `health` arrives.
    pub upstream: Option<Upstream<'a>>,
    pub freshness: Freshness,
    pub market: MarketSource,
    /// A recording is being replayed: nothing on screen is happening now.
    pub replay: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headline {
    pub level: Level,
    /// `Live`, `Live (simulated)`, `Degraded`, `No market data`, ...
    pub word: String,
    /// Why, in words; empty only for plain `Live`.
    pub reasons: Vec<String>,
}

impl Headline {
    /// `◐ Degraded — MEXC REST fallback, 2/3 stale`.
    pub fn text(&self) -> String {
        let head = format!("{} {}", self.level.symbol(), self.word);
        if self.reasons.is_empty() {
            head
        } else {
            format!("{head} — {}", self.reasons.join(", "))
        }
    }
}

/// One part's verdict: its level and, unless good, why.
type Part = (Level, Option<String>);

/// Name of the market in reasons, so simulated trouble never reads as MEXC's.
pub fn venue(market: MarketSource) -> &'static str {
    match market {
        MarketSource::Mexc => "MEXC",
        MarketSource::Simulator => "simulator",
    }
}

fn link_part(link: LinkState) -> Part {
    let (level, why) = match link {
        LinkState::Live => return (Level::Live, None),
        LinkState::Slow => (Level::Degraded, "backend link slow"),
        LinkState::Polling => (Level::Degraded, "backend link via REST polling"),
        LinkState::Connecting => (Level::Connecting, "backend link"),
        LinkState::Reconnecting => (Level::Reconnecting, "backend link"),
        LinkState::Disconnected => (Level::Disconnected, "backend unreachable"),
    };
    (level, Some(why.to_string()))
}

fn upstream_part(up: Option<Upstream<'_>>, market: MarketSource) -> Part {
    let v = venue(market);
    let Some(up) = up else {
        return (Level::Connecting, Some(format!("waiting for {v} status")));
    };
    let rest = |prefix: &str| match up.rest_error {
        Some(e) => format!("{prefix} failing: {e}"),
        None => prefix.to_string(),
    };
    // Why the WebSocket is down, plus the REST failure when it says something new.
    let down = |fallback: &str| {
        let mut why = match up.cause {
            Some(c) => format!("{v} {c}"),
            None => format!("{v} {fallback}"),
        };
        if let Some(e) = up.rest_error
            && !why.ends_with(e)
        {
            why.push_str(&format!("; REST {e}"));
        }
        why
    };
    match up.state {
        UpstreamState::Live if up.source == DataSource::Ws => (Level::Live, None),
        UpstreamState::Live => (Level::Degraded, Some(rest(&format!("{v} REST fallback")))),
        UpstreamState::RestPolling if up.rest_error.is_none() => {
            (Level::Degraded, Some(format!("{v} REST fallback")))
        }
        UpstreamState::RestPolling => (Level::NoData, Some(down("REST fallback failing"))),
        UpstreamState::Connecting if up.cause.is_none() => (Level::Connecting, Some(v.into())),
        UpstreamState::Connecting | UpstreamState::Reconnecting => {
            (Level::NoData, Some(down("reconnecting")))
        }
        UpstreamState::Down => (Level::NoData, Some(down("adapter stopped"))),
    }
}

fn freshness_part(f: Freshness) -> Part {
    let fresh = f.total.saturating_sub(f.stale + f.missing);
    if fresh >= f.total {
        return (Level::Live, None);
    }
    let mut why = Vec::new();
    if f.stale > 0 {
        why.push(format!("{}/{} stale", f.stale, f.total));
    }
    if f.missing > 0 {
        why.push(format!("{}/{} no data", f.missing, f.total));
    }
    let level = if fresh == 0 {
        Level::NoData
    } else {
        Level::Degraded
    };
    (level, Some(why.join(", ")))
}

fn word(level: Level, market: MarketSource, replay: bool) -> String {
    match level {
        Level::Live => match (market, replay) {
            (MarketSource::Mexc, false) => "Live".into(),
            (MarketSource::Simulator, false) => "Live (simulated)".into(),
            (MarketSource::Mexc, true) => "Live (replay)".into(),
            (MarketSource::Simulator, true) => "Live (simulated, replay)".into(),
        },
        Level::Degraded => "Degraded".into(),
        Level::Connecting => "Connecting…".into(),
        Level::NoData => "No market data".into(),
        Level::Reconnecting => "Reconnecting…".into(),
        Level::Disconnected => "Disconnected".into(),
    }
}

pub fn headline(i: &Inputs<'_>) -> Headline {
    let link = link_part(i.link);
    let parts: Vec<Part> = if link_delivers(i.link) {
        vec![
            link,
            upstream_part(i.upstream, i.market),
            freshness_part(i.freshness),
        ]
    } else {
        vec![link]
    };
    let level = parts.iter().map(|p| p.0).max().unwrap_or(Level::Live);
    let reasons = parts
        .into_iter()
        .filter(|p| p.0 == level)
        .filter_map(|p| p.1)
        .collect();
    Headline {
        level,
        word: word(level, i.market, i.replay),
        reasons,
    }
}

/// Whether data still flows to us (pushes, or REST snapshots while polling); otherwise the
/// view warns that values are last known.
pub(crate) fn link_delivers(state: LinkState) -> bool {
    matches!(
        state,
        LinkState::Live | LinkState::Slow | LinkState::Polling
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINKS: [LinkState; 6] = [
        LinkState::Live,
        LinkState::Slow,
        LinkState::Polling,
        LinkState::Connecting,
        LinkState::Reconnecting,
        LinkState::Disconnected,
    ];

    /// Each client link state on its own, everything else good.
    fn link_row(l: LinkState) -> (Level, &'static str) {
        match l {
            LinkState::Live => (Level::Live, "● Live"),
            LinkState::Slow => (Level::Degraded, "◐ Degraded — backend link slow"),
            LinkState::Polling => (
                Level::Degraded,
                "◐ Degraded — backend link via REST polling",
            ),
            LinkState::Connecting => (Level::Connecting, "~ Connecting… — backend link"),
            LinkState::Reconnecting => (Level::Reconnecting, "↻ Reconnecting… — backend link"),
            LinkState::Disconnected => {
                (Level::Disconnected, "✕ Disconnected — backend unreachable")
            }
        }
    }

    fn up(
        state: UpstreamState,
        source: DataSource,
        cause: Option<&'static str>,
        rest_error: Option<&'static str>,
    ) -> Option<Upstream<'static>> {
        Some(Upstream {
            state,
            source,
            cause,
            rest_error,
        })
    }

    /// Each upstream situation on its own (client link live, rows fresh).
    fn upstream_rows() -> Vec<(Option<Upstream<'static>>, Level, &'static str)> {
        use DataSource::{Rest, Ws};
        use UpstreamState as U;
        let dns = Some("unreachable: DNS lookup failed");
        vec![
            (
                None,
                Level::Connecting,
                "~ Connecting… — waiting for MEXC status",
            ),
            (up(U::Live, Ws, None, None), Level::Live, "● Live"),
            (
                up(U::Live, Rest, None, None),
                Level::Degraded,
                "◐ Degraded — MEXC REST fallback",
            ),
            (
                up(U::Live, Rest, None, Some("HTTP 503")),
                Level::Degraded,
                "◐ Degraded — MEXC REST fallback failing: HTTP 503",
            ),
            (
                up(U::RestPolling, Rest, dns, None),
                Level::Degraded,
                "◐ Degraded — MEXC REST fallback",
            ),
            (
                up(U::RestPolling, Rest, dns, Some("DNS lookup failed")),
                Level::NoData,
                "✕ No market data — MEXC unreachable: DNS lookup failed",
            ),
            (
                up(U::RestPolling, Rest, None, Some("HTTP 503")),
                Level::NoData,
                "✕ No market data — MEXC REST fallback failing; REST HTTP 503",
            ),
            (
                up(U::Connecting, Ws, None, None),
                Level::Connecting,
                "~ Connecting… — MEXC",
            ),
            (
                up(
                    U::Connecting,
                    Ws,
                    Some("unreachable: connection refused"),
                    None,
                ),
                Level::NoData,
                "✕ No market data — MEXC unreachable: connection refused",
            ),
            (
                up(U::Reconnecting, Ws, None, None),
                Level::NoData,
                "✕ No market data — MEXC reconnecting",
            ),
            (
                up(U::Reconnecting, Ws, dns, None),
                Level::NoData,
                "✕ No market data — MEXC unreachable: DNS lookup failed",
            ),
            (
                up(
                    U::Reconnecting,
                    Ws,
                    Some("connection lost: closed by server (1006)"),
                    Some("connection refused"),
                ),
                Level::NoData,
                "✕ No market data — MEXC connection lost: closed by server (1006); REST connection refused",
            ),
            (
                up(U::Down, Ws, None, None),
                Level::NoData,
                "✕ No market data — MEXC adapter stopped",
            ),
        ]
    }

    /// Each freshness situation on its own.
    fn freshness_rows() -> Vec<(Freshness, Level, &'static str)> {
        let f = |total, stale, missing| Freshness {
            total,
            stale,
            missing,
        };
        vec![
            (f(0, 0, 0), Level::Live, "● Live"),
            (f(3, 0, 0), Level::Live, "● Live"),
            (f(3, 2, 0), Level::Degraded, "◐ Degraded — 2/3 stale"),
            (f(3, 0, 1), Level::Degraded, "◐ Degraded — 1/3 no data"),
            (
                f(4, 1, 1),
                Level::Degraded,
                "◐ Degraded — 1/4 stale, 1/4 no data",
            ),
            (f(3, 3, 0), Level::NoData, "✕ No market data — 3/3 stale"),
            (
                f(3, 1, 2),
                Level::NoData,
                "✕ No market data — 1/3 stale, 2/3 no data",
            ),
        ]
    }

    fn reason(text: &str) -> Option<&str> {
        text.split_once(" — ").map(|(_, r)| r)
    }

    #[test]
    fn each_part_alone_reads_as_its_row() {
        let all_good = |link, upstream, freshness| Inputs {
            link,
            upstream,
            freshness,
            market: MarketSource::Mexc,
            replay: false,
        };
        let live = up(UpstreamState::Live, DataSource::Ws, None, None);
        let fresh = Freshness {
            total: 3,
            stale: 0,
            missing: 0,
        };
        for l in LINKS {
            let h = headline(&all_good(l, live, fresh));
            assert_eq!((h.level, h.text().as_str()), link_row(l), "{l:?}");
        }
        for (u, level, text) in upstream_rows() {
            let h = headline(&all_good(LinkState::Live, u, fresh));
            assert_eq!((h.level, h.text().as_str()), (level, text), "{u:?}");
        }
        for (f, level, text) in freshness_rows() {
            let h = headline(&all_good(LinkState::Live, live, f));
            assert_eq!((h.level, h.text().as_str()), (level, text), "{f:?}");
        }
    }

    /// The full table: every link x upstream x freshness combination is the worst of its
    /// three rows, with the reasons of every part at that level in link, upstream, freshness
    /// order; while the link does not deliver, only the link speaks.
    #[test]
    fn every_combination_is_the_worst_of_its_parts() {
        let mut checked = 0;
        for l in LINKS {
            for (u, u_level, u_text) in upstream_rows() {
                for (f, f_level, f_text) in freshness_rows() {
                    let h = headline(&Inputs {
                        link: l,
                        upstream: u,
                        freshness: f,
                        market: MarketSource::Mexc,
                        replay: false,
                    });
                    let (l_level, l_text) = link_row(l);
                    let delivers =
                        matches!(l, LinkState::Live | LinkState::Slow | LinkState::Polling);
                    let rows = if delivers {
                        vec![(l_level, l_text), (u_level, u_text), (f_level, f_text)]
                    } else {
                        vec![(l_level, l_text)]
                    };
                    let worst = rows.iter().map(|r| r.0).max().unwrap();
                    let reasons: Vec<&str> = rows
                        .iter()
                        .filter(|r| r.0 == worst)
                        .filter_map(|r| reason(r.1))
                        .collect();
                    assert_eq!(h.level, worst, "{l:?} {u:?} {f:?}");
                    assert_eq!(h.reasons, reasons, "{l:?} {u:?} {f:?}");
                    assert_eq!(
                        h.word == "Live",
                        l == LinkState::Live && u_level == Level::Live && f_level == Level::Live,
                        "Live only when all three are good: {l:?} {u:?} {f:?}"
                    );
                    assert!(!h.reasons.is_empty() || h.level == Level::Live);
                    checked += 1;
                }
            }
        }
        assert_eq!(
            checked,
            LINKS.len() * upstream_rows().len() * freshness_rows().len()
        );
    }

    #[test]
    fn a_simulated_or_replayed_market_never_says_plain_live() {
        let live = up(UpstreamState::Live, DataSource::Ws, None, None);
        let text = |market, replay| {
            headline(&Inputs {
                link: LinkState::Live,
                upstream: live,
                freshness: Freshness::default(),
                market,
                replay,
            })
            .text()
        };
        assert_eq!(text(MarketSource::Mexc, false), "● Live");
        assert_eq!(text(MarketSource::Simulator, false), "● Live (simulated)");
        assert_eq!(text(MarketSource::Mexc, true), "● Live (replay)");
        assert_eq!(
            text(MarketSource::Simulator, true),
            "● Live (simulated, replay)"
        );
        // Trouble in a simulated market names the simulator, not MEXC.
        let h = headline(&Inputs {
            link: LinkState::Live,
            upstream: up(
                UpstreamState::Reconnecting,
                DataSource::Ws,
                Some("unreachable: connection refused"),
                None,
            ),
            freshness: Freshness::default(),
            market: MarketSource::Simulator,
            replay: false,
        });
        assert_eq!(
            h.text(),
            "✕ No market data — simulator unreachable: connection refused"
        );
    }
}
