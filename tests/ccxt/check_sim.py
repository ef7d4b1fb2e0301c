#!/usr/bin/env python3
"""Check `trademon sim` with ccxt's MEXC client, an independent implementation of the protocol.

    python3 tests/ccxt/check_sim.py --rest http://127.0.0.1:9001 --ws ws://127.0.0.1:9001/edge

Points ccxt's MEXC futures REST base and swap WebSocket at the simulator, then calls what a MEXC
futures bot calls first on one swap symbol, each under a timeout, and checks that every answer
is non-empty and sane. One line per call; exit status 0 only when every call passed.

Spot markets are left out of `load_markets` (ccxt loads both; the simulator is futures only).
"""

import argparse
import asyncio
import sys
import time
import traceback

try:
    import ccxt.pro as ccxtpro
except ImportError as e:  # the Rust test that runs this checks the import first
    print(f"ccxt is not installed: {e}", file=sys.stderr)
    sys.exit(2)


class Failed(Exception):
    pass


def need(cond, why):
    if not cond:
        raise Failed(why)


def now_ms():
    return int(time.time() * 1000)


def check_book(ob, label):
    bids, asks = ob["bids"], ob["asks"]
    need(bids and asks, f"{label}: empty side ({len(bids)} bids, {len(asks)} asks)")
    need(all(b[0] > 0 and b[1] > 0 for b in bids + asks), f"{label}: non-positive level")
    need(all(bids[k][0] > bids[k + 1][0] for k in range(len(bids) - 1)), f"{label}: bids not descending")
    need(all(asks[k][0] < asks[k + 1][0] for k in range(len(asks) - 1)), f"{label}: asks not ascending")
    need(bids[0][0] < asks[0][0], f"{label}: crossed, bid {bids[0][0]} >= ask {asks[0][0]}")
    need(isinstance(ob.get("nonce"), int), f"{label}: no integer nonce (depth version): {ob.get('nonce')}")
    return f"{len(bids)}x{len(asks)} levels, best {bids[0][0]} / {asks[0][0]}, version {ob['nonce']}"


def check_candles(candles, step_ms, label):
    need(candles, f"{label}: no candles")
    ts = [c[0] for c in candles]
    need(all(t > 10**12 for t in ts), f"{label}: timestamps not in ms: {ts[:3]}")
    need(all(t % step_ms == 0 for t in ts), f"{label}: timestamps off the {step_ms} ms grid")
    need(all(b > a for a, b in zip(ts, ts[1:])), f"{label}: not ascending")
    for t, o, h, l, c, v in candles:
        need(0 < l <= min(o, c) and max(o, c) <= h, f"{label}: bad candle at {t}: {o} {h} {l} {c}")
        need(v is not None and v >= 0, f"{label}: bad volume at {t}: {v}")
    need(ts[-1] <= now_ms() + step_ms, f"{label}: last candle in the future")
    return f"{len(candles)} candles, {ts[0]}..{ts[-1]} ms, last close {candles[-1][4]}"


def check_ticker(t, symbol, label):
    need(t["symbol"] == symbol, f"{label}: symbol {t['symbol']}")
    need(t["last"] and t["last"] > 0, f"{label}: last {t['last']}")
    need(t["bid"] and t["ask"] and t["bid"] < t["ask"], f"{label}: bid {t['bid']} ask {t['ask']}")
    need(abs(t["timestamp"] - now_ms()) < 60_000, f"{label}: timestamp {t['timestamp']} not now")
    return f"last {t['last']} bid {t['bid']} ask {t['ask']}"


def check_trades(trades, label):
    need(trades, f"{label}: no trades")
    for tr in trades:
        need(tr["price"] > 0 and tr["amount"] > 0, f"{label}: bad trade {tr['info']}")
        need(tr["side"] in ("buy", "sell"), f"{label}: side {tr['side']}")
    ts = [tr["timestamp"] for tr in trades]
    need(all(b >= a for a, b in zip(ts, ts[1:])), f"{label}: not in time order")
    need(all(t > 10**12 for t in ts), f"{label}: timestamps not in ms")
    return f"{len(trades)} trades, last {trades[-1]['price']} x {trades[-1]['amount']} {trades[-1]['side']}"


