//! Colours by semantic role, at the level the terminal supports.
//!
//! Meaning never depends on colour alone: every role that has a colour also has a modifier or
//! a glyph elsewhere in the view. In `none` mode the theme emits no colour at all
//! (`Color::Reset` everywhere) and keeps bold / reverse / dim, which also sidesteps the
//! crossterm 0.29 NO_COLOR trap: there, colour codes become `ESC[;m` (SGR 0) and wipe the
//! attributes ratatui set just before.

use crate::settings::ColorMode;
use ratatui::style::{Color, Modifier, Style};
use trademon_client::link::LinkState;
use trademon_protocol::{Level, UpstreamState};

/// The colour level actually used after resolving `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Palette {
    None,
    Ansi16,
    Ansi256,
    TrueColor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub palette: Palette,
}

/// Outcome of resolving the configured mode against the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub palette: Palette,
    /// NO_COLOR is set, so crossterm would strip colour codes on its own and turn each one
    /// into `ESC[m`, wiping bold/reverse. The theme already honours NO_COLOR (or the user
    /// chose a mode explicitly), so crossterm must emit exactly what we ask for.
    pub force_color_output: bool,
}

/// Resolve `mode` with `env` (a variable lookup, so tests need not touch the process env).
/// auto: NO_COLOR (non-empty) -> none; COLORTERM truecolor/24bit -> truecolor;
/// TERM containing 256 -> 256; otherwise 16.
pub fn resolve(mode: ColorMode, env: impl Fn(&str) -> Option<String>) -> Resolved {
    let no_color = env("NO_COLOR").is_some_and(|v| !v.is_empty());
    let palette = match mode {
        ColorMode::None => Palette::None,
        ColorMode::Ansi16 => Palette::Ansi16,
        ColorMode::Ansi256 => Palette::Ansi256,
        ColorMode::TrueColor => Palette::TrueColor,
        ColorMode::Auto => {
            let colorterm = env("COLORTERM").unwrap_or_default().to_ascii_lowercase();
            let term = env("TERM").unwrap_or_default();
            if no_color {
                Palette::None
            } else if colorterm == "truecolor" || colorterm == "24bit" {
                Palette::TrueColor
            } else if term.contains("256") {
                Palette::Ansi256
            } else {
                Palette::Ansi16
            }
        }
    };
    Resolved {
        palette,
        force_color_output: no_color,
    }
}

/// The colour roles; each maps to a 16-colour, a 256-colour and an RGB form.
#[derive(Debug, Clone, Copy)]
enum Role {
    Good,
    Warn,
    Alt,
    Bad,
    Up,
    Down,
    Muted,
    Accent,
}

impl Theme {
    pub fn new(palette: Palette) -> Theme {
        Theme { palette }
    }

    /// Resolve from the process environment and configure crossterm accordingly.
    pub fn detect(mode: ColorMode) -> Theme {
        let r = resolve(mode, |k| std::env::var(k).ok());
        if r.force_color_output {
            crossterm::style::force_color_output(true);
        }
        Theme::new(r.palette)
    }

    fn color(&self, role: Role) -> Color {
        use Color::*;
        let (c16, c256, rgb) = match role {
            Role::Good => (Green, 71, (95, 175, 95)),
            Role::Warn => (Yellow, 178, (215, 175, 0)),
            Role::Alt => (Magenta, 170, (215, 95, 215)),
            Role::Bad => (Red, 167, (215, 95, 95)),
            Role::Up => (Green, 77, (95, 215, 95)),
            Role::Down => (Red, 203, (255, 95, 95)),
            Role::Muted => (DarkGray, 245, (138, 138, 138)),
            Role::Accent => (Cyan, 74, (95, 175, 215)),
        };
        match self.palette {
            Palette::None => Reset,
            Palette::Ansi16 => c16,
            Palette::Ansi256 => Indexed(c256),
            Palette::TrueColor => Rgb(rgb.0, rgb.1, rgb.2),
        }
    }

    fn fg(&self, role: Role) -> Style {
        Style::new().fg(self.color(role))
    }

    pub fn base(&self) -> Style {
        Style::new()
    }

    pub fn title(&self) -> Style {
        self.fg(Role::Accent).add_modifier(Modifier::BOLD)
    }

    pub fn border(&self) -> Style {
        self.fg(Role::Muted)
    }

    pub fn muted(&self) -> Style {
        self.fg(Role::Muted)
    }

    /// Column headers: bold so they read as headers without colour.
    pub fn header(&self) -> Style {
        self.fg(Role::Accent).add_modifier(Modifier::BOLD)
    }

