//! `prflow templates list|show`: what each template pack matches, its variables and
//! the files it writes, so a user can tell which pack a task will get without
//! reading YAML (format: templates/README.md).

use crate::agents::template::{Pack, TemplateRunner};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Command {
    /// List the template packs: name, priority, what it matches, description.
    List {
        /// Also read this repository's packs from DIR/.prflow/templates/.
        #[arg(long, value_name = "DIR")]
        repo: Option<PathBuf>,
    },
    /// Describe one pack: match rules, supported values, variables, files, outputs.
    Show {
        /// The pack's name (see `prflow templates list`).
        name: String,
        /// Also read this repository's packs from DIR/.prflow/templates/.
        #[arg(long, value_name = "DIR")]
        repo: Option<PathBuf>,
    },
}

fn load(repo: Option<&Path>) -> Result<TemplateRunner, ExitCode> {
    let dir = repo.map(|r| r.join(".prflow").join("templates"));
    TemplateRunner::new(dir.as_deref()).map_err(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(1)
    })
}

pub fn run(c: Command) -> ExitCode {
    match c {
        Command::List { repo } => match load(repo.as_deref()) {
            Ok(r) => {
                print!("{}", list(r.packs()));
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Show { name, repo } => match load(repo.as_deref()) {
            Ok(r) => match r.pack(&name) {
                Some(p) => {
                    print!("{}", show(p));
                    ExitCode::SUCCESS
                }
                None => {
                    let names: Vec<&str> = r.packs().iter().map(|p| p.name.as_str()).collect();
                    eprintln!(
                        "error: no template pack named `{name}`; packs: {}",
                        names.join(", ")
                    );
                    ExitCode::from(1)
                }
            },
            Err(code) => code,
        },
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters of `s` on one line, cut at a word with `…`.
fn short(s: &str, max: usize) -> String {
    let s = one_line(s);
    if s.chars().count() <= max {
        return s;
    }
    let cut: String = s.chars().take(max).collect();
    let cut = cut.rsplit_once(' ').map(|(a, _)| a).unwrap_or(&cut);
    format!("{}…", cut.trim_end_matches([',', ';', ':', '.']))
}

/// The table `templates list` prints.
pub fn list(packs: &[Pack]) -> String {
    let name_w = packs.iter().map(|p| p.name.len()).max().unwrap_or(4).max(4);
    let mut out = format!(
        "{:<name_w$}  {:>8}  {}\n",
        "PACK", "PRIORITY", "MATCHES / DESCRIPTION"
    );
    for p in packs {
        let origin = match &p.origin {
            crate::agents::template::Origin::Embedded => String::new(),
            o => format!(" [repo: {o}]"),
        };
        out.push_str(&format!(
            "{:<name_w$}  {:>8}  {}{origin}\n",
            p.name,
            p.priority,
            p.rules_summary()
        ));
        if !p.description.is_empty() {
            out.push_str(&format!(
                "{:<name_w$}  {:>8}  {}\n",
                "",
                "",
                short(&p.description, 100)
            ));
        }
    }
    out
}

/// The description `templates show NAME` prints.
pub fn show(p: &Pack) -> String {
    let mut out = format!("{}\n  {}\n\n", p.name, one_line(&p.description));
    out.push_str(&format!("source:    {}\n", p.manifest_path()));
    out.push_str(&format!("priority:  {}\n", p.priority));
    if p.rules.len() > 1 {
        out.push_str("matches when any of these holds:\n");
    } else {
        out.push_str("matches:\n");
    }
    for (i, r) in p.rules.iter().enumerate() {
        let indent = if p.rules.len() > 1 {
            out.push_str(&format!("  ({})\n", i + 1));
            "    "
        } else {
            "  "
        };
        if r.is_empty() {
            out.push_str(&format!("{indent}any task\n"));
        }
        let rule = |out: &mut String, what: &str, v: &[String]| {
            if !v.is_empty() {
                out.push_str(&format!("{indent}{what}: {}\n", v.join(", ")));
            }
        };
        rule(&mut out, "agent type is one of", &r.agent_type);
        rule(&mut out, "agent has a capability among", &r.capabilities);
        rule(&mut out, "task type is one of", &r.task_type);
        rule(&mut out, "task id is one of", &r.task_id);
        for (k, v) in &r.input {
            out.push_str(&format!(
                "{indent}input.{k}, when given, is one of: {}\n",
                v.join(", ")
            ));
        }
        rule(&mut out, "input has", &r.requires_input);
    }
    if !p.supports.is_empty() {
        out.push_str("supports:\n");
        for (k, v) in &p.supports {
            let values = if v.is_empty() {
                "(none)".to_string()
            } else {
                v.join(", ")
            };
            out.push_str(&format!("  input.{k}: {values}\n"));
        }
    }
    if !p.variables.is_empty() {
        out.push_str("variables (task input keys of the same name override):\n");
        for v in &p.variables {
            let default = match &v.default {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.push_str(&format!("  {} = {default}", v.name));
            if let Some(d) = &v.description {
                out.push_str(&format!("  — {}", one_line(d)));
            }
            out.push('\n');
        }
    }
    out.push_str("writes:\n");
    for f in &p.files {
        let sources = p.entry_sources(f);
        let what = if sources.len() == 1 && sources[0].1.is_empty() {
            f.src.clone()
        } else {
            format!("{}/ ({} files)", f.src, sources.len())
        };
        out.push_str(&format!("  {}  <- {what}", f.dest));
        if let Some(w) = &f.when {
            out.push_str(&format!("  when {w}"));
        }
        if f.executable {
            out.push_str("  (executable)");
        }
        out.push('\n');
    }
    if !p.outputs.is_empty() {
        out.push_str("outputs (for the task's declared output keys):\n");
        for (k, v) in &p.outputs {
            out.push_str(&format!("  {k} = {}\n", one_line(v)));
        }
    }
    out
}
