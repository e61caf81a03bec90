//! A JSON Schema (draft 2020-12) of the workflow format, for editors and CI linters.
//!
//! It lists every key prflow reads (`parse/`, `runner.rs`) and every key claude-flow's own
//! workflow files use, with their types, so an editor completes keys and flags a
//! misspelt one: objects are closed (`additionalProperties: false`). prflow itself is
//! more lenient — an unknown key in claude-flow's objects is kept and passed to agents,
//! with a warning when it looks like a typo — so a key of your own that the schema
//! should allow starts with `x-`. What a schema cannot express (that ids exist, that
//! there is no cycle, that a reference names a declared output) is left to
//! `prflow validate`, which also gives lines and columns. A test validates every
//! claude-flow example and fixture against it.

use serde_json::{json, Map, Value};

/// The schema as a JSON value (`prflow schema` prints it).
pub fn json_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "prflow workflow",
        "description": "A claude-flow workflow (every dialect of claude-flow's files, and claude-flow v3's dual-mode `workers` file) plus prflow's own keys. Keys of your own start with `x-`. See docs/workflow-format.md.",
        "type": "object",
        "anyOf": [{"required": ["tasks"]}, {"required": ["workers"]}],
        "not": {"required": ["tasks", "workers"]},
        "properties": top_level(),
        "patternProperties": own_keys(),
        "additionalProperties": false,
        "$defs": defs()
    })
}

/// `x-…` keys: the user's, kept and passed to agents.
fn own_keys() -> Value {
    json!({"^x-": {}})
}

/// An object that allows `properties` (and `x-…` keys) only.
fn closed(properties: Value) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "patternProperties": own_keys(),
        "additionalProperties": false
    })
}

/// A key prflow does not read, kept as written for agents or for claude-flow.
fn kept(what: &str) -> Value {
    json!({"description": format!("{what}; prflow keeps it as written")})
}

fn with(mut object: Value, key: &str, value: Value) -> Value {
    if let Some(o) = object.as_object_mut() {
        o.insert(key.to_string(), value);
    }
    object
}

fn top_level() -> Value {
    json!({
        "$schema": {"type": "string", "description": "this schema's URL or path, for editors"},
        "name": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "version": {"type": ["string", "number"]},
        "variables": {"type": "object", "description": "`${name}` is replaced on parsed values; an exact `${name}` keeps the value's type; `${name.path}` reads into an object"},
        "agents": {"type": "array", "items": {"$ref": "#/$defs/agent"}},
        "tasks": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/task"}},
        "dependencies": {"type": "object", "description": "task id -> the task ids it depends on", "additionalProperties": {"$ref": "#/$defs/ids"}},
        "parallel": {"type": "boolean", "description": "false runs one task at a time"},
        "execution": {"$ref": "#/$defs/execution"},
        "quality": {"$ref": "#/$defs/quality"},
        "settings": {"$ref": "#/$defs/settings"},
        "phases": {
            "type": "array",
            "minItems": 1,
            "items": with(closed(json!({
                "name": {"type": "string", "minLength": 1},
                "tasks": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/id"}},
                "checkpoint": {"type": "boolean"}
            })), "required", json!(["tasks"]))
        },
        "gates": {
            "type": "array",
            "items": with(closed(json!({
                "name": {"type": "string", "minLength": 1},
                "run": {"type": "string"},
                "paths": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                "required": {"type": "boolean"}
            })), "required", json!(["name"]))
        },
        "reviewers": {"type": "array", "items": {"type": "string"}},
        "allowSelfApproval": {"type": "boolean"},
        "on": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "outputDir": {"type": "string", "not": {"pattern": "(^/|(^|/)\\.\\.(/|$)|^\\.git(/|$))"}},
        "conditions": {
            "type": "array",
            "description": "named JavaScript expressions over `outputs` and `variables`; tasks name them in `condition`",
            "items": {"$ref": "#/$defs/condition"}
        },
        "loops": {"type": "array", "items": {"$ref": "#/$defs/loop"}},
        "hooks": {"$ref": "#/$defs/hooks"},
        "integrations": kept("claude-flow's integrations (`${…}` inside is not substituted)"),
        "metadata": kept("anything"),
        "taskContext": {"type": "string", "description": "context every task's prompt carries (claude-flow v3's dual-mode file)"},
        "workers": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/worker"}, "description": "claude-flow v3's dual-mode workers: each is a task and an agent"}
    })
}

