//! The ACON op set of `docs/acon-ops.md`: what each op takes, recognising
//! ACON nodes, and checking each against the contract before anything is
//! rewritten.
//!
//! `signature` holds the contract as data, one [`Signature`] per op (its
//! inputs with names and presence, the all-or-none groups, the attributes,
//! the version it exists since); everything below and the kernels read it.
//! `parse` turns a node into an [`AconNode`]: the kind, the operands with
//! whatever is known of their shapes and constant values, and the element
//! type. Every rule of the spec's "What counts as invalid" is checked here,
//! so that the passes can rely on a well-formed node. `classify` decides
//! what a node is (function call, custom op, foreign, standard) for every
//! verb, a model-local function winning over the op set. `version` refuses a
//! model that imports an ACON domain at a version the spec does not define.

mod classify;
mod parse;
mod signature;
mod version;

pub use classify::{LocalFunctions, NodeClass, classify};
pub use parse::parse;
pub use signature::{Attribute, Given, Group, Input, InputProblem, Presence, Signature};
pub use version::{KNOWN_VERSIONS, check_acon_imports};

use crate::model::facts::{Dim, Facts};
use crate::model::tensor::{Array, FloatType};
use crate::passes::ConvertOptions;
use crate::proto::GraphProto;

/// The ops of the ACON domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AconKind {
    A,
    B,
    C,
    MetaC,
}

impl AconKind {
    pub const ALL: [AconKind; 4] = [AconKind::A, AconKind::B, AconKind::C, AconKind::MetaC];

    pub fn from_op_type(op_type: &str) -> Option<AconKind> {
        AconKind::ALL.into_iter().find(|k| k.op_type() == op_type)
    }

    pub const fn op_type(self) -> &'static str {
        self.signature().op_type
    }
}

/// The facts of `graph` (in the scope `outer`) an ACON node is checked
/// against: the recorded ones, completed by shape inference when a
/// MetaAconC's X has no recorded shape (exporters leave it out after a
/// custom op whose symbolic gives no type, such as an AconC feeding a
/// MetaAconC), since its 1×1 convolutions need X's rank. The other ops need
/// no more than value_info gives, and a graph of them pays nothing.
pub fn facts_for(
    graph: &GraphProto,
    outer: Option<&Facts>,
    functions: &LocalFunctions,
    options: &ConvertOptions,
) -> Facts {
    let mut facts = Facts::for_graph(graph, outer);
    let kind = |n: &crate::proto::NodeProto| match classify(n, functions, options) {
        NodeClass::CustomOp(kind) => kind,
        _ => None,
    };
    let missing = graph.node.iter().any(|n| {
        kind(n) == Some(AconKind::MetaC)
            && n.input
                .first()
                .is_some_and(|x| facts.get(x).is_none_or(|f| f.shape.is_none()))
    });
    if missing {
        facts.infer_shapes(graph, kind);
    }
    facts
}

/// The domain PyTorch writes for `g.op("acon::AconC", …)`.
pub const DEFAULT_ACON_DOMAIN: &str = "acon";

/// The epsilon of MetaAconC's BatchNorm when the node does not say.
pub const DEFAULT_EPSILON: f64 = 1e-5;

/// One input of an ACON node.
#[derive(Debug, Clone)]
pub struct Operand {
    /// Its position in the node's input list.
    pub index: usize,
    pub name: String,
    /// Its shape, where the graph records it.
    pub shape: Option<Vec<Dim>>,
    /// Its value, where it is a constant (an initializer or `Constant`).
    pub value: Option<Array>,
}

/// BatchNorm in inference form: `scale · (z − mean) / sqrt(var + ε) + bias`.
#[derive(Debug, Clone)]
pub struct BatchNorm {
    pub scale: Operand,
    pub bias: Operand,
    pub mean: Operand,
    pub var: Operand,
}

/// The squeeze-and-excite style branch of MetaAconC that computes β.
#[derive(Debug, Clone)]
pub struct MetaBranch {
    pub w1: Operand,
    pub b1: Option<Operand>,
    pub w2: Operand,
    pub b2: Option<Operand>,
    pub bn1: Option<BatchNorm>,
    pub bn2: Option<BatchNorm>,
    pub epsilon: f64,
    /// The number of spatial axes `k` of `X = [N, C, D1, …, Dk]`.
    pub spatial_rank: usize,
}

/// What an ACON node computes, by kind.
#[derive(Debug, Clone)]
pub enum AconOp {
    /// `Y = X · σ(β X)`
    A { beta: Option<Operand> },
    /// `Y = (1 − p) X · σ(β (1 − p) X) + p X`
    B { p: Operand, beta: Option<Operand> },
    /// `Y = (p1 − p2) X · σ(β (p1 − p2) X) + p2 X`
    C {
        p1: Operand,
        p2: Operand,
        beta: Option<Operand>,
    },
    /// ACON-C with `β = σ(branch(mean(X)))`.
    MetaC {
        p1: Operand,
        p2: Operand,
        branch: Box<MetaBranch>,
    },
}

/// A validated ACON node.
#[derive(Debug, Clone)]
pub struct AconNode {
    pub kind: AconKind,
    pub x: Operand,
    pub op: AconOp,
    pub dtype: FloatType,
    pub output: String,
}
