"""PyTorch's side of `torch_steps.rs`: one `seed-quick` arm trained from the Burn run's initial
weights on its batches, written from the definitions the seed study ran on.

* The network: the fastai v1 micro ResNet as `cnn_learner` builds it (torchvision's body cut
  before its pooling: stem conv-BN-ReLU, max-pool, basic blocks with a strided 1x1 conv-BN
  shortcut where the shape changes; fastai's head: AdaptiveConcatPool2d (max, then mean) ->
  BN1d -> Dropout -> Linear -> ReLU -> BN1d -> Dropout -> Linear), in torch.nn.functional ops
  with PyTorch's BatchNorm (training mode, momentum 0.1, eps 1e-5, running variance unbiased).
  Both dropouts are off (p = 0) on both sides.
* The step: fastai 1.0.59's `OptimWrapper.step` with `true_wd=True, bn_wd=True` (every
  parameter times 1 - wd*lr, then the optimizer with its weight_decay set to 0), PyTorch's SGD,
  AdamW and RMSprop with the seed's arguments, and the seed's `Optimizers/lookahead.py`: one step
  counter, the slow copy made after the first inner update (theta_1), at every k-th step
  `p = slow + alpha*(p - slow)` and slow = p, and on reset (its later version) the momentum
  buffer, or Adam's exp_avg and exp_avg_sq, zeroed with the step count kept.
* The schedule: `learn.fit` at constant lr with the seed's `LRDecayCallback` dividing it by the
  factor after each listed epoch.

Each step starts from the Burn run's weights and BatchNorm statistics before it (its
`initial.bin`, then each row of its `burn.bin`) while every optimizer state (momentum, Adam's
moments, RMSProp's average, Lookahead's slow weights and step count) is PyTorch's own: each
step is compared alone, so float rounding cannot compound through the chaotic dynamics of
training, while a difference in any state would.

    python torch_steps.py DIR    # reads manifest.json, initial.bin, burn.bin, images.bin,
                                 # targets.bin; writes torch.bin (the tensors after each step)
                                 # and torch.json (the losses)
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def unflatten(names, flat):
    """Burn's flat tensors (in its layout) as PyTorch tensors by name."""
    params, offset = {}, 0
    for name, shape in names:
        n = int(np.prod(shape))
        t = torch.from_numpy(flat[offset : offset + n].reshape(shape).copy())
        # Burn's Linear weight is [in, out]; PyTorch's is [out, in].
        params[name] = t.t().contiguous() if is_linear_weight(name) else t
        offset += n
    return params


def load(dir):
    manifest = json.loads((dir / "manifest.json").read_text())
    return manifest, unflatten(manifest["names"], np.fromfile(dir / "initial.bin", dtype="<f4"))


def is_linear_weight(name):
    return name.endswith(("fc.weight", "linear.weight"))


def is_statistic(name):
    return name.endswith(("running_mean", "running_var"))


def bn(P, prefix, x, training=True):
    return F.batch_norm(
        x,
        P[prefix + ".running_mean"],
        P[prefix + ".running_var"],
        P[prefix + ".gamma"],
        P[prefix + ".beta"],
        training=training,
        momentum=0.1,
        eps=1e-5,
    )


