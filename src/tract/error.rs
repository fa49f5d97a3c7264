//! The tract layer's typed error: what `verify`, `run`, `bench`, the NNEF
//! export and [`load`](crate::tract::load) refuse or fail at. Each variant
//! says what failed in the library's terms (the model by its role and file,
//! the node, the input, the file), and the cause stays reachable through
//! `source()`, so the command line prints the whole chain. Where a flag
//! fixes it, the command line (`main.rs`) says which, as ripgrep's `main`
//! does: nothing here names a flag.
//!
//! [`Error`] wraps the library's own [`crate::Error`] (loading, converting,
//! saving, an ACON node against the op contract), [`OptionError`] (options
//! that cannot be followed), [`InputError`] (input data that does not fit
//! the model), [`NpyError`](crate::tract::npy::NpyError) and
//! [`NnefError`](crate::tract::nnef::NnefError). tract's own errors are
//! kept as the `source` of the variant that says what tract was asked.

use std::fmt;
use std::path::{Path, PathBuf};

use tract_onnx::prelude::TractError;

use crate::proto::NodeProto;
use crate::tract::nnef::NnefError;
use crate::tract::npy::NpyError;

/// The result of the tract layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the tract layer can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The library refused the model (loading, a pass, an ACON node, a
    /// tensor, a file it could not read or write).
    #[error(transparent)]
    Library(#[from] crate::Error),

    /// An option that cannot be followed.
    #[error(transparent)]
    Option(#[from] OptionError),

    /// Input data that does not fit the model.
    #[error(transparent)]
    Input(#[from] InputError),

    /// A NumPy file that cannot be read or written.
    #[error(transparent)]
    Npy(#[from] NpyError),

    /// An NNEF archive that was not written.
    #[error(transparent)]
    Nnef(#[from] NnefError),

    /// The model file of this role cannot be loaded.
    #[error("{role}")]
    Load {
        role: &'static str,
        path: PathBuf,
        #[source]
        source: crate::Error,
    },

    /// The model cannot be made ready for tract: functions inlined, ACON
    /// nodes routed to the kernels or refused, every op checked.
    #[error("{}: prepare for tract", subject(role, path))]
    Prepare {
        role: &'static str,
        path: PathBuf,
        #[source]
        source: Box<Error>,
    },

    /// ORIGINAL cannot be converted in memory, for want of CONVERTED.
    #[error("convert `{}` in memory", path.display())]
    ConvertInMemory {
        path: PathBuf,
        #[source]
        source: crate::Error,
    },

    /// tract failed at a step; its own error is the source.
    #[error("{}: {step}", subject(role, path))]
    Tract {
        role: &'static str,
        path: PathBuf,
        step: TractStep,
        #[source]
        source: TractError,
    },

    /// tract panicked at a step.
    #[error("{}: {step}: tract panicked: {message}", subject(role, path))]
    Panicked {
        role: &'static str,
        path: PathBuf,
        step: TractStep,
        message: String,
    },

    /// tract parsed the model but found values nothing defines.
    #[error(
        "{}: {}: values used but never defined: {}",
        subject(role, path),
        TractStep::Load,
        values.join(", ")
    )]
    Undefined {
        role: &'static str,
        path: PathBuf,
        values: Vec<String>,
    },

    /// The model has no graph.
    #[error("{}: the model has no graph", subject(role, path))]
    NoGraph { role: &'static str, path: PathBuf },

    /// tract and the model disagree on the inputs, which are passed by
    /// position.
    #[error(
        "{}: tract sees the inputs [{}], the model declares [{}]",
        subject(role, path),
        tract.join(", "),
        declared.join(", ")
    )]
    InputsDisagree {
        role: &'static str,
        path: PathBuf,
        tract: Vec<String>,
        declared: Vec<String>,
    },

    /// A run was given another number of inputs than the model has.
    #[error("{}: takes {expected} inputs, got {got}", subject(role, path))]
    InputCount {
        role: &'static str,
        path: PathBuf,
        expected: usize,
        got: usize,
    },

    /// Two models, to be run on the same inputs or compared output by
    /// output, differ in number (`what`: `inputs`, `outputs`).
    #[error(
        "the models have different {what}: [{}] and [{}]",
        reference.join(", "),
        candidate.join(", ")
    )]
    DifferentNames {
        what: &'static str,
        reference: Vec<String>,
        candidate: Vec<String>,
    },

    /// tract 0.23.9 has no `Loop` (tract issue #277).
    #[error(
        "{node}: tract has no Loop operator (tract issue #277), so this model cannot be run; \
         `convert` still rewrites the ACON nodes of its body"
    )]
    Loop { node: NodeLabel },

    /// An ACON node computing in bfloat16, which tract lacks.
    #[error("{node}: tract has no bfloat16, so it cannot run this node")]
    Bfloat16 { node: NodeLabel },

    /// An ACON custom op in a model run on plain tract (a converted model).
    #[error("{node} is an ACON custom op; a converted model must hold only standard ONNX ops")]
    AconInConverted { node: NodeLabel },

    /// A Swish whose alpha plain tract would ignore.
    #[error(
        "{node} has alpha = {alpha}, and tract 0.23.9 computes Swish as x·σ(x), ignoring \
         alpha; a converted model never holds Swish"
    )]
    SwishAlpha { node: NodeLabel, alpha: f32 },

    /// A call of a model-local function that inlining left in place.
    #[error(
        "{node} calls a model-local function, which tract cannot read, and inlining left it \
         in place"
    )]
    FunctionLeft { node: NodeLabel },

    /// An op tract has no builder for. `looks_like_acon`: an ACON op type
    /// in a domain not named as an ACON domain.
    #[error(
        "{node}: tract has no implementation of this op{}",
        if *looks_like_acon {
            format!(" (if it is an ACON op, `{}` must be one of the ACON domains)", node.domain)
        } else {
            String::new()
        }
    )]
    NotImplemented {
        node: NodeLabel,
        looks_like_acon: bool,
    },

    /// Subgraphs nested past `model::check::MAX_GRAPH_DEPTH`.
    #[error("subgraphs nest too deeply")]
    TooDeep,

    /// A step on one input sample (`what`: `run on`, `prepare for`, `run
    /// ORIGINAL on`, …) failed.
    #[error("{what} {sample}")]
    Sample {
        what: &'static str,
        sample: String,
        #[source]
        source: Box<Error>,
    },

    /// No input sample could be made.
    #[error("no input sample")]
    NoSample,

    /// The destination of the outputs exists and is neither a folder nor
    /// an `.npz` file.
    #[error(
        "`{}` exists and is not a folder (name a folder, or a file ending in .npz)",
        path.display()
    )]
    OutputNotFolder { path: PathBuf },

    /// One output could not be written.
    #[error("output `{name}`")]
    Output {
        name: String,
        #[source]
        source: Box<Error>,
    },

    /// A report file cannot be written.
    #[error("the {format} report")]
    Report {
        format: ReportFormat,
        path: PathBuf,
        #[source]
        source: crate::Error,
    },

    /// tract refused an operation on a tensor (`what` says which).
    #[error("{what}")]
    Tensor {
        what: String,
        #[source]
        source: TractError,
    },
}

