//! End-to-end checks of the embodied loop: determinism, the minus phase's blindness to the
//! outcome, and the `thetabox run` contract (files, exit codes).

use std::path::Path;
use std::process::Command;

use bevy::prelude::*;
use thetabox::scenario;
use thetabox::sim::brain::Brain;
use thetabox::sim::retina::Eye;
use thetabox::sim::runner::{headless_app, run_cycles};
use thetabox::sim::{ThetaClock, ThetaSystems};

fn tiny() -> scenario::Scenario {
    scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/tiny.ron"))
        .expect("tiny.ron is valid")
}

fn thetabox() -> Command {
    Command::new(env!("CARGO_BIN_EXE_thetabox"))
}

#[test]
fn same_seed_gives_byte_identical_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/tiny.ron");
    let mut outs = Vec::new();
    for k in 0..2 {
        let out = dir.path().join(format!("r{k}"));
        let st = thetabox()
            .arg("run")
            .arg(&file)
            .args(["--quiet", "--cycles", "25", "--out"])
            .arg(&out)
            .status()
            .unwrap();
        assert_eq!(st.code(), Some(0));
        outs.push(std::fs::read(out.join("metrics.csv")).unwrap());
    }
    assert_eq!(outs[0], outs[1]);
    let text = String::from_utf8(outs[0].clone()).unwrap();
    assert!(
        text.starts_with("cycle,agent,pred_error,baseline_error,correlation,action,x,y,z,yaw\n")
    );
    assert_eq!(text.lines().count(), 26);
    // A different seed gives a different run.
    let other = dir.path().join("other");
    thetabox()
        .arg("run")
        .arg(&file)
        .args(["--quiet", "--cycles", "25", "--seed", "9", "--out"])
        .arg(&other)
        .status()
        .unwrap();
    assert_ne!(std::fs::read(other.join("metrics.csv")).unwrap(), outs[0]);
}

/// Replaces the outcome (frame t+1) with its mirror image at one cycle, between Observe and
/// PlusPhase.
#[derive(Resource)]
struct SwapAt(u64);

fn swap_outcome(at: Res<SwapAt>, clock: Res<ThetaClock>, mut q: Query<&mut Eye>) {
    if clock.cycle == at.0 {
        for mut eye in &mut q {
            eye.frame.reverse();
        }
    }
}

/// Minus-phase activity of the pulvinar at cycles `at` and `at + 1`.
fn predictions(swap: Option<u64>, at: u64) -> (Vec<f32>, Vec<f32>) {
    let mut app = headless_app(tiny(), 5, true);
    if let Some(k) = swap {
        app.insert_resource(SwapAt(k)).add_systems(
            FixedUpdate,
            swap_outcome
                .after(ThetaSystems::Observe)
                .before(ThetaSystems::PlusPhase)
                .run_if(thetabox::sim::cycle_end),
        );
    }
    let mut got = Vec::new();
    run_cycles(&mut app, at + 2, |app| {
        let c = app.world().resource::<ThetaClock>().cycle;
        if c == at + 1 || c == at + 2 {
            let w = app.world();
            let mut q = w.try_query::<&Brain>().unwrap();
            let b = q.single(w).unwrap();
            got.push(b.cortex().unwrap().prediction_activity().to_vec());
        }
    })
    .unwrap();
    (got[0].clone(), got[1].clone())
}

#[test]
fn swapping_the_outcome_leaves_the_minus_phase_prediction_unchanged() {
    let at = 12;
    let (plain_now, plain_next) = predictions(None, at);
    let (swapped_now, swapped_next) = predictions(Some(at), at);
    assert!(
        plain_now.iter().any(|v| *v > 0.0),
        "the pulvinar predicts something"
    );
    assert_eq!(
        plain_now, swapped_now,
        "the prediction of cycle {at} saw its outcome"
    );
    // The swap did reach the brain (plus phase, learning), so later predictions differ.
    assert_ne!(plain_next, swapped_next);
}

