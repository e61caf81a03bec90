//! Which pack carries out a task: match rules, priority, and what a pack supports.
//!
//! Comparisons ignore ASCII case (`PostgreSQL` matches `postgresql`). A value that is
//! still an unresolved `${task.output.key}` reference matches anything: it is only
//! known at run time.

use super::pack::{MatchRules, Pack};
use crate::workflow::{Agent, RunnerSpec, Task, Workflow};
use serde_json::Value;

/// The scalar values of an input entry: the value itself, or every element of an array.
fn values_of(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().flat_map(values_of).collect(),
        Value::String(s) => vec![s.clone()],
        Value::Null => vec![],
        other => vec![other.to_string()],
    }
}

fn is_reference(s: &str) -> bool {
    (s.starts_with("${") && s.ends_with('}')) || s.starts_with("output:")
}

fn one_of(value: &str, allowed: &[String]) -> bool {
    allowed.iter().any(|a| a.eq_ignore_ascii_case(value))
}

fn input_get<'v>(input: &'v Value, key: &str) -> Option<&'v Value> {
    input
        .as_object()
        .and_then(|m| m.get(key))
        .filter(|v| !v.is_null())
}

/// The task type a task without `type` is taken to have, from what its agent is:
/// claude-flow's own workflows often leave `type` out and let the agent say it
/// (`devops` → devops, `tester` → testing). Agents that do not write files a pack
/// could generate (researchers, analysts) imply nothing, so no pack matches their
/// tasks and they fall to the default runner (`--runner`, `settings.runner`).
pub fn implied_task_type(agent: &Agent) -> Option<&'static str> {
    const BY_AGENT: &[(&[&str], &str)] = &[
        (&["architect", "designer", "system-architect"], "design"),
        (
            &[
                "developer",
                "coder",
                "engineer",
                "backend-developer",
                "frontend-developer",
                "fullstack-developer",
            ],
            "development",
        ),
        (&["devops", "ops", "sre", "platform-engineer"], "devops"),
        (&["tester", "qa", "test-engineer"], "testing"),
    ];
    BY_AGENT
        .iter()
        .find(|(kinds, _)| one_of_str(&agent.kind, kinds))
        .map(|(_, t)| *t)
}

fn one_of_str(value: &str, allowed: &[&str]) -> bool {
    allowed.iter().any(|a| a.eq_ignore_ascii_case(value))
}

/// The start of the reason a service pack gives for a task that builds no service.
const NO_SERVICE: &str = "the task builds no service";

/// Every reason `pack` does not match (empty when it does). With several rule sets,
/// the reasons of the one that came closest.
pub fn mismatches(pack: &Pack, agent: &Agent, task: &Task) -> Vec<String> {
    let mut best: Option<Vec<String>> = None;
    for rules in &pack.rules {
        let why = rule_mismatches(rules, agent, task);
        if why.is_empty() {
            return why;
        }
        if best.as_ref().is_none_or(|b| why.len() < b.len()) {
            best = Some(why);
        }
    }
    best.unwrap_or_default()
}

