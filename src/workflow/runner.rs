//! The `runner` of an agent or a task (docs/architecture.md, "Agents"):
//! `"template"` | `{"template": "pack"}` | `{"command": …, "timeout": s, "env": {…}}` |
//! `{"llm": {"provider", "model", "baseUrl", "apiKeyEnv"}}`.
//!
//! A runner is prflow's own object, so anything malformed in it is an error: a
//! runner that silently fell back to templates would do the wrong work.

use super::diagnostics::Report;
use super::keys;
use super::locate::{child, index};
use super::model::{CommandLine, RunnerSpec};
use serde_json::Value;
use std::collections::BTreeMap;

const SYNTAX: &str = "use \"template\", {\"template\": \"pack\"}, {\"command\": \"…\"} or {\"llm\": {\"provider\": …, \"model\": …}}";

pub const PROVIDERS: &[&str] = &["openai", "anthropic"];

/// Parses the runner at `pointer`; `None` (with errors reported) when malformed.
pub(crate) fn parse(v: &Value, pointer: &str, r: &mut Report) -> Option<RunnerSpec> {
    match v {
        Value::String(s) if s == "template" => Some(RunnerSpec::Template { pack: None }),
        Value::String(s) => {
            let hint = match s.as_str() {
                "command" | "llm" => format!(": a {s} runner is an object, {{\"{s}\": …}}"),
                _ => keys::suggestion(s, ["template"]),
            };
            r.error(pointer, format!("unknown runner \"{s}\"{hint}; {SYNTAX}"));
            None
        }
        Value::Object(obj) => {
            let kinds: Vec<&str> = ["template", "command", "llm"]
                .into_iter()
                .filter(|k| obj.contains_key(*k))
                .collect();
            match kinds.as_slice() {
                [] => {
                    let hint = obj.keys().find_map(|k| {
                        keys::did_you_mean(k, ["template", "command", "llm"]).map(|m| (k, m))
                    });
                    match hint {
                        Some((k, m)) => r.error_at_key(
                            &child(pointer, k),
                            format!("unknown key `{k}` in a runner: did you mean `{m}`?"),
                        ),
                        None => r.error(
                            pointer,
                            format!(
                                "a runner needs one of `template`, `command` or `llm`; {SYNTAX}"
                            ),
                        ),
                    }
                    None
                }
                [_, _, ..] => {
                    r.error(
                        pointer,
                        format!(
                            "a runner is one kind: it has {}; keep one",
                            keys::list(&kinds)
                        ),
                    );
                    None
                }
                ["template"] => {
                    keys::reject_unknown(
                        obj,
                        pointer,
                        keys::TEMPLATE_RUNNER,
                        "a template runner",
                        r,
                    );
                    match &obj["template"] {
                        Value::String(p) if !p.trim().is_empty() => Some(RunnerSpec::Template {
                            pack: Some(p.clone()),
                        }),
                        Value::Null => Some(RunnerSpec::Template { pack: None }),
                        _ => {
                            r.error(
                                &child(pointer, "template"),
                                "`template` names a template pack (a non-empty string), e.g. {\"template\": \"microservices\"}",
                            );
                            None
                        }
                    }
                }
                ["command"] => command(obj, pointer, r),
                _ => llm(obj, pointer, r),
            }
        }
        _ => {
            r.error(
                pointer,
                format!("a runner is a string or an object; {SYNTAX}"),
            );
            None
        }
    }
}

