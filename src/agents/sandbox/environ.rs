//! Why `/proc/PID/environ` of prflow shows no secret, even to root.
//!
//! The kernel answers `/proc/PID/environ` from the block of memory the environment was
//! passed in at `exec`, not from what the process holds now: `remove_var` changes
//! nothing there. Not being dumpable ([`super::harden_self`]) hides it from other users,
//! but a workflow command running as root — a container, a self-hosted runner — could
//! still `cat /proc/$PPID/environ` of its supervisor (a fork of prflow, so the same
//! block) and read the webhook secret or a token.
//!
//! So at start-up, before any thread exists, every variable workflow code does not
//! inherit anyway is given a heap copy (`setenv`, so prflow itself still reads it as
//! before) and its value in the original block is overwritten with zeros. What the
//! kernel then shows is `NAME=` followed by nothing. Root can still read prflow's
//! memory by other means (`/proc/PID/mem`, ptrace); docs/security.md says so.

use std::ffi::{CStr, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// Is `name`'s value one to hide? Everything but what every workflow command gets
/// from prflow anyway (`PATH`, `HOME`, `LANG`, `TMPDIR`, `LC_*`).
fn hidden(name: &[u8]) -> bool {
    let passed =
        super::ALWAYS_PASSED.iter().any(|p| p.as_bytes() == name) || name.starts_with(b"LC_");
    !passed
}

/// Overwrites, in the environment block prflow was started with, the values of every
/// [`hidden`] variable (see the module doc). Call it first thing in `main`, while the
/// process has one thread: it changes the environment. Returns how many values were
/// scrubbed. Does nothing where the block cannot be located.
pub fn scrub_initial_block() -> usize {
    #[cfg(target_os = "linux")]
    {
        linux::scrub()
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use super::*;

    extern "C" {
        static mut environ: *const *mut libc::c_char;
    }

    /// `env_start` and `env_end` of this process (fields 50 and 51 of
    /// `/proc/self/stat`, Linux 3.5 and later).
    fn block() -> Option<(usize, usize)> {
        let stat = std::fs::read("/proc/self/stat").ok()?;
        // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
        let after = stat.iter().rposition(|&b| b == b')')?;
        let fields: Vec<&[u8]> = stat[after + 1..]
            .split(|&b| b == b' ')
            .filter(|f| !f.is_empty())
            .collect();
        // fields[0] is field 3 (state), so field N is fields[N - 3].
        let num = |n: usize| -> Option<usize> {
            std::str::from_utf8(fields.get(n - 3)?)
                .ok()?
                .trim()
                .parse()
                .ok()
        };
        let (start, end) = (num(50)?, num(51)?);
        (start < end).then_some((start, end))
    }

    pub(super) fn scrub() -> usize {
        let Some((start, end)) = block() else {
            return 0;
        };
        // Entries of the original block to hide: (index in environ, name, value, value address).
        let mut found: Vec<(usize, OsString, OsString, *mut u8, usize)> = Vec::new();
        // SAFETY: `environ` is the C library's NULL-terminated array of NUL-terminated
        // strings; we only read it here, with no other thread running.
        unsafe {
            let env = environ;
            if env.is_null() {
                return 0;
            }
            let mut i = 0;
            while !(*env.add(i)).is_null() {
                let entry = *env.add(i);
                let at = entry as usize;
                if at >= start && at < end {
                    let bytes = CStr::from_ptr(entry).to_bytes();
                    if let Some(eq) = bytes.iter().position(|&b| b == b'=') {
                        let (name, value) = (&bytes[..eq], &bytes[eq + 1..]);
                        if !name.is_empty() && !value.is_empty() && hidden(name) {
                            found.push((
                                i,
                                OsStr::from_bytes(name).to_owned(),
                                OsStr::from_bytes(value).to_owned(),
                                entry.add(eq + 1) as *mut u8,
                                value.len(),
                            ));
                        }
                    }
                }
                i += 1;
            }
        }
        let mut scrubbed = 0;
        for (i, name, value, at, len) in found {
            // A heap copy first, so that prflow's own reads see the value unchanged.
            std::env::set_var(&name, &value);
            // SAFETY: as above; the write stays inside the value's own bytes of the
            // original block, and only once `environ` no longer points at that entry.
            unsafe {
                let now = *environ.add(i);
                let moved = now.is_null() || (now as usize) < start || (now as usize) >= end;
                if moved && std::env::var_os(&name).as_deref() == Some(value.as_os_str()) {
                    std::ptr::write_bytes(at, 0, len);
                    scrubbed += 1;
                }
            }
        }
        scrubbed
    }
}

#[cfg(test)]
mod tests {
    use super::hidden;

    #[test]
    fn secrets_are_hidden_and_what_runners_get_anyway_is_not() {
        for name in [
            "WEBHOOK_SECRET",
            "GITHUB_TOKEN",
            "OPENAI_API_KEY",
            "PRFLOW_X",
        ] {
            assert!(hidden(name.as_bytes()), "{name}");
        }
        for name in ["PATH", "HOME", "LANG", "TMPDIR", "LC_ALL"] {
            assert!(!hidden(name.as_bytes()), "{name}");
        }
    }
}