fn rule_mismatches(r: &MatchRules, agent: &Agent, task: &Task) -> Vec<String> {
    let mut why = Vec::new();
    if !r.agent_type.is_empty() && !one_of(&agent.kind, &r.agent_type) {
        why.push(format!(
            "agent type `{}` is not {}",
            agent.kind,
            r.agent_type.join("|")
        ));
    }
    if !r.capabilities.is_empty()
        && !agent
            .capabilities
            .iter()
            .any(|c| one_of(c, &r.capabilities))
    {
        why.push(format!(
            "agent has none of the capabilities {}",
            r.capabilities.join("|")
        ));
    }
    let kind = task.kind.as_deref().or_else(|| implied_task_type(agent));
    if !r.task_type.is_empty() && !kind.is_some_and(|k| one_of(k, &r.task_type)) {
        why.push(match (&task.kind, kind) {
            (None, Some(k)) => format!(
                "the task has no type and its agent's (`{k}`, from agent type `{}`) is not {}",
                agent.kind,
                r.task_type.join("|")
            ),
            _ => format!(
                "task type `{}` is not {}",
                kind.unwrap_or("(none)"),
                r.task_type.join("|")
            ),
        });
    }
    if !r.service.is_empty() {
        let kind = super::system::service_kind(task, Some(agent));
        if !kind.is_some_and(|k| one_of(k, &r.service)) {
            why.push(match kind {
                Some(k) => format!("the task builds a {k} service, not {}", r.service.join("|")),
                None => format!(
                    "{NO_SERVICE} (this pack builds {} services: a development task whose input names a framework, database or resources)",
                    r.service.join("|")
                ),
            });
        }
    }
    if !r.task_id.is_empty() && !one_of(&task.id, &r.task_id) {
        why.push(format!("task id is not {}", r.task_id.join("|")));
    }
    for key in &r.requires_input {
        if input_get(&task.input, key).is_none() {
            why.push(format!("input has no `{key}`"));
        }
    }
    for (key, allowed) in &r.input {
        if let Some(v) = input_get(&task.input, key) {
            for value in values_of(v) {
                if !is_reference(&value) && !one_of(&value, allowed) {
                    why.push(format!(
                        "input.{key} `{value}` is not {}",
                        allowed.join("|")
                    ));
                }
            }
        }
    }
    why
}

/// Why `pack` does not match (`None` when it does).
pub fn mismatch(pack: &Pack, agent: &Agent, task: &Task) -> Option<String> {
    let why = mismatches(pack, agent, task);
    (!why.is_empty()).then(|| why.join("; "))
}

/// The task input values `pack` cannot honour, as `(key, value)` pairs.
pub fn unsupported(pack: &Pack, task: &Task) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (key, allowed) in &pack.supports {
        if let Some(v) = input_get(&task.input, key) {
            for value in values_of(v) {
                if !is_reference(&value) && !one_of(&value, allowed) {
                    out.push((key.clone(), value));
                }
            }
        }
    }
    out
}

/// What a task asks for, for messages: `agent `x` (type developer, capabilities a, b), …`.
pub fn describe_request(workflow: &Workflow, task: &Task) -> String {
    let agent = workflow.agent(&task.agent);
    let mut s = match agent {
        Some(a) => format!(
            "agent `{}` (type {}, capabilities [{}])",
            a.id,
            a.kind,
            a.capabilities.join(", ")
        ),
        None => format!("agent `{}` (not declared)", task.agent),
    };
    s.push_str(&format!(
        ", task type {}",
        task.kind.as_deref().unwrap_or("(none)")
    ));
    if let Some(map) = task.input.as_object() {
        let parts: Vec<String> = map
            .iter()
            .filter(|(_, v)| {
                matches!(
                    v,
                    Value::String(_) | Value::Array(_) | Value::Number(_) | Value::Bool(_)
                )
            })
            .map(|(k, v)| format!("{k}={}", values_of(v).join(",")))
            .collect();
        if !parts.is_empty() {
            s.push_str(&format!(", input {}", parts.join(" ")));
        }
    }
    s
}

/// The pack names, and for the (at most two) packs that came closest, why they
/// did not match: short enough to read, specific enough to fix the task or a pack.
fn explain_no_match(packs: &[Pack], agent: &Agent, task: &Task) -> String {
    if packs.is_empty() {
        return "There are no template packs".into();
    }
    let names: Vec<&str> = packs.iter().map(|p| p.name.as_str()).collect();
    let mut scored: Vec<(usize, &Pack, Vec<String>)> = packs
        .iter()
        .map(|p| {
            let why = mismatches(p, agent, task);
            // A pack for services is far from a task that builds none, however few of
            // its other rules failed: rank it behind packs of the task's own kind.
            let far = why.iter().any(|w| w.starts_with(NO_SERVICE));
            (why.len() + if far { 3 } else { 0 }, p, why)
        })
        .collect();
    scored.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(b.1.priority.cmp(&a.1.priority))
            .then(a.1.name.cmp(&b.1.name))
    });
    let nearest: Vec<String> = scored
        .iter()
        .take(2)
        .map(|(_, p, why)| format!("`{}` ({})", p.name, why.join("; ")))
        .collect();
    format!(
        "Packs: {}. Closest: {}. `prflow templates list` shows what each pack matches",
        names.join(", "),
        nearest.join(", ")
    )
}

