//! Fixed-width columns and flowing segments, laid out by us rather than by ratatui's `Table`:
//! `Table` clips cell text at the column edge without a marker, and its solver may
//! shrink `Length` columns when space runs out. Here every cell is already fitted to its
//! column (numbers by `format`), columns that do not fit are dropped whole, and nothing is
//! ever clipped mid-value.

use crate::format::fit_text;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use std::borrow::Cow;
use unicode_width::UnicodeWidthStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

#[derive(Debug, Clone)]
pub struct Col {
    pub title: Cow<'static, str>,
    pub width: usize,
    pub align: Align,
    /// Lower is dropped first when the panel is too narrow; 0 never.
    pub priority: u8,
}

impl Col {
    pub fn new(title: &'static str, width: usize, align: Align, priority: u8) -> Col {
        Col::new_owned(Cow::Borrowed(title), width, align, priority)
    }

    /// A column whose title is built at run time (`Time UTC+1`).
    pub fn new_owned(
        title: impl Into<Cow<'static, str>>,
        width: usize,
        align: Align,
        priority: u8,
    ) -> Col {
        let title = title.into();
        // A column is never narrower than its title.
        Col {
            width: width.max(title.width()),
            title,
            align,
            priority,
        }
    }
}

pub const GAP: usize = 1;

/// Indices of the columns kept so that their total width (with gaps) fits `avail`.
pub fn fit_columns(cols: &[Col], avail: usize) -> Vec<usize> {
    let mut keep: Vec<usize> = (0..cols.len()).collect();
    let total = |keep: &[usize]| -> usize {
        keep.iter().map(|&i| cols[i].width).sum::<usize>() + GAP * keep.len().saturating_sub(1)
    };
    while total(&keep) > avail {
        let drop = keep
            .iter()
            .enumerate()
            .filter(|(_, i)| cols[**i].priority > 0)
            .min_by_key(|(pos, i)| (cols[**i].priority, usize::MAX - pos))
            .map(|(pos, _)| pos);
        match drop {
            Some(pos) => {
                keep.remove(pos);
            }
            None => break,
        }
    }
    keep
}

/// Columns left out for lack of width (zero-width placeholders do not count).
pub fn hidden(cols: &[Col], keep: &[usize]) -> usize {
    (0..cols.len())
        .filter(|i| !keep.contains(i) && cols[*i].width > 0)
        .count()
}

/// ` +2 cols hidden ` for the panel's border when columns were dropped; `None` otherwise.
pub fn hidden_note(cols: &[Col], keep: &[usize]) -> Option<String> {
    match hidden(cols, keep) {
        0 => None,
        1 => Some(" +1 col hidden ".to_string()),
        n => Some(format!(" +{n} cols hidden ")),
    }
}

/// The header line of the kept columns.
pub fn header(cols: &[Col], keep: &[usize], style: Style) -> Line<'static> {
    let cells = keep
        .iter()
        .map(|&i| Span::styled(cols[i].title.to_string(), style))
        .collect();
    row(cols, keep, cells, Style::new())
}

/// One row: `cells[k]` belongs to column `keep[k]`; each is padded (never cut for numbers:
/// callers fit them to `col.width` first; text that is still too wide gets a visible `…`).
pub fn row(
    cols: &[Col],
    keep: &[usize],
    cells: Vec<Span<'static>>,
    row_style: Style,
) -> Line<'static> {
    let mut spans = Vec::with_capacity(cells.len() * 2);
    for (k, (cell, &i)) in cells.into_iter().zip(keep).enumerate() {
        let col = &cols[i];
        if k > 0 {
            spans.push(Span::styled(" ".repeat(GAP), row_style));
        }
        let text = fit_text(&cell.content, col.width);
        let pad = " ".repeat(col.width.saturating_sub(text.width()));
        let style = row_style.patch(cell.style);
        match col.align {
            Align::Left => {
                spans.push(Span::styled(text, style));
                spans.push(Span::styled(pad, row_style));
            }
            Align::Right => {
                spans.push(Span::styled(pad, row_style));
                spans.push(Span::styled(text, style));
            }
        }
    }
    Line::from(spans).style(row_style)
}

