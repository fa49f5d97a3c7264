//! `inline-functions`: every call to a model-local function (a
//! `FunctionProto`, matched by domain, name and overload) is replaced by the
//! function's body, in the main graph and in the bodies of `If`, `Loop` and
//! `Scan`, and again in the bodies it brings in, so functions calling
//! functions are inlined too. A function met again while its own body is
//! being inlined is a cycle and is refused.
//!
//! In run order, per call: bind the formal inputs and outputs to the call's
//! names (a missing input binds to `""`, a missing output to a fresh name),
//! give every value and node the body defines a fresh name under the call's
//! (`/act4/MetaAconC/beta`), resolve attribute references against the call
//! and the function's defaults, bring the body to the model's default-domain
//! opset, then inline the calls the body makes. Afterwards the functions no
//! longer called and the imports only the inlined calls used are dropped.
//!
//! A call whose op type is also an ACON op (a function `acon::AconC`) is
//! inlined like any other: its body is the truth.

use crate::model::hash::{Map, Set};
use std::collections::BTreeMap;

use crate::error::Error;
use crate::model::check::node_label;
use crate::model::facts::Facts;
use crate::model::names::NameTable;
use crate::model::opsets::is_default_domain;
use crate::model::tensor::read_ints;
use crate::passes::opset_adapt::{self, constant_ints};
use crate::passes::{Pass, PassContext};
use crate::proto::{
    AttributeProto, FunctionProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    ValueInfoProto,
};

pub struct InlineFunctions;

/// What a call names: domain (`ai.onnx` read as `""`), op type, overload.
type Key = (String, String, String);

fn domain_key(domain: &str) -> String {
    if is_default_domain(domain) {
        String::new()
    } else {
        domain.to_owned()
    }
}

fn node_key(n: &NodeProto) -> Key {
    (
        domain_key(n.domain()),
        n.op_type().to_owned(),
        n.overload().to_owned(),
    )
}

fn function_key(f: &FunctionProto) -> Key {
    (
        domain_key(f.domain()),
        f.name().to_owned(),
        f.overload().to_owned(),
    )
}

fn show(key: &Key) -> String {
    let (domain, name, overload) = key;
    let overload = if overload.is_empty() {
        String::new()
    } else {
        format!(" (overload `{overload}`)")
    };
    format!("`{domain}::{name}`{overload}")
}

impl Pass for InlineFunctions {
    fn name(&self) -> &'static str {
        "inline-functions"
    }

    fn run(&self, model: &mut ModelProto, cx: &mut PassContext) -> Result<bool, Error> {
        if model.functions.is_empty() || model.graph.is_none() {
            return Ok(false);
        }
        let mut inliner = Inliner {
            library: model
                .functions
                .iter()
                .map(|f| (function_key(f), f.clone()))
                .collect(),
            names: NameTable::for_model(model),
            imports: model
                .opset_import
                .iter()
                .map(|o| (domain_key(o.domain()), o.version()))
                .collect(),
            added_imports: vec![],
            inlined: Set::default(),
            call_domains: Set::default(),
            calls: BTreeMap::new(),
        };
        let graph = model.graph.as_mut().expect("checked above");
        inliner.graph(graph, None, &mut vec![])?;
        if inliner.inlined.is_empty() {
            return Ok(false);
        }
        for (function, n) in &inliner.calls {
            *cx.report.inlined.entry(function.clone()).or_default() += n;
        }
        model.opset_import.extend(inliner.added_imports);
        drop_functions(model, &inliner.inlined);
        drop_imports(model, &inliner.call_domains);
        Ok(true)
    }
}

struct Inliner {
    library: Map<Key, FunctionProto>,
    names: NameTable,
    /// The model's imports, by domain, as they will be after inlining.
    imports: Map<String, i64>,
    added_imports: Vec<OperatorSetIdProto>,
    inlined: Set<Key>,
    call_domains: Set<String>,
    /// Calls inlined, by `domain::name`.
    calls: BTreeMap<String, usize>,
}

/// What inlining writes into one graph.
#[derive(Default)]
struct Scope {
    nodes: Vec<NodeProto>,
    value_info: Vec<ValueInfoProto>,
}