/// Picks the pack for `task` (see templates/README.md, "How a pack is chosen").
pub fn select<'p>(packs: &'p [Pack], workflow: &Workflow, task: &Task) -> Result<&'p Pack, String> {
    let chosen = choose(packs, workflow, task)?;
    match refusal_of(chosen, task) {
        Some(refused) => Err(refused),
        None => Ok(chosen),
    }
}

/// Why the pack chosen for `task` refuses it: an input value (a framework, a database,
/// a feature) the pack declares it does not generate. `None` when no pack is chosen or
/// the chosen one takes the task. `validate` makes this an error, not a warning: no
/// machine can change what the pack generates.
pub fn refusal(packs: &[Pack], workflow: &Workflow, task: &Task) -> Option<String> {
    choose(packs, workflow, task)
        .ok()
        .and_then(|p| refusal_of(p, task))
}

/// The pack for `task` by pin or match rules, before its `supports` are checked.
fn choose<'p>(packs: &'p [Pack], workflow: &Workflow, task: &Task) -> Result<&'p Pack, String> {
    let Some(agent) = workflow.agent(&task.agent) else {
        return Err(format!(
            "task `{}` names agent `{}`, which the workflow does not declare",
            task.id, task.agent
        ));
    };
    let pinned = match workflow.runner_for(task) {
        RunnerSpec::Template { pack } => pack,
        _ => None,
    };
    let chosen = if let Some(name) = pinned {
        packs.iter().find(|p| p.name == name).ok_or_else(|| {
            format!(
                "task `{}` asks for template pack `{name}`, which does not exist; packs: {}",
                task.id,
                packs
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?
    } else {
        let mut matching: Vec<&Pack> = packs
            .iter()
            .filter(|p| mismatch(p, agent, task).is_none())
            .collect();
        matching.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.name.cmp(&b.name)));
        match matching.as_slice() {
            [] => {
                return Err(format!(
                    "no template pack matches task `{}`: it asks for {}. {}. \
                     Add a pack under .prflow/templates/ (templates/README.md), pin one with \
                     \"runner\": {{\"template\": \"NAME\"}}, or give the agent a command or llm runner",
                    task.id,
                    describe_request(workflow, task),
                    explain_no_match(packs, agent, task)
                ))
            }
            [first, second, ..] if first.priority == second.priority => {
                return Err(format!(
                    "task `{}` matches packs `{}` and `{}` with the same priority {}: raise one's \
                     priority, narrow its match rules, or pin one with \"runner\": {{\"template\": \"NAME\"}}",
                    task.id, first.name, second.name, first.priority
                ))
            }
            [first, ..] => *first,
        }
    };
    Ok(chosen)
}

/// The refusal message of `chosen` for the input values of `task` it does not support.
fn refusal_of(chosen: &Pack, task: &Task) -> Option<String> {
    let missing = unsupported(chosen, task);
    if !missing.is_empty() {
        let mut by_key: Vec<String> = Vec::new();
        for (key, allowed) in &chosen.supports {
            let asked: Vec<&str> = missing
                .iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
                .collect();
            if !asked.is_empty() {
                by_key.push(format!(
                    "{key} {} (supported: {})",
                    asked.join(", "),
                    allowed.join(", ")
                ));
            }
        }
        return Some(format!(
            "task `{}` asks for {}, which template pack `{}` does not support; remove it from the \
             task's input or use a pack that supports it",
            task.id,
            by_key.join("; "),
            chosen.name
        ));
    }
    None
}
