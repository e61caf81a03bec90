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
    json!({
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
                    "failurePolicy": {"type": "string", "examples": ["fail-fast", "continue"]},
                    "maxConcurrency": positive
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
            "outputDir": {"type": "string", "not": {"pattern": "(^/|(^|/)\\.\\.(/|$)|^\\.git(/|$))"}}
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
    })
}
