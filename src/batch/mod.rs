//! `thetabox batch`: many scenarios × seeds, in parallel, headless; nothing lost.
//!
//! The plan is every scenario file (or `.ron` file of a folder) × every seed, sorted by
//! scenario name and seed. Runs go to worker threads, each run its own headless App (single
//! threaded, as `thetabox run` builds it), and finished runs come back over a channel to one
//! progress bar. Every file is written atomically (see [`crate::sim::runner::write_atomic`]),
//! so a run's folder holds either a finished run (`summary.json` present) or nothing final;
//! `--resume` skips finished runs. A shard (`--shard K/N`, or SLURM / Kubernetes Indexed Job
//! variables) takes every N-th run from the K-th on and writes `batch-shard-K-of-N.*`;
//! `thetabox merge` puts the shards back together.

pub mod compare;
pub mod plot;
pub mod report;
pub mod seeds;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use thiserror::Error;

pub use report::Row;
pub use seeds::Seeds;

use crate::scenario::Scenario;
use crate::sim::runner::{self, RunError, RunOptions};

/// Why a batch could not run.
#[derive(Debug, Error)]
pub enum BatchError {
    /// Bad input: scenario files, flags, shard variables (exit 2).
    #[error("{0}")]
    Input(String),
    /// An output file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl From<RunError> for BatchError {
    fn from(e: RunError) -> Self {
        match e {
            RunError::Io { path, source } => BatchError::Io { path, source },
            other => BatchError::Input(other.to_string()),
        }
    }
}

/// One shard of a batch: runs `index`, `index + count`, … of the sorted plan (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: usize,
    /// Shards in all.
    pub count: usize,
}

impl FromStr for Shard {
    type Err = BatchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            BatchError::Input(format!(
                "--shard `{s}`: write K/N with 0 <= K < N, e.g. 0/3, 1/3, 2/3"
            ))
        };
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        Shard::new(index, count).ok_or_else(bad)
    }
}

impl Shard {
    /// A shard if `index < count`.
    pub fn new(index: usize, count: usize) -> Option<Self> {
        (count > 0 && index < count).then_some(Self { index, count })
    }

    /// The shard named by the environment of a cluster job: `SLURM_ARRAY_TASK_ID` with
    /// `SLURM_ARRAY_TASK_COUNT` (SLURM arrays numbered from 0), or `JOB_COMPLETION_INDEX` with
    /// `shard_count` (Kubernetes Indexed Jobs). `None` outside such a job.
    pub fn from_env(
        var: impl Fn(&str) -> Option<String>,
        shard_count: Option<usize>,
    ) -> Result<Option<Self>, BatchError> {
        let num = |name: &str, v: String| {
            v.trim()
                .parse::<usize>()
                .map_err(|_| BatchError::Input(format!("{name}={v}: not a non-negative integer")))
        };
        let pick = |name: &str, i: usize, n: usize| {
            Shard::new(i, n).map(Some).ok_or_else(|| {
                BatchError::Input(format!("{name}={i} is not below the shard count {n}"))
            })
        };
        if let Some(v) = var("SLURM_ARRAY_TASK_ID") {
            let i = num("SLURM_ARRAY_TASK_ID", v)?;
            let n = match (shard_count, var("SLURM_ARRAY_TASK_COUNT")) {
                (Some(n), _) => n,
                (None, Some(c)) => num("SLURM_ARRAY_TASK_COUNT", c)?,
                (None, None) => {
                    return Err(BatchError::Input(
                        "SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor \
                         --shard-count says how many shards there are"
                            .into(),
                    ));
                }
            };
            return pick("SLURM_ARRAY_TASK_ID", i, n);
        }
        if let Some(v) = var("JOB_COMPLETION_INDEX") {
            let i = num("JOB_COMPLETION_INDEX", v)?;
            let n = shard_count.ok_or_else(|| {
                BatchError::Input(
                    "JOB_COMPLETION_INDEX is set: give the job's completions as --shard-count N"
                        .into(),
                )
            })?;
            return pick("JOB_COMPLETION_INDEX", i, n);
        }
        Ok(None)
    }
}

/// One run of the plan.
#[derive(Clone, Debug)]
pub struct PlannedRun {
    /// The file it came from.
    pub file: PathBuf,
    /// The scenario.
    pub scenario: Scenario,
    /// Its seed.
    pub seed: u64,
}