impl Error {
    /// A tract error on a tensor operation, saying `what` was done.
    pub(crate) fn tensor(what: impl Into<String>) -> impl FnOnce(TractError) -> Error {
        let what = what.into();
        move |source| Error::Tensor { what, source }
    }
}

/// What tract was asked when it failed.
#[derive(Debug, Clone, PartialEq)]
pub enum TractStep {
    /// Parse the model (tract-onnx).
    Load,
    /// Fix the input facts, optimize, make runnable, for these inputs.
    Prepare { inputs: String },
    /// Spawn an execution state.
    Start,
    /// Run once.
    Run,
    /// Run once, the model being the one named (the NNEF check runs the
    /// ONNX path and the reloaded archive).
    RunAs(&'static str),
    /// Make the model typed and decluttered.
    Type,
    /// Serialize the model as an NNEF archive.
    Serialize,
    /// Reload the NNEF archive just written.
    Reload,
    /// Load an NNEF archive (tract-nnef).
    LoadNnef,
}

impl fmt::Display for TractStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TractStep::Load => write!(f, "tract cannot load it"),
            TractStep::Prepare { inputs } => {
                write!(f, "tract cannot prepare it for inputs {inputs}")
            }
            TractStep::Start => write!(f, "tract cannot start it"),
            TractStep::Run => write!(f, "tract failed to run it"),
            TractStep::RunAs(which) => write!(f, "tract failed to run it ({which})"),
            TractStep::Type => write!(f, "tract cannot make it a typed model"),
            TractStep::Serialize => write!(f, "tract-nnef cannot serialize it"),
            TractStep::Reload => write!(f, "tract-nnef cannot load the archive it wrote"),
            TractStep::LoadNnef => write!(f, "tract-nnef cannot load it"),
        }
    }
}

