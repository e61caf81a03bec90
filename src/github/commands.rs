//! `/prflow <verb> [args]` commands in comments, parsed the way a person
//! reads the rendered markdown: a command is a line of its own that starts
//! with `/prflow`, outside fenced or indented code, block quotes and HTML
//! comments. Quoting someone's command therefore never runs it again, and a
//! README pasted in a code block is inert.

use serde::{Deserialize, Serialize};

/// One command found in a comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// `/prflow run [path]`: start or continue the run of a workflow file.
    Run { path: Option<String> },
    /// `/prflow status`: refresh the status comment.
    Status,
    /// `/prflow retry [task]`: run a failed task (or the failed ones) again.
    Retry { task: Option<String> },
    /// `/prflow rollback <checkpoint>`: drop every phase after a checkpoint.
    Rollback { checkpoint: String },
    /// `/prflow abort`: stop the run, close its PRs.
    Abort,
    /// `/prflow land`: merge the stack into the base branch.
    Land,
    /// `/prflow update`: merge the base branch into phase 1 and forward through the stack.
    Update,
    /// `/prflow help` (or a bare `/prflow`).
    Help,
    /// A verb prflow does not know; answer with help.
    Unknown(String),
    /// A known verb with wrong arguments; `reason` says what is wrong.
    Invalid { verb: String, reason: String },
}

impl Command {
    /// The verb as typed (lowercase).
    pub fn verb(&self) -> &str {
        match self {
            Command::Run { .. } => "run",
            Command::Status => "status",
            Command::Retry { .. } => "retry",
            Command::Rollback { .. } => "rollback",
            Command::Abort => "abort",
            Command::Land => "land",
            Command::Update => "update",
            Command::Help => "help",
            Command::Unknown(v) => v,
            Command::Invalid { verb, .. } => verb,
        }
    }
}

/// The reply to `/prflow help` and to unknown commands.
pub fn help_text() -> &'static str {
    "prflow commands (people with write access only, one per line):\n\n\
| command | what it does |\n\
|---|---|\n\
| `/prflow run [path]` | start or continue the run of a workflow file |\n\
| `/prflow status` | refresh the run's status comment |\n\
| `/prflow retry [task]` | run a failed task again (all failed tasks without a name) |\n\
| `/prflow rollback <checkpoint>` | close later PRs, delete later branches, run again from that checkpoint |\n\
| `/prflow abort` | stop the run and close its pull requests |\n\
| `/prflow land` | merge the stacked pull requests into the base branch, in order |\n\
| `/prflow update` | merge the base branch into phase 1 and forward through the stack |\n\
| `/prflow help` | this table |\n\n\
Commands inside code blocks, inline code and quotes are ignored."
}

/// Every command in `body`, in order.
pub fn parse_commands(body: &str) -> Vec<Command> {
    let mut out = Vec::new();
    // Open fence: its character and length.
    let mut fence: Option<(char, usize)> = None;
    let mut in_html_comment = false;
    for raw in body.lines() {
        let indent = indent_width(raw);
        let line = raw.trim_start();
        if let Some((ch, len)) = fence {
            if indent <= 3 && closes_fence(line, ch, len) {
                fence = None;
            }
            continue;
        }
        if in_html_comment {
            if line.contains("-->") {
                in_html_comment = false;
            }
            continue;
        }
        if line.is_empty() || indent >= 4 {
            // Indented code block (or nothing at all).
            continue;
        }
        if let Some(f) = opens_fence(line) {
            fence = Some(f);
            continue;
        }
        if line.starts_with('>') {
            continue;
        }
        if let Some(after) = line.strip_prefix("<!--") {
            if !after.contains("-->") {
                in_html_comment = true;
            }
            continue;
        }
        if let Some(cmd) = parse_line(line) {
            out.push(cmd);
        }
    }
    out
}

fn indent_width(line: &str) -> usize {
    let mut w = 0;
    for c in line.chars() {
        match c {
            ' ' => w += 1,
            '\t' => w += 4 - (w % 4),
            _ => break,
        }
    }
    w
}

fn opens_fence(line: &str) -> Option<(char, usize)> {
    let ch = line.chars().next()?;
    if ch != '`' && ch != '~' {
        return None;
    }
    let len = line.chars().take_while(|&c| c == ch).count();
    if len < 3 {
        return None;
    }
    // A backtick fence's info string may not hold backticks (CommonMark).
    if ch == '`' && line[len..].contains('`') {
        return None;
    }
    Some((ch, len))
}

fn closes_fence(line: &str, ch: char, len: usize) -> bool {
    let n = line.chars().take_while(|&c| c == ch).count();
    n >= len && line[n * ch.len_utf8()..].trim().is_empty()
}

