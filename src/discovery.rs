//! How `trademon watch` and `trademon status` find the backend of a trademon already running
//! on this machine: the embedded TUI (`trademon`, `trademon --demo`) and `trademon serve`
//! write its WebSocket URL to `<data dir>/backend.json` (`demo-backend.json` under `--demo`,
//! apart like every demo file) while they run. A script then follows the very backend the
//! trader is looking at, instead of starting a second one with its own sessions.
//!
//! The file is a hint, not a lock: it is used only when something answers on its port, it is
//! removed on exit only by the process that wrote it, and a newer run overwrites it.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advert {
    /// `ws://127.0.0.1:PORT/ws`: never a token.
    pub url: String,
    pub pid: u32,
    pub started_ms: i64,
}

pub fn path(data_dir: &Path, demo: bool) -> PathBuf {
    data_dir.join(if demo {
        "demo-backend.json"
    } else {
        "backend.json"
    })
}

/// The URL a local client dials for a backend bound to `addr` (a wildcard bind is reached on
/// loopback).
pub fn local_url(addr: SocketAddr) -> String {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("ws://{addr}/ws")
}

/// Removes the advert when the backend stops, if it is still ours.
#[derive(Debug)]
pub struct Published {
    path: PathBuf,
    pid: u32,
}

impl Drop for Published {
    fn drop(&mut self) {
        if read(&self.path).is_some_and(|a| a.pid == self.pid) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Writes the advert (a temp file renamed over the old one, so a reader never sees half).
pub fn publish(data_dir: &Path, demo: bool, url: &str) -> std::io::Result<Published> {
    std::fs::create_dir_all(data_dir)?;
    let advert = Advert {
        url: url.to_string(),
        pid: std::process::id(),
        started_ms: trademon_protocol::now_ms(),
    };
    let path = path(data_dir, demo);
    let tmp = path.with_extension(format!("json.{}.tmp", advert.pid));
    let text = serde_json::to_string(&advert).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &path)?;
    Ok(Published {
        path,
        pid: advert.pid,
    })
}

fn read(path: &Path) -> Option<Advert> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// The advertised backend, if the file is there and something accepts connections on its
/// address within `probe`. Anything else (no file, unreadable, nothing listening): `None`.
pub async fn find(data_dir: &Path, demo: bool, probe: Duration) -> Option<Advert> {
    let advert = read(&path(data_dir, demo))?;
    let addr: SocketAddr = advert
        .url
        .strip_prefix("ws://")?
        .split('/')
        .next()?
        .parse()
        .ok()?;
    match tokio::time::timeout(probe, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Some(advert),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "trademon-discovery-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[tokio::test]
    async fn a_published_backend_is_found_while_it_listens_and_forgotten_after() {
        let dir = temp_dir();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = local_url(listener.local_addr().unwrap());
        let published = publish(&dir, true, &url).unwrap();
        let probe = Duration::from_secs(5);
        assert_eq!(find(&dir, true, probe).await.map(|a| a.url), Some(url));
        // Demo and live runs never find each other.
        assert_eq!(find(&dir, false, probe).await, None);
        drop(listener);
        assert_eq!(find(&dir, true, probe).await, None, "nothing listens");
        drop(published);
        assert!(!path(&dir, true).exists(), "removed on exit");
    }

    #[test]
    fn only_the_writer_removes_the_advert() {
        let dir = temp_dir();
        let mine = publish(&dir, false, "ws://127.0.0.1:1/ws").unwrap();
        // Another run took over the file.
        let other = Advert {
            url: "ws://127.0.0.1:2/ws".into(),
            pid: mine.pid.wrapping_add(1),
            started_ms: 0,
        };
        std::fs::write(path(&dir, false), serde_json::to_string(&other).unwrap()).unwrap();
        drop(mine);
        assert_eq!(read(&path(&dir, false)), Some(other));
    }

    #[test]
    fn a_wildcard_bind_is_dialled_on_loopback() {
        let any: SocketAddr = "0.0.0.0:7878".parse().unwrap();
        assert_eq!(local_url(any), "ws://127.0.0.1:7878/ws");
        let lo: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(local_url(lo), "ws://127.0.0.1:9/ws");
    }
}
