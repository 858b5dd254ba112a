//! Request bodies: reading one up to a limit, draining one that is refused
//! (so the client reads the answer rather than a connection reset), and
//! inflating gzip up to the same limit (a gzip bomb is stopped at the limit,
//! having cost that much and no more).

use std::io::Read;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;

/// Most bytes read and thrown away to answer a refused request cleanly;
/// past it the connection is closed.
pub const DRAIN_LIMIT: u64 = 32 << 20;

#[derive(Debug)]
pub enum ReadError {
    /// The body is longer than the limit; the rest is unread.
    TooLarge,
    /// The connection failed mid-body.
    Io(hyper::Error),
}

/// Reads the whole body if it is at most `limit` bytes. `hint` (the
/// `Content-Length`, when sent) sizes the buffer.
pub async fn read(
    body: &mut Incoming,
    limit: usize,
    hint: Option<u64>,
) -> Result<Vec<u8>, ReadError> {
    let capacity = hint.map_or(8 * 1024, |n| n.min(limit as u64) as usize);
    let mut out = Vec::with_capacity(capacity);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(ReadError::Io)?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(ReadError::TooLarge);
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// Reads and discards the rest of a body, up to `DRAIN_LIMIT` bytes.
/// Returns whether the body was read to its end (else the connection must
/// close after the answer).
pub async fn drain(body: &mut Incoming) -> bool {
    let mut seen: u64 = 0;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    seen += data.len() as u64;
                    if seen > DRAIN_LIMIT {
                        return false;
                    }
                }
            }
            Err(_) => return false,
        }
    }
    true
}

#[derive(Debug, PartialEq, Eq)]
pub enum InflateError {
    /// The body inflates to more than the limit.
    TooLarge,
    /// Not gzip, or damaged.
    Invalid(String),
}

/// Inflates a gzip body (one member or several) to at most `limit` bytes.
pub fn gunzip(compressed: &[u8], limit: usize) -> Result<Vec<u8>, InflateError> {
    let mut out = Vec::with_capacity((compressed.len() * 4).min(limit));
    let decoder = flate2::read::MultiGzDecoder::new(compressed);
    decoder
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| InflateError::Invalid(e.to_string()))?;
    if out.len() > limit {
        return Err(InflateError::TooLarge);
    }
    Ok(out)
}

/// A body already in memory, for answers.
pub fn full(bytes: impl Into<Bytes>) -> http_body_util::Full<Bytes> {
    http_body_util::Full::new(bytes.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).expect("in memory");
        encoder.finish().expect("in memory")
    }

    #[test]
    fn gunzip_returns_the_original_within_the_limit() {
        let data = b"{\"batch\":[]}".repeat(100);
        assert_eq!(gunzip(&gzip(&data), data.len()), Ok(data));
    }

    #[test]
    fn gunzip_stops_a_bomb_at_the_limit() {
        let bomb = gzip(&vec![0u8; 100 << 20]);
        assert!(
            bomb.len() < 200_000,
            "100 MiB of zeros compresses to {} bytes",
            bomb.len()
        );
        assert_eq!(gunzip(&bomb, 512_000), Err(InflateError::TooLarge));
    }

    #[test]
    fn gunzip_refuses_what_is_not_gzip() {
        assert!(matches!(
            gunzip(b"{\"batch\":[]}", 1000),
            Err(InflateError::Invalid(_))
        ));
        let mut truncated = gzip(b"hello world, hello world");
        truncated.truncate(truncated.len() - 6);
        assert!(matches!(
            gunzip(&truncated, 1000),
            Err(InflateError::Invalid(_))
        ));
    }
}
