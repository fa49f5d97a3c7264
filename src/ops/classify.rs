//! What a node is, decided in one place for every verb: a call to a
//! model-local function, an ACON custom op, an ACON op name in a domain
//! nobody named as ACON, or anything else.
//!
//! A model-local function wins over the op set. PyTorch names a function's
//! domain after the Python module of its class, and the ACON paper's code
//! lives in `acon.py`, so `export_modules_as_functions` writes calls
//! `acon::MetaAconC` whose inputs are the function's own, not the spec's:
//! reading such a call as the custom op would check the wrong inputs.

use crate::model::hash::Set;

use crate::model::opsets::is_default_domain;
use crate::ops::AconKind;
use crate::passes::ConvertOptions;
use crate::proto::{ModelProto, NodeProto};

/// What [`classify`] finds a node to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeClass {
    /// A node of an ACON domain that no model-local function claims; the
    /// kind is `None` for an op type the op set does not have (which
    /// `ops::parse` refuses).
    CustomOp(Option<AconKind>),
    /// A call to a model-local function (its op type may be an ACON name).
    Function,
    /// An ACON op name in a domain not named as ACON (and not the default
    /// domain): left alone, with a warning.
    Foreign(AconKind),
    /// Any other node.
    Standard,
}

impl NodeClass {
    /// The ACON op a node stands for: the custom op's kind, or that of a
    /// function whose name is an ACON op's (as `inspect` and the FLOPs count
    /// see it).
    pub fn acon_kind(self, node: &NodeProto) -> Option<AconKind> {
        match self {
            NodeClass::CustomOp(kind) => kind,
            NodeClass::Function => AconKind::from_op_type(node.op_type()),
            NodeClass::Foreign(_) | NodeClass::Standard => None,
        }
    }
}

/// The model-local functions, by domain (`ai.onnx` read as `""`), name and
/// overload: what a call must name to be one.
#[derive(Debug, Clone, Default)]
pub struct LocalFunctions {
    keys: Set<(String, String, String)>,
}

impl LocalFunctions {
    pub fn of(model: &ModelProto) -> LocalFunctions {
        LocalFunctions {
            keys: model
                .functions
                .iter()
                .map(|f| {
                    (
                        domain_key(f.domain()).to_owned(),
                        f.name().to_owned(),
                        f.overload().to_owned(),
                    )
                })
                .collect(),
        }
    }

    /// True when `node` calls one of them.
    pub fn calls(&self, node: &NodeProto) -> bool {
        !self.keys.is_empty()
            && self.keys.contains(&(
                domain_key(node.domain()).to_owned(),
                node.op_type().to_owned(),
                node.overload().to_owned(),
            ))
    }
}

fn domain_key(domain: &str) -> &str {
    if is_default_domain(domain) {
        ""
    } else {
        domain
    }
}

/// Classifies `node`: a model-local function first, then the ACON domains
/// of `options`, then ACON names elsewhere.
pub fn classify(
    node: &NodeProto,
    functions: &LocalFunctions,
    options: &ConvertOptions,
) -> NodeClass {
    if functions.calls(node) {
        return NodeClass::Function;
    }
    let kind = AconKind::from_op_type(node.op_type());
    if options.is_acon_domain(node.domain()) {
        return NodeClass::CustomOp(kind);
    }
    match kind {
        Some(kind) if !is_default_domain(node.domain()) => NodeClass::Foreign(kind),
        _ => NodeClass::Standard,
    }
}
