//! What the Actions runner hands the step: `GITHUB_*` variables and the
//! action's inputs as `INPUT_*`.
//!
//! Everything is read through a lookup function, not `std::env` directly, so
//! the rules (what is required, how booleans and lists are spelled) are tested
//! without touching the process environment.

use std::fmt;
use std::path::PathBuf;

/// The runner's environment, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionEnv {
    /// `GITHUB_EVENT_NAME`: `workflow_dispatch`, `issue_comment`, …
    pub event_name: String,
    /// `GITHUB_EVENT_PATH`: the event payload as JSON.
    pub event_path: PathBuf,
    /// Owner and name from `GITHUB_REPOSITORY` (`owner/name`).
    pub owner: String,
    pub repo: String,
    /// The REST API: the `api-url` input, else `GITHUB_API_URL`, else github.com.
    pub api_url: String,
    /// `GITHUB_SERVER_URL` (links in the summary), github.com when unset.
    pub server_url: String,
    /// `GITHUB_WORKSPACE`: where the repository is checked out (or will be cloned).
    pub workspace: PathBuf,
    /// `GITHUB_OUTPUT`; `None` outside a runner (outputs are then only logged).
    pub output_file: Option<PathBuf>,
    /// `GITHUB_STEP_SUMMARY`; `None` outside a runner.
    pub summary_file: Option<PathBuf>,
    /// `GITHUB_ACTOR`: who triggered the workflow run.
    pub actor: String,
    /// `GITHUB_RUN_ID`, for a link back to the run in the summary.
    pub run_id: Option<String>,
    pub inputs: Inputs,
}

/// The action's inputs (`action/action.yml`).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Inputs {
    /// `workflow`: repository-relative path of the workflow file to run.
    pub workflow: Option<String>,
    /// `token` (falls back to `GITHUB_TOKEN`). Never printed: see the `Debug` impl.
    pub token: String,
    /// `reviewers`: logins or `org/team`, separated by commas, spaces or newlines.
    pub reviewers: Vec<String>,
    /// `allow-self-approval`: unset keeps the workflow's own setting.
    pub allow_self_approval: Option<bool>,
    /// `dry-run`.
    pub dry_run: bool,
    /// `runner`: the default runner of tasks nothing else serves (`claude -p`,
    /// `llm:openai:gpt-4o-mini` …).
    pub runner: Option<String>,
}

impl fmt::Debug for Inputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inputs")
            .field("workflow", &self.workflow)
            .field("token", &"[redacted]")
            .field("reviewers", &self.reviewers)
            .field("allow_self_approval", &self.allow_self_approval)
            .field("dry_run", &self.dry_run)
            .field("runner", &self.runner)
            .finish()
    }
}

/// The environment is not what a runner provides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvError {
    /// Required variables that are unset or empty.
    Missing(Vec<&'static str>),
    /// A variable or input whose value cannot be used.
    Invalid {
        name: String,
        value: String,
        expected: &'static str,
    },
    /// No token in the `token` input nor in `GITHUB_TOKEN`.
    NoToken,
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvError::Missing(names) => write!(
                f,
                "missing environment variable{} {}: `prflow action` runs inside a GitHub Actions \
                 job, which sets them. To run it elsewhere, set them by hand (see docs/action.md).",
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            ),
            EnvError::Invalid {
                name,
                value,
                expected,
            } => write!(f, "{name} is `{value}`: expected {expected}"),
            EnvError::NoToken => write!(
                f,
                "no GitHub token: the `token` input (INPUT_TOKEN) is empty and GITHUB_TOKEN is unset. \
                 Keep the input's default (`${{{{ github.token }}}}`) or pass an App token \
                 (actions/create-github-app-token)."
            ),
        }
    }
}

impl std::error::Error for EnvError {}

