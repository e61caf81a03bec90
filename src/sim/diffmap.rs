//! Where an inline review comment lands in a pull request's diff, the way GitHub
//! counts it: `position` is the line index below the file's first `@@` header
//! (later hunk headers count too), `line`/`side` is a line number of the new
//! (`RIGHT`) or old (`LEFT`) file that the diff shows. A comment anywhere else is
//! refused with GitHub's 422, so code that passes here does not fail there.

/// One line of a file's patch, numbered by `position` (its index + 1).
#[derive(Clone, Debug, PartialEq)]
struct Row {
    /// Which hunk (0-based) the row belongs to.
    hunk: usize,
    /// `@` (a later hunk header), `+`, `-`, ` ` or `\` (no newline at end of file).
    kind: char,
    old: Option<u64>,
    new: Option<u64>,
    text: String,
}

/// A file's patch (GitHub's `patch`, starting at the first `@@`), indexed.
pub struct FileDiff {
    first_header: String,
    rows: Vec<Row>,
}

/// A resolved comment anchor.
#[derive(Clone, Debug, PartialEq)]
pub struct Anchor {
    pub position: u64,
    pub line: u64,
    pub side: &'static str,
    pub start_line: Option<u64>,
    pub start_side: Option<&'static str>,
    /// The hunk header and every line of the hunk down to the anchor, as GitHub's `diff_hunk`.
    pub diff_hunk: String,
}

/// Why an anchor could not be resolved (GitHub's wording, for the 422).
#[derive(Clone, Debug, PartialEq)]
pub enum Unresolved {
    /// The line (or position) is not in the diff.
    Line,
    /// `start_line` is not in the diff, or not in the same hunk as `line`.
    StartHunk,
    /// `start_line` is not above `line`.
    StartAfterEnd,
}

fn header_starts(h: &str) -> Option<(u64, u64)> {
    // "@@ -a,b +c,d @@ …"
    let mut parts = h.split_whitespace().skip(1);
    let old = parts.next()?.strip_prefix('-')?;
    let new = parts.next()?.strip_prefix('+')?;
    let n = |s: &str| s.split(',').next().and_then(|x| x.parse().ok());
    Some((n(old)?, n(new)?))
}

impl FileDiff {
    pub fn parse(patch: &str) -> FileDiff {
        let mut rows = vec![];
        let mut first_header = String::new();
        let (mut old, mut new, mut hunk) = (0u64, 0u64, 0usize);
        for (i, l) in patch.lines().enumerate() {
            if l.starts_with("@@") {
                let (o, n) = header_starts(l).unwrap_or((1, 1));
                (old, new) = (o, n);
                if i == 0 {
                    first_header = l.to_string();
                    continue;
                }
                hunk += 1;
                rows.push(Row {
                    hunk,
                    kind: '@',
                    old: None,
                    new: None,
                    text: l.to_string(),
                });
                continue;
            }
            let kind = l.chars().next().unwrap_or(' ');
            let (o, n) = match kind {
                '+' => (None, Some(new)),
                '-' => (Some(old), None),
                '\\' => (None, None),
                _ => (Some(old), Some(new)),
            };
            if o.is_some() {
                old += 1;
            }
            if n.is_some() {
                new += 1;
            }
            rows.push(Row {
                hunk,
                kind,
                old: o,
                new: n,
                text: l.to_string(),
            });
        }
        FileDiff { first_header, rows }
    }

    /// The row index of `line` on `side` (`LEFT`: old file, `RIGHT`: new file).
    fn find(&self, line: u64, side: &str) -> Option<usize> {
        self.rows.iter().position(|r| match side {
            "LEFT" => r.old == Some(line) && r.kind != '+',
            _ => r.new == Some(line) && r.kind != '-',
        })
    }

    fn side_of(r: &Row) -> Option<(u64, &'static str)> {
        match r.kind {
            '-' => r.old.map(|l| (l, "LEFT")),
            '+' | ' ' => r.new.map(|l| (l, "RIGHT")),
            _ => None,
        }
    }

