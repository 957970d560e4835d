//! Newline framing for stdio, in both directions: one message per line, as raw bytes.
//!
//! `tokio_util`'s `LinesCodec` does not fit: it fails on a line that is not UTF-8, and a
//! `FramedRead` ends its stream after any decoder error, so one bad line would end the whole
//! conversation. Here a line over the limit is an item of its own ([`Line::TooLong`], the rest of
//! it skipped up to the next newline) and bytes are handed on undecoded, so invalid UTF-8 is the
//! JSON parser's parse error for that one line.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{AnyDelimiterCodec, AnyDelimiterCodecError, Decoder};

/// One line read.
#[derive(Debug)]
pub(crate) enum Line {
    /// A line, without its newline or a trailing carriage return.
    Bytes(Bytes),
    /// A line longer than the limit; it was skipped.
    TooLong,
}

/// Splits input into [`Line`]s of at most `max` bytes.
#[derive(Debug)]
pub(crate) struct LineCodec(AnyDelimiterCodec);

impl LineCodec {
    pub(crate) fn new(max: usize) -> Self {
        Self(AnyDelimiterCodec::new_with_max_length(
            b"\n".to_vec(),
            Vec::new(),
            max,
        ))
    }
}

fn line(result: Result<Option<Bytes>, AnyDelimiterCodecError>) -> std::io::Result<Option<Line>> {
    match result {
        Ok(Some(mut bytes)) => {
            if bytes.last() == Some(&b'\r') {
                bytes.truncate(bytes.len() - 1);
            }
            Ok(Some(Line::Bytes(bytes)))
        }
        Ok(None) => Ok(None),
        Err(AnyDelimiterCodecError::MaxChunkLengthExceeded) => Ok(Some(Line::TooLong)),
        Err(AnyDelimiterCodecError::Io(e)) => Err(e),
    }
}

impl Decoder for LineCodec {
    type Item = Line;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> std::io::Result<Option<Line>> {
        line(self.0.decode(buf))
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> std::io::Result<Option<Line>> {
        line(self.0.decode_eof(buf))
    }
}

/// Writes each queued message as one line, coalescing whatever is queued into one write, until
/// the queue closes, a write fails or `stop` is cancelled; the output is dropped then.
pub(crate) async fn write_lines<W: tokio::io::AsyncWrite + Unpin>(
    mut output: W,
    mut rx: tokio::sync::mpsc::Receiver<String>,
    stop: tokio_util::sync::CancellationToken,
) {
    use tokio::io::AsyncWriteExt;
    let mut buf = Vec::with_capacity(8192);
    loop {
        let first = tokio::select! {
            m = rx.recv() => m,
            () = stop.cancelled() => None,
        };
        let Some(first) = first else { break };
        buf.clear();
        buf.extend_from_slice(first.as_bytes());
        buf.push(b'\n');
        while buf.len() < 64 * 1024 {
            match rx.try_recv() {
                Ok(m) => {
                    buf.extend_from_slice(m.as_bytes());
                    buf.push(b'\n');
                }
                Err(_) => break,
            }
        }
        if output.write_all(&buf).await.is_err() || output.flush().await.is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], max: usize) -> Vec<Option<Vec<u8>>> {
        let mut codec = LineCodec::new(max);
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(l) = codec.decode_eof(&mut buf).unwrap() {
            out.push(match l {
                Line::Bytes(b) => Some(b.to_vec()),
                Line::TooLong => None,
            });
        }
        out
    }

    #[test]
    fn bad_lines_do_not_end_the_input() {
        let out = decode_all(b"ok\r\n\xff\xfe\n0123456789abc\nafter\nlast", 8);
        assert_eq!(
            out,
            vec![
                Some(b"ok".to_vec()),
                Some(b"\xff\xfe".to_vec()),
                None,
                Some(b"after".to_vec()),
                Some(b"last".to_vec()),
            ]
        );
    }
}
