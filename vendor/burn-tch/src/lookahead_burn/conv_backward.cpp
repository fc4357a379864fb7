// lookahead-burn patch: LibTorch's own convolution backward (`at::convolution_backward`, the
// kernel PyTorch's autograd runs: oneDNN on CPU, cuDNN on CUDA) for Burn's
// `conv2d_x_backward`/`conv2d_weight_backward`, which burn-tch 0.21 leaves to Burn's generic
// composition (a transposed convolution for the input gradient, a convolution of the input by
// the output gradient for the weight gradient). tch 0.22 does not wrap this function.
#include <ATen/ATen.h>
#include <cstdint>
#include <cstring>

extern "C" {
// Computes the input gradient (`want_input`) and/or the weight gradient (`want_weight`) of a
// 2-d convolution. The handles are tch's (`at::Tensor *`); the results are new handles owned
// by the caller. Returns null on success, or an error message to be freed with `free`.
char *lookahead_burn_conv2d_backward(void *grad_output, void *input, void *weight,
                                     const int64_t *stride, const int64_t *padding,
                                     const int64_t *dilation, int64_t groups, int want_input,
                                     int want_weight, void **grad_input, void **grad_weight);
}

char *lookahead_burn_conv2d_backward(void *grad_output, void *input, void *weight,
                                     const int64_t *stride, const int64_t *padding,
                                     const int64_t *dilation, int64_t groups, int want_input,
                                     int want_weight, void **grad_input, void **grad_weight) {
  try {
    const at::Tensor &g = *static_cast<at::Tensor *>(grad_output);
    const at::Tensor &x = *static_cast<at::Tensor *>(input);
    const at::Tensor &w = *static_cast<at::Tensor *>(weight);
    const int64_t output_padding[2] = {0, 0};
    std::array<bool, 3> mask = {want_input != 0, want_weight != 0, false};
    auto grads = at::convolution_backward(
        g, x, w, c10::nullopt, at::IntArrayRef(stride, 2), at::IntArrayRef(padding, 2),
        at::IntArrayRef(dilation, 2), false, at::IntArrayRef(output_padding, 2), groups, mask);
    if (want_input) *grad_input = new at::Tensor(std::get<0>(grads));
    if (want_weight) *grad_weight = new at::Tensor(std::get<1>(grads));
    return nullptr;
  } catch (const std::exception &e) {
    return strdup(e.what());
  }
}