impl Inliner {
    fn graph(
        &mut self,
        graph: &mut GraphProto,
        outer: Option<&Facts>,
        stack: &mut Vec<Key>,
    ) -> Result<(), Error> {
        let facts = Facts::for_graph(graph, outer);
        let mut scope = Scope::default();
        self.expand(std::mem::take(&mut graph.node), &facts, &mut scope, stack)?;
        graph.node = scope.nodes;
        graph.value_info.extend(scope.value_info);
        Ok(())
    }

    /// Appends `nodes` to `scope` with every call replaced by its body.
    /// `stack` holds the functions being inlined, outermost first.
    fn expand(
        &mut self,
        nodes: Vec<NodeProto>,
        facts: &Facts,
        scope: &mut Scope,
        stack: &mut Vec<Key>,
    ) -> Result<(), Error> {
        for mut node in nodes {
            let key = node_key(&node);
            let Some(function) = self.library.get(&key).cloned() else {
                for g in node.subgraphs_mut() {
                    self.graph(g, Some(facts), stack)?;
                }
                scope.nodes.push(node);
                continue;
            };
            if let Some(start) = stack.iter().position(|k| *k == key) {
                let cycle: Vec<String> = stack[start..].iter().chain([&key]).map(show).collect();
                return Err(Error::Unsupported(format!(
                    "function {} calls itself ({}); a recursive function cannot be inlined",
                    show(&key),
                    cycle.join(" → ")
                )));
            }
            let in_call = |e: Error| match e {
                Error::Unsupported(msg) => Error::Unsupported(format!(
                    "function {} called by node `{}`: {msg}",
                    show(&key),
                    node_label(&node)
                )),
                other => other,
            };
            let body = self
                .instantiate(&node, &function, facts, scope)
                .map_err(in_call)?;
            stack.push(key.clone());
            self.expand(body, facts, scope, stack).map_err(in_call)?;
            stack.pop();
            self.call_domains.insert(key.0.clone());
            *self.calls.entry(show(&key)).or_default() += 1;
            self.inlined.insert(key);
        }
        Ok(())
    }

    /// The body of `f` as called by `call`: renamed, attributes resolved,
    /// in the model's opset; its function-level `value_info` goes to `scope`.
    fn instantiate(
        &mut self,
        call: &NodeProto,
        f: &FunctionProto,
        facts: &Facts,
        scope: &mut Scope,
    ) -> Result<Vec<NodeProto>, Error> {
        if call.input.len() > f.input.len() || call.output.len() > f.output.len() {
            return Err(Error::Unsupported(format!(
                "the call has {} inputs and {} outputs; the function takes at most {} and {}",
                call.input.len(),
                call.output.len(),
                f.input.len(),
                f.output.len()
            )));
        }
        let opsets = self.body_opsets(f)?;
        let prefix = node_label(call).to_owned();
        let mut renamer = Renamer {
            prefix: &prefix,
            names: &mut self.names,
            outputs: Map::default(),
        };
        let (mut map, copies) = renamer.bind_formals(call, f)?;
        let mut read_by_caller: Set<String> = renamer.outputs.values().cloned().collect();
        read_by_caller.extend(copies.iter().flat_map(|c| c.input.clone()));

        let mut body = f.node.clone();
        renamer.nodes(&mut body, &mut map)?;
        for node in &mut body {
            resolve_attribute_refs(&mut node.attribute, &call.attribute, &f.attribute_proto);
        }
        body.extend(copies);
        scope.value_info.extend(internal_value_info(f, &map));

        let Some((from, to)) = opsets else {
            return Ok(body);
        };
        let outer = |name: &str| {
            facts.constant(name).and_then(read_ints).or_else(|| {
                scope
                    .nodes
                    .iter()
                    .find(|n| n.output.iter().any(|o| o == name))
                    .and_then(constant_ints)
            })
        };
        opset_adapt::adapt(body, from, to, &mut self.names, &outer, &read_by_caller)
    }

