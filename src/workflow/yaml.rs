//! YAML workflow files, read through yaml-rust2's event parser so that every value
//! keeps its line and column.
//!
//! Scalars are typed the way YAML 1.2's core schema says (`true`, `12`, `1.5`,
//! `null`/`~`); quoted scalars are always strings. Anchors and aliases work; only
//! the first document of a stream is read.

use super::locate::{Kids, Node, Pos, Positions, SyntaxError};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

pub fn parse(text: &str) -> Result<(Value, Positions), SyntaxError> {
    let mut b = Builder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut b, false) {
        return Err(SyntaxError {
            pos: pos(e.marker()),
            message: format!("YAML: {}", e.info()),
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
    },
    Map {
        pos: Pos,
        map: Map<String, Value>,
        members: Vec<(Box<str>, Pos, Node)>,
        /// The key read, waiting for its value.
        key: Option<(String, Pos)>,
        anchor: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<(Value, Node)>,
    anchors: HashMap<usize, Value>,
    error: Option<SyntaxError>,
    has_duplicates: bool,
}

impl Builder {
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

    /// Places a finished node in its parent (or as the root).
    fn attach(&mut self, v: Value, node: Node) {
        let at = node.pos;
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some((v, node));
                }
            }
            Some(Frame::Seq { items, nodes, .. }) => {
                items.push(v);
                nodes.push(node);
            }
            Some(Frame::Map {
                map, members, key, ..
            }) => match key.take() {
                Some((k, kp)) => {
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

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() || (self.root.is_some() && self.stack.is_empty()) {
            return;
        }
        let at = pos(&mark);
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let v = scalar(text, style, tag.as_ref());
                if anchor != 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                self.attach(v, Node::leaf(at));
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                // Problems inside an alias are reported at the alias.
                Some(v) => self.attach(v, Node::leaf(at)),
                None => self.fail(at, "alias to an anchor that is not defined before it"),
            },
            Event::SequenceStart(anchor, _) => {
                if self.expecting_key() {
                    return self.fail(at, "a mapping key must be a plain value, not a list");
                }
                self.stack.push(Frame::Seq {
                    pos: at,
                    items: Vec::new(),
                    nodes: Vec::new(),
                    anchor,
                });
            }
            Event::MappingStart(anchor, _) => {
                if self.expecting_key() {
                    return self.fail(at, "a mapping key must be a plain value, not a mapping");
                }
                self.stack.push(Frame::Map {
                    pos: at,
                    map: Map::new(),
                    members: Vec::new(),
                    key: None,
                    anchor,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (v, node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq {
                        pos,
                        items,
                        nodes,
                        anchor,
                    }) => (
                        Value::Array(items),
                        Node {
                            pos,
                            kids: Kids::Array(nodes),
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        pos,
                        map,
                        members,
                        anchor,
                        ..
                    }) => (
                        Value::Object(map),
                        Node {
                            pos,
                            kids: Kids::Object(members),
                        },
                        anchor,
                    ),
                    None => return,
                };
                if anchor != 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                self.attach(v, node);
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
