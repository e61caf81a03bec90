//! `${task.output.key}` references inside tasks: each names a task that exists, is not
//! the task itself, and declares the key; each implies a dependency on that task (as in
//! Terraform), recorded with the reference so a cycle it closes can say so.

use super::diagnostics::Report;
use super::keys;
use super::model::Task;
use super::validate::{Dep, Sources};
use super::vars;
use std::collections::HashMap;

/// Checks every `${task.output.key}` inside each task and records the dependency it implies.
pub(super) fn check(
    tasks: &[Task],
    task_ix: &HashMap<String, usize>,
    s: &Sources,
    deps: &mut [Vec<usize>],
    dep_src: &mut [Vec<Dep>],
    r: &mut Report,
) {
    for (i, src) in s.tasks.iter().enumerate() {
        let Some(value) = s.task_values.get(src.index) else {
            continue;
        };
        let mut found = Vec::new();
        vars::output_refs_at(value, &src.pointer, &mut |p, rf| {
            found.push((p.to_string(), rf))
        });
        for (p, rf) in found {
            let text = if rf.key.is_empty() {
                format!("${{{}.output}}", rf.task)
            } else {
                format!("${{{}.output.{}}}", rf.task, rf.key)
            };
            let Some(&j) = task_ix.get(&rf.task) else {
                let hint = keys::suggestion(&rf.task, tasks.iter().map(|t| t.id.as_str()));
                r.error(
                    &p,
                    format!(
                        "`{text}` refers to task `{}`, which does not exist{hint}",
                        rf.task
                    ),
                );
                continue;
            };
            if j == i {
                r.error(&p, format!("`{text}`: task `{}` cannot use its own output; only outputs of earlier tasks", rf.task));
                continue;
            }
            let target = &tasks[j];
            if declares(target, &rf.key) {
                add_dependency(i, j, &rf.task, &p, text, deps, dep_src);
                continue;
            }
            if target.output_keys.is_empty() {
                r.error(
                    &p,
                    format!(
                        "`{text}`: task `{}` declares no `output`; add \"output\": {{\"{}\": \"…\"}} to `{}` so it is known to produce `{}`",
                        rf.task, rf.key, rf.task, rf.key
                    ),
                );
                continue;
            }
            let declared: Vec<&str> = target.output_keys.iter().map(String::as_str).collect();
            let hint = keys::suggestion(&rf.key, declared.iter().copied());
            r.error(
                &p,
                format!(
                    "`{text}`: task `{}` does not declare output `{}`{hint}; it declares {} (add `{}` to its `output`{})",
                    rf.task,
                    rf.key,
                    keys::list(&declared),
                    rf.key,
                    declared_elsewhere(tasks, i, j, &rf.key)
                ),
            );
        }
    }
}

/// Does `task` produce `key`: the whole output (`""`), a declared key, or a path
/// whose first segment is one (`metrics.accuracy` into `metrics`)?
fn declares(task: &Task, key: &str) -> bool {
    key.is_empty()
        || task.output_keys.iter().any(|k| k == key)
        || key
            .split_once('.')
            .is_some_and(|(first, _)| task.output_keys.iter().any(|k| k == first))
}

/// Records that task `i` runs after task `j` because of the reference `text` at `p`.
fn add_dependency(
    i: usize,
    j: usize,
    id: &str,
    p: &str,
    text: String,
    deps: &mut [Vec<usize>],
    dep_src: &mut [Vec<Dep>],
) {
    if !deps[i].contains(&j) {
        deps[i].push(j);
        dep_src[i].push(Dep {
            id: id.to_string(),
            pointer: p.to_string(),
            implied_by: Some(text),
        });
    }
}

/// When exactly one other task (neither the referring task `i` nor `j`) declares the
/// key, the reference probably named the wrong task: the fix names the right one.
fn declared_elsewhere(tasks: &[Task], i: usize, j: usize, key: &str) -> String {
    let first = key.split('.').next().unwrap_or(key);
    let others: Vec<&Task> = tasks
        .iter()
        .enumerate()
        .filter(|(k, t)| *k != i && *k != j && t.output_keys.iter().any(|o| o == first))
        .map(|(_, t)| t)
        .collect();
    match others.as_slice() {
        [t] => format!(
            ", or use `${{{}.output.{key}}}`: task `{}` declares it",
            t.id, t.id
        ),
        _ => String::new(),
    }
}
