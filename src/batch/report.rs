//! A batch's results: one row per run, written as `batch.csv`, `batch.json`, JUnit XML and a
//! table of mean ± sd per scenario; shard outputs merged back into one.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::BatchError;
use crate::sim::runner::{Summary, write_atomic};

/// One run of a batch: the columns of `batch.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Every expectation held (false when the run failed).
    pub passed: bool,
    /// `1 − Σ pred_error / Σ baseline_error` over the agents' final windows.
    pub skill: Option<f64>,
    /// Mean over agents of the final-window prediction error.
    pub pred_error: Option<f64>,
    /// Mean over agents of the final-window copy-last-frame error.
    pub baseline_error: Option<f64>,
    /// Mean over agents of the final-window correlation.
    pub correlation: Option<f64>,
    /// Throughput of the run.
    pub theta_cycles_per_second: Option<f64>,
    /// Wall-clock duration of the run.
    pub wall_seconds: Option<f64>,
    /// Why the run failed to finish (empty when it finished).
    pub error: String,
}

impl Row {
    /// The row of a finished run.
    pub fn of(s: &Summary) -> Self {
        let n = s.agents.len().max(1) as f64;
        let pred: f64 = s.agents.iter().map(|a| a.pred_error).sum();
        let base: f64 = s.agents.iter().map(|a| a.baseline_error).sum();
        Self {
            scenario: s.scenario.clone(),
            seed: s.seed,
            passed: s.passed(),
            skill: Some(if base > 0.0 { 1.0 - pred / base } else { 0.0 }),
            pred_error: Some(pred / n),
            baseline_error: Some(base / n),
            correlation: Some(s.agents.iter().map(|a| a.correlation).sum::<f64>() / n),
            theta_cycles_per_second: Some(s.theta_cycles_per_second),
            wall_seconds: Some(s.wall_seconds),
            error: String::new(),
        }
    }

    /// The row of a run that did not finish.
    pub fn failed(scenario: &str, seed: u64, error: String) -> Self {
        Self {
            scenario: scenario.to_string(),
            seed,
            passed: false,
            skill: None,
            pred_error: None,
            baseline_error: None,
            correlation: None,
            theta_cycles_per_second: None,
            wall_seconds: None,
            error,
        }
    }
}

/// The contents of `batch.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchFile {
    /// `K/N` when this is one shard's part of a batch.
    pub shard: Option<String>,
    /// One row per run, sorted by scenario and seed.
    pub runs: Vec<Row>,
}

/// File names of a batch's outputs: `batch.{json,csv}`, or `batch-shard-K-of-N.*` for a shard.
pub fn names(shard: Option<(usize, usize)>) -> (String, String) {
    match shard {
        Some((k, n)) => (
            format!("batch-shard-{k}-of-{n}.json"),
            format!("batch-shard-{k}-of-{n}.csv"),
        ),
        None => ("batch.json".into(), "batch.csv".into()),
    }
}

fn csv_text(rows: &[Row]) -> Result<Vec<u8>, BatchError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)
            .map_err(|e| BatchError::Input(format!("batch.csv: {e}")))?;
    }
    if rows.is_empty() {
        w.write_record([
            "scenario",
            "seed",
            "passed",
            "skill",
            "pred_error",
            "baseline_error",
            "correlation",
            "theta_cycles_per_second",
            "wall_seconds",
            "error",
        ])
        .map_err(|e| BatchError::Input(format!("batch.csv: {e}")))?;
    }
    w.into_inner()
        .map_err(|e| BatchError::Input(format!("batch.csv: {e}")))
}

/// Writes `batch.json` and `batch.csv` (or a shard's) into `dir`, atomically.
pub fn write(dir: &Path, shard: Option<(usize, usize)>, rows: &[Row]) -> Result<(), BatchError> {
    let (json, csv) = names(shard);
    let file = BatchFile {
        shard: shard.map(|(k, n)| format!("{k}/{n}")),
        runs: rows.to_vec(),
    };
    let text = serde_json::to_string_pretty(&file).expect("rows serialise") + "\n";
    write_atomic(&dir.join(json), text.as_bytes())?;
    write_atomic(&dir.join(csv), &csv_text(rows)?)?;
    Ok(())
}

fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => o.push(c),
        }
    }
    o
}

/// JUnit XML: one test suite per scenario, one test case per run. A run whose expectations
/// failed is a `<failure>`, one that did not finish an `<error>`.
pub fn junit(rows: &[Row]) -> String {
    let mut by: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        by.entry(&r.scenario).or_default().push(r);
    }
    let time = |r: &Row| r.wall_seconds.unwrap_or(0.0);
    let fails = |rs: &[&Row]| {
        rs.iter()
            .filter(|r| !r.passed && r.error.is_empty())
            .count()
    };
    let errs = |rs: &[&Row]| rs.iter().filter(|r| !r.error.is_empty()).count();
    let all: Vec<&Row> = rows.iter().collect();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"thetabox batch\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3}\">",
        rows.len(),
        fails(&all),
        errs(&all),
        rows.iter().map(time).sum::<f64>()
    );
    for (sc, rs) in &by {
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3}\">",
            xml_escape(sc),
            rs.len(),
            fails(rs),
            errs(rs),
            rs.iter().map(|r| time(r)).sum::<f64>()
        );
        for r in rs {
            let _ = write!(
                x,
                "    <testcase classname=\"thetabox.{}\" name=\"seed-{}\" time=\"{:.3}\"",
                xml_escape(sc),
                r.seed,
                time(r)
            );
            if !r.error.is_empty() {
                let _ = writeln!(
                    x,
                    ">\n      <error message=\"{}\"/>\n    </testcase>",
                    xml_escape(&r.error)
                );
            } else if !r.passed {
                let _ = writeln!(
                    x,
                    ">\n      <failure message=\"expectations not met (skill {:.4})\"/>\n    </testcase>",
                    r.skill.unwrap_or(f64::NAN)
                );
            } else {
                x.push_str("/>\n");
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

/// Mean and sample standard deviation.
fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, var.sqrt())
}

