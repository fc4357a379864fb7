//! The schedule of a run: its config's [`Schedule`] as `lookahead-optim`'s [`AnySchedule`]
//! (the crate's one run-time scheduler), with the momentum of each step sent to the
//! optimizer through [`ScheduledMomentum`] when the config cycles it (`moms`).

use std::sync::Arc;

use lookahead_optim::{AnySchedule, Curve, FlatCosConfig, OneCycleConfig, StepDecayConfig};
use study::config::{Schedule, TrainConfig};

use crate::channels::ScheduledMomentum;

/// The schedule of `config` over `num_iters` optimizer steps of which `per_epoch` make an
/// epoch, writing the cycled momentum (if `config.moms`) to `momentum`.
pub fn run_schedule(
    config: &TrainConfig,
    num_iters: usize,
    per_epoch: usize,
    momentum: Option<ScheduledMomentum>,
) -> anyhow::Result<AnySchedule> {
    let one_cycle = |c: OneCycleConfig| -> anyhow::Result<Curve> {
        let c = match config.moms {
            Some(m) => c.with_moms((m.high, m.low)),
            None => c,
        };
        Ok(Curve::OneCycle(c.init()?))
    };
    let curve = match config.schedule {
        Schedule::OneCycle => one_cycle(OneCycleConfig::new(config.lr_max, num_iters))?,
        Schedule::OneCycleV1 => one_cycle(OneCycleConfig::fastai_v1(config.lr_max, num_iters))?,
        Schedule::FlatCos => Curve::FlatCos(FlatCosConfig::new(config.lr_max, num_iters).init()?),
        Schedule::StepDecay => Curve::StepDecay(
            StepDecayConfig::on_epoch_ends(config.lr_max, &config.lr_decay_epochs.0, per_epoch)
                .with_factor(config.lr_decay_factor)
                .init()?,
        ),
        Schedule::Constant => Curve::Constant(config.lr_max),
    };
    let schedule = AnySchedule::new(curve);
    Ok(match (config.moms, momentum) {
        (Some(_), Some(handle)) => schedule.with_momentum_hook(Arc::new(move |m| handle.set(m))),
        _ => schedule,
    })
}

/// The cycled momentum at the end of each of the first `epochs` epochs (empty without `moms`):
/// the run's schedule stepped on its own, for the record (TensorBoard's `epoch/momentum`).
pub fn epoch_momenta(
    config: &TrainConfig,
    per_epoch: usize,
    epochs: usize,
) -> anyhow::Result<Vec<(usize, f64)>> {
    if config.moms.is_none() || per_epoch == 0 {
        return Ok(Vec::new());
    }
    let handle = ScheduledMomentum::default();
    let mut schedule = run_schedule(
        config,
        config.epochs * per_epoch,
        per_epoch,
        Some(handle.clone()),
    )?;
    let mut momenta = Vec::new();
    for epoch in 1..=epochs.min(config.epochs) {
        for _ in 0..per_epoch {
            burn::optim::lr_scheduler::LrScheduler::step(&mut schedule);
        }
        if let Some(m) = handle.get() {
            momenta.push((epoch, m));
        }
    }
    Ok(momenta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::optim::lr_scheduler::LrScheduler;
    use study::config::Moms;

    /// With `moms`, each step writes the momentum of its iteration to the handle the optimizer
    /// reads (fastai v1's cycle: 0.95 at the start, 0.85 at the peak); without it, nothing.
    #[test]
    fn the_schedule_cycles_the_momentum_only_with_moms() {
        let config = TrainConfig::new()
            .with_schedule(Schedule::OneCycleV1)
            .with_lr_max(0.1)
            .with_moms(Some(Moms {
                high: 0.95,
                low: 0.85,
            }));
        let handle = ScheduledMomentum::default();
        let mut schedule = run_schedule(&config, 100, 10, Some(handle.clone())).unwrap();
        let values: Vec<(f64, f64)> = (0..31)
            .map(|_| (schedule.step(), handle.get().unwrap()))
            .collect();
        assert!((values[0].0 - 0.1 / 25.0).abs() < 1e-15 && values[0].1 == 0.95);
        assert!((values[30].0 - 0.1).abs() < 1e-15 && (values[30].1 - 0.85).abs() < 1e-15);
        let plain = ScheduledMomentum::default();
        let mut schedule = run_schedule(
            &config.clone().with_moms(None),
            100,
            10,
            Some(plain.clone()),
        )
        .unwrap();
        schedule.step();
        assert_eq!(plain.get(), None);
    }

    /// The momentum recorded per epoch follows the cycle: 0.85 at the peak (30 % of 10 epochs
    /// of 10 steps: the end of epoch 3), back to 0.95 at the end.
    #[test]
    fn epoch_momenta_follow_the_cycle() {
        let config = TrainConfig::new()
            .with_schedule(Schedule::OneCycleV1)
            .with_epochs(10)
            .with_moms(Some(Moms {
                high: 0.95,
                low: 0.85,
            }));
        let m = epoch_momenta(&config, 10, 10).unwrap();
        assert_eq!(m.len(), 10);
        assert!((m[2].1 - 0.85).abs() < 1e-3, "{m:?}");
        assert!((m[9].1 - 0.95).abs() < 1e-3, "{m:?}");
        assert!(
            epoch_momenta(&config.with_moms(None), 10, 10)
                .unwrap()
                .is_empty()
        );
    }

    /// `step-decay`: ÷ `lr_decay_factor` from the first iteration after each listed epoch.
    #[test]
    fn step_decay_divides_after_the_listed_epochs() {
        let config = TrainConfig::new()
            .with_schedule(Schedule::StepDecay)
            .with_lr_max(0.1)
            .with_lr_decay_epochs("1,3".parse().unwrap());
        let mut schedule = run_schedule(&config, 50, 10, None).unwrap();
        let lrs: Vec<f64> = (0..50).map(|_| schedule.step()).collect();
        assert_eq!((lrs[19], lrs[20]), (0.1, 0.1 / 5.0));
        assert_eq!((lrs[39], lrs[40]), (0.1 / 5.0, 0.1 / 5.0 / 5.0));
    }
}