def conv_bn(P, prefix, x, stride, training=True):
    w = P[prefix + ".conv.weight"]
    x = F.conv2d(x, w, None, stride, w.shape[-1] // 2)
    return bn(P, prefix + ".bn", x, training)


def forward(P, s, x, drop=None, training=True):
    """The network; `drop` the head's two dropout probabilities (none: off), `training` False
    for evaluation (BatchNorm on its running statistics, no dropout)."""
    drop = drop or {"head": 0.0, "fc": 0.0}
    strides = s["strides"]
    for i in range(sum(1 for k in strides if k.startswith("net.stem."))):
        x = F.relu(conv_bn(P, f"net.stem.{i}", x, strides[f"net.stem.{i}"], training))
    if s["stem_pool"]:
        x = F.max_pool2d(x, 3, 2, 1)
    for b, block in enumerate(s["blocks"]):
        y = x
        for i in range(block["convs"]):
            prefix = f"net.blocks.{b}.convs.{i}"
            y = conv_bn(P, prefix, y, strides[prefix], training)
            if i < block["convs"] - 1:
                y = F.relu(y)
        shortcut = x
        if block["projection"]:
            prefix = f"net.blocks.{b}.projection"
            shortcut = conv_bn(P, prefix, x, strides[prefix], training)
        x = F.relu(y + shortcut)
    assert s["head"], "the seed's models carry fastai's head"
    x = torch.cat([x.amax(dim=(2, 3)), x.mean(dim=(2, 3))], 1)
    x = bn(P, "net.head.bn_pool", x, training)
    x = F.dropout(x, drop["head"], training)
    x = F.relu(F.linear(x, P["net.head.linear.weight"], P["net.head.linear.bias"]))
    x = bn(P, "net.head.bn_hidden", x, training)
    x = F.dropout(x, drop["fc"], training)
    return F.linear(x, P["net.fc.weight"], P["net.fc.bias"])


def optimizer(spec, params, lr):
    kind = spec["kind"]
    if kind == "sgd":
        return torch.optim.SGD(
            params, lr, momentum=spec["momentum"], dampening=spec["dampening"],
            nesterov=spec["nesterov"], weight_decay=spec["weight_decay"], foreach=False,
        )
    if kind == "adamw":
        return torch.optim.AdamW(
            params, lr, betas=tuple(spec["betas"]), eps=spec["eps"],
            weight_decay=spec["weight_decay"], foreach=False,
        )
    if kind == "rmsprop":
        return torch.optim.RMSprop(
            params, lr, alpha=spec["alpha"], eps=spec["eps"], momentum=spec["momentum"],
            centered=spec["centered"], weight_decay=spec["weight_decay"], foreach=False,
        )
    raise ValueError(kind)


class Lookahead:
    """The seed's `Optimizers/lookahead.py` around a PyTorch optimizer."""

    def __init__(self, opt, k, alpha, reset):
        self.opt, self.k, self.alpha, self.reset = opt, k, alpha, reset
        self.steps, self.slow = 0, {}

    def step(self):
        self.opt.step()
        self.steps += 1
        for group in self.opt.param_groups:
            for p in group["params"]:
                if p not in self.slow:
                    self.slow[p] = p.data.clone().detach()
                if self.steps % self.k == 0:
                    slow = self.slow[p]
                    slow.add_(p.data - slow, alpha=self.alpha)
                    p.data.copy_(slow)
                    if self.reset:
                        state = self.opt.state[p]
                        for key in ("momentum_buffer", "exp_avg", "exp_avg_sq"):
                            if state.get(key) is not None:
                                state[key].zero_()


def lr_at(m, step):
    """The learning rate of optimizer step `step` (0-based) under LRDecayCallback."""
    done = step // m["per_epoch"]  # epochs completed before this step
    decays = sum(1 for e in m["decay_epochs"] if e < done)
    return m["lr_max"] / m["decay_factor"] ** decays


def trainer(m, P):
    """The parameters made trainable, the optimizer, and what steps (Lookahead around it, if
    the arm has it)."""
    for name, t in P.items():
        t.requires_grad_(not is_statistic(name))
    trainable = [t for name, t in P.items() if not is_statistic(name)]
    spec = m["optimizer"]
    opt = optimizer(spec["inner"], trainable, m["lr_max"])
    la = spec["lookahead"]
    stepper = Lookahead(opt, la["k"], la["alpha"], la["reset"]) if la else opt
    if la:
        assert la["slow_start"] == "AfterFirstStep", la
        assert la["policy"] in ("Keep", "ZeroMoments"), la
    return trainable, opt, stepper


def main():
    dir = Path(sys.argv[1])
    m, P = load(dir)
    torch.set_num_threads(2)
    trainable, opt, stepper = trainer(m, P)
    shape0 = m["structure"]
    steps = m["steps"]
    images = np.fromfile(dir / "images.bin", dtype="<f4").reshape(steps, -1)
    targets = np.fromfile(dir / "targets.bin", dtype="<i4").reshape(steps, -1)
    channels = P["net.stem.0.conv.weight"].shape[1]
    wd = m["true_weight_decay"] or 0.0
    burn = np.fromfile(dir / "burn.bin", dtype="<f4").reshape(steps, -1)
    losses, out = [], open(dir / "torch.bin", "wb")
    for step in range(steps):
        if step > 0:
            with torch.no_grad():
                for name, t in unflatten(m["names"], burn[step - 1]).items():
                    P[name].copy_(t)
        batch = targets.shape[1]
        side = int(round((images.shape[1] / batch / channels) ** 0.5))
        x = torch.from_numpy(images[step].reshape(batch, channels, side, side).copy())
        y = torch.from_numpy(targets[step].astype(np.int64))
        lr = lr_at(m, step)
        for group in opt.param_groups:
            group["lr"] = lr
        loss = F.cross_entropy(forward(P, shape0, x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            # OptimWrapper.step, true_wd and bn_wd: decay every parameter before the step.
            for p in trainable:
                p.mul_(1 - wd * lr)
        stepper.step()
        losses.append(loss.item())
        flat = []
        for name, _ in m["names"]:
            t = P[name].detach()
            flat.append((t.t() if is_linear_weight(name) else t).contiguous().numpy().ravel())
        np.concatenate(flat).astype("<f4").tofile(out)
    out.close()
    (dir / "torch.json").write_text(json.dumps({"losses": losses}))


if __name__ == "__main__":
    main()
