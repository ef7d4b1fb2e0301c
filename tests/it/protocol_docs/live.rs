//! docs/protocol.md's examples against a real backend: every client example is sent and the
//! reply must be of a documented type with the documented fields; the REST examples are
//! fetched the same way. A documented field the server stopped sending, or a field it sends
//! that no example shows, fails here.

use super::examples;
use super::support::*;
use futures_util::SinkExt;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use tokio_tungstenite::tungstenite::Message;
use trademon::config::SessionConfig;
use trademon::protocol::ServerMsg;

fn doc() -> &'static str {
    include_str!("../../../docs/protocol.md")
}

/// The doc's examples of one fence kind, as JSON objects.
fn documented(kind: &str) -> Vec<Map<String, Value>> {
    examples()
        .into_iter()
        .filter(|(k, _)| k == kind)
        .map(|(_, text)| match serde_json::from_str(&text) {
            Ok(Value::Object(m)) => m,
            other => panic!("example is not an object: {other:?}\n{text}"),
        })
        .collect()
}

fn key_set(m: &Map<String, Value>) -> BTreeSet<String> {
    m.keys().cloned().collect()
}

/// `reply` has every key all `same` examples share and none that no example shows.
fn check_shape(what: &str, reply: &Map<String, Value>, same: &[&Map<String, Value>]) {
    assert!(
        !same.is_empty(),
        "the doc has no example of {what}: {reply:?}"
    );
    let keys = key_set(reply);
    let union: BTreeSet<String> = same.iter().flat_map(|m| key_set(m)).collect();
    let common = same
        .iter()
        .map(|m| key_set(m))
        .reduce(|a, b| a.intersection(&b).cloned().collect())
        .unwrap_or_default();
    assert!(
        common.is_subset(&keys),
        "{what}: the doc shows {common:?} in every example, the server sent {keys:?}"
    );
    assert!(
        keys.is_subset(&union),
        "{what}: the server sent {keys:?}, no example shows {:?}",
        keys.difference(&union).collect::<Vec<_>>()
    );
}

/// The codes the Errors section lists (its `Codes:` paragraph).
fn documented_error_codes() -> BTreeSet<String> {
    let doc = doc();
    let start = doc.find("\nCodes: ").expect("the doc lists error codes");
    let para = &doc[start..doc[start..].find("\n\n").map_or(doc.len(), |e| start + e)];
    para.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The sessions the doc's examples name (majors, alts with the symbols they use).
fn doc_sessions() -> Vec<SessionConfig> {
    let s = |id: &str, name: &str, syms: &[&str]| SessionConfig {
        id: id.into(),
        name: name.into(),
        strategy: "default".into(),
        symbols: syms.iter().map(|s| s.to_string()).collect(),
    };
    vec![
        s("majors", "Majors", &["BTC_USDT", "ETH_USDT", "SOL_USDT"]),
        s("alts", "Alts", &["DOGE_USDT", "PEPE_USDT"]),
    ]
}

async fn recv_json(ws: &mut Ws) -> Map<String, Value> {
    let msg = recv(ws).await;
    match serde_json::to_value(&msg).unwrap() {
        Value::Object(m) => m,
        other => panic!("not an object: {other:?}"),
    }
}

/// Replies of `kind` among the documented server messages, narrowed to the same `id` and
/// (for stream messages) the same stream when the doc has such examples.
fn same_kind<'a>(
    server: &'a [Map<String, Value>],
    reply: &Map<String, Value>,
) -> Vec<&'a Map<String, Value>> {
    let of_type: Vec<_> = server
        .iter()
        .filter(|m| m["type"] == reply["type"])
        .collect();
    for field in ["stream", "code"] {
        if reply.contains_key(field) {
            let narrowed: Vec<_> = of_type
                .iter()
                .copied()
                .filter(|m| m.get(field) == reply.get(field))
                .collect();
            if !narrowed.is_empty() {
                return narrowed;
            }
        }
    }
    of_type
}

#[tokio::test]
async fn every_client_example_gets_a_documented_reply_from_the_server() {
    let server = documented("server");
    let codes = documented_error_codes();
    let b = start_with(test_config(), doc_sessions()).await;
    let mut ws = connect(&b).await;
    let clients = documented("client");
    assert!(clients.len() >= 8, "{} client examples", clients.len());
    for example in clients {
        let op = example["op"].as_str().unwrap().to_string();
        let text = serde_json::to_string(&example).unwrap();
        ws.send(Message::text(text.clone())).await.unwrap();
        if op == "hello" {
            // No reply; the pings below prove the connection stayed open.
            continue;
        }
        let reply = recv_json(&mut ws).await;
        let kind = reply["type"].as_str().unwrap().to_string();
        assert_eq!(reply.get("id"), example.get("id"), "{text} -> {reply:?}");
        let allowed: &[&str] = match op.as_str() {
            "ping" => &["pong"],
            "subscribe" | "unsubscribe" => &["ack"],
            "history" => &["history", "error"],
            _ => &["result", "error"],
        };
        assert!(allowed.contains(&kind.as_str()), "{text} -> {reply:?}");
        if kind == "error" {
            let code = reply["code"].as_str().unwrap();
            assert!(codes.contains(code), "undocumented error code {code}");
        }
        check_shape(
            &format!("{kind} to {op}"),
            &reply,
            &same_kind(&server, &reply),
        );
        if op == "subscribe" {
            let full = recv_json(&mut ws).await;
            assert_eq!(full["type"], "full_update");
            assert_eq!(full["stream"], example["stream"]);
            let same = same_kind(&server, &full);
            check_shape("full_update", &full, &same);
            let data = |m: &Map<String, Value>| m["data"].as_object().unwrap().clone();
            let docs_data: Vec<_> = same.iter().map(|m| data(m)).collect();
            check_shape(
                "full_update data",
                &data(&full),
                &docs_data.iter().collect::<Vec<_>>(),
            );
        }
    }
    b.handle.shutdown().await;
}

