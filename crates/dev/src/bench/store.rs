//! `trademon bench store`: rows/s through the store (channel + writer thread + per-table
//! buffers + spool bookkeeping) to the in-repo QuestDB test server, beside the raw
//! `questdb-rs` client writing the same rows in the same batch size, in one run. Both write to
//! a fresh test server, so the ratio isolates the store's own cost. Target (issue 5): >= 200k
//! rows/s and a ratio >= 0.7. Release builds only give meaningful numbers.

use std::time::{Duration, Instant};

use questdb::ingress::Sender;

use trademon::store::{StoreRow, StoreSettings, Table, schema, spawn_with};
use trademon_questdb_double::{TestServer, exec};

pub struct StoreBench {
    pub rows: usize,
    pub raw_rows_per_s: f64,
    pub store_rows_per_s: f64,
}

impl std::fmt::Display for StoreBench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "rows                    {}", self.rows)?;
        writeln!(
            f,
            "raw questdb client      {:>12.0} rows/s",
            self.raw_rows_per_s
        )?;
        writeln!(
            f,
            "store (writer + spool)  {:>12.0} rows/s",
            self.store_rows_per_s
        )?;
        write!(
            f,
            "ratio store/raw         {:>12.2}",
            self.store_rows_per_s / self.raw_rows_per_s.max(1.0)
        )
    }
}

fn rows(n: usize) -> Vec<StoreRow> {
    (0..n)
        .map(|i| StoreRow::Trade {
            symbol: ["BTC_USDT", "ETH_USDT", "SOL_USDT", "XRP_USDT"][i % 4].into(),
            trade_id: i as i64,
            price: 60_000.0 + (i % 1000) as f64 * 0.5,
            qty: 1.0 + (i % 7) as f64,
            side: if i % 2 == 0 { "BUY" } else { "SELL" }.into(),
            ts_ms: 1_763_772_000_000 + (i / 8) as i64,
        })
        .collect()
}

fn server_with_schema() -> Result<TestServer, String> {
    let server = TestServer::start().map_err(|e| format!("test server: {e}"))?;
    server.with_catalog(|c| {
        for t in Table::ALL {
            exec::run(c, &schema::create_sql(t));
        }
    });
    Ok(server)
}

/// Run both measurements over `n` trade rows with `batch` rows per request.
pub fn bench_rows(n: usize, batch: usize) -> Result<StoreBench, String> {
    let data = rows(n);

    // Raw client: encode + flush per batch, nothing else.
    let server = server_with_schema()?;
    let conf = format!("http::addr={};protocol_version=2;", server.addr());
    let mut sender = Sender::from_conf(&conf).map_err(|e| e.to_string())?;
    let mut buf = sender.new_buffer();
    let t0 = Instant::now();
    for chunk in data.chunks(batch.max(1)) {
        for r in chunk {
            r.write_ilp(&mut buf).map_err(|e| e.to_string())?;
        }
        sender.flush(&mut buf).map_err(|e| e.to_string())?;
    }
    let raw = t0.elapsed();
    if server.row_count("trades") != n {
        return Err(format!(
            "raw run stored {} of {n}",
            server.row_count("trades")
        ));
    }
    drop(server);

    // The store: send every row through the handle, wait until the server has them all.
    let server = server_with_schema()?;
    let dir = std::env::temp_dir().join(format!("trademon-bench-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut s = StoreSettings::for_test(server.addr(), &dir);
    s.flush_rows = batch.max(1);
    s.flush_age = Duration::from_millis(100);
    s.channel_capacity = n.max(1);
    s.fsync = trademon::config::FsyncPolicy::Batch;
    let (store, health) = spawn_with(s).map_err(|e| e.to_string())?;
    let ready = Instant::now();
    while health.borrow().state != trademon::store::StoreState::Ok {
        if ready.elapsed() > Duration::from_secs(10) {
            return Err("store did not become ready".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let t0 = Instant::now();
    store.send_all(data);
    if !store.flush_blocking(Duration::from_secs(120)) {
        return Err("store flush timed out".into());
    }
    let through = t0.elapsed();
    let stored = server.row_count("trades");
    store.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
    if stored != n {
        return Err(format!("store run stored {stored} of {n}"));
    }
    Ok(StoreBench {
        rows: n,
        raw_rows_per_s: n as f64 / raw.as_secs_f64(),
        store_rows_per_s: n as f64 / through.as_secs_f64(),
    })
}
