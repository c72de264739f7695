//! A minimal blocking RESP client for test control commands (PING, CLUSTER INFO, CLIENT PAUSE).
//!
//! Enough of RESP2 to send one command and read one simple, error, integer or bulk reply;
//! tests use the real `redis` crate for everything else.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::time::Duration;

/// Sends one command to 127.0.0.1:`port` and returns the reply as text (`-ERR ...` for errors).
pub fn command(port: u16, args: &[&str]) -> io::Result<String> {
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
    let stream = TcpStream::connect_timeout(&addr.into(), Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut out = format!("*{}\r\n", args.len());
    for arg in args {
        out.push_str(&format!("${}\r\n{}\r\n", arg.len(), arg));
    }
    (&stream).write_all(out.as_bytes())?;
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let line = line.trim_end().to_owned();
    match line.as_bytes().first() {
        Some(b'+') | Some(b':') => Ok(line[1..].to_owned()),
        Some(b'-') => Ok(line),
        Some(b'$') => {
            let len: i64 = line[1..]
                .parse()
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, line.clone()))?;
            if len < 0 {
                return Ok(String::new());
            }
            let mut buf = vec![0u8; len as usize + 2];
            reader.read_exact(&mut buf)?;
            buf.truncate(len as usize);
            Ok(String::from_utf8_lossy(&buf).into_owned())
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected RESP reply {line:?}"),
        )),
    }
}

/// Whether a Redis server on `port` answers PING (with PONG, or NOAUTH when it wants a password).
pub fn ping(port: u16) -> bool {
    matches!(command(port, &["PING"]), Ok(reply) if reply == "PONG" || reply.starts_with("-NOAUTH"))
}
