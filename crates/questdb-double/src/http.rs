//! A minimal blocking HTTP/1.1 server (thread per connection, keep-alive, Content-Length and
//! chunked bodies). Hand-rolled rather than axum so faults can act on the socket itself:
//! stop listening (connection refused), drop every open connection, close without answering.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Request {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn param(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

pub enum Reply {
    Response {
        status: u16,
        content_type: &'static str,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
        delay: Duration,
    },
    /// Close the connection without a response (the request may have been committed).
    Close,
}

pub type Handler = Arc<dyn Fn(Request) -> Reply + Send + Sync>;

/// Listening state shared with the accept thread.
pub struct Listener {
    pub addr: SocketAddr,
    pub listening: AtomicBool,
    pub stop: AtomicBool,
    pub conns: Mutex<Vec<TcpStream>>,
}

/// Start accepting on `addr` (port 0 picks one); returns the bound address.
pub fn serve(addr: SocketAddr, handler: Handler) -> std::io::Result<Arc<Listener>> {
    let first = TcpListener::bind(addr)?;
    let state = Arc::new(Listener {
        addr: first.local_addr()?,
        listening: AtomicBool::new(true),
        stop: AtomicBool::new(false),
        conns: Mutex::new(Vec::new()),
    });
    let st = state.clone();
    std::thread::Builder::new()
        .name("qdb-test-accept".into())
        .spawn(move || accept_loop(first, st, handler))?;
    Ok(state)
}

fn accept_loop(first: TcpListener, st: Arc<Listener>, handler: Handler) {
    let mut listener = Some(first);
    loop {
        if st.stop.load(Ordering::SeqCst) {
            return;
        }
        let want = st.listening.load(Ordering::SeqCst);
        match (&listener, want) {
            (Some(_), false) => {
                // Refuse: close the listening socket and every open connection.
                listener = None;
                if let Ok(mut cs) = st.conns.lock() {
                    for c in cs.drain(..) {
                        let _ = c.shutdown(Shutdown::Both);
                    }
                }
            }
            (None, true) => {
                // std sets SO_REUSEADDR on Unix, so the same port can be bound again.
                listener = TcpListener::bind(st.addr).ok();
            }
            _ => {}
        }
        let Some(l) = &listener else {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        };
        let _ = l.set_nonblocking(true);
        match l.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_nodelay(true);
                if let (Ok(c), Ok(mut cs)) = (stream.try_clone(), st.conns.lock()) {
                    cs.retain(|s| s.peer_addr().is_ok());
                    cs.push(c);
                }
                let h = handler.clone();
                let _ = std::thread::Builder::new()
                    .name("qdb-test-conn".into())
                    .spawn(move || connection(stream, h));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

fn connection(stream: TcpStream, handler: Handler) {
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut out = write_half;
    let mut reader = BufReader::with_capacity(256 * 1024, stream);
    loop {
        let req = match read_request(&mut reader) {
            Ok(Some(r)) => r,
            _ => return,
        };
        let close = req
            .headers
            .iter()
            .any(|(k, v)| k == "connection" && v.eq_ignore_ascii_case("close"));
        match handler(req) {
            Reply::Close => {
                let _ = out.shutdown(Shutdown::Both);
                return;
            }
            Reply::Response {
                status,
                content_type,
                headers,
                body,
                delay,
            } => {
                if !delay.is_zero() {
                    std::thread::sleep(delay);
                }
                let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
                if status != 204 {
                    head.push_str(&format!(
                        "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                        body.len()
                    ));
                }
                for (k, v) in headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                let mut bytes = head.into_bytes();
                bytes.extend_from_slice(&body);
                if out.write_all(&bytes).is_err() || close {
                    return;
                }
            }
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn read_request(r: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(None);
    };
    let (method, target) = (method.to_string(), target.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            return Ok(None);
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(|_| std::io::Error::other("bad chunk size"))?;
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        r.read_exact(&mut body)?;
    }
    let (path, qs) = target.split_once('?').unwrap_or((&target, ""));
    let query = qs
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (url_decode(k), url_decode(v))
        })
        .collect();
    Ok(Some(Request {
        method,
        path: path.to_string(),
        query,
        headers,
        body,
    }))
}

fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