fn parse_line(line: &str) -> Option<Command> {
    const PREFIX: &str = "/prflow";
    if !line
        .get(..PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(PREFIX))
    {
        return None;
    }
    let rest = &line[PREFIX.len()..];
    if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
        return None; // `/prflowx`, `/prflow-foo`: not ours
    }
    let mut words = rest.split_whitespace().map(unquote);
    let Some(verb) = words.next() else {
        return Some(Command::Help);
    };
    let verb = verb.to_ascii_lowercase();
    let args: Vec<String> = words
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let invalid = |reason: &str| Command::Invalid {
        verb: verb.clone(),
        reason: reason.to_string(),
    };
    Some(match verb.as_str() {
        "run" => match args.len() {
            0 => Command::Run { path: None },
            1 => Command::Run {
                path: Some(args[0].clone()),
            },
            _ => invalid("`run` takes at most one workflow path"),
        },
        "retry" => match args.len() {
            0 => Command::Retry { task: None },
            1 => Command::Retry {
                task: Some(args[0].clone()),
            },
            _ => invalid("`retry` takes at most one task id"),
        },
        "rollback" => match args.len() {
            1 => Command::Rollback {
                checkpoint: args[0].clone(),
            },
            0 => invalid("`rollback` needs the checkpoint to go back to, e.g. `/prflow rollback design-architecture`"),
            _ => invalid("`rollback` takes exactly one checkpoint"),
        },
        "status" | "abort" | "land" | "update" | "help" if !args.is_empty() => {
            invalid(&format!("`{verb}` takes no arguments"))
        }
        "status" => Command::Status,
        "abort" => Command::Abort,
        "land" => Command::Land,
        "update" => Command::Update,
        "help" => Command::Help,
        _ => Command::Unknown(verb),
    })
}

/// `path`, "path", 'path' → path: people quote arguments in many ways.
fn unquote(word: &str) -> &str {
    word.trim_matches(|c| c == '`' || c == '"' || c == '\'')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_and_arguments() {
        let cmds = parse_commands(
            "/prflow run flows/ms.json\n/prflow status\n/prflow retry create-auth-service\n/prflow rollback design\n/prflow abort\n/prflow land\n/prflow help\n/prflow\n/prflow frobnicate\n/prflow retry",
        );
        assert_eq!(
            cmds,
            vec![
                Command::Run {
                    path: Some("flows/ms.json".into())
                },
                Command::Status,
                Command::Retry {
                    task: Some("create-auth-service".into())
                },
                Command::Rollback {
                    checkpoint: "design".into()
                },
                Command::Abort,
                Command::Land,
                Command::Help,
                Command::Help,
                Command::Unknown("frobnicate".into()),
                Command::Retry { task: None },
            ]
        );
    }

    #[test]
    fn ignores_code_quotes_and_comments() {
        let body = "Here is how:\n\n```\n/prflow land\n```\n\n~~~~md\n/prflow abort\n~~~~\n\n    /prflow abort\n\n> /prflow land\n>> /prflow land\n\n`/prflow land` starts landing.\nSay /prflow land mid-sentence.\n<!--\n/prflow abort\n-->\n<!-- prflow:status run=x -->\n/prflowland\n";
        assert_eq!(parse_commands(body), vec![]);
    }

    #[test]
    fn command_after_a_closed_fence_counts() {
        let body = "```rust\nfn main() {}\n```\n/prflow status\n";
        assert_eq!(parse_commands(body), vec![Command::Status]);
        // An unclosed fence swallows the rest, as GitHub renders it.
        assert_eq!(parse_commands("```\n/prflow status"), vec![]);
        // A shorter closing fence does not close a longer one.
        assert_eq!(
            parse_commands("````\n```\n/prflow land\n````\n/prflow help"),
            vec![Command::Help]
        );
    }

    #[test]
    fn invalid_arguments_are_reported_not_guessed() {
        assert!(matches!(
            parse_commands("/prflow rollback")[0],
            Command::Invalid { ref verb, .. } if verb == "rollback"
        ));
        assert!(matches!(
            parse_commands("/prflow land now please")[0],
            Command::Invalid { .. }
        ));
        assert_eq!(
            parse_commands("  /PRFLOW Run `a b.json`"),
            vec![Command::Invalid {
                verb: "run".into(),
                reason: "`run` takes at most one workflow path".into()
            }]
        );
        assert_eq!(
            parse_commands("/prflow run `flow.json`\r\n"),
            vec![Command::Run {
                path: Some("flow.json".into())
            }]
        );
    }

    #[test]
    fn help_lists_every_verb() {
        for verb in [
            "run", "status", "retry", "rollback", "abort", "land", "update", "help",
        ] {
            assert!(help_text().contains(&format!("/prflow {verb}")), "{verb}");
        }
    }
}
