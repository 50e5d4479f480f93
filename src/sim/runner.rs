//! Headless runs: build the App without any window or GPU, step it through the theta cycles,
//! write `metrics.csv` and `summary.json`, evaluate the expectations.

use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bevy::app::PluginsState;
use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::brain::{Brain, BrainFault};
use super::metrics::{MetricsLog, MonotoneDecoder, Window};
use super::{SimConfig, SimPlugin, ThetaClock};
use crate::scenario::{Expectation, Scenario};

/// What can stop a run.
#[derive(Debug, Error)]
pub enum RunError {
    /// An output file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A brain failed (non-finite state, bad parameters).
    #[error("{0}")]
    Brain(String),
    /// Metrics could not be written.
    #[error("{0}")]
    Metrics(String),
    /// A checkpoint could not be written or taken up.
    #[error(transparent)]
    Checkpoint(#[from] super::checkpoint::CheckpointError),
}

/// A headless App for a scenario: ECS, transforms, Rapier and the theta-cycle plugins; no
/// window, renderer or GPU. Each `app.update()` runs exactly one physics step.
pub fn headless_app(scenario: Scenario, seed: u64, brains: bool) -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, bevy::transform::TransformPlugin))
        .insert_resource(TimeUpdateStrategy::FixedTimesteps(1))
        .add_plugins(SimPlugin {
            config: SimConfig {
                scenario,
                seed,
                brains,
            },
        });
    if app.plugins_state() == PluginsState::Ready {
        app.finish();
        app.cleanup();
    }
    // The many small systems of a physics step run faster in order on one thread than handed
    // between threads; the heavy ones (eyes, brains) spread over the task pool themselves.
    for (_, s) in app.world_mut().resource_mut::<Schedules>().iter_mut() {
        s.set_executor(bevy::ecs::schedule::SingleThreadedExecutor::new());
    }
    // The first update only runs the startup schedules (time has not advanced yet).
    app.update();
    app
}

/// Steps `app` until `cycles` theta cycles are complete (or a brain fails).
pub fn run_cycles(
    app: &mut App,
    cycles: u64,
    mut on_cycle: impl FnMut(&App),
) -> Result<(), RunError> {
    run_cycles_mut(app, cycles, |app| {
        on_cycle(app);
        Ok(())
    })
}

/// [`run_cycles`] with a callback that may change the App or stop the run with an error.
pub fn run_cycles_mut(
    app: &mut App,
    cycles: u64,
    mut on_cycle: impl FnMut(&mut App) -> Result<(), RunError>,
) -> Result<(), RunError> {
    let mut last = app.world().resource::<ThetaClock>().cycle;
    while app.world().resource::<ThetaClock>().cycle < cycles {
        app.update();
        if let Some(e) = &app.world().resource::<BrainFault>().0 {
            return Err(RunError::Brain(e.clone()));
        }
        if let Some(e) = &app.world().resource::<MetricsLog>().error {
            return Err(RunError::Metrics(e.clone()));
        }
        let c = app.world().resource::<ThetaClock>().cycle;
        if c != last {
            last = c;
            on_cycle(app)?;
        }
    }
    Ok(())
}

/// Options of `thetabox run`.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Override the scenario's seed.
    pub seed: Option<u64>,
    /// Override the scenario's length.
    pub cycles: Option<u32>,
    /// Output folder (created); none: nothing is written.
    pub out: Option<PathBuf>,
    /// Save each agent's brain to `OUT/brain-NAME.thetanet` at the end.
    pub save_brain: bool,
    /// Show a progress bar.
    pub progress: bool,
    /// Save the run's whole state to `OUT/checkpoint.thetackpt` every this many theta cycles
    /// (removed when the run finishes).
    pub checkpoint_every: Option<u32>,
    /// Continue from `OUT/checkpoint.thetackpt` when it exists (else start from the beginning).
    pub resume: bool,
}

/// One agent's final-window figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentSummary {
    /// Agent name.
    pub name: String,
    /// Mean prediction error.
    pub pred_error: f64,
    /// Mean copy-last-frame error.
    pub baseline_error: f64,
    /// `1 − Σ pred / Σ baseline`.
    pub skill: f64,
    /// Mean Pearson r.
    pub correlation: f64,
}