#[tokio::test]
async fn rest_examples_match_what_the_server_answers() {
    let mut cfg = test_config();
    cfg.server.token = "s3cret".into();
    let b = start_with(cfg, doc_sessions()).await;
    let client = reqwest::Client::new();
    let get = |path: &str, token: bool| {
        let mut r = client.get(b.http(path));
        if token {
            r = r.bearer_auth("s3cret");
        }
        r.send()
    };

    let rest = documented("rest");
    let snap: Map<String, Value> = get("/api/v1/snapshot?session=majors", true)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    check_shape("snapshot", &snap, &rest.iter().collect::<Vec<_>>());
    let data = |m: &Map<String, Value>| m["data"].as_object().unwrap().clone();
    let doc_data: Vec<_> = rest.iter().map(data).collect();
    check_shape(
        "snapshot data",
        &data(&snap),
        &doc_data.iter().collect::<Vec<_>>(),
    );

    let errors = documented("rest-error");
    for (path, token, status) in [
        ("/api/v1/snapshot?session=nope", true, 404),
        ("/api/v1/snapshot", true, 400),
        ("/api/v1/sessions", false, 401),
        ("/api/v1/snapshot?session=majors&token=wrong", false, 401),
    ] {
        let r = get(path, token).await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{path}");
        let body: Map<String, Value> = r.json().await.unwrap();
        let same: Vec<_> = errors
            .iter()
            .filter(|m| m["error"] == body["error"])
            .collect();
        check_shape(&format!("{path} ({status})"), &body, &same);
        let code = body["error"].as_str().unwrap();
        assert!(
            doc().contains(&format!("| `{status}` | `{code}` |")),
            "REST error {status} {code} is not in the doc's table"
        );
    }
    // The query-parameter form of the token is accepted too.
    let ok = get("/api/v1/sessions?token=s3cret", false).await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    b.handle.shutdown().await;
}

#[test]
fn the_doc_names_exactly_the_optional_ticker_fields() {
    let line = doc()
        .lines()
        .find_map(|l| l.strip_prefix("Optional ticker fields: "))
        .expect("docs/protocol.md names the optional ticker fields");
    let named: BTreeSet<String> = line
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    // Optional = what a ticker with every `Option` empty leaves out.
    let sparse: trademon::protocol::Ticker =
        serde_json::from_str(r#"{"symbol":"BTC_USDT","last":1.0,"received_ms":1,"source":"ws"}"#)
            .unwrap();
    let full = match serde_json::from_str::<ServerMsg>(
        examples()
            .iter()
            .find(|(k, t)| k == "server" && t.contains(r#""type":"ticker""#) && t.contains("bid"))
            .map(|(_, t)| t.as_str())
            .expect("a full ticker example"),
    )
    .unwrap()
    {
        ServerMsg::Ticker(e) => e.data,
        other => panic!("{other:?}"),
    };
    let keys = |t: &trademon::protocol::Ticker| -> BTreeSet<String> {
        key_set(serde_json::to_value(t).unwrap().as_object().unwrap())
    };
    let optional: BTreeSet<String> = keys(&full).difference(&keys(&sparse)).cloned().collect();
    assert_eq!(named, optional);
    assert!(
        doc().contains("a client **replaces** its row"),
        "the doc says how a ticker delta applies"
    );
}

#[test]
fn the_doc_states_the_limits_a_client_can_hit() {
    let d = doc();
    for key in [
        "server.max_frame_bytes",
        "server.max_protocol_errors",
        "server.max_ops_per_s",
        "server.max_pings_per_s",
        "server.client_queue_max_msgs",
        "server.client_queue_max_bytes",
        "server.max_in_flight_bytes",
        "server.write_timeout_ms",
        "server.max_clients",
        "server.health_interval_ms",
        "server.token",
    ] {
        assert!(
            d.contains(&format!("`{key}`")),
            "docs/protocol.md lacks {key}"
        );
    }
    for code in [
        "1007", "1009", "1013", "4000", "4008", "4501", "4502", "4503",
    ] {
        assert!(
            d.contains(&format!("| {code} |")),
            "close code {code} not in the table"
        );
    }
    assert!(d.contains("10 000"), "the history row cap");
    assert!(d.contains("## Time and epoch"));
}
