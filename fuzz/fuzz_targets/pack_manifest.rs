#![no_main]
//! Fuzzes prflow::fuzzing::pack_manifest (see docs/security.md).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    prflow::fuzzing::pack_manifest(data);
});
