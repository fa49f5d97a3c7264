//! External tensor data (issue #3) and hostile external data (issue #6),
//! through the real binary and the library: the `small_cnn_extdata` fixture
//! converts and runs in tract like PyTorch; `--external-data`,
//! `--size-threshold` and the automatic 2 GiB switch (forced small with the
//! hidden `--max-proto-size`) lay out the data file as documented; and every
//! hostile location is refused with exit 2, a message naming the tensor and
//! the path, no output, and the inputs unchanged.

mod common;

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};

use acon_onnx::compare::{Tolerance, compare};
use acon_onnx::model::external::{ALIGN, LARGE_ALIGN, LARGE_TENSOR};
use acon_onnx::model::{ExternalData, SaveOptions, load_with_sources, save_with_report};
use acon_onnx::proto::tensor_proto::DataLocation;
use acon_onnx::proto::{ModelProto, StringStringEntryProto, TensorProto};
use common::*;
use prost::Message;

const EXTDATA: &str = "small_cnn_extdata";
const EMBEDDED: &str = "small_cnn_op17";

/// The model as written, external tensors unresolved.
fn raw_model(path: &Path) -> ModelProto {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ModelProto::decode(bytes.as_slice()).expect("ModelProto")
}

fn initializers(m: &ModelProto) -> &[TensorProto] {
    &m.graph.as_ref().expect("graph").initializer
}

fn entries(t: &TensorProto) -> BTreeMap<String, String> {
    t.external_data
        .iter()
        .map(|e| (e.key().to_owned(), e.value().to_owned()))
        .collect()
}

fn entry(key: &str, value: &str) -> StringStringEntryProto {
    StringStringEntryProto {
        key: Some(key.into()),
        value: Some(value.into()),
    }
}

