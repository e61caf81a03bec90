//! The llm runner: one chat call per task to an OpenAI-compatible Chat Completions
//! endpoint (OpenAI, Ollama, vLLM, llama.cpp …) or the Anthropic Messages API.
//!
//! The model is told its role, the task, its resolved input, the files already under
//! the output root and any review feedback, and must answer with one JSON object:
//! `{"files": [{"path": "…", "content": "…"}], "summary": "…", "outputs": {…}}`,
//! paths relative to the output root, `{"path": "…", "delete": true}` to delete.
//! The engine checks every path afterwards (see [`super::paths`]), so a model that
//! answers `/etc/passwd` or `../x` fails its task and writes nothing.
//!
//! The key is read only from the environment variable `apiKeyEnv` names; it goes into
//! one request header and is scrubbed from every message this module produces.
//! The HTTP client is blocking (ureq) and needs no async runtime: tasks run on plain
//! threads that may live inside a tokio program.

use super::{AgentError, AgentOutput, FileChange, Runner, TaskRequest};
use crate::github::retry::{self, Failure, RetryPolicy};
use crate::workflow::{RunnerSpec, Task, Workflow};
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};

/// Default timeout for a whole task (every attempt included) when neither the task nor
/// the settings give one.
const DEFAULT_TIMEOUT_S: u64 = 300;
/// How an endpoint's 429, 5xx and transport errors are retried: prflow's one retry
/// policy ([`crate::github::retry`]), with three attempts and at most a minute's
/// `Retry-After` (a longer one fails the task, naming the limit).
fn retry_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(30),
        max_wait: Duration::from_secs(60),
    }
}
/// How much of a bad answer an error quotes.
const QUOTE: usize = 200;
/// A file of the base tree longer than this is listed, not shown.
const MAX_FILE_BYTES: usize = 16 * 1024;
/// Total bytes of file contents shown to the model.
const CONTEXT_BUDGET: usize = 64 * 1024;
/// Paths listed at most.
const MAX_LISTED: usize = 400;
/// Anthropic requires `max_tokens`; 8192 is what current models accept.
const ANTHROPIC_MAX_TOKENS: u64 = 8192;

pub struct LlmRunner;

/// Which API the runner speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    OpenAi,
    Anthropic,
}

/// The llm runner's settings for one task, defaults applied.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub provider: Provider,
    pub provider_name: String,
    pub model: String,
    /// Without a trailing slash.
    pub base_url: String,
    pub key_env: String,
}

impl Endpoint {
    fn of(workflow: &Workflow, task: &Task) -> Result<Endpoint, String> {
        let RunnerSpec::Llm {
            provider,
            model,
            base_url,
            api_key_env,
        } = workflow.runner_for(task)
        else {
            return Err("the task's runner is not llm".into());
        };
        let (p, default_url, default_env) = match provider.as_str() {
            "openai" => (
                Provider::OpenAi,
                "https://api.openai.com/v1",
                "OPENAI_API_KEY",
            ),
            "anthropic" => (
                Provider::Anthropic,
                "https://api.anthropic.com",
                "ANTHROPIC_API_KEY",
            ),
            other => {
                return Err(format!(
                    "unknown llm provider \"{other}\": use \"openai\" or \"anthropic\""
                ))
            }
        };
        Ok(Endpoint {
            provider: p,
            provider_name: provider,
            model,
            base_url: base_url
                .unwrap_or_else(|| default_url.to_string())
                .trim_end_matches('/')
                .to_string(),
            key_env: api_key_env.unwrap_or_else(|| default_env.to_string()),
        })
    }

    /// `{baseUrl}/chat/completions`; for Anthropic `{baseUrl}/v1/messages`, or
    /// `{baseUrl}/messages` when `baseUrl` already ends in `/v1`.
    pub fn url(&self) -> String {
        match self.provider {
            Provider::OpenAi => format!("{}/chat/completions", self.base_url),
            Provider::Anthropic if self.base_url.ends_with("/v1") => {
                format!("{}/messages", self.base_url)
            }
            Provider::Anthropic => format!("{}/v1/messages", self.base_url),
        }
    }

    fn who(&self) -> String {
        format!("{} model `{}`", self.provider_name, self.model)
    }

    /// The key, or an error naming the variable and how to set it.
    fn key(&self) -> Result<String, String> {
        match std::env::var(&self.key_env) {
            Ok(k) if !k.trim().is_empty() => Ok(k.trim().to_string()),
            _ => Err(format!(
                "the {} key is not set: the environment variable {var} is empty or missing. \
                 Set it (`export {var}=…`; for a local server such as Ollama any value will do), \
                 or name another variable with `apiKeyEnv`",
                self.provider_name,
                var = self.key_env
            )),
        }
    }
}