/// Pick the cells of the kept columns out of a full row.
pub fn pick(cells: Vec<Span<'static>>, keep: &[usize]) -> Vec<Span<'static>> {
    let mut cells: Vec<Option<Span<'static>>> = cells.into_iter().map(Some).collect();
    keep.iter()
        .map(|&i| cells.get_mut(i).and_then(Option::take).unwrap_or_default())
        .collect()
}

/// Lay out segments left to right, two spaces apart, wrapping whole segments onto at most
/// `max_lines` lines. A segment never splits; one that does not fit on the last line is left
/// out (segments come in priority order), and a single segment wider than a line is cut with
/// a visible `…` (segments put their numbers first for that reason).
pub fn flow(
    segments: Vec<Vec<Span<'static>>>,
    width: usize,
    max_lines: usize,
) -> Vec<Line<'static>> {
    let mut lines: Vec<Vec<Span<'static>>> = Vec::new();
    let mut used = 0;
    for seg in segments {
        let w: usize = seg.iter().map(|s| s.content.width()).sum();
        let sep = if lines.last().is_some_and(|l| !l.is_empty()) {
            2
        } else {
            0
        };
        if !lines.is_empty() && used + sep + w <= width {
            let line = lines.last_mut().expect("checked non-empty");
            if sep > 0 {
                line.push(Span::raw("  "));
            }
            line.extend(seg);
            used += sep + w;
        } else if lines.len() < max_lines {
            used = w.min(width);
            lines.push(clip_segment(seg, width));
        }
    }
    lines.into_iter().map(Line::from).collect()
}

fn clip_segment(seg: Vec<Span<'static>>, width: usize) -> Vec<Span<'static>> {
    let mut left = width;
    let mut out = Vec::new();
    for s in seg {
        if left == 0 {
            break;
        }
        let w = s.content.width();
        if w <= left {
            left -= w;
            out.push(s);
        } else {
            out.push(Span::styled(fit_text(&s.content, left), s.style));
            left = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_drop_by_priority_until_they_fit() {
        let cols = [
            Col::new("Sym", 8, Align::Left, 0),
            Col::new("Last", 10, Align::Right, 0),
            Col::new("Vol", 7, Align::Right, 1),
            Col::new("Age", 4, Align::Right, 2),
        ];
        assert_eq!(fit_columns(&cols, 100), vec![0, 1, 2, 3]);
        assert_eq!(fit_columns(&cols, 24), vec![0, 1, 3]);
        assert_eq!(fit_columns(&cols, 19), vec![0, 1]);
    }

    #[test]
    fn dropped_columns_are_announced_and_priority_zero_stays() {
        // Side and PnL have priority 0: they stay however narrow the panel gets.
        let cols = [
            Col::new("Symbol", 8, Align::Left, 0),
            Col::new("Side", 4, Align::Left, 0),
            Col::new("Fees", 6, Align::Right, 1),
            Col::new("Liq", 10, Align::Right, 2),
            Col::new("PnL", 8, Align::Right, 0),
        ];
        let keep = fit_columns(&cols, 40);
        assert_eq!(keep, vec![0, 1, 2, 3, 4]);
        assert_eq!(hidden_note(&cols, &keep), None);
        let keep = fit_columns(&cols, 34);
        assert_eq!(keep, vec![0, 1, 3, 4], "the lowest priority goes first");
        assert_eq!(
            hidden_note(&cols, &keep).as_deref(),
            Some(" +1 col hidden ")
        );
        let keep = fit_columns(&cols, 10);
        assert_eq!(keep, vec![0, 1, 4], "side and PnL never drop");
        assert_eq!(
            hidden_note(&cols, &keep).as_deref(),
            Some(" +2 cols hidden ")
        );
    }

    #[test]
    fn flow_wraps_whole_segments() {
        let seg = |s: &str| vec![Span::raw(s.to_string())];
        let lines = flow(vec![seg("aaaa"), seg("bbbb"), seg("cccc")], 10, 2);
        let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        assert_eq!(text, vec!["aaaa  bbbb", "cccc"]);
        let lines = flow(vec![seg("aaaa"), seg("bbbb"), seg("cccc")], 10, 1);
        assert_eq!(lines.len(), 1);
    }
}
