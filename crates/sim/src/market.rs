//! The simulated market: pure and deterministic from a seed. Time comes in as ms since the
//! epoch (never read from a clock here) so tests can drive it step by step.
//!
//! Prices are kept as integer ticks so every number the simulator prints is exact; the walk
//! itself runs in log space, which keeps prices positive whatever the noise does.

use fastrand::Rng;

/// Static description of one simulated contract.
#[derive(Debug, Clone, Copy)]
pub struct SymbolSpec {
    pub symbol: &'static str,
    /// Typical 2026 price, the anchor the walk slowly reverts to.
    pub price: f64,
    /// Price decimals; the tick is 10^-decimals.
    pub decimals: u32,
    /// Daily volatility of log price (0.035 = 3.5 %).
    pub daily_vol: f64,
    /// Base-currency amount of one contract (sizes on MEXC are in contracts).
    pub contract_size: f64,
    /// Mean trade size in contracts outside pumps.
    pub mean_contracts: f64,
    pub contract_id: u32,
}

const fn spec(
    symbol: &'static str,
    price: f64,
    decimals: u32,
    daily_vol: f64,
    contract_size: f64,
    mean_contracts: f64,
    contract_id: u32,
) -> SymbolSpec {
    SymbolSpec {
        symbol,
        price,
        decimals,
        daily_vol,
        contract_size,
        mean_contracts,
        contract_id,
    }
}

pub const SPECS: [SymbolSpec; 12] = [
    spec("BTC_USDT", 95_000.0, 1, 0.035, 0.0001, 200.0, 10),
    spec("ETH_USDT", 3_500.0, 2, 0.045, 0.01, 60.0, 11),
    spec("SOL_USDT", 180.0, 3, 0.06, 0.1, 100.0, 12),
    spec("XRP_USDT", 2.3, 4, 0.055, 1.0, 800.0, 13),
    spec("DOGE_USDT", 0.35, 5, 0.065, 100.0, 60.0, 14),
    spec("PEPE_USDT", 0.000012, 10, 0.09, 10_000_000.0, 15.0, 15),
    spec("LINK_USDT", 22.0, 3, 0.06, 0.1, 900.0, 16),
    spec("AVAX_USDT", 35.0, 3, 0.065, 0.1, 500.0, 17),
    spec("BNB_USDT", 650.0, 2, 0.035, 0.01, 300.0, 18),
    spec("ADA_USDT", 0.75, 4, 0.06, 1.0, 2500.0, 19),
    spec("SUI_USDT", 3.8, 4, 0.075, 1.0, 500.0, 20),
    spec("TON_USDT", 5.5, 4, 0.06, 0.1, 3000.0, 21),
];

/// Symbol names in `SPECS` order (built at compile time so the two can never disagree).
pub const SYMBOL_NAMES: [&str; SPECS.len()] = {
    let mut out = [""; SPECS.len()];
    let mut i = 0;
    while i < SPECS.len() {
        out[i] = SPECS[i].symbol;
        i += 1;
    }
    out
};

/// Most contracts one simulator can list (`sim.symbols`). Beyond the twelve majors in `SPECS`
/// the contracts are synthetic (`SIM012_USDT`, ...), so benchmarks can offer far more streams
/// than the demo needs without changing the protocol.
pub const MAX_SYMBOLS: usize = 1000;

/// Every name the simulator can list, majors first. Built once per process; `&'static str`
/// because tickers, topics and selectors hand names around without copying them.
static ALL_NAMES: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    (0..MAX_SYMBOLS)
        .map(|i| match SPECS.get(i) {
            Some(spec) => spec.symbol.to_string(),
            None => format!("SIM{i:03}_USDT"),
        })
        .collect()
});

/// Name of contract `i`, `None` beyond [`MAX_SYMBOLS`].
pub fn symbol_name(i: usize) -> Option<&'static str> {
    let names: &'static Vec<String> = &ALL_NAMES;
    names.get(i).map(String::as_str)
}

/// Index of a contract name among all [`MAX_SYMBOLS`] (callers check it against how many
/// contracts their market lists).
pub fn symbol_index(symbol: &str) -> Option<usize> {
    ALL_NAMES.iter().position(|s| s == symbol)
}

