//! The entry of one run: [`train`] runs the stages in order: prepare (checks, lock, setup,
//! resume point; nodes agree) → the directory made ready → launch (burn-train) → finish.

use std::path::Path;

use anyhow::bail;
use burn::tensor::backend::AutodiffBackend;
use study::config::TrainConfig;
use study::run_dir::{BackendInfo, RunStatus, Summary, write_backend, write_fingerprint};

use super::launch::launch;
use super::options::RunOptions;
use super::prepare::{Prepared, join_and_agree};
use super::resume::{copy_checkpoint, prepare_dir};

/// The config's own checks, and its global batch against the nodes × devices it splits over.
fn check_config(config: &TrainConfig, options: &RunOptions, devices: usize) -> anyhow::Result<()> {
    config.check()?;
    if let Some(spec) = &options.nodes
        && !config
            .batch_size
            .is_multiple_of(spec.nodes as usize * devices)
    {
        bail!(
            "field `batch_size`: {} is the global batch of the {} nodes × {} devices and must \
             divide by {}",
            config.batch_size,
            spec.nodes,
            devices,
            spec.nodes as usize * devices
        );
    }
    Ok(())
}

/// What a start of a run would do, as [`check`] found it.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The checkpoint epoch it would continue from (0 = a fresh start).
    pub resumed_from: usize,
    /// The run's epochs.
    pub epochs: usize,
    /// How the run already ended, when it has (nothing left to train).
    pub ended: Option<RunStatus>,
    /// Optimizer steps per epoch.
    pub per_epoch: usize,
    /// Training and validation images used.
    pub images: (usize, usize),
    /// Trainable parameters.
    pub parameters: usize,
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (train, valid) = self.images;
        match self.ended {
            Some(status) => write!(
                f,
                "the run has already ended ({status:?}): nothing to train"
            ),
            None => write!(
                f,
                "it would train {} of {} ({}, {} steps per epoch, {train} training and {valid} \
                 validation images, {} parameters)",
                match self.epochs - self.resumed_from {
                    1 => format!("epoch {}", self.epochs),
                    _ => format!("epochs {}–{}", self.resumed_from + 1, self.epochs),
                },
                self.epochs,
                match self.resumed_from {
                    0 => "a fresh start".to_string(),
                    e => format!("from the checkpoint of epoch {e}"),
                },
                self.per_epoch,
                self.parameters
            ),
        }
    }
}

/// Every check a start of the run in `dir` makes (config, data on disk, model, devices, the
/// directory's state, the checkpoint it would resume from), with nothing trained, written or
/// locked: `experiments train --check`. One process only (a multi-node run checks on each
/// node as it starts).
pub fn check<B: AutodiffBackend>(
    config: &TrainConfig,
    dir: &Path,
    options: &RunOptions,
    devices: Vec<B::Device>,
) -> anyhow::Result<Plan> {
    if devices.is_empty() {
        bail!("no device to train on");
    }
    if options.nodes.is_some() {
        bail!("a check runs in one process: drop --nodes (each node checks as it starts)");
    }
    check_config(config, options, devices.len())?;
    let options = RunOptions {
        check: true,
        ..options.clone()
    };
    let prepared = Prepared::<B>::new(config, dir, &options, &devices)?;
    Ok(Plan {
        resumed_from: prepared.resumed_from,
        epochs: config.epochs,
        ended: prepared.ended.map(|s| s.status),
        per_epoch: prepared.setup.per_epoch,
        images: (
            prepared.setup.data.train_indices.len(),
            prepared.setup.data.valid_indices.len(),
        ),
        parameters: prepared.setup.parameters,
    })
}

/// Trains one run in `dir` (created if needed, and locked for the run's life: a second writer
/// is refused, see [`crate::lock`]) and returns its summary (also written to
/// `dir/summary.json`). Every check (config, optimizer spec, data on disk, directory state)
/// happens before training; a NaN/inf loss ends the run as `RunStatus::Diverged`.
///
/// With `options.nodes`, this process is one node of a multi-node run ([`crate::nodes`]): the
/// nodes join, compare their configs, then train their shards with averaged gradients; node 0
/// writes `dir`, node `R > 0` works in `dir/node-R/` (its shard's logs and final weights).
pub fn train<B: AutodiffBackend>(
    config: &TrainConfig,
    dir: &Path,
    options: &RunOptions,
    devices: Vec<B::Device>,
    backend: BackendInfo,
) -> anyhow::Result<Summary> {
    let Some(device) = devices.first().cloned() else {
        bail!("no device to train on");
    };
    check_config(config, options, devices.len())?;
    // Every local check first; the nodes of a multi-node run then compare their configs and
    // whether each passed its checks, so that one node's refusal stops them all at once.
    let local = Prepared::<B>::new(config, dir, options, &devices);
    let link = match &options.nodes {
        Some(spec) => {
            let agreed = join_and_agree::<B>(spec, config, &backend, &device, &local);
            let link = local
                .as_ref()
                .map_err(|e| anyhow::anyhow!("{e:#}"))
                .and(agreed)?;
            Some(link)
        }
        None => None,
    };
    let mut prepared = local?;
    if let Some(summary) = prepared.ended.take() {
        return Ok(summary);
    }
    let resumed_from = prepared.resumed_from;
    prepare_dir(config, &prepared.work_dir, resumed_from)?;
    if prepared.writer {
        write_fingerprint(dir, &prepared.fingerprint)?;
        write_backend(dir, &backend)?;
        if let Some(sources) = &options.config_sources {
            let text = serde_json::to_string_pretty(sources)?;
            data::write_atomic(&dir.join("config_sources.json"), text.as_bytes())?;
        }
    } else if resumed_from > 0 {
        copy_checkpoint(dir, &prepared.work_dir, resumed_from)?;
    }
    prepared.setup.train_loader.set_epochs_done(resumed_from);
    prepared.setup.optim = prepared.setup.optim.with_link(link.clone());
    launch(
        config,
        prepared,
        options,
        &devices,
        backend,
        link.as_deref(),
    )
}
