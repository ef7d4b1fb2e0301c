//! `trademon bench engine`: engine throughput in trades per second on one core, with the
//! configured `demo` strategy (falling back to `default`) on N symbols, single trades per
//! input as the adapter delivers them at worst. Pure CPU: no IO, time passed in.

use color_eyre::eyre::{Result, WrapErr};
use std::time::Instant;
use trademon::config::Config;
use trademon::engine::{Engine, EngineInput};
use trademon::exchange::{MarketEvent, Side, Trade};
use trademon::protocol::DataSource;

pub struct EngineReport {
    pub symbols: usize,
    pub trades: u64,
    pub events: u64,
    pub seconds: f64,
}

impl std::fmt::Display for EngineReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "engine: {} trades over {} symbols in {:.3} s = {:.0} trades/s on one core ({} engine events)",
            self.trades,
            self.symbols,
            self.seconds,
            self.trades as f64 / self.seconds.max(1e-9),
            self.events
        )
    }
}

pub fn run(symbols: usize, trades: u64) -> Result<EngineReport> {
    let cfg = Config::defaults();
    let strategy = if cfg.strategies.contains_key("demo") {
        "demo"
    } else {
        "default"
    };
    let mut engine = Engine::new(cfg.engine.clone(), cfg.strategies.clone()).wrap_err("engine")?;
    let names: Vec<String> = (0..symbols.max(1))
        .map(|i| format!("S{i:03}_USDT"))
        .collect();
    let mut now_ms: i64 = 1_700_000_000_000;
    engine.apply(
        EngineInput::StartSession {
            id: "bench".into(),
            strategy: strategy.into(),
            symbols: names.clone(),
        },
        now_ms,
    );
    // A deterministic walk with bursts so conditions flip and positions open and close.
    let mut rng = fastrand::Rng::with_seed(42);
    let mut prices: Vec<f64> = (0..names.len()).map(|i| 10.0 + i as f64).collect();
    let mut events = 0u64;
    let started = Instant::now();
    for n in 0..trades {
        let i = (n as usize) % names.len();
        let drift = if (n / 50_000) % 4 == 1 { 0.0004 } else { 0.0 };
        prices[i] *= 1.0 + drift + (rng.f64() - 0.5) * 0.001;
        now_ms += 1;
        let trade = Trade {
            self_trade: false,
            id: Some(n),
            price: prices[i],
            contracts: 1.0 + rng.f64() * 10.0,
            taker: if rng.bool() { Side::Buy } else { Side::Sell },
            ts_ms: now_ms,
        };
        let input = EngineInput::Market(MarketEvent::Trades {
            symbol: names[i].clone(),
            trades: vec![trade],
            source: DataSource::Ws,
        });
        events += engine.apply(input, now_ms).len() as u64;
        if n % 1000 == 0 {
            events += engine.apply(EngineInput::Tick, now_ms).len() as u64;
        }
    }
    Ok(EngineReport {
        symbols: names.len(),
        trades,
        events,
        seconds: started.elapsed().as_secs_f64(),
    })
}
