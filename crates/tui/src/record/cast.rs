//! `screen.cast`: asciicast v2 (plays in asciinema 2.x and 3.x and the web player).
//!
//! Line 1 is the header; then `[time, code, data]` with `time` in seconds since the start
//! (absolute, v2) as a float. `o` holds exactly the bytes one frame wrote to the terminal,
//! `r` holds `"COLSxROWS"`. A recording's first `o` is a keyframe: the whole screen of that
//! frame with the setup sequences before it, because a recording (or the flight recorder's
//! window) starts in the middle of a session where ratatui writes only changed cells.

use super::bundle::BundleError;
use crossterm::cursor::{Hide, MoveTo};
use crossterm::queue;
use crossterm::terminal::{Clear, ClearType, EnterAlternateScreen};
use ratatui::backend::Backend;
use ratatui::backend::CrosstermBackend;
use ratatui::buffer::Buffer;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub version: u32,
    pub width: u16,
    pub height: u16,
    /// Unix seconds of the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// TERM and SHELL only, as asciinema records by default: nothing that identifies a host.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl Header {
    pub fn new(size: (u16, u16), unix_ms: i64, term: &str, shell: &str) -> Header {
        let env = [("TERM", term), ("SHELL", shell)]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Header {
            version: 2,
            width: size.0,
            height: size.1,
            timestamp: Some(unix_ms.div_euclid(1000)),
            title: Some("trademon".into()),
            env,
        }
    }

    pub fn line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{\"version\":2}".into())
    }
}

/// One event line; `data_json` is already a JSON string (quoted and escaped).
pub fn event_line(t_us: u64, code: char, data_json: &str) -> String {
    // Microsecond precision as in the spec's examples; a fixed format keeps lines stable.
    format!(
        "[{}.{:06}, \"{code}\", {data_json}]",
        t_us / 1_000_000,
        t_us % 1_000_000
    )
}

/// Frame bytes as a JSON string. ratatui writes whole UTF-8 frames; a stray invalid byte
/// becomes U+FFFD rather than an unreadable cast.
pub fn data_json(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    serde_json::to_string(text.as_ref()).unwrap_or_else(|_| "\"\"".into())
}

pub fn resize_json(w: u16, h: u16) -> String {
    format!("\"{w}x{h}\"")
}

/// The whole screen `buf` as bytes a fresh terminal can start from: alternate screen,
/// hidden cursor, cleared, then every non-blank cell (what ratatui would write after a
/// clear).
pub fn keyframe(buf: &Buffer) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 * 1024);
    let blank = Buffer::empty(buf.area);
    let cells = blank.diff(buf);
    let result: std::io::Result<()> = (|| {
        let mut backend = CrosstermBackend::new(&mut out);
        queue!(
            backend,
            EnterAlternateScreen,
            Hide,
            MoveTo(0, 0),
            Clear(ClearType::All)
        )?;
        backend.draw(cells.into_iter())?;
        Ok(())
    })();
    // Writing into a Vec cannot fail; if it ever did, an empty keyframe is still a valid cast.
    match result {
        Ok(()) => out,
        Err(_) => Vec::new(),
    }
}

/// A parsed cast: the header and `(seconds, code, data)` events.
#[derive(Debug, Clone)]
pub struct Cast {
    pub header: Header,
    pub events: Vec<(f64, String, String)>,
}

/// Parse a v2 cast; errors name the line.
pub fn parse(text: &str, file: &str) -> Result<Cast, BundleError> {
    let mut lines = text.lines().enumerate();
    let (_, first) = lines
        .next()
        .ok_or_else(|| BundleError::at(file, 1, "empty file, no header"))?;
    let header: Header = serde_json::from_str(first)
        .map_err(|e| BundleError::at(file, 1, format!("bad header: {e}")))?;
    if header.version != 2 {
        return Err(BundleError::at(
            file,
            1,
            format!("asciicast version {} (expected 2)", header.version),
        ));
    }
    let mut events = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let (t, code, data): (f64, String, String) = serde_json::from_str(line)
            .map_err(|e| BundleError::at(file, i + 1, format!("bad event: {e}")))?;
        events.push((t, code, data));
    }
    Ok(Cast { header, events })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;

    #[test]
    fn event_lines_parse_back() {
        let h = Header::new((80, 24), 1_700_000_000_123, "xterm", "/bin/sh");
        let text = format!(
            "{}\n{}\n{}\n",
            h.line(),
            event_line(1_500_000, 'o', &data_json(b"\x1b[1;1Hhi")),
            event_line(2_000_001, 'r', &resize_json(100, 30)),
        );
        let cast = parse(&text, "screen.cast").unwrap();
        assert_eq!(cast.header, h);
        assert_eq!(cast.events[0], (1.5, "o".into(), "\x1b[1;1Hhi".into()));
        assert_eq!(cast.events[1].1, "r");
        assert_eq!(cast.events[1].2, "100x30");
    }

    #[test]
    fn corrupt_line_is_named() {
        let e = parse(
            "{\"version\":2,\"width\":1,\"height\":1}\n[1,\"o\"",
            "screen.cast",
        )
        .unwrap_err();
        assert!(e.to_string().contains("screen.cast:2"), "{e}");
    }

    #[test]
    fn keyframe_draws_every_cell() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 2));
        buf.set_string(0, 1, "abc", ratatui::style::Style::default());
        let bytes = String::from_utf8(keyframe(&buf)).unwrap();
        assert!(bytes.contains("abc"), "{bytes:?}");
        assert!(bytes.contains("\x1b[?1049h"), "{bytes:?}");
    }
}
