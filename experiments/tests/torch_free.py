"""An arm of `seed-quick` trained end to end in PyTorch on the Burn run's batches (see
`end_to_end_in_pytorch` in `torch_steps.rs`): the network, optimizer, true weight decay,
Lookahead and schedule of `torch_steps.py`, with the recipe's dropout (PyTorch's own masks),
evaluated at the end on the validation set (BatchNorm on its running statistics, no dropout,
Lookahead's slow weights where there are any). Trained twice: from the Burn run's initial
weights, and from PyTorch's own draw (seeded by the run's seed) of what fastai's
`cnn_learner` initialises: torchvision's kaiming-normal (fan_out, ReLU) convolutions, BatchNorm
gamma 1 and beta 0, fastai's head linears kaiming-normal (fan_in) with zero bias.

    python torch_free.py DIR    # prints the two final accuracies (%)
"""
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from torch_steps import forward, lr_at, trainer, unflatten


def fastai_init(P, seed):
    """PyTorch's own draw of fastai v1's initialisation, in place."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in P.items():
            if name.endswith("conv.weight"):  # torchvision: kaiming_normal_, fan_out, ReLU
                fan_out = t.shape[0] * t.shape[2] * t.shape[3]
                t.normal_(0, math.sqrt(2 / fan_out), generator=g)
            elif name.endswith("linear.weight") or name == "net.fc.weight":
                t.normal_(0, math.sqrt(2 / t.shape[1]), generator=g)  # fan_in, gain sqrt 2
            elif name.endswith(("bias", "beta", "running_mean")):
                t.zero_()
            elif name.endswith(("gamma", "running_var")):
                t.fill_(1)
            else:
                raise ValueError(name)


def train(m, P, data, seed):
    torch.manual_seed(seed)
    trainable, opt, stepper = trainer(m, P)
    la = m["optimizer"]["lookahead"]
    wd = m["true_weight_decay"] or 0.0
    for step, (x, y) in enumerate(data["train"]):
        lr = lr_at(m, step)
        for group in opt.param_groups:
            group["lr"] = lr
        loss = F.cross_entropy(forward(P, m["structure"], x, m["dropout"], True), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            for p in trainable:  # OptimWrapper.step, true_wd and bn_wd
                p.mul_(1 - wd * lr)
        stepper.step()
    if la:  # validation on the slow weights
        with torch.no_grad():
            for p, slow in stepper.slow.items():
                p.copy_(slow)
    correct = 0
    with torch.no_grad():
        for x, y in data["valid"]:
            logits = forward(P, m["structure"], x, m["dropout"], False)
            correct += (logits.argmax(1) == y).sum().item()
    return 100 * correct / sum(len(y) for _, y in data["valid"])


def batches(dir, prefix, batch, channels):
    images = np.fromfile(dir / f"{prefix}_images.bin", dtype="<f4")
    targets = np.fromfile(dir / f"{prefix}_targets.bin", dtype="<i4")
    side = int(round((images.size / targets.size / channels) ** 0.5))
    images = images.reshape(-1, channels, side, side)
    return [
        (torch.from_numpy(images[i : i + batch].copy()),
         torch.from_numpy(targets[i : i + batch].astype(np.int64)))
        for i in range(0, len(targets), batch)
    ]


def main():
    dir = Path(sys.argv[1])
    m = json.loads((dir / "manifest.json").read_text())
    torch.set_num_threads(2)
    initial = np.fromfile(dir / "initial.bin", dtype="<f4")
    P = unflatten(m["names"], initial)
    channels = P["net.stem.0.conv.weight"].shape[1]
    batch = len(np.fromfile(dir / "train_targets.bin", dtype="<i4")) // (m["per_epoch"] * m["epochs"])
    data = {p: batches(dir, p, batch, channels) for p in ("train", "valid")}
    assert len(data["train"]) == m["per_epoch"] * m["epochs"]
    from_burn = train(m, P, data, m["seed"])
    P = unflatten(m["names"], initial)
    fastai_init(P, m["seed"])
    own = train(m, P, data, m["seed"])
    print(f"{from_burn:.2f} {own:.2f}")


if __name__ == "__main__":
    main()
