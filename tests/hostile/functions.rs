//! Function calls that nest or multiply when inlined.

use acon_onnx::proto::ModelProto;

use crate::common::*;
use crate::corpus::*;
use crate::verbs::*;

/// `F0` calls `F1` `fanout` times in sequence, `F1` calls `F2`, … down to a
/// `Relu`: inlining makes `fanout^depth` nodes, calls nest `depth` deep.
pub fn function_tower(depth: usize, fanout: usize) -> ModelProto {
    let mut functions = vec![];
    for level in 0..depth {
        let callee = format!("F{}", level + 1);
        let nodes = if level + 1 == depth {
            vec![node("leaf", "Relu", &["X"], &["Y"])]
        } else {
            (0..fanout)
                .map(|i| {
                    let input = if i == 0 {
                        "X".to_owned()
                    } else {
                        format!("t{i}")
                    };
                    let output = if i + 1 == fanout {
                        "Y".to_owned()
                    } else {
                        format!("t{}", i + 1)
                    };
                    call(&format!("c{i}"), "local", &callee, &input, &output)
                })
                .collect()
        };
        functions.push(function("local", &format!("F{level}"), nodes));
    }
    with_functions(functions, call("top", "local", "F0", "x", "y"))
}

#[test]
fn functions_that_multiply_when_inlined_are_refused() {
    assert_all_refused(&[
        model_entry(
            "function_calls_nested_5000_deep",
            &function_tower(5000, 1),
            &[
                "function calls nest more than 64 deep",
                "`local::F0` -> `local::F1` -> … -> `local::F64`",
            ],
        ),
        model_entry(
            "function_calls_doubling_40_times",
            &function_tower(40, 2),
            &[
                "inlining the function calls in `local::F",
                "past the limit of 4194304",
            ],
        ),
    ]);
}