/// Every file, directory and link under `root`, with a hash of its
/// contents (a link by its target): equal snapshots mean nothing was
/// written, removed or changed.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for e in std::fs::read_dir(dir).expect("read_dir") {
            let path = e.expect("entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("lstat");
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).expect("readlink");
                out.insert(path, format!("link -> {}", target.display()));
            } else if meta.is_dir() {
                out.insert(path.clone(), "dir".into());
                walk(&path, out);
            } else {
                let mut h = DefaultHasher::new();
                h.write(&std::fs::read(&path).expect("read"));
                out.insert(path, format!("file {} {:016x}", meta.len(), h.finish()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, &mut out);
    out
}

/// Runs `model` in tract on the fixture's test data and checks PyTorch's
/// outputs at the `close` tolerance.
fn assert_matches_pytorch(model: &Path, fixture_name: &str) {
    let f = fixture(fixture_name);
    let ty = f.float_type();
    let (atol, rtol) = Tolerance::Close.bounds(ty);
    for set in f.data_sets() {
        let (inputs, expected) = test_data(&set);
        let actual = run_in_tract(model, &inputs);
        assert_eq!(actual.len(), expected.len());
        for (a, e) in actual.iter().zip(&expected) {
            let c = compare(a, &floats(e), ty, atol, rtol);
            assert!(
                c.passed,
                "{}: output `{}` beyond `close`: {c:?}",
                model.display(),
                e.name()
            );
        }
    }
}

/// Checks the external entries of `model` (read from `dir`) against the data
/// file `location`: aligned offsets, lengths of dims × 4 bytes, no overlap,
/// inside the file. Returns the names of the external tensors.
fn check_layout(model: &ModelProto, dir: &Path, location: &str) -> Vec<String> {
    let file_len = std::fs::metadata(dir.join(location))
        .expect("data file")
        .len();
    let mut names = vec![];
    let mut end = 0;
    for t in initializers(model) {
        if t.data_location() != DataLocation::External {
            continue;
        }
        let e = entries(t);
        assert_eq!(e["location"], location, "{}", t.name());
        assert_eq!(
            e.keys().map(String::as_str).collect::<Vec<_>>(),
            ["length", "location", "offset"]
        );
        assert!(t.raw_data.is_none(), "{}", t.name());
        let offset: u64 = e["offset"].parse().unwrap();
        let length: u64 = e["length"].parse().unwrap();
        let elements: i64 = t.dims.iter().product();
        assert_eq!(length, elements as u64 * 4, "{}: float data", t.name());
        let align = if length >= LARGE_TENSOR {
            LARGE_ALIGN
        } else {
            ALIGN
        };
        assert_eq!(offset % align, 0, "{}: offset {offset}", t.name());
        assert!(offset >= end, "{}: overlaps the previous tensor", t.name());
        end = offset + length;
        names.push(t.name().to_owned());
    }
    assert_eq!(end, file_len, "the data file ends with the last tensor");
    names
}

/// The initializers of the (resolved) model at `path`, by name.
fn weights(path: &Path) -> BTreeMap<String, Vec<u8>> {
    initializers(&load(path))
        .iter()
        .filter_map(|t| Some((t.name().to_owned(), t.raw_data.as_ref()?.to_vec())))
        .collect()
}

#[test]
fn the_fixture_loads_zero_copy_from_one_mapping() {
    let f = fixture(EXTDATA);
    assert!(f.external_data);
    let (model, sources) = load_with_sources(&f.model_path()).expect("load");
    let data = f.dir().join("model.onnx.data").canonicalize().unwrap();
    assert_eq!(sources.files, std::slice::from_ref(&data));
    let raw = raw_model(&f.model_path());
    let external: Vec<&TensorProto> = initializers(&raw)
        .iter()
        .filter(|t| t.data_location() == DataLocation::External)
        .collect();
    assert_eq!(sources.tensors, external.len());
    assert!(sources.tensors > 5, "every initializer is external");
    let file = std::fs::read(&data).unwrap();
    let loaded: BTreeMap<&str, &TensorProto> =
        initializers(&model).iter().map(|t| (t.name(), t)).collect();
    let mut base = None;
    for t in external {
        let e = entries(t);
        let offset: usize = e["offset"].parse().unwrap();
        let length: usize = e["length"].parse().unwrap();
        let l = loaded[t.name()];
        assert_eq!(l.data_location(), DataLocation::Default);
        assert!(l.external_data.is_empty());
        let bytes = l.raw_data.as_ref().expect("raw_data");
        assert_eq!(&bytes[..], &file[offset..offset + length], "{}", t.name());
        // Zero-copy: every tensor is a slice of one mapping of the file.
        let start = bytes.as_ptr() as usize - offset;
        assert_eq!(*base.get_or_insert(start), start, "{}", t.name());
    }

    let (_, none) = load_with_sources(&fixture(EMBEDDED).model_path()).expect("load");
    assert!(none.is_empty() && none.files.is_empty());
}

#[test]
fn extdata_converts_to_external_data_and_runs_like_pytorch() {
    let f = fixture(EXTDATA);
    let before = snapshot(&f.dir());
    let dir = tempdir();
    let out = dir.path().join("small.onnx");
    let o = convert_to(&f.model_path(), &out, &[]);
    assert_exit(&o, 0);
    // The input's data file name, in the output's directory.
    assert!(stdout(&o).contains("/model.onnx.data"), "{}", stdout(&o));
    assert_eq!(snapshot(&f.dir()), before, "the input files are unchanged");

    // Each tensor stays where it was (issue #15): those the conversion kept
    // are external in a data file of the same relative location, at their
    // offsets (the dropped ones leave gaps), and the new ones are embedded.
    let converted = raw_model(&out);
    let input_raw = raw_model(&f.model_path());
    let source: BTreeMap<&str, BTreeMap<String, String>> = initializers(&input_raw)
        .iter()
        .filter(|t| t.data_location() == DataLocation::External)
        .map(|t| (t.name(), entries(t)))
        .collect();
    let input = weights(&f.model_path());
    let output = weights(&out);
    let data = std::fs::read(dir.path().join("model.onnx.data")).expect("data file");
    let mut names = vec![];
    for t in initializers(&converted) {
        let kept = input.get(t.name()) == output.get(t.name()) && source.contains_key(t.name());
        if !kept {
            assert_eq!(
                t.data_location(),
                DataLocation::Default,
                "{} is new",
                t.name()
            );
            continue;
        }
        assert_eq!(t.data_location(), DataLocation::External, "{}", t.name());
        let e = entries(t);
        assert_eq!(e["location"], "model.onnx.data", "{}", t.name());
        assert_eq!(e["offset"], source[t.name()]["offset"], "{}", t.name());
        let offset: usize = e["offset"].parse().unwrap();
        let length: usize = e["length"].parse().unwrap();
        assert_eq!(&data[offset..offset + length], &input[t.name()][..]);
        names.push(t.name().to_owned());
    }
    assert!(names.len() > 3, "{names:?}");

    // Same model as an embedded conversion.
    let embedded = dir.path().join("embedded.onnx");
    let o = convert_to(&f.model_path(), &embedded, &["--no-external-data"]);
    assert_exit(&o, 0);
    assert!(!dir.path().join("embedded.onnx.data").exists());
    assert!(
        initializers(&raw_model(&embedded))
            .iter()
            .all(|t| t.data_location() == DataLocation::Default && t.external_data.is_empty())
    );
    assert_eq!(weights(&embedded), output);

    assert_matches_pytorch(&out, EXTDATA);
    assert_matches_pytorch(&embedded, EXTDATA);

    // Converting the output again beside it keeps its form and weights; the
    // data file would replace the input's, so it is named after the output.
    let again = dir.path().join("again.onnx");
    let o = convert_to(&out, &again, &[]);
    assert_exit(&o, 0);
    let again_raw = raw_model(&again);
    let moved: Vec<String> = initializers(&again_raw)
        .iter()
        .filter(|t| t.data_location() == DataLocation::External)
        .map(|t| {
            assert_eq!(entries(t)["location"], "again.onnx.data");
            t.name().to_owned()
        })
        .collect();
    assert_eq!(moved, names);
    assert_eq!(weights(&again), output);

    // --size-threshold alone asks for the threshold's layout instead.
    let by_threshold = dir.path().join("threshold.onnx");
    let o = convert_to(
        &f.model_path(),
        &by_threshold,
        &["--size-threshold", "1024"],
    );
    assert_exit(&o, 0);
    let names = check_layout(&raw_model(&by_threshold), dir.path(), "threshold.onnx.data");
    let expected: Vec<String> = initializers(&load(&by_threshold))
        .iter()
        .filter(|t| t.raw_data.as_ref().is_some_and(|r| r.len() >= 1024))
        .map(|t| t.name().to_owned())
        .collect();
    assert_eq!(names, expected);
}

#[test]
fn external_data_flag_and_size_threshold() {
    let f = fixture(EMBEDDED);
    let input = f.model_path();
    let dir = tempdir();
    let path = |name: &str| dir.path().join(name);

    // Embedded input, no flag: embedded output.
    let plain = path("plain.onnx");
    assert_exit(&convert_to(&input, &plain, &[]), 0);
    assert!(!path("plain.onnx.data").exists());
    let all = weights(&plain);

    // `--external-data` alone: `<OUTPUT file name>.data`, 1024-byte threshold.
    let dflt = path("dflt.onnx");
    let o = convert_to(&input, &dflt, &["--external-data"]);
    assert_exit(&o, 0);
    let names = check_layout(&raw_model(&dflt), dir.path(), "dflt.onnx.data");
    let at_least = |n: usize| -> Vec<String> {
        initializers(&load(&plain))
            .iter()
            .filter(|t| {
                t.raw_data
                    .as_ref()
                    .is_some_and(|r| !r.is_empty() && r.len() >= n)
            })
            .map(|t| t.name().to_owned())
            .collect()
    };
    assert_eq!(names, at_least(1024));
    assert_eq!(weights(&dflt), all);

    // A named file and a lower threshold: more tensors go external.
    let named = path("named.onnx");
    let o = convert_to(
        &input,
        &named,
        &["--external-data=weights.bin", "--size-threshold", "100"],
    );
    assert_exit(&o, 0);
    let names = check_layout(&raw_model(&named), dir.path(), "weights.bin");
    assert_eq!(names, at_least(100));
    assert!(names.len() > at_least(1024).len());
    assert_eq!(weights(&named), all);
    assert_matches_pytorch(&named, EMBEDDED);

    // A threshold nothing reaches: embedded, no data file, a warning.
    let none = path("none.onnx");
    let o = convert_to(
        &input,
        &none,
        &["--external-data=none.bin", "--size-threshold", "100000000"],
    );
    assert_exit(&o, 0);
    assert!(
        stderr(&o).contains("no external data file"),
        "{}",
        stderr(&o)
    );
    assert!(!path("none.bin").exists());
    assert_eq!(weights(&none), all);

    // A data file outside OUTPUT's directory is refused before writing.
    for bad in ["../escape.bin", "/tmp/escape.bin", ""] {
        let out = path("bad.onnx");
        let arg = format!("--external-data={bad}");
        let o = convert_to(&input, &out, &[&arg]);
        if bad.is_empty() {
            // `--external-data=` is the default name.
            assert_exit(&o, 0);
            assert!(path("bad.onnx.data").exists());
            std::fs::remove_file(&out).unwrap();
            std::fs::remove_file(path("bad.onnx.data")).unwrap();
            continue;
        }
        assert_exit(&o, 2);
        assert!(stderr(&o).contains(bad), "{}", stderr(&o));
        assert!(!out.exists());
    }
    assert!(!dir.path().parent().unwrap().join("escape.bin").exists());

    // The data file may not replace the model or an existing file.
    let o = convert_to(&input, &path("x.onnx"), &["--external-data=x.onnx"]);
    assert_exit(&o, 2);
    assert!(!path("x.onnx").exists());
    let o = convert_to(&input, &path("y.onnx"), &["--external-data=weights.bin"]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("exists"), "{}", stderr(&o));
    assert!(!path("y.onnx").exists());
}

/// The 2 GiB switch, forced with a limit between the converted model's
/// embedded size and its size with external data.
#[test]
fn a_model_past_the_protobuf_limit_goes_external_automatically() {
    let input = fixture(EMBEDDED).model_path();
    let dir = tempdir();
    let path = |name: &str| dir.path().join(name);
    let plain = path("plain.onnx");
    assert_exit(&convert_to(&input, &plain, &[]), 0);
    let embedded_len = std::fs::metadata(&plain).unwrap().len();
    let limit = (embedded_len - 1).to_string();

    let auto = path("auto.onnx");
    let o = convert_to(&input, &auto, &["--max-proto-size", &limit]);
    assert_exit(&o, 0);
    assert!(stdout(&o).contains("size limit"), "{}", stdout(&o));
    let model_len = std::fs::metadata(&auto).unwrap().len();
    assert!(model_len < embedded_len - 1);
    let names = check_layout(&raw_model(&auto), dir.path(), "auto.onnx.data");
    assert!(!names.is_empty());
    assert_eq!(weights(&auto), weights(&plain));
    assert_matches_pytorch(&auto, EMBEDDED);

    // At exactly the embedded size, it stays embedded.
    let fits = path("fits.onnx");
    let o = convert_to(
        &input,
        &fits,
        &["--max-proto-size", &embedded_len.to_string()],
    );
    assert_exit(&o, 0);
    assert!(!path("fits.onnx.data").exists());

    // Refused when embedding is required, or when even external data does
    // not fit: no model, no data file, no temporary file.
    let before = snapshot(dir.path());
    for (extra, message) in [
        (Some("--no-external-data"), "past protobuf's limit"),
        (None, "even with initializers"),
    ] {
        let out = path("refused.onnx");
        let tiny = if extra.is_some() {
            limit.clone()
        } else {
            "100".into()
        };
        let mut flags = vec!["--max-proto-size", tiny.as_str()];
        flags.extend(extra);
        let o = convert_to(&input, &out, &flags);
        assert_exit(&o, 2);
        assert!(stderr(&o).contains(message), "{}", stderr(&o));
        assert_eq!(snapshot(dir.path()), before);
    }
}

/// A failed model write takes the data file with it.
#[test]
fn a_failed_save_leaves_no_data_file() {
    let model = load(&fixture(EMBEDDED).model_path());
    let dir = tempdir();
    // The model's destination is a non-empty directory: the data file is
    // written and renamed, then the model's rename fails.
    let out = dir.path().join("out.onnx");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep"), b"x").unwrap();
    let before = snapshot(dir.path());
    let options = SaveOptions {
        overwrite: true,
        external: ExternalData::File(None),
        ..SaveOptions::default()
    };
    let err = save_with_report(&model, &out, &options).unwrap_err();
    assert!(format!("{err:#}").contains("out.onnx"), "{err:#}");
    assert_eq!(snapshot(dir.path()), before);
}

/// The output's data file may not replace the input's.
#[test]
fn the_output_never_replaces_the_input_data() {
    let f = fixture(EXTDATA);
    let dir = tempdir();
    let model = dir.path().join("model.onnx");
    std::fs::copy(f.model_path(), &model).unwrap();
    std::fs::copy(
        f.dir().join("model.onnx.data"),
        dir.path().join("model.onnx.data"),
    )
    .unwrap();
    let before = snapshot(dir.path());
    for (out, flags) in [
        (
            "out.onnx",
            &["--external-data=model.onnx.data", "--force"][..],
        ),
        ("model.onnx.data", &["--no-external-data", "--force"][..]),
        ("model.onnx", &["--force"][..]),
    ] {
        let out = dir.path().join(out);
        let o = convert_to(&model, &out, flags);
        assert_exit(&o, 2);
        assert!(
            stderr(&o).contains("would replace the input"),
            "{}",
            stderr(&o)
        );
        assert_eq!(snapshot(dir.path()), before, "{flags:?}");
    }
}

// ---- hostile external data ----------------------------------------------------

/// One hostile variant of the fixture: what to do to the first external
/// tensor's entries and to the directory, and the words the refusal uses.
struct Case {
    name: &'static str,
    /// Edits the entries; gets the case directory.
    edit: fn(&mut Vec<StringStringEntryProto>, &Path),
    /// Prepares the case directory (the model and `model.onnx.data` are
    /// already there).
    setup: fn(&Path),
    /// In the message besides the tensor name.
    expect: &'static [&'static str],
}

