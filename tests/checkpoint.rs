//! Checkpoints: a run continued from one ends exactly as a run that never stopped.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use thetabox::scenario::{self, Scenario};
use thetabox::sim::ThetaClock;
use thetabox::sim::body::Agent;
use thetabox::sim::brain::Brain;
use thetabox::sim::checkpoint::{Checkpoint, CheckpointError, FILE_NAME};
use thetabox::sim::metrics::{MetricsLog, Row};
use thetabox::sim::runner::{headless_app, run_cycles};

const PHYSICS: &str = "tests/scenarios/physics.ron";

fn physics(seed: u64) -> Scenario {
    let mut sc = scenario::load(Path::new(PHYSICS)).unwrap();
    sc.run.seed = seed;
    sc
}

/// Rows of cycles `from..` and, at the end, every body's pose and every brain's weights.
fn continue_to(app: &mut App, from: u64, to: u64) -> (Vec<Row>, Vec<[u32; 7]>, Vec<Vec<u8>>) {
    run_cycles(app, to, |_| {}).unwrap();
    let rows = app
        .world()
        .resource::<MetricsLog>()
        .recent
        .iter()
        .filter(|r| r.cycle >= from)
        .cloned()
        .collect();
    let w = app.world_mut();
    let mut q = w.query::<(Entity, &Transform)>();
    let mut poses: Vec<_> = q.iter(w).map(|(e, t)| (e, *t)).collect();
    poses.sort_by_key(|(e, _)| *e);
    let poses = poses
        .into_iter()
        .map(|(_, t)| {
            let (p, r) = (t.translation, t.rotation);
            [p.x, p.y, p.z, r.x, r.y, r.z, r.w].map(f32::to_bits)
        })
        .collect();
    let mut q = w.query::<(&Agent, &Brain)>();
    let mut brains: Vec<_> = q
        .iter(w)
        .map(|(a, b)| (a.index, b.learner.to_bytes().unwrap()))
        .collect();
    brains.sort();
    (rows, poses, brains.into_iter().map(|(_, d)| d).collect())
}

#[test]
fn a_restored_app_continues_bit_identically() {
    let dir = tempfile::tempdir().unwrap();
    let sc = physics(11);
    // 13: mid respawn period; 14: the balls are lifted on the first step after the restore.
    for at in [13, 14] {
        let mut a = headless_app(sc.clone(), 11, true);
        run_cycles(&mut a, at, |_| {}).unwrap();
        let path = dir.path().join(format!("at-{at}.thetackpt"));
        Checkpoint::capture(&mut a, &sc, 0.0, Vec::new())
            .unwrap()
            .save(&path)
            .unwrap();
        let before = continue_to(&mut a, at, at);
        let whole = continue_to(&mut a, at, 30);
        // Bodies moved and brains learned in between, so the comparison below means something.
        assert_ne!(before.1, whole.1);
        assert_ne!(before.2, whole.2);

        let mut b = headless_app(sc.clone(), 11, true);
        b.update();
        Checkpoint::load(&path)
            .unwrap()
            .restore(&mut b, &sc, &path)
            .unwrap();
        assert_eq!(b.world().resource::<ThetaClock>().cycle, at);
        let resumed = continue_to(&mut b, at, 30);
        assert_eq!(resumed.0.len(), 2 * (30 - at as usize));
        assert_eq!(resumed.0, whole.0, "metrics rows after cycle {at}");
        assert_eq!(resumed.1, whole.1, "body poses at cycle 30");
        assert_eq!(resumed.2, whole.2, "brains (whole state) at cycle 30");
    }
}

#[test]
fn a_checkpoint_of_another_run_is_refused_with_its_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let sc = physics(1);
    let mut a = headless_app(sc.clone(), 1, true);
    run_cycles(&mut a, 3, |_| {}).unwrap();
    Checkpoint::capture(&mut a, &sc, 0.0, Vec::new())
        .unwrap()
        .save(&path)
        .unwrap();
    let other = physics(2);
    let mut b = headless_app(other.clone(), 2, true);
    b.update();
    let e = Checkpoint::load(&path)
        .unwrap()
        .restore(&mut b, &other, &path)
        .unwrap_err();
    assert!(matches!(e, CheckpointError::Mismatch { .. }), "{e}");
    assert!(e.to_string().contains(FILE_NAME), "{e}");

    std::fs::write(&path, b"not a checkpoint").unwrap();
    let e = Checkpoint::load(&path).err().unwrap();
    assert!(matches!(e, CheckpointError::Format { .. }), "{e}");
}

