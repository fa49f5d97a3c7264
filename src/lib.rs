//! acon-onnx: turns ONNX models that use the ACON family of activations
//! (ACON-A/B/C and Meta-ACON, Ma et al., CVPR 2021) into models of standard
//! ONNX ops that any runtime executes, and checks and runs them with tract.
//!
//! Data flows one way: [`load`] a model, run the conversion [`Pipeline`] of
//! passes over it, [`save`] it. `inspect` reports what a model holds; with
//! the `tract` feature, `tract` verifies and runs models.

pub mod compare;
pub mod error;
pub mod inspect;
pub mod model;
pub mod ops;
pub mod passes;
pub mod proto;

use std::path::Path;

pub use error::{Error, NodeError, NodeProblem};
pub use model::{SaveOptions, load, save};
pub use passes::{ConvertOptions, ConvertReport, Pipeline};

use proto::ModelProto;

/// Rewrites every ACON op of `model` into standard ONNX ops, in place. On
/// error the model may be partly rewritten; callers that save it must not.
pub fn convert(model: &mut ModelProto, options: &ConvertOptions) -> Result<ConvertReport, Error> {
    Pipeline::convert().run(model, options)
}

/// Loads `input`, converts it and saves the result to `output` atomically.
/// Nothing is written unless the whole model converted.
pub fn convert_file(
    input: &Path,
    output: &Path,
    options: &ConvertOptions,
    save_options: SaveOptions,
) -> Result<ConvertReport, Error> {
    if same_file(input, output) {
        return Err(Error::Save {
            path: output.to_owned(),
            reason: "the output would replace the input; choose another path".into(),
        });
    }
    let mut model = load(input)?;
    let report = convert(&mut model, options)?;
    save(&model, output, save_options)?;
    Ok(report)
}

/// True when `a` and `b` name the same file (or `b` would replace `a`).
pub fn same_file(a: &Path, b: &Path) -> bool {
    let canonical = |p: &Path| {
        p.canonicalize().ok().or_else(|| {
            let parent = match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.canonicalize().ok()?,
                _ => std::env::current_dir().ok()?,
            };
            Some(parent.join(p.file_name()?))
        })
    };
    match (canonical(a), canonical(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

#[cfg(feature = "tract")]
pub mod tract;
