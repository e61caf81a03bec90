//! `agents`: each agent's id, type, capabilities and runner; `assignedTasks` is
//! kept with its pointers so validation can hand tasks to the agents that claim them.

use super::{ids_with_pointers, object_id, opt_string, strings};
use crate::workflow::diagnostics::Report;
use crate::workflow::keys;
use crate::workflow::locate::{child, index};
use crate::workflow::model::Agent;
use crate::workflow::runner;
use crate::workflow::validate::AgentSrc;
use serde_json::{Map, Value};

pub(super) fn agents(v: Option<&Value>, r: &mut Report) -> (Vec<Agent>, Vec<AgentSrc>) {
    let items = match v {
        None | Some(Value::Null) => return (Vec::new(), Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            r.error("/agents", "`agents` is a list of agents, each with an `id`");
            return (Vec::new(), Vec::new());
        }
    };
    let mut agents = Vec::new();
    let mut srcs = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = index("/agents", i);
        let Value::Object(obj) = item else {
            r.error(
                &at,
                "each agent is an object with an `id`, a `type` and `capabilities`",
            );
            continue;
        };
        let Some(id) = object_id(obj, &at, "agent", keys::AGENT, "so tasks can name it", r) else {
            continue;
        };
        let name = opt_string(obj, "name", &at, r).unwrap_or_else(|| id.clone());
        let kind = opt_string(obj, "type", &at, r).unwrap_or_else(|| "general".to_string());
        let capabilities = strings(
            obj.get("capabilities"),
            &child(&at, "capabilities"),
            "`capabilities` is a list of strings",
            false,
            r,
        );
        let runner = obj
            .get("runner")
            .and_then(|v| runner::parse(v, &child(&at, "runner"), r));
        let assigned = ids_with_pointers(
            obj.get("assignedTasks"),
            &child(&at, "assignedTasks"),
            "`assignedTasks`",
            r,
        );
        let mut extra: Map<String, Value> = obj
            .iter()
            .filter(|(k, _)| !keys::AGENT_READ.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // claude-flow writes both; agents always find it as `config`.
        if !extra.contains_key("config") {
            if let Some(c) = obj.get("configuration") {
                extra.insert("config".to_string(), c.clone());
            }
        }
        agents.push(Agent {
            id,
            name,
            kind,
            capabilities,
            runner,
            extra,
        });
        srcs.push(AgentSrc {
            pointer: at,
            assigned,
        });
    }
    (agents, srcs)
}
