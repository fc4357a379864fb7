#!/usr/bin/env python3
"""Extracts the seed study's logged per-epoch tables from its notebooks.

The seed study (github.com/akashpalrecha/Lookahead) ran fastai 1.0.59 in Jupyter; each
`fit_and_record(...)` cell kept fastai's progress table (epoch, train_loss, valid_loss,
accuracy[, top_k_accuracy], time) in its HTML output. This script reads those tables from a
clone of that repository and writes one CSV per run into crates/study/seed/, values exactly as
logged. Only the Python standard library is needed:

    git clone https://github.com/akashpalrecha/Lookahead /tmp/Lookahead
    python3 scripts/seed-logs.py /tmp/Lookahead

`cargo xtask seed-fit` then fits the smoothing of the published numbers on these tables.
"""
import json
import re
import sys
from pathlib import Path

# (notebook, the cell's source, file written, what it is)
RUNS = [
    ("start_off.ipynb", "fit_and_record(opt_func=LookaheadSGD, data='cifar10')", "cifar10-la-sgd"),
    ("start_off.ipynb", "fit_and_record(opt_func=optim.SGD, data='cifar10')", "cifar10-sgd"),
    ("start_off.ipynb", "fit_and_record(opt_func=optim.AdamW, data='cifar10')", "cifar10-adamw"),
    ("start_off.ipynb", "fit_and_record(opt_func=optim.RMSprop, data='cifar10')", "cifar10-rmsprop"),
    ("start_off.ipynb", "fit_and_record(opt_func=LookaheadSGD, data='cifar100', epochs=100, one_cycle=True)", "cifar100-la-sgd"),
    ("state-reset.ipynb", "fit_and_record(opt_func=LookaheadSGD, data='cifar10')", "cifar10-reset-la-sgd"),
    ("state-reset.ipynb", "fit_and_record(opt_func=LookaheadSGD, data='cifar100', epochs=120, one_cycle=True, exp_postfix=\"120\")", "cifar100-reset-la-sgd"),
    ("imagenette.ipynb", "fit_and_record(opt_func=LookaheadSGD)", "imagenette-la-sgd"),
    ("imagenette.ipynb", "fit_and_record(opt_func=optim.AdamW)", "imagenette-adamw"),
    ("imagenette.ipynb", "fit_and_record(opt_func=optim.SGD)", "imagenette-sgd"),
]


def table(notebook: Path, source: str):
    cells = json.loads(notebook.read_text())["cells"]
    for cell in cells:
        if cell["cell_type"] != "code" or "".join(cell["source"]).strip() != source:
            continue
        for output in cell.get("outputs", []):
            html = "".join(output.get("data", {}).get("text/html", []))
            if "<table" in html and "epoch" in html:
                heads = re.findall(r"<th>(.*?)</th>", html)
                rows = [
                    [td.strip() for td in re.findall(r"<td>(.*?)</td>", tr, re.S)]
                    for tr in re.findall(r"<tr>(.*?)</tr>", html, re.S)
                ]
                return heads, [r for r in rows if r]
    sys.exit(f"{notebook}: no logged table in the cell `{source}`")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    repo = Path(sys.argv[1])
    out = Path(__file__).resolve().parent.parent / "crates" / "study" / "seed"
    out.mkdir(parents=True, exist_ok=True)
    for notebook, source, name in RUNS:
        heads, rows = table(repo / notebook, source)
        lines = [",".join(heads)] + [",".join(r) for r in rows]
        (out / f"{name}.csv").write_text("\n".join(lines) + "\n")
        print(f"{name}.csv: {len(rows)} epochs from {notebook}")


if __name__ == "__main__":
    main()
