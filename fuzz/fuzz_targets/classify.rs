#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sidegate::fuzz::client_hints(data));
