//! Poison rows: rows QuestDB rejected as invalid (HTTP 400 with a line number) or the client
//! refused to encode. They are moved out of the way with the server's error id, so one bad row
//! never blocks a table and nothing is silently thrown away. One NDJSON line per row in
//! `<spool_dir>/quarantine.ndjson`; an operator can fix and re-send them by hand.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::rows::StoreRow;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantineEntry {
    /// Wall clock ms when quarantined.
    pub at: i64,
    pub table: String,
    /// QuestDB's `errorId` (grep the server log for it); `client` when the client refused it.
    pub error_id: String,
    pub message: String,
    pub row: StoreRow,
}

#[derive(Debug)]
pub struct Quarantine {
    path: PathBuf,
    file: Option<File>,
    pub count: u64,
}

impl Quarantine {
    pub fn new(spool_dir: &Path) -> Quarantine {
        Quarantine {
            path: spool_dir.join("quarantine.ndjson"),
            file: None,
            count: 0,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append and fsync: quarantined rows are rare and are the only copy.
    pub fn put(&mut self, entry: &QuarantineEntry) -> io::Result<()> {
        if self.file.is_none() {
            self.file = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        let mut line = serde_json::to_vec(entry).map_err(io::Error::other)?;
        line.push(b'\n');
        if let Some(f) = self.file.as_mut() {
            f.write_all(&line)?;
            f.sync_data()?;
        }
        self.count += 1;
        Ok(())
    }

    /// Read back every entry (tests, tooling); unreadable lines are skipped.
    pub fn read_all(path: &Path) -> Vec<QuarantineEntry> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}
