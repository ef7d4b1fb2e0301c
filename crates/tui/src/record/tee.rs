//! The terminal writer under the `BufWriter`: everything that reaches the terminal passes
//! here, so while capturing, a copy of each frame's bytes is kept for the cast. The render
//! thread switches capture per frame and takes the bytes through a [`Capture`] handle
//! (ratatui's access to the backend's writer is unstable API). Off, a write costs one
//! uncontended lock; the `BufWriter` above writes about once per frame.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

/// Shared with the render thread: `Some(bytes)` while capturing.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Option<Vec<u8>>>>);

impl Capture {
    fn with<T>(&self, f: impl FnOnce(&mut Option<Vec<u8>>) -> T) -> T {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    /// Start (or stop) keeping a copy of what is written.
    pub fn set(&self, on: bool) {
        self.with(|c| match (on, c.is_some()) {
            (true, false) => *c = Some(Vec::with_capacity(16 * 1024)),
            (false, true) => *c = None,
            _ => {}
        })
    }

    /// The bytes written since the last call (empty when not capturing).
    pub fn take(&self) -> Vec<u8> {
        self.with(|c| match c.as_mut() {
            Some(c) => std::mem::replace(c, Vec::with_capacity(c.capacity())),
            None => Vec::new(),
        })
    }
}

pub struct Tee<W: Write> {
    out: W,
    capture: Capture,
}

impl<W: Write> Tee<W> {
    pub fn new(out: W) -> Tee<W> {
        Tee {
            out,
            capture: Capture::default(),
        }
    }

    pub fn capture(&self) -> Capture {
        self.capture.clone()
    }
}

impl<W: Write> Write for Tee<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.capture.with(|c| {
            if let Some(c) = c.as_mut() {
                // Only what the terminal accepted: a short write is retried by the caller.
                c.extend_from_slice(&buf[..n]);
            }
        });
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_only_while_capturing() {
        let mut t = Tee::new(Vec::new());
        let cap = t.capture();
        t.write_all(b"a").unwrap();
        cap.set(true);
        t.write_all(b"bc").unwrap();
        assert_eq!(cap.take(), b"bc");
        t.write_all(b"d").unwrap();
        cap.set(false);
        assert!(cap.take().is_empty());
        assert_eq!(t.out, b"abcd");
    }
}
