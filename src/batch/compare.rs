//! `thetabox compare`: the cortex, the backprop baseline and the copy-last predictor on
//! identical frame streams.
//!
//! Every agent of the scenario gets each learner in turn; the same seed gives the same world and
//! the same actions (policies never look at the learner), so the three see exactly the same
//! frames. Runs go to `OUT/<learner>/seed-<n>/` (the files of `thetabox run`); the table,
//! `OUT/compare.json` and the learning curves in `OUT/compare.png` summarise them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::scenario::{BackpropSpec, BrainSpec, CortexSpec, Scenario};
use crate::sim::runner::{self, RunError, RunOptions, Summary};

/// The learners compared, in report order.
pub const LEARNERS: [&str; 3] = ["cortex", "backprop", "copy"];

/// Cycles of the trailing mean the curves are smoothed with.
pub const SMOOTHING: usize = 50;

/// What can stop a comparison.
#[derive(Debug, Error)]
pub enum CompareError {
    /// A run failed.
    #[error("{learner}, seed {seed}: {source}")]
    Run {
        /// The learner.
        learner: String,
        /// The seed.
        seed: u64,
        /// Why.
        #[source]
        source: RunError,
    },
    /// An output could not be read or written.
    #[error("{path}: {why}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        why: String,
    },
}

/// Options of a comparison.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    /// Seeds, each run by every learner.
    pub seeds: Vec<u64>,
    /// Override the scenario's length.
    pub cycles: Option<u32>,
    /// Output folder.
    pub out: PathBuf,
    /// Runs at once.
    pub jobs: usize,
    /// A line on stderr per finished run.
    pub progress: bool,
}

/// One learner's figures over the seeds (final window, agents averaged within a run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareRow {
    /// `cortex`, `backprop` or `copy`.
    pub learner: String,
    /// Mean skill over seeds.
    pub skill_mean: f64,
    /// Sample standard deviation of skill over seeds (0 for one seed).
    pub skill_sd: f64,
    /// Mean prediction error over seeds.
    pub pred_error_mean: f64,
    /// Mean correlation over seeds.
    pub correlation_mean: f64,
    /// Mean theta cycles per second of a run.
    pub theta_per_second: f64,
}

/// The contents of `compare.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareReport {
    /// Scenario name.
    pub scenario: String,
    /// One row per learner, in [`LEARNERS`] order.
    pub rows: Vec<CompareRow>,
}

/// `sc` with every agent's brain of kind `learner` (an agent's own settings are kept when its
/// brain already is of that kind).
pub fn with_learner(sc: &Scenario, learner: &str) -> Scenario {
    let mut sc = sc.clone();
    for a in &mut sc.agents {
        a.brain = match (learner, &a.brain) {
            ("cortex", b @ BrainSpec::Cortex(_)) | ("backprop", b @ BrainSpec::Backprop(_)) => {
                b.clone()
            }
            ("cortex", _) => BrainSpec::Cortex(CortexSpec::default()),
            ("backprop", _) => BrainSpec::Backprop(BackpropSpec::default()),
            _ => BrainSpec::CopyLast,
        };
    }
    sc
}

fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len().max(1) as f64;
    let m = xs.iter().sum::<f64>() / n;
    let sd = if xs.len() > 1 {
        (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (m, sd)
}

/// Per-cycle prediction error of a run (mean over agents), from its `metrics.csv`.
fn curve(path: &Path) -> Result<Vec<f64>, CompareError> {
    let io = |why: String| CompareError::Io {
        path: path.display().to_string(),
        why,
    };
    let mut rd = csv::Reader::from_path(path).map_err(|e| io(e.to_string()))?;
    let mut sums: Vec<(f64, usize)> = Vec::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| io(e.to_string()))?;
        let (Some(c), Some(p)) = (rec.get(0), rec.get(2)) else {
            return Err(io("a row without cycle or pred_error".into()));
        };
        let c: usize = c.parse().map_err(|_| io(format!("cycle `{c}`")))?;
        let p: f64 = p.parse().map_err(|_| io(format!("pred_error `{p}`")))?;
        if sums.len() <= c {
            sums.resize(c + 1, (0.0, 0));
        }
        sums[c].0 += p;
        sums[c].1 += 1;
    }
    Ok(sums.into_iter().map(|(s, n)| s / n.max(1) as f64).collect())
}

