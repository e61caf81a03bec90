//! A small JSON reader that records the position of every value and key.
//!
//! It accepts exactly RFC 8259 JSON (what claude-flow writes) and explains the
//! usual hand-editing mistakes (trailing commas, comments, single quotes) in words.

use super::locate::{Kids, Node, Pos, Positions, SyntaxError};
use serde_json::{Map, Number, Value};

/// Deep enough for any real workflow, shallow enough never to overflow the stack.
const MAX_DEPTH: usize = 256;

pub fn parse(text: &str) -> Result<(Value, Positions), SyntaxError> {
    let (v, node, dups) = read(text, true)?;
    Ok((v, Positions::new(node, dups)))
}

/// Reads the value alone (no position tree): the fast path for valid files, whose
/// positions are only needed if a problem is found. Also says whether some object
/// repeats a key.
pub fn parse_value(text: &str) -> Result<(Value, bool), SyntaxError> {
    let (v, _, dups) = read(text, false)?;
    Ok((v, dups))
}

fn read(text: &str, track: bool) -> Result<(Value, Node, bool), SyntaxError> {
    let mut r = Reader {
        track,
        src: text,
        bytes: text.as_bytes(),
        at: 0,
        line_starts: line_starts(text),
        cursor: std::cell::Cell::new((0, 0)),
        has_duplicates: false,
    };
    if r.bytes.starts_with("\u{feff}".as_bytes()) {
        r.at = 3;
    }
    r.skip_ws()?;
    if r.at >= r.bytes.len() {
        return Err(r.error_here("the file is empty: a workflow is a JSON object with `tasks`"));
    }
    let (v, node) = r.value(0)?;
    r.skip_ws()?;
    if r.at < r.bytes.len() {
        return Err(r.error_here("unexpected text after the end of the JSON document"));
    }
    Ok((v, node, r.has_duplicates))
}

fn line_starts(text: &str) -> Vec<usize> {
    let mut v = vec![0];
    v.extend(
        text.bytes()
            .enumerate()
            .filter(|(_, b)| *b == b'\n')
            .map(|(i, _)| i + 1),
    );
    v
}

struct Reader<'a> {
    /// Build the position tree (else only the value).
    track: bool,
    src: &'a str,
    bytes: &'a [u8],
    at: usize,
    line_starts: Vec<usize>,
    /// The last position computed, as (byte offset, 0-based column): positions are
    /// asked for in file order, so counting the characters from there (not from the
    /// line's start) keeps a 100,000-key object on one line linear, not quadratic.
    cursor: std::cell::Cell<(usize, usize)>,
    has_duplicates: bool,
}

