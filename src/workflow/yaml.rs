//! YAML workflow files, read through yaml-rust2's event parser so that every value
//! keeps its line and column.
//!
//! Scalars are typed the way YAML 1.2's core schema says (`true`, `12`, `1.5`,
//! `null`/`~`); quoted scalars are always strings. Anchors and aliases work; only
//! the first document of a stream is read. A byte order mark at the start is skipped,
//! as the JSON reader does.
//!
//! Aliases are expanded with a budget: a 575-byte file of nine anchors of nine
//! aliases each would otherwise expand to 387 million values (`validate` past 9 GB).
//! The whole document may hold at most [`MAX_NODES`] values once expanded and nest at
//! most [`MAX_DEPTH`] deep; the error names the alias that crossed the line.

use super::locate::{Kids, Node, Pos, Positions, SyntaxError};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Values (scalars, lists and mappings) a document may hold once its aliases are
/// expanded: a 1,000-task workflow holds about 30,000.
pub const MAX_NODES: usize = 1_000_000;

/// Deep enough for any real workflow, shallow enough never to overflow the stack
/// (the same limit as the JSON reader's).
pub const MAX_DEPTH: usize = 256;

pub fn parse(text: &str) -> Result<(Value, Positions), SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut b = Builder {
        text,
        ..Builder::default()
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut b, false) {
        // The parser has a nesting limit of its own, close to ours: say it our way.
        let message = if e.info() == "recursion limit exceeded" {
            format!("values are nested more than {MAX_DEPTH} deep: flatten the document")
        } else {
            format!("YAML: {}", e.info())
        };
        return Err(SyntaxError {
            pos: pos(e.marker()),
            message,
        });
    }
    if let Some(e) = b.error {
        return Err(e);
    }
    match b.root {
        Some((v, node)) => Ok((v, Positions::new(node, b.has_duplicates))),
        None => Err(SyntaxError {
            pos: Pos { line: 1, col: 1 },
            message: "the file is empty: a workflow is a mapping with `tasks`".into(),
        }),
    }
}

fn pos(m: &Marker) -> Pos {
    Pos {
        line: m.line().max(1),
        col: m.col() + 1,
    }
}

enum Frame {
    Seq {
        pos: Pos,
        items: Vec<Value>,
        nodes: Vec<Node>,
        anchor: usize,
        /// The height of the tallest item so far.
        height: usize,
    },
    Map {
        pos: Pos,
        map: Map<String, Value>,
        members: Vec<(Box<str>, Pos, Node)>,
        /// The key read, waiting for its value.
        key: Option<(String, Pos)>,
        anchor: usize,
        height: usize,
    },
}

/// An anchored value, with what it costs each time an alias repeats it.
struct Anchored {
    value: Value,
    /// Values inside it, itself included.
    nodes: usize,
    /// 1 for a scalar, one more than its tallest child for a collection.
    height: usize,
}

#[derive(Default)]
struct Builder<'a> {
    /// The text, to name an alias in an error.
    text: &'a str,
    stack: Vec<Frame>,
    root: Option<(Value, Node)>,
    anchors: HashMap<usize, Anchored>,
    /// Values in the document so far, aliases expanded.
    nodes: usize,
    /// Values copied into anchors (anchors nested in anchors copy again).
    copies: usize,
    /// For each open collection, `nodes` when it started (to size it for its anchor).
    started_at: Vec<usize>,
    error: Option<SyntaxError>,
    has_duplicates: bool,
}

