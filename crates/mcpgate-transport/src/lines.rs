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
