//! Problems found in a workflow file, each with file, line, column and JSON pointer.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem: rendered as `FILE:LINE:COL: error: MESSAGE (at /json/pointer)`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    /// 1-based; 0 when the problem has no place in the file (unreadable file).
    pub line: usize,
    /// 1-based.
    pub col: usize,
    /// RFC 6901 pointer into the document (`/tasks/3/agentId`), empty for the whole file.
    pub pointer: String,
    pub message: String,
}

impl Diagnostic {
    pub fn error(
        file: impl Into<String>,
        line: usize,
        col: usize,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: file.into(),
            line,
            col,
            pointer: clip(pointer.into()),
            message: clip(message.into()),
        }
    }

    pub fn warning(
        file: impl Into<String>,
        line: usize,
        col: usize,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(file, line, col, pointer, message)
        }
    }
}

/// Messages and pointers longer than this many characters are cut in the middle.
pub const MAX_QUOTED_CHARS: usize = 400;

/// Cuts the middle out of a message or pointer longer than [`MAX_QUOTED_CHARS`]:
/// a value quoted in a message can be megabytes long, but one problem is one
/// readable line. The start (what is wrong) and the end (the fix) are kept.
pub fn clip(text: String) -> String {
    let chars = text.chars().count();
    if chars <= MAX_QUOTED_CHARS {
        return text;
    }
    let (head, tail) = (250, 150);
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(chars - tail).collect();
    format!("{start}… ({} characters cut) …{end}", chars - head - tail)
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.col, sev, self.message
        )?;
        if !self.pointer.is_empty() {
            write!(f, " (at {})", self.pointer)?;
        }
        Ok(())
    }
}

/// Every problem found, errors first in file order.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn single(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Collects the problems of one file while it is checked, placing each by pointer.
///
/// Checks know pointers (`/tasks/3/agentId`); the positions of the text turn them
/// into line and column, so no check ever counts lines itself. The positions are
/// computed on the first problem only: a valid file never pays for them.
pub(crate) struct Report<'a> {
    pub file: String,
    text: &'a str,
    format: super::locate::Format,
    positions: std::cell::OnceCell<super::locate::Positions>,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl<'a> Report<'a> {
    pub fn new(
        file: String,
        text: &'a str,
        format: super::locate::Format,
        positions: Option<super::locate::Positions>,
    ) -> Self {
        let cell = std::cell::OnceCell::new();
        if let Some(p) = positions {
            let _ = cell.set(p);
        }
        Report {
            file,
            text,
            format,
            positions: cell,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Positions of the text (read once, on first use).
    pub fn positions(&self) -> &super::locate::Positions {
        self.positions.get_or_init(|| {
            super::locate::read_document(self.format, self.text)
                .map(|(_, p)| p)
                .unwrap_or_default()
        })
    }

    /// An error about the value at `pointer`.
    pub fn error(&mut self, pointer: &str, message: impl Into<String>) {
        self.push(Severity::Error, false, pointer, message.into());
    }

    /// An error about the key of the member at `pointer` (unknown or misplaced keys).
    pub fn error_at_key(&mut self, pointer: &str, message: impl Into<String>) {
        self.push(Severity::Error, true, pointer, message.into());
    }

    pub fn warning(&mut self, pointer: &str, message: impl Into<String>) {
        self.push(Severity::Warning, false, pointer, message.into());
    }

    pub fn warning_at_key(&mut self, pointer: &str, message: impl Into<String>) {
        self.push(Severity::Warning, true, pointer, message.into());
    }

    /// One diagnostic placed at the value or the key of `pointer`, into its list.
    fn push(&mut self, severity: Severity, at_key: bool, pointer: &str, message: String) {
        let positions = self.positions();
        let p = if at_key {
            positions.key(pointer)
        } else {
            positions.value(pointer)
        };
        let d = Diagnostic {
            severity,
            ..Diagnostic::error(&self.file, p.line, p.col, pointer, message)
        };
        match severity {
            Severity::Error => self.errors.push(d),
            Severity::Warning => self.warnings.push(d),
        }
    }

    /// Sorts both lists into file order (stable, so checks keep their order on one spot).
    pub fn sort(&mut self) {
        self.errors.sort_by_key(|d| (d.line, d.col));
        self.warnings.sort_by_key(|d| (d.line, d.col));
    }
}
