#![no_main]
//! Fuzzes prflow::fuzzing::webhook (see docs/security.md).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    prflow::fuzzing::webhook(data);
});
