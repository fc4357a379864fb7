//! One training run through burn-train's `SupervisedTraining`/`Learner`, in named stages:
//!
//! | stage | file | what |
//! | --- | --- | --- |
//! | entry | `train.rs` | [`train`]: the stages below, in order; [`check`]: prepare alone, nothing written |
//! | prepare | `prepare.rs` | every local check, the directory lock, [`setup`](setup::RunSetup), the resume point; over nodes, their agreement |
//! | setup | `setup.rs` | data, model, optimizer, loaders and schedule, built before the directory is touched |
//! | schedule | `schedule.rs` | the config's schedule as `lookahead-optim`'s `AnySchedule` |
//! | checkpoint | `checkpoint.rs` | an epoch's checkpoint loaded and checked against the run (shapes, parameter ids) |
//! | resume | `resume.rs` | the newest checkpoint that loads, refused directory states, the directory made ready |
//! | launch | `launch.rs` | burn-train's training loop, with the divergence guard and the progress lines |
//! | finish | `finish.rs` | `metrics.csv`, `train_loss.csv` and `summary.json` from the session's logs |
//! | logger | `logger.rs` | burn-train's metric logger with a resumed run's epoch numbers corrected |
//!
//! The files a run directory holds, and which are written atomically, are described in
//! `study::run_dir`.

mod atomic_recorder;
mod checkpoint;
mod epoch_logs;
mod finish;
mod launch;
mod logger;
mod options;
mod prepare;
mod resume;
mod schedule;
mod setup;
mod train;

pub use atomic_recorder::AtomicMpkRecorder;
pub use checkpoint::CheckpointRecorder;
pub use finish::read_metrics;
pub use options::RunOptions;
pub use resume::{ResumePoint, resume_point};
pub use schedule::run_schedule;
pub use setup::RunSetup;
pub use train::{Plan, check, train};
