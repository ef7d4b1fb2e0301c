//! The simulator's listener: plain TCP, plus a per-connection switch that turns the final close
//! into a reset. An abrupt drop of a real exchange socket often arrives as RST, not FIN, and
//! clients take different paths for the two, so the drop fault can produce either.

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

pub(crate) struct SimListener {
    inner: TcpListener,
}

impl SimListener {
    pub fn new(inner: TcpListener) -> SimListener {
        SimListener { inner }
    }
}

impl Listener for SimListener {
    type Io = SimStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (SimStream, SocketAddr) {
        // axum's own TcpListener impl logs and retries accept errors.
        let (tcp, addr) = Listener::accept(&mut self.inner).await;
        // Small frames (pongs, acks) must not wait for Nagle.
        let _ = tcp.set_nodelay(true);
        let stream = SimStream {
            tcp,
            reset_on_drop: Arc::new(AtomicBool::new(false)),
        };
        (stream, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// An accepted socket that resets instead of closing gracefully once told to.
pub(crate) struct SimStream {
    tcp: TcpStream,
    reset_on_drop: Arc<AtomicBool>,
}

impl Drop for SimStream {
    fn drop(&mut self) {
        if self.reset_on_drop.load(Ordering::Relaxed) {
            // SO_LINGER 0: close() sends RST and discards unsent data; it never blocks.
            if let Err(e) = self.tcp.set_zero_linger() {
                tracing::debug!(error = %e, "sim: could not arm the TCP reset");
            }
        }
    }
}

impl AsyncRead for SimStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}

/// Connection info handlers extract: the peer, and the switch that makes the close a reset.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub addr: SocketAddr,
    reset_on_drop: Arc<AtomicBool>,
}

impl Peer {
    /// Make the socket's eventual close an RST.
    pub fn arm_reset(&self) {
        self.reset_on_drop.store(true, Ordering::Relaxed);
    }
}

impl Connected<IncomingStream<'_, SimListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, SimListener>) -> Peer {
        Peer {
            addr: *stream.remote_addr(),
            reset_on_drop: stream.io().reset_on_drop.clone(),
        }
    }
}
