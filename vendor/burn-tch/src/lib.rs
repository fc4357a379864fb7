#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![allow(clippy::single_range_in_vec_init)]

//! Burn Tch Backend

mod backend;
mod element;
mod ops;
mod tensor;

pub use backend::*;

/// lookahead-burn patch: LibTorch's fused training-mode batch norm (forward and backward), for a
/// custom autodiff op outside this crate; Burn's backend traits have no batch-norm op.
#[cfg(lookahead_burn_native_conv)]
pub mod lookahead_burn {
    pub use crate::ops::native_batch_norm::{batch_norm_backward, batch_norm_train};
}
pub use element::*;
pub use tensor::*;
