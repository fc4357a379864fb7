"""PyTorch reference for `cargo bench -p models`: forward + backward + SGD-momentum step on
random data, for the models of `throughput.rs`. Prints one line `images_per_sec=<float>`.

* `--model resnet18`: CIFAR ResNet-18 (torchvision resnet18 with the 3x3 stride-1 stem and no
  max-pool, as in kuangliu/pytorch-cifar), 3x32x32 inputs;
* `--model micro`: the quick suite's micro ResNet (`models::ResNetConfig::tiny` with the
  ImageNet stem: widths 8/16/32/64, one basic block per stage, 7x7 stride-2 stem and max-pool),
  1x28x28 inputs.

    python3 benches/torch_resnet18.py --model resnet18 --batch 64 --steps 5
"""
import argparse
import time

import torch
import torchvision


def micro_resnet():
    """torchvision's ResNet at width 1/8 with one BasicBlock per stage, 1 input channel."""
    from torchvision.models.resnet import BasicBlock, ResNet

    model = ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10)
    # torchvision fixes the widths at 64..512: rebuild each layer at 8..64.
    model.inplanes = 8
    model.conv1 = torch.nn.Conv2d(1, 8, 7, 2, 3, bias=False)
    model.bn1 = torch.nn.BatchNorm2d(8)
    model.layer1 = model._make_layer(BasicBlock, 8, 1)
    model.layer2 = model._make_layer(BasicBlock, 16, 1, stride=2)
    model.layer3 = model._make_layer(BasicBlock, 32, 1, stride=2)
    model.layer4 = model._make_layer(BasicBlock, 64, 1, stride=2)
    model.fc = torch.nn.Linear(64, 10)
    return model


def cifar_resnet18():
    model = torchvision.models.resnet18(num_classes=10)
    model.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    model.maxpool = torch.nn.Identity()
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=["resnet18", "micro"], default="resnet18")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--amp", action="store_true")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = (micro_resnet() if args.model == "micro" else cifar_resnet18()).to(args.device)
    shape = (1, 28, 28) if args.model == "micro" else (3, 32, 32)
    x = torch.randn(args.batch, *shape, device=args.device)
    y = torch.randint(0, 10, (args.batch,), device=args.device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(args.device.split(":")[0], dtype=torch.bfloat16, enabled=args.amp):
            loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    def sync():
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    step()  # warm-up
    sync()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync()
    elapsed = time.perf_counter() - start
    print(f"images_per_sec={args.batch * args.steps / elapsed:.3f}")


if __name__ == "__main__":
    main()