/// Spec of contract `i`: a major as listed, a synthetic one shaped like the major it cycles
/// onto (price, decimals, volatility, sizes) with its own name and contract id.
pub fn spec_of(i: usize) -> SymbolSpec {
    let template = SPECS[i % SPECS.len()];
    SymbolSpec {
        symbol: symbol_name(i).unwrap_or(template.symbol),
        contract_id: 10 + u32::try_from(i).unwrap_or(u32::MAX - 10),
        ..template
    }
}

const SECONDS_PER_DAY: f64 = 86_400.0;
/// Longest stretch one `step` simulates; a stalled caller skips time instead of producing a
/// burst of thousands of trades.
const MAX_STEP_MS: i64 = 5_000;
/// Mean reversion of the walk towards the anchor: half-life of about six hours, so a long demo
/// never wanders to absurd prices but minutes look like a free random walk.
const REVERSION_PER_S: f64 = 3.2e-5;
/// Quoted spread as a fraction of price (at least one tick).
const SPREAD_FRAC: f64 = 0.00005;
/// First trade id, close to live MEXC values.
const FIRST_TRADE_ID: u64 = 16_270_106_116;

/// An exact decimal: `mantissa * 10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    pub mantissa: i64,
    pub scale: u32,
}

impl Decimal {
    pub fn new(mantissa: i64, scale: u32) -> Decimal {
        Decimal { mantissa, scale }
    }

    pub fn from_f64(x: f64, scale: u32) -> Decimal {
        let m = (x * 10f64.powi(scale as i32)).round();
        Decimal::new(m as i64, scale)
    }

    pub fn to_f64(self) -> f64 {
        self.mantissa as f64 / 10f64.powi(self.scale as i32)
    }
}

impl std::fmt::Display for Decimal {
    /// Plain decimal text with exactly `scale` fraction digits (e.g. `95012.3`, `0.0000120000`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.mantissa < 0 { "-" } else { "" };
        // Integer and zero-padded fraction straight into the formatter: no temporary strings
        // (every simulated ticker prints about fifteen of these).
        let m = self.mantissa.unsigned_abs();
        if let Some(unit) = 10u64.checked_pow(self.scale) {
            if self.scale == 0 {
                return write!(f, "{sign}{m}");
            }
            let width = self.scale as usize;
            return write!(f, "{sign}{}.{:0width$}", m / unit, m % unit);
        }
        // Scales beyond u64 (over 19 digits): pad the digit string instead.
        let digits = self.mantissa.unsigned_abs().to_string();
        let scale = self.scale as usize;
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{int}.{frac}")
    }
}

/// One simulated trade.
#[derive(Debug, Clone, PartialEq)]
pub struct Trade {
    /// Contiguous per symbol.
    pub id: u64,
    pub price: Decimal,
    pub contracts: u64,
    pub taker_buy: bool,
    /// MEXC `O`: 1 open, 2 close, 3 unchanged.
    pub open_flag: u8,
    pub ts_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TradeBatch {
    pub symbol: usize,
    pub trades: Vec<Trade>,
}

/// Everything a ticker frame needs, already rounded to what the exchange would print.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticker {
    pub symbol: &'static str,
    pub contract_id: u32,
    pub last: Decimal,
    pub bid1: Decimal,
    pub ask1: Decimal,
    pub volume24: Decimal,
    pub amount24: Decimal,
    pub hold_vol: Decimal,
    pub lower24: Decimal,
    pub high24: Decimal,
    pub rise_fall_rate: Decimal,
    pub rise_fall_value: Decimal,
    pub index_price: Decimal,
    pub fair_price: Decimal,
    pub funding_rate: Decimal,
    pub max_bid: Decimal,
    pub min_ask: Decimal,
    pub timestamp: i64,
}

#[derive(Debug, Clone, Copy)]
pub struct MarketParams {
    pub seed: u64,
    /// Mean trades per second per symbol outside pumps.
    pub trades_per_s: f64,
    /// Chance per second per symbol that a pump starts.
    pub pump_chance_per_s: f64,
    /// Contracts listed: the first `SPECS.len()` are the majors, the rest synthetic (clamped
    /// to 1..=[`MAX_SYMBOLS`]).
    pub symbols: usize,
}