fn defs() -> Value {
    let mut d = Map::new();
    let mut put = |k: &str, v: Value| {
        d.insert(k.to_string(), v);
    };
    put(
        "id",
        json!({"type": "string", "minLength": 1, "pattern": "^\\S+$"}),
    );
    put(
        "ids",
        json!({"anyOf": [{"$ref": "#/$defs/id"}, {"type": "array", "items": {"$ref": "#/$defs/id"}}]}),
    );
    put(
        "taskIds",
        json!({"type": "array", "items": {"$ref": "#/$defs/id"}}),
    );
    put(
        "milliseconds",
        json!({"type": "number", "minimum": 0, "maximum": crate::workflow::parse::MAX_TIMEOUT_MS, "description": "milliseconds, as claude-flow writes them"}),
    );
    put("positive", json!({"type": "integer", "minimum": 1}));
    // A number, or a `${variable}` string (substituted before it is read).
    put(
        "iterations",
        json!({"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": "^\\$\\{.+\\}$"}]}),
    );
    put("agent", agent());
    put("task", task());
    put("worker", worker());
    put("execution", execution());
    put("quality", quality());
    put("settings", settings());
    put("hooks", hooks());
    put(
        "condition",
        with(
            closed(json!({
                "id": {"$ref": "#/$defs/id"},
                "expression": {"type": "string", "description": "JavaScript over `outputs['task.key']` and `variables`, or `${t.output.k} > 0.8`"},
                "type": {"enum": ["javascript", "simple"]},
                "description": {"type": "string"}
            })),
            "required",
            json!(["id", "expression"]),
        ),
    );
    put(
        "loop",
        with(
            closed(json!({
                "id": {"$ref": "#/$defs/id"},
                "type": {"enum": ["foreach", "while"]},
                "condition": {"type": "string", "description": "foreach: the list to walk; while: the condition checked after each pass"},
                "items": {"type": "array", "description": "foreach: a literal list"},
                "tasks": {"$ref": "#/$defs/taskIds"},
                "maxIterations": {"$ref": "#/$defs/iterations"},
                "continueOnError": {"type": "boolean"}
            })),
            "required",
            json!(["type", "tasks"]),
        ),
    );
    put("runner", runner());
    Value::Object(d)
}

fn agent() -> Value {
    with(
        closed(json!({
            "id": {"$ref": "#/$defs/id"},
            "name": {"type": "string"},
            "type": {"type": "string"},
            "description": {"type": "string"},
            "capabilities": {"type": "array", "items": {"type": "string"}},
            "runner": {"$ref": "#/$defs/runner"},
            "assignedTasks": {"$ref": "#/$defs/taskIds"},
            "config": kept("the agent's configuration, for its runner"),
            "configuration": kept("the same as `config`"),
            "tools": kept("claude-flow's tool list"),
            "resources": kept("claude-flow's resource limits"),
            "retries": kept("claude-flow's agent retries")
        })),
        "required",
        json!(["id"]),
    )
}

