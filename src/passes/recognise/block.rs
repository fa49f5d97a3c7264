//! A block of standard ops proved to compute one ACON activation, with the
//! parameters read from it, and what it becomes: the standard arrangement
//! of [`crate::passes::arrange`], or one `acon`-domain node in the spec's
//! input order.
//!
//! Every recognised block computes
//!
//! ```text
//! y = P·x·σ(β·P·x) + p2·x
//! ```
//!
//! with `P` and `p2` constants (ACON-A: `P = 1`, no `p2`) and `β` absent, a
//! constant, or Meta-ACON's `σ(Conv(Conv(mean(x))))` with any BatchNorm
//! already folded into the convolutions. Which op it is follows from the
//! constants: Meta-ACON when β is the branch; ACON-A without `p2`; ACON-B
//! when `P` is exactly `1 − p2` in the model's float type; ACON-C otherwise.

use crate::error::Error;
use crate::model::tensor::{Array, FloatType};
use crate::ops::AconKind;
use crate::passes::arrange::{self, ConvStage, MetaBeta};
use crate::passes::emit::{Emitter, Value};
use crate::proto::NodeProto;

/// A constant of the block: stored in the model under `stored`, or computed
/// at recognition time (a difference of two constants, a folded BatchNorm).
#[derive(Debug, Clone)]
pub struct Param {
    pub stored: Option<String>,
    pub array: Array,
}

impl Param {
    pub fn value(&self) -> Value {
        match &self.stored {
            Some(name) => Value::Stored {
                name: name.clone(),
                array: self.array.clone(),
            },
            None => Value::Const(self.array.clone()),
        }
    }
}

/// One 1×1 convolution of the β branch, BatchNorm folded in.
#[derive(Debug, Clone)]
pub struct Conv {
    /// `[out, in, 1, …, 1]`.
    pub weight: Param,
    pub bias: Option<Param>,
}

/// What β is.
#[derive(Debug, Clone)]
pub enum Beta {
    /// No β: `σ(P·x)`.
    One,
    Const(Param),
    /// `β = σ(Conv2(Conv1(mean(x))))`.
    Meta(Box<MetaConvs>),
}

/// Meta-ACON's two convolutions.
#[derive(Debug, Clone)]
pub struct MetaConvs {
    pub spatial_rank: usize,
    pub fc1: Conv,
    pub fc2: Conv,
}

/// A recognised block.
#[derive(Debug, Clone)]
pub struct Block {
    pub x: String,
    pub output: String,
    pub dtype: FloatType,
    /// `P`; ACON-A's is the scalar 1.
    pub scale: Param,
    /// `p2`; ACON-A has none.
    pub offset: Option<Param>,
    pub beta: Beta,
    /// The indices of the block's nodes in its graph, ascending; the last
    /// one writes `output`.
    pub nodes: Vec<usize>,
}

impl Block {
    pub fn kind(&self) -> AconKind {
        match (&self.beta, &self.offset) {
            (Beta::Meta(_), _) => AconKind::MetaC,
            (_, None) => AconKind::A,
            (_, Some(p)) if self.is_one_minus(p) => AconKind::B,
            _ => AconKind::C,
        }
    }

    /// True when `P` is `1 − p` rounded to the model's type, element by element.
    fn is_one_minus(&self, p: &Param) -> bool {
        p.array.dims == self.scale.array.dims
            && p.array
                .data
                .iter()
                .zip(&self.scale.array.data)
                .all(|(&p, &s)| self.dtype.round(1.0 - p) == s)
    }

    /// Emits the standard arrangement, the last node writing `output`.
    pub fn emit_standard(&self, em: &mut Emitter) -> Result<(), Error> {
        let beta = match &self.beta {
            Beta::One => None,
            Beta::Const(b) => Some(b.value()),
            Beta::Meta(convs) => {
                let MetaConvs {
                    spatial_rank,
                    fc1,
                    fc2,
                } = convs.as_ref();
                let stage = |c: &Conv| ConvStage {
                    weight: c.weight.value(),
                    bias: c.bias.as_ref().map(Param::value),
                    bn: None,
                };
                let meta = MetaBeta {
                    spatial_rank: *spatial_rank,
                    fc1: stage(fc1),
                    fc2: stage(fc2),
                    epsilon: 0.0,
                };
                Some(arrange::meta_beta(em, &self.x, &meta)?)
            }
        };
        arrange::switch(
            em,
            &self.x,
            self.scale.value(),
            self.offset.as_ref().map(Param::value),
            beta,
            &self.output,
        )
    }

    /// The `acon`-domain node that computes the block, in the spec's input
    /// order (`p1 = P + p2`, computed in f64 and stored in the model's type).
    pub fn emit_acon(
        &self,
        em: &mut Emitter,
        domain: &str,
        name: &str,
    ) -> Result<NodeProto, Error> {
        let kind = self.kind();
        let mut inputs = vec![self.x.clone()];
        let beta = |em: &mut Emitter, b: &Beta| match b {
            Beta::Const(p) => Some(em.tensor(p.value(), "beta")),
            _ => None,
        };
        match kind {
            AconKind::A => inputs.extend(beta(em, &self.beta)),
            AconKind::B => {
                if let Some(p) = &self.offset {
                    inputs.push(em.tensor(p.value(), "p"));
                }
                inputs.extend(beta(em, &self.beta));
            }
            AconKind::C | AconKind::MetaC => {
                let zero = Param {
                    stored: None,
                    array: Array::scalar(0.0),
                };
                let p2 = self.offset.as_ref().unwrap_or(&zero);
                let p1 = self
                    .scale
                    .array
                    .zip(&p2.array, |s, p| s + p)
                    .ok_or_else(|| {
                        Error::Unsupported(format!(
                            "`{}`: P {:?} and p2 {:?} do not broadcast",
                            self.output, self.scale.array.dims, p2.array.dims
                        ))
                    })?;
                inputs.push(em.tensor(Value::Const(p1), "p1"));
                inputs.push(em.tensor(p2.value(), "p2"));
                match &self.beta {
                    Beta::Meta(convs) => {
                        for (conv, role) in [(&convs.fc1, "fc1"), (&convs.fc2, "fc2")] {
                            inputs.push(em.tensor(conv.weight.value(), &format!("{role}.weight")));
                            inputs.push(match &conv.bias {
                                Some(b) => em.tensor(b.value(), &format!("{role}.bias")),
                                None => String::new(),
                            });
                        }
                        // Trailing absent inputs are left out, as the spec allows.
                        while inputs.last().is_some_and(String::is_empty) {
                            inputs.pop();
                        }
                    }
                    other => inputs.extend(beta(em, other)),
                }
            }
        }
        Ok(NodeProto {
            input: inputs,
            output: vec![self.output.clone()],
            name: Some(name.to_owned()),
            op_type: Some(kind.op_type().to_owned()),
            domain: Some(domain.to_owned()),
            ..Default::default()
        })
    }
}