impl Runner for LlmRunner {
    fn kind(&self) -> &'static str {
        "llm"
    }

    fn needs_workdir(&self) -> bool {
        false
    }

    fn check(&self, workflow: &Workflow, task: &Task) -> Result<(), String> {
        let ep = Endpoint::of(workflow, task)?;
        if ep.model.trim().is_empty() {
            return Err(
                "the llm runner has an empty `model`: name one, e.g. \"gpt-4o-mini\"".into(),
            );
        }
        ep.key().map(|_| ())
    }

    fn run(&self, req: &TaskRequest<'_>) -> Result<AgentOutput, AgentError> {
        let ep = Endpoint::of(req.workflow, req.task).map_err(AgentError::Failed)?;
        let key = ep.key().map_err(AgentError::Failed)?;
        let timeout = req
            .task
            .timeout_ms
            .map(|ms| ms.div_ceil(1000))
            .or(req.workflow.settings.timeout_ms.map(|ms| ms.div_ceil(1000)))
            .unwrap_or(DEFAULT_TIMEOUT_S);
        let (system, user) = prompt(req);
        let result = call(&ep, &key, &system, &user, Duration::from_secs(timeout))
            .and_then(|text| parse_answer(&ep, req, &text));
        // Whatever went wrong, the key never leaves this function.
        result.map_err(|e| match e {
            AgentError::Failed(m) => AgentError::Failed(redact(&m, &key)),
            other => other,
        })
    }
}

/// `text` with every occurrence of `key` replaced.
fn redact(text: &str, key: &str) -> String {
    if key.len() < 4 {
        return text.to_string();
    }
    text.replace(key, "[redacted]")
}

/// The root paths in the answer are relative to, without slashes around it; `""` for
/// the repository root.
fn root_of(output_dir: &str) -> &str {
    let root = output_dir.trim_matches('/').trim_start_matches("./");
    if root == "." {
        ""
    } else {
        root
    }
}