/// A price excursion with a volume burst: rises over `rise_ms`, then gives back `retrace` of the
/// move over `fade_ms`; what is left is folded into the walk when it ends.
#[derive(Debug, Clone, Copy)]
struct Pump {
    start_ms: i64,
    rise_ms: i64,
    fade_ms: i64,
    /// Signed log move at the peak.
    magnitude: f64,
    retrace: f64,
    rate_mult: f64,
    size_mult: f64,
}

/// A pump started on request (`SimFaults::force_pump`): the same shape every time, so engine
/// tests can count on the move and the volume burst.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PumpSpec {
    /// Peak move in percent (negative for a dump).
    pub magnitude_pct: f64,
    /// Time to the peak.
    pub rise_ms: i64,
    /// Time from the peak back to calm.
    pub fade_ms: i64,
    /// Share of the move given back during the fade (0..=1).
    pub retrace: f64,
    /// Trade rate multiplier while rising.
    pub rate_mult: f64,
    /// Trade size multiplier while rising.
    pub size_mult: f64,
}

impl Default for PumpSpec {
    fn default() -> Self {
        PumpSpec {
            magnitude_pct: 5.0,
            rise_ms: 5_000,
            fade_ms: 20_000,
            retrace: 0.5,
            rate_mult: 8.0,
            size_mult: 3.0,
        }
    }
}

impl PumpSpec {
    /// Refuse shapes the model cannot run: zero durations divide by zero, a move of -100 % or
    /// more has no logarithm, and huge values would overflow tick arithmetic or ask the model
    /// for millions of trades per step.
    pub fn check(&self) -> Result<(), String> {
        const DAY_MS: i64 = 86_400_000;
        let ok = (-99.0..=1_000.0).contains(&self.magnitude_pct)
            && (1..=DAY_MS).contains(&self.rise_ms)
            && (1..=DAY_MS).contains(&self.fade_ms)
            && (0.0..=1.0).contains(&self.retrace)
            && (0.0..=100.0).contains(&self.rate_mult)
            && (0.0..=100.0).contains(&self.size_mult);
        if !ok {
            return Err(format!(
                "invalid pump {self:?}: magnitude_pct in -99..=1000, rise_ms and fade_ms in \
                 1..=86400000, retrace in 0..=1, rate_mult and size_mult in 0..=100"
            ));
        }
        Ok(())
    }
}

/// How a pump shapes the market at one instant.
#[derive(Debug, Clone, Copy)]
struct PumpPhase {
    offset: f64,
    rate_mult: f64,
    size_mult: f64,
    buy_prob: f64,
}

const CALM: PumpPhase = PumpPhase {
    offset: 0.0,
    rate_mult: 1.0,
    size_mult: 1.0,
    buy_prob: 0.5,
};

impl Pump {
    fn end_ms(&self) -> i64 {
        self.start_ms + self.rise_ms + self.fade_ms
    }

    fn residual(&self) -> f64 {
        self.magnitude * (1.0 - self.retrace)
    }

    fn phase(&self, now_ms: i64) -> PumpPhase {
        let up = self.magnitude > 0.0;
        let since = (now_ms - self.start_ms).max(0) as f64;
        if since < self.rise_ms as f64 {
            let x = since / self.rise_ms as f64;
            let smooth = x * x * (3.0 - 2.0 * x);
            PumpPhase {
                offset: self.magnitude * smooth,
                rate_mult: self.rate_mult,
                size_mult: self.size_mult,
                buy_prob: if up { 0.8 } else { 0.2 },
            }
        } else {
            let x = ((since - self.rise_ms as f64) / self.fade_ms as f64).min(1.0);
            let calm_in = 1.0 - x;
            PumpPhase {
                offset: self.magnitude * (1.0 - self.retrace * x),
                rate_mult: 1.0 + (self.rate_mult - 1.0) * calm_in * 0.5,
                size_mult: 1.0 + (self.size_mult - 1.0) * calm_in * 0.5,
                buy_prob: if up { 0.4 } else { 0.6 },
            }
        }
    }
}

