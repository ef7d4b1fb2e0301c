//! A contract the exchange refuses, as a trader sees it: the watchlist row says why in words
//! and the session summary counts the failed symbols.

use super::tests::{NOW, env, msg, populated, render, with_link};
use super::theme::Palette;
use trademon_client::link::LinkState;
use trademon_protocol::*;

fn failed_app() -> super::app::App {
    let mut app = with_link(populated(Palette::Ansi16), LinkState::Live);
    msg(
        &mut app,
        ServerMsg::StateChange(env(
            StreamName::StateMachines,
            Some("majors"),
            2,
            NOW,
            StateChange {
                symbol: "XRP_USDT".into(),
                from: "MONITORING".into(),
                to: "FAILED".into(),
                reason: "not listed on MEXC".into(),
                at_ms: NOW - 1_000,
            },
        )),
    );
    app
}

#[test]
fn failed_contract_row_says_not_listed_and_the_summary_counts_it() {
    let app = failed_app();
    for (w, h) in [(80, 24), (120, 40)] {
        let text = render(&app, w, h).backend().to_string();
        let row = text
            .lines()
            .find(|l| l.contains("XRP_USDT") && l.contains("✕"))
            .unwrap_or_else(|| panic!("no failed row at {w}x{h}:\n{text}"));
        assert!(row.contains("✕ not listed on MEXC"), "{row}");
        // The symbol sits in the same column as on the other rows.
        let col = |l: &str, sym: &str| l.find(sym).unwrap();
        let btc = text.lines().find(|l| l.contains("BTC_USDT")).unwrap();
        assert_eq!(col(row, "XRP_USDT"), col(btc, "BTC_USDT"), "{row}\n{btc}");
        assert!(!row.contains("no data"), "{row}");
        assert!(
            text.contains("1/4 symbols failed"),
            "summary at {w}x{h}:\n{text}"
        );
    }
}