/// One expectation, checked for one agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExpectationResult {
    /// `AGENT: skill >= 0.3` and the like.
    pub name: String,
    /// Whether it holds.
    pub passed: bool,
    /// The measured value.
    pub value: f64,
    /// The threshold.
    pub threshold: f64,
}

/// The contents of `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// Theta cycles run.
    pub theta_cycles: u64,
    /// Wall-clock duration of the run.
    pub wall_seconds: f64,
    /// Throughput.
    pub theta_cycles_per_second: f64,
    /// Per agent, over the final window.
    pub agents: Vec<AgentSummary>,
    /// Every expectation for every agent.
    pub expectations: Vec<ExpectationResult>,
}

impl Summary {
    /// All expectations hold.
    pub fn passed(&self) -> bool {
        self.expectations.iter().all(|e| e.passed)
    }
}

/// First cycle of the final window of a run of `cycles` cycles.
pub fn window_start(sc: &Scenario, cycles: u64) -> u64 {
    // The decimal the file gave: 0.1f32 widened is 0.10000000149…, and 10 % of 3000 cycles
    // would round up to 301.
    let window = ((cycles as f64 * decimal(sc.run.final_window)).ceil() as u64).max(1);
    cycles.saturating_sub(window)
}

/// Final-window figures and expectation results from the metrics log.
pub fn summarize(sc: &Scenario, log: &MetricsLog) -> (Vec<AgentSummary>, Vec<ExpectationResult>) {
    let mut agents = Vec::new();
    let mut exps = Vec::new();
    for (i, a) in sc.agents.iter().enumerate() {
        let w = log.window(i);
        for e in &sc.expect {
            let (value, threshold, passed) = match *e {
                Expectation::Skill { min } => (w.skill, decimal(min), w.skill >= decimal(min)),
                Expectation::Correlation { min } => {
                    (w.correlation, decimal(min), w.correlation >= decimal(min))
                }
                Expectation::PredError { max } => {
                    (w.pred_error, decimal(max), w.pred_error <= decimal(max))
                }
            };
            exps.push(ExpectationResult {
                name: format!("{}: {}", a.name, e.describe()),
                passed,
                value,
                threshold,
            });
        }
        agents.push(AgentSummary {
            name: a.name.clone(),
            pred_error: w.pred_error,
            baseline_error: w.baseline_error,
            skill: w.skill,
            correlation: w.correlation,
        });
    }
    (agents, exps)
}

/// The f64 a user meant by an f32 written in a file (0.3, not 0.30000001192092896).
fn decimal(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(x as f64)
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The files of an agent's saved cortex in `dir`: the network and its frame-space decoder.
pub fn brain_files(dir: &Path, agent: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("brain-{agent}.thetanet")),
        dir.join(format!("brain-{agent}.decoder.json")),
    )
}

/// The file of an agent's saved backprop learner in `dir`.
pub fn backprop_file(dir: &Path, agent: &str) -> PathBuf {
    dir.join(format!("brain-{agent}.thetasrn"))
}

/// Saves every agent's brain into `dir`: a cortex as its network and decoder
/// ([`brain_files`]), a backprop learner as one file ([`backprop_file`]).
pub fn save_brains(app: &mut App, dir: &Path) -> Result<(), RunError> {
    let mut q = app.world_mut().query::<(&super::body::Agent, &Brain)>();
    for (a, b) in q.iter(app.world()) {
        if let Some(c) = b.cortex() {
            let (net, dec) = brain_files(dir, &a.name);
            c.network()
                .save(&net)
                .map_err(|e| RunError::Brain(format!("saving {}: {e}", net.display())))?;
            let text = serde_json::to_string(c.decoder()).expect("decoder serialises");
            write_atomic(&dec, text.as_bytes())?;
        } else if b.learner.kind() == "backprop" {
            let path = backprop_file(dir, &a.name);
            let bytes = b
                .learner
                .to_bytes()
                .map_err(|e| RunError::Brain(format!("saving {}: {e}", path.display())))?;
            write_atomic(&path, &bytes)?;
        }
    }
    Ok(())
}

/// Replaces every agent's brain by the one saved in `dir` (see [`save_brains`]), so a brain
/// trained headless goes on predicting as it did. Agents without files there keep their fresh
/// brain; returns the names of the agents loaded. A file that does not fit its agent (another
/// retina, another brain shape or kind) is an error naming the file.
pub fn load_brains(app: &mut App, dir: &Path) -> Result<Vec<String>, RunError> {
    if !dir.is_dir() {
        return Err(RunError::Io {
            path: dir.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
        });
    }
    // The scenario is read while the brains are written: take it out of the world meanwhile.
    app.world_mut()
        .resource_scope(|world, cfg: Mut<super::SimConfig>| load_brains_into(world, &cfg, dir))
}

