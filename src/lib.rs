//! acon-onnx: turns ONNX models that use the ACON family of activations
//! (ACON-A/B/C and Meta-ACON, Ma et al., CVPR 2021) into models of standard
//! ONNX ops that any runtime executes, and checks and runs them with tract.
//!
//! Data flows one way: [`load`] a model, run the conversion [`Pipeline`] of
//! passes over it, [`save`] it. `inspect` reports what a model holds; with
//! the `tract` feature, `tract` verifies and runs models.

pub mod compare;
pub mod error;
pub mod graph;
pub mod inspect;
pub mod model;
pub mod ops;
pub mod passes;
pub mod proto;
pub mod rng;
pub mod zoo;

use std::path::Path;

pub use error::{Error, NodeError, NodeProblem};
pub use model::{ExternalData, SaveOptions, Saved, load, save};
pub use passes::{ConvertOptions, ConvertReport, Pipeline, Warning};

use proto::ModelProto;

/// Rewrites every ACON op of `model` into standard ONNX ops, in place. On
/// error the model may be partly rewritten; callers that save it must not.
pub fn convert(model: &mut ModelProto, options: &ConvertOptions) -> Result<ConvertReport, Error> {
    Pipeline::convert().run(model, options)
}

/// Checks `model` without changing it, as [`convert`] does before it
/// rewrites anything: the graph's consistency (see `model::check`) and every
/// ACON node against the spec. What the converter merely does not support
/// is not checked: the model is not at fault.
pub fn validate(model: &ModelProto, options: &ConvertOptions) -> Result<(), Error> {
    model::check::check_model(model)?;
    ops::check_acon_imports(model, options)?;
    passes::DecomposeAcon::validate(model, options)
}

/// Loads `input`, converts it and saves the result to `output` atomically.
/// Nothing is written unless the whole model converted. The output keeps the
/// input's form: with `ExternalData::AsLoaded` each tensor stays where it
/// was (external or embedded), with `ExternalData::Auto` it has external
/// data by the size threshold when the input had some. Neither the input nor
/// its data files are ever replaced.
pub fn convert_file(
    input: &Path,
    output: &Path,
    options: &ConvertOptions,
    save_options: SaveOptions,
) -> Result<(ConvertReport, Saved), Error> {
    convert_file_with(&Pipeline::convert(), input, output, options, save_options)
}

/// [`convert_file`] with another pipeline (`Pipeline::to_acon()`).
pub fn convert_file_with(
    pipeline: &Pipeline,
    input: &Path,
    output: &Path,
    options: &ConvertOptions,
    mut save_options: SaveOptions,
) -> Result<(ConvertReport, Saved), Error> {
    if model::paths::same_file(input, output) {
        return Err(Error::Save {
            path: output.to_owned(),
            reason: "the output would replace the input; choose another path".into(),
        });
    }
    let (mut model, sources) = model::load_with_sources(input)?;
    let report = pipeline.run(&mut model, options)?;
    if save_options.external == ExternalData::Auto && !sources.is_empty() {
        save_options.external = ExternalData::File(None);
    }
    if save_options.external == ExternalData::AsLoaded {
        save_options.origins = sources.origins.clone();
    }
    save_options.inputs.push(input.to_owned());
    save_options.inputs.extend(sources.files.iter().cloned());
    let saved = model::save_with_report(&model, output, &save_options)?;
    Ok((report, saved))
}

#[cfg(feature = "tract")]
pub mod tract;
