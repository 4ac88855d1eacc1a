#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kubetrail_fuzz::event_wire::run(data));
