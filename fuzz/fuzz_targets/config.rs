//! Text -> `Config::from_layers` (user file layer, plus env overrides) -> `validate`.
//! Input: a TOML user file, optionally followed by a line `#ENV` and `NAME=VALUE` lines that
//! become `TRADEMON_*` environment overrides. Invariants: never panics; every refusal has a
//! message; a config that validates can be printed (`config --print`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use trademon::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (file, env_part) = text.split_once("\n#ENV\n").unwrap_or((text, ""));
    let env: Vec<(String, String)> = env_part
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (format!("TRADEMON_{k}"), v.to_string()))
        .collect();
    match Config::from_layers(Some((Path::new("fuzz.toml"), file)), &env) {
        Ok(cfg) => match cfg.validate() {
            Ok(()) => {
                let _ = cfg.redacted_toml();
                let _ = cfg.server_listen_addr();
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        },
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
