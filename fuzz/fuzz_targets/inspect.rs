//! load → validate → inspect (text and JSON), on arbitrary bytes: never a
//! panic, an abort or an allocation sized by an unchecked declaration.
#![no_main]

use std::path::Path;

use acon_onnx::{ConvertOptions, inspect::inspect, model::load_bytes};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(model) = load_bytes(Path::new("fuzz.onnx"), Bytes::copy_from_slice(data)) else {
        return;
    };
    let options = ConvertOptions::default();
    // The CLI validates first and refuses an invalid model; the report must
    // not depend on that, so both run on every input.
    let _ = acon_onnx::validate(&model, &options);
    let report = inspect(&model, "fuzz.onnx", &options);
    let _ = report.to_text();
    let _ = serde_json::to_string(&report).expect("the report serialises");
});
