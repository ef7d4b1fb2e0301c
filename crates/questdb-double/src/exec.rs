//! `/exec` for exactly the SQL trademon sends (a fixed set
//! of templates over a SQL engine): `CREATE TABLE IF NOT EXISTS ... DEDUP UPSERT KEYS`,
//! `table_columns('t')`, and `SELECT cols FROM t [WHERE c = 'v' [AND ...]] [ORDER BY c [DESC]]
//! [LIMIT n]`. Anything else is a 400 naming the gap, so an untested query surfaces at once.

use serde_json::{Value as J, json};

use super::tables::{Catalog, ColType, TableData, Value};
use trademon_store::timefmt::format_micros;

/// (HTTP status, JSON body)
pub type ExecReply = (u16, J);

fn sql_err(query: &str, msg: &str, pos: usize) -> ExecReply {
    (400, json!({"query": query, "error": msg, "position": pos}))
}

pub fn run(cat: &mut Catalog, query: &str) -> ExecReply {
    let q = query.trim().trim_end_matches(';').trim();
    if q.is_empty() {
        return (
            200,
            json!({"error": "empty query", "query": "", "position": "0"}),
        );
    }
    let upper = q.to_ascii_uppercase();
    if upper.starts_with("CREATE TABLE") {
        return create(cat, q);
    }
    if upper.starts_with("SELECT") && upper.contains("FROM TABLE_COLUMNS(") {
        return table_columns(cat, q);
    }
    if upper.starts_with("SELECT") {
        return select(cat, q);
    }
    sql_err(q, "test server: unsupported statement", 0)
}

/// Text between the first `open` after `from` and its matching `)`.
fn paren_after(s: &str, from: usize) -> Option<(usize, usize)> {
    let open = from + s[from..].find('(')?;
    let mut depth = 0;
    for (i, ch) in s[open..].char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some((open + 1, open + i));
                }
            }
            _ => {}
        }
    }
    None
}

fn create(cat: &mut Catalog, q: &str) -> ExecReply {
    let upper = q.to_ascii_uppercase();
    let if_not_exists = upper.starts_with("CREATE TABLE IF NOT EXISTS");
    let name_start = if if_not_exists { 26 } else { 12 };
    let rest = q[name_start..].trim_start();
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if name.is_empty() {
        return sql_err(q, "table name expected", name_start);
    }
    if cat.get(&name).is_some() {
        if if_not_exists {
            return (200, json!({"ddl": "OK"}));
        }
        return sql_err(
            q,
            &format!("table already exists [table={name}]"),
            name_start,
        );
    }
    let Some((a, b)) = paren_after(q, name_start) else {
        return sql_err(q, "'(' expected", name_start);
    };
    let mut columns = Vec::new();
    for def in q[a..b].split(',') {
        let mut parts = def.split_whitespace();
        let (Some(cn), Some(ct)) = (parts.next(), parts.next()) else {
            return sql_err(q, &format!("bad column definition {def:?}"), a);
        };
        let Some(ty) = ColType::parse(ct) else {
            return sql_err(q, &format!("test server: unsupported type {ct}"), a);
        };
        columns.push((cn.to_string(), ty));
    }
    let tail = &q[b + 1..];
    let tail_upper = tail.to_ascii_uppercase();
    let mut t = TableData::new(&name, columns, None);
    if let Some(p) = tail_upper.find("TIMESTAMP(") {
        let Some((x, y)) = paren_after(tail, p) else {
            return sql_err(q, "')' expected", b);
        };
        let Some(i) = t.col(tail[x..y].trim()) else {
            return sql_err(q, "designated timestamp column not found", b);
        };
        t.designated = Some(i);
    }
    // Without PARTITION BY the table is not WAL, and ILP/HTTP cannot write to it.
    t.wal = tail_upper.contains("PARTITION BY") && !tail_upper.contains("BYPASS WAL");
    if let Some(p) = tail_upper.find("DEDUP UPSERT KEYS") {
        let Some((x, y)) = paren_after(tail, p) else {
            return sql_err(q, "')' expected", b);
        };
        let mut keys = Vec::new();
        for k in tail[x..y].split(',') {
            match t.col(k.trim()) {
                Some(i) => keys.push(i),
                None => {
                    return sql_err(
                        q,
                        &format!("deduplicate key column not found [column={}]", k.trim()),
                        b,
                    );
                }
            }
        }
        if !t.wal {
            return sql_err(q, "deduplication is possible only on WAL tables", b);
        }
        if t.designated.is_none_or(|d| !keys.contains(&d)) {
            return sql_err(
                q,
                "deduplicate key list must include dedicated timestamp column",
                b,
            );
        }
        t.dedup = keys;
    }
    cat.tables.insert(name.to_ascii_lowercase(), t);
    (200, json!({"ddl": "OK"}))
}

fn table_columns(cat: &Catalog, q: &str) -> ExecReply {
    let upper = q.to_ascii_uppercase();
    let Some(p) = upper.find("TABLE_COLUMNS(") else {
        return sql_err(q, "table_columns expected", 0);
    };
    let Some((a, b)) = paren_after(q, p) else {
        return sql_err(q, "')' expected", p);
    };
    let name = q[a..b].trim().trim_matches('\'');
    let Some(t) = cat.get(name) else {
        return sql_err(q, &format!("table does not exist [table={name}]"), a);
    };
    let dataset: Vec<J> = t
        .columns
        .iter()
        .enumerate()
        .map(|(i, (n, ty))| {
            json!([
                n,
                ty.as_str(),
                t.dedup.contains(&i),
                t.designated == Some(i)
            ])
        })
        .collect();
    (
        200,
        json!({
            "query": q,
            "columns": [
                {"name": "column", "type": "STRING"},
                {"name": "type", "type": "STRING"},
                {"name": "upsertKey", "type": "BOOLEAN"},
                {"name": "designated", "type": "BOOLEAN"}
            ],
            "timestamp": -1,
            "count": dataset.len(),
            "dataset": dataset,
        }),
    )
}

