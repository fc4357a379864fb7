"""PyTorch reference for `cargo bench -p models`: CIFAR ResNet-18 (torchvision resnet18 with the
3x3 stride-1 stem and no max-pool, as in kuangliu/pytorch-cifar), forward + backward +
SGD-momentum step on random CIFAR-shaped data. Prints one line `images_per_sec=<float>`.

    python3 benches/torch_resnet18.py --batch 64 --steps 3
"""
import argparse
import time

import torch
import torchvision


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--amp", action="store_true")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10)
    model.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    model.maxpool = torch.nn.Identity()
    model = model.to(args.device)
    x = torch.randn(args.batch, 3, 32, 32, device=args.device)
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
