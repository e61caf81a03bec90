//! Where every value of a parsed document sits in its text.
//!
//! serde_json and serde_yaml throw positions away once a value is built, but every
//! prflow diagnostic names a line and a column. The JSON and YAML readers in this
//! module build the [`Value`] and a map from JSON pointer to position in one pass, so
//! later checks that only know a pointer (`/tasks/3/agentId`) can still say where
//! the problem is.

use serde_json::Value;
use std::path::Path;

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// Positions of the values (and of the object keys) of one document, as a tree
/// shaped like the document. Building it costs one small node per value and no
/// hashing, which keeps a 1,000-task file fast to read; looking a pointer up walks
/// the tree, which only happens when there is something to report.
#[derive(Debug, Clone, Default)]
pub struct Positions {
    root: Option<Node>,
    /// Set by the reader when some object repeats a key (rare: skips a tree walk).
    pub(crate) has_duplicates: bool,
}

/// Where one value starts, and where its children are.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub pos: Pos,
    pub kids: Kids,
}

#[derive(Debug, Clone)]
pub(crate) enum Kids {
    Leaf,
    Array(Vec<Node>),
    /// Members in file order with the position of each key; a repeated key appears
    /// twice (the later one is the value that counts).
    Object(Vec<(Box<str>, Pos, Node)>),
}

impl Node {
    pub fn leaf(pos: Pos) -> Node {
        Node {
            pos,
            kids: Kids::Leaf,
        }
    }
}

/// The tokens of an RFC 6901 pointer, unescaped.
fn tokens(pointer: &str) -> impl Iterator<Item = String> + '_ {
    pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
}

impl Positions {
    pub(crate) fn new(root: Node, has_duplicates: bool) -> Self {
        Positions {
            root: Some(root),
            has_duplicates,
        }
    }

    /// The deepest node on the way to `pointer`, with the key position of the last
    /// member stepped into, and whether the whole pointer was found.
    fn walk(&self, pointer: &str) -> (Pos, Option<Pos>, bool) {
        let Some(mut node) = self.root.as_ref() else {
            return (Pos { line: 1, col: 1 }, None, false);
        };
        let mut key = None;
        for t in tokens(pointer) {
            let next = match &node.kids {
                Kids::Array(items) => t
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i))
                    .map(|n| (n, None)),
                Kids::Object(members) => members
                    .iter()
                    .rev()
                    .find(|(k, _, _)| **k == *t)
                    .map(|(_, kp, n)| (n, Some(*kp))),
                Kids::Leaf => None,
            };
            match next {
                Some((n, k)) => {
                    node = n;
                    key = k;
                }
                None => return (node.pos, None, false),
            }
        }
        (node.pos, key, true)
    }

    /// Where the value at `pointer` starts; falls back to the nearest ancestor that
    /// has a position (values produced by substitution have none of their own).
    pub fn value(&self, pointer: &str) -> Pos {
        self.walk(pointer).0
    }

    /// Where the key naming the member at `pointer` starts (for "unknown key"
    /// errors); the value's position when there is no key (array items, the root).
    pub fn key(&self, pointer: &str) -> Pos {
        match self.walk(pointer) {
            (_, Some(k), true) => k,
            (v, _, _) => v,
        }
    }

    /// Members whose key already appeared in the same object (the later one wins),
    /// as the pointer and the position of the repeated key.
    pub fn duplicate_keys(&self) -> Vec<(String, Pos)> {
        fn visit(node: &Node, pointer: &mut String, out: &mut Vec<(String, Pos)>) {
            match &node.kids {
                Kids::Leaf => {}
                Kids::Array(items) => {
                    for (i, n) in items.iter().enumerate() {
                        let len = pointer.len();
                        pointer.push_str(&format!("/{i}"));
                        visit(n, pointer, out);
                        pointer.truncate(len);
                    }
                }
                Kids::Object(members) => {
                    // A set, not a scan of the members before: linear in a
                    // 100,000-key object.
                    let mut seen = std::collections::HashSet::with_capacity(members.len());
                    for (k, kp, n) in members {
                        if !seen.insert(&**k) {
                            out.push((child(pointer, k), *kp));
                        }
                        let len = pointer.len();
                        push_token(pointer, k);
                        visit(n, pointer, out);
                        pointer.truncate(len);
                    }
                }
            }
        }
        let mut out = Vec::new();
        if !self.has_duplicates {
            return out;
        }
        if let Some(root) = &self.root {
            visit(root, &mut String::new(), &mut out);
        }
        out
    }
}

