//! The file-system trouble a `convert` can meet: missing or odd output
//! paths, the input itself, a full disk, devices and fifos.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use crate::corpus::*;
use crate::verbs::*;

/// Runs `convert IN -o OUT extra…` expecting a clean refusal: exit 2, the
/// fragments named, `watch` (directories) unchanged, the input unchanged.
pub fn convert_refused(what: &str, input: &Path, out: &Path, extra: &[&str], expect: &[&str]) {
    let watch: Vec<PathBuf> = [input.parent(), out.parent()]
        .into_iter()
        .flatten()
        .filter(|d| d.is_dir() && !d.starts_with("/proc") && !d.starts_with("/dev"))
        .map(Path::to_owned)
        .collect();
    let before: Vec<_> = watch.iter().map(|d| snapshot(d)).collect();
    let mut args: Vec<OsString> = vec!["convert".into(), input.into(), "-o".into(), out.into()];
    args.extend(extra.iter().map(OsString::from));
    let o = run_binary(&args);
    let names: Vec<String> = expect.iter().map(|s| s.to_string()).collect();
    assert_refused(what, &o, &names);
    let after: Vec<_> = watch.iter().map(|d| snapshot(d)).collect();
    assert_eq!(before, after, "{what}: files changed or were left behind");
}

/// A valid model to convert, copied into `dir/in/model.onnx`.
pub fn input_in(dir: &Path) -> PathBuf {
    let in_dir = dir.join("in");
    std::fs::create_dir_all(&in_dir).unwrap();
    let input = in_dir.join("model.onnx");
    std::fs::copy(fixture("small_cnn_op17").model_path(), &input).unwrap();
    input
}

#[test]
fn output_directory_missing_or_not_a_directory() {
    let dir = tempdir();
    let input = input_in(dir.path());
    convert_refused(
        "missing directory",
        &input,
        &dir.path().join("nowhere/out.onnx"),
        &[],
        &["model.onnx", "nowhere"],
    );
    // Running as root, permissions stop nothing; a regular file where the
    // directory should be, and /proc, are directories nobody can write to.
    let file = dir.path().join("file.txt");
    std::fs::write(&file, b"a file, not a directory").unwrap();
    convert_refused(
        "a file as the directory",
        &input,
        &file.join("out.onnx"),
        &[],
        &["model.onnx", "file.txt"],
    );
    let proc_out = Path::new("/proc/self/acon-onnx-hostile.onnx");
    convert_refused(
        "an unwritable directory (/proc)",
        &input,
        proc_out,
        &["--force"],
        &["model.onnx", "/proc/self"],
    );
    assert!(!proc_out.exists());
}

#[test]
fn output_is_never_the_input_however_it_is_spelled() {
    let dir = tempdir();
    let input = input_in(dir.path());
    convert_refused(
        "OUT == IN",
        &input,
        &input,
        &["--force"],
        &["model.onnx", "would replace the input"],
    );
    let spelled = dir.path().join("in/../in/./model.onnx");
    convert_refused(
        "OUT == IN through ..",
        &input,
        &spelled,
        &["--force"],
        &["would replace the input"],
    );
    let link = dir.path().join("link.onnx");
    std::os::unix::fs::symlink(&input, &link).unwrap();
    convert_refused(
        "OUT a symlink to IN",
        &input,
        &link,
        &["--force"],
        &["would replace the input"],
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn an_existing_output_is_kept_without_force() {
    let dir = tempdir();
    let input = input_in(dir.path());
    let out = dir.path().join("out.onnx");
    std::fs::write(&out, b"keep me").unwrap();
    convert_refused(
        "OUT exists",
        &input,
        &out,
        &[],
        &["model.onnx", "out.onnx", "exists"],
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    // A device exists too: /dev/full is refused before anything is written.
    convert_refused(
        "OUT is /dev/full",
        &input,
        Path::new("/dev/full"),
        &[],
        &["exists"],
    );
}

#[test]
fn an_output_that_is_a_directory_is_not_replaced_even_with_force() {
    let dir = tempdir();
    let input = input_in(dir.path());
    let out = dir.path().join("out.onnx");
    std::fs::create_dir(&out).unwrap();
    convert_refused(
        "OUT is a directory",
        &input,
        &out,
        &["--force"],
        &["model.onnx", "out.onnx"],
    );
    assert!(out.is_dir());
}

/// A tmpfs of 16 KiB mounted on a fresh directory, unmounted on drop.
pub struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> Result<SmallDisk, String> {
        let dir = tempdir();
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16k", "acon-onnx-full"])
            .arg(dir.path())
            .output()
            .map_err(|e| e.to_string())?;
        if o.status.success() {
            Ok(SmallDisk { dir })
        } else {
            Err(stderr(&o))
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_disk_leaves_nothing_behind() {
    let disk = match SmallDisk::mount() {
        Ok(d) => d,
        Err(why) => {
            eprintln!(
                "skipped: cannot mount a small tmpfs to fill ({})",
                why.trim()
            );
            return;
        }
    };
    let dir = tempdir();
    let input = input_in(dir.path());
    // The converted small CNN takes about 27 KB: it cannot fit in 16 KiB.
    convert_refused(
        "disk full",
        &input,
        &disk.dir.path().join("out.onnx"),
        &[],
        &["model.onnx", "out.onnx"],
    );
    assert!(snapshot(disk.dir.path()).is_empty());
}

#[test]
fn a_device_or_fifo_output_is_not_replaced_even_with_force() {
    // `convert -o /dev/null --force` run as root must not rename a file over
    // the device. Tried on nodes made in a temp dir, never on /dev itself.
    let dir = tempdir();
    let input = input_in(dir.path());
    let fifo = dir.path().join("fifo.onnx");
    let null = dir.path().join("null.onnx");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let have_device = Command::new("mknod")
        .arg(&null)
        .args(["c", "1", "3"])
        .status()
        .is_ok_and(|s| s.success());
    let mut targets = vec![fifo];
    if have_device {
        targets.push(null);
    } else {
        eprintln!("note: mknod failed; only the FIFO is tried");
    }
    for out in targets {
        convert_refused(
            "OUT is not a regular file",
            &input,
            &out,
            &["--force"],
            &["model.onnx", out.file_name().unwrap().to_str().unwrap()],
        );
        assert!(
            !std::fs::symlink_metadata(&out).unwrap().is_file(),
            "{} was replaced",
            out.display()
        );
    }
}

#[test]
fn an_endless_device_as_input_is_refused_without_reading_it_whole() {
    // /dev/zero never ends: reading it to the end would take all memory.
    assert_all_refused(&[entry(
        "dev_zero",
        Input::Path("/dev/zero".into()),
        &["not a regular file"],
    )]);
}