impl PlannedRun {
    /// `OUT/<scenario>/seed-<n>`.
    pub fn dir(&self, out: &Path) -> PathBuf {
        out.join(&self.scenario.name)
            .join(format!("seed-{}", self.seed))
    }
}

/// The files in `dir` whose names satisfy `keep` (unsorted).
fn files_in(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>, BatchError> {
    let rd = std::fs::read_dir(dir).map_err(|source| BatchError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    Ok(rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(&keep))
        .collect())
}

/// Scenario files named by `paths` (folders contribute their `.ron` files), each loaded and
/// validated, × `seeds` (default: each scenario's own), sorted by scenario name and seed.
pub fn plan(paths: &[PathBuf], seeds: Option<&Seeds>) -> Result<Vec<PlannedRun>, BatchError> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = files_in(p, |n| n.ends_with(".ron"))?;
            if found.is_empty() {
                return Err(BatchError::Input(format!(
                    "{}: no .ron scenario files in this folder",
                    p.display()
                )));
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    let mut errors = Vec::new();
    let mut runs = Vec::new();
    let mut names: Vec<(String, PathBuf)> = Vec::new();
    for f in files {
        match crate::scenario::load(&f) {
            Ok(sc) => {
                if let Some((_, other)) = names.iter().find(|(n, _)| *n == sc.name) {
                    errors.push(format!(
                        "{}: scenario name `{}` is also the name of {}; names must be unique in a batch (they name the output folders)",
                        f.display(),
                        sc.name,
                        other.display()
                    ));
                    continue;
                }
                names.push((sc.name.clone(), f.clone()));
                let list = match seeds {
                    Some(s) => s.0.clone(),
                    None => vec![sc.run.seed],
                };
                for seed in list {
                    runs.push(PlannedRun {
                        file: f.clone(),
                        scenario: sc.clone(),
                        seed,
                    });
                }
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !errors.is_empty() {
        return Err(BatchError::Input(errors.join("\n")));
    }
    runs.sort_by(|a, b| (&a.scenario.name, a.seed).cmp(&(&b.scenario.name, b.seed)));
    Ok(runs)
}

/// The runs of `shard` (round-robin over the sorted plan); all of them without a shard.
pub fn select(runs: Vec<PlannedRun>, shard: Option<Shard>) -> Vec<PlannedRun> {
    match shard {
        None => runs,
        Some(s) => runs
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % s.count == s.index)
            .map(|(_, r)| r)
            .collect(),
    }
}

/// Options of a batch.
#[derive(Clone, Debug)]
pub struct BatchOptions {
    /// Worker threads.
    pub jobs: usize,
    /// Output folder.
    pub out: PathBuf,
    /// Override every scenario's length.
    pub cycles: Option<u32>,
    /// Skip runs whose `summary.json` exists and parses; continue runs that left a checkpoint.
    pub resume: bool,
    /// Each run saves its state every this many theta cycles (see [`RunOptions`]).
    pub checkpoint_every: Option<u32>,
    /// Start no new run after the first failure.
    pub fail_fast: bool,
    /// Show a progress bar (else one line per run on stderr).
    pub progress: bool,
}

/// How a batch ended.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchResult {
    /// Rows of the runs that finished or failed (now or before, with `--resume`), in plan order.
    pub rows: Vec<Row>,
    /// Runs of the plan not run (stopped by Ctrl-C or `--fail-fast`).
    pub skipped: usize,
    /// Runs taken from earlier outputs (`--resume`).
    pub resumed: usize,
}

impl BatchResult {
    /// Every planned run finished and passed.
    pub fn passed(&self) -> bool {
        self.skipped == 0 && self.rows.iter().all(|r| r.passed)
    }
}

/// Asks a batch to start no further runs (Ctrl-C, `--fail-fast`).
#[derive(Debug, Default)]
pub struct Stop(AtomicBool);

impl Stop {
    /// Start no new runs.
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked for.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Folders of runs in progress, whose temporary files a second Ctrl-C removes before exiting.
pub static IN_FLIGHT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes the temporary files of the runs in progress (for an exit mid-run).
pub fn remove_partial_files() {
    let dirs = IN_FLIGHT.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for d in dirs {
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                if e.path().extension().is_some_and(|x| x == "tmp") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
}

fn finished(dir: &Path) -> Option<Row> {
    let text = std::fs::read_to_string(dir.join("summary.json")).ok()?;
    let s: runner::Summary = serde_json::from_str(&text).ok()?;
    Some(Row::of(&s))
}

fn run_one(r: &PlannedRun, opts: &BatchOptions) -> Row {
    let dir = r.dir(&opts.out);
    let ro = RunOptions {
        seed: Some(r.seed),
        cycles: opts.cycles,
        out: Some(dir.clone()),
        save_brain: false,
        progress: false,
        checkpoint_every: opts.checkpoint_every,
        resume: opts.resume,
    };
    IN_FLIGHT
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(dir.clone());
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runner::run(&r.scenario, &ro)
    }));
    IN_FLIGHT
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|d| *d != dir);
    match res {
        Ok(Ok(s)) => Row::of(&s),
        Ok(Err(e)) => Row::failed(&r.scenario.name, r.seed, e.to_string()),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Row::failed(&r.scenario.name, r.seed, format!("panicked: {msg}"))
        }
    }
}

