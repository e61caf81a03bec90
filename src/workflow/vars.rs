//! `${name}` variables and `${task-id.output.key}` references.

use serde_json::{Map, Value};
use std::collections::HashMap;

/// A `${task.output.key}` reference found inside a value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OutputRef {
    pub task: String,
    pub key: String,
}

/// Every output reference inside `value` (strings at any depth).
pub fn output_refs(value: &Value) -> Vec<OutputRef> {
    let _ = value;
    unimplemented!("vars::output_refs")
}

/// Replaces output references with the outputs of earlier tasks. A string that is
/// exactly one reference becomes the referenced value itself (objects stay objects).
pub fn resolve_outputs(value: &Value, outputs: &HashMap<String, Map<String, Value>>) -> Value {
    let _ = (value, outputs);
    unimplemented!("vars::resolve_outputs")
}
