#!/usr/bin/env python3
"""GPU planning on paper: the work and memory of each GPU suite, and its time on a data-centre GPU.

For each suite in crates/study/suites/ that needs a GPU: runs x epochs x training images
(image-epochs), the floating-point operations of one training step per image (forward and
backward, counted by PyTorch's FlopCounterMode on the same architecture), and the memory of one
training step, counted per component: the weights, their gradients, the optimizer's state (the
largest of the suite's arms: SGD's velocity, Adam's two moments, RMSProp's square average and
momentum, Lookahead's slow copy and Pullback's cache, all float32), and the activations of one
batch (each tensor autograd saves for the backward, counted once, the weights themselves left
out, at the suite's precision). Then the time at a stated fraction of a GPU's float32 peak.
`--measure` checks the activation count against the process's peak memory over one step on the
CPU. Needs torch and torchvision (the LibTorch venv has both: `cargo xtask setup libtorch`):

    ~/.cache/lookahead-burn/libtorch-2.9.0/bin/python scripts/gpu-plan.py

The models are PyTorch twins of this project's: torchvision's ResNet bodies, fastai v1's head,
the CIFAR ResNet-18 of the Lookahead paper, and XResNet-50 (three-convolution stem, average-pool
shortcuts); counts are per image, so they do not depend on the batch used to measure them.
"""
import re
import sys
import tomllib
from pathlib import Path

import torch
import torch.nn as nn
import torchvision
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parent.parent
TRAIN_IMAGES = {"cifar10": 50_000, "cifar100": 50_000, "imagenette": 9_469, "imagenette-320": 12_894}
CLASSES = {"cifar10": 10, "cifar100": 100, "imagenette": 10, "imagenette-320": 10}
# Native sizes; Imagenette trains at the recipe's image_size.
NATIVE = {"cifar10": 32, "cifar100": 32}
# NVIDIA H100 SXM, float32 (non-tensor-core) peak from its datasheet, and the fraction assumed.
PEAK_TFLOPS, UTILISATION = 67.0, 0.3


class FastaiHead(nn.Sequential):
    def __init__(self, features, classes):
        super().__init__(
            nn.Flatten(), nn.BatchNorm1d(2 * features), nn.Dropout(0.25),
            nn.Linear(2 * features, 512), nn.ReLU(), nn.BatchNorm1d(512), nn.Dropout(0.5),
            nn.Linear(512, classes))


class ConcatPool(nn.Module):
    def forward(self, x):
        return torch.cat([nn.functional.adaptive_max_pool2d(x, 1), nn.functional.adaptive_avg_pool2d(x, 1)], 1)


def fastai(body_fn, features, classes):
    body = body_fn(weights=None)
    body = nn.Sequential(*list(body.children())[:-2])
    return nn.Sequential(body, ConcatPool(), FastaiHead(features, classes))


class Basic(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False); self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False); self.b2 = nn.BatchNorm2d(cout)
        self.short = nn.Sequential()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        return torch.relu(self.b2(self.c2(y)) + self.short(x))


def resnet18_cifar(classes):
    layers, cin = [nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()], 64
    for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        layers += [Basic(cin, cout, stride), Basic(cout, cout, 1)]; cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, classes))


def xresnet50(classes):
    # fastai's stem (three 3x3 convolutions) on torchvision's bottleneck stages.
    net = torchvision.models.resnet50(weights=None, num_classes=classes)
    stem = nn.Sequential(
        nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
    return nn.Sequential(stem, net.layer1, net.layer2, net.layer3, net.layer4,
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), net.fc)


MODELS = {
    "resnet18-cifar": resnet18_cifar,
    "resnet18-fastai": lambda c: fastai(torchvision.models.resnet18, 512, c),
    "resnet50-fastai": lambda c: fastai(torchvision.models.resnet50, 2048, c),
    "xresnet50": xresnet50,
}


def step_cost(model, size, batch=4):
    """(GFLOP per image for forward + backward, MiB of saved activations per image, float32).

    A tensor saved by several ops (a ReLU's output kept by the ReLU and the next convolution) is
    counted once, by its storage; the weights that ops save are parameters, not activations."""
    x = torch.randn(batch, 3, size, size)
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in weights:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    with FlopCounterMode(display=False) as counter, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x).sum().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / batch / 1e9, sum(saved.values()) / batch / 2**20


def state_copies(spec):
    """Float32 copies of the weights an optimizer spec keeps as state (the largest of its parts)."""
    s = spec.replace(" ", "")
    copies = 0
    if "adam" in s or "ranger" in s:
        copies += 2
    elif "rmsprop" in s:
        copies += 1 + (1 if re.search(r"momentum=(0\.0*[1-9]|[1-9])", s) else 0)
    elif "sgd" in s:
        copies += 0 if re.search(r"momentum=0(\.0*)?[,)]", s) else 1
    if s.startswith("lookahead") or "ranger" in s:
        copies += 1 + (1 if "pullback" in s else 0)
    return copies


