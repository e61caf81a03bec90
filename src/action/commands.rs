//! Workflow commands (`::error file=…,line=…::message`): how a step puts
//! annotations on files and messages at the top of the run page.
//!
//! The runner parses these lines from stdout, so data and property values are
//! escaped exactly as GitHub's toolkit does (`%` first, then CR and LF; in
//! properties also `:` and `,`), otherwise a message with a newline or a
//! percent sign would be cut or garbled.

use crate::workflow::{Diagnostic, Severity};
use std::fmt;
use std::path::Path;

/// Annotation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

/// One `::level props::message` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub level: Level,
    pub title: Option<String>,
    /// Repository-relative path, so GitHub can show the annotation on the file.
    pub file: Option<String>,
    /// 1-based; `None` (or 0) when the problem has no place in the file.
    pub line: Option<usize>,
    pub col: Option<usize>,
    pub message: String,
}

impl Annotation {
    pub fn new(level: Level, message: impl Into<String>) -> Self {
        Annotation {
            level,
            title: None,
            file: None,
            line: None,
            col: None,
            message: message.into(),
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Annotation::new(Level::Error, message)
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Annotation::new(Level::Warning, message)
    }

    pub fn notice(message: impl Into<String>) -> Self {
        Annotation::new(Level::Notice, message)
    }

    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// A workflow-file problem placed on its file, line and column. `workspace`
    /// is stripped from the file name: annotations need repository-relative paths.
    pub fn from_diagnostic(d: &Diagnostic, workspace: &Path) -> Self {
        let level = match d.severity {
            Severity::Error => Level::Error,
            Severity::Warning => Level::Warning,
        };
        let file = Path::new(&d.file)
            .strip_prefix(workspace)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_else(|_| d.file.clone());
        let mut message = d.message.clone();
        if !d.pointer.is_empty() {
            message.push_str(&format!(" (at {})", d.pointer));
        }
        Annotation {
            level,
            title: Some("prflow: invalid workflow file".into()),
            file: Some(file),
            line: (d.line > 0).then_some(d.line),
            col: (d.line > 0 && d.col > 0).then_some(d.col),
            message,
        }
    }
}

impl fmt::Display for Annotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut props: Vec<String> = Vec::new();
        if let Some(t) = &self.title {
            props.push(format!("title={}", escape_property(t)));
        }
        if let Some(file) = &self.file {
            props.push(format!("file={}", escape_property(file)));
        }
        if let Some(line) = self.line {
            props.push(format!("line={line}"));
        }
        if let Some(col) = self.col {
            props.push(format!("col={col}"));
        }
        write!(f, "::{}", self.level.as_str())?;
        if !props.is_empty() {
            write!(f, " {}", props.join(","))?;
        }
        write!(f, "::{}", escape_data(&self.message))
    }
}

/// Escapes a command's message (`%`, CR, LF).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value (`%`, CR, LF, `:`, `,`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_and_property_escaping_match_the_toolkit() {
        assert_eq!(escape_data("100% done\r\nnext"), "100%25 done%0D%0Anext");
        assert_eq!(escape_data("%0A"), "%250A");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }

    #[test]
    fn plain_levels() {
        assert_eq!(Annotation::notice("hi").to_string(), "::notice::hi");
        assert_eq!(
            Annotation::warning("two\nlines").title("t,1").to_string(),
            "::warning title=t%2C1::two%0Alines"
        );
    }

    #[test]
    fn diagnostics_become_file_annotations_relative_to_the_workspace() {
        let d = Diagnostic::error(
            "/home/runner/work/shop/flows/a.json",
            3,
            14,
            "/tasks/0/agentId",
            "unknown agent `x`, did you mean `y`?",
        );
        let a = Annotation::from_diagnostic(&d, Path::new("/home/runner/work/shop"));
        assert_eq!(
            a.to_string(),
            "::error title=prflow%3A invalid workflow file,file=flows/a.json,line=3,col=14::\
             unknown agent `x`, did you mean `y`? (at /tasks/0/agentId)"
        );
    }

    #[test]
    fn a_diagnostic_without_a_place_has_no_line() {
        let d = Diagnostic::error("flows/gone.json", 0, 0, "", "cannot read the workflow file");
        let a = Annotation::from_diagnostic(&d, Path::new("/elsewhere"));
        assert_eq!(a.line, None);
        assert_eq!(a.col, None);
        assert!(a.to_string().contains("file=flows/gone.json::"));
    }

    #[test]
    fn warnings_stay_warnings() {
        let d = Diagnostic::warning("w.yml", 1, 1, "/x", "unknown key");
        assert!(Annotation::from_diagnostic(&d, Path::new("/"))
            .to_string()
            .starts_with("::warning "));
    }
}
