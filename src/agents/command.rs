//! The command runner: any coding-agent CLI run in the task's isolated tree.