fn task() -> Value {
    with(
        closed(json!({
            "id": {"$ref": "#/$defs/id"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "type": {"type": "string"},
            "agentId": {"$ref": "#/$defs/id"},
            "assignTo": {"$ref": "#/$defs/ids", "description": "an agent, or a list whose first agent does the task"},
            "assignedTo": {"$ref": "#/$defs/ids", "description": "the same as `assignTo`"},
            "dependencies": {"$ref": "#/$defs/ids"},
            "depends": {"$ref": "#/$defs/ids"},
            "dependsOn": {"$ref": "#/$defs/ids"},
            "input": {},
            "output": {"type": ["object", "array", "string"], "description": "the keys the task produces (object keys, or a list of names)"},
            "runner": {"$ref": "#/$defs/runner"},
            "timeout": {"$ref": "#/$defs/milliseconds"},
            "retries": {"type": "integer", "minimum": 0, "maximum": crate::workflow::parse::MAX_RETRIES},
            "priority": {"anyOf": [{"type": "number"}, {"type": "string"}]},
            "condition": {"type": ["string", "boolean"], "description": "a condition id, a variable name or an inline expression; false skips the task"},
            "onSuccess": {"$ref": "#/$defs/taskIds"},
            "onFailure": {"$ref": "#/$defs/taskIds"},
            "iterative": {"type": "boolean", "description": "run `maxIterations` times, one commit each"},
            "maxIterations": {"$ref": "#/$defs/iterations"},
            "claudePrompt": {"type": "string", "description": "added to the prompt of command runners"},
            "parallel": kept("claude-flow's flag"),
            "config": kept("the task's configuration"),
            "configuration": kept("the same as `config`"),
            "tools": kept("claude-flow's tool list"),
            "tags": kept("labels"),
            "mode": kept("claude-flow's SPARC mode"),
            "coverage": kept("claude-flow's coverage target"),
            "skipPermissions": kept("claude-flow's flag")
        })),
        "required",
        json!(["id"]),
    )
}

fn worker() -> Value {
    with(
        closed(json!({
            "id": {"$ref": "#/$defs/id"},
            "platform": {"enum": ["claude", "codex"], "description": "claude runs `claude -p PROMPT`, codex runs `codex exec PROMPT`"},
            "role": {"type": "string"},
            "prompt": {"type": "string", "minLength": 1},
            "model": {"type": "string"},
            "maxTurns": {"type": "integer", "minimum": 0},
            "timeout": {"$ref": "#/$defs/milliseconds"},
            "dependsOn": {"$ref": "#/$defs/ids"},
            "readOnly": {"type": "boolean", "description": "codex runs with --sandbox read-only"},
            "worktreePath": kept("claude-flow's own worktree (prflow gives every task its own checkout)"),
            "capabilityEnvelope": kept("claude-flow's capability limits")
        })),
        "required",
        json!(["id", "platform", "prompt"]),
    )
}

fn execution() -> Value {
    closed(json!({
        "mode": {"enum": ["sequential", "parallel", "smart", "pipeline"], "description": "sequential: one task at a time; pipeline: also each task after the one before it in file order"},
        "parallelism": closed(json!({"max": {"$ref": "#/$defs/positive"}, "strategy": {"type": "string"}})),
        "maxConcurrency": {"$ref": "#/$defs/positive"},
        "checkpoints": {"type": "array", "items": {"$ref": "#/$defs/id"}, "description": "tasks after which the run waits for an approval"},
        "rollback": {"type": "boolean"},
        "timeout": {"$ref": "#/$defs/milliseconds"},
        "artifacts": kept("claude-flow's artifact settings"),
        "experiments": kept("claude-flow's experiment settings"),
        "notifications": kept("claude-flow's notifications"),
        "saveProgress": kept("claude-flow's flag")
    }))
}

fn quality() -> Value {
    closed(json!({
        "codeReview": {"type": "boolean"},
        "securityScan": {"type": "boolean"},
        "performanceThreshold": closed(json!({
            "responseTime": {"type": "number", "minimum": 0, "description": "p95 latency, ms"},
            "throughput": {"type": "number", "minimum": 0, "description": "requests per second"}
        })),
        "dataQuality": kept("claude-flow's data checks"),
        "modelThresholds": kept("claude-flow's model metrics")
    }))
}

fn settings() -> Value {
    closed(json!({
        "timeout": {"$ref": "#/$defs/milliseconds"},
        "failurePolicy": {"enum": ["fail-fast", "failFast", "fail_fast", "stop", "abort", "continue", "continue-on-error", "ignore"]},
        "retryPolicy": {"anyOf": [
            {"enum": ["exponential", "linear", "fixed", "constant", "immediate", "none"]},
            {"type": "object", "description": "{\"backoff\": \"exponential\"} as some files write it"}
        ]},
        "maxConcurrency": {"$ref": "#/$defs/positive"},
        "runner": {"$ref": "#/$defs/runner", "description": "the default runner of tasks whose task and agent name none"},
        "hooks": {"$ref": "#/$defs/hooks"},
        "notifications": kept("claude-flow's notifications (`${…}` inside is not substituted)"),
        "monitoring": kept("claude-flow's monitoring (`${…}` inside is not substituted)"),
        "errorHandler": kept("claude-flow's"),
        "memoryCoordination": kept("claude-flow's"),
        "outputFormat": kept("claude-flow's"),
        "progressReporting": kept("claude-flow's"),
        "progressTracking": kept("claude-flow's"),
        "resources": kept("claude-flow's")
    }))
}

fn hooks() -> Value {
    let hook = json!({"type": "string", "description": "a shell command run in the task's checkout; ${task.id}, ${task.name}, ${error.message} are filled in"});
    with(
        closed(json!({
            "pre-task": hook, "post-task": hook, "on-error": hook,
            "preTask": hook, "postTask": hook, "onError": hook
        })),
        "description",
        json!("shell commands run around every task (skipped with --skip-hooks)"),
    )
}

fn runner() -> Value {
    json!({
        "anyOf": [
            {"const": "template"},
            {
                "type": "object",
                "additionalProperties": false,
                "required": ["template"],
                "properties": {"template": {"type": ["string", "null"]}}
            },
            {
                "type": "object",
                "additionalProperties": false,
                "required": ["command"],
                "properties": {
                    "command": {"anyOf": [
                        {"type": "string", "minLength": 1},
                        {"type": "array", "minItems": 1, "items": {"type": "string"}}
                    ]},
                    "timeout": {"type": "integer", "minimum": 1, "description": "seconds"},
                    "env": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}
                }
            },
            {
                "type": "object",
                "additionalProperties": false,
                "required": ["llm"],
                "properties": {
                    "llm": {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["provider", "model"],
                        "properties": {
                            "provider": {"enum": ["openai", "anthropic"]},
                            "model": {"type": "string", "minLength": 1},
                            "baseUrl": {"type": "string"},
                            "apiKeyEnv": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}
                        }
                    }
                }
            }
        ]
    })
}
