//! Control flow at run time: whether a task that is due runs or is skipped.
//!
//! A task's `condition` is evaluated when the task is due (its dependencies are
//! finished), over the outputs and variables known then, by the JavaScript engine of
//! [`crate::workflow::expr`]. A false condition skips the task: no commit, no outputs;
//! it counts as finished for the tasks after it, and a task that refers to one of its
//! outputs fails, naming both.

use crate::workflow::expr::{self, ExprError, Scope};
use crate::workflow::{vars, Task, Workflow};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

/// What happens to a task that is due.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Run,
    /// Skipped, and why (for status, the PR's task table and the run graph).
    Skip(String),
}

/// What is known when a task is due.
pub struct Known<'a> {
    pub outputs: &'a HashMap<String, Map<String, Value>>,
    /// Tasks skipped so far (every phase), and why.
    pub skipped: &'a BTreeMap<String, String>,
}

/// The expression a `condition` stands for: a condition's id gives its expression, a
/// variable's name that variable, anything else is the expression itself.
pub fn expression_of(workflow: &Workflow, condition: &str) -> String {
    let c = condition.trim();
    if let Some(named) = workflow.conditions.iter().find(|k| k.id == c) {
        return named.expression.clone();
    }
    if workflow.variables.contains_key(c) {
        return format!("variables[{}]", Value::from(c));
    }
    c.to_string()
}

/// Runs `task` or skips it. `Err` fails the task: its condition could not be
/// evaluated, or it refers to an output of a task that was skipped.
pub fn decide(workflow: &Workflow, task: &Task, known: &Known<'_>) -> Result<Decision, String> {
    for r in vars::output_refs(&task.input) {
        if let Some(why) = known.skipped.get(&r.task) {
            return Err(skipped_reference(&task.id, &r.task, &r.key, why));
        }
    }
    let Some(condition) = &task.control.condition else {
        return Ok(Decision::Run);
    };
    let expression = expression_of(workflow, condition);
    let scope = Scope {
        variables: &workflow.variables,
        outputs: known.outputs,
        iteration: 0,
        current_item: None,
    };
    match expr::truthy(&expression, &scope) {
        Ok(true) => Ok(Decision::Run),
        Ok(false) => Ok(Decision::Skip(if expression == *condition {
            format!("its condition `{condition}` is false")
        } else {
            format!("its condition `{condition}` (`{expression}`) is false")
        })),
        Err(ExprError::MissingOutput { task: other, key }) => match known.skipped.get(&other) {
            Some(why) => Err(skipped_reference(&task.id, &other, &key, why)),
            None => Err(format!(
                "its condition `{condition}` cannot be evaluated: {}",
                ExprError::MissingOutput { task: other, key }
            )),
        },
        Err(e) => Err(format!(
            "its condition `{condition}` cannot be evaluated: {e}; fix the expression (JavaScript, e.g. outputs['task.key'] === true && variables.flag)"
        )),
    }
}

fn skipped_reference(task: &str, other: &str, key: &str, why: &str) -> String {
    let what = if key.is_empty() {
        format!("${{{other}.output}}")
    } else {
        format!("${{{other}.output.{key}}}")
    };
    format!(
        "task `{task}` refers to {what}, but task `{other}` was skipped ({why}) and has no outputs; \
         give `{task}` the same condition, or refer to a task that always runs"
    )
}

/// Is `task` named as a handler (`onSuccess`/`onFailure`) by any task? Such a task
/// runs only when one of those triggers it.
pub fn is_handler(workflow: &Workflow, task: &str) -> bool {
    workflow.tasks.iter().any(|t| {
        t.control.on_success.iter().any(|h| h == task)
            || t.control.on_failure.iter().any(|h| h == task)
    })
}

/// What triggered handler `task`, if anything: `Some(None)` a success, `Some(Some(e))`
/// a failure with its error. `committed` says whether a task committed (succeeded);
/// `failed` holds the failures waiting for their handlers.
pub fn trigger_of(
    workflow: &Workflow,
    task: &str,
    committed: &dyn Fn(&str) -> bool,
    failed: &HashMap<String, String>,
) -> Option<Option<String>> {
    for t in &workflow.tasks {
        if t.control.on_failure.iter().any(|h| h == task) {
            if let Some(e) = failed.get(&t.id) {
                return Some(Some(e.clone()));
            }
        }
        if t.control.on_success.iter().any(|h| h == task) && committed(&t.id) {
            return Some(None);
        }
    }
    None
}