    /// Active tab and selected row: reverse video carries the meaning in every mode.
    pub fn active_tab(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }

    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// Stale rows: dim (plus a text marker in the row).
    pub fn stale(&self) -> Style {
        self.fg(Role::Muted).add_modifier(Modifier::DIM)
    }

    pub fn up(&self) -> Style {
        self.fg(Role::Up)
    }

    pub fn down(&self) -> Style {
        self.fg(Role::Down)
    }

    /// `up` for a gain, `down` for a loss, plain for zero (PnL, change).
    pub fn by_sign(&self, value: f64) -> Style {
        if value > 0.0 {
            self.up()
        } else if value < 0.0 {
            self.down()
        } else {
            Style::new()
        }
    }

    /// Indicator levels on the chart (their glyph tells them apart without colour).
    pub fn overlay(&self) -> Style {
        self.fg(Role::Alt)
    }

    /// The last price on the chart's axis: reversed, so it reads as a marker in every mode.
    pub fn marker(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }

    pub fn warn(&self) -> Style {
        self.fg(Role::Warn).add_modifier(Modifier::BOLD)
    }

    pub fn error(&self) -> Style {
        self.fg(Role::Bad).add_modifier(Modifier::BOLD)
    }

    pub fn level(&self, level: Level) -> Style {
        match level {
            Level::Info => self.muted(),
            Level::Warn => self.warn(),
            Level::Error => self.error(),
        }
    }

    /// Link state colour (the word and symbol carry the meaning too).
    pub fn link(&self, state: LinkState) -> Style {
        let role = match state {
            LinkState::Live => Role::Good,
            LinkState::Slow | LinkState::Reconnecting | LinkState::Connecting => Role::Warn,
            LinkState::Polling => Role::Alt,
            LinkState::Disconnected => Role::Bad,
        };
        let style = self.fg(role).add_modifier(Modifier::BOLD);
        // Not-live states are also reversed, so they stand out without colour.
        if state == LinkState::Live {
            style
        } else {
            style.add_modifier(Modifier::REVERSED)
        }
    }

    pub fn upstream(&self, state: UpstreamState) -> Style {
        match state {
            UpstreamState::Live => self.fg(Role::Good),
            UpstreamState::Connecting | UpstreamState::Reconnecting => self.warn(),
            UpstreamState::RestPolling => self.fg(Role::Alt).add_modifier(Modifier::BOLD),
            UpstreamState::Down => self.error(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn auto_follows_no_color_then_colorterm_then_term() {
        let r = resolve(
            ColorMode::Auto,
            env(&[("NO_COLOR", "1"), ("COLORTERM", "truecolor")]),
        );
        assert_eq!(r.palette, Palette::None);
        assert!(r.force_color_output, "even Reset must not become ESC[m");
        // An empty NO_COLOR does not count (no-color.org).
        let r = resolve(
            ColorMode::Auto,
            env(&[("NO_COLOR", ""), ("COLORTERM", "24bit")]),
        );
        assert_eq!(r.palette, Palette::TrueColor);
        let r = resolve(ColorMode::Auto, env(&[("TERM", "xterm-256color")]));
        assert_eq!(r.palette, Palette::Ansi256);
        let r = resolve(ColorMode::Auto, env(&[("TERM", "xterm")]));
        assert_eq!(r.palette, Palette::Ansi16);
    }

    #[test]
    fn explicit_mode_wins_and_forces_crossterm_colour_under_no_color() {
        let r = resolve(ColorMode::Ansi256, env(&[("NO_COLOR", "1")]));
        assert_eq!(r.palette, Palette::Ansi256);
        assert!(r.force_color_output);
        let r = resolve(ColorMode::None, env(&[]));
        assert_eq!(r.palette, Palette::None);
        assert!(!r.force_color_output);
    }

    #[test]
    fn none_palette_has_no_colours_but_keeps_attributes() {
        let t = Theme::new(Palette::None);
        for s in [
            t.up(),
            t.down(),
            t.warn(),
            t.link(LinkState::Disconnected),
            t.stale(),
        ] {
            assert_eq!(s.fg.unwrap_or(Color::Reset), Color::Reset);
            assert_eq!(s.bg.unwrap_or(Color::Reset), Color::Reset);
        }
        assert!(
            t.link(LinkState::Disconnected)
                .add_modifier
                .contains(Modifier::REVERSED)
        );
        assert!(t.stale().add_modifier.contains(Modifier::DIM));
    }
}