fn command(
    obj: &serde_json::Map<String, Value>,
    pointer: &str,
    r: &mut Report,
) -> Option<RunnerSpec> {
    let before = r.errors.len();
    keys::reject_unknown(obj, pointer, keys::COMMAND_RUNNER, "a command runner", r);
    let cp = child(pointer, "command");
    let command = match &obj["command"] {
        Value::String(s) if !s.trim().is_empty() => Some(CommandLine::Shell(s.clone())),
        Value::Array(items) if !items.is_empty() => {
            let mut argv = Vec::new();
            for (i, a) in items.iter().enumerate() {
                match a {
                    Value::String(s) => argv.push(s.clone()),
                    _ => r.error(
                        &index(&cp, i),
                        "every argument of `command` must be a string",
                    ),
                }
            }
            Some(CommandLine::Argv(argv))
        }
        _ => {
            r.error(
                &cp,
                "`command` is a shell command (a non-empty string) or an argv list such as [\"claude\", \"-p\"]",
            );
            None
        }
    };
    /// A command runner's longest timeout: one day.
    const MAX_TIMEOUT_S: u64 = 24 * 60 * 60;
    let timeout_s = match obj.get("timeout") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_u64().is_some_and(|t| t > 0 && t <= MAX_TIMEOUT_S) => {
            n.as_u64()
        }
        Some(_) => {
            r.error(
                &child(pointer, "timeout"),
                format!("`timeout` of a command runner is a whole number of seconds from 1 to {MAX_TIMEOUT_S} (one day)"),
            );
            None
        }
    };
    let mut env = BTreeMap::new();
    match obj.get("env") {
        None | Some(Value::Null) => {}
        Some(Value::Object(vars)) => {
            for (k, v) in vars {
                let vp = child(&child(pointer, "env"), k);
                if k.is_empty() || k.contains('=') || k.contains('\0') {
                    r.error_at_key(
                        &vp,
                        format!("`{k}` is not a valid environment variable name"),
                    );
                }
                match v {
                    Value::String(s) => {
                        env.insert(k.clone(), s.clone());
                    }
                    Value::Number(_) | Value::Bool(_) => {
                        env.insert(k.clone(), v.to_string());
                    }
                    _ => r.error(&vp, format!("the value of `{k}` in `env` must be a string")),
                }
            }
        }
        Some(_) => r.error(
            &child(pointer, "env"),
            "`env` is an object of variable names to strings",
        ),
    }
    if r.errors.len() != before {
        return None;
    }
    Some(RunnerSpec::Command {
        command: command?,
        timeout_s,
        env,
    })
}

fn llm(obj: &serde_json::Map<String, Value>, pointer: &str, r: &mut Report) -> Option<RunnerSpec> {
    let before = r.errors.len();
    keys::reject_unknown(obj, pointer, keys::LLM_RUNNER, "an llm runner", r);
    let lp = child(pointer, "llm");
    let Value::Object(cfg) = &obj["llm"] else {
        r.error(
            &lp,
            "`llm` is an object: {\"provider\": \"openai\" or \"anthropic\", \"model\": \"…\"}",
        );
        return None;
    };
    keys::reject_unknown(cfg, &lp, keys::LLM, "an llm runner", r);
    let text = |key: &str, r: &mut Report| -> Option<String> {
        match cfg.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(_) => {
                r.error(
                    &child(&lp, key),
                    format!("`{key}` must be a non-empty string"),
                );
                None
            }
        }
    };
    let provider = text("provider", r);
    let model = text("model", r);
    let base_url = text("baseUrl", r);
    let api_key_env = text("apiKeyEnv", r);
    match &provider {
        None if !cfg.contains_key("provider") => {
            r.error(&lp, "an llm runner needs `provider`: \"openai\" (any OpenAI-compatible endpoint) or \"anthropic\"")
        }
        Some(p) if !PROVIDERS.contains(&p.as_str()) => r.error(
            &child(&lp, "provider"),
            format!(
                "unknown provider \"{p}\": use \"openai\" (also for Ollama, vLLM, llama.cpp with `baseUrl`) or \"anthropic\"{}",
                keys::suggestion(p, PROVIDERS.iter().copied())
            ),
        ),
        _ => {}
    }
    if model.is_none() && !cfg.contains_key("model") {
        r.error(
            &lp,
            "an llm runner needs `model`, e.g. \"gpt-4o-mini\" or \"claude-sonnet-4-5\"",
        );
    }
    if let Some(name) = &api_key_env {
        let valid = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            // Never echo the value: it may be the key itself pasted by mistake.
            r.error(
                &child(&lp, "apiKeyEnv"),
                "`apiKeyEnv` names the environment variable that holds the key (like OPENAI_API_KEY), not the key itself",
            );
        }
    }
    if r.errors.len() != before {
        return None;
    }
    Some(RunnerSpec::Llm {
        provider: provider?,
        model: model?,
        base_url,
        api_key_env,
    })
}

