mod activation;
mod base;
mod bool_tensor;
mod int_tensor;
mod module;
// lookahead-burn patch: LibTorch's convolution backward.
#[cfg(lookahead_burn_native_conv)]
mod native_conv;
// lookahead-burn patch: LibTorch's batch norm, for `crate::lookahead_burn`.
#[cfg(lookahead_burn_native_conv)]
pub(crate) mod native_batch_norm;
mod qtensor;
mod tensor;
mod transaction;

pub(crate) use base::*;
