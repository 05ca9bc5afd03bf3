//! Server-sent events: an incremental parser for streamed answers.
//!
//! Bytes arrive in whatever pieces the network delivers, so the parser keeps the unfinished
//! line between calls and only decodes a line once it is complete: a chunk may end inside a
//! UTF-8 character, between the `\r` and `\n` of a line break, or in the middle of a field
//! name. It follows the WHATWG `text/event-stream` rules that matter for LLM APIs: `\n`,
//! `\r\n` and `\r` line breaks, multi-line `data:`, `:` comments, one optional space after
//! the colon, a leading byte-order mark, and an event only being dispatched at a blank line.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The `event:` field, if the server named the event (Anthropic does, OpenAI does not).
    pub event: Option<String>,
    /// Every `data:` line of the event, joined with `\n`.
    pub data: String,
}

/// A stream that is not valid SSE text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// A line that is not UTF-8. The SSE spec would substitute U+FFFD, but a model's answer
    /// silently altered is worse than one reported as malformed.
    #[error("line {line} of the event stream is not valid UTF-8")]
    InvalidUtf8 { line: u64 },
}

/// The incremental parser: [`Parser::feed`] chunks, then [`Parser::finish`] at the end.
#[derive(Debug, Default)]
pub struct Parser {
    /// Bytes of the current, unfinished line.
    line: Vec<u8>,
    /// The previous chunk ended with `\r`: a `\n` starting the next one belongs to it.
    after_cr: bool,
    /// Whether the byte-order mark check has been done (only the stream's start may have one).
    started: bool,
    lines_seen: u64,
    event: Option<String>,
    data: String,
    /// At least one `data` field arrived for the pending event (an empty `data:` counts).
    has_data: bool,
}

impl Parser {
    pub fn new() -> Self {
        Parser::default()
    }

