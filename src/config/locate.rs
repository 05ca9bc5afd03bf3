//! Where each key and value of a YAML file is: a map from JSON pointer (`/cases/0/expect`)
//! to `line:col`. `serde_norway` gives values but no positions, so the same text is read a
//! second time with `saphyr-parser`, which reports a span for every event.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser};

/// A 1-based position in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Loc {
    pub line: usize,
    pub col: usize,
}

impl Loc {
    pub const START: Loc = Loc { line: 1, col: 1 };
}

/// Positions of every value and every mapping key, by JSON pointer.
#[derive(Debug, Clone, Default)]
pub struct Locations {
    values: HashMap<String, Loc>,
    keys: HashMap<String, Loc>,
}

enum Frame {
    Map {
        pointer: String,
        /// The key whose value comes next; `None` while a key is expected.
        key: Option<String>,
    },
    Seq {
        pointer: String,
        next: usize,
    },
}

/// Escapes one JSON-pointer segment (RFC 6901).
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

impl Locations {
    /// Reads `text`; stops quietly at a syntax error (the YAML parser proper reports it).
    pub fn of(text: &str) -> Locations {
        let mut out = Locations::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut parser = Parser::new_from_str(text);
        while let Some(Ok((event, span))) = parser.next_event() {
            let loc = Loc {
                line: span.start.line(),
                col: span.start.col() + 1,
            };
            match event {
                Event::Scalar(..)
                | Event::Alias(_)
                | Event::MappingStart(..)
                | Event::SequenceStart(..) => {
                    // A scalar where a key is expected is a key: remember it and wait for its value.
                    if let Some(Frame::Map {
                        pointer,
                        key: key @ None,
                    }) = stack.last_mut()
                    {
                        let name = match &event {
                            Event::Scalar(value, ..) => value.to_string(),
                            _ => "?".to_string(),
                        };
                        out.keys.insert(format!("{pointer}/{}", escape(&name)), loc);
                        *key = Some(name);
                        // A complex (non-scalar) key: its insides are not tracked.
                        if matches!(event, Event::MappingStart(..) | Event::SequenceStart(..)) {
                            stack.push(Frame::Seq {
                                pointer: "/?".into(),
                                next: 0,
                            });
                        }
                        continue;
                    }
                    let pointer = match stack.last_mut() {
                        None => String::new(),
                        Some(Frame::Map { pointer, key }) => {
                            let name = key.take().unwrap_or_default();
                            format!("{pointer}/{}", escape(&name))
                        }
                        Some(Frame::Seq { pointer, next }) => {
                            *next += 1;
                            format!("{pointer}/{}", *next - 1)
                        }
                    };
                    out.values.entry(pointer.clone()).or_insert(loc);
                    match event {
                        Event::MappingStart(..) => stack.push(Frame::Map { pointer, key: None }),
                        Event::SequenceStart(..) => stack.push(Frame::Seq { pointer, next: 0 }),
                        _ => {}
                    }
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                Event::DocumentEnd => break,
                _ => {}
            }
        }
        out
    }

    /// Where the value at `pointer` starts, or its nearest located ancestor.
    pub fn value(&self, pointer: &str) -> Loc {
        let mut p = pointer;
        loop {
            if let Some(loc) = self.values.get(p) {
                return *loc;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return Loc::START,
            }
        }
    }

    /// Where the key naming the value at `pointer` is (falls back to the value).
    pub fn key(&self, pointer: &str) -> Loc {
        self.keys
            .get(pointer)
            .copied()
            .unwrap_or_else(|| self.value(pointer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_block_and_flow_nodes() {
        let text = "name: x\ntarget:\n  provider: openai\n  params: { temperature: 0.7 }\ncases:\n  - id: a\n    messages: [{ role: user, content: hi }]\n";
        let l = Locations::of(text);
        assert_eq!(l.key("/name"), Loc { line: 1, col: 1 });
        assert_eq!(l.value("/name"), Loc { line: 1, col: 7 });
        assert_eq!(l.key("/target/provider"), Loc { line: 3, col: 3 });
        assert_eq!(
            l.key("/target/params/temperature"),
            Loc { line: 4, col: 13 }
        );
        assert_eq!(l.value("/cases/0"), Loc { line: 6, col: 5 });
        assert_eq!(l.key("/cases/0/id"), Loc { line: 6, col: 5 });
        assert_eq!(l.key("/cases/0/messages/0/role"), Loc { line: 7, col: 18 });
        // Unknown pointers fall back to the closest ancestor.
        assert_eq!(l.value("/cases/0/expect/contains"), Loc { line: 6, col: 5 });
    }
}
