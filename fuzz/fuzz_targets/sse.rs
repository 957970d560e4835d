//! The server-sent events decoder, and the encoder the HTTP front writes events with.
//!
//! Input: two bytes, then the stream.
//!
//! - byte 0: the decoder's limit, `max = byte` (0 to 255 bytes of event data);
//! - byte 1: where the stream is split in two, `byte % (stream length + 1)`.
//!
//! Properties checked beyond "no panic":
//!
//! - the events do not depend on how the stream is cut: all at once, split in two at the chosen
//!   point, and one byte at a time give the same events, or all fail;
//! - no event is larger than the limit;
//! - text without carriage returns (every message `Message::to_json` writes) comes back from
//!   `encode_event` as exactly one event with exactly that data.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpgate_transport::sse::{SseDecoder, encode_event};

fuzz_target!(|data: &[u8]| {
    let [max, split, stream @ ..] = data else {
        return;
    };
    let max = usize::from(*max);
    let split = usize::from(*split) % (stream.len() + 1);

    let whole = decode(max, [stream]);
    let (head, tail) = stream.split_at(split);
    let halves = decode(max, [head, tail]);
    let bytewise = decode(max, stream.chunks(1));
    assert_eq!(whole, halves, "splitting at {split} changed the events");
    assert_eq!(whole, bytewise, "feeding byte by byte changed the events");
    if let Some(events) = &whole {
        for event in events {
            assert!(
                event.len() <= max,
                "an event of {} bytes passed a limit of {max}",
                event.len()
            );
        }
    }

    if let Ok(text) = std::str::from_utf8(stream)
        && !text.contains('\r')
    {
        let encoded = encode_event(text);
        let mut decoder = SseDecoder::new(text.len());
        match decoder.feed(encoded.as_bytes()) {
            Ok(events) => assert_eq!(events, vec![text.as_bytes().to_vec()]),
            Err(e) => panic!(
                "an encoded event of {} bytes was refused: {e:?}",
                text.len()
            ),
        }
    }
});

/// The events decoded from `chunks` fed in order, or `None` when the decoder refused them.
fn decode<'a>(max: usize, chunks: impl IntoIterator<Item = &'a [u8]>) -> Option<Vec<Vec<u8>>> {
    let mut decoder = SseDecoder::new(max);
    let mut events = Vec::new();
    for chunk in chunks {
        events.extend(decoder.feed(chunk).ok()?);
    }
    Some(events)
}
