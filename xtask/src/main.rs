//! `cargo xtask`: the project's task runner (an alias in `.cargo/config.toml`).
//!
//! ```text
//! cargo xtask example        # the Lookahead example (release build)
//! cargo xtask bench [--quick] # every benchmark, side by side
//! ```

use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

/// Tasks for lookahead-burn.
#[derive(Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Runs the Lookahead(SGD) vs SGD example (three spirals, Flex CPU backend), in release mode.
    Example,
    /// Runs the benchmarks (today: the optimizer-step benchmark of lookahead-optim).
    Bench {
        /// Fewer rounds: a smoke test rather than a measurement.
        #[arg(long)]
        quick: bool,
    },
}

fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(args)
        .status()
        .with_context(|| format!("cannot run `{cargo}`"))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn main() -> Result<()> {
    match Cli::parse().task {
        Task::Example => cargo(&[
            "run",
            "--release",
            "--example",
            "spirals",
            "-p",
            "lookahead-optim",
        ]),
        Task::Bench { quick } => {
            let mut args = vec!["bench", "-p", "lookahead-optim", "--bench", "step"];
            if quick {
                args.extend(["--", "--quick"]);
            }
            cargo(&args)
        }
    }
}
