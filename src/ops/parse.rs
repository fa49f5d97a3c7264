//! Checking one ACON node against the spec and collecting its operands.
//! What the node may take (how many inputs, which are required, the
//! BatchNorm groups, `epsilon`) is its op's [`Signature`]; this file words
//! the signature's findings and checks the rest: types, shapes, values.

use crate::error::{NodeError, NodeProblem};
use crate::model::check::node_label;
use crate::model::facts::{Dim, Facts, shape_string};
use crate::model::tensor::{FloatType, read_floats, type_name};
use crate::ops::{
    AconKind, AconNode, AconOp, BatchNorm, InputProblem, MetaBranch, Operand, Signature,
};
use crate::proto::{AttributeType, NodeProto};

/// Validates `node` (an op of an ACON domain) and collects its operands.
pub fn parse(node: &NodeProto, facts: &Facts) -> Result<AconNode, Box<NodeError>> {
    let fail = |problem| {
        Box::new(NodeError {
            node: node_label(node).to_owned(),
            domain: node.domain().to_owned(),
            op_type: node.op_type().to_owned(),
            problem,
        })
    };
    let kind = AconKind::from_op_type(node.op_type()).ok_or_else(|| {
        fail(NodeProblem::UnknownOpType {
            known: AconKind::ALL.map(AconKind::op_type).to_vec(),
        })
    })?;
    Parser {
        node,
        facts,
        kind,
        sig: kind.signature(),
    }
    .parse()
    .map_err(fail)
}

struct Parser<'a> {
    node: &'a NodeProto,
    facts: &'a Facts,
    kind: AconKind,
    sig: &'static Signature,
}

type Check<T> = Result<T, NodeProblem>;

