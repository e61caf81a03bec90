//! The supervisor: why a runner's `setsid sleep 1000 &` cannot outlive its task.
//!
//! A process group is not enough: `setsid` (or a double fork) leaves it, and a kill of
//! the group misses that process. So between prflow and the command sits a forked copy
//! of prflow that marks itself a *child subreaper* (`PR_SET_CHILD_SUBREAPER`): every
//! process the command starts, when orphaned, is re-parented to the supervisor instead
//! of to init, so the supervisor can always find all of them — they are its children,
//! or children of its children. It:
//!
//! - waits for the command (reaping orphans meanwhile);
//! - when the command exits: SIGKILLs every remaining descendant, then exits with the
//!   command's status (same code, or the same signal);
//! - on SIGTERM/SIGINT/SIGHUP (prflow's timeout or cancellation, Ctrl-C) or when prflow
//!   dies (its parent changes): SIGTERM to the command's process group, SIGKILL to every
//!   descendant after the grace period, then exits.
//!
//! It runs between `fork` and `exec` of [`std::process::Command`] (a `pre_exec` hook),
//! so it only makes async-signal-safe calls: no allocation, no locks, raw `/proc`
//! reads into stack buffers. Linux only; elsewhere commands get a process group.

use std::process::Command;
use std::time::Duration;

/// The longest the supervisor spends killing descendants after the grace period.
pub const KILL_BUDGET: Duration = Duration::from_secs(5);

