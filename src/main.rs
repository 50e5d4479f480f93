//! The `thetabox` command line.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use thetabox::brain::bench::{self, BenchSize};
use thetabox::brain::plasticity::{Protocol, ProtocolResult, STANDARD_PAIRS, run_pairs};

/// Embodied agents that learn by predicting their next sensory frame.
#[derive(Parser, Debug)]
#[command(name = "thetabox", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the Jang et al. rate protocol on one synapse through the kinase learning rule.
    Plasticity(PlasticityArgs),
    /// Time parts of thetabox.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Train headless on a scenario (default: the built-in look_around): progress bar, then
    /// DIR/metrics.csv, DIR/summary.json and a short summary. Exit 0 when every expectation
    /// holds, 1 when one fails, 2 on bad input. Never opens a window or touches a GPU.
    Run(RunArgs),
    /// Validate scenario files without running them: exit 0 when all are valid, 2 otherwise,
    /// with every problem listed as FILE:LINE:COL or FILE: FIELD.PATH.
    Check(CheckArgs),
    /// Open a window onto a scenario (default: the built-in look_around): the world in 3D,
    /// the selected agent's view, prediction, outcome and error, its learning curve and its
    /// layers. F1 in the window lists the keys.
    View(ViewArgs),
    /// Run many scenarios × seeds headless in parallel: OUT/<scenario>/seed-<n>/ per run,
    /// OUT/batch.json and OUT/batch.csv, a table of skill mean ± sd per scenario. Exit 0 when
    /// every expectation of every run holds, 1 when one fails (or a run errors), 2 on bad
    /// input, 130 when interrupted (Ctrl-C once: in-flight runs finish; twice: exit now).
    Batch(BatchArgs),
    /// Merge shard outputs (batch-shard-K-of-N.json, written by `batch --shard`) found in the
    /// folders into one batch.json and batch.csv.
    Merge(MergeArgs),
    /// Run a scenario with every agent's brain a cortex, a backprop network (Elman, online
    /// truncated BPTT) and the copy-last predictor, on identical frame streams (same seed:
    /// same world, same actions). Prints skill, pred_error, correlation and θ/s (mean ± sd over
    /// seeds); writes OUT/compare.json, OUT/compare.png (the learning curves) and every run
    /// under OUT/<learner>/seed-<n>/. Exit 0, or 1 when a run fails, 2 on bad input.
    Compare(CompareArgs),
}

#[derive(Args, Debug)]
struct CompareArgs {
    /// Scenario file (.ron).
    scenario: std::path::PathBuf,
    /// Seeds: A..B (half-open: 0..3 is 0, 1, 2) or a list 1,5,9.
    #[arg(long, default_value = "0..3")]
    seeds: thetabox::batch::Seeds,
    /// Theta cycles of every run (default: the scenario's own).
    #[arg(long)]
    cycles: Option<u32>,
    /// Output folder.
    #[arg(long, default_value = "runs/compare")]
    out: std::path::PathBuf,
    /// Runs at once (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// No per-run lines and no table (the files are still written).
    #[arg(long)]
    quiet: bool,
}

