"""PyTorch reference for `cargo bench -p models --bench profile`: the CIFAR ResNet-18 training
step's op families, timed exactly as profile.rs times them on Burn's backends (same shapes, same
definitions; see profile.rs), on native PyTorch. Prints one line
`families_ms=<conv fwd>,<conv bwd input>,<conv bwd weight>,<bn>,<relu+add>,<optimizer>,<rest>,<step>`.

    python3 benches/torch_profile.py --batch 64 --reps 2
"""
import argparse
import time

import torch
import torch.nn.functional as F
import torchvision


def resnet18_convs():
    """(cin, cout, kernel, stride, side) of the CIFAR ResNet-18's 20 convolutions."""
    convs = [(3, 64, 3, 1, 32)] + [(64, 64, 3, 1, 32)] * 4
    for channels, side in [(128, 32), (256, 16), (512, 8)]:
        convs.append((channels // 2, channels, 3, 2, side))
        convs += [(channels, channels, 3, 1, side // 2)] * 3
        convs.append((channels // 2, channels, 1, 2, side))
    return convs


def seconds(reps, f):
    f()
    start = time.perf_counter()
    for _ in range(reps):
        f()
    return (time.perf_counter() - start) / reps


def conv_families(batch, reps):
    total = [0.0, 0.0, 0.0]
    for i, (cin, cout, k, s, side) in enumerate(resnet18_convs()):
        x = torch.randn(batch, cin, side, side)
        w = torch.randn(cout, cin, k, k)
        g = torch.randn(batch, cout, side // s, side // s)
        pad = k // 2

        def backward(mask):
            return torch.ops.aten.convolution_backward(
                g, x, w, None, [s, s], [pad, pad], [1, 1], False, [0, 0], 1, mask
            )

        with torch.no_grad():
            total[0] += seconds(reps, lambda: F.conv2d(x, w, None, s, pad))
            if i > 0:
                total[1] += seconds(reps, lambda: backward([True, False, False]))
            total[2] += seconds(reps, lambda: backward([False, True, False]))
    return total


def autodiff_seconds(shape, reps, f):
    x = torch.randn(*shape, requires_grad=True)
    g = torch.randn(*shape)

    def run():
        (f(x) * g).sum().backward()
        x.grad = None

    return seconds(reps, run)


def elementwise_families(batch, reps):
    total = [0.0, 0.0]
    for i, (cin, cout, k, s, side) in enumerate(resnet18_convs()):
        shape = (batch, cout, side // s, side // s)
        norm = torch.nn.BatchNorm2d(cout).train()
        total[0] += autodiff_seconds(shape, reps, norm)
        if k != 1:
            residual = i > 0 and i % 2 == 0
            other = torch.randn(*shape)
            total[1] += autodiff_seconds(
                shape, reps, lambda x: F.relu(x + other if residual else x)
            )
    return total


def step_seconds(batch, reps):
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10)
    model.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    model.maxpool = torch.nn.Identity()
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()

    def gradients():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()

    optimizer = 0.0
    for rep in range(reps + 1):
        gradients()
        start = time.perf_counter()
        opt.step()
        if rep > 0:
            optimizer += (time.perf_counter() - start) / reps

    def whole():
        gradients()
        opt.step()

    return optimizer, seconds(reps, whole)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    families = conv_families(args.batch, args.reps)
    families += elementwise_families(args.batch, args.reps)
    optimizer, step = step_seconds(args.batch, args.reps)
    families.append(optimizer)
    families.append(step - sum(families))
    families.append(step)
    print("families_ms=" + ",".join(f"{1e3 * f:.3f}" for f in families))


if __name__ == "__main__":
    main()