/// Every pathway weight of the cortex after each of the first `cycles` theta cycles, in a
/// version of `tiny` whose spawner lifts two balls to new spots every third cycle.
fn weights_with_respawns(learn_respawns: bool, cycles: u64) -> Vec<Vec<f32>> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/tiny.ron"),
    )
    .unwrap()
    .replace(
        "world: (",
        "world: (spawners: [(count: 2, shape: Sphere(radius: 0.3), \
         region: (min: (-1.0, 1.0, -2.5), max: (1.0, 2.0, -1.5)), respawn_every: Some(3))],",
    )
    .replace(
        "run: (",
        &format!("run: (learn_respawns: {learn_respawns}, "),
    );
    let sc = scenario::parse(&text, "tiny with respawns").expect("valid");
    let mut app = headless_app(sc, 1, true);
    let mut got = Vec::new();
    run_cycles(&mut app, cycles, |app| {
        let w = app.world();
        let mut q = w.try_query::<&Brain>().unwrap();
        let net = q.single(w).unwrap().cortex().unwrap().network();
        got.push(net.paths.iter().flat_map(|p| p.wt.clone()).collect());
    })
    .unwrap();
    got
}

#[test]
fn brains_do_not_learn_from_a_respawn_unless_asked() {
    // got[k] holds the weights after cycle k; objects jump in cycles 3 and 6.
    let w = weights_with_respawns(false, 8);
    for k in 1..8 {
        if k % 3 == 0 {
            assert_eq!(
                w[k],
                w[k - 1],
                "cycle {k} moved objects, yet the brain learned"
            );
        } else {
            assert_ne!(w[k], w[k - 1], "cycle {k} should have taught the brain");
        }
    }
    let w = weights_with_respawns(true, 4);
    assert_ne!(
        w[3], w[2],
        "with learn_respawns the respawn cycle teaches too"
    );
}

#[test]
fn run_writes_summary_and_reports_expectations_in_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/tiny.ron");
    let out = dir.path().join("pass");
    let o = thetabox()
        .arg("run")
        .arg(&file)
        .args(["--cycles", "10", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("PASS a: pred_error <= 1"), "{stdout}");
    // The final window (here the last of 10 cycles) split by action, from metrics.csv.
    let lines: Vec<&str> = stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| *l == "final window by action:")
        .unwrap_or_else(|| panic!("no per-action table: {stdout}"));
    let row: Vec<&str> = lines[at + 2].split_whitespace().collect();
    assert_eq!(row[0], "a", "{stdout}");
    assert!(
        ["TurnLeft", "TurnRight", "Forward", "Stay"].contains(&row[1]),
        "{stdout}"
    );
    assert_eq!(row[2], "1", "one cycle in the window: {stdout}");
    assert!(lines[at + 3].starts_with("PASS"), "one row: {stdout}");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["scenario"], "tiny");
    assert_eq!(s["seed"], 3);
    assert_eq!(s["theta_cycles"], 10);
    assert!(s["theta_cycles_per_second"].as_f64().unwrap() > 0.0);
    assert_eq!(s["agents"][0]["name"], "a");
    for k in ["pred_error", "baseline_error", "skill", "correlation"] {
        assert!(s["agents"][0][k].is_f64(), "{k}");
    }
    assert_eq!(s["expectations"][0]["passed"], true);
    assert_eq!(s["expectations"][0]["threshold"], 1.0);

    // An expectation that cannot hold: exit 1, files still written.
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("PredError(max: 1.0)", "Correlation(min: 1.0)");
    let hard = dir.path().join("hard.ron");
    std::fs::write(&hard, text).unwrap();
    let out2 = dir.path().join("fail");
    let o = thetabox()
        .arg("run")
        .arg(&hard)
        .args(["--quiet", "--cycles", "5", "--out"])
        .arg(&out2)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(out2.join("summary.json").exists() && out2.join("metrics.csv").exists());

    // Bad input: exit 2 with a located message, no panic.
    let bad =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_scenarios/retina_too_small.ron");
    let o = thetabox().arg("run").arg(&bad).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err.contains("agents[0].sensors.retina.width") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn walking_into_a_wall_is_felt_and_self_motion_is_sensed() {
    use thetabox::sim::senses::{BodySenses, VESTIB_UNITS};
    let text = r#"(name: "wall", world: (arena: (size: (4.0, 4.0))),
        agents: [(name: "a", pos: (0.0, 0.0), sensors: (retina: (width: 4, height: 4), vestibular: true, touch: true),
                  actions: [Forward], policy: Scripted([Forward]), brain: Cortex(pools: (1, 1), units: (2, 2)))],
        run: (theta_cycles: 20))"#;
    let sc = scenario::parse(text, "wall").unwrap();
    let mut app = headless_app(sc, 0, true);
    let mut seen = Vec::new();
    run_cycles(&mut app, 12, |app| {
        let w = app.world();
        let mut q = w.try_query::<&BodySenses>().unwrap();
        seen.push(q.single(w).unwrap().clone());
    })
    .unwrap();
    // Walking at 1.5 m/s: the forward-speed code peaks at its top unit early on.
    let early = &seen[1].vestibular[..VESTIB_UNITS];
    let peak = (0..VESTIB_UNITS)
        .max_by(|&a, &b| early[a].total_cmp(&early[b]))
        .unwrap();
    assert_eq!(peak, VESTIB_UNITS - 1, "{early:?}");
    assert_eq!(seen[1].touch, [0.0; 4]);
    // 2 m from the wall at 0.3 m per cycle: stopped by it within 12 cycles, touching in front.
    let last = seen.last().unwrap();
    assert_eq!(last.touch[0], 1.0, "{:?}", last.touch);
    assert_eq!(last.touch[2], 0.0);
    let stopped = &last.vestibular[..VESTIB_UNITS];
    let peak = (0..VESTIB_UNITS)
        .max_by(|&a, &b| stopped[a].total_cmp(&stopped[b]))
        .unwrap();
    assert!((3..=4).contains(&peak), "standing still: {stopped:?}");
}

