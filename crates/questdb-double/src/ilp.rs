//! ILP text parsing as QuestDB does it for `/write`: V1
//! text and V2 binary doubles (`==` 0x10 + 8 bytes LE, which may contain `\n`, so lines are
//! parsed with a cursor, never split on newlines first), symbols before fields, escapes,
//! `i` longs, `t`/`n` timestamps, quoted strings, booleans, an optional designated timestamp.

#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Long(i64),
    Double(f64),
    Str(String),
    Bool(bool),
    /// Microseconds.
    Ts(i64),
}

impl Field {
    /// QuestDB's protocol type name, used in cast error messages.
    pub fn protocol_type(&self) -> &'static str {
        match self {
            Field::Long(_) => "LONG",
            Field::Double(_) => "FLOAT",
            Field::Str(_) => "STRING",
            Field::Bool(_) => "BOOLEAN",
            Field::Ts(_) => "TIMESTAMP",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub table: String,
    pub symbols: Vec<(String, String)>,
    pub fields: Vec<(String, Field)>,
    /// Designated timestamp in nanoseconds, `None` = server time.
    pub ts_nanos: Option<i64>,
}

/// Nanoseconds per unit of a `precision` URL value; `None` = unsupported.
pub fn precision_nanos(p: &str) -> Option<i64> {
    Some(match p {
        "n" | "ns" => 1,
        "u" | "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// An escaped token up to one of `stops` (not consumed).
    fn token(&mut self, stops: &[u8]) -> String {
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            if c == b'\\'
                && let Some(&n) = self.b.get(self.i + 1)
            {
                out.push(n);
                self.i += 2;
                continue;
            }
            if stops.contains(&c) {
                break;
            }
            out.push(c);
            self.i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Parse every line of a request body. `Err((line, detail))` at the first bad line (1-based,
/// counting rows), with QuestDB's message text for the detail.
pub fn parse(body: &[u8], precision: i64) -> Result<Vec<Line>, (usize, String)> {
    let mut c = Cursor { b: body, i: 0 };
    let mut out = Vec::new();
    loop {
        while matches!(c.peek(), Some(b'\n' | b'\r')) {
            c.i += 1;
        }
        if c.peek().is_none() {
            return Ok(out);
        }
        let n = out.len() + 1;
        out.push(parse_line(&mut c, precision).map_err(|e| (n, e))?);
    }
}

fn parse_line(c: &mut Cursor, precision: i64) -> Result<Line, String> {
    let table = c.token(b", \n");
    let mut line = Line {
        table,
        symbols: Vec::new(),
        fields: Vec::new(),
        ts_nanos: None,
    };
    while c.peek() == Some(b',') {
        c.i += 1;
        let k = c.token(b"=, \n");
        if c.peek() != Some(b'=') {
            return Err(format!(
                "Could not parse entire line. Symbol value is missing: {k}"
            ));
        }
        c.i += 1;
        let v = c.token(b", \n");
        line.symbols.push((k, v));
    }
    if c.peek() != Some(b' ') {
        return Err("No fields were provided".into());
    }
    c.i += 1;
    loop {
        let k = c.token(b"=, \n");
        if c.peek() != Some(b'=') {
            return Err(format!(
                "Could not parse entire line. Field value is missing: {k}"
            ));
        }
        c.i += 1;
        let v = field_value(c, &k)?;
        line.fields.push((k, v));
        match c.peek() {
            Some(b',') => c.i += 1,
            _ => break,
        }
    }
    if c.peek() == Some(b' ') {
        c.i += 1;
        let raw = c.token(b"\n");
        line.ts_nanos = Some(timestamp(raw.trim_end_matches('\r'), precision)?);
    }
    match c.peek() {
        None | Some(b'\n') => {
            if c.peek().is_some() {
                c.i += 1;
            }
            Ok(line)
        }
        Some(_) => Err("Could not parse entire line".into()),
    }
}

fn field_value(c: &mut Cursor, key: &str) -> Result<Field, String> {
    match c.peek() {
        // V2 binary: `==` then a type byte.
        Some(b'=') => {
            c.i += 1;
            match c.peek() {
                Some(0x10) => {
                    let bytes = c.b.get(c.i + 1..c.i + 9).ok_or_else(|| {
                        format!("Could not parse entire line. Field value is missing: {key}")
                    })?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(bytes);
                    c.i += 9;
                    Ok(Field::Double(f64::from_le_bytes(a)))
                }
                Some(0x0E) => Err(format!(
                    "table column type not supported: array [field={key}]"
                )),
                _ => Err(format!(
                    "Could not parse entire line, field value is invalid. Field: {key}; value: binary"
                )),
            }
        }
        Some(b'"') => {
            c.i += 1;
            let mut out = Vec::new();
            loop {
                match c.peek() {
                    None => {
                        return Err(format!(
                            "Could not parse entire line, field value is invalid. Field: {key}; value: unterminated string"
                        ));
                    }
                    Some(b'\\') => {
                        if let Some(&n) = c.b.get(c.i + 1) {
                            out.push(n);
                        }
                        c.i += 2;
                    }
                    Some(b'"') => {
                        c.i += 1;
                        break;
                    }
                    Some(b) => {
                        out.push(b);
                        c.i += 1;
                    }
                }
            }
            Ok(Field::Str(String::from_utf8_lossy(&out).into_owned()))
        }
        _ => {
            let raw = c.token(b", \n");
            scalar(&raw).ok_or_else(|| {
                format!("Could not parse entire line, field value is invalid. Field: {key}; value: {raw}")
            })
        }
    }
}

fn scalar(raw: &str) -> Option<Field> {
    match raw {
        "t" | "T" | "true" | "True" | "TRUE" => return Some(Field::Bool(true)),
        "f" | "F" | "false" | "False" | "FALSE" => return Some(Field::Bool(false)),
        _ => {}
    }
    if let Some(n) = raw.strip_suffix('i') {
        return n.parse().ok().map(Field::Long);
    }
    if let Some(n) = raw.strip_suffix('t') {
        return n.parse().ok().map(Field::Ts);
    }
    if let Some(n) = raw.strip_suffix('n') {
        return n
            .parse::<i64>()
            .ok()
            .map(|ns| Field::Ts(ns.div_euclid(1000)));
    }
    raw.parse().ok().map(Field::Double)
}

fn timestamp(raw: &str, precision: i64) -> Result<i64, String> {
    let bad = || format!("Could not parse timestamp: {raw}");
    // V2 suffixes override the request precision.
    let (digits, scale) = if let Some(d) = raw.strip_suffix('n') {
        (d, 1)
    } else if let Some(d) = raw.strip_suffix('t') {
        (d, 1_000)
    } else {
        (raw, precision)
    };
    let v: i64 = digits.parse().map_err(|_| bad())?;
    v.checked_mul(scale).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use questdb::ingress::{Buffer, ProtocolVersion, TimestampMicros, TimestampNanos};

    #[test]
    fn parses_what_the_real_client_writes_in_both_versions() {
        for v in [ProtocolVersion::V1, ProtocolVersion::V2] {
            let mut b = Buffer::new(v);
            b.table("ticks")
                .unwrap()
                .symbol("symbol", "BTC USD,x")
                .unwrap()
                .column_f64("price", f64::from_bits(0x400A_0A0A_0A0A_0A0A))
                .unwrap()
                .column_i64("n", 3)
                .unwrap()
                .column_str("note", "he said \"hi\"\nbye")
                .unwrap()
                .column_bool("b", true)
                .unwrap()
                .column_ts("e", TimestampMicros::new(7))
                .unwrap()
                .at(TimestampNanos::new(1_700_000_000_123_456_789))
                .unwrap();
            let lines = parse(b.as_bytes(), 1).unwrap();
            assert_eq!(lines.len(), 1);
            let l = &lines[0];
            assert_eq!(l.table, "ticks");
            assert_eq!(l.symbols, vec![("symbol".into(), "BTC USD,x".into())]);
            if v == ProtocolVersion::V2 {
                // Binary double bytes contain '\n': the parser must not split on them.
                let want = Field::Double(f64::from_bits(0x400A_0A0A_0A0A_0A0A));
                assert_eq!(l.fields[0], ("price".into(), want));
            }
            assert_eq!(l.fields[1], ("n".into(), Field::Long(3)));
            assert_eq!(
                l.fields[2],
                ("note".into(), Field::Str("he said \"hi\"\nbye".into()))
            );
            assert_eq!(l.fields[3], ("b".into(), Field::Bool(true)));
            assert_eq!(l.fields[4], ("e".into(), Field::Ts(7)));
            assert_eq!(l.ts_nanos, Some(1_700_000_000_123_456_789));
        }
    }

    #[test]
    fn reports_the_bad_line() {
        let body = b"t a=1i 1\nt a=oops 2\nt a=3i 3\n";
        let e = parse(body, 1).unwrap_err();
        assert_eq!(e.0, 2);
        assert!(e.1.contains("Field: a; value: oops"), "{}", e.1);
        assert_eq!(parse(b"t,s=x\n", 1).unwrap_err().0, 1);
    }
}
