//! `prflow action`: the GitHub Action's entry point.
//!
//! The step reads the runner's environment ([`env`]), turns the event payload
//! into a flow trigger ([`event`]), builds the flow's context and calls
//! [`crate::flow::handle`]; the flow decides everything. Around that call the
//! step only reports: outputs ([`outputs`]), the job summary ([`summary`]) and
//! annotations ([`commands`]).
//!
//! Exit codes: 0 done (or nothing to do), 1 the work failed (invalid workflow
//! file, flow error, failed run), 2 the step is misconfigured (environment).

pub mod commands;
pub mod env;
pub mod event;
pub mod outputs;
pub mod summary;

use crate::flow::{self, FlowContext, FlowOptions, FlowReport};
use crate::github::{auth::Secret, host, Auth, GitHub, GitHubConfig, RetryPolicy};
use commands::Annotation;
use env::ActionEnv;
use event::Mapped;
use std::io::Write;
use std::process::ExitCode;

/// Runs the step with the process environment, printing to stdout.
pub async fn run() -> ExitCode {
    let lookup = |name: &str| std::env::var(name).ok();
    let mut out = std::io::stdout();
    ExitCode::from(execute(&lookup, &mut out, scrub_process_env).await)
}

/// The step, with its environment and log passed in. `on_untrusted` is
/// called before the flow runs for an event from a fork (the real step removes
/// secrets from its environment there). Returns the exit code.
pub async fn execute(
    lookup: &dyn Fn(&str) -> Option<String>,
    log: &mut dyn Write,
    on_untrusted: fn(),
) -> u8 {
    let mut say = |line: String| {
        let _ = writeln!(log, "{line}");
    };
    let event_name = match env::event_name(lookup) {
        Ok(name) => name,
        Err(e) => {
            say(Annotation::error(e.to_string()).title("prflow").to_string());
            return 2;
        }
    };
    if !event::is_supported(&event_name) {
        say(Annotation::notice(format!(
            "prflow does not act on `{event_name}` events; it handles {}. Nothing to do.",
            event::SUPPORTED.join(", ")
        ))
        .title("prflow")
        .to_string());
        return 0;
    }
    let env = match ActionEnv::from_lookup(lookup) {
        Ok(env) => env,
        Err(e) => {
            say(Annotation::error(e.to_string()).title("prflow").to_string());
            return 2;
        }
    };
    let header = summary::Header {
        event: env.event_name.clone(),
        repository: format!("{}/{}", env.owner, env.repo),
        run_url: env.run_url(),
        dry_run: env.inputs.dry_run,
    };
    // Every failure past this point is also written to the job summary.
    let fail = |say: &mut dyn FnMut(String), message: String, code: u8| {
        say(Annotation::error(message.clone())
            .title("prflow")
            .to_string());
        report_failure(&env, &header, &message, say);
        code
    };

    let payload = match std::fs::read(&env.event_path) {
        Ok(p) => p,
        Err(e) => {
            return fail(
                &mut say,
                format!(
                    "cannot read the event payload GITHUB_EVENT_PATH={}: {e}",
                    env.event_path.display()
                ),
                2,
            )
        }
    };
    let go = match event::map_event(&env, &payload) {
        Ok(Mapped::Go(go)) => go,
        Ok(Mapped::NothingToDo { why }) => {
            say(Annotation::notice(format!("Nothing to do: {why}."))
                .title("prflow")
                .to_string());
            let report = FlowReport {
                state: crate::flow::FlowState::Ignored,
                ignored_because: Some(why),
                ..Default::default()
            };
            write_outputs(&env, &report, &mut say);
            return 0;
        }
        Err(e) => return fail(&mut say, e.to_string(), 1),
    };

    if let Some(path) = &go.workflow_path {
        match check_workflow(&env, path) {
            Check::Valid(warnings) | Check::NotCheckedOut(warnings) => {
                for w in warnings {
                    say(w.to_string());
                }
            }
            Check::Invalid(annotations) => {
                let count = annotations.len();
                let mut text = String::new();
                for a in &annotations {
                    say(a.to_string());
                    text.push_str(&format!(
                        "{}:{}:{}: {}\n",
                        a.file.as_deref().unwrap_or(path),
                        a.line.unwrap_or(0),
                        a.col.unwrap_or(0),
                        a.message
                    ));
                }
                report_failure(
                    &env,
                    &header,
                    &format!(
                        "the workflow file {path} has {count} problem{}; nothing was started:\n{text}",
                        if count == 1 { "" } else { "s" }
                    ),
                    &mut say,
                );
                return 1;
            }
        }
    }

    if let Some(why) = &go.untrusted_because {
        say(Annotation::warning(format!(
            "This event is not trusted: {why}. prflow will not run `command` runners (they would \
             execute code with this repository's token in reach) and removes secrets from its \
             environment before any agent or gate runs. A maintainer can start the run instead \
             with a `/prflow run` comment or a workflow_dispatch."
        ))
        .title("prflow: event from a fork")
        .to_string());
        on_untrusted();
    }

    let mut config = GitHubConfig::new(env.api_url.clone());
    config.retry = match RetryPolicy::from_env(lookup) {
        Ok(p) => p,
        Err(e) => return fail(&mut say, e, 2),
    };
    let github = match GitHub::new(config, Auth::Token(Secret::new(env.inputs.token.clone()))) {
        Ok(g) => g,
        Err(e) => return fail(&mut say, e.to_string(), 1),
    };
    let ctx = FlowContext {
        github,
        owner: env.owner.clone(),
        repo: env.repo.clone(),
        git_url: host::git_url(&host::git_base(&env.api_url), &env.owner, &env.repo),
        workdir: env.workspace.clone(),
        options: FlowOptions {
            dry_run: env.inputs.dry_run,
            trusted: go.trusted,
            reviewers: env.inputs.reviewers.clone(),
            allow_self_approval: env.inputs.allow_self_approval,
            workflow: env.inputs.workflow.clone(),
            default_runner: env.inputs.runner.clone(),
            ..Default::default()
        },
    };
    match flow::handle(&ctx, go.trigger).await {
        Ok(report) => {
            write_outputs(&env, &report, &mut say);
            if let Some(path) = &env.summary_file {
                if let Err(e) = summary::append(path, &summary::render(&header, &report)) {
                    say(Annotation::warning(format!(
                        "cannot write the job summary to {}: {e}",
                        path.display()
                    ))
                    .to_string());
                }
            }
            if let Some(why) = &report.ignored_because {
                say(Annotation::notice(format!("Nothing to do: {why}."))
                    .title("prflow")
                    .to_string());
            }
            if report.state == "failed" {
                say(Annotation::error(format!(
                    "run {} failed at phase {}; see the job summary and the pull request",
                    report.run_id.as_deref().unwrap_or("?"),
                    report
                        .phase
                        .map(|p| p.to_string())
                        .unwrap_or_else(|| "?".into())
                ))
                .title("prflow")
                .to_string());
            }
            // The same human lines as `prflow run --github`.
            let _ = write!(log, "{}", report.text());
            let _ = log.flush();
            u8::from(report.failed())
        }
        Err(e) => fail(&mut say, format!("{e:#}"), 1),
    }
}

