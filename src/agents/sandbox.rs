//! The one place prflow prepares a process that runs workflow code: `command` runners,
//! command gates, the services the performance gate starts, and claude-flow `hooks`.
//!
//! Why it exists: whoever can push a workflow file to an installed repository decides
//! what these processes run, while prflow holds the webhook secret, the App's private
//! key (which acts on *every* installation) and push tokens. So a workflow process:
//!
//! - **starts from an empty environment** plus `PATH`, `HOME`, `LANG`, `LC_*`,
//!   `TMPDIR` from prflow's own, the variables the caller adds (prflow's `PRFLOW_*`
//!   task variables, the runner's own `env` from the workflow, `CI=true` for gates),
//!   and the variables the operator names in `PRFLOW_RUNNER_ENV` (comma separated,
//!   e.g. `OPENAI_API_KEY,ANTHROPIC_API_KEY` for a coding-agent CLI). Names in
//!   [`NEVER_PASSED`] (the webhook secret, the App's key and key path, tokens, git's
//!   credential config) are never inherited, even when the operator lists them;
//! - **runs under a supervisor** ([`supervisor`]): a forked copy of prflow that is a
//!   child subreaper, so everything the command starts — `setsid` and double forks
//!   included — stays its descendant and is killed when the command exits, times out,
//!   is cancelled, or when prflow itself dies.
//!
//! The API, for every caller that starts workflow code:
//!
//! ```no_run
//! use prflow::agents::sandbox;
//! use prflow::workflow::CommandLine;
//! use std::time::Duration;
//! # fn main() -> std::io::Result<()> {
//! let line = CommandLine::Shell("npm test".into());
//! let env = [("PRFLOW_TASK_ID".to_string(), "build".to_string())];
//! let mut cmd = sandbox::command(&line, std::path::Path::new("/tmp/checkout"), &env);
//! cmd.stdout(std::process::Stdio::null()); // stdin is already /dev/null
//! let done = sandbox::run_with_timeout(&mut cmd, Duration::from_secs(600))?;
//! if done.timed_out { /* the command and all it started are gone */ }
//! # Ok(()) }
//! ```
//!
//! A caller that needs the [`std::process::Child`] itself (the performance gate waits
//! for a service to answer) spawns the command and ends it with [`terminate`], never
//! with `Child::kill` (a SIGKILL to the supervisor would orphan what it watches).

pub mod environ;
pub mod supervisor;
pub mod temp;

use crate::workflow::CommandLine;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The operator's list of extra variables runners may see.
pub const RUNNER_ENV: &str = "PRFLOW_RUNNER_ENV";

/// Always passed from prflow's environment when set (plus every `LC_*`).
const ALWAYS_PASSED: &[&str] = &["PATH", "HOME", "LANG", "TMPDIR"];

/// Never inherited by workflow code, whatever `PRFLOW_RUNNER_ENV` says: the App's and
/// the service's secrets, every token prflow may push or call the API with, and git's
/// environment configuration (which carries the push token as an HTTP header).
pub const NEVER_PASSED: &[&str] = &[
    "WEBHOOK_SECRET",
    "PRFLOW_SIM_WEBHOOK_SECRET",
    "APP_ID",
    "PRIVATE_KEY",
    "PRIVATE_KEY_PATH",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GITHUB_PAT",
    "INPUT_TOKEN",
    "ACTIONS_RUNTIME_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "GIT_ASKPASS",
    "SSH_AUTH_SOCK",
];

/// Prefixes never inherited: git's `GIT_CONFIG_*` (the push token travels there), and
/// prflow's own settings (`PRFLOW_*`: the task variables come from prflow itself).
const NEVER_PASSED_PREFIXES: &[&str] = &["GIT_CONFIG_", "PRFLOW_"];

/// How long the processes of a timed-out or cancelled command get between SIGTERM and
/// SIGKILL.
pub const GRACE: Duration = Duration::from_secs(2);