fn render(v: &Option<Value>) -> J {
    match v {
        None => J::Null,
        Some(Value::Long(n)) => json!(n),
        Some(Value::Double(d)) => json!(d),
        Some(Value::Str(s)) => json!(s),
        Some(Value::Bool(b)) => json!(b),
        Some(Value::Ts(t)) => json!(format_micros(*t)),
    }
}

/// `SELECT a, b | * FROM t [WHERE c = 'v' [AND c = 'v']...] [ORDER BY c [ASC|DESC]] [LIMIT n]`
fn select(cat: &Catalog, q: &str) -> ExecReply {
    let upper = q.to_ascii_uppercase();
    let Some(from) = upper.find(" FROM ") else {
        return sql_err(q, "test server: FROM expected", 0);
    };
    let cols_text = q[6..from].trim();
    let after = &q[from + 6..];
    let after_upper = &upper[from + 6..];
    let end_of = |kw: &str| after_upper.find(kw).unwrap_or(after.len());
    let where_at = after_upper.find(" WHERE ");
    let order_at = after_upper.find(" ORDER BY ");
    let limit_at = after_upper.find(" LIMIT ");
    let table_end = [where_at, order_at, limit_at]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(after.len());
    let tname = after[..table_end].trim();
    let Some(t) = cat.get(tname) else {
        return sql_err(
            q,
            &format!("table does not exist [table={tname}]"),
            from + 6,
        );
    };
    let col_idx = |name: &str| t.col(name.trim().trim_matches('"'));
    let selected: Vec<usize> = if cols_text == "*" {
        (0..t.columns.len()).collect()
    } else {
        let mut v = Vec::new();
        for c in cols_text.split(',') {
            match col_idx(c) {
                Some(i) => v.push(i),
                None => return sql_err(q, &format!("Invalid column: {}", c.trim()), 7),
            }
        }
        v
    };
    let mut rows: Vec<&Vec<Option<Value>>> = t.rows.iter().collect();
    if let Some(w) = where_at {
        let stop = [order_at, limit_at]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(after.len());
        for cond in split_and(&after[w + 7..stop]) {
            let Some((c, v)) = cond.split_once('=') else {
                return sql_err(q, "test server: only c = 'v' conditions", from);
            };
            let Some(ci) = col_idx(c) else {
                return sql_err(q, &format!("Invalid column: {}", c.trim()), from);
            };
            let v = v.trim();
            let Some(lit) = v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) else {
                return sql_err(q, "test server: only quoted literals", from);
            };
            let lit = lit.replace("''", "'");
            rows.retain(|r| matches!(r.get(ci), Some(Some(Value::Str(s))) if *s == lit));
        }
    }
    if let Some(o) = order_at {
        let stop = limit_at.filter(|l| *l > o).unwrap_or(end_of("\u{0}"));
        let spec = after[o + 10..stop].trim();
        let mut parts = spec.split_whitespace();
        let Some(ci) = parts.next().and_then(col_idx) else {
            return sql_err(q, &format!("Invalid column: {spec}"), from);
        };
        let desc = parts.next().is_some_and(|d| d.eq_ignore_ascii_case("DESC"));
        rows.sort_by(|a, b| cmp(a.get(ci), b.get(ci)));
        if desc {
            rows.reverse();
        }
    }
    if let Some(l) = limit_at {
        match after[l + 7..].trim().parse::<usize>() {
            Ok(n) => rows.truncate(n),
            Err(_) => return sql_err(q, "test server: LIMIT n expected", from),
        }
    }
    let dataset: Vec<J> = rows
        .iter()
        .map(|r| {
            J::Array(
                selected
                    .iter()
                    .map(|&i| render(&r.get(i).cloned().flatten()))
                    .collect(),
            )
        })
        .collect();
    let columns: Vec<J> = selected
        .iter()
        .map(|&i| json!({"name": t.columns[i].0, "type": t.columns[i].1.as_str()}))
        .collect();
    let ts_index = selected
        .iter()
        .position(|&i| t.designated == Some(i))
        .map(|p| p as i64)
        .unwrap_or(-1);
    (
        200,
        json!({"query": q, "columns": columns, "timestamp": ts_index, "dataset": dataset, "count": dataset.len()}),
    )
}

/// Split on ` AND ` outside quotes.
fn split_and(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_q = false;
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        if ch == '\'' {
            in_q = !in_q;
        }
        if !in_q
            && chars[i..]
                .iter()
                .take(5)
                .collect::<String>()
                .eq_ignore_ascii_case(" AND ")
        {
            out.push(std::mem::take(&mut cur));
            i += 5;
            continue;
        }
        cur.push(ch);
        i += 1;
    }
    out.push(cur);
    out
}

fn cmp(a: Option<&Option<Value>>, b: Option<&Option<Value>>) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    let key = |v: Option<&Option<Value>>| -> (u8, f64, String) {
        match v.cloned().flatten() {
            None => (0, 0.0, String::new()),
            Some(Value::Long(n)) | Some(Value::Ts(n)) => (1, n as f64, String::new()),
            Some(Value::Double(d)) => (1, d, String::new()),
            Some(Value::Bool(b)) => (1, f64::from(u8::from(b)), String::new()),
            Some(Value::Str(s)) => (2, 0.0, s),
        }
    };
    let (ka, kb) = (key(a), key(b));
    ka.0.cmp(&kb.0)
        .then(ka.1.partial_cmp(&kb.1).unwrap_or(Equal))
        .then(ka.2.cmp(&kb.2))
}
