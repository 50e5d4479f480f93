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
    /// Validate scenario files without running them: exit 0 when all are valid, 2 otherwise,
    /// with every problem listed as FILE:LINE:COL or FILE: FIELD.PATH.
    Check(CheckArgs),
}

#[derive(Args, Debug)]
struct CheckArgs {
    /// Scenario files (.ron).
    #[arg(required = true)]
    files: Vec<std::path::PathBuf>,
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
    /// Print {"size":"small","neurons":0,"synapses":0,"ms_per_theta":0.0,"theta_per_second":0.0,...}.
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
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res = match cli.command {
        Command::Plasticity(a) => plasticity(a).map(|()| ExitCode::SUCCESS),
        Command::Bench(BenchCommand::Learner(a)) => bench_learner(a).map(|()| ExitCode::SUCCESS),
        Command::Check(a) => check(a),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
