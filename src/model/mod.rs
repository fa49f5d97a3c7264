//! Reading and writing `ModelProto` files, and the small tables the passes
//! share: tensor contents as numbers (`tensor`), value shapes and types
//! (`facts`), fresh unique names (`names`) and graph consistency checks
//! (`check`).
//!
//! Loading reads the file once and decodes it without copying weights: each
//! tensor's `raw_data` is a slice of the file's buffer. Saving encodes the
//! model straight into a temporary file beside the destination through a
//! small buffer, then renames it, so a converted model is never held twice in
//! memory and a failed write leaves nothing behind.

pub mod check;
pub mod facts;
pub mod io;
pub mod names;
pub mod tensor;

pub use io::{SaveOptions, load, load_bytes, save};
