//! lookahead-burn patch: LibTorch's fused batch norm (training mode), forward and backward, for
//! a custom autodiff op outside this crate (Burn's backend traits have no batch-norm op to
//! override). Forward: tch's `native_batch_norm`; backward: `at::native_batch_norm_backward`
//! through `src/lookahead_burn/batch_norm_backward.cpp`, compiled by `build.rs`.

use crate::TchTensor;
use std::ffi::{CStr, c_char, c_int, c_void};

unsafe extern "C" {
    fn lookahead_burn_batch_norm_backward(
        grad_output: *mut c_void,
        input: *mut c_void,
        weight: *mut c_void,
        save_mean: *mut c_void,
        save_invstd: *mut c_void,
        eps: f64,
        want: *const c_int,
        grads: *mut *mut c_void,
    ) -> *mut c_char;
    fn free(ptr: *mut c_void);
}

/// Training-mode batch norm of `x` (`[N, C, …]`) with `weight` (γ) and `bias` (β), `[C]` each:
/// `(y, mean, invstd)`, the batch's mean and `1/√(σ² + eps)` (σ² biased) per channel.
pub fn batch_norm_train(
    x: &TchTensor,
    weight: &TchTensor,
    bias: &TchTensor,
    eps: f64,
) -> (TchTensor, TchTensor, TchTensor) {
    let (y, mean, invstd) = x.tensor.native_batch_norm(
        Some(&weight.tensor),
        Some(&bias.tensor),
        None::<&tch::Tensor>,
        None,
        true,
        0.0,
        eps,
    );
    (TchTensor::new(y), TchTensor::new(mean), TchTensor::new(invstd))
}

/// The gradients of [`batch_norm_train`] given the output's: `[x, weight, bias]`, each computed
/// when `want` asks for it.
pub fn batch_norm_backward(
    grad_output: &TchTensor,
    x: &TchTensor,
    weight: &TchTensor,
    mean: &TchTensor,
    invstd: &TchTensor,
    eps: f64,
    want: [bool; 3],
) -> [Option<TchTensor>; 3] {
    let want = want.map(c_int::from);
    let mut grads: [*mut c_void; 3] = [std::ptr::null_mut(); 3];
    let handle = |t: &TchTensor| t.tensor.as_ptr() as *mut c_void;
    // SAFETY: the five handles are live `at::Tensor *` owned by their `tch::Tensor`s for the
    // whole call and only read; `want` and `grads` hold 3 values; the function writes a new
    // handle for each requested gradient (null otherwise), or returns a `strdup`ed message.
    let error = unsafe {
        lookahead_burn_batch_norm_backward(
            handle(grad_output),
            handle(x),
            handle(weight),
            handle(mean),
            handle(invstd),
            eps,
            want.as_ptr(),
            grads.as_mut_ptr(),
        )
    };
    if !error.is_null() {
        // SAFETY: a NUL-terminated string from `strdup`, freed once after it is copied.
        let message = unsafe { CStr::from_ptr(error) }.to_string_lossy().into_owned();
        unsafe { free(error as *mut c_void) };
        panic!("LibTorch native_batch_norm_backward: {message}");
    }
    grads.map(|g| {
        // SAFETY: a new `at::Tensor *` whose ownership passes to the `tch::Tensor`.
        (!g.is_null()).then(|| TchTensor::new(unsafe { tch::Tensor::from_ptr(g as *mut torch_sys::C_tensor) }))
    })
}
