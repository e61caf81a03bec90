//! Where every value of a parsed document sits in its text.
//!
//! serde_json and serde_yaml throw positions away once a value is built, but every
//! prflow diagnostic names a line and a column. The JSON and YAML readers in this
//! module build the [`Value`] and a map from JSON pointer to position in one pass, so
//! later checks that only know a pointer (`/tasks/3/agentId`) can still say where
//! the problem is.

use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// Positions of the values (and of the object keys) of one document.
#[derive(Debug, Clone, Default)]
pub struct Positions {
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
    /// Members whose key already appeared in the same object (the later one wins).
    pub(crate) duplicate_keys: Vec<(String, Pos)>,
}

impl Positions {
    pub(crate) fn set_value(&mut self, pointer: &str, pos: Pos) {
        self.values.insert(pointer.to_string(), pos);
    }

    pub(crate) fn set_key(&mut self, pointer: &str, pos: Pos) {
        self.keys.insert(pointer.to_string(), pos);
    }

    /// Where the value at `pointer` starts; falls back to the nearest ancestor that
    /// has a position (values produced by substitution have none of their own).
    pub fn value(&self, pointer: &str) -> Pos {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.values.get(p) {
                return *pos;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return Pos { line: 1, col: 1 },
            }
        }
    }

    /// Where the key naming the member at `pointer` starts (for "unknown key"
    /// errors); the value's position when there is no key (array items, the root).
    pub fn key(&self, pointer: &str) -> Pos {
        self.keys
            .get(pointer)
            .copied()
            .unwrap_or_else(|| self.value(pointer))
    }
}

/// Appends one reference token to a JSON pointer, escaped as RFC 6901 says.
pub fn child(pointer: &str, token: &str) -> String {
    let mut s = String::with_capacity(pointer.len() + token.len() + 1);
    s.push_str(pointer);
    s.push('/');
    for c in token.chars() {
        match c {
            '~' => s.push_str("~0"),
            '/' => s.push_str("~1"),
            c => s.push(c),
        }
    }
    s
}

/// Appends an array index to a JSON pointer.
pub fn index(pointer: &str, i: usize) -> String {
    format!("{pointer}/{i}")
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
        let mut p = Positions::default();
        p.set_value("/tasks", Pos { line: 4, col: 3 });
        assert_eq!(p.value("/tasks/9/input"), Pos { line: 4, col: 3 });
        assert_eq!(p.key("/tasks/9"), Pos { line: 4, col: 3 });
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
