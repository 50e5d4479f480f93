//! `thetabox check`: every malformed scenario under `tests/bad_scenarios/` is rejected with exit
//! status 2 and a message that locates the problem (file:line:col or the field path), never a
//! panic; every shipped scenario passes.

use std::path::{Path, PathBuf};
use std::process::Command;

fn thetabox() -> Command {
    Command::new(env!("CARGO_BIN_EXE_thetabox"))
}

fn files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .collect();
    v.sort();
    v
}

#[test]
fn malformed_scenarios_are_rejected_with_a_location() {
    let bad = files("tests/bad_scenarios");
    assert!(bad.len() >= 20, "only {} malformed files", bad.len());
    for f in &bad {
        let text = std::fs::read_to_string(f).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("// expect: "))
            .unwrap_or_else(|| panic!("{}: first line must be `// expect: ...`", f.display()));
        let out = thetabox().arg("check").arg(f).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", f.display());
        assert!(!stderr.contains("panicked"), "{}: {stderr}", f.display());
        assert!(
            stderr.contains(expect),
            "{}: expected `{expect}` in:\n{stderr}",
            f.display()
        );
        // Located: either FILE:LINE:COL or FILE: field.path.
        let name = f.file_name().unwrap().to_string_lossy();
        let line = stderr.lines().next().unwrap_or("");
        let after = line.split_once(&*name).map(|x| x.1).unwrap_or("");
        let located = after.starts_with(':')
            && after[1..].starts_with(|c: char| c.is_ascii_digit())
            || after.starts_with(": ") && after[2..].contains(": ");
        assert!(located, "{}: not located: {line}", f.display());
    }
}

#[test]
fn missing_file_is_an_error_not_a_panic() {
    let out = thetabox()
        .args(["check", "no/such/scenario.ron"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("no/such/scenario.ron: cannot read"),
        "{stderr}"
    );
}

#[test]
fn shipped_scenarios_are_valid() {
    let good = files("scenarios");
    assert!(!good.is_empty());
    let out = thetabox().arg("check").args(&good).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