/// Makes `cmd`, when spawned, run under a supervisor (see the module doc); `grace` is
/// the time between SIGTERM and SIGKILL when the command is stopped.
pub fn install(cmd: &mut Command, grace: Duration) {
    use std::os::unix::process::CommandExt;
    #[cfg(target_os = "linux")]
    {
        let grace_ns = grace.as_nanos().min(i64::MAX as u128) as i64;
        // SAFETY: the hook only makes async-signal-safe calls (see `linux::fork_supervised`).
        unsafe {
            cmd.pre_exec(move || linux::fork_supervised(grace_ns));
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = grace;
        cmd.process_group(0);
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io;

    const NS: i64 = 1_000_000_000;

    /// In the forked child: becomes the supervisor and forks the command's process.
    /// Returns `Ok` only in that process (which then execs); the supervisor never
    /// returns.
    pub(super) fn fork_supervised(grace_ns: i64) -> io::Result<()> {
        // SAFETY: plain system calls on our own process; no memory is shared.
        unsafe {
            let prflow = libc::getppid();
            // Exited children must stay waitable, whatever prflow's disposition was.
            libc::signal(libc::SIGCHLD, libc::SIG_DFL);
            if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            let mut watched: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut watched);
            for s in [libc::SIGCHLD, libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
                libc::sigaddset(&mut watched, s);
            }
            // Blocked before the fork so that no SIGCHLD or SIGTERM is lost.
            let mut before: libc::sigset_t = std::mem::zeroed();
            libc::sigprocmask(libc::SIG_BLOCK, &watched, &mut before);
            let pid = libc::fork();
            if pid < 0 {
                return Err(io::Error::last_os_error());
            }
            if pid == 0 {
                // The command: its own process group, the signal mask it had.
                libc::setpgid(0, 0);
                libc::sigprocmask(libc::SIG_SETMASK, &before, std::ptr::null_mut());
                return Ok(());
            }
            supervise(pid, prflow, &watched, grace_ns)
        }
    }

    /// The supervisor's life; exits the process.
    unsafe fn supervise(cmd: i32, prflow: i32, watched: &libc::sigset_t, grace_ns: i64) -> ! {
        // Hold no descriptor but stdio: the pipe std uses to learn that exec worked
        // must close when the command execs, not when the supervisor exits.
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
            for fd in 3..4096 {
                libc::close(fd);
            }
        }
        libc::setpgid(cmd, cmd); // as the child does: whoever runs first wins the race
        let mut status: Option<i32> = None;
        let mut stop = false;
        loop {
            reap(cmd, &mut status);
            if status.is_some() {
                break;
            }
            if stop || libc::getppid() != prflow {
                // Timeout, cancellation or prflow gone: ask first, then insist.
                libc::kill(-cmd, libc::SIGTERM);
                signal_children(libc::SIGTERM);
                let until = now_ns() + grace_ns;
                while status.is_none() && now_ns() < until {
                    wait_signal(watched, 20_000_000);
                    reap(cmd, &mut status);
                }
                break;
            }
            if let Some(sig) = wait_signal(watched, 100_000_000) {
                stop = sig != libc::SIGCHLD;
            }
        }
        kill_all(cmd, &mut status);
        exit_as(status)
    }

    /// Waits up to `ns` for one of `set`; the signal, if one came.
    unsafe fn wait_signal(set: &libc::sigset_t, ns: i64) -> Option<i32> {
        let ts = libc::timespec {
            tv_sec: (ns / NS) as libc::time_t,
            tv_nsec: (ns % NS) as _,
        };
        let sig = libc::sigtimedwait(set, std::ptr::null_mut(), &ts);
        (sig > 0).then_some(sig)
    }

    /// Reaps every child that exited; records the command's status. Returns false once
    /// the supervisor has no child left.
    unsafe fn reap(cmd: i32, status: &mut Option<i32>) -> bool {
        loop {
            let mut st = 0;
            let pid = libc::waitpid(-1, &mut st, libc::WNOHANG);
            if pid == cmd {
                *status = Some(st);
            }
            if pid == 0 {
                return true;
            }
            if pid < 0 {
                return *libc::__errno_location() != libc::ECHILD;
            }
        }
    }

    /// SIGKILLs the command's group and every descendant until none is left. A killed
    /// process's children are re-parented to us, so repeating "kill my children" reaches
    /// every generation.
    unsafe fn kill_all(cmd: i32, status: &mut Option<i32>) {
        let until = now_ns() + super::KILL_BUDGET.as_nanos() as i64;
        loop {
            libc::kill(-cmd, libc::SIGKILL);
            signal_children(libc::SIGKILL);
            if !reap(cmd, status) || now_ns() > until {
                return;
            }
            let ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 1_000_000,
            };
            libc::nanosleep(&ts, std::ptr::null_mut());
        }
    }

    /// Ends the supervisor the way the command ended.
    unsafe fn exit_as(status: Option<i32>) -> ! {
        match status {
            Some(st) if libc::WIFEXITED(st) => libc::_exit(libc::WEXITSTATUS(st)),
            Some(st) if libc::WIFSIGNALED(st) => {
                let sig = libc::WTERMSIG(st);
                let mut none: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut none);
                libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
                libc::signal(sig, libc::SIG_DFL);
                libc::kill(libc::getpid(), sig);
                libc::_exit(128 + sig)
            }
            _ => libc::_exit(128 + libc::SIGKILL),
        }
    }

    fn now_ns() -> i64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: writes into our own timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        #[allow(clippy::unnecessary_cast)] // time_t is 32 bits on some targets
        let ns = ts.tv_sec as i64 * NS + ts.tv_nsec as i64;
        ns
    }

    /// Sends `sig` to every process whose parent is this one, found by reading
    /// `/proc/*/stat` with raw system calls into stack buffers.
    unsafe fn signal_children(sig: i32) {
        let me = libc::getpid();
        let dir = libc::open(
            c"/proc".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        );
        if dir < 0 {
            return;
        }
        let mut buf = [0u8; 8192];
        loop {
            let n = libc::syscall(libc::SYS_getdents64, dir, buf.as_mut_ptr(), buf.len());
            if n <= 0 {
                break;
            }
            let mut off = 0usize;
            while off + 19 < n as usize {
                // struct linux_dirent64 { u64 ino; i64 off; u16 reclen; u8 type; char name[]; }
                let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
                if reclen == 0 {
                    break;
                }
                let name = &buf[off + 19..(off + reclen).min(n as usize)];
                if let Some(pid) = parse_pid(name) {
                    if pid != me && parent_of(pid) == Some(me) {
                        libc::kill(pid, sig);
                    }
                }
                off += reclen;
            }
        }
        libc::close(dir);
    }

    /// A NUL-terminated decimal name as a pid.
    fn parse_pid(name: &[u8]) -> Option<i32> {
        let mut pid: i32 = 0;
        let mut digits = 0;
        for &b in name {
            match b {
                0 => break,
                b'0'..=b'9' => {
                    pid = pid.checked_mul(10)?.checked_add((b - b'0') as i32)?;
                    digits += 1;
                }
                _ => return None,
            }
        }
        (digits > 0).then_some(pid)
    }

    /// The parent pid in `/proc/PID/stat` (`pid (comm) state ppid …`).
    unsafe fn parent_of(pid: i32) -> Option<i32> {
        let mut path = [0u8; 32];
        let prefix = b"/proc/";
        path[..prefix.len()].copy_from_slice(prefix);
        let mut len = prefix.len();
        let mut digits = [0u8; 12];
        let mut n = 0;
        let mut p = pid;
        loop {
            digits[n] = b'0' + (p % 10) as u8;
            n += 1;
            p /= 10;
            if p == 0 {
                break;
            }
        }
        while n > 0 {
            n -= 1;
            path[len] = digits[n];
            len += 1;
        }
        let suffix = b"/stat\0";
        path[len..len + suffix.len()].copy_from_slice(suffix);
        let fd = libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return None;
        }
        let mut stat = [0u8; 512];
        let got = libc::read(fd, stat.as_mut_ptr().cast(), stat.len());
        libc::close(fd);
        if got <= 0 {
            return None;
        }
        let stat = &stat[..got as usize];
        let close = stat.iter().rposition(|&b| b == b')')?;
        // ") S 1234 ": skip ") ", the state letter and a space.
        let rest = stat.get(close + 4..)?;
        let end = rest.iter().position(|&b| b == b' ')?;
        let mut ppid: i32 = 0;
        for &b in &rest[..end] {
            if !b.is_ascii_digit() {
                return None;
            }
            ppid = ppid.checked_mul(10)?.checked_add((b - b'0') as i32)?;
        }
        Some(ppid)
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn reads_parents_from_proc() {
            let me = std::process::id() as i32;
            // SAFETY: reads /proc into stack buffers.
            let parent = unsafe { super::parent_of(me) };
            assert_eq!(parent, Some(unsafe { libc::getppid() }));
            assert_eq!(super::parse_pid(b"123\0"), Some(123));
            assert_eq!(super::parse_pid(b"self\0"), None);
        }
    }
}