/// Result of checking the workflow file in the workspace.
enum Check {
    /// Valid; the warnings as annotations.
    Valid(Vec<Annotation>),
    /// Not in the workspace (no checkout step): the flow reads it from git.
    NotCheckedOut(Vec<Annotation>),
    /// Invalid; every problem as an annotation on its file and line.
    Invalid(Vec<Annotation>),
}

/// Validates `path` in `GITHUB_WORKSPACE` with the same loader the flow uses,
/// so that problems show up as annotations on the file in the pull request.
fn check_workflow(env: &ActionEnv, path: &str) -> Check {
    let full = env.workspace.join(path);
    if !full.is_file() {
        return Check::NotCheckedOut(vec![Annotation::notice(format!(
            "{path} is not in GITHUB_WORKSPACE ({}): no checkout step ran, so prflow reads the \
             workflow file from the repository itself",
            env.workspace.display()
        ))
        .title("prflow")]);
    }
    match crate::workflow::load(&full) {
        Ok(loaded) => Check::Valid(
            loaded
                .warnings
                .iter()
                .map(|d| Annotation::from_diagnostic(d, &env.workspace))
                .collect(),
        ),
        Err(diags) => Check::Invalid(
            diags
                .0
                .iter()
                .map(|d| Annotation::from_diagnostic(d, &env.workspace))
                .collect(),
        ),
    }
}