/// Appends `/token` to a pointer being built, escaped as RFC 6901 says.
pub fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    if !token.contains(['~', '/']) {
        pointer.push_str(token);
        return;
    }
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// Appends one reference token to a JSON pointer, escaped as RFC 6901 says.
pub fn child(pointer: &str, token: &str) -> String {
    let mut s = String::with_capacity(pointer.len() + token.len() + 1);
    s.push_str(pointer);
    push_token(&mut s, token);
    s
}

/// Appends an array index to a JSON pointer.
pub fn index(pointer: &str, i: usize) -> String {
    format!("{pointer}/{i}")
}

/// The 1-based line and column (in characters) of byte `at` of `bytes`, whose
/// first `at` bytes are valid UTF-8 (for "not valid UTF-8" errors).
pub fn pos_of_byte(bytes: &[u8], at: usize) -> Pos {
    let before = String::from_utf8_lossy(&bytes[..at.min(bytes.len())]);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Pos {
        line: before.matches('\n').count() + 1,
        col: before[line_start..].chars().count() + 1,
    }
}

/// A syntax error, with the place it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// The two text formats a workflow can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

/// Picks the format from the extension, else from the first meaningful character
/// (`{` or `[` means JSON; everything else is read as YAML, of which JSON is a subset
/// anyway, but our JSON reader gives better messages).
pub fn detect_format(path: &Path, text: &str) -> Format {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
    {
        Some(e) if e == "json" => return Format::Json,
        Some(e) if e == "yaml" || e == "yml" => return Format::Yaml,
        _ => {}
    }
    let first = text
        .trim_start_matches('\u{feff}')
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    match first {
        Some(l) if l.starts_with('{') || l.starts_with('[') => Format::Json,
        _ => Format::Yaml,
    }
}

/// The positions in a workflow file's text, for problems found after loading (such
/// as tasks no runner on this machine can serve). Empty when the text does not parse.
pub fn positions_in(path: &Path, text: &str) -> Positions {
    read_document(detect_format(path, text), text)
        .map(|(_, p)| p)
        .unwrap_or_default()
}

/// Reads `text` as `format` into a value; the positions come along only when they
/// cost nothing extra (YAML). Also says whether some object repeats a key.
pub(crate) fn read_value(
    format: Format,
    text: &str,
) -> Result<(Value, Option<Positions>, bool), SyntaxError> {
    match format {
        Format::Json => super::json::parse_value(text).map(|(v, dups)| (v, None, dups)),
        Format::Yaml => super::yaml::parse(text).map(|(v, p)| {
            let dups = p.has_duplicates;
            (v, Some(p), dups)
        }),
    }
}

/// Reads `text` as `format` into a value and the positions of all its parts.
pub fn read_document(format: Format, text: &str) -> Result<(Value, Positions), SyntaxError> {
    match format {
        Format::Json => super::json::parse(text),
        Format::Yaml => super::yaml::parse(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_tokens_are_escaped() {
        assert_eq!(child("", "a/b~c"), "/a~1b~0c");
        assert_eq!(index("/tasks", 3), "/tasks/3");
    }

    #[test]
    fn unknown_pointer_falls_back_to_ancestor() {
        let at = |line, col| Pos { line, col };
        let tasks = Node {
            pos: at(4, 3),
            kids: Kids::Array(vec![Node::leaf(at(5, 5))]),
        };
        let root = Node {
            pos: at(1, 1),
            kids: Kids::Object(vec![("a/b".into(), at(4, 1), tasks)]),
        };
        let p = Positions::new(root, false);
        assert_eq!(p.value("/a~1b/0"), at(5, 5));
        assert_eq!(p.key("/a~1b"), at(4, 1));
        assert_eq!(p.value("/a~1b/9/input"), at(4, 3));
        assert_eq!(p.key("/a~1b/9"), at(4, 3));
        assert_eq!(p.value("/nothing"), at(1, 1));
    }

    #[test]
    fn format_from_extension_then_content() {
        assert_eq!(detect_format(Path::new("a.yml"), "{}"), Format::Yaml);
        assert_eq!(detect_format(Path::new("a.JSON"), "a: 1"), Format::Json);
        assert_eq!(
            detect_format(Path::new("wf"), "# c\n  {\"a\": 1}"),
            Format::Json
        );
        assert_eq!(detect_format(Path::new("wf"), "name: x"), Format::Yaml);
    }
}
