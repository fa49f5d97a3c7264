//! The ONNX IR types, generated at build time from `proto/onnx.proto` by
//! prost-build (see `build.rs`). proto2 fields are `Option`s, so a field a
//! producer wrote is written back even when it holds its default value.

#![allow(clippy::all, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/onnx.rs"));

pub use attribute_proto::AttributeType;
pub use tensor_proto::DataType;