async def run(args):
    ex = ccxtpro.mexc({"options": {"defaultType": "swap"}})
    ex.urls["api"]["contract"]["public"] = args.rest.rstrip("/") + "/api/v1/contract"
    ex.urls["api"]["contract"]["private"] = args.rest.rstrip("/") + "/api/v1/private"
    ex.urls["api"]["ws"]["swap"] = args.ws

    async def no_spot_markets(params={}):
        return []

    ex.fetch_spot_markets = no_spot_markets
    sym = args.symbol
    minute = 60_000

    async def load_markets():
        markets = await ex.load_markets()
        swaps = [m for m in markets.values() if m["swap"]]
        need(sym in markets, f"{sym} not among {list(markets)[:5]}...")
        m = markets[sym]
        need(m["contractSize"] and m["contractSize"] > 0, f"contractSize {m['contractSize']}")
        need(m["precision"]["price"] and m["precision"]["price"] > 0, "no price precision")
        need(m["active"], f"{sym} not active")
        return f"{len(swaps)} swap markets; {sym} id {m['id']} contractSize {m['contractSize']} tick {m['precision']['price']}"

    async def fetch_ticker():
        return check_ticker(await ex.fetch_ticker(sym), sym, "fetch_ticker")

    async def fetch_tickers():
        all_ = await ex.fetch_tickers()
        need(sym in all_, f"{sym} missing from {len(all_)} tickers")
        need(all(t["last"] and t["last"] > 0 for t in all_.values()), "a ticker without last")
        return f"{len(all_)} tickers; {check_ticker(all_[sym], sym, 'fetch_tickers')}"

    async def fetch_trades():
        return check_trades(await ex.fetch_trades(sym), "fetch_trades")

    async def fetch_order_book():
        return check_book(await ex.fetch_order_book(sym), "fetch_order_book")

    async def fetch_ohlcv():
        line = check_candles(await ex.fetch_ohlcv(sym, "1m"), minute, "fetch_ohlcv 1m")
        since = now_ms() - 3 * 3_600_000
        five = await ex.fetch_ohlcv(sym, "5m", since=since, limit=10)
        check_candles(five, 5 * minute, "fetch_ohlcv 5m since")
        need(len(five) == 10 and five[0][0] >= since - 5 * minute, f"5m since/limit: {len(five)} from {five[0][0]}")
        return line + "; 5m since 3 h ago: 10 candles"

    async def fetch_funding_rate():
        fr = await ex.fetch_funding_rate(sym)
        need(fr["fundingRate"] is not None and abs(fr["fundingRate"]) < 0.01, f"rate {fr['fundingRate']}")
        need(fr["fundingTimestamp"] and fr["fundingTimestamp"] > now_ms(), "next settlement not in the future")
        return f"rate {fr['fundingRate']} next {fr['fundingDatetime']} interval {fr['interval']}"

    async def watch_ticker():
        return check_ticker(await ex.watch_ticker(sym), sym, "watch_ticker")

    async def watch_trades():
        return check_trades(await ex.watch_trades(sym), "watch_trades")

    async def watch_order_book():
        ob = await ex.watch_order_book(sym)
        line = check_book(ob, "watch_order_book")
        ob = await ex.watch_order_book(sym)  # and it keeps updating
        return line + "; then " + check_book(ob, "watch_order_book update")

    async def watch_ohlcv():
        return check_candles(await ex.watch_ohlcv(sym, "1m"), minute, "watch_ohlcv 1m")

    async def watch_funding_rate():
        fr = await ex.watch_funding_rate(sym)
        need(fr["symbol"] == sym and fr["fundingRate"] is not None, f"bad {fr}")
        return f"rate {fr['fundingRate']} next {fr['fundingDatetime']}"

    calls = [
        load_markets, fetch_ticker, fetch_tickers, fetch_trades, fetch_order_book, fetch_ohlcv,
        fetch_funding_rate, watch_ticker, watch_trades, watch_order_book, watch_ohlcv,
        watch_funding_rate,
    ]
    failed = 0
    try:
        for call in calls:
            started = time.monotonic()
            try:
                line = await asyncio.wait_for(call(), args.timeout)
                print(f"ok   {call.__name__}: {line} ({time.monotonic() - started:.1f} s)", flush=True)
            except asyncio.TimeoutError:
                failed += 1
                print(f"FAIL {call.__name__}: no answer within {args.timeout} s", flush=True)
            except Exception as e:  # report every call, whatever breaks
                failed += 1
                print(f"FAIL {call.__name__}: {type(e).__name__}: {e}", flush=True)
                if args.verbose:
                    traceback.print_exc()
    finally:
        await ex.close()
    print(f"{len(calls) - failed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rest", required=True, help="simulator REST base, e.g. http://127.0.0.1:9001")
    p.add_argument("--ws", required=True, help="simulator WebSocket, e.g. ws://127.0.0.1:9001/edge")
    p.add_argument("--symbol", default="BTC/USDT:USDT")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per call")
    p.add_argument("--verbose", action="store_true", help="tracebacks for failures")
    args = p.parse_args()
    print(f"ccxt {ccxtpro.__version__} against {args.rest} and {args.ws}", flush=True)
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