fn write_outputs(env: &ActionEnv, report: &FlowReport, say: &mut dyn FnMut(String)) {
    let pairs = outputs::outputs_of(report);
    match &env.output_file {
        Some(path) => {
            if let Err(e) = outputs::append(path, &pairs) {
                say(Annotation::warning(format!(
                    "cannot write the step outputs to GITHUB_OUTPUT={}: {e}",
                    path.display()
                ))
                .to_string());
            }
        }
        None => {
            for (k, v) in pairs {
                say(format!("output {k}={v}"));
            }
        }
    }
}

/// Outputs (`state=error`) and the summary of a step that stopped.
fn report_failure(
    env: &ActionEnv,
    header: &summary::Header,
    message: &str,
    say: &mut dyn FnMut(String),
) {
    let report = FlowReport {
        state: crate::flow::FlowState::Error,
        ..Default::default()
    };
    write_outputs(env, &report, say);
    if let Some(path) = &env.summary_file {
        let _ = summary::append(path, &summary::render_error(header, message));
    }
}

/// Whether a variable survives in the environment of an untrusted step: what
/// the runner and the toolchain need, never tokens, keys or other secrets.
pub fn keep_when_untrusted(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    const SECRET_WORDS: [&str; 6] = ["TOKEN", "SECRET", "KEY", "PASSWORD", "PASSWD", "CREDENTIAL"];
    if SECRET_WORDS.iter().any(|w| upper.contains(w)) {
        return false;
    }
    const PREFIXES: [&str; 5] = ["GITHUB_", "RUNNER_", "INPUT_", "LC_", "XDG_"];
    const NAMES: [&str; 20] = [
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TERM",
        "TZ",
        "TMPDIR",
        "TEMP",
        "TMP",
        "CI",
        "RUST_LOG",
        "RUST_BACKTRACE",
        "CARGO_HOME",
        "RUSTUP_HOME",
        "NO_COLOR",
        "ImageOS",
        "ImageVersion",
    ];
    PREFIXES.iter().any(|p| upper.starts_with(p)) || NAMES.contains(&name)
}

/// Removes every variable [`keep_when_untrusted`] rejects from this process, so
/// gates and agents started by the flow cannot read a secret the workflow
/// passed in. Called before the flow starts any task or thread of its own.
fn scrub_process_env() {
    let drop: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| !keep_when_untrusted(k))
        .collect();
    for k in drop {
        std::env::remove_var(k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_steps_keep_the_runner_context_but_no_secrets() {
        for keep in [
            "PATH",
            "HOME",
            "GITHUB_WORKSPACE",
            "INPUT_WORKFLOW",
            "RUNNER_TEMP",
            "CI",
        ] {
            assert!(keep_when_untrusted(keep), "{keep}");
        }
        for drop in [
            "GITHUB_TOKEN",
            "INPUT_TOKEN",
            "OPENAI_API_KEY",
            "ANTHROPIC_API_KEY",
            "AWS_SECRET_ACCESS_KEY",
            "DATABASE_URL",
            "ACTIONS_RUNTIME_TOKEN",
            "NPM_CONFIG_PASSWORD",
        ] {
            assert!(!keep_when_untrusted(drop), "{drop}");
        }
    }
}
