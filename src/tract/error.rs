//! What `verify`, `run` and `bench` refuse in the options they are given,
//! as a typed error. The messages say what is wrong in the library's terms
//! (input files, test data, samples); the command line, which knows the
//! flags, rewords them (`main.rs`), as ripgrep's `main` does.
//!
//! This is the first part of the tract layer's typed error: model loading
//! and comparison (`engine`, `verify`) still return `anyhow` errors.

use std::path::PathBuf;

/// An option of `verify`, `run` or `bench` that cannot be followed.
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
