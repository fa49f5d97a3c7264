//! load → convert → encode, on arbitrary bytes. Whatever arrives, the
//! library returns an error or a model; it never panics, aborts or allocates
//! from a size it has not checked against the bytes present. A model that
//! converts must convert to the same bytes a second time (each run hashes
//! with fresh random keys, so an output that follows a hash map's order
//! shows up), and must encode, load back, and convert again to itself
//! (conversion is idempotent).
#![no_main]

use std::path::Path;

use acon_onnx::{ConvertOptions, convert, model::load_bytes};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.onnx");
    let bytes = Bytes::copy_from_slice(data);
    let Ok(mut model) = load_bytes(path, bytes.clone()) else {
        return;
    };
    let options = ConvertOptions {
        check_each_pass: true,
        ..ConvertOptions::default()
    };
    if convert(&mut model, &options).is_err() {
        return;
    }
    // What `save` streams to disk is exactly prost's encoding.
    let encoded = model.encode_to_vec();
    let mut twice = load_bytes(path, bytes).expect("the same bytes load twice");
    convert(&mut twice, &options).expect("the same model converts twice");
    assert!(
        twice.encode_to_vec() == encoded,
        "converting the same bytes twice gave different models"
    );
    let mut again =
        load_bytes(path, Bytes::from(encoded.clone())).expect("a converted model loads back");
    convert(&mut again, &options).expect("a converted model converts again");
    assert!(
        again.encode_to_vec() == encoded,
        "converting a converted model changed it"
    );
});
