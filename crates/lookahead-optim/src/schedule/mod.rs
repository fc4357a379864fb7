//! fastai's learning-rate schedules as Burn [`LrScheduler`](burn::optim::lr_scheduler::LrScheduler)s.

mod any;
mod flat_cos;
mod one_cycle;
mod shape;
mod step_decay;

pub use any::{AnySchedule, Curve, MomentumHook};
pub use flat_cos::{FlatCos, FlatCosConfig};
pub use one_cycle::{OneCycle, OneCycleConfig, PhaseSplit};
pub use step_decay::{StepDecay, StepDecayConfig};

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::optim::lr_scheduler::LrScheduler;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12 * b.abs().max(1e-3)
    }

    /// Reference values from fastai's formula, evaluated in Python:
    /// `sc(s,e,p) = s + (1 + cos(pi*(1-p)))*(e-s)/2`, pos = i/100.
    #[test]
    fn one_cycle_matches_fastai() {
        let sched = OneCycleConfig::new(0.1, 100).init().unwrap();
        for (iter, lr) in [
            (0, 0.004),                  // lr_max / div
            (10, 0.037167184270002526),  // warm-up, pos 0.1
            (25, 0.1),                   // peak at pct_start
            (50, 0.07500025000000002),   // half-way down
            (99, 4.485805647212737e-05), // last iteration
        ] {
            assert!(
                close(sched.lr_at(iter), lr),
                "iter {iter}: {} vs {lr}",
                sched.lr_at(iter)
            );
        }
        assert!(close(sched.lr_at(100), 0.1 / 1e5), "end = lr_max/div_final");
        assert!(
            close(sched.lr_at(1000), 0.1 / 1e5),
            "stays there past the end"
        );
        // Monotone up to the peak, then down.
        assert!((1..=25).all(|i| sched.lr_at(i) > sched.lr_at(i - 1)));
        assert!((26..100).all(|i| sched.lr_at(i) < sched.lr_at(i - 1)));
    }

    /// Reference values from fastai 1.0.59's `OneCycleScheduler`, `Scheduler` and
    /// `annealing_cos` transcribed into Python (the lr and momentum each batch steps with, for
    /// `fit_one_cycle(max_lr = 0.1)` over n batches), including a phase split that is not a
    /// whole number of iterations (n = 37: a1 = ⌊11.1⌋) and an empty warm-up (n = 3: a1 = 0,
    /// which fastai runs as a one-step warm-up).
    #[test]
    fn one_cycle_v1_matches_fastai_1_0_59() {
        // (n, [(iteration, lr, momentum)]).
        type Rows = &'static [(usize, f64, f64)];
        let cases: [(usize, Rows); 3] = [
            (
                100,
                &[
                    (0, 0.004, 0.95),
                    (10, 0.027999999999999997, 0.9249999999999999),
                    (29, 0.09973705097767713, 0.8502739052315863),
                    (30, 0.1, 0.85),
                    (31, 0.09994965352845243, 0.8500503466729342),
                    (65, 0.0500002, 0.8999999999999999),
                    (99, 5.07464715475788e-05, 0.9499496533270657),
                ],
            ),
            (
                37,
                &[
                    (0, 0.004, 0.95),
                    (5, 0.04516888776288231, 0.9071157419136642),
                    (11, 0.1, 0.85),
                    (12, 0.09963544516312788, 0.8503645562950973),
                    (36, 0.000364954836872121, 0.9496354437049026),
                ],
            ),
            (
                3,
                &[(0, 0.004, 0.95), (1, 0.1, 0.85), (2, 0.0750001, 0.875)],
            ),
        ];
        for (n, rows) in cases {
            let sched = OneCycleConfig::fastai_v1(0.1, n).init().unwrap();
            for &(iter, lr, mom) in rows {
                assert!(
                    close(sched.lr_at(iter), lr),
                    "n {n} iter {iter}: lr {}",
                    sched.lr_at(iter)
                );
                let got = sched.momentum_at(iter);
                assert!(
                    close(got, mom),
                    "n {n} iter {iter}: momentum {got} vs {mom}"
                );
            }
            // Past the end it stays at lr_max / 2.5e5 and the first momentum.
            assert!(close(sched.lr_at(n + 5), 0.1 / 25e4));
            assert!(close(sched.momentum_at(n + 5), 0.95));
        }
    }

    /// fastai v2's momentum (`combined_cos(pct_start, 0.95, 0.85, 0.95)`) on the v2 phases.
    #[test]
    fn one_cycle_v2_momentum_mirrors_the_lr() {
        let sched = OneCycleConfig::new(0.1, 100).init().unwrap();
        assert!(close(sched.momentum_at(0), 0.95));
        assert!(close(sched.momentum_at(25), 0.85));
        // pos 0.1: sc(0.95, 0.85, 0.4) = 0.95 + (1 + cos(0.6π))·(−0.1)/2.
        let expected = 0.95 + (1.0 + (0.6 * std::f64::consts::PI).cos()) * -0.05;
        assert!(close(sched.momentum_at(10), expected));
        assert!(close(sched.momentum_at(100), 0.95));
        let err = OneCycleConfig::new(0.1, 10)
            .with_moms((1.0, 0.85))
            .init()
            .unwrap_err();
        assert!(err.to_string().contains("`moms.0`"), "{err}");
    }

    #[test]
    fn flat_cos_matches_fastai() {
        let sched = FlatCosConfig::new(0.1, 100).init().unwrap();
        for (iter, lr) in [
            (0, 0.1),
            (74, 0.1),
            (75, 0.1),
            (90, 0.03454980478974981),
            (99, 0.0003952609916267752),
        ] {
            assert!(
                close(sched.lr_at(iter), lr),
                "iter {iter}: {} vs {lr}",
                sched.lr_at(iter)
            );
        }
        assert!(close(sched.lr_at(100), 0.1 / 1e5));
    }

    #[test]
    fn step_follows_lr_at_and_resumes_from_its_record() {
        let mut sched = OneCycleConfig::new(0.01, 50)
            .with_pct_start(0.3)
            .init()
            .unwrap();
        let mut fresh = sched.clone();
        let first: Vec<f64> = (0..20).map(|_| sched.step()).collect();
        assert!(
            first
                .iter()
                .enumerate()
                .all(|(i, lr)| *lr == fresh.lr_at(i))
        );
        let record = LrScheduler::to_record::<NdArray>(&sched);
        assert_eq!(record, 20);
        fresh = fresh.load_record::<NdArray>(record);
        for _ in 0..40 {
            assert_eq!(fresh.step(), sched.step());
        }
        let mut flat = FlatCosConfig::new(0.01, 10).init().unwrap();
        (0..8).for_each(|_| {
            flat.step();
        });
        let mut resumed = FlatCosConfig::new(0.01, 10)
            .init()
            .unwrap()
            .load_record::<NdArray>(flat.to_record::<NdArray>());
        assert_eq!(resumed.step(), flat.step());
    }

    #[test]
    fn invalid_schedules_name_the_field() {
        let err = OneCycleConfig::new(0.0, 10).init().unwrap_err();
        assert!(err.to_string().contains("`lr_max`"), "{err}");
        let err = OneCycleConfig::new(0.1, 0).init().unwrap_err();
        assert!(err.to_string().contains("`num_iters`"), "{err}");
        let err = OneCycleConfig::new(0.1, 10)
            .with_pct_start(1.0)
            .init()
            .unwrap_err();
        assert!(err.to_string().contains("`pct_start`"), "{err}");
        let err = FlatCosConfig::new(0.1, 10)
            .with_div_final(0.0)
            .init()
            .unwrap_err();
        assert!(err.to_string().contains("`div_final`"), "{err}");
    }
}