    /// Feeds the next chunk; returns the events it completed, in order.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<Event>, SseError> {
        let mut events = Vec::new();
        let mut rest = chunk;
        if self.after_cr && !rest.is_empty() {
            // An empty chunk says nothing about what follows the `\r`.
            self.after_cr = false;
            if let Some((b'\n', tail)) = rest.split_first() {
                rest = tail;
            }
        }
        while let Some(pos) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            let (head, tail) = rest.split_at(pos);
            self.line.extend_from_slice(head);
            // `tail` starts with the line break itself.
            let is_cr = tail.first() == Some(&b'\r');
            rest = tail.get(1..).unwrap_or_default();
            if is_cr {
                match rest.first() {
                    Some(b'\n') => rest = rest.get(1..).unwrap_or_default(),
                    None => self.after_cr = true,
                    Some(_) => {}
                }
            }
            let line = std::mem::take(&mut self.line);
            if let Some(event) = self.process_line(&line)? {
                events.push(event);
            }
        }
        self.line.extend_from_slice(rest);
        Ok(events)
    }

    /// Ends the stream. A final event whose lines all arrived but whose closing blank line
    /// did not is still returned (some servers close right after `data: [DONE]\n`); a line
    /// cut in the middle is dropped, because its content cannot be trusted.
    pub fn finish(&mut self) -> Option<Event> {
        self.line.clear();
        self.after_cr = false;
        self.take_event()
    }

    fn process_line(&mut self, raw: &[u8]) -> Result<Option<Event>, SseError> {
        self.lines_seen += 1;
        let mut raw = raw;
        if !self.started {
            self.started = true;
            raw = raw.strip_prefix("\u{feff}".as_bytes()).unwrap_or(raw);
        }
        let line = std::str::from_utf8(raw).map_err(|_| SseError::InvalidUtf8 {
            line: self.lines_seen,
        })?;
        if line.is_empty() {
            return Ok(self.take_event());
        }
        if line.starts_with(':') {
            return Ok(None);
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            // `id` and `retry` only matter to a client that reconnects; a probe never does,
            // because a resumed answer would not measure the endpoint.
            _ => {}
        }
        Ok(None)
    }

    fn take_event(&mut self) -> Option<Event> {
        let event = self.event.take();
        if !std::mem::take(&mut self.has_data) {
            // The spec drops events without data (an `event:` line alone is not an event).
            return None;
        }
        Some(Event {
            event,
            data: std::mem::take(&mut self.data),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: Option<&str>, data: &str) -> Event {
        Event {
            event: event.map(str::to_owned),
            data: data.to_owned(),
        }
    }

    fn parse_chunks(chunks: &[&[u8]]) -> Result<Vec<Event>, SseError> {
        let mut parser = Parser::new();
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend(parser.feed(chunk)?);
        }
        out.extend(parser.finish());
        Ok(out)
    }

    /// A stream using every line ending, a comment, multi-line data, a field without a
    /// space, a multi-byte character and a named event.
    const SAMPLE: &str = "\u{feff}: keep-alive\r\n\
        data: {\"a\":\"h\u{e9}llo \u{1f600}\"}\r\n\r\n\
        event: message_start\ndata:first\ndata: second\n\n\
        data: x\r\rdata\n\n\
        id: 7\nretry: 10\nevent: lonely\n\n\
        data:  two spaces\n\n\
        data: [DONE]\n\n";

    fn expected() -> Vec<Event> {
        vec![
            ev(None, "{\"a\":\"h\u{e9}llo \u{1f600}\"}"),
            ev(Some("message_start"), "first\nsecond"),
            ev(None, "x"),
            ev(None, ""),
            ev(None, " two spaces"),
            ev(None, "[DONE]"),
        ]
    }

    #[test]
    fn parses_the_sample_in_one_chunk() {
        assert_eq!(parse_chunks(&[SAMPLE.as_bytes()]).unwrap(), expected());
    }

    #[test]
    fn every_split_into_two_and_three_chunks_gives_the_same_events() {
        let bytes = SAMPLE.as_bytes();
        for i in 0..=bytes.len() {
            let (a, b) = bytes.split_at(i);
            assert_eq!(parse_chunks(&[a, b]).unwrap(), expected(), "split at {i}");
            for j in i..=bytes.len() {
                let (b1, b2) = bytes[i..].split_at(j - i);
                assert_eq!(
                    parse_chunks(&[a, b1, b2]).unwrap(),
                    expected(),
                    "split at {i} and {j}"
                );
            }
        }
    }

    #[test]
    fn byte_by_byte_gives_the_same_events() {
        let chunks: Vec<&[u8]> = SAMPLE.as_bytes().chunks(1).collect();
        assert_eq!(parse_chunks(&chunks).unwrap(), expected());
    }

    #[test]
    fn a_cut_line_is_dropped_but_a_complete_unterminated_event_is_kept() {
        assert_eq!(
            parse_chunks(&[b"data: one\n\ndata: tw"]).unwrap(),
            vec![ev(None, "one")]
        );
        assert_eq!(
            parse_chunks(&[b"data: one\n\ndata: [DONE]\n"]).unwrap(),
            vec![ev(None, "one"), ev(None, "[DONE]")]
        );
    }

    #[test]
    fn a_cr_at_a_chunk_end_then_lf_is_one_line_break() {
        // Were `\r` + `\n` counted as two breaks, the blank line would dispatch early and the
        // second data line would become its own event.
        assert_eq!(
            parse_chunks(&[b"data: a\r", b"", b"\ndata: b\r", b"\n\r", b"\n"]).unwrap(),
            vec![ev(None, "a\nb")]
        );
    }

    #[test]
    fn invalid_utf8_is_an_error_naming_the_line() {
        assert_eq!(
            parse_chunks(&[b": hi\ndata: \xff\xfe\n\n"]),
            Err(SseError::InvalidUtf8 { line: 2 })
        );
    }

    #[test]
    fn a_bom_later_in_the_stream_is_data() {
        let events = parse_chunks(&["data: a\n\n\u{feff}data: b\n\n".as_bytes()]).unwrap();
        // The second line's field name is "\u{feff}data", which is not `data`, so it is ignored.
        assert_eq!(events, vec![ev(None, "a")]);
    }
}
