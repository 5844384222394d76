#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sidegate::fuzz::apikey_and_bearer(data));
