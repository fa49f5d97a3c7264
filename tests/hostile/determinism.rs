//! Conversion is deterministic and idempotent across every fixture.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::*;

/// The files of a directory by name, with their bytes.
pub fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_fixture_converts_to_the_same_bytes_twice_and_reconverts_to_itself() {
    let mut failures = vec![];
    for f in manifest() {
        let dir = tempdir();
        let [a, b, c] = ["a", "b", "c"].map(|d| {
            let p = dir.path().join(d);
            std::fs::create_dir(&p).unwrap();
            p
        });
        // The same file name in each directory: an external data file is
        // named after its model, and its name is inside the model.
        let convert = |input: &Path, out_dir: &Path| {
            let o = acon(&[
                "convert",
                input.to_str().unwrap(),
                "-o",
                out_dir.join("out.onnx").to_str().unwrap(),
            ]);
            assert_exit(&o, 0);
        };
        convert(&f.model_path(), &a);
        convert(&f.model_path(), &b);
        convert(&a.join("out.onnx"), &c);
        let (ca, cb, cc) = (contents(&a), contents(&b), contents(&c));
        if ca != cb {
            failures.push(format!("{}: two conversions differ", f.name));
        }
        if ca != cc {
            failures.push(format!("{}: reconverting changed the model", f.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
