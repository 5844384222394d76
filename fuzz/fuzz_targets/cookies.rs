#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sidegate::fuzz::cookie_headers(data));
