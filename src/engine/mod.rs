//! Runs a plan: scheduler, isolation and merge, checkpoints, resume.