impl Reader<'_> {
    fn pos_of(&self, at: usize) -> Pos {
        let line = match self.line_starts.binary_search(&at) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let line_start = self.line_starts[line];
        let end = at.min(self.src.len());
        let (last_at, last_col) = self.cursor.get();
        let (start, base) = if last_at >= line_start && last_at <= end {
            (last_at, last_col)
        } else {
            (line_start, 0)
        };
        let col = base
            + self
                .src
                .get(start..end)
                .map(|s| s.chars().count())
                .unwrap_or(end - start);
        if self.src.is_char_boundary(end) {
            self.cursor.set((end, col));
        }
        Pos {
            line: line + 1,
            col: col + 1,
        }
    }

    fn error_at(&self, at: usize, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            pos: self.pos_of(at),
            message: message.into(),
        }
    }

    fn error_here(&self, message: impl Into<String>) -> SyntaxError {
        self.error_at(self.at, message)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_ws(&mut self) -> Result<(), SyntaxError> {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => self.at += 1,
                b'/' if matches!(self.bytes.get(self.at + 1), Some(b'/') | Some(b'*')) => {
                    return Err(self.error_here(
                        "comments are not allowed in JSON: remove it, or write the workflow in YAML",
                    ));
                }
                _ => break,
            }
        }
        Ok(())
    }

    fn describe_here(&self) -> String {
        match self.src.get(self.at..).and_then(|s| s.chars().next()) {
            None => "the end of the file".to_string(),
            Some(c) => format!("`{c}`"),
        }
    }

    fn value(&mut self, depth: usize) -> Result<(Value, Node), SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.error_here(format!("values are nested more than {MAX_DEPTH} deep")));
        }
        let pos = if self.track {
            self.pos_of(self.at)
        } else {
            Pos::default()
        };
        let leaf = |v: Result<Value, SyntaxError>| v.map(|v| (v, Node::leaf(pos)));
        match self.peek() {
            Some(b'{') => self.object(pos, depth),
            Some(b'[') => self.array(pos, depth),
            Some(b'"') => leaf(self.string().map(Value::String)),
            Some(b'-' | b'0'..=b'9') => leaf(self.number()),
            Some(b't') => leaf(self.literal("true", Value::Bool(true))),
            Some(b'f') => leaf(self.literal("false", Value::Bool(false))),
            Some(b'n') => leaf(self.literal("null", Value::Null)),
            Some(b'\'') => {
                Err(self.error_here("JSON strings use double quotes (\"), not single quotes"))
            }
            _ => Err(self.error_here(format!("expected a value, found {}", self.describe_here()))),
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, SyntaxError> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(v)
        } else {
            Err(self.error_here(format!(
                "expected a value, found {} (strings need double quotes)",
                self.describe_here()
            )))
        }
    }

    fn object(&mut self, pos: Pos, depth: usize) -> Result<(Value, Node), SyntaxError> {
        self.at += 1; // {
        let mut map = Map::new();
        let mut members = Vec::new();
        self.skip_ws()?;
        if self.peek() == Some(b'}') {
            return self.close(pos, Value::Object(map), Kids::Object(members));
        }
        loop {
            self.skip_ws()?;
            let key_at = self.at;
            match self.peek() {
                Some(b'"') => {}
                Some(b'}') => {
                    return Err(
                        self.error_here("trailing comma before `}`: JSON does not allow one")
                    )
                }
                _ => {
                    return Err(self.error_here(format!(
                        "expected a key in double quotes, found {}",
                        self.describe_here()
                    )))
                }
            }
            let key = self.string()?;
            let key_pos = if self.track {
                self.pos_of(key_at)
            } else {
                Pos::default()
            };
            self.skip_ws()?;
            if self.peek() != Some(b':') {
                return Err(self.error_here(format!(
                    "expected `:` after the key \"{key}\", found {}",
                    self.describe_here()
                )));
            }
            self.at += 1;
            self.skip_ws()?;
            let (v, node) = self.value(depth + 1)?;
            if self.track {
                members.push((key.as_str().into(), key_pos, node));
            }
            if map.insert(key.clone(), v).is_some() {
                self.has_duplicates = true;
            }
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    return self.close(pos, Value::Object(map), Kids::Object(members));
                }
                _ => {
                    return Err(self.error_here(format!(
                        "expected `,` or `}}` after the value of \"{key}\", found {}",
                        self.describe_here()
                    )))
                }
            }
        }
    }

    /// Steps over the closing `}` or `]` of a container that started at `pos`.
    fn close(&mut self, pos: Pos, value: Value, kids: Kids) -> Result<(Value, Node), SyntaxError> {
        self.at += 1;
        Ok((value, Node { pos, kids }))
    }

    fn array(&mut self, pos: Pos, depth: usize) -> Result<(Value, Node), SyntaxError> {
        self.at += 1; // [
        let mut items = Vec::new();
        let mut nodes = Vec::new();
        self.skip_ws()?;
        if self.peek() == Some(b']') {
            return self.close(pos, Value::Array(items), Kids::Array(nodes));
        }
        loop {
            self.skip_ws()?;
            if self.peek() == Some(b']') {
                return Err(self.error_here("trailing comma before `]`: JSON does not allow one"));
            }
            let (item, node) = self.value(depth + 1)?;
            items.push(item);
            if self.track {
                nodes.push(node);
            }
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    return self.close(pos, Value::Array(items), Kids::Array(nodes));
                }
                _ => {
                    return Err(self.error_here(format!(
                        "expected `,` or `]` in the list, found {}",
                        self.describe_here()
                    )))
                }
            }
        }
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        let open = self.at;
        self.at += 1; // "
        let mut out = String::new();
        loop {
            // Copy the run of plain characters in one go.
            let run_start = self.at;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            out.push_str(&self.src[run_start..self.at]);
            match self.peek() {
                None => {
                    return Err(self.error_at(open, "this string is never closed (missing `\"`)"))
                }
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.at += 1;
                            let hi = self.hex4()?;
                            let c = if (0xD800..0xDC00).contains(&hi) {
                                if !self.bytes[self.at..].starts_with(b"\\u") {
                                    return Err(
                                        self.error_here("a \\u surrogate must come in a pair")
                                    );
                                }
                                self.at += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.error_here("invalid \\u surrogate pair"));
                                }
                                char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                            } else {
                                char::from_u32(hi)
                            };
                            out.push(c.ok_or_else(|| self.error_here("invalid \\u escape"))?);
                            continue;
                        }
                        _ => return Err(self.error_here(
                            "unknown escape: JSON knows \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX",
                        )),
                    };
                    self.at += 1;
                    out.push(c);
                }
                Some(_) => return Err(self.error_here(
                    "control character inside a string: write a line break as \\n and a tab as \\t",
                )),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let digits = self
            .src
            .get(self.at..self.at + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error_here("\\u must be followed by four hex digits"))?;
        self.at += 4;
        Ok(u32::from_str_radix(digits, 16).expect("checked hex digits"))
    }

    fn number(&mut self) -> Result<Value, SyntaxError> {
        let start = self.at;
        while let Some(b) = self.peek() {
            if b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E') {
                self.at += 1;
            } else {
                break;
            }
        }
        let text = &self.src[start..self.at];
        let n: Number = serde_json::from_str(text)
            .map_err(|_| self.error_at(start, format!("`{text}` is not a valid JSON number")))?;
        Ok(Value::Number(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_positions() {
        let text = "{\n  \"a\": [1, \"x\\u00e9\"],\n  \"é\": {\"b\": true}\n}";
        let (v, p) = parse(text).unwrap();
        assert_eq!(v, serde_json::json!({"a": [1, "xé"], "é": {"b": true}}));
        assert_eq!(p.value("/a/1"), Pos { line: 2, col: 12 });
        assert_eq!(p.key("/a"), Pos { line: 2, col: 3 });
        assert_eq!(p.value("/é/b"), Pos { line: 3, col: 14 });
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = parse("{\n  \"a\": 1,\n}").unwrap_err();
        assert_eq!(e.pos, Pos { line: 3, col: 1 });
        assert!(e.message.contains("trailing comma"), "{}", e.message);
        let e = parse("{\"a\": tru}").unwrap_err();
        assert_eq!(e.pos, Pos { line: 1, col: 7 });
        let e = parse("{\"a\": \"x}").unwrap_err();
        assert!(e.message.contains("never closed"));
    }

    #[test]
    fn duplicate_keys_are_recorded() {
        let (_, p) = parse("{\"a\": 1, \"a\": 2}").unwrap();
        assert_eq!(
            p.duplicate_keys(),
            vec![("/a".to_string(), Pos { line: 1, col: 10 })]
        );
    }
}