/// Trailing mean over `w` values.
pub fn smooth(xs: &[f64], w: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(xs.len());
    let mut sum = 0.0;
    for (i, x) in xs.iter().enumerate() {
        sum += x;
        if i >= w {
            sum -= xs[i - w];
        }
        out.push(sum / (i + 1).min(w) as f64);
    }
    out
}

/// Runs every learner on every seed and writes the report, the curves and the plot.
pub fn compare(sc: &Scenario, opts: &CompareOptions) -> Result<CompareReport, CompareError> {
    let jobs: Vec<(usize, u64)> = (0..LEARNERS.len())
        .flat_map(|l| opts.seeds.iter().map(move |s| (l, *s)))
        .collect();
    let variants: Vec<Scenario> = LEARNERS.iter().map(|l| with_learner(sc, l)).collect();
    let dir = |l: usize, seed: u64| opts.out.join(LEARNERS[l]).join(format!("seed-{seed}"));
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<Result<Summary, CompareError>>> =
        (0..jobs.len()).map(|_| None).collect();
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.clamp(1, jobs.len().max(1)) {
            let tx = tx.clone();
            let (jobs, next, variants) = (&jobs, &next, &variants);
            scope.spawn(move || {
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&(l, seed)) = jobs.get(k) else { break };
                    let ro = RunOptions {
                        seed: Some(seed),
                        cycles: opts.cycles,
                        out: Some(dir(l, seed)),
                        ..Default::default()
                    };
                    let res = runner::run(&variants[l], &ro).map_err(|source| CompareError::Run {
                        learner: LEARNERS[l].into(),
                        seed,
                        source,
                    });
                    if tx.send((k, res)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (k, res) in rx {
            if opts.progress {
                let (l, seed) = jobs[k];
                match &res {
                    Ok(s) => eprintln!(
                        "{:<8} seed {seed}: skill {:.3}  {:.1} s",
                        LEARNERS[l],
                        s.agents.iter().map(|a| a.skill).sum::<f64>()
                            / s.agents.len().max(1) as f64,
                        s.wall_seconds
                    ),
                    Err(e) => eprintln!("{e}"),
                }
            }
            results[k] = Some(res);
        }
    });
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    for (l, name) in LEARNERS.iter().enumerate() {
        let (mut skill, mut pred, mut corr, mut speed) = (vec![], vec![], vec![], vec![]);
        let mut sum_curve: Vec<f64> = Vec::new();
        for (k, &(jl, seed)) in jobs.iter().enumerate() {
            if jl != l {
                continue;
            }
            let s = match results[k].take() {
                Some(r) => r?,
                None => unreachable!("every job reports"),
            };
            let n = s.agents.len().max(1) as f64;
            skill.push(s.agents.iter().map(|a| a.skill).sum::<f64>() / n);
            pred.push(s.agents.iter().map(|a| a.pred_error).sum::<f64>() / n);
            corr.push(s.agents.iter().map(|a| a.correlation).sum::<f64>() / n);
            speed.push(s.theta_cycles_per_second);
            let c = curve(&dir(l, seed).join("metrics.csv"))?;
            if sum_curve.len() < c.len() {
                sum_curve.resize(c.len(), 0.0);
            }
            for (a, b) in sum_curve.iter_mut().zip(&c) {
                *a += b;
            }
        }
        let n = opts.seeds.len().max(1) as f64;
        curves.push(smooth(
            &sum_curve.iter().map(|x| x / n).collect::<Vec<_>>(),
            SMOOTHING,
        ));
        let (skill_mean, skill_sd) = mean_sd(&skill);
        rows.push(CompareRow {
            learner: name.to_string(),
            skill_mean,
            skill_sd,
            pred_error_mean: mean_sd(&pred).0,
            correlation_mean: mean_sd(&corr).0,
            theta_per_second: mean_sd(&speed).0,
        });
    }
    let report = CompareReport {
        scenario: sc.name.clone(),
        rows,
    };
    let json = serde_json::to_string_pretty(&report).expect("report serialises") + "\n";
    let jpath = opts.out.join("compare.json");
    runner::write_atomic(&jpath, json.as_bytes()).map_err(|e| CompareError::Io {
        path: jpath.display().to_string(),
        why: e.to_string(),
    })?;
    let title = format!(
        "{}: prediction error, mean of {} seed(s), {SMOOTHING}-cycle trailing mean",
        sc.name,
        opts.seeds.len()
    );
    let named: Vec<(&str, &[f64])> = LEARNERS
        .iter()
        .zip(&curves)
        .map(|(n, c)| (*n, &c[..]))
        .collect();
    super::plot::curves(&opts.out.join("compare.png"), &title, &named)?;
    Ok(report)
}

/// The report as a table: mean ± sd over seeds, then the cortex's prediction error as a
/// multiple of the backprop learner's (the figure the theory's claim is judged by).
pub fn table(r: &CompareReport) -> String {
    let mut s = format!(
        "{:<9} {:>17} {:>11} {:>12} {:>9}\n",
        "learner", "skill (mean ± sd)", "pred_error", "correlation", "θ/s"
    );
    for row in &r.rows {
        s += &format!(
            "{:<9} {:>8.3} ± {:<6.3} {:>11.5} {:>12.3} {:>9.1}\n",
            row.learner,
            row.skill_mean,
            row.skill_sd,
            row.pred_error_mean,
            row.correlation_mean,
            row.theta_per_second
        );
    }
    let err = |name: &str| {
        r.rows
            .iter()
            .find(|row| row.learner == name)
            .map(|row| row.pred_error_mean)
    };
    if let (Some(c), Some(b)) = (err("cortex"), err("backprop"))
        && b > 0.0
    {
        s += &format!("pred_error cortex / backprop: {:.2}\n", c / b);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_ends_with_the_cortex_to_backprop_error_ratio() {
        let row = |learner: &str, pred_error_mean: f64| CompareRow {
            learner: learner.into(),
            skill_mean: 0.0,
            skill_sd: 0.0,
            pred_error_mean,
            correlation_mean: 0.0,
            theta_per_second: 0.0,
        };
        let mut r = CompareReport {
            scenario: "s".into(),
            rows: vec![
                row("cortex", 0.03),
                row("backprop", 0.02),
                row("copy", 0.04),
            ],
        };
        let t = table(&r);
        assert_eq!(t.lines().count(), 5, "{t}");
        assert!(t.ends_with("pred_error cortex / backprop: 1.50\n"), "{t}");
        r.rows.remove(1);
        assert!(!table(&r).contains("cortex / backprop"));
    }

    #[test]
    fn smoothing_is_a_trailing_mean() {
        let s = smooth(&[1.0, 3.0, 5.0, 7.0], 2);
        assert_eq!(s, vec![1.0, 2.0, 4.0, 6.0]);
    }

    #[test]
    fn learners_replace_every_brain_and_keep_own_settings() {
        let mut sc = crate::scenario::look_around();
        sc.agents[0].brain = BrainSpec::Backprop(BackpropSpec {
            hidden: 7,
            ..Default::default()
        });
        let b = with_learner(&sc, "backprop");
        assert!(matches!(&b.agents[0].brain, BrainSpec::Backprop(s) if s.hidden == 7));
        assert!(matches!(
            with_learner(&sc, "cortex").agents[0].brain,
            BrainSpec::Cortex(_)
        ));
        assert!(matches!(
            with_learner(&sc, "copy").agents[0].brain,
            BrainSpec::CopyLast
        ));
        assert_eq!(mean_sd(&[1.0, 3.0]), (2.0, 2f64.sqrt()));
        assert_eq!(mean_sd(&[4.0]), (4.0, 0.0));
    }
}
