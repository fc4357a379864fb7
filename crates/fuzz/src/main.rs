//! `fuzz`: a structure-aware mutation fuzzer for every parser and reader of lookahead-burn, on
//! stable Rust (`cargo xtask fuzz` runs it).
//!
//! ```text
//! fuzz run [--targets spec,idx,…] [--execs 1000000] [--seed 1] [--out target/fuzz]
//! fuzz list
//! fuzz input --target T --seed S --index I --save FILE   (regenerate one input)
//! fuzz replay --target T FILE                             (run one saved input)
//! ```
//!
//! Each target (`targets/`) writes valid inputs in the real formats, mutates them with their
//! structure (`mutate.rs`) and calls the public entry point; a worker process per target runs
//! them, and the supervisor (`supervise.rs`) records every crash, abort, hang and silent
//! acceptance with the input that caused it (`<out>/<target>/findings/`). The summary goes to
//! `<out>/summary.md`.

mod mutate;
mod supervise;
mod targets;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use mutate::Rng;
use supervise::{Campaign, Tally, run_target};
use targets::{TARGETS, Target, Verdict, build};

#[derive(Parser)]
#[command(about = "Structure-aware fuzzing of every parser and reader of lookahead-burn")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Fuzzes the targets (all by default), each in its own worker process.
    Run {
        /// Comma-separated targets (`fuzz list`); default all.
        #[arg(long, value_delimiter = ',')]
        targets: Vec<String>,
        /// Inputs per target.
        #[arg(long, default_value_t = 10_000)]
        execs: u64,
        /// The seed every input derives from.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Work directories, findings and summary.
        #[arg(long, default_value = "target/fuzz")]
        out: PathBuf,
        /// Targets fuzzed at once.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        /// Seconds one input may run before it counts as a hang.
        #[arg(long, default_value_t = 30)]
        timeout_s: u64,
        /// The address space a worker may map beyond what it holds once its target is built,
        /// MiB (an allocation past it aborts: a finding).
        #[arg(long, default_value_t = 4096)]
        mem_mib: u64,
    },
    /// Lists the targets.
    List,
    /// Runs inputs `start..start+count` of one target (started by `run`).
    #[command(hide = true)]
    Worker {
        #[arg(long)]
        target: String,
        #[arg(long)]
        work: PathBuf,
        #[arg(long)]
        seed: u64,
        #[arg(long)]
        start: u64,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 4096)]
        mem_mib: u64,
    },
    /// Writes input `index` of a target to a file (without running it).
    Input {
        #[arg(long)]
        target: String,
        #[arg(long, default_value = "target/fuzz/replay")]
        work: PathBuf,
        #[arg(long)]
        seed: u64,
        #[arg(long)]
        index: u64,
        #[arg(long)]
        save: PathBuf,
    },
    /// Runs one saved input on a target and prints what the entry point did.
    Replay {
        #[arg(long)]
        target: String,
        #[arg(long, default_value = "target/fuzz/replay")]
        work: PathBuf,
        file: PathBuf,
    },
}

/// Input `index` of a campaign seeded `seed`: a mutant of one of the target's seeds.
fn input(target: &dyn Target, seed: u64, index: u64) -> Vec<u8> {
    let mut rng = Rng::for_input(seed, index);
    let seeds = target.seeds();
    let base = &seeds[rng.below(seeds.len())];
    target.mutate(base, &mut rng)
}

/// Caps this process's address space at what it has mapped now plus `mib` (Linux; elsewhere
/// no cap): set once the target is built, so the libraries and the seed run are not counted.
#[cfg(target_os = "linux")]
fn cap_memory(mib: u64) -> anyhow::Result<()> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let mapped_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmSize in /proc/self/status")?;
    let limit = (mapped_kib + mib * 1024) * 1024;
    rlimit::setrlimit(rlimit::Resource::AS, limit, limit)?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn cap_memory(_mib: u64) -> anyhow::Result<()> {
    Ok(())
}

