//! The tables: DDL (all WAL, all DEDUP UPSERT KEYS with the designated timestamp) and the check
//! of what the server really has (`table_columns()`), so a missing or mistyped column such as
//! `signals.side` is named instead of surfacing later as a failed query.

use super::rows::Table;

/// One expected column: name, QuestDB type, part of the DEDUP key.
pub struct Column {
    pub name: &'static str,
    pub ty: &'static str,
    pub key: bool,
}

const fn c(name: &'static str, ty: &'static str, key: bool) -> Column {
    Column { name, ty, key }
}

/// Columns of each table; `ts` (the designated event timestamp) is always first and a key.
pub fn columns(t: Table) -> &'static [Column] {
    match t {
        Table::Trades => {
            const C: &[Column] = &[
                c("ts", "TIMESTAMP", true),
                c("symbol", "SYMBOL", true),
                c("trade_id", "LONG", true),
                c("side", "SYMBOL", false),
                c("price", "DOUBLE", false),
                c("qty", "DOUBLE", false),
            ];
            C
        }
        Table::Prices => {
            const C: &[Column] = &[
                c("ts", "TIMESTAMP", true),
                c("symbol", "SYMBOL", true),
                c("last", "DOUBLE", false),
                c("bid", "DOUBLE", false),
                c("ask", "DOUBLE", false),
                c("change_pct", "DOUBLE", false),
                c("volume_24h", "DOUBLE", false),
                c("fair_price", "DOUBLE", false),
                c("index_price", "DOUBLE", false),
                c("funding_rate", "DOUBLE", false),
            ];
            C
        }
        Table::IndicatorValues => {
            const C: &[Column] = &[
                c("ts", "TIMESTAMP", true),
                c("session_id", "SYMBOL", true),
                c("symbol", "SYMBOL", true),
                c("indicator", "SYMBOL", true),
                c("value", "DOUBLE", false),
            ];
            C
        }
        Table::Signals => {
            const C: &[Column] = &[
                c("ts", "TIMESTAMP", true),
                c("session_id", "SYMBOL", true),
                c("symbol", "SYMBOL", true),
                c("side", "SYMBOL", false),
                c("kind", "SYMBOL", false),
                c("signal_id", "LONG", true),
                c("price", "DOUBLE", false),
                c("reason", "VARCHAR", false),
            ];
            C
        }
        // Identity of a transition: instance + from + to at one instant (an instance cannot make
        // the same move twice in one millisecond).
        Table::FsmTransitions => {
            const C: &[Column] = &[
                c("ts", "TIMESTAMP", true),
                c("session_id", "SYMBOL", true),
                c("symbol", "SYMBOL", true),
                c("from_state", "SYMBOL", true),
                c("to_state", "SYMBOL", true),
                c("reason", "VARCHAR", false),
            ];
            C
        }
        // One row per session, upserted in place: ts is the session start.
        Table::Sessions => {
            const C: &[Column] = &[
                c("ts", "TIMESTAMP", true),
                c("session_id", "SYMBOL", true),
                c("strategy", "SYMBOL", false),
                c("status", "SYMBOL", false),
                c("name", "VARCHAR", false),
                c("symbols", "VARCHAR", false),
                c("realized_pnl", "DOUBLE", false),
                c("signals", "LONG", false),
                c("updated_ts", "TIMESTAMP", false),
            ];
            C
        }
        Table::ConnectionEvents => {
            const C: &[Column] = &[
                c("ts", "TIMESTAMP", true),
                c("link", "SYMBOL", true),
                c("event", "SYMBOL", true),
                c("initiator", "SYMBOL", false),
                c("conn_id", "VARCHAR", true),
                c("code", "LONG", false),
                c("reason", "VARCHAR", false),
            ];
            C
        }
        // One row per closed candle: ts is its open time.
        Table::Klines => {
            const C: &[Column] = &[
                c("ts", "TIMESTAMP", true),
                c("symbol", "SYMBOL", true),
                c("interval", "SYMBOL", true),
                c("open", "DOUBLE", false),
                c("high", "DOUBLE", false),
                c("low", "DOUBLE", false),
                c("close", "DOUBLE", false),
                c("volume", "DOUBLE", false),
                c("amount", "DOUBLE", false),
            ];
            C
        }
    }
}

fn partition(t: Table) -> &'static str {
    match t {
        Table::Trades | Table::Prices | Table::IndicatorValues => "DAY",
        // Klines: a day holds at most 1440 rows of one symbol and interval, and day candles
        // of a year would make a year of DAY partitions.
        Table::Signals | Table::FsmTransitions | Table::ConnectionEvents | Table::Klines => "MONTH",
        Table::Sessions => "YEAR",
    }
}

/// `CREATE TABLE IF NOT EXISTS ...` for one table. `PARTITION BY` makes it a WAL table (ILP
/// over HTTP writes only to WAL tables); DEDUP makes every resend and replay idempotent.
pub fn create_sql(t: Table) -> String {
    let cols = columns(t)
        .iter()
        .map(|c| format!("{} {}", c.name, c.ty))
        .collect::<Vec<_>>()
        .join(", ");
    let keys = columns(t)
        .iter()
        .filter(|c| c.key)
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "CREATE TABLE IF NOT EXISTS {} ({cols}) TIMESTAMP(ts) PARTITION BY {} WAL DEDUP UPSERT KEYS({keys})",
        t.name(),
        partition(t)
    )
}

/// The schema query for one table.
pub fn columns_sql(t: Table) -> String {
    format!(
        "SELECT \"column\", type, upsertKey, designated FROM table_columns('{}')",
        t.name()
    )
}

/// What the server reported for one column.
#[derive(Debug, Clone, PartialEq)]
pub struct ActualColumn {
    pub name: String,
    pub ty: String,
    pub upsert_key: bool,
    pub designated: bool,
}

/// Problems of one table, each naming the column: empty means the table is usable.
pub fn compare(t: Table, actual: &[ActualColumn]) -> Vec<String> {
    let mut out = Vec::new();
    for want in columns(t) {
        let found = actual
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(want.name));
        match found {
            None => out.push(format!("{}.{}: column missing", t.name(), want.name)),
            Some(a) if !a.ty.eq_ignore_ascii_case(want.ty) => out.push(format!(
                "{}.{}: type {} (expected {})",
                t.name(),
                want.name,
                a.ty,
                want.ty
            )),
            // Without the key, a resend after an in-doubt failure would duplicate rows.
            Some(a) if want.key && !a.upsert_key => out.push(format!(
                "{}.{}: not a DEDUP UPSERT key",
                t.name(),
                want.name
            )),
            Some(a) if want.name == "ts" && !a.designated => {
                out.push(format!("{}.ts: not the designated timestamp", t.name()))
            }
            Some(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_keys_its_designated_timestamp() {
        for t in Table::ALL {
            let sql = create_sql(t);
            assert!(sql.contains("TIMESTAMP(ts) PARTITION BY"), "{sql}");
            assert!(sql.contains("DEDUP UPSERT KEYS(ts, "), "{sql}");
        }
        assert!(create_sql(Table::Signals).contains("side SYMBOL"));
    }

    #[test]
    fn a_missing_column_is_named() {
        let actual: Vec<ActualColumn> = columns(Table::Signals)
            .iter()
            .filter(|c| c.name != "side")
            .map(|c| ActualColumn {
                name: c.name.into(),
                ty: c.ty.into(),
                upsert_key: c.key,
                designated: c.name == "ts",
            })
            .collect();
        assert_eq!(
            compare(Table::Signals, &actual),
            vec!["signals.side: column missing".to_string()]
        );
    }
}
