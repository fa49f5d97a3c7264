//! Running every corpus entry through every verb of the binary that takes a
//! model, and the promises each refusal must keep.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bytes::Bytes;

use crate::common::*;
use crate::corpus::*;

/// The subcommands the binary has now, from `--help`.
pub fn verbs() -> Vec<String> {
    let help = stdout(&acon(&["--help"]));
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|v| *v != "help")
        .map(str::to_owned)
        .collect()
}

/// The arguments that make `verb` read `input` (and write into `out_dir`);
/// `None` for a verb that takes no model.
pub fn verb_args(verb: &str, input: &Path, out_dir: &Path) -> Option<Vec<OsString>> {
    let mut args: Vec<OsString> = vec![verb.into(), input.into()];
    match verb {
        "convert" => args.extend(["-o".into(), out_dir.join("out.onnx").into()]),
        "inspect" => {}
        // Every file a verb can write goes to `out_dir`, which must stay empty.
        "verify" => args.extend(
            [
                "--report".into(),
                out_dir.join("report.json").into(),
                "--junit".into(),
                out_dir.join("junit.xml").into(),
            ]
            .into_iter()
            .collect::<Vec<OsString>>(),
        ),
        "run" => args.extend(["-o".into(), out_dir.join("outputs.npz").into()]),
        "bench" => args.extend(["--runs", "1", "--warmup", "0"].map(OsString::from)),
        // `zoo` writes a model of its own; it reads none.
        _ => return None,
    }
    Some(args)
}

/// Runs the binary with its address space capped at 4 GiB, so an
/// allocation sized by a hostile declaration fails fast instead of taking
/// the machine's memory.
pub fn run_binary(args: &[OsString]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 4194304 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_acon-onnx"))
        .args(args)
        .output()
        .expect("run acon-onnx")
}

/// FNV-1a, enough to tell whether a file changed.
pub fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Every file under `dir` (recursively) with the hash of its bytes.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, u64> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            let ft = std::fs::symlink_metadata(&p).expect("metadata").file_type();
            if ft.is_dir() {
                out.insert(p.clone(), 0);
                stack.push(p);
            } else if ft.is_file() {
                out.insert(p.clone(), hash(&std::fs::read(&p).expect("read")));
            } else {
                out.insert(p, 1);
            }
        }
    }
    out
}

/// The promises one run of the binary that must fail broke, if any.
pub fn refusal_problems(what: &str, o: &Output, names: &[String]) -> Option<String> {
    let err = stderr(o);
    let mut broken = vec![];
    if o.status.code() != Some(2) {
        broken.push(format!("exit status {:?}, expected 2", o.status));
    }
    if err.contains("panicked") || err.contains("internal failure") {
        broken.push("a panic".to_owned());
    }
    // clap exits 2 too: make sure the refusal is ours, not a usage error.
    if !err.contains("error: ") || err.contains("Usage:") {
        broken.push("no error line of ours".to_owned());
    }
    for fragment in names {
        if !err.contains(fragment.as_str()) {
            broken.push(format!("`{fragment}` not named"));
        }
    }
    (!broken.is_empty()).then(|| {
        format!(
            "{what}: {}\n--- stdout\n{}--- stderr\n{err}",
            broken.join("; "),
            stdout(o)
        )
    })
}

pub fn assert_refused(what: &str, o: &Output, names: &[String]) {
    if let Some(problems) = refusal_problems(what, o, names) {
        panic!("{problems}");
    }
}

