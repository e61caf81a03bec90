#![no_main]
//! Fuzzes prflow::fuzzing::comment_commands (see docs/security.md).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        prflow::fuzzing::comment_commands(text);
    }
});
