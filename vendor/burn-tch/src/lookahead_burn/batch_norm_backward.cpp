// lookahead-burn patch: LibTorch's fused batch-norm backward (`at::native_batch_norm_backward`,
// what PyTorch's autograd runs for BatchNorm in training mode). tch 0.22 does not wrap it; the
// forward is tch's `native_batch_norm`.
#include <ATen/ATen.h>
#include <cstring>

extern "C" {
// The gradients of a training-mode batch norm given the forward's saved mean and inverse
// standard deviation: `want[i]` asks for the input's (0), the weight's (1), the bias's (2).
// Handles are tch's (`at::Tensor *`); the results are new handles owned by the caller. Returns
// null on success, or an error message to be freed with `free`.
char *lookahead_burn_batch_norm_backward(void *grad_output, void *input, void *weight,
                                         void *save_mean, void *save_invstd, double eps,
                                         const int *want, void **grads);
}

char *lookahead_burn_batch_norm_backward(void *grad_output, void *input, void *weight,
                                         void *save_mean, void *save_invstd, double eps,
                                         const int *want, void **grads) {
  try {
    const at::Tensor &g = *static_cast<at::Tensor *>(grad_output);
    const at::Tensor &x = *static_cast<at::Tensor *>(input);
    const at::Tensor &w = *static_cast<at::Tensor *>(weight);
    const at::Tensor &mean = *static_cast<at::Tensor *>(save_mean);
    const at::Tensor &invstd = *static_cast<at::Tensor *>(save_invstd);
    std::array<bool, 3> mask = {want[0] != 0, want[1] != 0, want[2] != 0};
    auto out = at::native_batch_norm_backward(g, x, w, c10::nullopt, c10::nullopt, mean, invstd,
                                              true, eps, mask);
    grads[0] = mask[0] ? new at::Tensor(std::get<0>(out)) : nullptr;
    grads[1] = mask[1] ? new at::Tensor(std::get<1>(out)) : nullptr;
    grads[2] = mask[2] ? new at::Tensor(std::get<2>(out)) : nullptr;
    return nullptr;
  } catch (const std::exception &e) {
    return strdup(e.what());
  }
}
