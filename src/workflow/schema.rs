//! A JSON Schema (draft 2020-12) of the workflow format, for editors and CI linters.
//!
//! It describes the same keys and types the parser reads (`parse/`, `runner.rs`):
//! loose where claude-flow is loose (unknown keys allowed on workflows, agents and
//! tasks), strict inside prflow's own objects (runners, gates, phases). What a
//! schema cannot express — that ids exist, that there is no cycle, that a reference
//! names a declared output — is left to `prflow validate`, which also gives lines
//! and columns. A test validates every claude-flow example against it.

use serde_json::{json, Value};

/// The schema as a JSON value (`prflow schema` prints it).
pub fn json_schema() -> Value {
    let id = json!({"type": "string", "minLength": 1, "pattern": "^\\S+$"});
    let ids = json!({"anyOf": [{"$ref": "#/$defs/id"}, {"type": "array", "items": {"$ref": "#/$defs/id"}}]});
    let count = json!({"type": "number", "minimum": 0});
    let positive = json!({"type": "integer", "minimum": 1});
    // A number, or a `${variable}` string (substituted before it is read).
    let count_or_var = json!({"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": "^\\$\\{.+\\}$"}]});
    let task_ids = json!({"type": "array", "items": {"$ref": "#/$defs/id"}});
    let conditions = json!({
        "type": "array",
        "description": "named JavaScript expressions over `outputs` and `variables`; tasks name them in `condition`",
        "items": {
            "type": "object",
            "required": ["id", "expression"],
            "properties": {
                "id": {"$ref": "#/$defs/id"},
                "expression": {"type": "string"},
                "type": {"enum": ["javascript", "simple"]},
                "description": {"type": "string"}
            }
        }
    });
    let loops = json!({
        "type": "array",
        "items": {
            "type": "object",
            "required": ["type", "tasks"],
            "properties": {
                "id": {"$ref": "#/$defs/id"},
                "type": {"enum": ["foreach", "while"]},
                "condition": {"type": "string", "description": "foreach: the list to walk; while: the condition"},
                "items": {"type": "array"},
                "tasks": task_ids,
                "maxIterations": count_or_var,
                "continueOnError": {"type": "boolean"}
            }
        }
    });
    let hooks = json!({
        "type": "object",
        "description": "shell commands run in the task's checkout; ${task.id}, ${task.name}, ${error.message} are filled in",
        "properties": {
            "pre-task": {"type": "string"},
            "post-task": {"type": "string"},
            "on-error": {"type": "string"}
        }
    });
    let task_control = json!({
        "condition": {"type": ["string", "boolean"], "description": "a condition id, a variable name or an inline expression"},
        "onSuccess": task_ids,
        "onFailure": task_ids,
        "iterative": {"type": "boolean"},
        "maxIterations": count_or_var,
        "dependsOn": ids,
        "assignedTo": ids
    });
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "prflow workflow",
        "description": "A claude-flow workflow (every dialect of claude-flow's examples) plus prflow's own keys. See docs/workflow-format.md.",
        "type": "object",
        "required": ["tasks"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "description": {"type": "string"},
            "version": {"type": ["string", "number"]},
            "variables": {"type": "object", "description": "`${name}` is replaced on parsed values; an exact `${name}` keeps the value's type."},
            "agents": {"type": "array", "items": {"$ref": "#/$defs/agent"}},
            "tasks": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/task"}},
            "dependencies": {"type": "object", "description": "task id -> the task ids it depends on", "additionalProperties": ids},
            "parallel": {"type": "boolean", "description": "false runs one task at a time"},
            "execution": {
                "type": "object",
                "properties": {
                    "mode": {"type": "string", "examples": ["sequential", "parallel", "smart"]},
                    "parallelism": {"type": "object", "properties": {"max": positive, "strategy": {"type": "string"}}},
                    "maxConcurrency": positive,
                    "checkpoints": {"type": "array", "items": {"$ref": "#/$defs/id"}, "description": "tasks after which the run waits for an approval"},
                    "rollback": {"type": "boolean"},
                    "timeout": count
                }
            },
            "quality": {
                "type": "object",
                "properties": {
                    "codeReview": {"type": "boolean"},
                    "securityScan": {"type": "boolean"},
                    "performanceThreshold": {
                        "type": "object",
                        "properties": {
                            "responseTime": {"type": "number", "minimum": 0, "description": "p95 latency, ms"},
                            "throughput": {"type": "number", "minimum": 0, "description": "requests per second"}
                        }
                    }
                }
            },
            "settings": {
                "type": "object",
                "properties": {
                    "timeout": count,
                    "failurePolicy": {"type": "string", "examples": ["fail-fast", "continue", "ignore"]},
                    "retryPolicy": {"anyOf": [{"enum": ["exponential", "linear", "fixed", "immediate"]}, {"type": "object"}]},
                    "maxConcurrency": positive,
                    "runner": {"$ref": "#/$defs/runner", "description": "the default runner of tasks whose task and agent name none"},
                    "hooks": hooks.clone(),
                    "notifications": {"description": "claude-flow's; kept untouched"},
                    "monitoring": {"description": "claude-flow's; kept untouched"}
                }
            },
            "phases": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["tasks"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1},
                        "tasks": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/id"}},
                        "checkpoint": {"type": "boolean"}
                    }
                }
            },
            "gates": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1},
                        "run": {"type": "string"},
                        "paths": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                        "required": {"type": "boolean"}
                    }
                }
            },
            "reviewers": {"type": "array", "items": {"type": "string"}},
            "allowSelfApproval": {"type": "boolean"},
            "on": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
            "outputDir": {"type": "string", "not": {"pattern": "(^/|(^|/)\\.\\.(/|$)|^\\.git(/|$))"}},
            "conditions": conditions,
            "loops": loops,
            "hooks": hooks,
            "integrations": {"description": "claude-flow's; kept byte for byte (${…} inside is not substituted)"},
            "metadata": {"description": "kept byte for byte"}
        },
        "$defs": {
            "id": id,
            "agent": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"$ref": "#/$defs/id"},
                    "name": {"type": "string"},
                    "type": {"type": "string"},
                    "capabilities": {"type": "array", "items": {"type": "string"}},
                    "runner": {"$ref": "#/$defs/runner"},
                    "assignedTasks": {"type": "array", "items": {"$ref": "#/$defs/id"}}
                }
            },
            "task": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"$ref": "#/$defs/id"},
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                    "type": {"type": "string"},
                    "agentId": {"$ref": "#/$defs/id"},
                    "assignTo": ids,
                    "dependencies": ids,
                    "depends": ids,
                    "input": {},
                    "output": {"type": ["object", "array", "string"]},
                    "runner": {"$ref": "#/$defs/runner"},
                    "timeout": {"type": "number", "minimum": 0, "description": "milliseconds"},
                    "retries": {"type": "integer", "minimum": 0},
                    "priority": {"anyOf": [{"type": "number"}, {"type": "string"}]}
                }
            },
            "runner": {
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
            }
        }
    });
    if let (Some(props), Value::Object(extra)) = (
        schema
            .pointer_mut("/$defs/task/properties")
            .and_then(Value::as_object_mut),
        task_control,
    ) {
        props.extend(extra);
    }
    schema
}
