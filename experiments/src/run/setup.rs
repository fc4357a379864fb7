//! Setup: everything a run trains with (data, model, optimizer, loaders, schedule), built and
//! checked before the run directory is touched.

use anyhow::bail;
use burn::tensor::backend::AutodiffBackend;
use lookahead_optim::AnySchedule;
use study::config::{EvalWeights, TrainConfig};

use super::schedule::run_schedule;
use crate::channels::{ScheduledMomentum, SlowSlot};
use crate::datasets::{self, RunData};
use crate::loader::{EpochLoader, Shard};
use crate::model::{BuildModel, Classifier, check_precision};
use crate::optim::{BuildOptimizer, RunOptimizer, StepExtras};

/// Each of `devices` replicas' batch: the global batch split evenly (an error naming the field
/// when it does not divide).
fn local_batch(batch_size: usize, devices: usize) -> anyhow::Result<usize> {
    let devices = devices.max(1);
    if !batch_size.is_multiple_of(devices) || batch_size < devices {
        bail!(
            "field `batch_size`: {batch_size} does not split evenly over {devices} devices (each \
             device takes batch_size / devices images per step, so the global batch stays the \
             recipe's); choose a multiple of {devices}"
        );
    }
    Ok(batch_size / devices)
}

/// Everything a run trains with, built (and checked) before the run directory is touched.
pub struct RunSetup<B: AutodiffBackend> {
    /// The data.
    pub data: RunData,
    /// The model.
    pub model: Classifier<B>,
    /// Its trainable parameters.
    pub parameters: usize,
    /// The optimizer.
    pub optim: RunOptimizer<B>,
    /// The training loader.
    pub train_loader: EpochLoader<B>,
    /// The validation loader.
    pub valid_loader: EpochLoader<B::InnerBackend>,
    /// Optimizer steps per epoch (one global batch per step, split over the devices).
    pub per_epoch: usize,
    /// The schedule.
    pub schedule: AnySchedule,
}

impl<B: AutodiffBackend> RunSetup<B> {
    /// Loads the data and builds the model, optimizer, loaders and schedule of `config`
    /// (this process's `shard` of each batch, built ahead on `workers` threads).
    pub fn new(
        config: &TrainConfig,
        devices: &[B::Device],
        shard: Shard,
        workers: usize,
    ) -> anyhow::Result<Self> {
        let device = devices[0].clone();
        let data: RunData = datasets::load(config)?;
        check_precision::<B>(config.precision, &device)?;
        B::seed(&device, config.seed);
        let net =
            config
                .model
                .build_seeded::<B>(data.classes, data.channels, config.seed, &device)?;
        let parameters = net.param_count();
        let local_batch = local_batch(config.batch_size, devices.len())?;
        let mut model = Classifier::new(
            net,
            config.label_smoothing,
            config.precision,
            config.effective_loss_scale(),
        )
        .on_devices(devices.len());
        let momentum = config.moms.map(|_| ScheduledMomentum::default());
        let extras = StepExtras {
            momentum: momentum.clone(),
            true_weight_decay: config.true_weight_decay,
        };
        let optim = config
            .optimizer_spec()
            .build_with::<B, Classifier<B>>(&extras)?;
        let train_loader = EpochLoader::<B>::train(
            data.train.clone(),
            data.train_indices.clone(),
            data.train_batcher.clone(),
            local_batch,
            device.clone(),
        )
        .sharded(shard)
        .with_workers(workers);
        let valid_loader = EpochLoader::<B::InnerBackend>::valid(
            data.valid.clone(),
            data.valid_indices.clone(),
            data.valid_batcher.clone(),
            config.batch_size,
            device,
        )
        .with_workers(workers);
        // With n devices, each optimizer step takes one batch of batch_size/n per device
        // (burn-train's multi-device strategy deals the epoch's batches out to them and sums
        // their gradients, each a 1/n share): the global batch, and so the schedule, are the
        // recipe's whatever the device count.
        let per_epoch = train_loader.batches_per_epoch() / devices.len();
        if per_epoch == 0 {
            bail!(
                "field `batch_size`: {} images are less than one batch of {}",
                data.train_indices.len(),
                config.batch_size
            );
        }
        let schedule = run_schedule(config, config.epochs * per_epoch, per_epoch, momentum)?;
        let slot = (config.eval_weights == EvalWeights::Slow).then(SlowSlot::default);
        if let Some(slot) = &slot {
            model.slow = slot.clone();
        }
        let optim = RunOptimizer::new(optim, per_epoch, slot);
        Ok(Self {
            data,
            model,
            parameters,
            optim,
            train_loader,
            valid_loader,
            per_epoch,
            schedule,
        })
    }
}
