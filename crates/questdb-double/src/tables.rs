//! The test server's in-memory catalog: typed columns, designated timestamp, WAL flag, DEDUP
//! UPSERT keys, and QuestDB's write semantics: a request is staged whole and committed only if
//! every line is valid (auto-created tables and columns stay even when it is rejected), and a
//! row whose key tuple exists replaces the stored row.

use std::collections::{BTreeMap, HashMap};

use super::ilp::{Field, Line};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Symbol,
    Varchar,
    Double,
    Long,
    Int,
    Boolean,
    Timestamp,
}

impl ColType {
    pub fn as_str(self) -> &'static str {
        match self {
            ColType::Symbol => "SYMBOL",
            ColType::Varchar => "VARCHAR",
            ColType::Double => "DOUBLE",
            ColType::Long => "LONG",
            ColType::Int => "INT",
            ColType::Boolean => "BOOLEAN",
            ColType::Timestamp => "TIMESTAMP",
        }
    }

    pub fn parse(s: &str) -> Option<ColType> {
        Some(match s.to_ascii_uppercase().as_str() {
            "SYMBOL" => ColType::Symbol,
            "VARCHAR" | "STRING" => ColType::Varchar,
            "DOUBLE" => ColType::Double,
            "LONG" => ColType::Long,
            "INT" => ColType::Int,
            "BOOLEAN" => ColType::Boolean,
            "TIMESTAMP" => ColType::Timestamp,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Long(i64),
    Double(f64),
    Str(String),
    Bool(bool),
    /// Microseconds.
    Ts(i64),
}

impl Value {
    fn key_text(v: &Option<Value>) -> String {
        match v {
            None => "\u{0}null".into(),
            Some(Value::Long(n)) => n.to_string(),
            Some(Value::Double(d)) => d.to_bits().to_string(),
            Some(Value::Str(s)) => s.clone(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(Value::Ts(t)) => t.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TableData {
    pub name: String,
    pub columns: Vec<(String, ColType)>,
    pub designated: Option<usize>,
    pub wal: bool,
    pub dedup: Vec<usize>,
    pub rows: Vec<Vec<Option<Value>>>,
    index: HashMap<String, usize>,
}

impl TableData {
    pub fn new(name: &str, columns: Vec<(String, ColType)>, designated: Option<usize>) -> Self {
        TableData {
            name: name.to_string(),
            columns,
            designated,
            wal: true,
            dedup: Vec::new(),
            rows: Vec::new(),
            index: HashMap::new(),
        }
    }

    pub fn col(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// Upsert under DEDUP, append without it.
    fn commit_row(&mut self, mut row: Vec<Option<Value>>) {
        row.resize(self.columns.len(), None);
        if self.dedup.is_empty() {
            self.rows.push(row);
            return;
        }
        let key: Vec<String> = self
            .dedup
            .iter()
            .map(|&i| Value::key_text(&row[i]))
            .collect();
        let key = key.join("\u{1f}");
        match self.index.get(&key) {
            Some(&at) => self.rows[at] = row,
            None => {
                self.index.insert(key, self.rows.len());
                self.rows.push(row);
            }
        }
    }

    /// Remove a column (fault: "a column went missing").
    pub fn drop_column(&mut self, name: &str) -> bool {
        let Some(i) = self.col(name) else {
            return false;
        };
        self.columns.remove(i);
        for r in &mut self.rows {
            if i < r.len() {
                r.remove(i);
            }
        }
        self.dedup.retain(|&k| k != i);
        for k in &mut self.dedup {
            if *k > i {
                *k -= 1;
            }
        }
        if let Some(d) = self.designated {
            self.designated = if d == i {
                None
            } else if d > i {
                Some(d - 1)
            } else {
                Some(d)
            };
        }
        true
    }

    /// Values of one column, all rows, in storage order.
    pub fn column_values(&self, name: &str) -> Vec<Option<Value>> {
        match self.col(name) {
            Some(i) => self
                .rows
                .iter()
                .map(|r| r.get(i).cloned().flatten())
                .collect(),
            None => Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Catalog {
    /// Lower-case name -> table (QuestDB matches table names case-insensitively).
    pub tables: BTreeMap<String, TableData>,
    pub auto_create_tables: bool,
    pub auto_create_columns: bool,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog {
            tables: BTreeMap::new(),
            auto_create_tables: true,
            auto_create_columns: true,
        }
    }
}

pub struct Staged {
    rows: Vec<(String, Vec<Option<Value>>)>,
}

impl Staged {
    pub fn tables(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (t, _) in &self.rows {
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
        out
    }
}

fn cast(table: &str, col: &str, ty: ColType, v: &Field, symbol: bool) -> Result<Value, String> {
    let err = || {
        let proto = if symbol { "SYMBOL" } else { v.protocol_type() };
        format!(
            "table: {table}, column: {col}; cast error from protocol type: {proto} to column type: {}",
            ty.as_str()
        )
    };
    Ok(match (ty, v) {
        (ColType::Symbol, Field::Str(s)) => Value::Str(s.clone()),
        (ColType::Varchar, Field::Str(s)) if !symbol => Value::Str(s.clone()),
        (ColType::Double, Field::Double(d)) => Value::Double(*d),
        (ColType::Double, Field::Long(n)) => Value::Double(*n as f64),
        (ColType::Long, Field::Long(n)) => Value::Long(*n),
        (ColType::Int, Field::Long(n)) => {
            if i32::try_from(*n).is_err() {
                return Err(format!(
                    "table: {table}, column: {col}; line protocol value: {n} is out bounds of column type: INT"
                ));
            }
            Value::Long(*n)
        }
        (ColType::Timestamp, Field::Long(n)) => Value::Ts(*n),
        (ColType::Timestamp, Field::Ts(t)) => Value::Ts(*t),
        (ColType::Boolean, Field::Bool(b)) => Value::Bool(*b),
        _ => return Err(err()),
    })
}

fn new_col_type(v: &Field, symbol: bool) -> ColType {
    if symbol {
        return ColType::Symbol;
    }
    match v {
        Field::Long(_) => ColType::Long,
        Field::Double(_) => ColType::Double,
        Field::Str(_) => ColType::Varchar,
        Field::Bool(_) => ColType::Boolean,
        Field::Ts(_) => ColType::Timestamp,
    }
}

fn valid_name(n: &str, column: bool) -> bool {
    let bad = |c: char| {
        "?,'\"\\/:)(+*%~".contains(c) || c.is_control() || (column && (c == '.' || c == '-'))
    };
    !n.is_empty()
        && n.len() <= 127
        && !n.chars().any(bad)
        && !n.starts_with('.')
        && !n.ends_with('.')
}

impl Catalog {
    pub fn get(&self, name: &str) -> Option<&TableData> {
        self.tables.get(&name.to_ascii_lowercase())
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut TableData> {
        self.tables.get_mut(&name.to_ascii_lowercase())
    }

    /// Validate and convert every line; `Err((line, detail))` at the first bad one. Tables and
    /// columns auto-created on the way stay, as on the real server.
    pub fn stage(&mut self, lines: &[Line], now_us: i64) -> Result<Staged, (usize, String)> {
        let mut staged = Staged { rows: Vec::new() };
        for (i, line) in lines.iter().enumerate() {
            let n = i + 1;
            let row = self.stage_line(line, now_us).map_err(|e| (n, e))?;
            staged.rows.push((line.table.to_ascii_lowercase(), row));
        }
        Ok(staged)
    }

    fn stage_line(&mut self, line: &Line, now_us: i64) -> Result<Vec<Option<Value>>, String> {
        let tname = &line.table;
        if !valid_name(tname, false) {
            return Err(format!("table: {tname}; invalid table name"));
        }
        let key = tname.to_ascii_lowercase();
        if !self.tables.contains_key(&key) {
            if !self.auto_create_tables {
                return Err(format!(
                    "table: {tname}; table does not exist, creating new tables is disabled"
                ));
            }
            let t = TableData::new(
                tname,
                vec![("timestamp".into(), ColType::Timestamp)],
                Some(0),
            );
            self.tables.insert(key.clone(), t);
        }
        let auto_cols = self.auto_create_columns;
        let Some(t) = self.tables.get_mut(&key) else {
            return Err(format!("table: {tname}; table does not exist"));
        };
        if !t.wal {
            return Err(format!("table: {tname}; cannot insert in non-WAL table"));
        }
        let mut row: Vec<Option<Value>> = vec![None; t.columns.len()];
        let values = line
            .symbols
            .iter()
            .map(|(k, v)| (k, Field::Str(v.clone()), true))
            .chain(line.fields.iter().map(|(k, v)| (k, v.clone(), false)));
        for (col, v, symbol) in values {
            if !valid_name(col, true) {
                return Err(format!("table: {tname}; invalid column name: {col}"));
            }
            let idx = match t.col(col) {
                Some(i) => i,
                None => {
                    if !auto_cols {
                        return Err(format!(
                            "table: {tname}, column: {col} does not exist, creating new columns is disabled"
                        ));
                    }
                    t.columns.push((col.clone(), new_col_type(&v, symbol)));
                    row.push(None);
                    t.columns.len() - 1
                }
            };
            // Duplicate column in one line: the first value wins.
            if row[idx].is_none() {
                row[idx] = Some(cast(tname, col, t.columns[idx].1, &v, symbol)?);
            }
        }
        let ts_us = match line.ts_nanos {
            Some(ns) if ns < 0 => {
                return Err(format!(
                    "table: {tname}, timestamp: {ns}; designated timestamp before 1970-01-01 is not allowed"
                ));
            }
            Some(ns) => ns / 1000,
            None => now_us,
        };
        if let Some(d) = t.designated {
            row[d] = Some(Value::Ts(ts_us));
        }
        Ok(row)
    }

    /// Commit staged rows table by table. `fail_table`: the commit of that table fails after
    /// the tables before it were committed (QuestDB's partial multi-table commit).
    pub fn commit(&mut self, staged: Staged, fail_table: Option<&str>) -> Result<usize, String> {
        let order = staged.tables();
        let mut by_table: HashMap<String, Vec<Vec<Option<Value>>>> = HashMap::new();
        for (t, r) in staged.rows {
            by_table.entry(t).or_default().push(r);
        }
        let mut n = 0;
        for t in order {
            if fail_table.is_some_and(|f| f.eq_ignore_ascii_case(&t)) {
                return Err(format!(
                    "commit error for table: {t}, errno: 28, error: No space left on device"
                ));
            }
            let rows = by_table.remove(&t).unwrap_or_default();
            if let Some(td) = self.tables.get_mut(&t) {
                n += rows.len();
                for r in rows {
                    td.commit_row(r);
                }
            }
        }
        Ok(n)
    }
}
