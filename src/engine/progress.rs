//! What a person sees while a run works: a live view on a terminal, plain lines
//! otherwise (CI logs, pipes), nothing with `--quiet`.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

/// Events the engine reports while it runs.
pub trait Progress: Send + Sync {
    fn phase_started(&self, index: usize, name: &str, branch: &str, tasks: usize);
    fn task_started(&self, task: &str, agent: &str);
    fn task_done(&self, task: &str, commit: &str, files: usize);
    fn task_failed(&self, task: &str, error: &str);
    fn phase_finished(&self, index: usize, name: &str);
    /// A task that did not run: its condition was false, or it is a handler nothing
    /// triggered.
    fn task_skipped(&self, _task: &str, _why: &str) {}
}

/// Picks the view: live on a terminal, plain lines otherwise, none when quiet.
pub fn for_terminal(quiet: bool) -> Box<dyn Progress> {
    if quiet {
        Box::new(Quiet)
    } else if std::io::stderr().is_terminal() {
        Box::new(Live::default())
    } else {
        Box::new(Plain)
    }
}

pub struct Quiet;

impl Progress for Quiet {
    fn phase_started(&self, _: usize, _: &str, _: &str, _: usize) {}
    fn task_started(&self, _: &str, _: &str) {}
    fn task_done(&self, _: &str, _: &str, _: usize) {}
    fn task_failed(&self, _: &str, _: &str) {}
    fn phase_finished(&self, _: usize, _: &str) {}
}

/// One line per event on stderr.
pub struct Plain;

impl Progress for Plain {
    fn phase_started(&self, index: usize, name: &str, branch: &str, tasks: usize) {
        eprintln!("phase {index} ({name}): {tasks} task(s) on {branch}");
    }
    fn task_started(&self, task: &str, agent: &str) {
        eprintln!("  started  {task} ({agent})");
    }
    fn task_done(&self, task: &str, commit: &str, files: usize) {
        eprintln!("  done     {task} {} ({files} file(s))", short(commit));
    }
    fn task_failed(&self, task: &str, error: &str) {
        eprintln!("  FAILED   {task}: {error}");
    }
    fn task_skipped(&self, task: &str, why: &str) {
        eprintln!("  skipped  {task}: {why}");
    }
    fn phase_finished(&self, index: usize, name: &str) {
        eprintln!("phase {index} ({name}) committed");
    }
}

/// A spinner per running task under a phase bar.
#[derive(Default)]
pub struct Live {
    multi: MultiProgress,
    phase: Mutex<Option<ProgressBar>>,
    tasks: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress for Live {
    fn phase_started(&self, index: usize, name: &str, branch: &str, tasks: usize) {
        let bar = self.multi.add(ProgressBar::new(tasks as u64));
        bar.set_style(
            ProgressStyle::with_template("{prefix:.bold} [{bar:24}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("phase {index} {name}"));
        bar.set_message(branch.to_string());
        *self.phase.lock().unwrap() = Some(bar);
    }
    fn task_started(&self, task: &str, agent: &str) {
        let s = self.multi.add(ProgressBar::new_spinner());
        s.set_style(
            ProgressStyle::with_template("  {spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        s.set_message(format!("{task} ({agent})"));
        s.enable_steady_tick(Duration::from_millis(100));
        self.tasks.lock().unwrap().insert(task.to_string(), s);
    }
    fn task_done(&self, task: &str, commit: &str, files: usize) {
        if let Some(s) = self.tasks.lock().unwrap().remove(task) {
            s.finish_with_message(format!("✔ {task} {} ({files} file(s))", short(commit)));
        }
        if let Some(p) = &*self.phase.lock().unwrap() {
            p.inc(1);
        }
    }
    fn task_failed(&self, task: &str, error: &str) {
        if let Some(s) = self.tasks.lock().unwrap().remove(task) {
            s.abandon_with_message(format!("✘ {task}: {}", error.lines().next().unwrap_or("")));
        }
    }
    fn task_skipped(&self, task: &str, why: &str) {
        let _ = self.multi.println(format!("  – {task} skipped: {why}"));
        if let Some(p) = &*self.phase.lock().unwrap() {
            p.inc(1);
        }
    }
    fn phase_finished(&self, _index: usize, _name: &str) {
        if let Some(p) = self.phase.lock().unwrap().take() {
            p.finish();
        }
    }
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(8)]
}