fn compare(a: CompareArgs) -> Result<ExitCode> {
    use thetabox::batch::compare::{self, CompareError, CompareOptions};
    let sc = match load_scenario(&Some(a.scenario.clone())) {
        Ok(sc) => sc,
        Err(code) => return Ok(code),
    };
    if a.jobs == Some(0) || a.cycles == Some(0) {
        eprintln!("--jobs and --cycles must be at least 1");
        return Ok(ExitCode::from(2));
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("{}", a.out.display()))?;
    let opts = CompareOptions {
        seeds: a.seeds.0.clone(),
        cycles: a.cycles,
        out: a.out.clone(),
        jobs: a
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        progress: !a.quiet,
    };
    if !a.quiet {
        eprintln!(
            "compare {}: cortex, backprop, copy × {} seed(s), {} theta cycles → {}",
            sc.name,
            opts.seeds.len(),
            a.cycles.unwrap_or(sc.run.theta_cycles),
            a.out.display()
        );
    }
    match compare::compare(&sc, &opts) {
        Ok(r) => {
            if !a.quiet {
                print!("{}", compare::table(&r));
                println!(
                    "wrote {} and {}",
                    a.out.join("compare.json").display(),
                    a.out.join("compare.png").display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ CompareError::Run { .. }) => {
            eprintln!("{e}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Args, Debug)]
struct BatchArgs {
    /// Scenario files (.ron) or folders of them.
    #[arg(required = true)]
    paths: Vec<std::path::PathBuf>,
    /// Seeds: A..B (half-open: 0..3 is 0, 1, 2) or a list 1,5,9. Default: each scenario's own.
    #[arg(long)]
    seeds: Option<thetabox::batch::Seeds>,
    /// Worker threads (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Output folder.
    #[arg(long, default_value = "runs/batch")]
    out: std::path::PathBuf,
    /// Theta cycles of every run (default: each scenario's own).
    #[arg(long)]
    cycles: Option<u32>,
    /// Run only shard K of N (0 <= K < N): every N-th run of the sorted plan from the K-th.
    /// Without it, SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT or JOB_COMPLETION_INDEX with
    /// --shard-count choose the shard. Outputs are named batch-shard-K-of-N.{json,csv}.
    #[arg(long, value_name = "K/N")]
    shard: Option<thetabox::batch::Shard>,
    /// Shard count for Kubernetes Indexed Jobs (JOB_COMPLETION_INDEX) or SLURM arrays.
    #[arg(long, value_name = "N")]
    shard_count: Option<usize>,
    /// Skip runs whose summary.json exists and parses; continue unfinished runs from their
    /// checkpoint (see --checkpoint-every) when they left one.
    #[arg(long)]
    resume: bool,
    /// Save each run's whole state (world, bodies, brains, metrics so far) to
    /// OUT/<scenario>/seed-<n>/checkpoint.thetackpt every N theta cycles, so --resume after a
    /// crash or kill continues it and ends as an uninterrupted run would.
    #[arg(long, value_name = "N")]
    checkpoint_every: Option<u32>,
    /// Start no new run once one has failed.
    #[arg(long)]
    fail_fast: bool,
    /// Also write JUnit XML here (one test case per run).
    #[arg(long, value_name = "FILE")]
    junit: Option<std::path::PathBuf>,
    /// No progress bar and no table (the files are still written).
    #[arg(long)]
    quiet: bool,
}

#[derive(Args, Debug)]
struct MergeArgs {
    /// Folders holding batch-shard-*.json (and batch.json) files.
    #[arg(required = true)]
    dirs: Vec<std::path::PathBuf>,
    /// Where to write batch.json and batch.csv (default: the first folder).
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

fn batch(a: BatchArgs) -> Result<ExitCode> {
    use std::sync::Arc;
    use thetabox::batch::{self, BatchError, BatchOptions, Shard, Stop};
    let bad = |e: BatchError| {
        eprintln!("{e}");
        Ok(ExitCode::from(2))
    };
    if [
        a.jobs,
        a.cycles.map(|c| c as usize),
        a.shard_count,
        a.checkpoint_every.map(|c| c as usize),
    ]
    .contains(&Some(0))
    {
        eprintln!("--jobs, --cycles, --shard-count and --checkpoint-every must be at least 1");
        return Ok(ExitCode::from(2));
    }
    let shard = match a.shard {
        Some(s) => Some(s),
        None => match Shard::from_env(|k| std::env::var(k).ok(), a.shard_count) {
            Ok(s) => s,
            Err(e) => return bad(e),
        },
    };
    let plan = match batch::plan(&a.paths, a.seeds.as_ref()) {
        Ok(p) => p,
        Err(e) => return bad(e),
    };
    let total = plan.len();
    let runs = batch::select(plan, shard);
    std::fs::create_dir_all(&a.out).with_context(|| format!("{}", a.out.display()))?;
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if !a.quiet {
        eprintln!(
            "batch: {} run(s){} on {jobs} thread(s) → {}",
            runs.len(),
            shard.map_or(String::new(), |s| format!(
                " (shard {}/{} of {total})",
                s.index, s.count
            )),
            a.out.display()
        );
    }
    let stop = Arc::new(Stop::default());
    {
        let stop = stop.clone();
        let presses = std::sync::atomic::AtomicUsize::new(0);
        ctrlc::set_handler(move || {
            if presses.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                eprintln!("\nstopping: runs in progress will finish (Ctrl-C again to quit now)");
                stop.request();
            } else {
                batch::remove_partial_files();
                std::process::exit(130);
            }
        })
        .context("installing the Ctrl-C handler")?;
    }
    let opts = BatchOptions {
        jobs,
        out: a.out.clone(),
        cycles: a.cycles,
        resume: a.resume,
        checkpoint_every: a.checkpoint_every,
        fail_fast: a.fail_fast,
        progress: !a.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let res = batch::execute(&runs, &opts, &stop);
    let sh = shard.map(|s| (s.index, s.count));
    batch::report::write(&a.out, sh, &res.rows).context("writing the batch files")?;
    if let Some(j) = &a.junit {
        thetabox::sim::runner::write_atomic(j, batch::report::junit(&res.rows).as_bytes())
            .context("writing the JUnit file")?;
    }
    if !a.quiet {
        print!("{}", batch::report::table(&res.rows));
        let failed = res.rows.iter().filter(|r| !r.passed).count();
        println!(
            "{} run(s): {} passed, {failed} failed{}{}",
            res.rows.len(),
            res.rows.len() - failed,
            if res.resumed > 0 {
                format!(", {} resumed", res.resumed)
            } else {
                String::new()
            },
            if res.skipped > 0 {
                format!(", {} not run", res.skipped)
            } else {
                String::new()
            }
        );
    }
    Ok(if stop.requested() && !a.fail_fast {
        ExitCode::from(130)
    } else if res.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn merge(a: MergeArgs) -> Result<ExitCode> {
    let out = a.out.clone().unwrap_or_else(|| a.dirs[0].clone());
    match thetabox::batch::report::merge(&a.dirs, &out) {
        Ok(rows) => {
            print!("{}", thetabox::batch::report::table(&rows));
            println!(
                "merged {} run(s) into {}",
                rows.len(),
                out.join("batch.csv").display()
            );
            Ok(if rows.iter().all(|r| r.passed) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::from(2))
        }
    }
}

#[derive(Args, Debug)]
struct ViewArgs {
    /// Scenario file (.ron); without it, the built-in look_around scenario.
    scenario: Option<std::path::PathBuf>,
    /// Seed of everything random (default: the scenario's `run.seed`).
    #[arg(long)]
    seed: Option<u64>,
    /// Load the agents' brains from this folder (written by `run --save-brain --out DIR`).
    #[arg(long, value_name = "DIR")]
    brains: Option<std::path::PathBuf>,
    /// Save a PNG of the whole window (panels included) after --exit-after-cycles, then exit.
    #[arg(long, value_name = "PNG", requires = "exit_after_cycles")]
    screenshot: Option<std::path::PathBuf>,
    /// Run this many theta cycles as fast as the window allows, then exit (0, or 1 if the
    /// simulation failed or the screenshot could not be written).
    #[arg(long, value_name = "N")]
    exit_after_cycles: Option<u64>,
}

fn load_scenario(
    path: &Option<std::path::PathBuf>,
) -> Result<thetabox::scenario::Scenario, ExitCode> {
    match path {
        Some(p) => thetabox::scenario::load(p).map_err(|e| {
            eprintln!("{e}");
            ExitCode::from(2)
        }),
        None => Ok(thetabox::scenario::look_around()),
    }
}

#[cfg(feature = "viewer")]
fn view(a: ViewArgs) -> Result<ExitCode> {
    use thetabox::viewer::{ViewError, ViewOptions};
    let sc = match load_scenario(&a.scenario) {
        Ok(sc) => sc,
        Err(code) => return Ok(code),
    };
    if let Some(d) = &a.brains
        && !d.is_dir()
    {
        eprintln!("--brains {}: no such folder", d.display());
        return Ok(ExitCode::from(2));
    }
    let opts = ViewOptions {
        scenario: sc,
        seed: a.seed,
        brains: a.brains,
        screenshot: a.screenshot,
        exit_after_cycles: a.exit_after_cycles,
    };
    match thetabox::viewer::view(opts) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(ViewError::Run(e)) => {
            eprintln!("{e}");
            Ok(ExitCode::from(2))
        }
        Err(ViewError::Exit(code)) => Ok(ExitCode::from(code)),
    }
}

#[cfg(not(feature = "viewer"))]
fn view(_: ViewArgs) -> Result<ExitCode> {
    eprintln!(
        "this thetabox was built without the `viewer` feature; rebuild with default features"
    );
    Ok(ExitCode::from(2))
}

#[derive(Args, Debug)]
struct CheckArgs {
    /// Scenario files (.ron).
    #[arg(required = true)]
    files: Vec<std::path::PathBuf>,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Scenario file (.ron); without it, the built-in look_around scenario.
    scenario: Option<std::path::PathBuf>,
    /// Seed of everything random (default: the scenario's `run.seed`).
    #[arg(long)]
    seed: Option<u64>,
    /// Theta cycles to run (default: the scenario's `run.theta_cycles`).
    #[arg(long)]
    cycles: Option<u32>,
    /// Output folder for metrics.csv and summary.json (created if missing).
    #[arg(long, default_value = "runs/latest")]
    out: std::path::PathBuf,
    /// Also save each agent's brain as OUT/brain-NAME.thetanet.
    #[arg(long)]
    save_brain: bool,
    /// Save the run's whole state (world, bodies, brains, metrics so far) to
    /// OUT/checkpoint.thetackpt every N theta cycles; the file is removed when the run ends.
    #[arg(long, value_name = "N")]
    checkpoint_every: Option<u32>,
    /// Continue from OUT/checkpoint.thetackpt when it exists (same scenario, seed and
    /// --cycles), ending exactly as an uninterrupted run; without one, start from the beginning.
    #[arg(long)]
    resume: bool,
    /// No progress bar and no summary text (the files are still written).
    #[arg(long)]
    quiet: bool,
}

fn run(a: RunArgs) -> Result<ExitCode> {
    use thetabox::sim::runner::{self, RunOptions};
    let sc = match load_scenario(&a.scenario) {
        Ok(sc) => sc,
        Err(code) => return Ok(code),
    };
    if a.cycles == Some(0) || a.checkpoint_every == Some(0) {
        anyhow::bail!("--cycles and --checkpoint-every must be at least 1");
    }
    for ag in &sc.agents {
        if !a.quiet && ag.sensors.retina.backend == thetabox::scenario::EyeBackend::Camera {
            eprintln!(
                "note: agent `{}` has retina backend Camera, which renders only in the viewer; \
                 this headless run ray casts its frames (same layout)",
                ag.name
            );
        }
    }
    let opts = RunOptions {
        seed: a.seed,
        cycles: a.cycles,
        out: Some(a.out.clone()),
        save_brain: a.save_brain,
        progress: !a.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        checkpoint_every: a.checkpoint_every,
        resume: a.resume,
    };
    if !a.quiet {
        eprintln!(
            "running {} ({} agent(s), {} theta cycles, seed {}) → {}",
            sc.name,
            sc.agents.len(),
            a.cycles.unwrap_or(sc.run.theta_cycles),
            a.seed.unwrap_or(sc.run.seed),
            a.out.display()
        );
        let ckpt = a.out.join(thetabox::sim::checkpoint::FILE_NAME);
        if a.resume && ckpt.exists() {
            eprintln!("resuming from {}", ckpt.display());
        }
    }
    let s = runner::run(&sc, &opts).context("run")?;
    if !a.quiet {
        println!(
            "{}: {} theta cycles in {:.1} s ({:.1} θ/s), seed {}",
            s.scenario, s.theta_cycles, s.wall_seconds, s.theta_cycles_per_second, s.seed
        );
        println!(
            "{:<16} {:>10} {:>10} {:>8} {:>8}",
            "agent", "pred_err", "copy_err", "skill", "corr"
        );
        for ag in &s.agents {
            println!(
                "{:<16} {:>10.5} {:>10.5} {:>8.3} {:>8.3}",
                ag.name, ag.pred_error, ag.baseline_error, ag.skill, ag.correlation
            );
        }
        print_by_action(&sc, &s, &a.out);
        for e in &s.expectations {
            println!(
                "{} {} (value {:.4}, threshold {})",
                if e.passed { "PASS" } else { "FAIL" },
                e.name,
                e.value,
                e.threshold
            );
        }
    }
    Ok(if s.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The final window split by action: where each agent's error comes from (turning, walking,
/// staying), read back from the run's metrics.csv. A file that cannot be read costs only this
/// table, never the run's result.
fn print_by_action(
    sc: &thetabox::scenario::Scenario,
    s: &thetabox::sim::runner::Summary,
    out: &std::path::Path,
) {
    let path = out.join("metrics.csv");
    let from = thetabox::sim::runner::window_start(sc, s.theta_cycles);
    match thetabox::sim::metrics::by_action(&path, from) {
        Ok(rows) => {
            println!("final window by action:");
            println!(
                "{:<16} {:<10} {:>6} {:>10} {:>10} {:>8}",
                "agent", "action", "cycles", "pred_err", "copy_err", "skill"
            );
            for w in rows {
                let skill = w.skill().map_or("-".to_string(), |k| format!("{k:.3}"));
                println!(
                    "{:<16} {:<10} {:>6} {:>10.5} {:>10.5} {:>8}",
                    w.agent, w.action, w.cycles, w.pred_error, w.baseline_error, skill
                );
            }
        }
        Err(e) => eprintln!("(no per-action table: {}: {e})", path.display()),
    }
}

fn check(a: CheckArgs) -> Result<ExitCode> {
    let mut bad = 0;
    for f in &a.files {
        match thetabox::scenario::load(f) {
            Ok(sc) => println!(
                "ok    {} ({}: {} agent(s), {} theta cycles)",
                f.display(),
                sc.name,
                sc.agents.len(),
                sc.run.theta_cycles
            ),
            Err(e) => {
                bad += 1;
                eprintln!("{e}");
            }
        }
    }
    if bad > 0 {
        eprintln!("{bad} of {} file(s) invalid", a.files.len());
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Time full theta cycles (minus, plus, learning) of the learner on a synthetic stream.
    Learner(LearnerBenchArgs),
    /// Time physics plus one ray-cast frame per agent every physics step (no brains).
    Sim(SimBenchArgs),
}

#[derive(Args, Debug)]
struct SimBenchArgs {
    /// Agents, each with its own eye.
    #[arg(long, default_value_t = 16)]
    agents: usize,
    /// Retina side in pixels (R×R, luminance + depth).
    #[arg(long, default_value_t = 32)]
    res: u32,
    /// Physics steps to time (after 10 warm-up steps).
    #[arg(long, default_value_t = 300)]
    steps: u64,
    /// Print {"agents":16,"res":32,"steps_per_second":0.0,"frames_per_second":0.0}.
    #[arg(long)]
    json: bool,
}

fn bench_sim(a: SimBenchArgs) -> Result<()> {
    if !(1..=64).contains(&a.agents) {
        anyhow::bail!("--agents must be 1 to 64");
    }
    if !(4..=128).contains(&a.res) {
        anyhow::bail!("--res must be 4 to 128");
    }
    if a.steps == 0 {
        anyhow::bail!("--steps must be at least 1");
    }
    let r = thetabox::sim::bench::run(a.agents, a.res, a.steps);
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!("agents            {}", r.agents);
        println!(
            "retina            {0}×{0} (luminance + depth, ray cast)",
            r.res
        );
        println!("steps per second  {:.1}", r.steps_per_second);
        println!("frames per second {:.0}", r.frames_per_second);
    }
    Ok(())
}

#[derive(Args, Debug)]
struct LearnerBenchArgs {
    /// small: the default agent brain (16×16×2 inputs, 20×20 Super and CT, pulvinar, 8 actions);
    /// lvis: 47,204 neurons and ~32 M synapses shaped like Axon's bench_lvis.
    #[arg(long, value_enum, default_value = "small")]
    size: SizeArg,
    /// Theta cycles to time (after 2 warm-up cycles). Default: 200 for small, 5 for lvis.
    #[arg(long)]
    cycles: Option<usize>,
    /// Seed of the weights and the input stream.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print {"size":"small","neurons":0,"synapses":0,"ms_per_theta":0.0,"theta_per_second":0.0,...},
    /// with "parts": the milliseconds per theta cycle in neurons, propagation, learning, slow
    /// adaptation and the rest.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum SizeArg {
    Small,
    Lvis,
}

/// Phase split of the 200 ms theta cycle, as MINUS/PLUS milliseconds.
#[derive(Clone, Copy, Debug)]
struct Split {
    minus: usize,
    plus: usize,
}

fn parse_split(s: &str) -> Result<Split, String> {
    let (a, b) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}`: expected MINUS/PLUS, e.g. 150/50"))?;
    let parse = |x: &str| {
        x.trim()
            .parse::<usize>()
            .map_err(|_| format!("`{s}`: `{x}` is not a whole number of milliseconds"))
    };
    let (minus, plus) = (parse(a)?, parse(b)?);
    if minus == 0 || plus == 0 || minus + plus > 2000 {
        return Err(format!(
            "`{s}`: both phases must be ≥ 1 ms and the cycle ≤ 2000 ms"
        ));
    }
    Ok(Split { minus, plus })
}

#[derive(Args, Debug)]
struct PlasticityArgs {
    /// Pre- and postsynaptic rate in the minus phase, Hz (needs --plus-hz). Without both rates a
    /// table of 25→25, 50→50, 25→50, 50→25, 25→100 and 100→25 is printed.
    #[arg(long, requires = "plus_hz")]
    minus_hz: Option<f32>,
    /// Rate in the plus phase, Hz (needs --minus-hz).
    #[arg(long, requires = "minus_hz")]
    plus_hz: Option<f32>,
    /// Phase split in ms: 100/100 (the experiment's halves) or 150/50 (Axon's default phases).
    #[arg(long, default_value = "100/100", value_parser = parse_split)]
    split: Split,
    /// Theta cycles per condition.
    #[arg(long, default_value_t = 10_000)]
    trials: usize,
    /// Seed of the Poisson spike trains.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print JSON: [{"minus_hz":25,"plus_hz":50,"dw":0.0,"sem":0.0}, ...].
    #[arg(long)]
    json: bool,
}

fn plasticity(a: PlasticityArgs) -> Result<()> {
    let base = Protocol {
        minus_cycles: a.split.minus,
        plus_cycles: a.split.plus,
        trials: a.trials,
        seed: a.seed,
        ..Default::default()
    };
    let pairs: Vec<(f32, f32)> = match (a.minus_hz, a.plus_hz) {
        (Some(m), Some(p)) => vec![(m, p)],
        _ => STANDARD_PAIRS.to_vec(),
    };
    let rows = run_pairs(&base, &pairs).context("plasticity protocol")?;
    if a.json {
        let out: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({"minus_hz": r.minus_hz, "plus_hz": r.plus_hz, "dw": r.dw, "sem": r.sem})
            })
            .collect();
        println!("{}", serde_json::to_string(&out)?);
        return Ok(());
    }
    println!(
        "kinase rule, one synapse, {}/{} ms phases, {} theta cycles per condition, seed {}",
        a.split.minus, a.split.plus, a.trials, a.seed
    );
    println!(
        "{:>9} {:>9} {:>13} {:>11} {:>7}  {:>16}",
        "minus Hz", "plus Hz", "dW / cycle", "sem", "", "post Hz (−/+)"
    );
    for r in &rows {
        println!(
            "{:>9} {:>9} {:>+13.3e} {:>11.2e} {:>7}  {:>7.1} / {:<7.1}",
            r.minus_hz,
            r.plus_hz,
            r.dw,
            r.sem,
            verdict(r),
            r.post_minus_hz,
            r.post_plus_hz
        );
    }
    Ok(())
}

/// LTP / LTD when the mean is more than 3 standard errors from zero.
fn verdict(r: &ProtocolResult) -> &'static str {
    if r.dw > 3.0 * r.sem {
        "LTP"
    } else if r.dw < -3.0 * r.sem {
        "LTD"
    } else {
        "none"
    }
}

fn bench_learner(a: LearnerBenchArgs) -> Result<()> {
    let (size, default_cycles) = match a.size {
        SizeArg::Small => (BenchSize::Small, 200),
        SizeArg::Lvis => (BenchSize::Lvis, 5),
    };
    let cycles = a.cycles.unwrap_or(default_cycles);
    if cycles == 0 {
        anyhow::bail!("--cycles must be at least 1");
    }
    if !a.json {
        eprintln!(
            "building and timing the {:?} learner for {cycles} theta cycles…",
            a.size
        );
    }
    let r = bench::run(size, cycles, a.seed).context("learner benchmark")?;
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!("size              {:?}", r.size);
        println!("neurons           {}", r.neurons);
        println!("synapses          {}", r.synapses);
        println!("ms per theta      {:.2}", r.ms_per_theta);
        println!("theta per second  {:.1}", r.theta_per_second);
        println!(
            "mean rate (Hz)    {:.1}  (non-input neurons)",
            r.mean_rate_hz
        );
        println!("threads           {}", rayon::current_num_threads());
        let p = &r.parts;
        println!(
            "ms per theta in   neurons {:.2}, propagation {:.2}, learning {:.2}, slow adaptation {:.2}, other {:.2}",
            p.neurons_ms, p.propagation_ms, p.learning_ms, p.slow_ms, p.other_ms
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res = match cli.command {
        Command::Plasticity(a) => plasticity(a).map(|()| ExitCode::SUCCESS),
        Command::Bench(BenchCommand::Learner(a)) => bench_learner(a).map(|()| ExitCode::SUCCESS),
        Command::Bench(BenchCommand::Sim(a)) => bench_sim(a).map(|()| ExitCode::SUCCESS),
        Command::Check(a) => check(a),
        Command::Run(a) => run(a),
        Command::View(a) => view(a),
        Command::Batch(a) => batch(a),
        Command::Merge(a) => merge(a),
        Command::Compare(a) => compare(a),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
