#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| postwerk_fuzzing::attachments(data));