#[test]
fn run_needs_no_display_and_no_gpu() {
    // Any attempt to open a window or a GPU adapter would fail in this environment.
    let dir = tempfile::tempdir().unwrap();
    let out = thetabox()
        .args([
            "run",
            "tests/scenarios/tiny.ron",
            "--quiet",
            "--cycles",
            "3",
            "--out",
        ])
        .arg(dir.path())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
        .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
        .env("WGPU_BACKEND", "gl")
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c <= 1), "{out:?}");
    assert!(dir.path().join("summary.json").exists());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("GPU") && !err.contains("panicked"), "{err}");
}

/// A backprop brain runs through the same schedule: turning steadily, it learns how the view
/// shifts and predicts far better than the same network without learning (which, untrained,
/// predicts "no change"), and (policies never look at the learner) the agent lives exactly the
/// life the cortex agent of the same seed lives.
#[test]
fn a_backprop_brain_learns_in_the_same_world() {
    use thetabox::scenario::{BackpropSpec, BrainSpec};
    use thetabox::sim::runner::{RunOptions, run};
    let dir = tempfile::tempdir().unwrap();
    let backprop = |learn| {
        BrainSpec::Backprop(BackpropSpec {
            hidden: 32,
            // Faster than the default: 300 cycles of one steady turn.
            lrate: 0.002,
            learn,
            ..Default::default()
        })
    };
    let mut lives = Vec::new();
    let mut errors = Vec::new();
    for (k, brain) in [BrainSpec::default(), backprop(true), backprop(false)]
        .into_iter()
        .enumerate()
    {
        let mut sc = tiny();
        sc.agents[0].brain = brain;
        sc.agents[0].policy =
            thetabox::scenario::Policy::Scripted(vec![thetabox::scenario::Action::TurnLeft]);
        let out = dir.path().join(format!("r{k}"));
        let opts = RunOptions {
            cycles: Some(300),
            out: Some(out.clone()),
            ..Default::default()
        };
        errors.push(run(&sc, &opts).unwrap().agents[0].pred_error);
        let text = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
        // action, x, y, z, yaw
        lives.push(
            text.lines()
                .skip(1)
                .map(|l| l.split(',').skip(5).collect::<Vec<_>>().join(","))
                .collect::<Vec<_>>(),
        );
    }
    assert!(
        errors[1] < 0.5 * errors[2],
        "backprop pred_error {} learning vs {} fixed",
        errors[1],
        errors[2]
    );
    assert_eq!(lives[0], lives[1]);
    assert_eq!(lives[0], lives[2]);
}