/// Runs the plan on `opts.jobs` threads; `stop` is checked before each new run.
pub fn execute(runs: &[PlannedRun], opts: &BatchOptions, stop: &Stop) -> BatchResult {
    let mut rows: Vec<Option<Row>> = vec![None; runs.len()];
    let mut todo = Vec::new();
    let mut resumed = 0;
    for (i, r) in runs.iter().enumerate() {
        match opts.resume.then(|| finished(&r.dir(&opts.out))).flatten() {
            Some(row) => {
                rows[i] = Some(row);
                resumed += 1;
            }
            None => todo.push(i),
        }
    }
    let bar = if opts.progress {
        let b = indicatif::ProgressBar::new(runs.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} runs  elapsed {elapsed}  eta {eta}  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b.set_position(resumed as u64);
        b.enable_steady_tick(Duration::from_millis(250));
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let say = |line: String| {
        if opts.progress {
            bar.println(line);
        } else {
            eprintln!("{line}");
        }
    };
    if resumed > 0 {
        say(format!("resuming: {resumed} run(s) already finished"));
    }
    let next = AtomicUsize::new(0);
    let (tx, rx) = crossbeam_channel::unbounded::<(usize, Row)>();
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1).min(todo.len().max(1)) {
            let tx = tx.clone();
            let (todo, next) = (&todo, &next);
            scope.spawn(move || {
                loop {
                    if stop.requested() {
                        break;
                    }
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&i) = todo.get(k) else { break };
                    let row = run_one(&runs[i], opts);
                    if tx.send((i, row)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, row) in rx {
            let what = if !row.error.is_empty() {
                format!("ERROR {}", row.error)
            } else {
                format!(
                    "skill {:.3}  {:.1} s",
                    row.skill.unwrap_or(f64::NAN),
                    row.wall_seconds.unwrap_or(0.0)
                )
            };
            say(format!(
                "{} {} seed {}  {}",
                if row.passed { "PASS" } else { "FAIL" },
                row.scenario,
                row.seed,
                what
            ));
            if !row.passed && opts.fail_fast {
                stop.request();
            }
            rows[i] = Some(row);
            bar.inc(1);
        }
    });
    bar.finish_and_clear();
    let skipped = rows.iter().filter(|r| r.is_none()).count();
    BatchResult {
        rows: rows.into_iter().flatten().collect(),
        skipped,
        resumed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_round_robin() {
        assert_eq!(
            "1/3".parse::<Shard>().unwrap(),
            Shard { index: 1, count: 3 }
        );
        for bad in ["3/3", "1", "a/2", "1/0"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(
            Shard::from_env(slurm, None).unwrap(),
            Some(Shard { index: 2, count: 4 })
        );
        let k8s = env(&[("JOB_COMPLETION_INDEX", "1")]);
        assert!(Shard::from_env(k8s, None).is_err(), "needs --shard-count");
        let k8s = env(&[("JOB_COMPLETION_INDEX", "1")]);
        assert_eq!(
            Shard::from_env(k8s, Some(3)).unwrap(),
            Some(Shard { index: 1, count: 3 })
        );
        let k8s = env(&[("JOB_COMPLETION_INDEX", "3")]);
        assert!(Shard::from_env(k8s, Some(3)).is_err());
        assert_eq!(Shard::from_env(env(&[]), Some(3)).unwrap(), None);
    }
}
