//! The experiments of lookahead-burn: optimizer specs (this part has landed), training with
//! burn-train's `Learner`, comparison suites and reports (to come, see the README).

pub mod any_optim;
pub mod spec;
