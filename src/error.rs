//! The library's error type. Each variant carries what a user needs to find
//! the fault: the file, the pass, the node, the input. The CLI prints the
//! cause chain with `{:#}` and exits 2.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Everything the library can refuse.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file is not a model we can read.
    #[error("cannot load `{}`: {reason}", path.display())]
    Load { path: PathBuf, reason: String },

    /// The destination cannot take the model.
    #[error("cannot save `{}`: {reason}", path.display())]
    Save { path: PathBuf, reason: String },

    /// An operating-system error on a named file.
    #[error("{action} `{}`", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A pass failed; the source says where.
    #[error("{pass}")]
    Pass {
        pass: &'static str,
        #[source]
        source: Box<Error>,
    },

    /// An ACON node breaks the op contract (boxed: it is the largest variant).
    #[error(transparent)]
    Node(Box<NodeError>),

    /// A tensor's contents cannot be used.
    #[error("tensor `{name}`: {problem}")]
    Tensor { name: String, problem: String },

    /// The graph itself is malformed (dangling input, cycle, …).
    #[error("invalid graph{}: {problem}", scope_suffix(scope))]
    Graph { scope: String, problem: String },

    /// An ACON domain imported at a version the spec does not define.
    #[error(
        "{owner} imports the ACON domain `{domain}` at version {version}; the ACON op set \
         has only version {} (see the op spec)",
        versions_list(known)
    )]
    AconVersion {
        domain: String,
        version: i64,
        owner: String,
        known: &'static [i64],
    },

    /// Anything else the model asks for that we do not do.
    #[error("{0}")]
    Unsupported(String),

    /// The destination exists and replacing it was not allowed
    /// (`SaveOptions::overwrite`).
    #[error("cannot save `{}`: the file exists", path.display())]
    Exists { path: PathBuf },

    /// Embedded, the model would pass protobuf's size limit, and external
    /// data was refused (`ExternalData::Never`).
    #[error(
        "cannot save `{}`: the model would take {bytes} bytes, past protobuf's limit of {limit} bytes",
        path.display()
    )]
    TooLarge {
        path: PathBuf,
        bytes: u64,
        limit: u64,
    },

    /// With each external tensor kept where it was
    /// (`ExternalData::AsLoaded`), the model would pass protobuf's size
    /// limit: its large embedded tensors must move out too.
    #[error(
        "cannot save `{}`: with its external tensors kept where they were, the model would \
         take {bytes} bytes, past protobuf's limit of {limit} bytes",
        path.display()
    )]
    TooLargeAsLoaded {
        path: PathBuf,
        bytes: u64,
        limit: u64,
    },
}

impl From<NodeError> for Error {
    fn from(e: NodeError) -> Self {
        Error::Node(Box::new(e))
    }
}

impl From<Box<NodeError>> for Error {
    fn from(e: Box<NodeError>) -> Self {
        Error::Node(e)
    }
}

fn versions_list(known: &[i64]) -> String {
    let parts: Vec<String> = known.iter().map(i64::to_string).collect();
    parts.join(", ")
}

fn scope_suffix(scope: &str) -> String {
    if scope.is_empty() {
        String::new()
    } else {
        format!(" `{scope}`")
    }
}

impl Error {
    pub(crate) fn io(path: &std::path::Path, action: &'static str, source: io::Error) -> Self {
        Error::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn in_pass(self, pass: &'static str) -> Self {
        Error::Pass {
            pass,
            source: Box::new(self),
        }
    }

    pub(crate) fn tensor(name: &str, problem: impl Into<String>) -> Self {
        Error::Tensor {
            name: name.to_owned(),
            problem: problem.into(),
        }
    }

    pub(crate) fn graph(scope: &str, problem: impl Into<String>) -> Self {
        Error::Graph {
            scope: scope.to_owned(),
            problem: problem.into(),
        }
    }
}

/// An ACON node that breaks `docs/acon-ops.md`.
#[derive(Debug, thiserror::Error)]
#[error("node `{node}` ({domain}::{op_type}): {problem}")]
pub struct NodeError {
    pub node: String,
    pub domain: String,
    pub op_type: String,
    pub problem: NodeProblem,
}

/// What is wrong with an ACON node.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeProblem {
    InputCount {
        /// How many, with the inputs it counts: `3 or 4 (X, p1, p2, beta)`.
        expected: String,
        actual: usize,
    },
    MissingInput {
        index: usize,
        role: &'static str,
    },
    OutputCount {
        actual: usize,
    },
    Input {
        index: usize,
        name: String,
        found: String,
        expected: String,
    },
    PartialBnGroup {
        group: &'static str,
        given: Vec<usize>,
    },
    UnknownOpType {
        /// The op types of the op set.
        known: Vec<&'static str>,
    },
    Attribute {
        name: String,
        problem: String,
    },
    Unsupported(String),
}

impl fmt::Display for NodeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeProblem::InputCount { expected, actual } => {
                write!(f, "has {actual} inputs, expected {expected}")
            }
            NodeProblem::MissingInput { index, role } => {
                write!(f, "input {index} `{role}` is required but missing")
            }
            NodeProblem::OutputCount { actual } => {
                write!(f, "has {actual} outputs, expected exactly 1")
            }
            NodeProblem::Input {
                index,
                name,
                found,
                expected,
            } => write!(f, "input {index} `{name}` {found}, expected {expected}"),
            NodeProblem::PartialBnGroup { group, given } => write!(
                f,
                "the {group} BatchNorm group is partial: inputs {given:?} are given, \
                 expected all four or none"
            ),
            NodeProblem::UnknownOpType { known } => {
                let expected = match known.split_last() {
                    Some((last, [])) => last.to_string(),
                    Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                    None => "none".into(),
                };
                write!(f, "unknown op type in an ACON domain, expected {expected}")
            }
            NodeProblem::Attribute { name, problem } => {
                write!(f, "attribute `{name}` {problem}")
            }
            NodeProblem::Unsupported(what) => write!(f, "{what}"),
        }
    }
}