/// The report files `verify` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Json,
    Junit,
}

impl fmt::Display for ReportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReportFormat::Json => "JSON",
            ReportFormat::Junit => "JUnit",
        })
    }
}

/// A node as messages name it: ``node `act3` (acon::MetaAconC)``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLabel {
    /// The node's name, or its first output when it has none.
    pub name: String,
    /// The domain, `ai.onnx` for the default one.
    pub domain: String,
    pub op_type: String,
}

impl NodeLabel {
    pub fn of(node: &NodeProto) -> NodeLabel {
        NodeLabel {
            name: crate::model::check::node_label(node).to_owned(),
            domain: if node.domain().is_empty() {
                "ai.onnx".to_owned()
            } else {
                node.domain().to_owned()
            },
            op_type: node.op_type().to_owned(),
        }
    }
}

impl fmt::Display for NodeLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "node `{}` ({}::{})",
            self.name, self.domain, self.op_type
        )
    }
}

/// How messages name a model: ``ORIGINAL `a.onnx` ``, or the file alone.
fn subject(role: &str, path: &Path) -> String {
    if role.is_empty() {
        format!("`{}`", path.display())
    } else {
        format!("{role} `{}`", path.display())
    }
}

/// `error` and its causes, joined by `: ` (what anyhow's `{:#}` prints), for
/// reports that keep an error as text.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut cause = error.source();
    while let Some(c) = cause {
        parts.push(c.to_string());
        cause = c.source();
    }
    parts.join(": ")
}

/// An option of `verify`, `run` or `bench` that cannot be followed. The
/// messages say what is wrong in the library's terms (input files, test
/// data, samples); the command line rewords them in terms of its flags.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptionError {
    /// Inputs come from files or from test data, never both.
    #[error("inputs are given both as files and as test data; give one source")]
    TwoSources,

    /// Random data needs at least one sample.
    #[error("the number of samples must be at least 1")]
    NoSamples,

    /// A range for an input the model does not have.
    #[error("a range names `{name}`, which is not an input ({inputs})")]
    UnknownRangeInput { name: String, inputs: String },

    /// An integer input's range holds no integer.
    #[error("the range of input `{input}` holds no integer")]
    NoIntegerInRange { input: String },

    /// A value for a symbolic dim no input uses.
    #[error("a dim value names `{name}`, which no input uses (symbolic dims: {symbols})")]
    UnknownDim { name: String, symbols: String },

    /// With input files, every input needs one.
    #[error(
        "input `{input}` ({type_name} {shape}) is not given; with input files every input needs one"
    )]
    InputNotGiven {
        input: String,
        type_name: String,
        shape: String,
    },

    /// An input file without an input name, for a model of several inputs.
    #[error(
        "`{}` names no input, and the model has {count} ({inputs}): name the input it is for",
        path.display()
    )]
    UnnamedFile {
        path: PathBuf,
        count: usize,
        inputs: String,
    },

    /// The test data path is not a folder.
    #[error("the test data `{}` is not a folder", path.display())]
    DataNotFolder { path: PathBuf },

    /// The test data folder holds no test data.
    #[error(
        "the test data `{}` holds neither input_0.pb nor test_data_set_* folders",
        path.display()
    )]
    NoDataSets { path: PathBuf },

    /// Random data needs a declared shape.
    #[error("input `{input}` has no declared shape, so random data cannot be made")]
    NoDeclaredShape { input: String },

    /// Random data of a declared shape too large to make.
    #[error("input `{input}` has the shape {shape:?}: more than {max} elements of random data")]
    TooMuchRandomData {
        input: String,
        shape: Vec<usize>,
        max: usize,
    },

    /// Outputs are written for one sample only.
    #[error("the outputs of one sample can be written, and the inputs give {samples}")]
    OutputsOfSeveralSamples { samples: usize },

    /// Matrix products need at least one thread.
    #[error("the number of threads must be at least 1")]
    NoThreads,

    /// A benchmark needs at least one timed run.
    #[error("the number of timed runs must be at least 1")]
    NoRuns,
}

