//! The optimizer a run steps, in one owner.
//!
//! * [`Inner`] (`inner.rs`): the inner optimizer of a spec (SGD, Adam, AdamW, RMSProp, RAdam),
//!   with fastai v1's scheduled momentum and true weight decay.
//! * [`BuildOptimizer`] (`build.rs`): a `study` [`OptimizerSpec`](study::spec::OptimizerSpec)
//!   built into [`StudyOptimizer`], `Lookahead<Inner>` adapted by Burn.
//! * [`RunOptimizer`] (`run_optimizer.rs`): what burn-train's `Learner` steps: the nodes'
//!   exchange and stop vote → the spec's optimizer (inner step, Lookahead sync) → the
//!   slow-weight snapshot for validation.
//!
//! The values that reach these from outside burn-train's interfaces (the scheduled momentum,
//! the slow-weight slot) are in [`crate::channels`].

mod build;
mod inner;
mod run_optimizer;

pub use build::{BuildOptimizer, StepExtras, StudyOptimizer, lookahead_config};
pub use inner::{Inner, InnerState};
pub use run_optimizer::RunOptimizer;
