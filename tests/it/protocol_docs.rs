//! Every JSON example in docs/protocol.md parses as the type its fence names, and serializes
//! back to the same JSON value: the document cannot drift from the code. The client examples
//! are also sent to a real backend and its replies checked against the documented shapes
//! (`live`), and the wire behaviours the document promises are tested there too (`wire`).

mod live;
use crate::support;
mod wire;

use trademon::protocol::{ClientMsg, RestError, RestSnapshot, ServerMsg};
use trademon::script::ndjson::ScriptLine;
use trademon::script::status::StatusReport;

pub fn examples() -> Vec<(String, String)> {
    let doc = include_str!("../../docs/protocol.md");
    let mut out = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if let Some(kind) = line.strip_prefix("```json ") {
            let body: Vec<&str> = lines
                .by_ref()
                .take_while(|l| !l.starts_with("```"))
                .collect();
            out.push((kind.trim().to_string(), body.join("\n")));
        }
    }
    out
}

fn same_json<T: serde::Serialize>(parsed: &T, text: &str) {
    let original: serde_json::Value = serde_json::from_str(text).unwrap();
    let back = serde_json::to_value(parsed).unwrap();
    assert_eq!(back, original, "round trip changed the example:\n{text}");
}

#[test]
fn every_protocol_doc_example_parses_and_round_trips() {
    let all = examples();
    assert!(
        all.len() >= 20,
        "expected the doc's examples, found {}",
        all.len()
    );
    for (kind, text) in &all {
        match kind.as_str() {
            "client" => same_json(
                &serde_json::from_str::<ClientMsg>(text).unwrap_or_else(|e| panic!("{e}: {text}")),
                text,
            ),
            "server" => same_json(
                &serde_json::from_str::<ServerMsg>(text).unwrap_or_else(|e| panic!("{e}: {text}")),
                text,
            ),
            "rest" => same_json(
                &serde_json::from_str::<RestSnapshot>(text)
                    .unwrap_or_else(|e| panic!("{e}: {text}")),
                text,
            ),
            "rest-error" => same_json(
                &serde_json::from_str::<RestError>(text).unwrap_or_else(|e| panic!("{e}: {text}")),
                text,
            ),
            // `trademon watch --json`'s own lines and `trademon status --json` (src/script).
            "watch" => same_json(
                &serde_json::from_str::<ScriptLine>(text).unwrap_or_else(|e| panic!("{e}: {text}")),
                text,
            ),
            "status" => same_json(
                &serde_json::from_str::<StatusReport>(text)
                    .unwrap_or_else(|e| panic!("{e}: {text}")),
                text,
            ),
            other => panic!("unknown example kind {other:?}"),
        }
    }
}