/// The stdout table: per scenario, runs passed and skill mean ± sd over seeds.
pub fn table(rows: &[Row]) -> String {
    let mut by: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        by.entry(&r.scenario).or_default().push(r);
    }
    let mut t = format!(
        "{:<20} {:>6} {:>7} {:>18} {:>9}\n",
        "scenario", "runs", "passed", "skill mean ± sd", "θ/s"
    );
    for (sc, rs) in by {
        let skills: Vec<f64> = rs.iter().filter_map(|r| r.skill).collect();
        let speed: Vec<f64> = rs
            .iter()
            .filter_map(|r| r.theta_cycles_per_second)
            .collect();
        let (m, sd) = mean_sd(&skills);
        let _ = writeln!(
            t,
            "{:<20} {:>6} {:>7} {:>18} {:>9.1}",
            sc,
            rs.len(),
            rs.iter().filter(|r| r.passed).count(),
            format!("{m:.3} ± {sd:.3}"),
            mean_sd(&speed).0
        );
    }
    t
}

/// Every batch file (`batch.json`, `batch-shard-*.json`) in `dir`, sorted by name.
fn batch_files(dir: &Path) -> Result<Vec<PathBuf>, BatchError> {
    let mut v = super::files_in(dir, |n| {
        n == "batch.json" || (n.starts_with("batch-shard-") && n.ends_with(".json"))
    })?;
    v.sort();
    Ok(v)
}

/// Merges the shard outputs found in `dirs` into `out/batch.{json,csv}`; returns the rows.
/// A run reported by two files must agree (timing aside), or the merge is refused.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<Vec<Row>, BatchError> {
    let mut rows: BTreeMap<(String, u64), Row> = BTreeMap::new();
    let mut files = 0;
    for d in dirs {
        for f in batch_files(d)? {
            let text = std::fs::read_to_string(&f).map_err(|source| BatchError::Io {
                path: f.display().to_string(),
                source,
            })?;
            let bf: BatchFile = serde_json::from_str(&text)
                .map_err(|e| BatchError::Input(format!("{}: {e}", f.display())))?;
            files += 1;
            for r in bf.runs {
                let key = (r.scenario.clone(), r.seed);
                if let Some(old) = rows.get(&key) {
                    let strip = |r: &Row| Row {
                        wall_seconds: None,
                        theta_cycles_per_second: None,
                        ..r.clone()
                    };
                    if strip(old) != strip(&r) {
                        return Err(BatchError::Input(format!(
                            "{}: {} seed {} disagrees with another file",
                            f.display(),
                            r.scenario,
                            r.seed
                        )));
                    }
                }
                rows.insert(key, r);
            }
        }
    }
    if files == 0 {
        return Err(BatchError::Input(format!(
            "no batch.json or batch-shard-*.json in {}",
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let rows: Vec<Row> = rows.into_values().collect();
    std::fs::create_dir_all(out).map_err(|source| BatchError::Io {
        path: out.display().to_string(),
        source,
    })?;
    write(out, None, &rows)?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(sc: &str, seed: u64, passed: bool, skill: f64) -> Row {
        Row {
            skill: Some(skill),
            passed,
            wall_seconds: Some(1.5),
            ..Row::failed(sc, seed, String::new())
        }
    }

    #[test]
    fn junit_counts_failures_and_errors_and_escapes() {
        let rows = [
            row("a", 0, true, 0.5),
            row("a", 1, false, 0.1),
            Row::failed("b<&>", 0, "brain \"x\" failed".into()),
        ];
        let x = junit(&rows);
        assert!(x.contains("tests=\"3\" failures=\"1\" errors=\"1\""), "{x}");
        assert!(x.contains("name=\"b&lt;&amp;&gt;\""), "{x}");
        assert!(
            x.contains("<error message=\"brain &quot;x&quot; failed\"/>"),
            "{x}"
        );
        assert!(x.contains("<testcase classname=\"thetabox.a\" name=\"seed-0\" time=\"1.500\"/>"));
    }

    #[test]
    fn table_gives_mean_and_sd_per_scenario() {
        let rows = [row("a", 0, true, 0.2), row("a", 1, true, 0.4)];
        let t = table(&rows);
        assert!(t.contains("0.300 ± 0.141"), "{t}");
        assert!(t.lines().nth(1).unwrap().starts_with("a "));
    }

    #[test]
    fn merge_unites_shards_and_refuses_disagreement() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), Some((0, 2)), &[row("a", 0, true, 0.2)]).unwrap();
        write(d.path(), Some((1, 2)), &[row("a", 1, true, 0.4)]).unwrap();
        let got = merge(&[d.path().to_path_buf()], d.path()).unwrap();
        assert_eq!(got.len(), 2);
        let csv = std::fs::read_to_string(d.path().join("batch.csv")).unwrap();
        assert!(csv.starts_with("scenario,seed,passed,skill,pred_error,baseline_error,"));
        assert_eq!(csv.lines().count(), 3);
        write(d.path(), Some((1, 2)), &[row("a", 0, true, 0.9)]).unwrap();
        let e = merge(&[d.path().to_path_buf()], d.path()).unwrap_err();
        assert!(e.to_string().contains("disagrees"), "{e}");
    }
}
