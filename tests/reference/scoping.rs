//! The scope check: everything a graph reads is in scope, nothing a
//! subgraph defines shadows an enclosing name.

use std::collections::HashSet;

use acon_onnx::proto::GraphProto;

/// Every value a graph reads is defined before in its scope or an enclosing
/// one, and no name a subgraph defines shadows a name of an enclosing scope.
pub fn assert_scoping(graph: &GraphProto) {
    check_scope(graph, &HashSet::new(), graph.name());
}

fn check_scope(graph: &GraphProto, outer: &HashSet<String>, path: &str) {
    let mut visible = outer.clone();
    let define = |name: &str, visible: &mut HashSet<String>| {
        if name.is_empty() {
            return;
        }
        assert!(
            !outer.contains(name),
            "{path}: `{name}` shadows an outer name"
        );
        assert!(
            visible.insert(name.to_owned()),
            "{path}: `{name}` is defined twice"
        );
    };
    for name in graph
        .input
        .iter()
        .map(|v| v.name())
        .chain(graph.initializer.iter().map(|t| t.name()))
    {
        define(name, &mut visible);
    }
    for node in &graph.node {
        for input in node.input.iter().filter(|i| !i.is_empty()) {
            assert!(
                visible.contains(input),
                "{path}: node `{}` reads `{input}`, not in scope",
                node.name()
            );
        }
        for attr in &node.attribute {
            for g in attr.g.iter().chain(&attr.graphs) {
                check_scope(
                    g,
                    &visible,
                    &format!("{path}/{}:{}", node.name(), attr.name()),
                );
            }
        }
        for output in &node.output {
            define(output, &mut visible);
        }
    }
}