fn set(entries: &mut Vec<StringStringEntryProto>, key: &str, value: &str) {
    entries.retain(|e| e.key() != key);
    entries.push(entry(key, value));
}

fn get(entries: &[StringStringEntryProto], key: &str) -> u64 {
    entries
        .iter()
        .find(|e| e.key() == key)
        .map(|e| e.value().parse().unwrap())
        .unwrap_or(0)
}

fn nothing(_: &Path) {}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "absolute",
            edit: |e, dir| {
                let abs = dir.join("model.onnx.data");
                set(e, "location", abs.to_str().unwrap());
            },
            setup: nothing,
            expect: &["absolute"],
        },
        Case {
            name: "dotdot",
            edit: |e, _| set(e, "location", "../model.onnx.data"),
            setup: |dir| {
                std::fs::copy(dir.join("model.onnx.data"), dir.join("../model.onnx.data")).unwrap();
            },
            expect: &["../model.onnx.data", "leaves the model's directory"],
        },
        Case {
            name: "dotdot-inside",
            edit: |e, _| set(e, "location", "sub/../../model.onnx.data"),
            setup: |dir| std::fs::create_dir(dir.join("sub")).unwrap(),
            expect: &["sub/../../model.onnx.data", "leaves the model's directory"],
        },
        Case {
            name: "symlinked-file",
            edit: |e, _| set(e, "location", "link.data"),
            setup: |dir| {
                std::os::unix::fs::symlink("model.onnx.data", dir.join("link.data")).unwrap()
            },
            expect: &["link.data", "symbolic link"],
        },
        Case {
            name: "symlinked-parent",
            edit: |e, _| set(e, "location", "weights/model.onnx.data"),
            setup: |dir| {
                std::fs::create_dir(dir.join("real")).unwrap();
                std::fs::copy(
                    dir.join("model.onnx.data"),
                    dir.join("real/model.onnx.data"),
                )
                .unwrap();
                std::os::unix::fs::symlink("real", dir.join("weights")).unwrap();
            },
            expect: &["weights/model.onnx.data", "symbolic link"],
        },
        Case {
            name: "hard-link",
            edit: |_, _| {},
            setup: |dir| {
                std::fs::hard_link(dir.join("model.onnx.data"), dir.join("other.data")).unwrap()
            },
            expect: &["model.onnx.data", "2 hard links"],
        },
        Case {
            name: "missing",
            edit: |e, _| set(e, "location", "missing.data"),
            setup: nothing,
            expect: &["missing.data", "does not exist"],
        },
        Case {
            name: "offset-past-end",
            edit: |e, dir| {
                let size = std::fs::metadata(dir.join("model.onnx.data"))
                    .unwrap()
                    .len();
                set(e, "offset", &(size + 1).to_string());
            },
            setup: nothing,
            expect: &["model.onnx.data", "past the end"],
        },
        Case {
            name: "length-past-end",
            edit: |e, dir| {
                let size = std::fs::metadata(dir.join("model.onnx.data"))
                    .unwrap()
                    .len();
                let offset = get(e, "offset");
                set(e, "length", &(size - offset + 1).to_string());
            },
            setup: nothing,
            expect: &["model.onnx.data", "past the end"],
        },
        Case {
            name: "wrong-length",
            edit: |e, _| {
                let length = get(e, "length");
                set(e, "length", &(length - 4).to_string());
            },
            setup: nothing,
            expect: &["model.onnx.data", "expected"],
        },
        Case {
            name: "negative-offset",
            edit: |e, _| set(e, "offset", "-8"),
            setup: nothing,
            expect: &["model.onnx.data", "non-negative integer"],
        },
        Case {
            name: "unknown-key",
            edit: |e, _| e.push(entry("basedir", "/etc")),
            setup: nothing,
            expect: &["model.onnx.data", "unknown key `basedir`"],
        },
        Case {
            name: "no-location",
            edit: |e, _| e.retain(|e| e.key() != "location"),
            setup: nothing,
            expect: &["no `location`"],
        },
        Case {
            name: "empty-location",
            edit: |e, _| set(e, "location", ""),
            setup: nothing,
            expect: &["has an empty location"],
        },
        Case {
            name: "model-itself",
            edit: |e, _| set(e, "location", "model.onnx"),
            setup: nothing,
            expect: &["model.onnx", "the model file itself"],
        },
        Case {
            name: "directory",
            edit: |e, _| set(e, "location", "subdir"),
            setup: |dir| std::fs::create_dir(dir.join("subdir")).unwrap(),
            expect: &["subdir", "a directory, not a regular file"],
        },
    ]
}