/// The system and user messages (the "structured protocol").
pub fn prompt(req: &TaskRequest<'_>) -> (String, String) {
    let a = req.agent;
    let root = root_of(req.output_dir);
    let root_text = if root.is_empty() {
        "the repository root".to_string()
    } else {
        format!("`{root}/`")
    };
    let mut system = format!(
        "You are {} (agent `{}`), an agent of type `{}`",
        a.name, a.id, a.kind
    );
    if a.capabilities.is_empty() {
        system.push_str(".\n");
    } else {
        system.push_str(&format!(
            " with capabilities: {}.\n",
            a.capabilities.join(", ")
        ));
    }
    system.push_str(&format!(
        "You carry out one task of the workflow \"{}\" by writing files. Your files become one git commit.\n\n\
         Rules:\n\
         - Answer with ONLY one JSON object, no prose and no code fence: \
         {{\"files\": [{{\"path\": \"…\", \"content\": \"…\"}}], \"summary\": \"one line on what you did\"}}\n\
         - Every `path` is relative to the output root {root_text}; never absolute, never `..`, nothing in `.git/`.\n\
         - `content` is the complete new text of the file.\n\
         - Files you do not list stay as they are. Delete a file only with {{\"path\": \"…\", \"delete\": true}}.\n\
         - `files` must not be empty.\n",
        req.workflow.name
    ));
    if !req.task.output_keys.is_empty() {
        system.push_str(&format!(
            "- Also give the task's outputs: \"outputs\": {{{}}} with a JSON value for each key.\n",
            req.task
                .output_keys
                .iter()
                .map(|k| format!("\"{k}\": …"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }

    let mut user = format!("Workflow: {}\n", req.workflow.name);
    if let Some(d) = &req.workflow.description {
        user.push_str(&format!("{d}\n"));
    }
    let t = req.task;
    user.push_str(&format!(
        "\nTask `{}` (phase {}): {}\n",
        t.id, req.phase, t.name
    ));
    if let Some(k) = &t.kind {
        user.push_str(&format!("Type: {k}\n"));
    }
    if let Some(d) = &t.description {
        user.push_str(&format!("\n{d}\n"));
    }
    if let Some(Value::String(cp)) = t.extra.get("claudePrompt") {
        user.push_str(&format!("\n{cp}\n"));
    }
    if !t.input.is_null() {
        user.push_str(&format!(
            "\nInput (JSON):\n{}\n",
            serde_json::to_string_pretty(&t.input).unwrap_or_default()
        ));
    }
    if !t.output.is_null() {
        user.push_str(&format!(
            "\nExpected output (JSON):\n{}\n",
            serde_json::to_string_pretty(&t.output).unwrap_or_default()
        ));
    }
    user.push_str(&base_files(req, root));
    if let Some(fb) = req.feedback {
        user.push_str("\nChanges requested");
        if let Some(r) = &fb.reviewer {
            user.push_str(&format!(" by {r}"));
        }
        user.push_str(" on your earlier work:\n");
        if !fb.body.trim().is_empty() {
            user.push_str(&format!("{}\n", fb.body.trim()));
        }
        if !fb.comments.is_empty() {
            user.push_str("Inline comments:\n");
            for c in &fb.comments {
                match c.line {
                    Some(l) => user.push_str(&format!("- {}:{}: {}\n", c.path, l, c.body)),
                    None => user.push_str(&format!("- {}: {}\n", c.path, c.body)),
                }
            }
        }
        user.push_str(
            "Address every point: answer with the complete new content of each file you change.\n",
        );
    }
    user.push_str("\nAnswer with the JSON object only.\n");
    (system, user)
}

/// The files already under the output root: a listing, and the contents of small text
/// files up to [`CONTEXT_BUDGET`] bytes, paths relative to the root.
fn base_files(req: &TaskRequest<'_>, root: &str) -> String {
    let paths = req.base.list(root);
    if paths.is_empty() {
        return "\nThe output root is empty so far.\n".into();
    }
    let rel = |p: &str| -> String {
        if root.is_empty() {
            p.to_string()
        } else {
            p.strip_prefix(root)
                .map(|r| r.trim_start_matches('/'))
                .unwrap_or(p)
                .to_string()
        }
    };
    let mut out = format!("\nFiles already under the output root ({}):\n", paths.len());
    for p in paths.iter().take(MAX_LISTED) {
        out.push_str(&format!("- {}\n", rel(p)));
    }
    if paths.len() > MAX_LISTED {
        out.push_str(&format!("- … and {} more\n", paths.len() - MAX_LISTED));
    }
    let mut budget = CONTEXT_BUDGET;
    let mut shown = String::new();
    let mut left_out = 0;
    for p in &paths {
        let Some(bytes) = req.base.read(p) else {
            continue;
        };
        let text = match String::from_utf8(bytes) {
            Ok(t) if !t.contains('\0') => t,
            _ => continue,
        };
        if text.len() > MAX_FILE_BYTES || text.len() > budget {
            left_out += 1;
            continue;
        }
        budget -= text.len();
        shown.push_str(&format!("\n----- {} -----\n{}", rel(p), text));
        if !text.ends_with('\n') {
            shown.push('\n');
        }
    }
    if !shown.is_empty() {
        out.push_str("\nTheir contents:\n");
        out.push_str(&shown);
        out.push_str("----- end of files -----\n");
    }
    if left_out > 0 {
        out.push_str(&format!(
            "({left_out} larger files are listed but not shown.)\n"
        ));
    }
    out
}

/// The request body for `ep`.
pub fn body(ep: &Endpoint, system: &str, user: &str) -> Value {
    match ep.provider {
        Provider::OpenAi => json!({
            "model": ep.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            "response_format": {"type": "json_object"},
        }),
        Provider::Anthropic => json!({
            "model": ep.model,
            "max_tokens": ANTHROPIC_MAX_TOKENS,
            "system": system,
            "messages": [{"role": "user", "content": user}],
        }),
    }
}

/// One attempt's outcome.
enum Attempt {
    Done(String),
    /// Worth another try; the answer's headers say how long to wait (`Retry-After`).
    Retry(String, http::HeaderMap),
    Fatal(String),
}

/// Sends the request (retrying 429, 5xx and transport errors as [`retry_policy`]
/// says) and returns the text of the model's answer.
fn call(
    ep: &Endpoint,
    key: &str,
    system: &str,
    user: &str,
    timeout: Duration,
) -> Result<String, AgentError> {
    let payload = body(ep, system, user).to_string();
    let url = ep.url();
    let policy = retry_policy();
    let started = Instant::now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let Some(left) = timeout
            .checked_sub(started.elapsed())
            .filter(|d| !d.is_zero())
        else {
            return Err(AgentError::Timeout(timeout.as_secs()));
        };
        let (m, headers) = match attempt_once(ep, key, &url, &payload, left) {
            Attempt::Done(text) => return Ok(text),
            Attempt::Fatal(m) => return Err(AgentError::Failed(m)),
            Attempt::Retry(m, headers) => (redact(&m, key), headers),
        };
        let now = crate::github::auth::now_epoch_secs();
        let Some(wait) = retry::next_wait(&policy, Failure::Server, &headers, attempt, now) else {
            let why = if attempt < policy.max_attempts {
                format!("asked for a wait over a minute (Retry-After) at attempt {attempt}")
            } else {
                format!("failed {attempt} times")
            };
            return Err(AgentError::Failed(format!(
                "{} at {url} {why}; the last: {m}",
                ep.who()
            )));
        };
        tracing::debug!(attempt, url = %url, wait_ms = wait.as_millis() as u64, "llm call will be retried: {m}");
        if started.elapsed() + wait >= timeout {
            return Err(AgentError::Timeout(timeout.as_secs()));
        }
        std::thread::sleep(wait);
    }
}

fn attempt_once(ep: &Endpoint, key: &str, url: &str, payload: &str, left: Duration) -> Attempt {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(left))
        .build()
        .into();
    let request = agent.post(url).header("content-type", "application/json");
    let request = match ep.provider {
        Provider::OpenAi => request.header("authorization", format!("Bearer {key}")),
        Provider::Anthropic => request
            .header("x-api-key", key)
            .header("anthropic-version", "2023-06-01"),
    };
    let mut response = match request.send(payload) {
        Ok(r) => r,
        Err(ureq::Error::Timeout(_)) => {
            return Attempt::Retry(
                format!("no answer within {} s", left.as_secs()),
                http::HeaderMap::new(),
            )
        }
        Err(e) => {
            return Attempt::Retry(format!("cannot reach {url}: {e}"), http::HeaderMap::new())
        }
    };
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = match response.body_mut().read_to_string() {
        Ok(t) => t,
        Err(e) if (200..300).contains(&status) => {
            return Attempt::Retry(format!("the answer could not be read: {e}"), headers)
        }
        Err(_) => String::new(),
    };
    match status {
        200..=299 => Attempt::Done(text),
        429 => Attempt::Retry(
            format!("rate limited (429): {}", quote(&error_message(&text))),
            headers,
        ),
        500..=599 => Attempt::Retry(
            format!("server error {status}: {}", quote(&error_message(&text))),
            headers,
        ),
        401 | 403 => Attempt::Fatal(format!(
            "{url} answered {status}: the key in ${} was refused by {}. Check the key, \
             or name the right variable with `apiKeyEnv`",
            ep.key_env, ep.provider_name
        )),
        404 => Attempt::Fatal(format!(
            "{url} answered 404 for {}: check `baseUrl` and `model` ({})",
            ep.who(),
            quote(&error_message(&text))
        )),
        _ => Attempt::Fatal(format!(
            "{url} refused the request for {} with {status}: {}",
            ep.who(),
            quote(&error_message(&text))
        )),
    }
}

/// The `error.message` of an API error body, else the body itself.
fn error_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| body.trim().to_string())
}