/// Is `name` a variable workflow code must never inherit from prflow?
pub fn never_passed(name: &str) -> bool {
    NEVER_PASSED.contains(&name) || NEVER_PASSED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The variables workflow code inherits from `parent` (prflow's environment): the
/// always-passed ones and those the operator lists in `PRFLOW_RUNNER_ENV`, minus
/// [`never_passed`] names.
pub fn inherited_env(
    parent: impl IntoIterator<Item = (OsString, OsString)>,
) -> Vec<(OsString, OsString)> {
    let parent: Vec<(OsString, OsString)> = parent.into_iter().collect();
    let listed: Vec<String> = parent
        .iter()
        .find(|(k, _)| k == RUNNER_ENV)
        .map(|(_, v)| {
            v.to_string_lossy()
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    parent
        .into_iter()
        .filter(|(k, _)| {
            let Some(name) = k.to_str() else {
                return false;
            };
            let wanted = ALWAYS_PASSED.contains(&name)
                || name.starts_with("LC_")
                || listed.iter().any(|l| l == name);
            wanted && !never_passed(name)
        })
        .collect()
}

/// Names listed in `PRFLOW_RUNNER_ENV` that will not be passed because they are
/// secrets prflow keeps to itself; for a warning at start-up.
pub fn refused_runner_env() -> Vec<String> {
    std::env::var(RUNNER_ENV)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty() && never_passed(n))
        .map(str::to_string)
        .collect()
}

/// A command for workflow code, ready to spawn: `sh -c` for a string (it is shell),
/// the program and its arguments for a list; the environment described in the module
/// doc with `env` added last; `workdir` as its directory; stdin `/dev/null`; and the
/// supervisor that kills all it starts. Set stdout/stderr as you need.
pub fn command(line: &CommandLine, workdir: &Path, env: &[(String, String)]) -> Command {
    let mut cmd = match line {
        CommandLine::Shell(s) => {
            let mut c = Command::new("sh");
            c.arg("-c").arg(s);
            c
        }
        CommandLine::Argv(argv) => {
            let mut c = Command::new(argv.first().map(String::as_str).unwrap_or("false"));
            c.args(argv.iter().skip(1));
            c
        }
    };
    cmd.env_clear()
        .envs(inherited_env(std::env::vars_os()))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(workdir)
        .stdin(Stdio::null());
    supervisor::install(&mut cmd, GRACE);
    cmd
}

/// Makes prflow's own process unreadable to workflow code running as the same user:
/// not dumpable, so `/proc/PID/environ` (which still holds the secrets prflow was
/// started with), `/proc/PID/mem` and `ptrace` are refused to anyone but root. The
/// supervisor, a fork of prflow, inherits it; the commands it execs do not. For root,
/// the secret values of that block are overwritten too ([`environ`]). Call it first in
/// `main`, before any thread starts: it changes the environment.
pub fn harden_self() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl on our own process with integer arguments.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    environ::scrub_initial_block();
}

/// How a supervised command ended.
#[derive(Debug)]
pub struct Finished {
    /// The command's own exit status (the supervisor exits the same way).
    pub status: Option<ExitStatus>,
    /// The timeout ended it (then everything it started was stopped).
    pub timed_out: bool,
    pub duration: Duration,
}

/// Spawns `cmd` (made by [`command`]) and waits for it up to `timeout`; on timeout the
/// command and every process it started get SIGTERM, then SIGKILL after [`GRACE`].
/// When it returns, no process the command started is running.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> std::io::Result<Finished> {
    let started = Instant::now();
    let mut child = cmd.spawn()?;
    let mut nap = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Finished {
                status: Some(status),
                timed_out: false,
                duration: started.elapsed(),
            });
        }
        if started.elapsed() >= timeout {
            let status = terminate(&mut child);
            return Ok(Finished {
                status,
                timed_out: true,
                duration: started.elapsed(),
            });
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(20));
    }
}

/// Stops a supervised command now: the supervisor sends SIGTERM to everything the
/// command started, SIGKILL after [`GRACE`], and exits once none of it runs. Returns
/// the command's status (`None` if the supervisor itself had to be killed).
pub fn terminate(child: &mut Child) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    // SAFETY: kill(2) on our own child's pid, which is not reaped yet (no reuse).
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let until = Instant::now() + GRACE + supervisor::KILL_BUDGET + Duration::from_secs(1);
    while Instant::now() < until {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // The supervisor did not finish (it should always): last resort.
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    fn names(env: &[(OsString, OsString)]) -> Vec<String> {
        let mut n: Vec<String> = env
            .iter()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    }

    #[test]
    fn only_the_allowlist_and_the_operators_list_are_inherited() {
        let parent = vars(&[
            ("PATH", "/usr/bin"),
            ("HOME", "/home/p"),
            ("LANG", "C.UTF-8"),
            ("LC_ALL", "C"),
            ("TMPDIR", "/tmp"),
            ("USER", "p"),
            ("WEBHOOK_SECRET", "s"),
            ("PRIVATE_KEY_PATH", "/k.pem"),
            ("GITHUB_TOKEN", "ghs_x"),
            ("GIT_CONFIG_VALUE_0", "Authorization: Basic x"),
            ("PRFLOW_SIM_WEBHOOK_SECRET", "s"),
            ("OPENAI_API_KEY", "sk-1"),
            ("ANTHROPIC_API_KEY", "sk-2"),
            (RUNNER_ENV, " OPENAI_API_KEY , WEBHOOK_SECRET,GITHUB_TOKEN"),
        ]);
        assert_eq!(
            names(&inherited_env(parent)),
            ["HOME", "LANG", "LC_ALL", "OPENAI_API_KEY", "PATH", "TMPDIR"]
        );
    }

    #[test]
    fn secrets_are_never_passed() {
        for name in [
            "WEBHOOK_SECRET",
            "PRIVATE_KEY",
            "INPUT_TOKEN",
            "GIT_CONFIG_COUNT",
        ] {
            assert!(never_passed(name), "{name}");
        }
        assert!(!never_passed("OPENAI_API_KEY"));
    }
}