/// Input data (files, test data, random data) that does not fit the model.
/// `from` says where the data came from: a file, an archive's array.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Data for a name the model has no input of.
    #[error("{from}: `{name}` is not an input of the model ({inputs})")]
    NotAnInput {
        from: String,
        name: String,
        inputs: String,
    },

    /// Two files for one input.
    #[error("input `{input}` is given twice, by {first} and {from}")]
    GivenTwice {
        input: String,
        first: String,
        from: String,
    },

    /// A test data set with another number of inputs than the model.
    #[error(
        "`{}` holds {files} input_K.pb files, the model has {expected} inputs ({inputs})",
        dir.display()
    )]
    DataSetInputs {
        dir: PathBuf,
        files: usize,
        expected: usize,
        inputs: String,
    },

    /// A test data file that is not a `TensorProto`.
    #[error("`{}` is not a serialized TensorProto", path.display())]
    NotTensorProto {
        path: PathBuf,
        #[source]
        source: prost::DecodeError,
    },

    /// A test data tensor the library cannot read.
    #[error("`{}`", path.display())]
    Data {
        path: PathBuf,
        #[source]
        source: crate::Error,
    },

    /// An expected output past the model's outputs.
    #[error("`{}`: the model has only {outputs} outputs", path.display())]
    ExtraOutput { path: PathBuf, outputs: usize },

    /// An input of a type tract cannot take.
    #[error("input `{input}` has type {type_name}, which tract cannot take")]
    Type { input: String, type_name: String },

    /// Data of another shape than the declared one.
    #[error("{from}: input `{input}` has shape {shape:?}, the model expects {expected}")]
    Shape {
        from: String,
        input: String,
        shape: Vec<usize>,
        expected: String,
    },

    /// Two inputs giving one symbolic dim two values.
    #[error(
        "{from}: input `{input}` gives dim `{dim}` the value {value}, but {first} gave it \
         {first_value}"
    )]
    DimConflict {
        from: String,
        input: String,
        dim: String,
        value: usize,
        first: String,
        first_value: usize,
    },

    /// Data that cannot be cast to the input's type.
    #[error("{from}: cannot cast input `{input}` to {to}")]
    Cast {
        from: String,
        input: String,
        to: String,
        #[source]
        source: TractError,
    },

    /// An input of a type random data cannot be made for.
    #[error("input `{input}` has type {type_name}, for which no random data can be made")]
    NoRandomData { input: String, type_name: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the command line rewords (`main.rs`) says what is wrong here
    /// without a flag or a command (issue 11).
    #[test]
    fn messages_name_no_flag() {
        let node = NodeLabel {
            name: "a1".into(),
            domain: "com.example".into(),
            op_type: "AconC".into(),
        };
        let path = PathBuf::from("m.onnx");
        let errors: Vec<Error> = vec![
            Error::NotImplemented {
                node: node.clone(),
                looks_like_acon: true,
            },
            Error::AconInConverted { node: node.clone() },
            Error::SwishAlpha { node, alpha: 2.0 },
            Error::OutputNotFolder { path: path.clone() },
            Error::Report {
                format: ReportFormat::Junit,
                path: path.clone(),
                source: crate::Error::Exists { path: path.clone() },
            },
            Error::Library(crate::Error::TooLargeAsLoaded {
                path: path.clone(),
                bytes: 3,
                limit: 2,
            }),
            OptionError::UnnamedFile {
                path: path.clone(),
                count: 2,
                inputs: "inputs: x, y".into(),
            }
            .into(),
            OptionError::NoIntegerInRange { input: "x".into() }.into(),
            OptionError::TwoSources.into(),
            OptionError::DataNotFolder { path: path.clone() }.into(),
            OptionError::OutputsOfSeveralSamples { samples: 2 }.into(),
        ];
        for e in &errors {
            let text = chain(e);
            assert!(
                !text.contains("--") && !text.contains("-o ") && !text.contains("acon-onnx "),
                "{text}"
            );
        }
        let warning = crate::Warning::ForeignAcon {
            node: "a1".into(),
            domain: "com.example".into(),
            op_type: "AconC".into(),
        };
        assert!(!warning.to_string().contains("--"), "{warning}");
    }

    #[test]
    fn the_chain_keeps_every_cause() {
        let e = Error::Sample {
            what: "run on",
            sample: "seed 0".into(),
            source: Box::new(Error::Tract {
                role: "MODEL",
                path: "m.onnx".into(),
                step: TractStep::Run,
                source: TractError::msg("shapes differ"),
            }),
        };
        assert_eq!(
            chain(&e),
            "run on seed 0: MODEL `m.onnx`: tract failed to run it: shapes differ"
        );
    }
}
