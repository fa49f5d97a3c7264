//! One declarative signature per ACON op: the contract of
//! `docs/acon-ops.md` as data, so that no other file spells it. A
//! [`Signature`] gives the op type, each input in order with its name and
//! its [`Presence`] (required, optional, or a member of an all-or-none
//! [`Group`] such as MetaAconC's two BatchNorm groups), the attributes with
//! their defaults, and the op-set version the op exists since.
//!
//! Everyone reads it: `ops::parse` (arity, roles, required inputs, the
//! groups, `epsilon`), the tract builders and `MetaAconKernel`'s input slots
//! (`tract/kernels`), the FLOPs count (W1, the BatchNorm statistics), and
//! the messages that list the op types. The input rules are checked in one
//! place, [`Signature::check_count`] and [`Signature::check`]: they return
//! which inputs are [`Given`], or an [`InputProblem`] that each caller words
//! in its own terms (a `NodeProblem` for the converter, a tract error for
//! the kernels).
//!
//! The idea is that of burn's onnx-ir `NodeSpec` (inputs with names and
//! presence, checked before anything reads them); the code is our own.

use std::ops::Range;

use crate::ops::{AconKind, DEFAULT_EPSILON};

/// What one ACON op takes.
#[derive(Debug, PartialEq)]
pub struct Signature {
    pub kind: AconKind,
    /// Its `op_type` in an ACON domain.
    pub op_type: &'static str,
    /// The ACON op-set version that defines it (see `ops::KNOWN_VERSIONS`).
    pub since_version: i64,
    /// Its inputs, in order.
    pub inputs: &'static [Input],
    /// Its attributes; a node may set no others.
    pub attributes: &'static [Attribute],
}

/// One input of an op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Input {
    /// Its role, as `docs/acon-ops.md` names it (`X`, `p1`, `W1`, …).
    pub name: &'static str,
    pub presence: Presence,
    /// A BatchNorm running mean or variance: a buffer, not a learnable
    /// parameter (PyTorch and the papers do not count those).
    pub statistic: bool,
}

/// Whether a node must give an input. An absent input is missing from the
/// end of the input list or given as the empty name `""`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Required,
    Optional,
    /// Given together with every other member of the group, or not at all.
    InGroup(&'static Group),
}

/// An all-or-none run of inputs; its members follow each other.
#[derive(Debug, PartialEq, Eq)]
pub struct Group {
    /// The prefix of its members' names (`bn1` for `bn1_scale`, …).
    pub name: &'static str,
    /// How messages name it: "the {label} BatchNorm group".
    pub label: &'static str,
}

/// A float attribute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attribute {
    pub name: &'static str,
    /// Its value when the node does not set it.
    pub default: f64,
    /// The least value allowed; a value must also be finite.
    pub at_least: f64,
}

impl Attribute {
    pub fn accepts(&self, value: f64) -> bool {
        value.is_finite() && value >= self.at_least
    }
}

const fn required(name: &'static str) -> Input {
    Input {
        name,
        presence: Presence::Required,
        statistic: false,
    }
}

const fn optional(name: &'static str) -> Input {
    Input {
        name,
        presence: Presence::Optional,
        statistic: false,
    }
}

const fn member(name: &'static str, group: &'static Group, statistic: bool) -> Input {
    Input {
        name,
        presence: Presence::InGroup(group),
        statistic,
    }
}

const BN1: Group = Group {
    name: "bn1",
    label: "first",
};

const BN2: Group = Group {
    name: "bn2",
    label: "second",
};

const ACON_A: Signature = Signature {
    kind: AconKind::A,
    op_type: "AconA",
    since_version: 1,
    inputs: &[required("X"), optional("beta")],
    attributes: &[],
};

const ACON_B: Signature = Signature {
    kind: AconKind::B,
    op_type: "AconB",
    since_version: 1,
    inputs: &[required("X"), required("p"), optional("beta")],
    attributes: &[],
};

const ACON_C: Signature = Signature {
    kind: AconKind::C,
    op_type: "AconC",
    since_version: 1,
    inputs: &[
        required("X"),
        required("p1"),
        required("p2"),
        optional("beta"),
    ],
    attributes: &[],
};

const META_ACON_C: Signature = Signature {
    kind: AconKind::MetaC,
    op_type: "MetaAconC",
    since_version: 1,
    inputs: &[
        required("X"),
        required("p1"),
        required("p2"),
        required("W1"),
        optional("B1"),
        required("W2"),
        optional("B2"),
        member("bn1_scale", &BN1, false),
        member("bn1_bias", &BN1, false),
        member("bn1_mean", &BN1, true),
        member("bn1_var", &BN1, true),
        member("bn2_scale", &BN2, false),
        member("bn2_bias", &BN2, false),
        member("bn2_mean", &BN2, true),
        member("bn2_var", &BN2, true),
    ],
    attributes: &[Attribute {
        name: "epsilon",
        default: DEFAULT_EPSILON,
        at_least: 0.0,
    }],
};

