//! `thetabox compare`: three learners on identical frame streams, a table, JSON and a plot.

use std::path::Path;
use std::process::Command;

fn thetabox() -> Command {
    Command::new(env!("CARGO_BIN_EXE_thetabox"))
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn compare_runs_three_learners_on_the_same_stream() {
    let out = tempfile::tempdir().unwrap();
    let o = thetabox()
        .args(["compare", "tests/scenarios/tiny.ron", "--seeds", "0..2"])
        .args(["--cycles", "40", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let table = String::from_utf8_lossy(&o.stdout);
    for l in ["cortex", "backprop", "copy"] {
        assert!(table.contains(l), "{table}");
    }
    let r = json(&out.path().join("compare.json"));
    assert_eq!(r["scenario"], "tiny");
    let rows = r["rows"].as_array().unwrap();
    let names: Vec<&str> = rows
        .iter()
        .map(|x| x["learner"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cortex", "backprop", "copy"]);
    for row in rows {
        for k in [
            "skill_mean",
            "skill_sd",
            "pred_error_mean",
            "correlation_mean",
            "theta_per_second",
        ] {
            assert!(row[k].as_f64().unwrap().is_finite(), "{k} in {row}");
        }
    }
    assert_eq!(
        rows[2]["skill_mean"].as_f64().unwrap(),
        0.0,
        "copy has skill 0"
    );
    // Same seed, same frames: the copy learner's error is what the others call the baseline,
    // and every agent lived the same life (action and pose columns).
    for seed in 0..2 {
        let run = |l: &str| out.path().join(l).join(format!("seed-{seed}"));
        let copy = json(&run("copy").join("summary.json"));
        let life = |l: &str| {
            std::fs::read_to_string(run(l).join("metrics.csv"))
                .unwrap()
                .lines()
                .map(|x| x.split(',').skip(5).collect::<Vec<_>>().join(","))
                .collect::<Vec<_>>()
        };
        for l in ["cortex", "backprop"] {
            let s = json(&run(l).join("summary.json"));
            assert_eq!(
                s["agents"][0]["baseline_error"], copy["agents"][0]["pred_error"],
                "{l}, seed {seed}"
            );
            assert_eq!(life(l), life("copy"), "{l}, seed {seed}");
        }
    }
    let png = image::open(out.path().join("compare.png")).unwrap();
    assert_eq!((png.width(), png.height()), (1000, 600));
}

#[test]
fn compare_rejects_bad_input() {
    let out = tempfile::tempdir().unwrap();
    for args in [
        vec!["compare", "tests/scenarios/no_such.ron"],
        vec!["compare", "tests/scenarios/tiny.ron", "--seeds", "3..1"],
        vec!["compare", "tests/scenarios/tiny.ron", "--cycles", "0"],
    ] {
        let o = thetabox()
            .args(&args)
            .arg("--out")
            .arg(out.path())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {o:?}");
        assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));
    }
}