/// `verify` writes its JSON and JUnit reports even when it fails (CI reads
/// them): they must be complete and record the error. Removes them.
pub fn complete_verify_reports(out_dir: &Path) -> Result<(), String> {
    let (json, junit) = (out_dir.join("report.json"), out_dir.join("junit.xml"));
    if json.exists() {
        let text = std::fs::read_to_string(&json).map_err(|e| e.to_string())?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("report.json: {e}"))?;
        if v["error"].as_str().is_none_or(str::is_empty) || v["equivalent"] != false {
            return Err(format!("report.json records no error: {text}"));
        }
        std::fs::remove_file(&json).unwrap();
    }
    if junit.exists() {
        let text = std::fs::read_to_string(&junit).map_err(|e| e.to_string())?;
        if !text.trim_end().ends_with("</testsuites>") || !text.contains("<error") {
            return Err(format!(
                "junit.xml is incomplete or records no error: {text}"
            ));
        }
        std::fs::remove_file(&junit).unwrap();
    }
    Ok(())
}

/// Runs `entry` through every verb; returns one line per failed promise.
pub fn check_entry(entry: &Entry, verbs: &[String]) -> Vec<String> {
    let mut failures = vec![];
    for verb in verbs {
        let dir = tempdir();
        let in_dir = dir.path().join("in");
        let out_dir = dir.path().join("out");
        std::fs::create_dir_all(&in_dir).unwrap();
        std::fs::create_dir_all(&out_dir).unwrap();
        let file_name = format!("{}.onnx", entry.name);
        let input = match &entry.input {
            Input::Bytes(b) => {
                let p = in_dir.join(&file_name);
                std::fs::write(&p, b).unwrap();
                p
            }
            Input::Directory => {
                let p = in_dir.join(&file_name);
                std::fs::create_dir(&p).unwrap();
                p
            }
            Input::Missing => in_dir.join(&file_name),
            Input::SymlinkLoop => {
                let p = in_dir.join(&file_name);
                std::os::unix::fs::symlink(&p, &p).unwrap();
                p
            }
            Input::Path(p) => p.clone(),
        };
        let Some(args) = verb_args(verb, &input, &out_dir) else {
            continue;
        };
        let before = snapshot(&in_dir);
        let o = run_binary(&args);
        let mut names = vec![input.file_name().unwrap().to_string_lossy().into_owned()];
        names.extend(entry.expect.iter().cloned());
        let what = format!("{} through `{verb}`", entry.name);
        if std::env::var_os("HOSTILE_SHOW").is_some() {
            // `HOSTILE_SHOW=1 cargo test --release --test hostile -- --nocapture`
            // prints every message, to review their wording.
            eprintln!("{what}: {}", stderr(&o).trim());
        }
        if let Some(problems) = refusal_problems(&what, &o, &names) {
            failures.push(problems);
            continue;
        }
        if verb == "verify"
            && let Err(why) = complete_verify_reports(&out_dir)
        {
            failures.push(format!("{what}: {why}"));
        }
        let written = snapshot(&out_dir);
        if !written.is_empty() {
            failures.push(format!("{what}: files written: {:?}", written.keys()));
        }
        let after = snapshot(&in_dir);
        if after != before {
            failures.push(format!(
                "{what}: the input's directory changed: {before:?} -> {after:?}"
            ));
        }
    }
    failures
}

pub fn assert_all_refused(entries: &[Entry]) {
    let verbs = verbs();
    assert!(verbs.iter().any(|v| v == "convert"), "verbs: {verbs:?}");
    let failures: Vec<String> = entries
        .iter()
        .flat_map(|e| check_entry(e, &verbs))
        .collect();
    assert!(
        failures.is_empty(),
        "{} broken promises:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn the_generated_corpus_is_refused_cleanly_by_every_verb() {
    assert_all_refused(&corpus());
}

#[test]
fn corpus_entries_are_not_accidentally_valid() {
    // The library agrees with the binary: nothing here loads and converts.
    for e in corpus() {
        let Input::Bytes(bytes) = &e.input else {
            continue;
        };
        let path = Path::new("corpus.onnx");
        let outcome = acon_onnx::model::load_bytes(path, Bytes::from(bytes.clone()))
            .and_then(|mut m| acon_onnx::convert(&mut m, &Default::default()));
        assert!(outcome.is_err(), "{} converts", e.name);
    }
}
