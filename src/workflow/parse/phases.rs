//! prflow's explicit `phases`: names, task lists and checkpoints, with pointers
//! kept for validation.

use super::{ids_with_pointers, opt_bool};
use crate::workflow::diagnostics::Report;
use crate::workflow::keys;
use crate::workflow::locate::{child, index};
use crate::workflow::model::PhaseSpec;
use crate::workflow::validate::{self, PhaseSrc};
use serde_json::Value;

pub(super) fn phases(v: Option<&Value>, r: &mut Report) -> Option<(Vec<PhaseSpec>, Vec<PhaseSrc>)> {
    let items = match v {
        None | Some(Value::Null) => return None,
        Some(Value::Array(items)) => items,
        Some(_) => {
            r.error("/phases", "`phases` is a list: [{\"name\": \"design\", \"tasks\": [\"…\"], \"checkpoint\": true}]");
            return None;
        }
    };
    if items.is_empty() {
        r.error("/phases", "`phases` is empty: list at least one phase, or remove `phases` to let checkpoints cut the run");
        return None;
    }
    let mut specs = Vec::new();
    let mut srcs = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = index("/phases", i);
        let Value::Object(p) = item else {
            r.error(
                &at,
                "a phase is an object: {\"name\": \"…\", \"tasks\": [\"…\"], \"checkpoint\": true}",
            );
            continue;
        };
        keys::reject_unknown(p, &at, keys::PHASE, "a phase", r);
        let name = match p.get("name") {
            None | Some(Value::Null) => format!("phase-{}", i + 1),
            Some(Value::String(s)) if !s.trim().is_empty() => {
                if let Some(problem) = validate::id_problem("phase", s, true) {
                    r.error(&child(&at, "name"), problem);
                }
                s.clone()
            }
            Some(_) => {
                r.error(
                    &child(&at, "name"),
                    "a phase's `name` is a non-empty string",
                );
                format!("phase-{}", i + 1)
            }
        };
        let tasks = match p.get("tasks") {
            Some(v @ Value::Array(a)) if !a.is_empty() => {
                ids_with_pointers(Some(v), &child(&at, "tasks"), "a phase's `tasks`", r)
            }
            _ => {
                r.error(
                    &at,
                    format!("phase `{name}` needs `tasks`: a non-empty list of task ids"),
                );
                Vec::new()
            }
        };
        let checkpoint = opt_bool(p, "checkpoint", &at, r).unwrap_or(false);
        specs.push(PhaseSpec {
            name,
            tasks: tasks.iter().map(|(t, _)| t.clone()).collect(),
            checkpoint,
        });
        srcs.push((at, tasks));
    }
    Some((specs, srcs))
}