#[test]
fn hostile_external_data_is_refused_cleanly() {
    let f = fixture(EXTDATA);
    let original = raw_model(&f.model_path());
    for case in cases() {
        // root/case/ holds the model; root/ is where `..` leads.
        let root = tempdir();
        let dir = root.path().join("case");
        std::fs::create_dir(&dir).unwrap();
        std::fs::copy(f.dir().join("model.onnx.data"), dir.join("model.onnx.data")).unwrap();
        let mut model = original.clone();
        let t = &mut model.graph.as_mut().unwrap().initializer[0];
        assert_eq!(t.data_location(), DataLocation::External);
        let tensor = t.name().to_owned();
        (case.edit)(&mut t.external_data, &dir);
        let location = t
            .external_data
            .iter()
            .find(|e| e.key() == "location")
            .map(|e| e.value().to_owned())
            .unwrap_or_default();
        let model_path = dir.join("model.onnx");
        write_model(&model_path, &model);
        (case.setup)(&dir);
        let before = snapshot(root.path());

        // The binary: exit 2, the tensor and path named, nothing written.
        let out = dir.join("out.onnx");
        let o = convert_to(&model_path, &out, &[]);
        assert_exit(&o, 2);
        let err = stderr(&o);
        let named = if location.is_empty() {
            format!("tensor `{tensor}`: external data ")
        } else {
            format!("tensor `{tensor}`: external data `{location}`")
        };
        assert!(err.contains(&named), "{}: {err}", case.name);
        for word in case.expect {
            assert!(err.contains(word), "{}: `{word}` not in {err}", case.name);
        }
        assert_eq!(snapshot(root.path()), before, "{}", case.name);

        // `inspect` loads the same way.
        let o = acon(&["inspect", model_path.to_str().unwrap()]);
        assert_exit(&o, 2);
        assert!(stderr(&o).contains(&named), "{}: {}", case.name, stderr(&o));

        // The library: a load error naming the model, tensor and path.
        let err = format!("{:#}", acon_onnx::load(&model_path).unwrap_err());
        assert!(err.contains("model.onnx"), "{}: {err}", case.name);
        assert!(err.contains(&named), "{}: {err}", case.name);
        assert_eq!(snapshot(root.path()), before, "{}", case.name);
    }
}