/// How a group of steps repeats.
#[derive(Debug, Clone)]
enum Repeat {
    /// One run of one task.
    Once,
    /// `iterative: true`: the task `max` times.
    Iterative { max: u32 },
    /// `loops[i]`: its tasks, in order, once per iteration.
    Loop(usize),
}

/// The tasks that run as one sequence: a single task, an iterative task, or a loop's
/// body. Each step is one run of one task (one commit); a unit has at most one step
/// running, and its next step starts from the commit of the one before.
#[derive(Debug, Clone)]
pub struct Unit {
    /// The tasks the unit finishes, in run order.
    pub tasks: Vec<String>,
    repeat: Repeat,
    /// foreach: the items, computed when the loop starts.
    items: Option<Vec<Value>>,
    /// The 1-based iteration in progress (0 before the first).
    pub iteration: u32,
    /// Position in `tasks` of the next step within the iteration.
    pos: usize,
    started: bool,
}

/// One run of one task.
#[derive(Debug, Clone)]
pub struct Step {
    pub task: String,
    /// 1-based; 0 when the task is not looped.
    pub iteration: u32,
    /// foreach: this iteration's item.
    pub item: Option<Value>,
}

impl Unit {
    /// The units of a phase's pending tasks: each loop's body tasks (those pending) as
    /// one unit, then every other task alone, in plan order.
    pub fn plan(workflow: &Workflow, pending: &[&Task]) -> Vec<Unit> {
        let mut units = Vec::new();
        let mut placed: std::collections::HashSet<&str> = Default::default();
        for t in pending {
            if placed.contains(t.id.as_str()) {
                continue;
            }
            if let Some((i, l)) = workflow
                .loops
                .iter()
                .enumerate()
                .find(|(_, l)| l.tasks.contains(&t.id))
            {
                let tasks: Vec<String> = l
                    .tasks
                    .iter()
                    .filter(|id| pending.iter().any(|p| p.id == **id))
                    .filter(|id| !placed.contains(id.as_str()))
                    .cloned()
                    .collect();
                for id in &tasks {
                    placed.insert(pending.iter().find(|p| p.id == *id).unwrap().id.as_str());
                }
                units.push(Unit::new(tasks, Repeat::Loop(i)));
                continue;
            }
            placed.insert(t.id.as_str());
            let repeat = if t.control.iterative {
                Repeat::Iterative {
                    max: t
                        .control
                        .max_iterations
                        .unwrap_or(crate::workflow::parse::DEFAULT_MAX_ITERATIONS),
                }
            } else {
                Repeat::Once
            };
            units.push(Unit::new(vec![t.id.clone()], repeat));
        }
        units
    }

    fn new(tasks: Vec<String>, repeat: Repeat) -> Unit {
        Unit {
            tasks,
            repeat,
            items: None,
            iteration: 0,
            pos: 0,
            started: false,
        }
    }

    /// Does each step carry an iteration (a loop body, an iterative task)?
    pub fn looped(&self) -> bool {
        !matches!(self.repeat, Repeat::Once)
    }

