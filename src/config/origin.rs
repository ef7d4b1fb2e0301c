//! Problems with the configuration and where each refused value came from: a line of the
//! config file, a `TRADEMON_*` variable or a flag. Keys are written as in the messages:
//! `client.ping_interval_ms`, `sessions[1].symbols[0]`, `strategies.quick.entry.all[2]`.

use std::fmt;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The key at fault first, then other keys the message names (the value may have come
    /// from any of them).
    pub keys: Vec<String>,
    /// What is wrong; names the key.
    pub message: String,
    /// Where the value came from; `None`: the embedded defaults (or unknown).
    pub origin: Option<Origin>,
}

/// Where a configuration value was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File { path: PathBuf, line: usize },
    Env(String),
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Env(name) => write!(f, "{name} (environment)"),
            Origin::Flag(flag) => write!(f, "{flag} (command line)"),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(o) => write!(f, "{o}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl Problem {
    /// A problem about `key`; every other `section.key` the message mentions is kept too.
    pub fn new(key: &str, message: impl Into<String>) -> Problem {
        let message = message.into();
        let mut keys = vec![key.to_string()];
        for k in mentioned_keys(&message) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        Problem {
            keys,
            message,
            origin: None,
        }
    }

    pub fn at(mut self, origin: Option<Origin>) -> Problem {
        self.origin = origin;
        self
    }
}

/// `a.b`, `a[1].b[2]` tokens in a message (keys are lower-case words joined by dots).
fn mentioned_keys(message: &str) -> Vec<String> {
    message
        .split(|c: char| !(c.is_ascii_alphanumeric() || "_.[]".contains(c)))
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| {
            w.contains('.')
                && w.starts_with(|c: char| c.is_ascii_lowercase())
                && !w.contains("..")
                && w.split('.').all(|part| !part.is_empty())
        })
        .map(str::to_string)
        .collect()
}