fn worker(
    name: &str,
    work: &PathBuf,
    seed: u64,
    (start, count): (u64, u64),
    mem_mib: u64,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(work)?;
    let mut target = build(name, work)?;
    cap_memory(mem_mib)?;
    let mut out = std::io::stdout().lock();
    for index in start..start + count {
        let bytes = input(target.as_ref(), seed, index);
        writeln!(out, "@fuzz {index}")?;
        out.flush()?;
        let verdict = match target.run(&bytes) {
            Verdict::Accepted => "accepted",
            Verdict::Refused => "refused",
        };
        writeln!(out, "@verdict {verdict}")?;
    }
    writeln!(out, "@done")?;
    Ok(())
}

/// The summary table of a campaign.
fn summary(results: &[(String, Tally)], campaign: &Campaign) -> String {
    let mut text = format!(
        "# Fuzzing summary\n\nseed {}, {} inputs per target, each worker capped at {} MiB of address space beyond its start, hang after {} s\n\n\
         | target | executions | accepted | refused | findings | seconds | executions/s |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        campaign.seed, campaign.execs, campaign.mem_mib, campaign.timeout_s
    );
    for (name, t) in results {
        text += &format!(
            "| {name} | {} | {} | {} | {} | {:.0} | {:.0} |\n",
            t.execs,
            t.accepted,
            t.refused,
            t.findings.len(),
            t.seconds,
            t.execs as f64 / t.seconds.max(1e-9)
        );
    }
    for (name, t) in results {
        for (index, why, path) in &t.findings {
            text += &format!("\n- {name} input {index}: {why} ({})", path.display());
        }
    }
    text + "\n"
}

fn run(names: Vec<String>, jobs: usize, campaign: Campaign) -> anyhow::Result<ExitCode> {
    let names: Vec<String> = match names.is_empty() {
        true => TARGETS.iter().map(|(n, _)| n.to_string()).collect(),
        false => names,
    };
    for name in &names {
        anyhow::ensure!(
            TARGETS.iter().any(|(n, _)| n == name),
            "unknown target `{name}` (fuzz list)"
        );
    }
    let queue = std::sync::Mutex::new(names.clone().into_iter());
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                while let Some(name) = queue.lock().ok().and_then(|mut q| q.next()) {
                    let tally = run_target(&name, &campaign);
                    if let Ok(t) = &tally {
                        println!(
                            "{name}: {} inputs, {} findings, {:.0} s",
                            t.execs,
                            t.findings.len(),
                            t.seconds
                        );
                    }
                    results.lock().map(|mut r| r.push((name, tally))).ok();
                }
            });
        }
    });
    let mut done = Vec::new();
    for (name, tally) in results
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a job panicked"))?
    {
        done.push((
            name.clone(),
            tally.with_context(|| format!("target {name}"))?,
        ));
    }
    done.sort_by_key(|(name, _)| names.iter().position(|n| n == name));
    let text = summary(&done, &campaign);
    std::fs::write(campaign.out.join("summary.md"), &text)?;
    print!("{text}");
    let found = done.iter().any(|(_, t)| !t.findings.is_empty());
    Ok(if found {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn main() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Cmd::Run {
            targets,
            execs,
            seed,
            out,
            jobs,
            timeout_s,
            mem_mib,
        } => {
            let campaign = Campaign {
                execs,
                seed,
                out,
                timeout_s,
                mem_mib,
            };
            run(targets, jobs, campaign)
        }
        Cmd::List => {
            for (name, what) in TARGETS {
                println!("{name:14} {what}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Worker {
            target,
            work,
            seed,
            start,
            count,
            mem_mib,
        } => {
            worker(&target, &work, seed, (start, count), mem_mib)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Input {
            target,
            work,
            seed,
            index,
            save,
        } => {
            std::fs::create_dir_all(&work)?;
            let target = build(&target, &work)?;
            std::fs::write(&save, input(target.as_ref(), seed, index))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Replay { target, work, file } => {
            std::fs::create_dir_all(&work)?;
            let mut target = build(&target, &work)?;
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            println!("{:?}", target.run(&bytes));
            Ok(ExitCode::SUCCESS)
        }
    }
}
