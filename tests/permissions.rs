//! Every file the tool writes gets the permissions the umask allows, as any
//! file the user writes: the temporary file it is renamed from is private,
//! and a CI artifact uploader running as another user must still read the
//! JUnit file (issue 11).
#![cfg(unix)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use common::*;

/// The real binary under `umask`, set by a shell that then becomes it.
fn acon_under_umask(umask: u32, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask:03o} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_acon-onnx"))
        .args(args)
        .output()
        .expect("run acon-onnx through sh")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn check_files_under(umask: u32, expected: u32) {
    let dir = tempdir();
    let model = fixtures().join("acon_c_op17/model.onnx");
    let model = model.to_str().unwrap();
    let junit = dir.path().join("verify.xml");
    let report = dir.path().join("verify.json");
    let o = acon_under_umask(
        umask,
        &[
            "verify",
            model,
            "--junit",
            junit.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert_exit(&o, 0);

    let outputs = dir.path().join("outputs");
    let o = acon_under_umask(umask, &["run", model, "-o", outputs.to_str().unwrap()]);
    assert_exit(&o, 0);
    let npz = dir.path().join("outputs.npz");
    let o = acon_under_umask(umask, &["run", model, "-o", npz.to_str().unwrap()]);
    assert_exit(&o, 0);

    let converted = dir.path().join("model.std.onnx");
    let o = acon_under_umask(
        umask,
        &[
            "convert",
            model,
            "-o",
            converted.to_str().unwrap(),
            "--external-data",
            "--size-threshold",
            "0",
        ],
    );
    assert_exit(&o, 0);

    let mut written = vec![junit, report, npz, converted.clone()];
    written.extend(
        std::fs::read_dir(&outputs)
            .unwrap()
            .map(|e| e.unwrap().path()),
    );
    written.push(dir.path().join("model.std.onnx.data"));
    assert!(
        written
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "npy")),
        "run -o DIR wrote no .npy: {written:?}"
    );
    for path in &written {
        assert_eq!(
            mode(path),
            expected,
            "{} under umask {umask:03o}",
            path.display()
        );
    }
}

#[test]
fn issue_11_written_files_get_0644_under_umask_022() {
    check_files_under(0o022, 0o644);
}

#[test]
fn issue_11_written_files_get_0640_under_umask_027() {
    check_files_under(0o027, 0o640);
}