/// The first [`QUOTE`] characters of `s`, on one line.
fn quote(s: &str) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut q: String = one_line.chars().take(QUOTE).collect();
    if one_line.chars().count() > QUOTE {
        q.push('…');
    }
    format!("«{q}»")
}

/// The model's text out of the API's JSON envelope.
fn content_of(ep: &Endpoint, envelope: &str) -> Result<String, String> {
    let v: Value = serde_json::from_str(envelope).map_err(|_| {
        format!(
            "the endpoint's reply is not the {} API's JSON: {}",
            ep.provider_name,
            quote(envelope)
        )
    })?;
    let (text, cut) = match ep.provider {
        Provider::OpenAi => (
            v.pointer("/choices/0/message/content")
                .and_then(Value::as_str)
                .map(str::to_string),
            v.pointer("/choices/0/finish_reason")
                .and_then(Value::as_str)
                == Some("length"),
        ),
        Provider::Anthropic => (
            v.get("content").and_then(Value::as_array).map(|blocks| {
                blocks
                    .iter()
                    .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
                    .filter_map(|b| b.get("text").and_then(Value::as_str))
                    .collect::<String>()
            }),
            v.get("stop_reason").and_then(Value::as_str) == Some("max_tokens"),
        ),
    };
    let text = text.ok_or_else(|| {
        format!(
            "the endpoint's reply has no message text where the {} API puts it: {}",
            ep.provider_name,
            quote(envelope)
        )
    })?;
    if cut {
        return Err(format!(
            "the answer was cut off at the model's token limit; ask for fewer or smaller files. It began: {}",
            quote(&text)
        ));
    }
    Ok(text)
}