    /// The loop's id, for messages.
    pub fn loop_id<'w>(&self, workflow: &'w Workflow) -> Option<&'w str> {
        match self.repeat {
            Repeat::Loop(i) => Some(workflow.loops[i].id.as_str()),
            _ => None,
        }
    }

    /// Does a failed step let the loop go on (`continueOnError`)?
    pub fn continue_on_error(&self, workflow: &Workflow) -> bool {
        matches!(self.repeat, Repeat::Loop(i) if workflow.loops[i].continue_on_error)
    }

    /// The next step, or `None` when the unit is finished. A loop's condition is
    /// evaluated before each iteration (`while`) or once when it starts (`foreach`).
    pub fn next(
        &mut self,
        workflow: &Workflow,
        outputs: &HashMap<String, Map<String, Value>>,
    ) -> Result<Option<Step>, String> {
        match self.repeat.clone() {
            Repeat::Once => {
                if self.started {
                    return Ok(None);
                }
                self.started = true;
                Ok(Some(Step {
                    task: self.tasks[0].clone(),
                    iteration: 0,
                    item: None,
                }))
            }
            Repeat::Iterative { max } => {
                if self.iteration >= max {
                    return Ok(None);
                }
                self.iteration += 1;
                Ok(Some(Step {
                    task: self.tasks[0].clone(),
                    iteration: self.iteration,
                    item: None,
                }))
            }
            Repeat::Loop(i) => {
                if self.tasks.is_empty() {
                    return Ok(None);
                }
                let spec = &workflow.loops[i];
                if self.pos == 0 {
                    if self.iteration >= spec.max_iterations {
                        return Ok(None);
                    }
                    let scope = Scope {
                        variables: &workflow.variables,
                        outputs,
                        iteration: self.iteration,
                        current_item: None,
                    };
                    let go_on = match spec.kind {
                        crate::workflow::LoopKind::Foreach => {
                            if self.items.is_none() {
                                self.items = Some(foreach_items(spec, &scope)?);
                            }
                            let n = self.items.as_ref().map_or(0, Vec::len);
                            (self.iteration as usize) < n
                        }
                        // A while loop's body runs once, then again while its
                        // condition holds (claude-flow's retry loops test the
                        // outputs of their own body).
                        crate::workflow::LoopKind::While if self.iteration == 0 => true,
                        crate::workflow::LoopKind::While => {
                            let cond = spec.condition.as_deref().unwrap_or("false");
                            let cond = expression_of(workflow, cond);
                            expr::truthy(&cond, &scope).map_err(|e| {
                                format!(
                                    "the condition of loop `{}` cannot be evaluated: {e}",
                                    spec.id
                                )
                            })?
                        }
                    };
                    if !go_on {
                        return Ok(None);
                    }
                    self.iteration += 1;
                }
                let step = Step {
                    task: self.tasks[self.pos].clone(),
                    iteration: self.iteration,
                    item: self
                        .items
                        .as_ref()
                        .and_then(|items| items.get(self.iteration as usize - 1))
                        .cloned(),
                };
                self.pos = (self.pos + 1) % self.tasks.len();
                Ok(Some(step))
            }
        }
    }

    /// Why a task of this unit that never committed did not run.
    pub fn why_not_run(&self, workflow: &Workflow) -> String {
        match &self.repeat {
            Repeat::Loop(i) if self.iteration == 0 => {
                format!("loop `{}` ran no iteration", workflow.loops[*i].id)
            }
            _ => "every iteration was skipped".to_string(),
        }
    }
}

/// The items of a foreach loop: `items`, or the list its `condition` yields.
fn foreach_items(
    spec: &crate::workflow::LoopSpec,
    scope: &Scope<'_>,
) -> Result<Vec<Value>, String> {
    if let Some(items) = &spec.items {
        return Ok(items.clone());
    }
    let expression = spec.condition.as_deref().unwrap_or("[]");
    match expr::value(expression, scope) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(Value::Null) => Ok(Vec::new()),
        Ok(other) => Err(format!(
            "loop `{}`: its condition `{expression}` yields {}, not a list; a foreach loop runs once per item of a list",
            spec.id,
            crate::workflow::diagnostics::clip(other.to_string())
        )),
        Err(e) => Err(format!(
            "the items of loop `{}` cannot be evaluated: {e}",
            spec.id
        )),
    }
}

/// The run-time placeholders of one step, for `vars::resolve_runtime` and hooks.
pub fn runtime_values(
    workflow: &Workflow,
    task: &Task,
    step: &Step,
    error: Option<&str>,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("task.id".into(), Value::from(task.id.as_str()));
    m.insert("task.name".into(), Value::from(task.name.as_str()));
    m.insert("workflow.name".into(), Value::from(workflow.name.as_str()));
    if step.iteration > 0 {
        m.insert("iteration".into(), Value::from(step.iteration));
        m.insert("loop.index".into(), Value::from(step.iteration - 1));
    }
    if let Some(item) = &step.item {
        m.insert("loop.current_item".into(), item.clone());
    }
    if let Some(e) = error {
        m.insert("error.message".into(), Value::from(e));
    }
    m
}

/// The end of an error, as `${error.message}` gives it.
pub fn error_tail(e: &str) -> String {
    const MAX: usize = 1000;
    let e = e.trim();
    if e.len() <= MAX {
        return e.to_string();
    }
    let mut start = e.len() - MAX;
    while !e.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &e[start..])
}