#[test]
fn a_checkpoint_is_only_taken_between_theta_cycles() {
    let sc = physics(1);
    let mut a = headless_app(sc.clone(), 1, true);
    // Not started yet: no cycle has run, so there is no state between two cycles to take.
    let e = Checkpoint::capture(&mut a, &sc, 0.0, Vec::new())
        .err()
        .unwrap();
    assert!(matches!(e, CheckpointError::Capture(_)), "{e}");
    assert!(e.to_string().contains("between theta cycles"), "{e}");
}

fn thetabox() -> Command {
    Command::new(env!("CARGO_BIN_EXE_thetabox"))
}

/// Waits until `path` exists (or panics after a minute).
fn wait_for(path: &Path) {
    let t = Instant::now();
    while !path.exists() {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{} never came",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn kill_9_mid_run_then_resume_ends_as_an_uninterrupted_run() {
    let (whole, killed) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let run = |out: &Path, extra: &[&str]| {
        let mut c = thetabox();
        c.args(["run", PHYSICS, "--cycles", "80", "--quiet", "--out"])
            .arg(out)
            .args(extra);
        c
    };
    let o = run(whole.path(), &[]).output().unwrap();
    assert!(o.status.success(), "{o:?}");

    let ckpt = killed.path().join(FILE_NAME);
    let mut child = run(killed.path(), &["--checkpoint-every", "10"])
        .spawn()
        .unwrap();
    wait_for(&ckpt);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !killed.path().join("summary.json").exists(),
        "killed after the end: nothing was resumed"
    );
    let o = run(killed.path(), &["--checkpoint-every", "10", "--resume"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");

    let read = |d: &Path, f: &str| std::fs::read(d.join(f)).unwrap();
    let csv = read(killed.path(), "metrics.csv");
    assert_eq!(csv.iter().filter(|b| **b == b'\n').count(), 1 + 2 * 80);
    assert!(
        csv == read(whole.path(), "metrics.csv"),
        "metrics.csv differs from the uninterrupted run's"
    );
    let summary = |d: &Path| {
        let v: serde_json::Value = serde_json::from_slice(&read(d, "summary.json")).unwrap();
        (v["agents"].clone(), v["expectations"].clone())
    };
    assert_eq!(summary(killed.path()), summary(whole.path()));
    assert!(!ckpt.exists(), "a finished run removes its checkpoint");
}

#[test]
fn a_killed_batch_resumes_its_runs_from_their_checkpoints() {
    let (whole, killed) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let batch = |out: &Path, extra: &[&str]| {
        let mut c = thetabox();
        c.args([
            "batch", PHYSICS, "--seeds", "0..2", "--cycles", "50", "--jobs", "1",
        ])
        .args(["--checkpoint-every", "5", "--quiet", "--out"])
        .arg(out)
        .args(extra);
        c
    };
    let o = batch(whole.path(), &[]).output().unwrap();
    assert!(o.status.success(), "{o:?}");

    let mut child = batch(killed.path(), &[]).spawn().unwrap();
    let first = killed.path().join("physics/seed-0").join(FILE_NAME);
    wait_for(&first);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!killed.path().join("physics/seed-0/summary.json").exists());
    let o = batch(killed.path(), &["--resume"]).output().unwrap();
    assert!(o.status.success(), "{o:?}");
    for seed in 0..2 {
        let f = format!("physics/seed-{seed}/metrics.csv");
        assert!(
            std::fs::read(killed.path().join(&f)).unwrap()
                == std::fs::read(whole.path().join(&f)).unwrap(),
            "{f} differs"
        );
    }
}
