//! A backend that sends nothing for a frame that changes nothing on screen.
//!
//! ratatui ends every `draw` with a colour/attribute reset and a hide-cursor, and the render
//! thread wrapped each frame in synchronized-output marks: about 40 bytes a frame even when no
//! cell changed (a value moved that is not on screen, a timer tick that rounds the same). Over
//! SSH every write is a packet. Here the synchronized-update marks open only when the first
//! real change of a frame is written and close at its flush, an empty diff writes nothing, and
//! the cursor is hidden once, not every frame.

use crossterm::queue;
use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use ratatui::backend::{Backend, ClearType, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use std::io::{self, Write};

pub struct QuietBackend<B> {
    inner: B,
    /// A synchronized update is open: this frame wrote something.
    in_update: bool,
    /// What we last told the terminal; `None` until we told it anything.
    cursor_hidden: Option<bool>,
}

impl<B: Backend<Error = io::Error> + Write> QuietBackend<B> {
    pub fn new(inner: B) -> QuietBackend<B> {
        QuietBackend {
            inner,
            in_update: false,
            cursor_hidden: None,
        }
    }

    /// Opens the frame's synchronized update before its first byte, so the terminal shows the
    /// frame whole, never half-drawn.
    fn begin(&mut self) -> io::Result<()> {
        if !self.in_update {
            queue!(self.inner, BeginSynchronizedUpdate)?;
            self.in_update = true;
        }
        Ok(())
    }
}

impl<B: Backend<Error = io::Error> + Write> Backend for QuietBackend<B> {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let mut content = content.peekable();
        if content.peek().is_none() {
            return Ok(());
        }
        self.begin()?;
        self.inner.draw(content)
    }

    fn append_lines(&mut self, n: u16) -> io::Result<()> {
        self.begin()?;
        self.inner.append_lines(n)
    }

    fn hide_cursor(&mut self) -> io::Result<()> {
        if self.cursor_hidden == Some(true) {
            return Ok(());
        }
        self.cursor_hidden = Some(true);
        self.inner.hide_cursor()
    }

    fn show_cursor(&mut self) -> io::Result<()> {
        if self.cursor_hidden == Some(false) {
            return Ok(());
        }
        self.cursor_hidden = Some(false);
        self.inner.show_cursor()
    }

    fn get_cursor_position(&mut self) -> io::Result<Position> {
        self.inner.get_cursor_position()
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        self.inner.set_cursor_position(position)
    }

    fn clear(&mut self) -> io::Result<()> {
        self.begin()?;
        self.inner.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        self.begin()?;
        self.inner.clear_region(clear_type)
    }

    fn size(&self) -> io::Result<Size> {
        self.inner.size()
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        self.inner.window_size()
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.in_update {
            queue!(self.inner, EndSynchronizedUpdate)?;
            self.in_update = false;
        }
        Backend::flush(&mut self.inner)
    }
}

/// Bytes written outside a frame (the bell) go straight to the terminal's buffer.
impl<B: Write> Write for QuietBackend<B> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Write::flush(&mut self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::CrosstermBackend;
    use ratatui::widgets::Paragraph;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl Sink {
        fn take(&self) -> Vec<u8> {
            std::mem::take(&mut self.0.lock().unwrap())
        }
    }

    fn terminal(sink: &Sink) -> Terminal<QuietBackend<CrosstermBackend<Sink>>> {
        let backend = QuietBackend::new(CrosstermBackend::new(sink.clone()));
        let viewport = ratatui::Viewport::Fixed(ratatui::layout::Rect::new(0, 0, 20, 2));
        Terminal::with_options(backend, ratatui::TerminalOptions { viewport }).unwrap()
    }

    fn draw(t: &mut Terminal<QuietBackend<CrosstermBackend<Sink>>>, text: &str) {
        t.draw(|f| f.render_widget(Paragraph::new(text.to_string()), f.area()))
            .unwrap();
    }

    const BEGIN: &[u8] = b"\x1b[?2026h";
    const END: &[u8] = b"\x1b[?2026l";

    #[test]
    fn an_unchanged_frame_writes_no_byte_and_a_change_is_one_synchronized_update() {
        let sink = Sink::default();
        let mut t = terminal(&sink);
        draw(&mut t, "BTC 1");
        let first = sink.take();
        assert!(first.starts_with(BEGIN), "{first:?}");
        assert!(first.windows(END.len()).any(|w| w == END));

        draw(&mut t, "BTC 1");
        assert_eq!(sink.take(), b"", "same screen: nothing at all");

        draw(&mut t, "BTC 2");
        let change = sink.take();
        assert!(change.starts_with(BEGIN), "{change:?}");
        assert!(change.ends_with(END), "{change:?}");
        assert!(change.windows(1).any(|w| w == b"2"));
        // The cursor was hidden once, with the first frame.
        assert!(!change.windows(6).any(|w| w == b"\x1b[?25l"));
    }

    #[test]
    fn the_cursor_is_shown_again_after_being_hidden() {
        let sink = Sink::default();
        let mut t = terminal(&sink);
        draw(&mut t, "x");
        sink.take();
        t.show_cursor().unwrap();
        assert_eq!(sink.take(), b"\x1b[?25h");
        t.show_cursor().unwrap();
        assert_eq!(sink.take(), b"", "already shown");
    }
}
