//! The boundaries docs/architecture.md draws, checked on the source: no crate has a cycle
//! between its top-level modules, the engine links no async runtime, and the release binary's
//! package does not depend on the QuestDB stand-in or the developer tool. Cargo already refuses
//! a cycle between crates; these are the boundaries it does not see.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every crate's `src` directory: the root package and `crates/*`.
fn crate_sources() -> Vec<(String, PathBuf)> {
    let mut out = vec![("trademon".to_string(), workspace().join("src"))];
    let mut dirs: Vec<_> = std::fs::read_dir(workspace().join("crates"))
        .expect("crates/ exists")
        .map(|e| e.expect("readable crates/ entry").path())
        .collect();
    dirs.sort();
    for d in dirs {
        let name = d.file_name().unwrap().to_string_lossy().into_owned();
        out.push((name, d.join("src")));
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source dir") {
        let path = entry.expect("readable entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file under `src` (`lib.rs`/`main.rs` -> `[]`, `a/b.rs` -> `[a, b]`,
/// `a/mod.rs` -> `[a]`).
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

fn without_comments(text: &str) -> String {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// Top-level modules a file names: `crate::x`, `crate::{x, y::z}`, and `super::` chains that
/// climb to the crate root.
fn referenced_top_modules(text: &str, path: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let name = ident_at(item.trim());
                if !name.is_empty() && name != "self" {
                    out.insert(name.to_string());
                }
            }
        } else {
            out.insert(ident_at(rest).to_string());
        }
    }
    // In `a/b.rs` (path [a, b]), `super::super::x` is the crate root's `x`.
    for (i, _) in text.match_indices("super::") {
        if i > 0 && text[..i].ends_with("super::") {
            continue;
        }
        let mut rest = &text[i..];
        let mut ups = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            ups += 1;
            rest = r;
        }
        if ups == path.len() {
            out.insert(ident_at(rest).to_string());
        }
    }
    out.retain(|m| !m.is_empty());
    out
}

/// A cycle in `edges`, if any, as the modules along it.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        if let Some(c) = visit(node, edges, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

fn module_edges(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let path = module_path(src, &file);
        let Some(top) = path.first().cloned() else {
            continue; // the crate root declares modules; it is not one of them
        };
        let text = without_comments(&std::fs::read_to_string(&file).expect("readable source"));
        for target in referenced_top_modules(&text, &path) {
            if target != top {
                edges.entry(top.clone()).or_default().insert(target);
            }
        }
    }
    edges
}

#[test]
fn no_crate_has_a_cycle_between_its_top_level_modules() {
    let mut cycles = Vec::new();
    for (name, src) in crate_sources() {
        if let Some(c) = find_cycle(&module_edges(&src)) {
            cycles.push(format!("{name}: {}", c.join(" -> ")));
        }
    }
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_cycle_finder_finds_a_cycle_through_super_paths() {
    // Guards the check above against passing because it sees nothing.
    let path = vec!["a".to_string(), "inner".to_string()];
    let refs = referenced_top_modules("use super::super::b::X; use crate::{c, d::E};", &path);
    assert_eq!(refs, ["b", "c", "d"].map(String::from).into());
    let mut edges = BTreeMap::new();
    edges.insert("a".to_string(), refs);
    edges.insert("d".to_string(), ["a".to_string()].into());
    assert_eq!(
        find_cycle(&edges),
        Some(["a", "d", "a"].map(String::from).to_vec())
    );
}

/// The `[dependencies]` table of a crate's manifest (names only).
fn normal_dependencies(manifest: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(manifest).expect("readable manifest");
    let table: toml::Table = toml::from_str(&text).expect("manifest parses");
    table
        .get("dependencies")
        .and_then(|d| d.as_table())
        .map(|d| d.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn the_engine_links_no_async_runtime_and_does_no_io() {
    let deps = normal_dependencies(&workspace().join("crates/engine/Cargo.toml"));
    for banned in [
        "tokio",
        "reqwest",
        "axum",
        "tokio-tungstenite",
        "questdb-rs",
    ] {
        assert!(
            !deps.contains(banned),
            "trademon-engine depends on {banned}"
        );
    }
}

#[test]
fn the_release_binary_has_no_test_double_or_bench_code() {
    let deps = normal_dependencies(&workspace().join("Cargo.toml"));
    for banned in ["trademon-questdb-double", "trademon-dev"] {
        assert!(!deps.contains(banned), "trademon depends on {banned}");
    }
}
