//! A unified diff cut into table rows with old and new line numbers, the way
//! GitHub's "Files changed" shows it, so a review comment can name the exact
//! `line` and `side` the REST API expects.

use serde::Serialize;

/// One row of a file's diff.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// `hunk`, `add`, `del` or `ctx`.
    pub kind: &'static str,
    pub old: Option<u64>,
    pub new: Option<u64>,
    /// The line without its `+`/`-`/` ` prefix (the hunk header for `hunk`).
    pub text: String,
}

impl Row {
    /// The side and line a review comment on this row targets (`None` for hunk headers).
    pub fn anchor(&self) -> Option<(&'static str, u64)> {
        match self.kind {
            "del" => self.old.map(|l| ("LEFT", l)),
            "add" | "ctx" => self.new.map(|l| ("RIGHT", l)),
            _ => None,
        }
    }
}

/// Rows of a patch that starts at its first `@@` hunk header (GitHub's `patch` field).
pub fn rows(patch: &str) -> Vec<Row> {
    let mut out = vec![];
    let (mut old, mut new) = (0u64, 0u64);
    for line in patch.lines() {
        if let Some(rest) = line.strip_prefix("@@") {
            let (o, n) = hunk_starts(rest);
            old = o;
            new = n;
            out.push(Row {
                kind: "hunk",
                old: None,
                new: None,
                text: line.to_string(),
            });
        } else if let Some(t) = line.strip_prefix('+') {
            out.push(Row {
                kind: "add",
                old: None,
                new: Some(new),
                text: t.to_string(),
            });
            new += 1;
        } else if let Some(t) = line.strip_prefix('-') {
            out.push(Row {
                kind: "del",
                old: Some(old),
                new: None,
                text: t.to_string(),
            });
            old += 1;
        } else if line.starts_with('\\') {
            // "\ No newline at end of file": not a line of either side.
            continue;
        } else {
            out.push(Row {
                kind: "ctx",
                old: Some(old),
                new: Some(new),
                text: line.strip_prefix(' ').unwrap_or(line).to_string(),
            });
            old += 1;
            new += 1;
        }
    }
    out
}

/// `-12,3 +14,5 @@ …` → (12, 14).
fn hunk_starts(rest: &str) -> (u64, u64) {
    let mut old = 1;
    let mut new = 1;
    for part in rest.split_whitespace() {
        let num = |p: &str| {
            p.split(',')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(1)
        };
        if let Some(p) = part.strip_prefix('-') {
            old = num(p);
        } else if let Some(p) = part.strip_prefix('+') {
            new = num(p);
        } else if part == "@@" {
            break;
        }
    }
    (old, new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_both_sides() {
        let r = rows("@@ -1,3 +1,4 @@ fn\n a\n-b\n+B\n+C\n c\n\\ No newline at end of file\n");
        let got: Vec<_> = r.iter().map(|r| (r.kind, r.old, r.new)).collect();
        assert_eq!(
            got,
            vec![
                ("hunk", None, None),
                ("ctx", Some(1), Some(1)),
                ("del", Some(2), None),
                ("add", None, Some(2)),
                ("add", None, Some(3)),
                ("ctx", Some(3), Some(4)),
            ]
        );
        assert_eq!(r[2].anchor(), Some(("LEFT", 2)));
        assert_eq!(r[4].anchor(), Some(("RIGHT", 3)));
    }

    #[test]
    fn new_file_starts_at_one() {
        let r = rows("@@ -0,0 +1,2 @@\n+x\n+y\n");
        assert_eq!(r[2].new, Some(2));
    }
}
