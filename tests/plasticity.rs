//! The Jang et al. (2026) sign pattern through the network's kinase code, for both phase splits.

use std::process::Command;

use thetabox::brain::plasticity::{Protocol, ProtocolResult, STANDARD_PAIRS, run_pairs};

fn find(rows: &[ProtocolResult], m: f32, p: f32) -> f64 {
    rows.iter()
        .find(|r| r.minus_hz == m && r.plus_hz == p)
        .map(|r| r.dw)
        .expect("pair present")
}

fn check_split(minus: usize, plus: usize) {
    let base = Protocol {
        minus_cycles: minus,
        plus_cycles: plus,
        trials: 20_000,
        seed: 7,
        ..Default::default()
    };
    let rows = run_pairs(&base, &STANDARD_PAIRS).unwrap();
    let up = find(&rows, 25.0, 50.0);
    let down = find(&rows, 50.0, 25.0);
    let flat25 = find(&rows, 25.0, 25.0);
    let flat50 = find(&rows, 50.0, 50.0);
    let up4 = find(&rows, 25.0, 100.0);
    let down4 = find(&rows, 100.0, 25.0);
    let ctx = format!("{minus}/{plus}: {rows:#?}");
    assert!(up > 0.0, "25→50 must give LTP; {ctx}");
    assert!(down < 0.0, "50→25 must give LTD; {ctx}");
    assert!(flat25.abs() < 0.15 * up, "25→25 must be ~0; {ctx}");
    assert!(flat50.abs() < 0.15 * up, "50→50 must be ~0; {ctx}");
    assert!(up4 > up, "a larger step up gives more LTP; {ctx}");
    assert!(down4 < down, "a larger step down gives more LTD; {ctx}");
}

#[test]
fn sign_pattern_100_100() {
    check_split(100, 100);
}

#[test]
fn sign_pattern_150_50() {
    check_split(150, 50);
}

#[test]
fn cli_json_contract() {
    let out = Command::new(env!("CARGO_BIN_EXE_thetabox"))
        .args([
            "plasticity",
            "--minus-hz",
            "25",
            "--plus-hz",
            "50",
            "--trials",
            "300",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    for key in ["minus_hz", "plus_hz", "dw", "sem"] {
        assert!(rows[0][key].is_number(), "missing {key}: {v}");
    }
    assert_eq!(rows[0]["minus_hz"], 25.0);

    let bad = Command::new(env!("CARGO_BIN_EXE_thetabox"))
        .args(["plasticity", "--split", "150-50"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("MINUS/PLUS"));
}