/// How `--runner`, the Action's `runner` input and `PRFLOW_DEFAULT_RUNNER` are written.
pub const DEFAULT_SYNTAX: &str = "a command line such as 'claude -p' or 'codex exec' (the task's prompt is added as its last argument), llm:PROVIDER:MODEL (llm:openai:gpt-4o-mini), template or template:PACK";

/// The default runner given outside the workflow (`prflow run --runner …`, the Action's
/// `runner` input, the App's `PRFLOW_DEFAULT_RUNNER`).
///
/// A command line is a coding-agent CLI that takes its prompt as an argument (`claude -p
/// PROMPT`, `codex exec PROMPT`), so the task's prompt is appended as the last argument;
/// it is also in `$PRFLOW_PROMPT_FILE` for commands that read a file.
pub fn parse_default(s: &str) -> Result<RunnerSpec, String> {
    let s = s.trim();
    let bad = |why: &str| {
        Err(format!(
            "the default runner `{s}` {why}; use {DEFAULT_SYNTAX}"
        ))
    };
    if s.is_empty() {
        return bad("is empty");
    }
    if s == "template" {
        return Ok(RunnerSpec::Template { pack: None });
    }
    if let Some(pack) = s.strip_prefix("template:") {
        if pack.trim().is_empty() {
            return bad("names no pack after `template:`");
        }
        return Ok(RunnerSpec::Template {
            pack: Some(pack.trim().to_string()),
        });
    }
    if let Some(rest) = s.strip_prefix("llm:") {
        let Some((provider, model)) = rest.split_once(':') else {
            return bad("has no model: write llm:PROVIDER:MODEL");
        };
        let (provider, model) = (provider.trim(), model.trim());
        if !PROVIDERS.contains(&provider) {
            return bad(&format!(
                "names provider \"{provider}\", which is not known (openai or anthropic){}",
                keys::suggestion(provider, PROVIDERS.iter().copied())
            ));
        }
        if model.is_empty() {
            return bad("has no model after the provider");
        }
        return Ok(RunnerSpec::Llm {
            provider: provider.to_string(),
            model: model.to_string(),
            base_url: None,
            api_key_env: None,
        });
    }
    if s.contains('\0') {
        return bad("contains a NUL byte");
    }
    Ok(RunnerSpec::Command {
        command: CommandLine::Shell(format!("{s} \"$(cat \"$PRFLOW_PROMPT_FILE\")\"")),
        timeout_s: None,
        env: BTreeMap::new(),
    })
}

#[cfg(test)]
mod default_tests {
    use super::*;

    #[test]
    fn every_form_of_the_default_runner_is_read() {
        assert_eq!(
            parse_default("llm:openai:gpt-4o-mini").unwrap(),
            RunnerSpec::Llm {
                provider: "openai".into(),
                model: "gpt-4o-mini".into(),
                base_url: None,
                api_key_env: None
            }
        );
        assert_eq!(
            parse_default("template:microservices").unwrap(),
            RunnerSpec::Template {
                pack: Some("microservices".into())
            }
        );
        match parse_default("claude -p").unwrap() {
            RunnerSpec::Command {
                command: CommandLine::Shell(s),
                ..
            } => assert_eq!(s, "claude -p \"$(cat \"$PRFLOW_PROMPT_FILE\")\""),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_bad_default_runner_says_how_to_write_it() {
        let e = parse_default("llm:opnai:gpt-4o").unwrap_err();
        assert!(e.contains("did you mean `openai`"), "{e}");
        assert!(e.contains("llm:PROVIDER:MODEL"), "{e}");
        assert!(parse_default("llm:openai")
            .unwrap_err()
            .contains("no model"));
        assert!(parse_default("  ").is_err());
    }
}