impl Builder<'_> {
    fn fail(&mut self, at: Pos, message: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(SyntaxError {
                pos: at,
                message: message.into(),
            });
        }
    }

    /// Is the next node a mapping key?
    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    /// The alias written at `at` (`*name`), for messages.
    fn alias_name(&self, at: Pos) -> String {
        let name: String = self
            .text
            .lines()
            .nth(at.line - 1)
            .unwrap_or_default()
            .chars()
            .skip(at.col - 1)
            .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | '[' | ']' | '{' | '}'))
            .take(100)
            .collect();
        if name.starts_with('*') {
            name
        } else {
            "*".to_string()
        }
    }

    /// Counts `n` more values (and `height` more levels under the open collections)
    /// against the budget; false (with the error set) when over it.
    fn spend(&mut self, n: usize, height: usize, at: Pos, alias: bool) -> bool {
        self.nodes = self.nodes.saturating_add(n);
        let what = |b: &Self| {
            if alias {
                format!("the alias `{}`", b.alias_name(at))
            } else {
                "this value".to_string()
            }
        };
        if self.nodes > MAX_NODES {
            self.fail(
                at,
                format!(
                    "{} makes the document hold more than {MAX_NODES} values once aliases are expanded: a workflow needs nothing like it; write the values out, or repeat fewer of them",
                    what(self)
                ),
            );
            return false;
        }
        if self.stack.len() + height > MAX_DEPTH {
            self.fail(
                at,
                format!(
                    "values are nested more than {MAX_DEPTH} deep at {}: flatten the document",
                    what(self)
                ),
            );
            return false;
        }
        true
    }

    /// Places a finished node of `height` levels in its parent (or as the root).
    fn attach(&mut self, v: Value, node: Node, height: usize) {
        let at = node.pos;
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some((v, node));
                }
            }
            Some(Frame::Seq {
                items,
                nodes,
                height: h,
                ..
            }) => {
                items.push(v);
                nodes.push(node);
                *h = (*h).max(height);
            }
            Some(Frame::Map {
                map,
                members,
                key,
                height: h,
                ..
            }) => match key.take() {
                Some((k, kp)) => {
                    *h = (*h).max(height);
                    members.push((k.as_str().into(), kp, node));
                    if map.insert(k, v).is_some() {
                        self.has_duplicates = true;
                    }
                }
                None => {
                    // A mapping key: only scalars make sense in a workflow.
                    let k = match v {
                        Value::String(s) => s,
                        Value::Null => "null".to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Number(n) => n.to_string(),
                        _ => {
                            return self.fail(
                                at,
                                "a mapping key must be a plain value, not a list or mapping",
                            );
                        }
                    };
                    *key = Some((k, at));
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() || (self.root.is_some() && self.stack.is_empty()) {
            return;
        }
        let at = pos(&mark);
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                if !self.spend(1, 1, at, false) {
                    return;
                }
                let v = scalar(text, style, tag.as_ref());
                if anchor != 0 {
                    let value = v.clone();
                    self.anchors.insert(
                        anchor,
                        Anchored {
                            value,
                            nodes: 1,
                            height: 1,
                        },
                    );
                }
                self.attach(v, Node::leaf(at), 1);
            }
            Event::Alias(id) => {
                let Some((nodes, height)) = self.anchors.get(&id).map(|a| (a.nodes, a.height))
                else {
                    return self.fail(at, "alias to an anchor that is not defined before it");
                };
                if !self.spend(nodes, height, at, true) {
                    return;
                }
                // Problems inside an alias are reported at the alias.
                let v = self.anchors[&id].value.clone();
                self.attach(v, Node::leaf(at), height);
            }
            Event::SequenceStart(anchor, _) => {
                if self.expecting_key() {
                    return self.fail(at, "a mapping key must be a plain value, not a list");
                }
                if !self.spend(1, 1, at, false) {
                    return;
                }
                self.started_at.push(self.nodes);
                self.stack.push(Frame::Seq {
                    pos: at,
                    items: Vec::new(),
                    nodes: Vec::new(),
                    anchor,
                    height: 0,
                });
            }
            Event::MappingStart(anchor, _) => {
                if self.expecting_key() {
                    return self.fail(at, "a mapping key must be a plain value, not a mapping");
                }
                if !self.spend(1, 1, at, false) {
                    return;
                }
                self.started_at.push(self.nodes);
                self.stack.push(Frame::Map {
                    pos: at,
                    map: Map::new(),
                    members: Vec::new(),
                    key: None,
                    anchor,
                    height: 0,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (v, node, anchor, height) = match self.stack.pop() {
                    Some(Frame::Seq {
                        pos,
                        items,
                        nodes,
                        anchor,
                        height,
                    }) => (
                        Value::Array(items),
                        Node {
                            pos,
                            kids: Kids::Array(nodes),
                        },
                        anchor,
                        height + 1,
                    ),
                    Some(Frame::Map {
                        pos,
                        map,
                        members,
                        anchor,
                        height,
                        ..
                    }) => (
                        Value::Object(map),
                        Node {
                            pos,
                            kids: Kids::Object(members),
                        },
                        anchor,
                        height + 1,
                    ),
                    None => return,
                };
                // The collection itself was counted when it started.
                let first = self.started_at.pop().unwrap_or(self.nodes);
                if anchor != 0 {
                    // The anchor keeps a copy: copies have a budget of their own, so
                    // anchors nested in anchors cannot multiply memory either.
                    let nodes = self.nodes - first + 1;
                    self.copies = self.copies.saturating_add(nodes);
                    if self.copies > MAX_NODES {
                        return self.fail(
                            node.pos,
                            format!("the anchors of this document hold more than {MAX_NODES} values: anchor fewer, smaller values"),
                        );
                    }
                    let value = v.clone();
                    self.anchors.insert(
                        anchor,
                        Anchored {
                            value,
                            nodes,
                            height,
                        },
                    );
                }
                self.attach(v, node, height);
            }
            _ => {}
        }
    }
}

/// Types a scalar as YAML 1.2's core schema does; quoted or `!!str` means string.
fn scalar(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(t) = tag {
        if t.suffix == "str" {
            return Value::String(text);
        }
    }
    if style != TScalarStyle::Plain {
        return Value::String(text);
    }
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(&text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return Value::Number(i.into());
        }
        if let Ok(u) = text.parse::<u64>() {
            return Value::Number(u.into());
        }
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Value::Number(i.into());
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return Value::Number(i.into());
        }
    }
    let looks_float = digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if looks_float {
        if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_types_and_positions() {
        let text = "name: demo\ntasks:\n  - id: a\n    retries: 2\n    quoted: \"2\"\n    none: ~\n  - id: b\n";
        let (v, p) = parse(text).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"name": "demo", "tasks": [
                {"id": "a", "retries": 2, "quoted": "2", "none": null}, {"id": "b"}]})
        );
        assert_eq!(p.value("/tasks/1/id"), Pos { line: 7, col: 9 });
        assert_eq!(p.key("/tasks/0/retries"), Pos { line: 4, col: 5 });
        assert_eq!(p.value("/tasks/0/retries"), Pos { line: 4, col: 14 });
    }

    #[test]
    fn anchors_and_flow_style() {
        let (v, _) = parse("base: &b {x: [1, 2.5]}\ncopy: *b\n").unwrap();
        assert_eq!(v["copy"], serde_json::json!({"x": [1, 2.5]}));
    }

    #[test]
    fn syntax_error_position() {
        let e = parse("a: 1\nb: [1, 2\n").unwrap_err();
        assert!(e.message.starts_with("YAML:"), "{}", e.message);
        assert!(e.pos.line >= 2, "{:?}", e.pos);
    }
}