    /// Checks the imports `f`'s body uses against the model's, adding those
    /// the model lacks. Returns `(function, model)` versions of the default
    /// domain when they differ and the body must be converted.
    fn body_opsets(&mut self, f: &FunctionProto) -> Result<Option<(i64, i64)>, Error> {
        let mut used = Set::default();
        collect_uses(&f.node, &mut used);
        let used: Set<String> = used.into_iter().map(|(d, _, _)| d).collect();
        let mut convert = None;
        for import in &f.opset_import {
            let domain = domain_key(import.domain());
            if !used.contains(&domain) {
                continue;
            }
            match self.imports.get(&domain) {
                None => {
                    self.imports.insert(domain, import.version());
                    self.added_imports.push(import.clone());
                }
                Some(&v) if v == import.version() => {}
                Some(&v) if domain.is_empty() => convert = Some((import.version(), v)),
                Some(&v) => {
                    return Err(Error::Unsupported(format!(
                        "the function imports domain `{domain}` version {} and the model \
                         version {v}; only the default domain is converted between versions",
                        import.version()
                    )));
                }
            }
        }
        Ok(convert)
    }
}

/// Fresh names for what a body defines, under the call's name.
struct Renamer<'a> {
    prefix: &'a str,
    names: &'a mut NameTable,
    /// Formal outputs bound to the call's outputs (top level of the body only).
    outputs: Map<String, String>,
}

impl Renamer<'_> {
    fn fresh(&mut self, name: &str) -> String {
        self.names.fresh(&format!("{}/{name}", self.prefix))
    }

    /// Binds the formals to the call's names: an input without an actual is
    /// an omitted optional input (`""`), an output without one gets a fresh
    /// name. Returns the names in scope and the Identity nodes that copy an
    /// output which is an input or repeats an earlier output.
    fn bind_formals(
        &mut self,
        call: &NodeProto,
        f: &FunctionProto,
    ) -> Result<(Map<String, String>, Vec<NodeProto>), Error> {
        let map: Map<String, String> = f
            .input
            .iter()
            .enumerate()
            .map(|(i, formal)| {
                (
                    formal.clone(),
                    call.input.get(i).cloned().unwrap_or_default(),
                )
            })
            .collect();
        let mut copies = vec![];
        for (j, formal) in f.output.iter().enumerate() {
            let actual = match call.output.get(j) {
                Some(a) if !a.is_empty() => a.clone(),
                _ => self.fresh(formal),
            };
            match map.get(formal).or(self.outputs.get(formal)).cloned() {
                Some(source) if source.is_empty() => {
                    return Err(Error::Unsupported(format!(
                        "output `{formal}` is the omitted input of the same name"
                    )));
                }
                Some(source) => copies.push(NodeProto {
                    input: vec![source],
                    output: vec![actual],
                    name: Some(self.fresh("Identity")),
                    op_type: Some("Identity".into()),
                    ..Default::default()
                }),
                None => {
                    self.outputs.insert(formal.clone(), actual);
                }
            }
        }
        Ok((map, copies))
    }

    /// Renames `nodes` in place; `map` holds the names in scope and gains the
    /// values the nodes define. Every name read must be in scope: a function
    /// sees only its formals and its own values.
    fn nodes(
        &mut self,
        nodes: &mut [NodeProto],
        map: &mut Map<String, String>,
    ) -> Result<(), Error> {
        for node in nodes {
            let label = node_label(node).to_owned();
            for input in node.input.iter_mut().filter(|i| !i.is_empty()) {
                *input = map.get(input.as_str()).cloned().ok_or_else(|| {
                    Error::Unsupported(format!(
                        "node `{label}` reads `{input}`, which the function does not define"
                    ))
                })?;
            }
            while node.input.last().is_some_and(String::is_empty) {
                node.input.pop();
            }
            for g in node.subgraphs_mut() {
                self.graph(g, map)?;
            }
            let label = if node.name().is_empty() {
                node.op_type().to_owned()
            } else {
                node.name().to_owned()
            };
            node.name = Some(self.fresh(&label));
            for output in node.output.iter_mut().filter(|o| !o.is_empty()) {
                let renamed = match self.outputs.get(output.as_str()) {
                    Some(actual) => actual.clone(),
                    None => self.fresh(output),
                };
                map.insert(output.clone(), renamed.clone());
                *output = renamed;
            }
        }
        Ok(())
    }

    /// A subgraph of a body node: its own names are fresh too, so nothing it
    /// defines shadows a name of the caller's scopes.
    fn graph(&mut self, g: &mut GraphProto, outer: &Map<String, String>) -> Result<(), Error> {
        let mut map = outer.clone();
        let top_level_outputs = std::mem::take(&mut self.outputs);
        let defined = g
            .input
            .iter_mut()
            .filter_map(|v| v.name.as_mut())
            .chain(g.initializer.iter_mut().filter_map(|t| t.name.as_mut()))
            .chain(
                g.sparse_initializer
                    .iter_mut()
                    .filter_map(|s| s.values.as_mut()?.name.as_mut()),
            );
        for name in defined {
            let renamed = self.fresh(name);
            map.insert(std::mem::replace(name, renamed.clone()), renamed);
        }
        self.nodes(&mut g.node, &mut map)?;
        self.outputs = top_level_outputs;
        for v in g.output.iter_mut().chain(g.value_info.iter_mut()) {
            if let Some(renamed) = map.get(v.name()) {
                v.name = Some(renamed.clone());
            }
        }
        Ok(())
    }
}

