//! Phases: how a workflow is cut into branches (DESIGN.md, "Phases").

use super::Workflow;
use serde::Serialize;

/// The run order of a workflow: `{"workflow", "concurrency", "phases": [...]}`.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub workflow: String,
    pub concurrency: usize,
    pub phases: Vec<PlannedPhase>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedPhase {
    /// 1-based.
    pub index: usize,
    pub name: String,
    /// Branch-safe name: lowercase ASCII letters, digits and `-`.
    #[serde(skip)]
    pub slug: String,
    /// Task ids in a valid run order (dependencies first; ties by priority, then file order).
    pub tasks: Vec<String>,
    /// The checkpoint task that ends this phase, if any.
    pub checkpoint: Option<String>,
}

/// Cuts a validated workflow into phases.
pub fn plan(workflow: &Workflow) -> Plan {
    let _ = workflow;
    unimplemented!("workflow::plan::plan")
}