    fn hunk_text(&self, to: usize) -> String {
        let hunk = self.rows[to].hunk;
        let start = self.rows[..=to]
            .iter()
            .rposition(|r| r.kind == '@' && r.hunk == hunk);
        let (head, from) = match start {
            Some(s) => (self.rows[s].text.clone(), s + 1),
            None => (self.first_header.clone(), 0),
        };
        let mut out = vec![head];
        out.extend(self.rows[from..=to].iter().map(|r| r.text.clone()));
        out.join("\n")
    }

    /// Resolves `position` (the deprecated form).
    pub fn at_position(&self, position: u64) -> Result<Anchor, Unresolved> {
        let i = (position as usize)
            .checked_sub(1)
            .filter(|i| *i < self.rows.len())
            .ok_or(Unresolved::Line)?;
        let (line, side) = Self::side_of(&self.rows[i]).ok_or(Unresolved::Line)?;
        Ok(Anchor {
            position,
            line,
            side,
            start_line: None,
            start_side: None,
            diff_hunk: self.hunk_text(i),
        })
    }

    /// Resolves `line`/`side`, with `start_line`/`start_side` for a multi-line comment.
    pub fn at_line(
        &self,
        line: u64,
        side: &str,
        start: Option<(u64, &str)>,
    ) -> Result<Anchor, Unresolved> {
        let i = self.find(line, side).ok_or(Unresolved::Line)?;
        let (line, side) = Self::side_of(&self.rows[i]).ok_or(Unresolved::Line)?;
        let mut a = Anchor {
            position: i as u64 + 1,
            line,
            side,
            start_line: None,
            start_side: None,
            diff_hunk: self.hunk_text(i),
        };
        if let Some((sl, ss)) = start {
            let j = self.find(sl, ss).ok_or(Unresolved::StartHunk)?;
            if self.rows[j].hunk != self.rows[i].hunk {
                return Err(Unresolved::StartHunk);
            }
            if j >= i {
                return Err(Unresolved::StartAfterEnd);
            }
            let (sl, ss) = Self::side_of(&self.rows[j]).ok_or(Unresolved::StartHunk)?;
            a.start_line = Some(sl);
            a.start_side = Some(ss);
        }
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATCH: &str = "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n@@ -10,2 +10,3 @@ fn x\n j\n+k\n l";

    #[test]
    fn positions_count_later_hunk_headers() {
        let d = FileDiff::parse(PATCH);
        assert_eq!(d.at_position(2).unwrap().side, "LEFT");
        assert_eq!(d.at_position(2).unwrap().line, 2);
        assert_eq!(d.at_position(3).unwrap().line, 2);
        assert_eq!(d.at_position(5), Err(Unresolved::Line), "a hunk header");
        let k = d.at_position(7).unwrap();
        assert_eq!((k.line, k.side), (11, "RIGHT"));
        assert_eq!(k.diff_hunk, "@@ -10,2 +10,3 @@ fn x\n j\n+k");
        assert_eq!(d.at_position(9), Err(Unresolved::Line));
        assert_eq!(d.at_position(0), Err(Unresolved::Line));
    }

    #[test]
    fn lines_resolve_on_their_side_only() {
        let d = FileDiff::parse(PATCH);
        let a = d.at_line(11, "RIGHT", None).unwrap();
        assert_eq!(a.position, 7);
        assert_eq!(d.at_line(5, "RIGHT", None), Err(Unresolved::Line));
        assert_eq!(d.at_line(2, "LEFT", None).unwrap().position, 2);
        assert_eq!(d.at_line(2, "RIGHT", None).unwrap().position, 3);
        assert_eq!(d.at_line(12, "LEFT", None), Err(Unresolved::Line));
        let m = d.at_line(12, "RIGHT", Some((10, "RIGHT"))).unwrap();
        assert_eq!((m.start_line, m.start_side), (Some(10), Some("RIGHT")));
        assert_eq!(
            d.at_line(11, "RIGHT", Some((1, "RIGHT"))),
            Err(Unresolved::StartHunk)
        );
        assert_eq!(
            d.at_line(10, "RIGHT", Some((11, "RIGHT"))),
            Err(Unresolved::StartAfterEnd)
        );
        assert_eq!(
            d.at_line(1, "RIGHT", None).unwrap().diff_hunk,
            "@@ -1,3 +1,3 @@\n a"
        );
    }
}
