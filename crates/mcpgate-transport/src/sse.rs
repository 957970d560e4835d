//! Server-sent events: the framing Streamable HTTP uses for streamed responses.
//!
//! [`SseDecoder`] takes bytes as they arrive and yields the `data` of each complete event. It
//! accepts `\n`, `\r\n` and `\r` line ends, joins multi-line `data`, ignores comments, `event`,
//! `id` and `retry` fields, and refuses an event larger than its limit instead of buffering
//! without bound.

/// Why decoding stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseError {
    /// An event grew past the size limit.
    TooLarge(usize),
}

/// An incremental SSE decoder.
#[derive(Debug)]
pub struct SseDecoder {
    line: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
    last_was_cr: bool,
    max: usize,
}

impl SseDecoder {
    /// A decoder refusing events whose data exceeds `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            line: Vec::new(),
            data: Vec::new(),
            has_data: false,
            last_was_cr: false,
            max,
        }
    }

    /// Feeds bytes; returns the data of every event completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, SseError> {
        let mut events = Vec::new();
        for &b in bytes {
            match b {
                b'\n' if self.last_was_cr => {
                    self.last_was_cr = false;
                }
                b'\n' | b'\r' => {
                    self.last_was_cr = b == b'\r';
                    self.end_line(&mut events);
                    if self.data.len() > self.max {
                        return Err(SseError::TooLarge(self.max));
                    }
                }
                _ => {
                    self.last_was_cr = false;
                    self.line.push(b);
                    if self.line.len() > self.max + 16 {
                        return Err(SseError::TooLarge(self.max));
                    }
                }
            }
        }
        Ok(events)
    }

    fn end_line(&mut self, events: &mut Vec<Vec<u8>>) {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            if self.has_data {
                events.push(std::mem::take(&mut self.data));
                self.has_data = false;
            }
            return;
        }
        if line.first() == Some(&b':') {
            return;
        }
        let (field, value) = match line.iter().position(|&c| c == b':') {
            Some(i) => {
                let value = line.get(i + 1..).unwrap_or_default();
                let value = value.strip_prefix(b" ").unwrap_or(value);
                (line.get(..i).unwrap_or_default(), value)
            }
            None => (&line[..], &[][..]),
        };
        if field == b"data" {
            if self.has_data {
                self.data.push(b'\n');
            }
            self.data.extend_from_slice(value);
            self.has_data = true;
        }
    }
}

/// Encodes one message as an SSE `message` event.
pub fn encode_event(data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 24);
    out.push_str("event: message\n");
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_events_split_anywhere() {
        let stream = b"id: 1\r\ndata:\r\n\r\n: comment\nevent: message\ndata: {\"a\":1}\n\ndata: x\ndata: y\n\n";
        for split in 0..stream.len() {
            let mut d = SseDecoder::new(1024);
            let mut events = d.feed(&stream[..split]).unwrap();
            events.extend(d.feed(&stream[split..]).unwrap());
            assert_eq!(
                events,
                vec![b"".to_vec(), b"{\"a\":1}".to_vec(), b"x\ny".to_vec()],
                "split at {split}"
            );
        }
    }

    #[test]
    fn refuses_oversized_events() {
        let mut d = SseDecoder::new(8);
        assert_eq!(
            d.feed(b"data: 0123456789\ndata: 0123456789\n"),
            Err(SseError::TooLarge(8))
        );
    }

    #[test]
    fn refuses_oversized_events_completed_in_one_feed() {
        // Found by fuzzing: the size was checked only when a feed ended, so an event whose
        // `data` lines added up to more than the limit passed when its end arrived in the same
        // feed, and the decoder buffered any number of such lines in between.
        let stream = b"data: 0123456789\ndata: 0123456789\n\n";
        assert_eq!(SseDecoder::new(8).feed(stream), Err(SseError::TooLarge(8)));
        for split in 0..stream.len() {
            let mut d = SseDecoder::new(8);
            let result = d
                .feed(&stream[..split])
                .and_then(|_| d.feed(&stream[split..]));
            assert_eq!(result, Err(SseError::TooLarge(8)), "split at {split}");
        }
        let mut d = SseDecoder::new(21);
        assert_eq!(d.feed(stream), Ok(vec![b"0123456789\n0123456789".to_vec()]));
    }

    #[test]
    fn encode_round_trips() {
        let mut d = SseDecoder::new(1024);
        let events = d.feed(encode_event("{\"x\":\"a\"}").as_bytes()).unwrap();
        assert_eq!(events, vec![b"{\"x\":\"a\"}".to_vec()]);
    }
}