/// Reads `name`, treating an empty or blank value as unset (the runner sets
/// every declared input, empty when the workflow gives none).
fn get(lookup: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// An input as the runner spells it: `INPUT_<NAME>` upper-cased with spaces
/// turned into `_` and hyphens kept (`INPUT_ALLOW-SELF-APPROVAL`). Composite
/// actions pass inputs through `env:` themselves, where a hyphen is awkward, so
/// the `_` spelling is accepted too.
pub fn input(lookup: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    let upper = name.to_uppercase().replace(' ', "_");
    get(lookup, &format!("INPUT_{upper}"))
        .or_else(|| get(lookup, &format!("INPUT_{}", upper.replace('-', "_"))))
}

/// A boolean input the way GitHub reads one (YAML 1.2 core schema spellings).
pub fn parse_bool(name: &str, value: &str) -> Result<bool, EnvError> {
    match value {
        "true" | "True" | "TRUE" => Ok(true),
        "false" | "False" | "FALSE" => Ok(false),
        _ => Err(EnvError::Invalid {
            name: name.to_string(),
            value: value.to_string(),
            expected: "`true` or `false`",
        }),
    }
}

/// Reviewers separated by commas, whitespace or newlines; a leading `@` is dropped.
pub fn parse_list(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|s| s.trim().trim_start_matches('@'))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The event name alone: enough to decide that an event is not ours before
/// asking for everything else.
pub fn event_name(lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, EnvError> {
    get(lookup, "GITHUB_EVENT_NAME").ok_or(EnvError::Missing(vec!["GITHUB_EVENT_NAME"]))
}

impl ActionEnv {
    /// Reads and checks every variable; all missing ones are named at once.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<ActionEnv, EnvError> {
        const REQUIRED: [&str; 4] = [
            "GITHUB_EVENT_NAME",
            "GITHUB_EVENT_PATH",
            "GITHUB_REPOSITORY",
            "GITHUB_WORKSPACE",
        ];
        let missing: Vec<&'static str> = REQUIRED
            .iter()
            .copied()
            .filter(|n| get(lookup, n).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(EnvError::Missing(missing));
        }
        let req = |n: &str| get(lookup, n).unwrap_or_default();
        let repository = req("GITHUB_REPOSITORY");
        let (owner, repo) = match repository.split_once('/') {
            Some((o, r)) if !o.is_empty() && !r.is_empty() && !r.contains('/') => {
                (o.to_string(), r.to_string())
            }
            _ => {
                return Err(EnvError::Invalid {
                    name: "GITHUB_REPOSITORY".into(),
                    value: repository,
                    expected: "`owner/name`",
                })
            }
        };
        let api_url = input(lookup, "api-url")
            .or_else(|| get(lookup, "GITHUB_API_URL"))
            .unwrap_or_else(|| crate::github::client::GITHUB_API_URL.to_string());
        let api_url = api_url.trim_end_matches('/').to_string();
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            return Err(EnvError::Invalid {
                name: "api-url (or GITHUB_API_URL)".into(),
                value: api_url,
                expected: "an http(s) URL such as https://api.github.com",
            });
        }
        let server_url = get(lookup, "GITHUB_SERVER_URL")
            .unwrap_or_else(|| "https://github.com".to_string())
            .trim_end_matches('/')
            .to_string();
        let token = input(lookup, "token")
            .or_else(|| get(lookup, "GITHUB_TOKEN"))
            .ok_or(EnvError::NoToken)?;
        let allow_self_approval = match input(lookup, "allow-self-approval") {
            Some(v) => Some(parse_bool("allow-self-approval", &v)?),
            None => None,
        };
        let dry_run = match input(lookup, "dry-run") {
            Some(v) => parse_bool("dry-run", &v)?,
            None => false,
        };
        let runner = input(lookup, "runner");
        if let Some(r) = &runner {
            if crate::workflow::runner::parse_default(r).is_err() {
                return Err(EnvError::Invalid {
                    name: "INPUT_RUNNER".into(),
                    value: r.clone(),
                    expected: crate::workflow::runner::DEFAULT_SYNTAX,
                });
            }
        }
        Ok(ActionEnv {
            event_name: req("GITHUB_EVENT_NAME"),
            event_path: PathBuf::from(req("GITHUB_EVENT_PATH")),
            owner,
            repo,
            api_url,
            server_url,
            workspace: PathBuf::from(req("GITHUB_WORKSPACE")),
            output_file: get(lookup, "GITHUB_OUTPUT").map(PathBuf::from),
            summary_file: get(lookup, "GITHUB_STEP_SUMMARY").map(PathBuf::from),
            actor: get(lookup, "GITHUB_ACTOR").unwrap_or_default(),
            run_id: get(lookup, "GITHUB_RUN_ID"),
            inputs: Inputs {
                workflow: input(lookup, "workflow"),
                token,
                reviewers: input(lookup, "reviewers")
                    .map(|v| parse_list(&v))
                    .unwrap_or_default(),
                allow_self_approval,
                dry_run,
                runner,
            },
        })
    }

    /// Link to the workflow run that ran this step, when known.
    pub fn run_url(&self) -> Option<String> {
        self.run_id.as_ref().map(|id| {
            format!(
                "{}/{}/{}/actions/runs/{id}",
                self.server_url, self.owner, self.repo
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const BASE: [(&str, &str); 5] = [
        ("GITHUB_EVENT_NAME", "workflow_dispatch"),
        ("GITHUB_EVENT_PATH", "/tmp/event.json"),
        ("GITHUB_REPOSITORY", "acme/shop"),
        ("GITHUB_WORKSPACE", "/w"),
        ("INPUT_TOKEN", "t0k3n"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut v = BASE.to_vec();
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn every_missing_variable_is_named_at_once() {
        let err = ActionEnv::from_lookup(&lookup(&[("GITHUB_EVENT_NAME", "push")])).unwrap_err();
        assert_eq!(
            err,
            EnvError::Missing(vec![
                "GITHUB_EVENT_PATH",
                "GITHUB_REPOSITORY",
                "GITHUB_WORKSPACE"
            ])
        );
        let text = err.to_string();
        assert!(text.contains("GITHUB_EVENT_PATH, GITHUB_REPOSITORY, GITHUB_WORKSPACE"));
        assert!(text.contains("GitHub Actions"));
    }

    #[test]
    fn blank_counts_as_missing() {
        let mut v = with(&[]);
        v[3] = ("GITHUB_WORKSPACE", "  ");
        let err = ActionEnv::from_lookup(&lookup(&v)).unwrap_err();
        assert_eq!(err, EnvError::Missing(vec!["GITHUB_WORKSPACE"]));
    }

    #[test]
    fn defaults_and_inputs() {
        let env = ActionEnv::from_lookup(&lookup(&with(&[
            ("INPUT_WORKFLOW", "flows/shop.json"),
            ("INPUT_REVIEWERS", "@alice, bob\nacme/core"),
            ("INPUT_ALLOW-SELF-APPROVAL", "true"),
            ("INPUT_DRY-RUN", "False"),
            ("GITHUB_RUN_ID", "42"),
        ])))
        .unwrap();
        assert_eq!((env.owner.as_str(), env.repo.as_str()), ("acme", "shop"));
        assert_eq!(env.api_url, "https://api.github.com");
        assert_eq!(env.server_url, "https://github.com");
        assert_eq!(env.inputs.workflow.as_deref(), Some("flows/shop.json"));
        assert_eq!(env.inputs.reviewers, vec!["alice", "bob", "acme/core"]);
        assert_eq!(env.inputs.allow_self_approval, Some(true));
        assert!(!env.inputs.dry_run);
        assert_eq!(env.output_file, None);
        assert_eq!(
            env.run_url().as_deref(),
            Some("https://github.com/acme/shop/actions/runs/42")
        );
    }

    #[test]
    fn api_url_input_wins_over_the_runner_variable() {
        let env = ActionEnv::from_lookup(&lookup(&with(&[
            ("GITHUB_API_URL", "https://api.github.com"),
            ("INPUT_API-URL", "http://127.0.0.1:9999/"),
        ])))
        .unwrap();
        assert_eq!(env.api_url, "http://127.0.0.1:9999");
    }

    #[test]
    fn underscore_spelling_of_hyphenated_inputs_is_accepted() {
        let env = ActionEnv::from_lookup(&lookup(&with(&[("INPUT_DRY_RUN", "true")]))).unwrap();
        assert!(env.inputs.dry_run);
    }

    #[test]
    fn bad_values_name_the_input() {
        let err = ActionEnv::from_lookup(&lookup(&with(&[("INPUT_DRY-RUN", "yes")]))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "dry-run is `yes`: expected `true` or `false`"
        );
        let mut v = with(&[]);
        v[2] = ("GITHUB_REPOSITORY", "shop");
        let err = ActionEnv::from_lookup(&lookup(&v)).unwrap_err();
        assert!(err.to_string().contains("GITHUB_REPOSITORY is `shop`"));
    }

    #[test]
    fn token_falls_back_to_github_token_and_is_never_debug_printed() {
        let mut v = with(&[("GITHUB_TOKEN", "fallback-secret")]);
        v.retain(|(k, _)| *k != "INPUT_TOKEN");
        let env = ActionEnv::from_lookup(&lookup(&v)).unwrap();
        assert_eq!(env.inputs.token, "fallback-secret");
        assert!(!format!("{env:?}").contains("fallback-secret"));
        v.retain(|(k, _)| *k != "GITHUB_TOKEN");
        assert_eq!(
            ActionEnv::from_lookup(&lookup(&v)).unwrap_err(),
            EnvError::NoToken
        );
    }
}