/// The JSON object in `text`: the whole text, or the inside of a ```json fence.
fn json_in(text: &str) -> Option<Value> {
    let t = text.trim();
    if let Ok(v) = serde_json::from_str::<Value>(t) {
        return Some(v);
    }
    let start = t.find("```")?;
    let after = &t[start + 3..];
    let after = after.strip_prefix("json").unwrap_or(after);
    let end = after.find("```")?;
    serde_json::from_str(after[..end].trim()).ok()
}

/// Turns the model's answer into the task's output, or says what was wrong with it.
fn parse_answer(
    ep: &Endpoint,
    req: &TaskRequest<'_>,
    envelope: &str,
) -> Result<AgentOutput, AgentError> {
    let bad = |what: &str, text: &str| {
        AgentError::Failed(format!(
            "the answer of {} for task `{}` {what}; it began: {}",
            ep.who(),
            req.task.id,
            quote(text)
        ))
    };
    let text = content_of(ep, envelope)
        .map_err(|m| AgentError::Failed(format!("{} for task `{}`: {m}", ep.who(), req.task.id)))?;
    let Some(answer) = json_in(&text) else {
        return Err(bad("is not a JSON object", &text));
    };
    let Some(obj) = answer.as_object() else {
        return Err(bad("is JSON but not an object", &text));
    };
    let Some(files) = obj.get("files").and_then(Value::as_array) else {
        return Err(bad("has no `files` list", &text));
    };
    if files.is_empty() {
        return Err(AgentError::Failed(format!(
            "{} wrote nothing for task `{}`: its `files` list is empty",
            ep.who(),
            req.task.id
        )));
    }
    let root = root_of(req.output_dir);
    let mut changes = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        let Some(path) = f.get("path").and_then(Value::as_str) else {
            return Err(bad(
                &format!("has a file (#{}) without a `path`", i + 1),
                &text,
            ));
        };
        // Absolute paths stay as they are so the engine's path check refuses them.
        let full = if root.is_empty() || path.starts_with('/') {
            path.to_string()
        } else {
            format!("{root}/{path}")
        };
        let delete = f.get("delete").and_then(Value::as_bool) == Some(true);
        let content = match (f.get("content"), delete) {
            (_, true) => None,
            (Some(Value::String(c)), false) => Some(c.clone().into_bytes()),
            _ => {
                return Err(bad(
                    &format!("gives `{path}` no string `content` (and no \"delete\": true)"),
                    &text,
                ))
            }
        };
        changes.push(FileChange {
            path: full,
            content,
            executable: f.get("executable").and_then(Value::as_bool) == Some(true),
            symlink: false,
        });
    }
    let outputs = match obj.get("outputs") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(bad("has `outputs` that is not an object", &text)),
    };
    let summary = obj
        .get("summary")
        .and_then(Value::as_str)
        .map(|s| s.lines().next().unwrap_or("").trim().to_string())
        .filter(|s| !s.is_empty());
    Ok(AgentOutput {
        files: changes,
        outputs,
        summary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_found_bare_or_fenced() {
        assert!(json_in(r#"{"files": []}"#).is_some());
        assert!(json_in("Here you go:\n```json\n{\"files\": []}\n```\n").is_some());
        assert!(json_in("```\n{\"a\": 1}\n```").is_some());
        assert!(json_in("I cannot do that.").is_none());
    }

    #[test]
    fn quote_is_bounded_and_one_line() {
        let q = quote(&"x\n".repeat(300));
        assert!(q.chars().count() <= QUOTE + 3 && !q.contains('\n'), "{q}");
    }

    #[test]
    fn redact_hides_the_key() {
        assert_eq!(
            redact("bad key sk-123456", "sk-123456"),
            "bad key [redacted]"
        );
    }

    #[test]
    fn anthropic_url_accepts_a_base_with_or_without_v1() {
        let mut ep = Endpoint {
            provider: Provider::Anthropic,
            provider_name: "anthropic".into(),
            model: "m".into(),
            base_url: "https://api.anthropic.com".into(),
            key_env: "K".into(),
        };
        assert_eq!(ep.url(), "https://api.anthropic.com/v1/messages");
        ep.base_url = "http://127.0.0.1:9/v1".into();
        assert_eq!(ep.url(), "http://127.0.0.1:9/v1/messages");
        ep.provider = Provider::OpenAi;
        assert_eq!(ep.url(), "http://127.0.0.1:9/v1/chat/completions");
    }
}