/// Issue #15, on a default dynamo export (`torch.onnx.export(model, (x,),
/// "model.onnx")`: its small tensors, 640 and 864 bytes among them, are in
/// `model.onnx.data`, unaligned). A model without ACON ops comes out byte for
/// byte identical, model and data file, when written to another directory;
/// beside the input only the data file's name changes (it would replace the
/// input's), and its bytes are the input's.
#[test]
fn a_dynamo_export_without_acon_ops_comes_out_byte_for_byte() {
    // The export's ACON modules are standard ops, which `recognise-acon`
    // would rewrite: skipped, nothing in the model changes, and the tensors
    // must come out where they were.
    let keep = ["--skip-pass", "recognise-acon"];
    let source = common::repo().join("fixtures/plain/small_cnn_official_dynamo_op20_userdefault");
    let input = source.join("model.onnx");
    let raw = raw_model(&input);
    let small_external = initializers(&raw)
        .iter()
        .filter(|t| t.data_location() == DataLocation::External)
        .filter(|t| entries(t)["length"].parse::<u64>().unwrap() < 1024)
        .count();
    assert!(small_external > 0, "the export has small external tensors");

    let dir = tempdir();
    let out = dir.path().join("model.onnx");
    assert_exit(&convert_to(&input, &out, &keep), 0);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&input).unwrap());
    assert_eq!(
        std::fs::read(dir.path().join("model.onnx.data")).unwrap(),
        std::fs::read(source.join("model.onnx.data")).unwrap()
    );

    let beside = tempdir();
    for f in ["model.onnx", "model.onnx.data"] {
        std::fs::copy(source.join(f), beside.path().join(f)).unwrap();
    }
    let out = beside.path().join("out.onnx");
    assert_exit(
        &convert_to(&beside.path().join("model.onnx"), &out, &keep),
        0,
    );
    assert_eq!(
        std::fs::read(beside.path().join("out.onnx.data")).unwrap(),
        std::fs::read(source.join("model.onnx.data")).unwrap()
    );
    let mut renamed = raw_model(&out);
    for t in &mut renamed.graph.as_mut().unwrap().initializer {
        for e in &mut t.external_data {
            if e.key() == "location" {
                assert_eq!(e.value(), "out.onnx.data");
                e.value = Some("model.onnx.data".into());
            }
        }
    }
    assert_eq!(renamed, raw);
}