impl AconKind {
    /// What the op takes.
    pub const fn signature(self) -> &'static Signature {
        match self {
            AconKind::A => &ACON_A,
            AconKind::B => &ACON_B,
            AconKind::C => &ACON_C,
            AconKind::MetaC => &META_ACON_C,
        }
    }
}

/// Why a node's inputs break its op's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputProblem {
    /// Fewer inputs than the required ones need, or more than the op has.
    Count { actual: usize },
    /// Required input `index` is absent.
    Missing { index: usize },
    /// Some but not all members of `group` (at `inputs`) are given.
    PartialGroup {
        group: &'static Group,
        inputs: Range<usize>,
        given: Vec<usize>,
    },
}

/// Which inputs of a node are given, once [`Signature::check`] has found
/// them to fit its op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Given {
    kind: AconKind,
    /// Bit `i`: input `i` is given (at most 15 inputs).
    bits: u32,
}

impl Given {
    /// The op whose signature the inputs were checked against.
    pub fn kind(self) -> AconKind {
        self.kind
    }

    pub fn has(self, index: usize) -> bool {
        index < 32 && self.bits >> index & 1 == 1
    }

    /// How many inputs are given.
    pub fn count(self) -> usize {
        self.bits.count_ones() as usize
    }

    /// Where input `index` sits among the given ones (a runtime such as
    /// tract hands an op only the inputs its node gives).
    pub fn slot(self, index: usize) -> usize {
        let below = 1u32
            .checked_shl(index as u32)
            .map_or(u32::MAX, |bit| bit - 1);
        (self.bits & below).count_ones() as usize
    }
}

impl Signature {
    /// The fewest inputs a node may list: up to the last required one.
    pub fn min_inputs(&self) -> usize {
        self.inputs
            .iter()
            .rposition(|i| i.presence == Presence::Required)
            .map_or(0, |i| i + 1)
    }

    pub fn max_inputs(&self) -> usize {
        self.inputs.len()
    }

    /// How many inputs a node may list: `1 or 2`, `6 to 15`.
    pub fn arity(&self) -> String {
        let (min, max) = (self.min_inputs(), self.max_inputs());
        match max - min {
            0 => min.to_string(),
            1 => format!("{min} or {max}"),
            _ => format!("{min} to {max}"),
        }
    }

    /// The arity with the inputs it counts: `1 or 2 (X, beta)`, and
    /// `6 to 15 (X, p1, p2, W1, B1, W2, …)` where more than one input may
    /// follow the first `min`.
    pub fn arity_with_names(&self) -> String {
        let (min, max) = (self.min_inputs(), self.max_inputs());
        let mut names: Vec<&str> = self.inputs[..min].iter().map(|i| i.name).collect();
        match max - min {
            0 => {}
            1 => names.push(self.inputs[min].name),
            _ => names.push("…"),
        }
        format!("{} ({})", self.arity(), names.join(", "))
    }

