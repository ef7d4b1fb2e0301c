//! Scrolling for lists that follow a selection: every scrolling panel (watchlist, signals,
//! events, upstream, popups) draws its rows from [`first_row`], so the selected row is always
//! on screen, and says with [`range_note`] which rows it shows instead of hiding the rest.

/// First row to draw so that row `selected` of `len` is visible in `rows` lines.
pub fn first_row(selected: usize, len: usize, rows: usize) -> usize {
    if rows == 0 || len == 0 {
        return 0;
    }
    let selected = selected.min(len - 1);
    selected.saturating_sub(rows - 1)
}

/// ` 3-9 of 40 ` when only part of the list shows; `None` when all of it does.
pub fn range_note(first: usize, shown: usize, len: usize) -> Option<String> {
    (shown < len && shown > 0).then(|| format!(" {}-{} of {len} ", first + 1, first + shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selected_row_stays_visible_moving_down_a_long_list() {
        let (len, rows) = (40, 5);
        for selected in 0..len {
            let first = first_row(selected, len, rows);
            assert!(
                (first..first + rows).contains(&selected),
                "row {selected} not in {first}..{}",
                first + rows
            );
            assert!(first + rows <= len);
        }
        assert_eq!(first_row(3, 40, 5), 0);
        assert_eq!(first_row(12, 40, 5), 8);
        assert_eq!(
            first_row(99, 40, 5),
            35,
            "a stale selection past the end shows the end"
        );
        assert_eq!(range_note(8, 5, 40).as_deref(), Some(" 9-13 of 40 "));
        assert_eq!(range_note(0, 5, 5), None);
    }
}
