//! docs/config.md and config.toml.example list every key of the embedded defaults.

use trademon::config::DEFAULTS_TOML;

/// Map-typed tables (user-chosen names) are documented by pattern, not per entry: every
/// strategy as `strategies.<name>.KEY`, contract sizes as `engine.contract_sizes` as a whole.
fn keys(prefix: &str, table: &toml::Table, out: &mut Vec<String>) {
    for (k, v) in table {
        let path = if prefix.is_empty() {
            k.clone()
        } else if prefix == "strategies" {
            "strategies.<name>".to_string()
        } else {
            format!("{prefix}.{k}")
        };
        if path == "engine.contract_sizes" {
            out.push(path);
            continue;
        }
        match v {
            toml::Value::Table(t) => keys(&path, t, out),
            // Session lists are documented as a whole, not per entry.
            toml::Value::Array(a) if a.iter().all(|x| x.is_table()) && !a.is_empty() => {
                out.push(path)
            }
            _ => out.push(path),
        }
    }
}

fn all_keys() -> Vec<String> {
    let table: toml::Table = DEFAULTS_TOML.parse().unwrap();
    let mut out = Vec::new();
    keys("", &table, &mut out);
    out.dedup();
    out.sort();
    out.dedup();
    out
}

#[test]
fn config_doc_lists_every_key() {
    let doc = include_str!("../../docs/config.md");
    let missing: Vec<_> = all_keys()
        .into_iter()
        .filter(|k| !doc.contains(&format!("`{k}`")))
        .collect();
    assert!(missing.is_empty(), "docs/config.md lacks: {missing:?}");
}

#[test]
fn example_config_lists_every_key_and_parses() {
    let example = include_str!("../../config.toml.example");
    // Every key appears (commented out) in the example.
    let missing: Vec<_> = all_keys()
        .into_iter()
        .filter(|k| {
            let leaf = k.rsplit('.').next().unwrap();
            let leaf = k.strip_prefix("strategies.<name>.").unwrap_or(leaf);
            !example.contains(&format!("{leaf} ="))
                && !example.contains(&format!("[[{k}]]"))
                && !example.contains(&format!("[{k}]"))
        })
        .collect();
    assert!(missing.is_empty(), "config.toml.example lacks: {missing:?}");
    // Uncommented, the example is a valid config identical to the defaults.
    let uncommented: String = example
        .lines()
        .map(|l| {
            l.strip_prefix("# ")
                .filter(|r| looks_like_toml(r))
                .unwrap_or(l)
        })
        .collect::<Vec<_>>()
        .join("\n");
    let cfg = trademon::config::Config::from_layers(
        Some((std::path::Path::new("config.toml.example"), &uncommented)),
        &[],
    )
    .unwrap();
    cfg.validate().unwrap();
    assert_eq!(cfg, trademon::config::Config::defaults());
}

fn looks_like_toml(line: &str) -> bool {
    line.starts_with('[') || line.contains(" = ") || line.starts_with('"') || line.starts_with(']')
}
