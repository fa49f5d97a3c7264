//! Reading and writing `ModelProto` files with their external data
//! (`io`, `external`; every file the tool writes goes through `atomic`, and
//! `paths` says when two paths are one file), and the small tables the
//! passes share: tensor contents as numbers (`tensor`), value shapes and
//! types (`facts`, completed by the shape inference of `shapes`), the opsets
//! a model imports (`opsets`), fresh unique names (`names`) and graph
//! consistency checks (`check`); `origins` remembers where each external
//! tensor was, so that a save puts it back there.
//!
//! Loading reads the file once and decodes it without copying weights: each
//! tensor's `raw_data` is a slice of the file's buffer, or of its external
//! data file, memory-mapped after the location passed the onnx package's
//! checks (`external`). Saving encodes the model straight into a temporary
//! file beside the destination through a small buffer, then renames it, so a
//! converted model is never held twice in memory and a failed write leaves
//! nothing behind; tensors go to an external data file when asked or when
//! the model would pass protobuf's 2 GiB limit.

pub mod atomic;
pub mod build;
pub mod check;
pub mod external;
pub mod facts;
pub mod hash;
pub mod io;
pub mod mapped;
pub mod names;
pub mod opsets;
pub mod origins;
pub mod paths;
pub mod shapes;
pub mod sink;
pub mod tensor;

pub use external::ExternalSources;
pub use io::{
    ExternalData, SaveOptions, Saved, load, load_bytes, load_with_sources, save, save_with_report,
};
