//! A minimal HTTP/1.0 GET over a std `TcpStream` (no TLS, no chunking: an HTTP/1.0 request
//! gets a plain body ending at close), and query-string percent-encoding. Enough for tests
//! that read a local server's API (Prometheus) without pulling an HTTP client into testkit.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One response: status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// `GET http://127.0.0.1:{port}{path_and_query}` with a `timeout` on connect, read and write.
/// Errors name the URL.
pub fn get(port: u16, path_and_query: &str, timeout: Duration) -> Result<Response, String> {
    let url = format!("http://127.0.0.1:{port}{path_and_query}");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("GET {url}: connect: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| format!("GET {url}: {e}"))?;
    let request =
        format!("GET {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: */*\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("GET {url}: write: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("GET {url}: read: {e}"))?;
    parse(&raw).map_err(|e| format!("GET {url}: {e}"))
}

fn parse(raw: &[u8]) -> Result<Response, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers in the response")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status_line = head.lines().next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&raw[split + 4..]).into_owned(),
    })
}

/// Percent-encodes `s` for a query-string value (RFC 3986 unreserved characters stay).
pub fn encode_query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_splits_into_status_and_body() {
        let r = parse(b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno").unwrap();
        assert_eq!(
            r,
            Response {
                status: 404,
                body: "no".into()
            }
        );
    }

    #[test]
    fn a_response_without_headers_end_is_an_error() {
        assert!(parse(b"HTTP/1.1 200 OK\r\n").is_err());
    }

    #[test]
    fn promql_is_percent_encoded() {
        assert_eq!(
            encode_query_value("sum(rate(a_total{x=\"y z\"}[1m]))"),
            "sum%28rate%28a_total%7Bx%3D%22y%20z%22%7D%5B1m%5D%29%29"
        );
    }

    #[test]
    fn a_closed_port_fails_naming_the_url() {
        let port = crate::free_port();
        let e = get(port, "/-/ready", Duration::from_secs(2)).unwrap_err();
        assert!(
            e.starts_with(&format!("GET http://127.0.0.1:{port}/-/ready: connect")),
            "{e}"
        );
    }
}