def peak_rss_mib(fn):
    """The process's peak resident memory while `fn` runs, above its resident memory before (MiB;
    Linux: the peak is reset through /proc/self/clear_refs)."""
    import gc
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    status = lambda key: next(int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(key))
    before = status("VmRSS:")
    fn()
    return (status("VmHWM:") - before) / 1024


def measure_one(name, size, batch):
    """Prints the peak memory of one training step of `name` (MiB), in this fresh process."""
    net = MODELS[name](10).train()
    x = torch.randn(batch, 3, size, size)
    print(peak_rss_mib(lambda: net(x).sum().backward()))


def measure():
    """The activation count against a measurement: one training step of each twin on the CPU, in
    a fresh process each (so that no freed memory is reused), its peak resident memory above the
    weights and the input: activations, gradients and the backward's temporaries."""
    import subprocess
    print(f"{'model':<16} {'px':>4} {'batch':>6} {'counted act. + grads MiB':>25} {'measured peak MiB':>18} {'ratio':>6}")
    for name, size, batch in [("resnet18-cifar", 32, 64), ("resnet18-fastai", 32, 128), ("xresnet50", 128, 16)]:
        net = MODELS[name](10).train()
        _, mib = step_cost(net, size)
        params = sum(p.numel() for p in net.parameters())
        counted = mib * batch + params * 4 / 2**20
        one = [sys.executable, __file__, "--measure-one", name, str(size), str(batch)]
        measured = float(subprocess.run(one, check=True, capture_output=True, text=True).stdout)
        print(f"{name:<16} {size:>4} {batch:>6} {counted:>25.0f} {measured:>18.0f} {measured / counted:>6.2f}")


def main():
    torch.set_num_threads(1)
    if "--measure-one" in sys.argv:
        name, size, batch = sys.argv[-3:]
        return measure_one(name, int(size), int(batch))
    if "--measure" in sys.argv:
        return measure()
    print(f"assumed: {UTILISATION:.0%} of {PEAK_TFLOPS:.0f} TFLOP/s (H100 SXM, float32)\n")
    print(f"{'suite':<20} {'model':<16} {'px':>4} {'batch':>5} {'prec.':>5} {'img-epochs':>11} {'GFLOP/img':>10} "
          f"{'PFLOP':>7} {'params M':>9} {'weights':>8} {'grads':>6} {'optim':>6} {'acts':>6} {'total GiB':>9} {'hours':>6}")
    for path in sorted((ROOT / "crates/study/suites").glob("*.toml")):
        suite = tomllib.loads(path.read_text())
        recipe = suite.get("recipe", {})
        model = recipe.get("model", "tiny-resnet")
        if model not in MODELS:
            continue  # the CPU suites: measured, not estimated (docs/study.md)
        dataset = suite["datasets"][0]
        size = NATIVE.get(dataset, recipe.get("image_size", 128))
        runs = len(suite["optimizers"]) * len(suite["seeds"]) * len(suite["datasets"])
        epochs = recipe.get("epochs", 5)
        batch = recipe.get("batch_size", 128)
        precision = recipe.get("precision", "f32")
        image_epochs = runs * epochs * TRAIN_IMAGES[dataset]
        net = MODELS[model](CLASSES[dataset]).train()
        gflop, mib = step_cost(net, size)
        params = sum(p.numel() for p in net.parameters())
        gib = lambda copies: copies * params * 4 / 2**30
        copies = max(state_copies(o["spec"]) for o in suite["optimizers"])
        # bf16/f16 halve the activations; weights, gradients and the optimizer stay f32.
        acts = mib * batch / 1024 * (0.5 if precision in ("bf16", "f16") else 1.0)
        total = gib(1) + gib(1) + gib(copies) + acts
        pflop = image_epochs * gflop / 1e6
        hours = pflop * 1e15 / (PEAK_TFLOPS * 1e12 * UTILISATION) / 3600
        print(f"{suite['name']:<20} {model:<16} {size:>4} {batch:>5} {precision:>5} {image_epochs / 1e6:>10.1f}M {gflop:>10.2f} "
              f"{pflop:>7.1f} {params / 1e6:>9.1f} {gib(1):>8.2f} {gib(1):>6.2f} {gib(copies):>6.2f} {acts:>6.2f} {total:>9.2f} {hours:>6.1f}")


if __name__ == "__main__":
    sys.exit(main())