    /// The name of input `index`.
    pub fn role(&self, index: usize) -> Option<&'static str> {
        self.inputs.get(index).map(|i| i.name)
    }

    /// The position of the input called `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.inputs.iter().position(|i| i.name == name)
    }

    /// The position of the input called `name`, for a name written in the
    /// source: a name the op does not have is a bug, and panics.
    pub fn index(&self, name: &str) -> usize {
        self.position(name)
            .unwrap_or_else(|| panic!("{} has no input `{name}`", self.op_type))
    }

    /// The positions of the required inputs.
    pub fn required(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.inputs.len()).filter(|&i| self.inputs[i].presence == Presence::Required)
    }

    /// The positions of the BatchNorm running statistics.
    pub fn statistics(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.inputs.len()).filter(|&i| self.inputs[i].statistic)
    }

    /// The all-or-none groups, in order, with their members' positions.
    pub fn groups(&self) -> Vec<(&'static Group, Range<usize>)> {
        let mut groups: Vec<(&'static Group, Range<usize>)> = vec![];
        for (index, input) in self.inputs.iter().enumerate() {
            if let Presence::InGroup(group) = input.presence {
                match groups.last_mut() {
                    Some((last, range)) if *last == group && range.end == index => {
                        range.end = index + 1
                    }
                    _ => groups.push((group, index..index + 1)),
                }
            }
        }
        groups
    }

    /// The positions of the group called `name`, for a name written in the
    /// source (panics on a name the op does not have, as [`Self::index`]).
    pub fn group_inputs(&self, name: &str) -> Range<usize> {
        self.groups()
            .into_iter()
            .find(|(g, _)| g.name == name)
            .map(|(_, range)| range)
            .unwrap_or_else(|| panic!("{} has no input group `{name}`", self.op_type))
    }

    pub fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The number of inputs a node lists fits the op.
    pub fn check_count(&self, count: usize) -> Result<(), InputProblem> {
        if (self.min_inputs()..=self.max_inputs()).contains(&count) {
            Ok(())
        } else {
            Err(InputProblem::Count { actual: count })
        }
    }

    /// A node's input names (`""` for an absent one) fit the op: their
    /// number, every required input given, every group whole or absent.
    /// The first problem is reported, in the order of the inputs.
    pub fn check<S: AsRef<str>>(&self, inputs: &[S]) -> Result<Given, InputProblem> {
        self.check_count(inputs.len())?;
        let bits = inputs
            .iter()
            .enumerate()
            .filter(|(_, name)| !name.as_ref().is_empty())
            .fold(0u32, |bits, (i, _)| bits | 1 << i);
        let given = Given {
            kind: self.kind,
            bits,
        };
        let groups = self.groups();
        for (index, input) in self.inputs.iter().enumerate() {
            match input.presence {
                Presence::Required if !given.has(index) => {
                    return Err(InputProblem::Missing { index });
                }
                Presence::InGroup(_) => {
                    let Some((group, range)) = groups.iter().find(|(_, r)| r.start == index) else {
                        continue;
                    };
                    let present: Vec<usize> = range.clone().filter(|&i| given.has(i)).collect();
                    if !present.is_empty() && present.len() != range.len() {
                        return Err(InputProblem::PartialGroup {
                            group,
                            inputs: range.clone(),
                            given: present,
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(given)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::KNOWN_VERSIONS;

    fn names(kind: AconKind) -> Vec<&'static str> {
        kind.signature().inputs.iter().map(|i| i.name).collect()
    }

    /// The input tables of `docs/acon-ops.md`, and the arity texts the
    /// converter's messages give.
    #[test]
    fn the_signatures_follow_the_spec_tables() {
        let cases = [
            (AconKind::A, "AconA", 1, 2, "1 or 2 (X, beta)"),
            (AconKind::B, "AconB", 2, 3, "2 or 3 (X, p, beta)"),
            (AconKind::C, "AconC", 3, 4, "3 or 4 (X, p1, p2, beta)"),
            (
                AconKind::MetaC,
                "MetaAconC",
                6,
                15,
                "6 to 15 (X, p1, p2, W1, B1, W2, …)",
            ),
        ];
        for (kind, op_type, min, max, text) in cases {
            let sig = kind.signature();
            assert_eq!(sig.kind, kind);
            assert_eq!(sig.op_type, op_type);
            assert_eq!(kind.op_type(), op_type);
            assert_eq!(AconKind::from_op_type(op_type), Some(kind));
            assert_eq!(
                (sig.min_inputs(), sig.max_inputs()),
                (min, max),
                "{op_type}"
            );
            assert_eq!(sig.arity_with_names(), text);
            assert!(KNOWN_VERSIONS.contains(&sig.since_version), "{op_type}");
        }
        assert_eq!(names(AconKind::A), ["X", "beta"]);
        assert_eq!(names(AconKind::B), ["X", "p", "beta"]);
        assert_eq!(names(AconKind::C), ["X", "p1", "p2", "beta"]);
        assert_eq!(
            names(AconKind::MetaC),
            [
                "X",
                "p1",
                "p2",
                "W1",
                "B1",
                "W2",
                "B2",
                "bn1_scale",
                "bn1_bias",
                "bn1_mean",
                "bn1_var",
                "bn2_scale",
                "bn2_bias",
                "bn2_mean",
                "bn2_var",
            ]
        );
        assert_eq!(AconKind::MetaC.signature().arity(), "6 to 15");
    }

    #[test]
    fn presence_groups_and_attributes_follow_the_spec() {
        for kind in [AconKind::A, AconKind::B, AconKind::C] {
            let sig = kind.signature();
            // X and the parameters are required, the last input (beta) optional.
            let required: Vec<usize> = sig.required().collect();
            assert_eq!(required, (0..sig.max_inputs() - 1).collect::<Vec<_>>());
            assert_eq!(sig.index("beta"), sig.max_inputs() - 1);
            assert!(sig.groups().is_empty());
            assert_eq!(sig.statistics().count(), 0);
            assert!(sig.attributes.is_empty());
        }
        let meta = AconKind::MetaC.signature();
        assert_eq!(meta.required().collect::<Vec<_>>(), [0, 1, 2, 3, 5]);
        for name in ["B1", "B2"] {
            assert_eq!(meta.inputs[meta.index(name)].presence, Presence::Optional);
        }
        let groups: Vec<(&str, &str, Range<usize>)> = meta
            .groups()
            .into_iter()
            .map(|(g, r)| (g.name, g.label, r))
            .collect();
        assert_eq!(groups, [("bn1", "first", 7..11), ("bn2", "second", 11..15)]);
        for (group, range) in meta.groups() {
            for (i, part) in range.zip(["scale", "bias", "mean", "var"]) {
                assert_eq!(
                    meta.role(i),
                    Some(format!("{}_{part}", group.name).as_str())
                );
            }
        }
        assert_eq!(meta.group_inputs("bn2"), 11..15);
        assert_eq!(meta.statistics().collect::<Vec<_>>(), [9, 10, 13, 14]);
        let eps = meta.attribute("epsilon").expect("MetaAconC has epsilon");
        assert_eq!(eps.default, DEFAULT_EPSILON);
        assert!(eps.accepts(0.0) && eps.accepts(1e-3));
        assert!(!eps.accepts(-1e-9) && !eps.accepts(f64::NAN) && !eps.accepts(f64::INFINITY));
        assert_eq!(meta.attribute("alpha"), None);
        assert_eq!(meta.position("W3"), None);
        assert_eq!(meta.role(15), None);
    }

    #[test]
    fn check_reports_the_first_problem_in_input_order() {
        let c = AconKind::C.signature();
        assert_eq!(
            c.check(&["x", "p1"]),
            Err(InputProblem::Count { actual: 2 })
        );
        assert_eq!(
            c.check(&["x", "p1", "p2", "b", "extra"]),
            Err(InputProblem::Count { actual: 5 })
        );
        assert_eq!(
            c.check(&["x", "", "p2"]),
            Err(InputProblem::Missing { index: 1 })
        );
        let given = c.check(&["x", "p1", "p2", ""]).unwrap();
        assert_eq!((given.kind(), given.count()), (AconKind::C, 3));
        assert!(!given.has(3));

        let meta = AconKind::MetaC.signature();
        let mut inputs = vec!["x", "p1", "p2", "w1", "", "w2"];
        assert!(meta.check(&inputs).is_ok());
        inputs[5] = "";
        assert_eq!(meta.check(&inputs), Err(InputProblem::Missing { index: 5 }));
        inputs[5] = "w2";
        inputs.extend(["", "s", "b"]);
        let bn1 = meta.groups()[0].0;
        assert_eq!(
            meta.check(&inputs),
            Err(InputProblem::PartialGroup {
                group: bn1,
                inputs: 7..11,
                given: vec![7, 8],
            })
        );
        // A missing required input comes before a partial group.
        inputs[3] = "";
        assert_eq!(meta.check(&inputs), Err(InputProblem::Missing { index: 3 }));
        inputs[3] = "w1";
        inputs.extend(["m", "v", "", "", "", "s2"]);
        assert!(matches!(
            meta.check(&inputs),
            Err(InputProblem::PartialGroup { inputs, given, .. })
                if inputs == (11..15) && given == [14]
        ));
    }

    /// The messages built from the signatures read as they did when each
    /// spelt the op facts by hand.
    #[test]
    fn messages_from_the_signatures_keep_their_words() {
        use crate::error::NodeProblem;
        let unknown = NodeProblem::UnknownOpType {
            known: AconKind::ALL.map(AconKind::op_type).to_vec(),
        };
        assert_eq!(
            unknown.to_string(),
            "unknown op type in an ACON domain, expected AconA, AconB, AconC or MetaAconC"
        );
        let count = NodeProblem::InputCount {
            expected: AconKind::MetaC.signature().arity_with_names(),
            actual: 16,
        };
        assert_eq!(
            count.to_string(),
            "has 16 inputs, expected 6 to 15 (X, p1, p2, W1, B1, W2, …)"
        );
    }

    /// A kernel that receives only the given inputs finds each at its slot.
    #[test]
    fn slots_count_the_given_inputs_before() {
        let meta = AconKind::MetaC.signature();
        let inputs = [
            "x", "p1", "p2", "w1", "", "w2", "b2", "", "", "", "", "s", "b", "m", "v",
        ];
        let given = meta.check(&inputs).unwrap();
        assert_eq!(given.count(), 10);
        let slot = |name| given.slot(meta.index(name));
        assert_eq!(
            [slot("W1"), slot("W2"), slot("B2"), slot("bn2_scale")],
            [3, 4, 5, 6]
        );
        assert!(!given.has(meta.index("B1")) && !given.has(meta.group_inputs("bn1").start));
        assert_eq!(given.slot(40), 10);
    }
}