fn load_brains_into(
    world: &mut World,
    cfg: &super::SimConfig,
    dir: &Path,
) -> Result<Vec<String>, RunError> {
    let mut loaded = Vec::new();
    let mut q = world.query::<(&super::body::Agent, &mut Brain)>();
    let mut items: Vec<_> = q.iter_mut(world).collect();
    items.sort_by_key(|(a, _)| a.index);
    for (a, mut b) in items {
        let (net_path, dec_path) = brain_files(dir, &a.name);
        let srn_path = backprop_file(dir, &a.name);
        let kind = b.learner.kind();
        if net_path.exists() {
            let bad = |why: String| RunError::Brain(format!("{}: {why}", net_path.display()));
            let Some(c) = b
                .learner
                .as_any_mut()
                .downcast_mut::<crate::brain::cortex::Cortex>()
            else {
                return Err(bad(format!(
                    "a cortex; agent `{}` of the scenario has a {kind} brain",
                    a.name
                )));
            };
            let net = crate::brain::Network::load(&net_path).map_err(|e| bad(e.to_string()))?;
            let dec: MonotoneDecoder = match std::fs::read_to_string(&dec_path) {
                Ok(text) => serde_json::from_str(&text)
                    .map_err(|e| RunError::Brain(format!("{}: {e}", dec_path.display())))?,
                Err(e) => return Err(io_err(&dec_path)(e)),
            };
            c.replace(net, dec).map_err(|e| {
                bad(format!(
                    "this brain does not fit agent `{}` of the scenario: {e}",
                    a.name
                ))
            })?;
        } else if srn_path.exists() {
            let origin = srn_path.display().to_string();
            let bytes = std::fs::read(&srn_path).map_err(io_err(&srn_path))?;
            if kind != "backprop" {
                return Err(RunError::Brain(format!(
                    "{origin}: a backprop learner; agent `{}` of the scenario has a {kind} brain",
                    a.name
                )));
            }
            let spec = &cfg.scenario.agents[a.index];
            b.learner =
                super::brain::learner_from_bytes(spec, 0, &bytes, &origin).map_err(|e| {
                    RunError::Brain(format!("this brain does not fit agent `{}`: {e}", a.name))
                })?;
        } else {
            continue;
        }
        loaded.push(a.name.clone());
    }
    Ok(loaded)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so the file is either
/// absent or complete, whatever happens to the process.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    let tmp = tmp_path(path);
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(io_err(path))
}

