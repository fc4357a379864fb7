//! lookahead-burn patch: the gradients of `conv2d` through LibTorch's own
//! `at::convolution_backward` (oneDNN on CPU, cuDNN on CUDA), as PyTorch's autograd computes
//! them, instead of Burn's generic composition (a transposed convolution for the input
//! gradient; for the weight gradient, a convolution of the input by the output gradient with
//! batch and channels swapped, which LibTorch runs 3× slower than its backward kernel on CPU).
//! The C++ side is `src/lookahead_burn/conv_backward.cpp`, compiled by `build.rs`.

use crate::TchTensor;
use burn_backend::ops::ConvOptions;
use std::ffi::{CStr, c_char, c_int, c_void};

unsafe extern "C" {
    fn lookahead_burn_conv2d_backward(
        grad_output: *mut c_void,
        input: *mut c_void,
        weight: *mut c_void,
        stride: *const i64,
        padding: *const i64,
        dilation: *const i64,
        groups: i64,
        want_input: c_int,
        want_weight: c_int,
        grad_input: *mut *mut c_void,
        grad_weight: *mut *mut c_void,
    ) -> *mut c_char;
    fn free(ptr: *mut c_void);
}

/// Which gradient of the convolution to compute.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConvGrad {
    Input,
    Weight,
}

/// One gradient of `conv2d(x, weight)` given the output's gradient.
pub(crate) fn conv2d_backward(
    x: &TchTensor,
    weight: &TchTensor,
    output_grad: &TchTensor,
    options: &ConvOptions<2>,
    which: ConvGrad,
) -> TchTensor {
    let stride = options.stride.map(|v| v as i64);
    let padding = options.padding.map(|v| v as i64);
    let dilation = options.dilation.map(|v| v as i64);
    let mut grad_input: *mut c_void = std::ptr::null_mut();
    let mut grad_weight: *mut c_void = std::ptr::null_mut();
    // SAFETY: the three handles are live `at::Tensor *` owned by their `tch::Tensor`s for the
    // whole call and only read; the arrays hold 2 values each; the function writes a new
    // handle to the requested output only, or returns an error string allocated by `strdup`.
    let error = unsafe {
        lookahead_burn_conv2d_backward(
            output_grad.tensor.as_ptr() as *mut c_void,
            x.tensor.as_ptr() as *mut c_void,
            weight.tensor.as_ptr() as *mut c_void,
            stride.as_ptr(),
            padding.as_ptr(),
            dilation.as_ptr(),
            options.groups as i64,
            c_int::from(which == ConvGrad::Input),
            c_int::from(which == ConvGrad::Weight),
            &mut grad_input,
            &mut grad_weight,
        )
    };
    if !error.is_null() {
        // SAFETY: a NUL-terminated string from `strdup`, freed once after it is copied.
        let message = unsafe { CStr::from_ptr(error) }.to_string_lossy().into_owned();
        unsafe { free(error as *mut c_void) };
        panic!("LibTorch convolution_backward: {message}");
    }
    let handle = match which {
        ConvGrad::Input => grad_input,
        ConvGrad::Weight => grad_weight,
    };
    // SAFETY: a new `at::Tensor *` whose ownership passes to the `tch::Tensor`.
    TchTensor::new(unsafe { tch::Tensor::from_ptr(handle as *mut torch_sys::C_tensor) })
}
