//! `config --check` runs the checks start runs and reports every problem at once, each with
//! the file line, variable or flag its value came from; user errors print without source
//! locations or backtraces; `config --print` shows no credential.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use trademon::config::{Config, FlagOverrides, Origin};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config_broken")
}

/// `(line, text)` pairs from a `.expected` file.
fn expected(path: &Path) -> Vec<(usize, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (n, text) = l.split_once(": ").expect("`line: text`");
            (n.trim().parse().expect("a line number"), text.to_string())
        })
        .collect()
}

#[test]
fn every_broken_file_reports_every_problem_at_its_line() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    for file in files {
        let want = expected(&file.with_extension("expected"));
        assert!(
            want.len() >= 2,
            "{}: several problems at once",
            file.display()
        );
        let err = Config::load(Some(&file), &[], &FlagOverrides::default())
            .expect_err(&file.display().to_string());
        let got: Vec<(Option<usize>, String)> = err
            .problems
            .iter()
            .map(|p| match &p.origin {
                Some(Origin::File { path, line }) => {
                    assert_eq!(path, &file);
                    (Some(*line), p.message.clone())
                }
                _ => (None, p.message.clone()),
            })
            .collect();
        for (line, text) in &want {
            assert!(
                got.iter()
                    .any(|(l, m)| *l == Some(*line) && m.contains(text.as_str())),
                "{}: no problem at line {line} containing {text:?}; got {got:#?}",
                file.display()
            );
        }
        assert!(
            !err.to_string().contains("hunter2"),
            "a credential in a problem: {err}"
        );
    }
}

#[test]
fn a_value_from_the_environment_names_its_variable() {
    let file = fixtures().join("sessions.toml");
    let env = vec![
        ("TRADEMON_TUI__FPS".to_string(), "0".to_string()),
        ("TRADEMON_NOPE__X".to_string(), "1".to_string()),
    ];
    // The unknown section stops the merge; it is named by its variable.
    let err = Config::load(Some(&file), &env, &FlagOverrides::default()).unwrap_err();
    assert!(
        err.problems
            .iter()
            .any(|p| p.origin == Some(Origin::Env("TRADEMON_NOPE__X".into()))),
        "{err}"
    );
    let env = &env[..1];
    let err = Config::load(Some(&file), env, &FlagOverrides::default()).unwrap_err();
    let fps = err
        .problems
        .iter()
        .find(|p| p.message.contains("tui.fps"))
        .unwrap_or_else(|| panic!("{err}"));
    assert_eq!(fps.origin, Some(Origin::Env("TRADEMON_TUI__FPS".into())));
    assert!(fps.to_string().starts_with("TRADEMON_TUI__FPS"), "{fps}");
    // The file's problems are still there, at their lines.
    assert!(
        err.problems
            .iter()
            .any(|p| matches!(&p.origin, Some(Origin::File { line: 5, .. }))),
        "{err}"
    );
}

#[test]
fn a_flag_is_named_as_the_origin() {
    let flags = FlagOverrides {
        symbols: Some(vec!["BTC_USDT".into(), "BTC_USDT".into()]),
        ..Default::default()
    };
    let file = fixtures().join("values.toml");
    let err = Config::load(Some(&file), &[], &flags).unwrap_err();
    assert!(
        err.problems
            .iter()
            .any(|p| p.origin == Some(Origin::Flag("--symbols")) && p.message.contains("twice")),
        "{err}"
    );
}

fn trademon(args: &[&str], config: &Path) -> Output {
    let data = std::env::temp_dir().join(format!("trademon-cfgcheck-{}", std::process::id()));
    Command::new(env!("CARGO_BIN_EXE_trademon"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env("RUST_BACKTRACE", "1")
        .env("TRADEMON_DATA__DIR", &data)
        .env("TRADEMON_LOG__DIR", data.join("logs"))
        .output()
        .unwrap()
}

#[test]
fn check_prints_all_problems_with_lines_and_exits_2() {
    let file = fixtures().join("sessions.toml");
    let out = trademon(&["config", "--check"], &file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("6 problems"), "{stdout}");
    for (line, _) in expected(&file.with_extension("expected")) {
        assert!(
            stdout.contains(&format!("{}:{line}: ", file.display())),
            "line {line}: {stdout}"
        );
    }
    let ok = fixtures().join("../config_ok.toml");
    std::fs::write(&ok, "[tui]\nfps = 20\n").unwrap();
    let out = trademon(&["config", "--check"], &ok);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("configuration OK"));
    let _ = std::fs::remove_file(ok);
}

#[test]
fn a_refused_config_prints_plain_without_location_or_backtrace() {
    let file = fixtures().join("keys_and_strategies.toml");
    // The TUI would start here: it must refuse before touching the terminal.
    let out = trademon(&["--demo"], &file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("trademon: configuration refused"),
        "{stderr}"
    );
    assert!(
        stderr.contains("is bound to both quit and record"),
        "{stderr}"
    );
    for internal in ["Location:", "src/", "Backtrace", "backtrace", "\x1b["] {
        assert!(!stderr.contains(internal), "{internal:?} in {stderr}");
    }
}

#[test]
fn print_redacts_the_questdb_credentials() {
    let file = std::env::temp_dir().join(format!("trademon-print-{}.toml", std::process::id()));
    std::fs::write(
        &file,
        "[questdb]\nconf = \"https::addr=db:9000;username=canary-user;password=canary-pw;token=canary-tok;\"\n",
    )
    .unwrap();
    let out = trademon(&["config", "--print"], &file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for secret in ["canary-user", "canary-pw", "canary-tok"] {
        assert!(!stdout.contains(secret), "{secret}: {stdout}");
    }
    assert!(
        stdout.contains("username=<redacted>;password=<redacted>;token=<redacted>;"),
        "{stdout}"
    );
    let _ = std::fs::remove_file(file);
}
