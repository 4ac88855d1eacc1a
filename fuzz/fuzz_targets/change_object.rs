#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kubetrail_fuzz::change_object::run(data));
