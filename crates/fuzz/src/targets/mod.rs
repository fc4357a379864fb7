//! The fuzz targets: each reaches one parser or reader through its public entry point, from
//! valid seed inputs it writes itself (real formats), mutated with its format's structure.
//!
//! A target returns whether the input was accepted or refused with an error; it panics (a
//! finding) when it accepts what it must not ("silent acceptance": its oracle, checked on every
//! accepted input). Panics, aborts, stack overflows and hangs of the entry points themselves
//! are findings too (the supervisor sees the worker die or stall).
//!
//! The `cli-*` targets run the real `experiments` binary instead ([`cli`]): users meet the
//! program through its command line, its folders and a real file system.

mod binary;
mod cli;
mod cli_dirs;
mod cli_train;
mod images;
mod run_dir;
mod text;

use std::path::Path;

use crate::mutate::Rng;

/// What an entry point did with an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted (and the oracle found it sound).
    Accepted,
    /// Refused with an error.
    Refused,
}

impl<T, E> From<&Result<T, E>> for Verdict {
    fn from(result: &Result<T, E>) -> Self {
        match result {
            Ok(_) => Verdict::Accepted,
            Err(_) => Verdict::Refused,
        }
    }
}

/// One fuzz target.
pub trait Target {
    /// The valid inputs mutants start from.
    fn seeds(&self) -> &[Vec<u8>];
    /// A mutant of `seed`.
    fn mutate(&self, seed: &[u8], rng: &mut Rng) -> Vec<u8>;
    /// Runs the entry point on `input`; panics on a silent acceptance.
    fn run(&mut self, input: &[u8]) -> Verdict;
}

/// Every target, by name, with what it covers.
pub const TARGETS: [(&str, &str); 16] = [
    ("spec", "optimizer specs (OptimizerSpec::parse)"),
    (
        "config",
        "run configs, JSON and TOML (TrainConfig::from_file, check)",
    ),
    ("suite", "suite files (Suite::parse, check, runs)"),
    (
        "idx",
        "IDX images and labels, raw and gzipped (idx_image_set)",
    ),
    (
        "cifar",
        "CIFAR-10 binary batches and class names in a folder (read_cifar10)",
    ),
    (
        "cifar-archive",
        "CIFAR-10 .tar.gz: tar headers, gzip stream and trailer (read_cifar10)",
    ),
    (
        "imagenette",
        "Imagenette folders of JPEGs (read_imagenette)",
    ),
    (
        "image-cache",
        "the decoded-image cache (read_imagenette with its cache)",
    ),
    (
        "run-dir",
        "run-directory files: summary, metrics, logs, fingerprint, sessions, config",
    ),
    (
        "report",
        "a suite directory's inputs to the report (read_suite_json, load_run, aggregate)",
    ),
    (
        "checkpoint",
        "checkpoints and fingerprint as --resume reads them (resume_point)",
    ),
    (
        "cli-flags",
        "the binary: `train --check` with hostile flags",
    ),
    (
        "cli-config",
        "the binary: `train --check --config` with a hostile JSON or TOML file",
    ),
    (
        "cli-suite",
        "the binary: `compare --check` of a hostile suite file against a suite directory",
    ),
    (
        "cli-data",
        "the binary: `train --check` on a hostile dataset tree (Fashion-MNIST, CIFAR-10)",
    ),
    (
        "cli-run-dir",
        "the binary: `train --resume` of a hostile run directory, trained for real",
    ),
];

/// Builds target `name`, its files written under `work`.
pub fn build(name: &str, work: &Path) -> anyhow::Result<Box<dyn Target>> {
    Ok(match name {
        "spec" => Box::new(text::Spec::new()),
        "config" => Box::new(text::Config::new(work)),
        "suite" => Box::new(text::SuiteFile::new()),
        "idx" => Box::new(binary::Idx::new()?),
        "cifar" => Box::new(binary::Cifar::new(work)?),
        "cifar-archive" => Box::new(binary::CifarArchive::new(work)?),
        "imagenette" => Box::new(images::Folder::new(work)?),
        "image-cache" => Box::new(images::Cache::new(work)?),
        "run-dir" => Box::new(run_dir::RunDir::new(work)?),
        "report" => Box::new(run_dir::Report::new(work)?),
        "checkpoint" => Box::new(run_dir::Checkpoint::new(work)?),
        "cli-flags" => Box::new(cli_train::Flags::new(work)?),
        "cli-config" => Box::new(cli_train::Config::new(work)?),
        "cli-suite" => Box::new(cli_dirs::SuiteCheck::new(work)?),
        "cli-data" => Box::new(cli_dirs::Data::new(work)?),
        "cli-run-dir" => Box::new(cli_dirs::Resume::new(work)?),
        _ => anyhow::bail!(
            "unknown target `{name}`; the targets: {}",
            TARGETS.map(|(n, _)| n).join(", ")
        ),
    })
}

/// A file choice and its bytes: targets over several files prefix the mutated file's index.
pub fn split_choice(input: &[u8], files: usize) -> (usize, &[u8]) {
    match input.split_first() {
        Some((&choice, rest)) => (choice as usize % files, rest),
        None => (0, input),
    }
}

/// `bytes` prefixed with file index `choice`.
pub fn with_choice(choice: usize, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![choice as u8];
    out.extend_from_slice(bytes);
    out
}