/// `FILE.tmp` next to `FILE`: where a file is written before it is renamed into place.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Runs a scenario headless and returns its summary (files written to `opts.out` if set).
///
/// `metrics.csv` is streamed to `metrics.csv.tmp` and renamed when the run ends, normally or on
/// an error (metrics already written are kept); `summary.json` is written last, atomically, so
/// a folder with a `summary.json` holds a finished run. With `checkpoint_every`, the run's
/// state (metrics written so far included) goes to `checkpoint.thetackpt` every so many
/// cycles; with `resume`, a run continues from that file and ends exactly as an uninterrupted
/// run would (timing aside).
pub fn run(sc: &Scenario, opts: &RunOptions) -> Result<Summary, RunError> {
    use super::checkpoint::{Checkpoint, FILE_NAME};
    let mut sc = sc.clone();
    if let Some(s) = opts.seed {
        sc.run.seed = s;
    }
    if let Some(c) = opts.cycles {
        sc.run.theta_cycles = c;
    }
    let seed = sc.run.seed;
    let cycles = sc.run.theta_cycles as u64;
    if let Some(dir) = &opts.out {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let started = Instant::now();
    let ckpt_path = opts.out.as_ref().map(|d| d.join(FILE_NAME));
    let resume_from = match &ckpt_path {
        Some(p) if opts.resume && p.exists() => Some(Checkpoint::load(p)?),
        _ => None,
    };
    let mut app = headless_app(sc.clone(), seed, true);
    app.world_mut().resource_mut::<MetricsLog>().window_from = window_start(&sc, cycles);
    let mut earlier_wall = 0.0;
    let mut csv_prefix = Vec::new();
    if let (Some(mut ck), Some(path)) = (resume_from, &ckpt_path) {
        // The warm-up step makes Rapier's bodies, whose state the checkpoint then replaces.
        app.update();
        earlier_wall = ck.wall_seconds;
        csv_prefix = std::mem::take(&mut ck.metrics_csv);
        ck.restore(&mut app, &sc, path)?;
    }
    let csv_tmp = opts.out.as_ref().map(|d| tmp_path(&d.join("metrics.csv")));
    if let Some(path) = &csv_tmp {
        std::fs::write(path, &csv_prefix).map_err(io_err(path))?;
        let f = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io_err(path))?;
        let sink: Box<dyn std::io::Write + Send + Sync> = Box::new(BufWriter::new(f));
        let w = csv::WriterBuilder::new()
            .has_headers(csv_prefix.is_empty())
            .from_writer(sink);
        app.world_mut().resource_mut::<MetricsLog>().csv = Some(w);
    }
    let bar = opts.progress.then(|| {
        let b = indicatif::ProgressBar::new(cycles);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} θ  {per_sec}  eta {eta}  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b.set_position(app.world().resource::<ThetaClock>().cycle);
        b.reset_eta();
        b.enable_steady_tick(Duration::from_millis(250));
        b
    });
    let every = opts.checkpoint_every.filter(|n| *n > 0).map(u64::from);
    let res = run_cycles_mut(&mut app, cycles, |app| {
        let c = app.world().resource::<ThetaClock>().cycle;
        if let Some(b) = &bar {
            b.set_position(c);
            if c % 10 == 0 {
                let log = app.world().resource::<MetricsLog>();
                let recent = log.recent.iter().rev().take(100 * sc.agents.len());
                b.set_message(format!("skill (last 100) {:.3}", Window::of(recent).skill));
            }
        }
        if let (Some(n), Some(path), Some(csv)) = (every, &ckpt_path, &csv_tmp)
            && c % n == 0
            && c < cycles
        {
            app.world_mut()
                .resource_mut::<MetricsLog>()
                .flush()
                .map_err(io_err(csv))?;
            let written = std::fs::read(csv).map_err(io_err(csv))?;
            let wall = earlier_wall + started.elapsed().as_secs_f64();
            Checkpoint::capture(app, &sc, wall, written)?.save(path)?;
        }
        Ok(())
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let mut log = app.world_mut().resource_mut::<MetricsLog>();
    let flushed = log.flush();
    log.csv = None;
    if let Some(dir) = &opts.out {
        let path = dir.join("metrics.csv");
        flushed.map_err(io_err(&path))?;
        std::fs::rename(tmp_path(&path), &path).map_err(io_err(&path))?;
    }
    res?;
    let wall = earlier_wall + started.elapsed().as_secs_f64();
    let (agents, expectations) = summarize(&sc, app.world().resource::<MetricsLog>());
    let summary = Summary {
        scenario: sc.name.clone(),
        seed,
        theta_cycles: cycles,
        wall_seconds: wall,
        theta_cycles_per_second: cycles as f64 / wall.max(1e-9),
        agents,
        expectations,
    };
    if let Some(dir) = &opts.out {
        if opts.save_brain {
            save_brains(&mut app, dir)?;
        }
        let text = serde_json::to_string_pretty(&summary).expect("summary serialises") + "\n";
        write_atomic(&dir.join("summary.json"), text.as_bytes())?;
        // A finished run has its summary; its checkpoint is of no more use.
        if let Some(p) = &ckpt_path
            && p.exists()
        {
            std::fs::remove_file(p).map_err(io_err(p))?;
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::window_start;

    #[test]
    fn final_window_is_the_fraction_written_in_the_file() {
        let mut sc = crate::scenario::look_around();
        assert_eq!(sc.run.final_window, 0.1);
        assert_eq!(window_start(&sc, 3000), 2700);
        assert_eq!(window_start(&sc, 10), 9);
        assert_eq!(window_start(&sc, 5), 4, "at least one cycle, rounded up");
        assert_eq!(window_start(&sc, 0), 0);
        sc.run.final_window = 1.0;
        assert_eq!(window_start(&sc, 40), 0);
        sc.run.final_window = 0.3;
        assert_eq!(window_start(&sc, 1000), 700);
    }
}
