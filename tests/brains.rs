//! Brains trained headless (`run --save-brain`) load into the viewer's simulation (`SimHost`,
//! the code behind `view --brains DIR`) and go on predicting with the skill they had.

use std::process::Command;

use thetabox::scenario;
use thetabox::sim::host::{CurvePoint, SimHost};

fn thetabox() -> Command {
    Command::new(env!("CARGO_BIN_EXE_thetabox"))
}

fn skill(points: &[CurvePoint]) -> f64 {
    let p: f64 = points.iter().map(|c| c.pred_error).sum();
    let b: f64 = points.iter().map(|c| c.baseline_error).sum();
    1.0 - p / b
}

const TURNING: &str = "tests/scenarios/turning.ron";

/// Skill over the first `cycles` cycles of a viewer simulation of `turning` with `seed`.
fn viewer_skill(brains: Option<&std::path::Path>, seed: u64, cycles: u64) -> f64 {
    let sc = scenario::load(std::path::Path::new(TURNING)).unwrap();
    let mut h = SimHost::new(sc, seed, brains).unwrap();
    if brains.is_some() {
        assert_eq!(h.loaded, ["looker"]);
    }
    while h.cycle() < cycles {
        h.step_cycle();
        assert!(h.fault.is_none(), "{:?}", h.fault);
    }
    skill(&h.agents[0].curve)
}

#[test]
fn trained_brains_load_and_keep_their_skill() {
    let dir = tempfile::tempdir().unwrap();
    let out = thetabox()
        .args(["run", TURNING, "--quiet", "--cycles", "600"])
        .arg("--out")
        .arg(dir.path())
        .arg("--save-brain")
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c <= 1), "{out:?}");
    assert!(dir.path().join("brain-looker.thetanet").exists());
    assert!(dir.path().join("brain-looker.decoder.json").exists());
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    let trained = summary["agents"][0]["skill"].as_f64().unwrap();

    // Other seeds: other walks through the room, the same brain; skill over 100 cycles each.
    let seeds = [5u64, 6, 7];
    let mean = |brains: Option<&std::path::Path>| {
        seeds
            .iter()
            .map(|&s| viewer_skill(brains, s, 100))
            .sum::<f64>()
            / seeds.len() as f64
    };
    let (loaded, fresh) = (mean(Some(dir.path())), mean(None));
    eprintln!("skill: trained {trained:.3} (final window), loaded {loaded:.3}, fresh {fresh:.3}");
    assert!(
        loaded > fresh + 0.15,
        "a loaded brain predicts from the first cycle; a fresh one cannot (loaded {loaded:.3}, fresh {fresh:.3})"
    );
    assert!(
        loaded > trained - 0.1,
        "loaded skill {loaded:.3} fell below the trained {trained:.3}"
    );
}

#[test]
fn a_brain_that_does_not_fit_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = thetabox()
        .args([
            "run",
            "tests/scenarios/tiny.ron",
            "--quiet",
            "--cycles",
            "3",
        ])
        .arg("--out")
        .arg(dir.path())
        .arg("--save-brain")
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c <= 1), "{out:?}");
    let mut sc = scenario::load(std::path::Path::new("tests/scenarios/tiny.ron")).unwrap();
    sc.agents[0].sensors.retina.width = 16;
    sc.agents[0].sensors.retina.height = 16;
    let err = SimHost::new(sc, 5, Some(dir.path()))
        .err()
        .expect("a 16×16 agent cannot take an 8×8 brain")
        .to_string();
    assert!(err.contains("brain-a.thetanet"), "{err}");
    assert!(err.contains("does not fit agent `a`"), "{err}");
}

/// A backprop brain saved by `run --save-brain` loads into the viewer's simulation and keeps
/// what it learned; a saved cortex does not load into a backprop agent.
#[test]
fn a_saved_backprop_brain_loads_and_a_cortex_does_not_fit_it() {
    use thetabox::scenario::{Action, BackpropSpec, BrainSpec, Policy};
    use thetabox::sim::runner::{RunOptions, run};
    let mut sc = scenario::load(std::path::Path::new("tests/scenarios/tiny.ron")).unwrap();
    sc.agents[0].policy = Policy::Scripted(vec![Action::TurnLeft]);
    sc.agents[0].brain = BrainSpec::Backprop(BackpropSpec {
        hidden: 32,
        // Faster than the default: 300 cycles of one steady turn.
        lrate: 0.002,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        cycles: Some(300),
        out: Some(dir.path().to_path_buf()),
        save_brain: true,
        ..Default::default()
    };
    run(&sc, &opts).unwrap();
    assert!(dir.path().join("brain-a.thetasrn").exists());
    let first = |brains: Option<&std::path::Path>| {
        let mut h = SimHost::new(sc.clone(), 9, brains).unwrap();
        while h.cycle() < 30 {
            h.step_cycle();
            assert!(h.fault.is_none(), "{:?}", h.fault);
        }
        (h.loaded.clone(), skill(&h.agents[0].curve))
    };
    let (loaded, trained) = first(Some(dir.path()));
    let (_, fresh) = first(None);
    assert_eq!(loaded, ["a"]);
    assert!(
        trained > fresh + 0.3,
        "loaded {trained:.3}, fresh {fresh:.3}"
    );

    // The cortex of another run in the same folder: the agent is a backprop one.
    let mut cortex = sc.clone();
    cortex.agents[0].brain = BrainSpec::default();
    let cdir = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        cycles: Some(5),
        out: Some(cdir.path().to_path_buf()),
        save_brain: true,
        ..Default::default()
    };
    run(&cortex, &opts).unwrap();
    let err = SimHost::new(sc, 9, Some(cdir.path()))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("brain-a.thetanet") && err.contains("backprop"),
        "{err}"
    );
}