#[derive(Debug, Clone)]
struct SymbolState {
    /// Log mid price without the pump offset.
    log_mid: f64,
    anchor: f64,
    last_ticks: i64,
    open24: f64,
    high24_ticks: i64,
    low24_ticks: i64,
    volume24: f64,
    amount24: f64,
    hold_vol: f64,
    /// (fair - mid) / mid, a small mean-reverting basis.
    basis: f64,
    funding: f64,
    next_trade_id: u64,
    pump: Option<Pump>,
}

#[derive(Debug, Clone)]
pub struct Market {
    params: MarketParams,
    rng: Rng,
    now_ms: i64,
    symbols: Vec<SymbolState>,
    pumps_started: u64,
}

fn tick_size(spec: &SymbolSpec) -> f64 {
    10f64.powi(-(spec.decimals as i32))
}

/// Standard normal sample (Box-Muller).
pub(crate) fn normal(rng: &mut Rng) -> f64 {
    let u1 = rng.f64().max(f64::MIN_POSITIVE);
    let u2 = rng.f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Poisson sample; Knuth for the small rates we use, a normal approximation above.
fn poisson(rng: &mut Rng, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda > 30.0 {
        return (lambda + lambda.sqrt() * normal(rng)).round().max(0.0) as u32;
    }
    let limit = (-lambda).exp();
    let mut k = 0;
    let mut p = rng.f64();
    while p > limit {
        k += 1;
        p *= rng.f64();
    }
    k
}

fn range(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.f64()
}

impl Market {
    pub fn new(params: MarketParams, now_ms: i64) -> Market {
        let mut rng = Rng::with_seed(params.seed);
        let daily_trades = params.trades_per_s.max(0.5) * SECONDS_PER_DAY;
        let symbols = (0..params.symbols.clamp(1, MAX_SYMBOLS))
            .map(spec_of)
            .enumerate()
            .map(|(i, spec)| {
                let tick = tick_size(&spec);
                let price = spec.price * (0.03 * normal(&mut rng)).exp();
                let log_mid = price.ln();
                let last_ticks = (price / tick).round() as i64;
                // 24 h history consistent with the volatility: an open somewhere within a
                // day's move, and a high/low range a bit wider than open..last.
                let open24 = price * (spec.daily_vol * 0.7 * normal(&mut rng)).exp();
                let spread = spec.daily_vol * range(&mut rng, 0.2, 0.6);
                let high = open24.max(price) * (1.0 + spread * 0.5);
                let low = open24.min(price) * (1.0 - spread * 0.5);
                let volume24 = daily_trades * spec.mean_contracts * range(&mut rng, 0.7, 1.3);
                let vwap = (open24 + price) / 2.0;
                SymbolState {
                    log_mid,
                    anchor: spec.price.ln(),
                    last_ticks,
                    open24,
                    high24_ticks: (high / tick).round() as i64,
                    low24_ticks: ((low / tick).round() as i64).max(1),
                    volume24,
                    amount24: volume24 * spec.contract_size * vwap,
                    hold_vol: volume24 * range(&mut rng, 0.15, 0.4),
                    basis: 0.0001 * normal(&mut rng),
                    funding: 0.0001 + 0.00005 * normal(&mut rng),
                    next_trade_id: FIRST_TRADE_ID + i as u64 * 7_919_000 + rng.u64(0..1_000_000),
                    pump: None,
                }
            })
            .collect();
        Market {
            params,
            rng,
            now_ms,
            symbols,
            pumps_started: 0,
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// Contracts this market lists.
    pub fn symbol_count(&self) -> usize {
        self.symbols.len()
    }

    pub fn pumps_started(&self) -> u64 {
        self.pumps_started
    }

    /// Id the next trade of `symbol` will get (0 for an unknown index).
    pub fn next_trade_id(&self, symbol: usize) -> u64 {
        self.symbols.get(symbol).map_or(0, |s| s.next_trade_id)
    }

    pub fn pump_active(&self, symbol: usize) -> bool {
        self.symbols.get(symbol).is_some_and(|s| s.pump.is_some())
    }

    /// Start `spec` on `symbol` now, replacing any pump in progress (its current offset is kept
    /// in the walk so the price does not jump back). Unknown indexes are ignored.
    pub fn force_pump(&mut self, symbol: usize, spec: PumpSpec) {
        let now_ms = self.now_ms;
        let Some(s) = self.symbols.get_mut(symbol) else {
            return;
        };
        if let Some(old) = s.pump.take() {
            s.log_mid += old.phase(now_ms).offset;
        }
        s.pump = Some(Pump {
            start_ms: now_ms,
            rise_ms: spec.rise_ms.max(1),
            fade_ms: spec.fade_ms.max(1),
            magnitude: (1.0 + spec.magnitude_pct / 100.0)
                .max(f64::MIN_POSITIVE)
                .ln(),
            retrace: spec.retrace.clamp(0.0, 1.0),
            rate_mult: spec.rate_mult.max(0.0),
            size_mult: spec.size_mult.max(0.0),
        });
        self.pumps_started += 1;
    }

    /// Advance to `now_ms` and return the trades that happened meanwhile, per symbol, in time
    /// order. A `now_ms` in the past is a no-op.
    pub fn step(&mut self, now_ms: i64) -> Vec<TradeBatch> {
        let dt_ms = (now_ms - self.now_ms).clamp(0, MAX_STEP_MS);
        let from_ms = now_ms - dt_ms;
        self.now_ms = now_ms.max(self.now_ms);
        if dt_ms == 0 {
            return Vec::new();
        }
        let mut batches = Vec::new();
        for i in 0..self.symbols.len() {
            let trades = self.step_symbol(i, from_ms, now_ms);
            if !trades.is_empty() {
                batches.push(TradeBatch { symbol: i, trades });
            }
        }
        batches
    }

    fn step_symbol(&mut self, i: usize, from_ms: i64, now_ms: i64) -> Vec<Trade> {
        let spec = spec_of(i);
        let tick = tick_size(&spec);
        let dt_ms = now_ms - from_ms;
        let dt = dt_ms as f64 / 1000.0;
        let p = self.params;
        let rng = &mut self.rng;
        let s = &mut self.symbols[i];

        // Pump lifecycle.
        if let Some(pump) = s.pump
            && now_ms >= pump.end_ms()
        {
            s.pump = None;
            s.log_mid += pump.residual();
        }
        let chance = p.pump_chance_per_s.clamp(0.0, 1.0);
        if s.pump.is_none() && rng.f64() < 1.0 - (1.0 - chance).powf(dt) {
            let up = rng.f64() < 0.75;
            let size = range(rng, 0.025, 0.07);
            s.pump = Some(Pump {
                start_ms: from_ms,
                rise_ms: rng.i64(10_000..=40_000),
                fade_ms: rng.i64(20_000..=60_000),
                magnitude: if up { size } else { -size },
                retrace: range(rng, 0.4, 0.8),
                rate_mult: range(rng, 5.0, 10.0),
                size_mult: range(rng, 2.0, 4.0),
            });
            self.pumps_started += 1;
        }
        let phase = s.pump.map_or(CALM, |pump| pump.phase(now_ms));

        // Random walk with a slow pull towards the anchor.
        let sigma = spec.daily_vol / SECONDS_PER_DAY.sqrt();
        s.log_mid +=
            -REVERSION_PER_S * (s.log_mid - s.anchor) * dt + sigma * dt.sqrt() * normal(rng);
        s.basis += -0.05 * s.basis * dt + 0.00002 * dt.sqrt() * normal(rng);
        s.funding += -0.001 * (s.funding - 0.0001) * dt + 0.000001 * dt.sqrt() * normal(rng);
        s.hold_vol = (s.hold_vol * (1.0 + 0.0005 * dt.sqrt() * normal(rng))).max(1.0);

        let mid = (s.log_mid + phase.offset).exp();
        let (bid, ask) = quote(mid, tick);

        // Rolling 24 h window approximated by exponential decay; trades add back in.
        let decay = (-dt / SECONDS_PER_DAY).exp();
        s.volume24 *= decay;
        s.amount24 *= decay;
        s.open24 += (s.last_ticks as f64 * tick - s.open24) * (1.0 - decay);

        let n = poisson(rng, p.trades_per_s * phase.rate_mult * dt);
        let mut times: Vec<i64> = (0..n).map(|_| from_ms + rng.i64(1..=dt_ms)).collect();
        times.sort_unstable();
        let mut trades = Vec::with_capacity(times.len());
        for ts_ms in times {
            let taker_buy = rng.f64() < phase.buy_prob;
            // Log-normal sizes (mean about 1 x mean_contracts), bigger during pumps.
            let raw = spec.mean_contracts * phase.size_mult * (normal(rng) * 0.9 - 0.4).exp();
            let contracts = raw.round().max(1.0) as u64;
            // Big takers walk the book a tick.
            let slip = i64::from(raw > spec.mean_contracts * 4.0);
            let price_ticks = if taker_buy {
                ask + slip
            } else {
                (bid - slip).max(1)
            };
            let open_flag = match rng.u8(0..10) {
                0..=4 => 1,
                5..=7 => 2,
                _ => 3,
            };
            s.last_ticks = price_ticks;
            s.high24_ticks = s.high24_ticks.max(price_ticks);
            s.low24_ticks = s.low24_ticks.min(price_ticks);
            s.volume24 += contracts as f64;
            s.amount24 += contracts as f64 * spec.contract_size * price_ticks as f64 * tick;
            trades.push(Trade {
                id: s.next_trade_id,
                price: Decimal::new(price_ticks, spec.decimals),
                contracts,
                taker_buy,
                open_flag,
                ts_ms,
            });
            s.next_trade_id += 1;
        }
        trades
    }

    /// Ticker for every symbol, in `SPECS` order.
    pub fn tickers(&self) -> Vec<Ticker> {
        (0..self.symbols.len()).map(|i| self.ticker(i)).collect()
    }

    pub fn ticker(&self, i: usize) -> Ticker {
        let spec = spec_of(i);
        let s = &self.symbols[i];
        let tick = tick_size(&spec);
        let d = spec.decimals;
        let phase = s.pump.map_or(CALM, |pump| pump.phase(self.now_ms));
        let mid = (s.log_mid + phase.offset).exp();
        let (bid, ask) = quote(mid, tick);
        let last = s.last_ticks as f64 * tick;
        let fair = mid * (1.0 + s.basis);
        let index = mid * (1.0 + s.basis * 0.5);
        Ticker {
            symbol: spec.symbol,
            contract_id: spec.contract_id,
            last: Decimal::new(s.last_ticks, d),
            bid1: Decimal::new(bid, d),
            ask1: Decimal::new(ask, d),
            volume24: Decimal::from_f64(s.volume24, 0),
            amount24: Decimal::from_f64(s.amount24, 2),
            hold_vol: Decimal::from_f64(s.hold_vol, 0),
            lower24: Decimal::new(s.low24_ticks, d),
            high24: Decimal::new(s.high24_ticks, d),
            rise_fall_rate: Decimal::from_f64((last - s.open24) / s.open24, 4),
            rise_fall_value: Decimal::from_f64(last - s.open24, d),
            index_price: Decimal::from_f64(index, d),
            fair_price: Decimal::from_f64(fair, d),
            funding_rate: Decimal::from_f64(s.funding, 6),
            // MEXC's price limits sit about 10 % either side of the index.
            max_bid: Decimal::from_f64(index * 1.1, d),
            min_ask: Decimal::from_f64(index * 0.9, d),
            timestamp: self.now_ms,
        }
    }
}

/// Best bid and ask in ticks around `mid`, at least one tick apart.
fn quote(mid: f64, tick: f64) -> (i64, i64) {
    let spread_ticks = ((mid * SPREAD_FRAC / tick).round() as i64).max(1);
    let bid = ((mid / tick - spread_ticks as f64 / 2.0).floor() as i64).max(1);
    (bid, bid + spread_ticks)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_790_000_000_000;

    fn params(seed: u64, pump: f64) -> MarketParams {
        MarketParams {
            seed,
            trades_per_s: 4.0,
            pump_chance_per_s: pump,
            symbols: SPECS.len(),
        }
    }

    fn run(m: &mut Market, seconds: i64) -> Vec<TradeBatch> {
        let mut all = Vec::new();
        for k in 1..=seconds * 10 {
            all.extend(m.step(T0 + k * 100));
        }
        all
    }

    #[test]
    fn decimal_prints_exact_plain_text() {
        assert_eq!(Decimal::new(950123, 1).to_string(), "95012.3");
        assert_eq!(Decimal::new(120000, 10).to_string(), "0.0000120000");
        assert_eq!(Decimal::new(-5, 2).to_string(), "-0.05");
        assert_eq!(Decimal::new(42, 0).to_string(), "42");
        assert_eq!(Decimal::new(7, 3).to_string(), "0.007");
        assert_eq!(
            Decimal::new(i64::MIN, 2).to_string(),
            "-92233720368547758.08"
        );
        assert_eq!(Decimal::new(5, 20).to_string(), "0.00000000000000000005");
    }

    #[test]
    fn symbol_names_follow_specs_and_include_the_majors() {
        for s in [
            "BTC_USDT",
            "ETH_USDT",
            "SOL_USDT",
            "XRP_USDT",
            "DOGE_USDT",
            "PEPE_USDT",
            "LINK_USDT",
            "AVAX_USDT",
        ] {
            assert!(symbol_index(s).is_some(), "{s}");
        }
        assert!(SYMBOL_NAMES.len() >= 12);
        assert_eq!(symbol_index("btc_usdt"), None);
    }

    #[test]
    fn same_seed_same_market() {
        let mut a = Market::new(params(42, 0.05), T0);
        let mut b = Market::new(params(42, 0.05), T0);
        assert_eq!(run(&mut a, 30), run(&mut b, 30));
        assert_eq!(a.tickers(), b.tickers());
        let mut c = Market::new(params(43, 0.05), T0);
        run(&mut c, 30);
        assert_ne!(a.tickers(), c.tickers());
    }

    #[test]
    fn prices_stay_positive_and_near_their_anchor() {
        let mut m = Market::new(params(1, 0.2), T0);
        let batches = run(&mut m, 600);
        assert!(
            batches
                .iter()
                .flat_map(|b| &b.trades)
                .all(|t| t.price.mantissa > 0)
        );
        for (t, spec) in m.tickers().iter().zip(SPECS.iter()) {
            let last = t.last.to_f64();
            assert!(last > 0.0 && t.bid1.mantissa > 0, "{}", t.symbol);
            assert!(t.bid1.mantissa < t.ask1.mantissa, "{}", t.symbol);
            assert!(
                (last / spec.price - 1.0).abs() < 0.35,
                "{} {last}",
                t.symbol
            );
            assert!(t.lower24.mantissa <= t.last.mantissa && t.last.mantissa <= t.high24.mantissa);
            assert!(t.volume24.mantissa > 0 && t.amount24.mantissa > 0);
        }
    }

    #[test]
    fn trade_ids_contiguous_and_times_ordered_per_symbol() {
        let mut m = Market::new(params(5, 0.0), T0);
        let batches = run(&mut m, 20);
        for sym in 0..SPECS.len() {
            let trades: Vec<&Trade> = batches
                .iter()
                .filter(|b| b.symbol == sym)
                .flat_map(|b| &b.trades)
                .collect();
            assert!(trades.len() > 30, "{sym}: {}", trades.len());
            for w in trades.windows(2) {
                assert_eq!(w[1].id, w[0].id + 1);
                assert!(w[1].ts_ms >= w[0].ts_ms);
            }
            assert!(trades[0].id >= FIRST_TRADE_ID);
        }
    }

    #[test]
    fn trade_rate_follows_config() {
        let mut m = Market::new(params(9, 0.0), T0);
        let n: usize = run(&mut m, 100).iter().map(|b| b.trades.len()).sum();
        let per_symbol_per_s = n as f64 / SPECS.len() as f64 / 100.0;
        assert!((3.0..5.0).contains(&per_symbol_per_s), "{per_symbol_per_s}");
    }

    #[test]
    fn a_pump_moves_price_and_volume_when_likely() {
        let mut calm = Market::new(params(3, 0.0), T0);
        let mut hot = Market::new(params(3, 1.0), T0);
        let start: Vec<f64> = hot.tickers().iter().map(|t| t.last.to_f64()).collect();
        let calm_trades: usize = run(&mut calm, 20).iter().map(|b| b.trades.len()).sum();
        let hot_trades: usize = run(&mut hot, 20).iter().map(|b| b.trades.len()).sum();
        assert!(hot.pumps_started() >= SPECS.len() as u64);
        assert!((0..SPECS.len()).all(|i| hot.pump_active(i)));
        assert_eq!(calm.pumps_started(), 0);
        assert!(
            hot_trades > calm_trades * 3,
            "{hot_trades} vs {calm_trades}"
        );
        let biggest_move = hot
            .tickers()
            .iter()
            .zip(start)
            .map(|(t, p0)| (t.last.to_f64() / p0 - 1.0).abs())
            .fold(0.0, f64::max);
        assert!(biggest_move > 0.015, "{biggest_move}");
    }

    #[test]
    fn a_past_time_is_a_no_op_and_long_gaps_are_capped() {
        let mut m = Market::new(params(2, 0.0), T0);
        assert!(m.step(T0 - 1000).is_empty());
        let n: usize = m.step(T0 + 3_600_000).iter().map(|b| b.trades.len()).sum();
        assert!(n < 12 * 4 * 5 * 3, "{n}");
        assert_eq!(m.now_ms(), T0 + 3_600_000);
    }

    #[test]
    fn a_forced_pump_is_the_move_asked_for() {
        let mut m = Market::new(params(5, 0.0), T0);
        let i = symbol_index("ETH_USDT").unwrap();
        let p0 = m.ticker(i).last.to_f64();
        let trades_over_2s = |m: &mut Market| {
            let t = m.now_ms();
            (1..=20)
                .map(|k| {
                    let batches = m.step(t + k * 100);
                    batches
                        .iter()
                        .filter(|b| b.symbol == i)
                        .map(|b| b.trades.len())
                        .sum::<usize>()
                })
                .sum::<usize>()
        };
        let calm = trades_over_2s(&mut m);
        let spec = PumpSpec {
            magnitude_pct: 10.0,
            rise_ms: 1_000,
            fade_ms: 60_000,
            ..PumpSpec::default()
        };
        spec.check().unwrap();
        m.force_pump(i, spec);
        assert!(m.pump_active(i));
        let hot = trades_over_2s(&mut m);
        let p1 = m.ticker(i).last.to_f64();
        assert!(p1 / p0 > 1.07, "{p0} -> {p1}");
        assert!(hot > calm * 3, "{hot} vs {calm}");
        assert!(PumpSpec { rise_ms: 0, ..spec }.check().is_err());
        assert!(
            PumpSpec {
                magnitude_pct: -100.0,
                ..spec
            }
            .check()
            .is_err()
        );
        assert!(
            PumpSpec {
                rise_ms: i64::MAX,
                ..spec
            }
            .check()
            .is_err()
        );
        assert!(
            PumpSpec {
                rate_mult: f64::NAN,
                ..spec
            }
            .check()
            .is_err()
        );
    }

    #[test]
    fn more_symbols_keep_the_majors_and_add_synthetic_contracts() {
        let wide = MarketParams {
            symbols: 150,
            ..params(4, 0.0)
        };
        let mut m = Market::new(wide, T0);
        assert_eq!(m.symbol_count(), 150);
        let batches = run(&mut m, 5);
        let tickers = m.tickers();
        assert_eq!(tickers[0].symbol, "BTC_USDT");
        assert_eq!(tickers[149].symbol, "SIM149_USDT");
        assert_eq!(symbol_index("SIM149_USDT"), Some(149));
        assert_eq!(tickers[149].contract_id, 159);
        assert!(batches.iter().any(|b| b.symbol >= 12));
        assert!(tickers.iter().all(|t| t.bid1.mantissa < t.ask1.mantissa));
        // The default count is the twelve majors, as before.
        assert_eq!(Market::new(params(4, 0.0), T0).symbol_count(), SPECS.len());
    }
}
