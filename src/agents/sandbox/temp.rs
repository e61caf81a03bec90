//! Temporary folders for workflow code: the task's isolated checkout and its scratch
//! files (`task.json`, the prompt), which hold the task and the review feedback.
//!
//! Why not plain `tempfile::tempdir()`: a run killed by SIGTERM or SIGKILL runs no
//! destructor, and its folders stayed behind. So every folder of a prflow process lives
//! in one root, `$TMPDIR/prflow-tasks-XXXXXX` (mode 0700, random name), locked with
//! `flock` for the process's lifetime; folders inside get random names (never a task
//! id), mode 0700, and files are written 0600. The root is removed on SIGTERM, SIGINT
//! and SIGHUP ([`remove_on_signals`]) and at exit ([`cleanup`]); a root whose lock is
//! free belongs to a process that died (even by SIGKILL) and is removed by the next
//! prflow that makes one.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const ROOT_PREFIX: &str = "prflow-tasks-";
const LOCK: &str = ".lock";

/// This process's root and the open lock file that marks it alive.
static ROOT: Mutex<Option<(PathBuf, File)>> = Mutex::new(None);

/// A new folder (mode 0700, random name) for `purpose` (a fixed word such as `task`,
/// never user input) inside this process's root; removed when dropped.
pub fn dir(purpose: &str) -> io::Result<tempfile::TempDir> {
    let root = root()?;
    tempfile::Builder::new()
        .prefix(&format!("{purpose}-"))
        .permissions(private())
        .tempdir_in(root)
}

/// Writes `bytes` to a new file only its owner can read (0600).
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

fn root() -> io::Result<PathBuf> {
    let mut guard = ROOT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((path, _)) = guard.as_ref() {
        if path.is_dir() {
            return Ok(path.clone());
        }
    }
    let tmp = std::env::temp_dir();
    sweep(&tmp);
    let path = tempfile::Builder::new()
        .prefix(ROOT_PREFIX)
        .permissions(private())
        .tempdir_in(&tmp)?
        .keep();
    let lock = File::create(path.join(LOCK))?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(io::Error::last_os_error());
    }
    *guard = Some((path.clone(), lock));
    Ok(path)
}

/// Owner only (the umask may only narrow it).
fn private() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(0o700)
}

/// Removes the roots in `tmp` whose owner is gone (their lock can be taken).
fn sweep(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().starts_with(ROOT_PREFIX) {
            continue;
        }
        let Ok(lock) = File::open(e.path().join(LOCK)) else {
            continue;
        };
        // SAFETY: flock on a descriptor we own; released when `lock` closes.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Removes this process's root and everything in it (at exit, or on a signal).
pub fn cleanup() {
    let mut guard = ROOT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((path, _lock)) = guard.take() {
        let _ = std::fs::remove_dir_all(path);
    }
}

/// For commands that install no signal handling of their own (`run`, `action`,
/// `approve` …): SIGTERM, SIGINT and SIGHUP remove the root, then end the process as
/// the signal would (exit code 128 + signal). Must be called before any thread starts,
/// so that every thread inherits the blocked mask and only the watcher receives them.
pub fn remove_on_signals() {
    // SAFETY: signal-mask calls on our own process.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::sigaddset(&mut set, s);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        let watcher = std::thread::Builder::new()
            .name("prflow-signals".into())
            .spawn(move || {
                let mut sig = 0;
                if libc::sigwait(&set, &mut sig) == 0 {
                    cleanup();
                    std::process::exit(128 + sig);
                }
            });
        if watcher.is_err() {
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn folders_and_files_are_private_and_a_dead_root_is_swept() {
        let d = dir("task").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(d.path()), 0o700);
        assert_eq!(mode(d.path().parent().unwrap()), 0o700);
        let f = d.path().join("task.json");
        write_private(&f, b"{}").unwrap();
        assert_eq!(mode(&f), 0o600);

        // A root left by a process that died: nobody holds its lock.
        let tmp = tempfile::tempdir().unwrap();
        let stale = tmp.path().join(format!("{ROOT_PREFIX}dead"));
        std::fs::create_dir(&stale).unwrap();
        std::fs::write(stale.join(LOCK), "").unwrap();
        std::fs::write(stale.join("task.json"), "secret").unwrap();
        let live = tmp.path().join(format!("{ROOT_PREFIX}live"));
        std::fs::create_dir(&live).unwrap();
        let held = File::create(live.join(LOCK)).unwrap();
        unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX) };
        sweep(tmp.path());
        assert!(!stale.exists());
        assert!(live.exists());
    }
}
