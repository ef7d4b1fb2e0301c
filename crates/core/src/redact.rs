//! Secrets out of recordings, bug bundles and printed config. Redaction happens when a record is serialized (raw
//! frames, link status, manifest, config, log lines), never by searching the screen bytes:
//! ratatui writes only changed cells, so a value on screen can arrive in fragments that no
//! pattern can find. Secrets are never rendered, so the screen bytes carry none.

use std::borrow::Cow;
use std::sync::Arc;

pub const REDACTED: &str = "<redacted>";

/// The secret values of this process and the forms they take once serialized.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so a secret containing another is replaced whole.
    needles: Arc<Vec<String>>,
}

impl Redactor {
    /// `secrets`: `Config::secret_values()` plus tokens given on the command line.
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Redactor {
        let mut needles: Vec<String> = Vec::new();
        for s in secrets.into_iter().filter(|s| !s.is_empty()) {
            // As is, JSON-escaped once (a field of a record), and twice (inside a raw frame
            // that itself is a JSON string of a record).
            let once = json_inner(&s);
            let twice = json_inner(&once);
            for form in [s, once, twice] {
                if !needles.contains(&form) {
                    needles.push(form);
                }
            }
        }
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        Redactor {
            needles: Arc::new(needles),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every secret replaced; borrowed (no copy) when there is none.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out: Cow<'a, str> = Cow::Borrowed(text);
        for n in self.needles.iter() {
            if out.contains(n.as_str()) {
                out = Cow::Owned(out.replace(n.as_str(), REDACTED));
            }
        }
        out
    }

    /// True when no secret occurs in `bytes` (for tests and self-checks).
    pub fn is_clean(&self, bytes: &[u8]) -> bool {
        self.needles
            .iter()
            .all(|n| !bytes.windows(n.len()).any(|w| w == n.as_bytes()))
    }
}

/// The JSON string body of `s` (escaped, without the quotes).
fn json_inner(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or(&quoted)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_escaped_forms_are_replaced() {
        let r = Redactor::new(["tok\"en".to_string(), String::new()]);
        assert_eq!(r.scrub("a tok\"en b"), "a <redacted> b");
        let once = serde_json::to_string("x tok\"en").unwrap();
        assert!(!r.scrub(&once).contains("en"), "{}", r.scrub(&once));
        let twice = serde_json::to_string(&once).unwrap();
        assert!(r.is_clean(r.scrub(&twice).as_bytes()));
        assert!(matches!(r.scrub("nothing"), Cow::Borrowed(_)));
    }
}
