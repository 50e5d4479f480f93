//! `thetabox batch` and `thetabox merge`, end to end through the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SCENARIOS: [&str; 2] = ["tests/scenarios/tiny.ron", "tests/scenarios/turning.ron"];

fn thetabox() -> Command {
    Command::new(env!("CARGO_BIN_EXE_thetabox"))
}

fn batch(out: &Path, extra: &[&str]) -> Output {
    thetabox()
        .arg("batch")
        .args(SCENARIOS)
        .args(["--seeds", "0..3", "--cycles", "8", "--quiet", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

/// batch.csv without the timing columns (theta_cycles_per_second, wall_seconds).
fn results(csv: &Path) -> String {
    let text = std::fs::read_to_string(csv).unwrap();
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            [&f[..7], &f[9..]].concat().join(",")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        // A folder a running batch is still creating may not be readable yet.
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Waits until a batch writing to `out` has finished its first run. Tests interrupt a batch
/// at this point rather than after a fixed sleep: a sleep that suits today's speed lets a
/// faster build finish the whole batch before the signal.
fn first_run_finished(out: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !files(out).iter().any(|p| p.ends_with("summary.json")) {
        assert!(std::time::Instant::now() < deadline, "no run finished");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn parallel_batch_equals_sequential() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let pa = batch(a.path(), &["--jobs", "2"]);
    let pb = batch(b.path(), &["--jobs", "1"]);
    // Both scenarios have an expectation some runs miss at 8 cycles: exit 1, not 2.
    assert!(matches!(pa.status.code(), Some(0 | 1)), "{pa:?}");
    assert_eq!(pa.status.code(), pb.status.code());
    let ra = results(&a.path().join("batch.csv"));
    assert_eq!(ra, results(&b.path().join("batch.csv")));
    assert_eq!(
        ra.lines().count(),
        7,
        "header + 2 scenarios × 3 seeds:\n{ra}"
    );
    assert!(ra.lines().nth(1).unwrap().starts_with("tiny,0,"), "{ra}");
    for s in ["tiny", "turning"] {
        for seed in 0..3 {
            let m = |d: &Path| {
                std::fs::read(d.join(s).join(format!("seed-{seed}")).join("metrics.csv")).unwrap()
            };
            assert_eq!(m(a.path()), m(b.path()), "{s} seed {seed}");
        }
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.path().join("batch.json")).unwrap()).unwrap();
    assert_eq!(json["runs"].as_array().unwrap().len(), 6);
}

#[test]
fn three_shards_merged_equal_one_batch() {
    let (whole, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    batch(whole.path(), &["--jobs", "2"]);
    for k in 0..3 {
        let o = batch(parts.path(), &["--jobs", "1", "--shard", &format!("{k}/3")]);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{o:?}");
        assert!(
            parts
                .path()
                .join(format!("batch-shard-{k}-of-3.csv"))
                .exists()
        );
    }
    let m = thetabox().arg("merge").arg(parts.path()).output().unwrap();
    assert!(matches!(m.status.code(), Some(0 | 1)), "{m:?}");
    assert_eq!(
        results(&parts.path().join("batch.csv")),
        results(&whole.path().join("batch.csv"))
    );
    // The environment of a SLURM array task picks the same shard as --shard.
    let slurm = tempfile::tempdir().unwrap();
    let o = thetabox()
        .arg("batch")
        .args(SCENARIOS)
        .args(["--seeds", "0..3", "--cycles", "8", "--quiet", "--out"])
        .arg(slurm.path())
        .env("SLURM_ARRAY_TASK_ID", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .output()
        .unwrap();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{o:?}");
    assert_eq!(
        results(&slurm.path().join("batch-shard-1-of-3.csv")),
        results(&parts.path().join("batch-shard-1-of-3.csv"))
    );
}

#[test]
fn resume_after_a_lost_run_gives_the_same_batch() {
    let (whole, cut) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    batch(whole.path(), &["--jobs", "2"]);
    batch(cut.path(), &["--jobs", "2"]);
    // As a kill mid-run leaves it: no summary, a half-written temporary file.
    let run = cut.path().join("turning").join("seed-1");
    std::fs::remove_file(run.join("summary.json")).unwrap();
    std::fs::rename(run.join("metrics.csv"), run.join("metrics.csv.tmp")).unwrap();
    std::fs::remove_file(cut.path().join("batch.csv")).unwrap();
    let o = thetabox()
        .arg("batch")
        .args(SCENARIOS)
        .args(["--seeds", "0..3", "--cycles", "8", "--resume", "--out"])
        .arg(cut.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("resuming: 5 run(s) already finished"), "{err}");
    assert_eq!(
        results(&cut.path().join("batch.csv")),
        results(&whole.path().join("batch.csv"))
    );
    assert!(run.join("summary.json").exists() && !run.join("metrics.csv.tmp").exists());
}

#[test]
fn kill_9_then_resume_equals_an_uninterrupted_batch() {
    let (whole, killed) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let args = |out: &Path| {
        let mut c = thetabox();
        c.arg("batch")
            .args(SCENARIOS)
            .args([
                "--seeds", "0..3", "--cycles", "60", "--jobs", "1", "--quiet", "--out",
            ])
            .arg(out);
        c
    };
    args(whole.path()).output().unwrap();
    let mut child = args(killed.path()).spawn().unwrap();
    first_run_finished(killed.path());
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let o = args(killed.path()).arg("--resume").output().unwrap();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{o:?}");
    assert_eq!(
        results(&killed.path().join("batch.csv")),
        results(&whole.path().join("batch.csv"))
    );
    let leftovers: Vec<_> = files(killed.path())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_finishes_runs_in_flight_and_leaves_no_partial_file() {
    let out = tempfile::tempdir().unwrap();
    let mut child = thetabox()
        .arg("batch")
        .args(SCENARIOS)
        .args([
            "--seeds", "0..3", "--cycles", "300", "--jobs", "2", "--quiet", "--out",
        ])
        .arg(out.path())
        .spawn()
        .unwrap();
    first_run_finished(out.path());
    let k = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(k.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let all = files(out.path());
    assert!(
        all.iter().all(|p| p.extension().is_none_or(|x| x != "tmp")),
        "{all:?}"
    );
    // Every run folder holds a finished run, and batch.csv lists exactly those.
    let summaries = all.iter().filter(|p| p.ends_with("summary.json")).count();
    let metrics = all.iter().filter(|p| p.ends_with("metrics.csv")).count();
    assert_eq!(summaries, metrics);
    let rows = std::fs::read_to_string(out.path().join("batch.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(rows, summaries);
    assert!(rows < 6, "stopped before the end");
}

#[test]
fn a_run_that_errors_does_not_stop_the_batch() {
    let out = tempfile::tempdir().unwrap();
    // A file where the tiny runs' folder should be: those runs cannot write.
    std::fs::write(out.path().join("tiny"), "in the way").unwrap();
    let o = batch(out.path(), &["--jobs", "2"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let csv = std::fs::read_to_string(out.path().join("batch.csv")).unwrap();
    let errored = csv.lines().filter(|l| l.starts_with("tiny,")).count();
    let ran = csv.lines().filter(|l| l.starts_with("turning,")).count();
    assert_eq!((errored, ran), (3, 3), "{csv}");
    assert!(
        csv.lines()
            .filter(|l| l.starts_with("tiny,"))
            .all(|l| l.contains(",false,"))
    );
}

#[test]
fn junit_lists_every_run() {
    let out = tempfile::tempdir().unwrap();
    let junit = out.path().join("junit.xml");
    let o = batch(
        out.path(),
        &["--jobs", "2", "--junit", junit.to_str().unwrap()],
    );
    assert!(matches!(o.status.code(), Some(0 | 1)), "{o:?}");
    let x = std::fs::read_to_string(junit).unwrap();
    assert!(x.starts_with("<?xml"));
    assert_eq!(x.matches("<testcase ").count(), 6, "{x}");
    assert!(x.contains("name=\"seed-2\""));
}

#[test]
fn bad_input_exits_2() {
    let out = tempfile::tempdir().unwrap();
    for args in [
        vec!["tests/scenarios/nope.ron"],
        vec!["tests/scenarios/tiny.ron", "--seeds", "3..1"],
        vec!["tests/scenarios/tiny.ron", "--shard", "3/3"],
        vec!["tests/scenarios/tiny.ron", "tests/scenarios/tiny.ron"],
    ] {
        let o = thetabox()
            .arg("batch")
            .args(&args)
            .arg("--out")
            .arg(out.path())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {o:?}");
        assert!(!o.stderr.is_empty());
    }
}