impl Parser<'_> {
    fn parse(&self) -> Check<AconNode> {
        let inputs = &self.node.input;
        self.sig
            .check_count(inputs.len())
            .map_err(|p| self.input_problem(p))?;
        let output = match self.node.output.as_slice() {
            [out] if !out.is_empty() => out.clone(),
            outs => {
                return Err(NodeProblem::OutputCount {
                    actual: outs.iter().filter(|o| !o.is_empty()).count(),
                });
            }
        };
        self.check_attributes()?;
        let dtype = self.element_type()?;
        // Which inputs are given, before any is read.
        self.sig.check(inputs).map_err(|p| self.input_problem(p))?;
        let x = self.required("X")?;
        let op = match self.kind {
            AconKind::A => AconOp::A {
                beta: self.optional("beta")?,
            },
            AconKind::B => AconOp::B {
                p: self.required("p")?,
                beta: self.optional("beta")?,
            },
            AconKind::C => AconOp::C {
                p1: self.required("p1")?,
                p2: self.required("p2")?,
                beta: self.optional("beta")?,
            },
            AconKind::MetaC => self.meta(&x)?,
        };
        let node = AconNode {
            kind: self.kind,
            x,
            op,
            dtype,
            output,
        };
        self.check_broadcasts(&node)?;
        Ok(node)
    }

    /// The signature's finding, in the converter's words.
    fn input_problem(&self, problem: InputProblem) -> NodeProblem {
        match problem {
            InputProblem::Count { actual } => NodeProblem::InputCount {
                expected: self.sig.arity_with_names(),
                actual,
            },
            InputProblem::Missing { index } => NodeProblem::MissingInput {
                index,
                role: self.role(index),
            },
            InputProblem::PartialGroup { group, given, .. } => NodeProblem::PartialBnGroup {
                group: group.label,
                given,
            },
        }
    }

    fn role(&self, index: usize) -> &'static str {
        self.sig.role(index).unwrap_or("?")
    }

    fn operand(&self, index: usize) -> Check<Operand> {
        let name = self.node.input[index].clone();
        let fact = self.facts.get(&name);
        let value = match fact.and_then(|f| f.constant.as_ref()) {
            // X is data even when it happens to be constant.
            Some(t) if index > 0 => Some(read_floats(t).map_err(|e| NodeProblem::Input {
                index,
                name: name.clone(),
                found: format!("cannot be read ({e})"),
                expected: "a readable float tensor".into(),
            })?),
            _ => None,
        };
        Ok(Operand {
            index,
            shape: fact.and_then(|f| f.shape.clone()),
            value,
            name,
        })
    }

    fn is_given(&self, index: usize) -> bool {
        self.node.input.get(index).is_some_and(|n| !n.is_empty())
    }

    /// The input called `role`, which the signature requires.
    fn required(&self, role: &str) -> Check<Operand> {
        let index = self.sig.index(role);
        if !self.is_given(index) {
            return Err(NodeProblem::MissingInput {
                index,
                role: self.role(index),
            });
        }
        self.operand(index)
    }

    fn optional(&self, role: &str) -> Check<Option<Operand>> {
        let index = self.sig.index(role);
        if self.is_given(index) {
            self.operand(index).map(Some)
        } else {
            Ok(None)
        }
    }

    fn check_attributes(&self) -> Check<()> {
        for attr in &self.node.attribute {
            let name = attr.name();
            let Some(spec) = self.sig.attribute(name) else {
                let takes: Vec<String> = self
                    .sig
                    .attributes
                    .iter()
                    .map(|a| format!("`{}`", a.name))
                    .collect();
                return Err(NodeProblem::Attribute {
                    name: name.to_owned(),
                    problem: format!(
                        "is not an attribute of {} (it takes {})",
                        self.sig.op_type,
                        if takes.is_empty() {
                            "none".to_owned()
                        } else {
                            format!("only {}", takes.join(", "))
                        }
                    ),
                });
            };
            if attr.r#type() != AttributeType::Float || attr.f.is_none() {
                return Err(NodeProblem::Attribute {
                    name: name.to_owned(),
                    problem: "must be a float".into(),
                });
            }
            let value = attr.f() as f64;
            if !spec.accepts(value) {
                return Err(NodeProblem::Attribute {
                    name: name.to_owned(),
                    problem: format!("is {value}, expected a finite value ≥ {}", spec.at_least),
                });
            }
        }
        Ok(())
    }

    /// The value of float attribute `name` of the signature, or its default.
    fn attribute(&self, name: &str) -> f64 {
        let spec = self
            .sig
            .attribute(name)
            .unwrap_or_else(|| panic!("{} has no attribute `{name}`", self.sig.op_type));
        self.node
            .attribute
            .iter()
            .find(|a| a.name() == name)
            .map_or(spec.default, |a| a.f() as f64)
    }

    /// All inputs share one float type; returns it.
    fn element_type(&self) -> Check<FloatType> {
        let mut found: Option<(usize, &str, FloatType)> = None;
        for (index, name) in self.node.input.iter().enumerate() {
            if name.is_empty() {
                continue;
            }
            let Some(elem_type) = self.facts.get(name).and_then(|f| f.elem_type) else {
                continue;
            };
            let Some(ty) = FloatType::from_onnx(elem_type) else {
                return Err(NodeProblem::Input {
                    index,
                    name: name.clone(),
                    found: format!("has type {}", type_name(elem_type)),
                    expected: "float, float16, bfloat16 or double".into(),
                });
            };
            match found {
                None => found = Some((index, name, ty)),
                Some((first, first_name, first_ty)) if first_ty != ty => {
                    return Err(NodeProblem::Input {
                        index,
                        name: name.clone(),
                        found: format!("has type {}", type_name(elem_type)),
                        expected: format!(
                            "{} like input {first} `{first_name}`",
                            type_name(first_ty.onnx() as i32)
                        ),
                    });
                }
                Some(_) => {}
            }
        }
        found.map(|(_, _, ty)| ty).ok_or_else(|| {
            NodeProblem::Unsupported(
                "the element type of its inputs is unknown (no initializer or value_info \
                 gives it)"
                    .into(),
            )
        })
    }

    fn meta(&self, x: &Operand) -> Check<AconOp> {
        let p1 = self.required("p1")?;
        let p2 = self.required("p2")?;
        let w1 = self.required("W1")?;
        let b1 = self.optional("B1")?;
        let w2 = self.required("W2")?;
        let b2 = self.optional("B2")?;
        let bn1 = self.batch_norm("bn1")?;
        let bn2 = self.batch_norm("bn2")?;

        let x_rank = x.shape.as_ref().map(Vec::len);
        if let Some(rank) = x_rank
            && rank < 3
        {
            return Err(NodeProblem::Input {
                index: 0,
                name: x.name.clone(),
                found: format!("has rank {rank}"),
                expected: "rank 3 or more, [N, C, D1, …, Dk]".into(),
            });
        }
        let x_channels = x.shape.as_ref().and_then(|s| match s.get(1) {
            Some(Dim::Known(c)) => Some(*c),
            _ => None,
        });
        // R and C, from W1 when its shape is known, else from W2.
        let w1_dims = known_dims(&w1);
        let w2_dims = known_dims(&w2);
        let channels = x_channels
            .or(w1_dims.as_ref().and_then(|d| d.get(1).copied()))
            .or(w2_dims.as_ref().and_then(|d| d.first().copied()));
        let reduced = w1_dims
            .as_ref()
            .and_then(|d| d.first().copied())
            .or(w2_dims.as_ref().and_then(|d| d.get(1).copied()));
        let spatial_rank = match x_rank {
            Some(rank) => rank - 2,
            None => {
                let from_weights = [&w1_dims, &w2_dims]
                    .into_iter()
                    .flatten()
                    .map(Vec::len)
                    .find(|&r| r >= 3);
                match from_weights {
                    Some(r) => r - 2,
                    None => {
                        let tried = match self.facts.why_unknown(&x.name) {
                            Some(why) => format!(
                                "value_info does not record it, and shape inference through \
                                 the graph stopped: {why}"
                            ),
                            None => "neither value_info, the graph inputs nor shape inference \
                                     through the graph give it"
                                .to_owned(),
                        };
                        return Err(NodeProblem::Unsupported(format!(
                            "the rank of input 0 `{}` is unknown ({tried}), and W1, W2 are \
                             given as [R, C]; record X's shape in value_info, or give W1 and \
                             W2 as [R, C, 1, …, 1]",
                            x.name
                        )));
                    }
                }
            }
        };
        let (c, r) = (channels.unwrap_or(-1), reduced.unwrap_or(-1));
        self.expect_conv_weight(&w1, [r, c], spatial_rank)?;
        self.expect_conv_weight(&w2, [c, r], spatial_rank)?;
        for (bias, len) in [(&b1, r), (&b2, c)] {
            if let Some(bias) = bias {
                self.expect_exact(bias, &[len])?;
            }
        }
        for (bn, len) in [(&bn1, r), (&bn2, c)] {
            for part in bn
                .iter()
                .flat_map(|bn| [&bn.scale, &bn.bias, &bn.mean, &bn.var])
            {
                self.expect_exact(part, &[len])?;
            }
        }
        Ok(AconOp::MetaC {
            p1,
            p2,
            branch: Box::new(MetaBranch {
                w1,
                b1,
                w2,
                b2,
                bn1,
                bn2,
                epsilon: self.attribute("epsilon"),
                spatial_rank,
            }),
        })
    }

    /// The BatchNorm group called `group` (`bn1`), which the signature has
    /// found whole or absent.
    fn batch_norm(&self, group: &str) -> Check<Option<BatchNorm>> {
        if !self.is_given(self.sig.group_inputs(group).start) {
            return Ok(None);
        }
        let part = |name: &str| self.required(&format!("{group}_{name}"));
        Ok(Some(BatchNorm {
            scale: part("scale")?,
            bias: part("bias")?,
            mean: part("mean")?,
            var: part("var")?,
        }))
    }

    /// A 1×1 conv weight: `[out, in]` or `[out, in, 1, …, 1]` with k ones.
    fn expect_conv_weight(
        &self,
        w: &Operand,
        [out, inp]: [i64; 2],
        spatial_rank: usize,
    ) -> Check<()> {
        let role = self.role(w.index);
        let Some(dims) = known_dims(w) else {
            return Ok(());
        };
        let mut expected = vec![out, inp];
        let full_rank = dims.len() != 2;
        if full_rank {
            expected.extend(std::iter::repeat_n(1, spatial_rank));
        }
        let fits = dims.len() == expected.len()
            && dims.iter().zip(&expected).all(|(&d, &e)| e < 0 || d == e);
        if !fits {
            let show = |v: i64| if v < 0 { "?".to_owned() } else { v.to_string() };
            let two: Vec<String> = [out, inp].into_iter().map(show).collect();
            let mut full = two.clone();
            full.extend(std::iter::repeat_n("1".to_owned(), spatial_rank));
            let wanted = if full_rank { &full } else { &two };
            return Err(NodeProblem::Input {
                index: w.index,
                name: w.name.clone(),
                found: format!("has shape {dims:?}"),
                expected: format!(
                    "[{}] ({role} of a 1×1 conv{})",
                    wanted.join(", "),
                    if full_rank {
                        format!(", or [{}]", two.join(", "))
                    } else {
                        String::new()
                    }
                ),
            });
        }
        Ok(())
    }

    /// A shape known in full equals `expected` (`-1`: any size).
    fn expect_exact(&self, op: &Operand, expected: &[i64]) -> Check<()> {
        let Some(dims) = known_dims(op) else {
            return Ok(());
        };
        let fits = dims.len() == expected.len()
            && dims.iter().zip(expected).all(|(&d, &e)| e < 0 || d == e);
        if fits {
            Ok(())
        } else {
            let wanted: Vec<String> = expected
                .iter()
                .map(|&e| if e < 0 { "?".into() } else { e.to_string() })
                .collect();
            Err(NodeProblem::Input {
                index: op.index,
                name: op.name.clone(),
                found: format!("has shape {dims:?}"),
                expected: format!("[{}] ({})", wanted.join(", "), self.role(op.index)),
            })
        }
    }

    /// Every parameter broadcasts to X; with X's shape unknown, to each other.
    fn check_broadcasts(&self, node: &AconNode) -> Check<()> {
        let params: Vec<&Operand> = match &node.op {
            AconOp::A { beta } => beta.iter().collect(),
            AconOp::B { p, beta } => std::iter::once(p).chain(beta).collect(),
            AconOp::C { p1, p2, beta } => [p1, p2].into_iter().chain(beta).collect(),
            AconOp::MetaC { p1, p2, .. } => vec![p1, p2],
        };
        let x_shape = node.x.shape.as_ref();
        for p in &params {
            let Some(p_shape) = p.shape.as_ref() else {
                continue;
            };
            let target: Vec<Dim> = match x_shape {
                Some(s) => s.clone(),
                None if node.kind == AconKind::MetaC => {
                    // [N, C, D1, …]: only C is known, from the weights.
                    continue;
                }
                None => continue,
            };
            if !broadcasts_to(p_shape, &target) {
                return Err(NodeProblem::Input {
                    index: p.index,
                    name: p.name.clone(),
                    found: format!("has shape {}", shape_string(p_shape)),
                    expected: format!("a shape that broadcasts to X's {}", shape_string(&target)),
                });
            }
        }
        if x_shape.is_none() {
            // Without X's shape, at least the parameters must agree.
            for (i, a) in params.iter().enumerate() {
                for b in &params[i + 1..] {
                    if let (Some(sa), Some(sb)) = (&a.shape, &b.shape)
                        && !mutually_broadcast(sa, sb)
                    {
                        return Err(NodeProblem::Input {
                            index: b.index,
                            name: b.name.clone(),
                            found: format!("has shape {}", shape_string(sb)),
                            expected: format!(
                                "a shape that broadcasts with input {} `{}` {}",
                                a.index,
                                a.name,
                                shape_string(sa)
                            ),
                        });
                    }
                }
            }
        }
        if node.kind == AconKind::MetaC
            && let AconOp::MetaC { p1, p2, branch } = &node.op
        {
            // The per-channel parameters must fit C even when X's shape is unknown.
            let c = known_dims(&branch.w1).and_then(|d| d.get(1).copied());
            if let Some(c) = c {
                let mut target = vec![Dim::Unknown, Dim::Known(c)];
                target.extend(std::iter::repeat_n(Dim::Unknown, branch.spatial_rank));
                for p in [p1, p2] {
                    if let Some(s) = &p.shape
                        && !broadcasts_to(s, &target)
                    {
                        return Err(NodeProblem::Input {
                            index: p.index,
                            name: p.name.clone(),
                            found: format!("has shape {}", shape_string(s)),
                            expected: format!(
                                "a shape that broadcasts to X {} with C = {c}",
                                shape_string(&target)
                            ),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

fn known_dims(op: &Operand) -> Option<Vec<i64>> {
    op.shape
        .as_ref()?
        .iter()
        .map(|d| match d {
            Dim::Known(v) => Some(*v),
            _ => None,
        })
        .collect()
}

/// Unidirectional broadcast of `p` to `x`: the result keeps x's shape.
/// Unknown and symbolic dims of x accept any size of p (they cannot be
/// checked before run time).
fn broadcasts_to(p: &[Dim], x: &[Dim]) -> bool {
    if p.len() > x.len() {
        return false;
    }
    let pad = x.len() - p.len();
    p.iter().enumerate().all(|(i, pd)| match (pd, &x[pad + i]) {
        (Dim::Known(1), _) => true,
        (Dim::Known(a), Dim::Known(b)) => a == b,
        (Dim::Known(_), _) => true,
        (_, _) => true,
    })
}

fn mutually_broadcast(a: &[Dim], b: &[Dim]) -> bool {
    let rank = a.len().max(b.len());
    (0..rank).all(|i| {
        let get = |s: &[Dim]| {
            let pad = rank - s.len();
            if i < pad {
                Dim::Known(1)
            } else {
                s[i - pad].clone()
            }
        };
        match (get(a), get(b)) {
            (Dim::Known(x), Dim::Known(y)) => x == y || x == 1 || y == 1,
            _ => true,
        }
    })
}
