mod activation;
mod base;
mod bool_tensor;
mod int_tensor;
mod module;
// lookahead-burn patch: LibTorch's convolution backward.
#[cfg(lookahead_burn_native_conv)]
mod native_conv;
mod qtensor;
mod tensor;
mod transaction;

pub(crate) use base::*;
