//! `manifest.json`: what a developer needs to read and replay a bundle: versions, terminal,
//! colour level actually used, start time, OS, and the effective config with secrets
//! redacted. The environment is an allow-list (TERM, LANG and only *whether* COLORTERM or
//! NO_COLOR is set); nothing that identifies a host or a network address.

use crate::theme::Palette;
use serde::{Deserialize, Serialize};
use trademon_core::redact::Redactor;

/// Bumped when `events.ndjson` changes incompatibly; replay refuses other formats.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// `recording` (R or --record), `flight` (bug bundle from the flight recorder).
    pub kind: String,
    pub trademon_version: String,
    pub protocol_version: u32,
    pub terminal: Terminal,
    /// Palette the theme used: none, 16, 256, truecolor. Replay uses it, not the local TERM.
    pub colour_mode: String,
    pub start_time: String,
    pub start_unix_ms: i64,
    pub os: String,
    pub arch: String,
    /// `Config::redacted_toml()`, also scrubbed of command-line secrets.
    pub config: String,
    /// Filled when the recording ended normally.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    #[serde(default)]
    pub frames: Option<u64>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Terminal {
    pub width: u16,
    pub height: u16,
    pub term: String,
    pub colorterm_set: bool,
    pub no_color_set: bool,
    pub lang: String,
}

/// The process facts a manifest needs, gathered once at TUI start.
#[derive(Debug, Clone)]
pub struct Context {
    pub redactor: Redactor,
    pub config_toml: String,
    pub palette: Palette,
    pub term: String,
    pub shell: String,
    pub colorterm_set: bool,
    pub no_color_set: bool,
    pub lang: String,
}

impl Context {
    /// `config_toml`: the whole config with secrets replaced (`TuiSettings::config_toml`).
    pub fn from_env(config_toml: &str, palette: Palette, redactor: &Redactor) -> Context {
        let var = |k: &str| std::env::var(k).unwrap_or_default();
        let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        Context {
            redactor: redactor.clone(),
            config_toml: redactor.scrub(config_toml).into_owned(),
            palette,
            term: var("TERM"),
            shell: var("SHELL"),
            colorterm_set: set("COLORTERM"),
            no_color_set: set("NO_COLOR"),
            lang: var("LANG"),
        }
    }

    pub fn manifest(&self, kind: &str, size: (u16, u16), start_unix_ms: i64) -> Manifest {
        Manifest {
            format: FORMAT,
            kind: kind.to_string(),
            trademon_version: env!("CARGO_PKG_VERSION").to_string(),
            protocol_version: trademon_protocol::PROTOCOL_VERSION,
            terminal: Terminal {
                width: size.0,
                height: size.1,
                term: self.term.clone(),
                colorterm_set: self.colorterm_set,
                no_color_set: self.no_color_set,
                lang: self.lang.clone(),
            },
            colour_mode: palette_name(self.palette).to_string(),
            start_time: utc_text(start_unix_ms),
            start_unix_ms,
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
            config: self.config_toml.clone(),
            duration_ms: None,
            frames: None,
            note: None,
        }
    }
}

pub fn palette_name(p: Palette) -> &'static str {
    match p {
        Palette::None => "none",
        Palette::Ansi16 => "16",
        Palette::Ansi256 => "256",
        Palette::TrueColor => "truecolor",
    }
}

pub fn palette_from_name(name: &str) -> Option<Palette> {
    Some(match name {
        "none" => Palette::None,
        "16" => Palette::Ansi16,
        "256" => Palette::Ansi256,
        "truecolor" => Palette::TrueColor,
        _ => return None,
    })
}

/// `2026-08-22T14:03:11Z` from Unix ms (no date crate for one format).
pub fn utc_text(unix_ms: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix_ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `20260822-140311` for file names (sorts by time, no colons for other filesystems).
pub fn file_stamp(unix_ms: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix_ms);
    format!("{y:04}{mo:02}{d:02}-{h:02}{mi:02}{s:02}")
}

/// Unix ms -> UTC (year, month, day, hour, minute, second); Howard Hinnant's days-to-civil.
fn civil(unix_ms: i64) -> (i64, u32, u32, u32, u32, u32) {
    let secs = unix_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting() {
        assert_eq!(utc_text(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_text(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(file_stamp(951_782_400_000), "20000229-000000");
    }

    #[test]
    fn palette_names_round_trip() {
        for p in [
            Palette::None,
            Palette::Ansi16,
            Palette::Ansi256,
            Palette::TrueColor,
        ] {
            assert_eq!(palette_from_name(palette_name(p)), Some(p));
        }
    }
}