/// The configuration refused: every problem found.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl ConfigError {
    /// One problem not tied to a key (an unreadable file, a bad address given elsewhere).
    pub fn msg(message: impl Into<String>) -> ConfigError {
        ConfigError {
            problems: vec![Problem {
                keys: Vec::new(),
                message: message.into(),
                origin: None,
            }],
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} problems:", many.len())?;
                for p in many {
                    write!(f, "\n  {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// `sessions[1].symbols` -> Key(sessions), Index(1), Key(symbols).
fn segments(key: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for part in key.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            out.push(Seg::Key(name));
        }
        while let Some(body) = rest.strip_prefix('[') {
            let Some(end) = body.find(']') else { break };
            if let Ok(i) = body[..end].parse() {
                out.push(Seg::Index(i));
            }
            rest = &body[end + 1..];
        }
    }
    out
}

/// The layers a configuration was built from, to say where a key's value came from.
pub struct Sources<'a> {
    file: Option<(&'a Path, &'a str, Option<DeTable<'a>>)>,
    /// `(dotted key, variable name)` of every `TRADEMON_*` config variable.
    env: Vec<(String, String)>,
    flags: Vec<(&'static str, &'static str)>,
}

impl<'a> Sources<'a> {
    pub fn new(file: Option<(&'a Path, &'a str)>, env: &[(String, String)]) -> Sources<'a> {
        let file = file.map(|(path, text)| {
            // A file that does not parse still gives lines for what parsed before the error.
            let (table, _) = DeTable::parse_recoverable(text);
            (path, text, Some(table.into_inner()))
        });
        let env = env
            .iter()
            .filter_map(|(name, _)| Some((super::env_key(name)?.join("."), name.clone())))
            .collect();
        Sources {
            file,
            env,
            flags: Vec::new(),
        }
    }

    /// Keys the command-line flags set (they override everything).
    pub fn with_flags(mut self, flags: &super::FlagOverrides) -> Sources<'a> {
        let set: [(bool, &'static str, &'static [&'static str]); 6] = [
            (
                flags.symbols.is_some(),
                "--symbols",
                &["sessions", "demo_sessions"],
            ),
            (flags.mexc_url.is_some(), "--mexc-url", &["mexc.ws_url"]),
            (
                flags.mexc_rest_url.is_some(),
                "--mexc-rest-url",
                &["mexc.rest_url"],
            ),
            (flags.color.is_some(), "--color", &["tui.color"]),
            (flags.fps.is_some(), "--fps", &["tui.fps"]),
            (flags.log_dir.is_some(), "--log-dir", &["log.dir"]),
        ];
        for (on, flag, keys) in set {
            if on {
                self.flags.extend(keys.iter().map(|k| (*k, flag)));
            }
        }
        self
    }

    /// The file and line of a parse error's byte offset.
    pub fn file_line(&self, offset: usize) -> Option<Origin> {
        let (path, text, _) = self.file.as_ref()?;
        Some(Origin::File {
            path: path.to_path_buf(),
            line: line_of(text, offset),
        })
    }

    /// Where the value of `key` came from: the latest layer that set it.
    pub fn origin(&self, key: &str) -> Option<Origin> {
        let under = |key: &str, set: &str| {
            key == set
                || key.starts_with(&format!("{set}."))
                || key.starts_with(&format!("{set}["))
                || set.starts_with(&format!("{key}."))
        };
        if let Some((_, flag)) = self.flags.iter().find(|(k, _)| under(key, k)) {
            return Some(Origin::Flag(flag));
        }
        if let Some((_, name)) = self
            .env
            .iter()
            .filter(|(k, _)| under(key, k))
            .max_by_key(|(k, _)| k.len())
        {
            return Some(Origin::Env(name.clone()));
        }
        let (path, text, table) = self.file.as_ref()?;
        let offset = find_in_file(table.as_ref()?, &segments(key))?;
        Some(Origin::File {
            path: path.to_path_buf(),
            line: line_of(text, offset),
        })
    }

    /// `problem` with the origin of the first of its keys that has one.
    pub fn locate(&self, problem: Problem) -> Problem {
        if problem.origin.is_some() {
            return problem;
        }
        let origin = problem.keys.iter().find_map(|k| self.origin(k));
        problem.at(origin)
    }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Byte offset of the value at `path` when the file set it: the whole path is in the file,
/// or a prefix of it is an array (arrays replace the defaults whole, so everything in one
/// came from the file). A table the file only partly sets does not count for its other keys.
fn find_in_file(table: &DeTable<'_>, path: &[Seg<'_>]) -> Option<usize> {
    let Some((Seg::Key(first), rest)) = path.split_first() else {
        return None;
    };
    let (_, value) = table.iter().find(|(k, _)| k.get_ref().as_ref() == *first)?;
    let mut cur = value;
    let mut in_array = false;
    for seg in rest {
        let next = match (seg, cur.get_ref()) {
            (Seg::Key(k), DeValue::Table(t)) => t
                .iter()
                .find(|(name, _)| name.get_ref().as_ref() == *k)
                .map(|(_, v)| v),
            (Seg::Index(i), DeValue::Array(a)) => {
                in_array = true;
                a.get(*i)
            }
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None if in_array || matches!(cur.get_ref(), DeValue::Array(_)) => break,
            None => return None,
        }
    }
    Some(cur.span().start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_split_into_keys_and_indexes() {
        assert_eq!(
            segments("sessions[1].symbols[0]"),
            [
                Seg::Key("sessions"),
                Seg::Index(1),
                Seg::Key("symbols"),
                Seg::Index(0)
            ]
        );
        assert_eq!(segments("client.x"), [Seg::Key("client"), Seg::Key("x")]);
    }

    #[test]
    fn messages_name_their_keys() {
        let p = Problem::new(
            "client.reconnect_after_missed",
            "client.reconnect_after_missed (3) must be above client.slow_after_missed (3).",
        );
        assert_eq!(
            p.keys,
            ["client.reconnect_after_missed", "client.slow_after_missed"]
        );
    }

    #[test]
    fn origins_follow_the_last_layer_that_set_the_key() {
        let text = "[client]\nping_interval_ms = 4000\n\n[[sessions]]\nid = \"a\"\nname = \"A\"\nsymbols = [\"BTC_USDT\",\n  \"ETH_USDT\"]\n";
        let env = vec![(
            "TRADEMON_CLIENT__PONG_TIMEOUT_MS".to_string(),
            "1".to_string(),
        )];
        let s = Sources::new(Some((Path::new("u.toml"), text)), &env);
        let line = |k: &str| match s.origin(k) {
            Some(Origin::File { line, .. }) => Some(line),
            _ => None,
        };
        assert_eq!(line("client.ping_interval_ms"), Some(2));
        assert_eq!(line("sessions[0].id"), Some(5));
        assert_eq!(line("sessions[0].symbols[1]"), Some(8));
        assert_eq!(line("sessions[0].strategy"), line("sessions[0]"));
        assert_eq!(line("client.backoff_base_ms"), None, "a default");
        assert_eq!(
            s.origin("client.pong_timeout_ms"),
            Some(Origin::Env("TRADEMON_CLIENT__PONG_TIMEOUT_MS".into()))
        );
        let flags = super::super::FlagOverrides {
            symbols: Some(vec!["X".into()]),
            ..Default::default()
        };
        let s = s.with_flags(&flags);
        assert_eq!(
            s.origin("sessions[0].symbols"),
            Some(Origin::Flag("--symbols"))
        );
    }
}
