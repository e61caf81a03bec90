//! prflow: multi-agent workflow files in, reviewable git history out.
//!
//! See docs/architecture.md for the architecture. The front ends
//! (`cli`, `server`, `action`) translate their input into calls on the core
//! (`workflow`, `engine`); `gitops` and `github` carry out what the core decides.

pub mod action;
pub mod agents;
pub mod cli;
pub mod engine;
pub mod flow;
#[doc(hidden)]
pub mod fuzzing;
pub mod gates;
pub mod github;
pub mod gitops;
pub mod server;
pub mod sim;
pub mod workflow;