/// The function's `value_info` for the values its body defines, renamed.
fn internal_value_info<'a>(
    f: &'a FunctionProto,
    map: &'a Map<String, String>,
) -> impl Iterator<Item = ValueInfoProto> + 'a {
    let formal = |name: &str| f.input.iter().chain(&f.output).any(|n| n == name);
    f.value_info
        .iter()
        .filter(move |v| !formal(v.name()))
        .filter_map(|v| {
            Some(ValueInfoProto {
                name: Some(map.get(v.name())?.clone()),
                ..v.clone()
            })
        })
}

/// A body attribute `ref_attr_name: a` takes the call's attribute `a`, else
/// the function's default for `a`; with neither it is left out, as an unset
/// optional attribute (ONNX IR, "Functions").
fn resolve_attribute_refs(
    attrs: &mut Vec<AttributeProto>,
    call: &[AttributeProto],
    defaults: &[AttributeProto],
) {
    attrs.retain_mut(|attr| {
        if attr.ref_attr_name().is_empty() {
            for g in attr.g.iter_mut().chain(attr.graphs.iter_mut()) {
                for node in &mut g.node {
                    resolve_attribute_refs(&mut node.attribute, call, defaults);
                }
            }
            return true;
        }
        let wanted = attr.ref_attr_name();
        match call.iter().chain(defaults).find(|a| a.name() == wanted) {
            Some(value) => {
                *attr = AttributeProto {
                    name: attr.name.take(),
                    ..value.clone()
                };
                true
            }
            None => false,
        }
    });
}

/// Every call key and domain that `nodes` use, subgraphs included.
fn collect_uses(nodes: &[NodeProto], keys: &mut Set<Key>) {
    for node in nodes {
        keys.insert(node_key(node));
        for g in node.subgraphs() {
            collect_uses(&g.node, keys);
        }
    }
}

/// Drops the inlined functions that nothing calls any more. Functions never
/// called are kept, as is what they call.
fn drop_functions(model: &mut ModelProto, inlined: &Set<Key>) {
    let mut called = Set::default();
    if let Some(g) = &model.graph {
        collect_uses(&g.node, &mut called);
    }
    loop {
        let before = called.len();
        for f in &model.functions {
            let key = function_key(f);
            if !inlined.contains(&key) || called.contains(&key) {
                collect_uses(&f.node, &mut called);
            }
        }
        if called.len() == before {
            break;
        }
    }
    model.functions.retain(|f| {
        let key = function_key(f);
        !inlined.contains(&key) || called.contains(&key)
    });
}

/// Drops the imports of domains that inlined calls used and that no node,
/// and no remaining function, uses now. Other imports stay, used or not.
fn drop_imports(model: &mut ModelProto, call_domains: &Set<String>) {
    let mut used = Set::default();
    if let Some(g) = &model.graph {
        collect_uses(&g.node, &mut used);
    }
    for f in &model.functions {
        collect_uses(&f.node, &mut used);
        used.insert(function_key(f));
    }
    let used_domains: Set<String> = used.into_iter().map(|(d, _, _)| d).collect();
    model.opset_import.retain(|o| {
        let d = domain_key(o.domain());
        d.is_empty() || !call_domains.contains(&d) || used_domains.contains(&d)
    });
}
