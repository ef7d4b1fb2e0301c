//! A small TCP proxy for fault injection between two real sockets on loopback:
//! pass-through, added latency with jitter, blackhole (bytes swallowed, sockets stay open, as
//! a half-open peer looks), reset (every connection dropped with RST) and refusing new
//! connections. noxious lacks reset_peer, so the few faults we need live here.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

#[derive(Default)]
struct Faults {
    blackhole: AtomicBool,
    refuse: AtomicBool,
    latency_ms: AtomicU64,
    jitter_ms: AtomicU64,
    /// Bytes per second per direction; 0 = unlimited.
    bandwidth: AtomicU64,
    accepted: AtomicU64,
}

pub struct ChaosProxy {
    pub addr: SocketAddr,
    faults: Arc<Faults>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept_task: JoinHandle<()>,
}

impl ChaosProxy {
    pub async fn start(upstream: SocketAddr) -> ChaosProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let faults = Arc::new(Faults::default());
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (f, c) = (faults.clone(), conns.clone());
        let accept_task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                f.accepted.fetch_add(1, Ordering::SeqCst);
                if f.refuse.load(Ordering::SeqCst) {
                    reset(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(upstream).await else {
                    reset(client);
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let task = tokio::spawn(pipe(client, server, f.clone()));
                c.lock().expect("conns").push(task);
            }
        });
        ChaosProxy {
            addr,
            faults,
            conns,
            accept_task,
        }
    }

    pub fn set_blackhole(&self, on: bool) {
        self.faults.blackhole.store(on, Ordering::SeqCst);
    }

    pub fn set_refuse(&self, on: bool) {
        self.faults.refuse.store(on, Ordering::SeqCst);
    }

    pub fn set_latency(&self, latency: Duration, jitter: Duration) {
        self.faults
            .latency_ms
            .store(latency.as_millis() as u64, Ordering::SeqCst);
        self.faults
            .jitter_ms
            .store(jitter.as_millis() as u64, Ordering::SeqCst);
    }

    /// Limit each direction of each connection to `bytes_per_s` (0 lifts the limit).
    pub fn set_bandwidth(&self, bytes_per_s: u64) {
        self.faults.bandwidth.store(bytes_per_s, Ordering::SeqCst);
    }

    /// Drop every open connection at once (the peers see a reset / EOF).
    pub fn reset_all(&self) {
        for t in self.conns.lock().expect("conns").drain(..) {
            t.abort();
        }
    }

    pub fn accepted(&self) -> u64 {
        self.faults.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.accept_task.abort();
        self.reset_all();
    }
}

fn reset(stream: TcpStream) {
    // SO_LINGER 0 turns the close into an RST, like a crashed peer.
    #[allow(deprecated)]
    let _ = stream.set_linger(Some(Duration::ZERO));
    drop(stream);
}

async fn pipe(client: TcpStream, server: TcpStream, faults: Arc<Faults>) {
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = direction(cr, sw, faults.clone());
    let down = direction(sr, cw, faults);
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

/// Read, stamp with a delivery deadline, write in order after the deadline.
async fn direction(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    faults: Arc<Faults>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let limit = faults.clone();
    let writer = async move {
        // Token bucket in time: the link is busy until `free_at`; each chunk extends it.
        let mut free_at = Instant::now();
        while let Some((due, bytes)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            let rate = limit.bandwidth.load(Ordering::SeqCst);
            if rate > 0 {
                for chunk in bytes.chunks(1024) {
                    let now = Instant::now();
                    free_at = free_at.max(now)
                        + Duration::from_secs_f64(chunk.len() as f64 / rate as f64);
                    tokio::time::sleep_until(free_at).await;
                    if to.write_all(chunk).await.is_err() {
                        return;
                    }
                }
            } else if to.write_all(&bytes).await.is_err() {
                break;
            }
        }
    };
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if faults.blackhole.load(Ordering::SeqCst) {
                continue;
            }
            let base = faults.latency_ms.load(Ordering::SeqCst);
            let jitter = faults.jitter_ms.load(Ordering::SeqCst);
            let delay = if jitter > 0 {
                base.saturating_sub(jitter) + fastrand::u64(0..=2 * jitter)
            } else {
                base
            };
            if tx
                .send((
                    Instant::now() + Duration::from_millis(delay),
                    buf[..n].to_vec(),
                ))
                .is_err()
            {
                break;
            }
        }
    };
    tokio::select! {
        _ = writer => {}
        _ = reader => {}
    }
}
