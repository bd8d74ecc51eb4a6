"""Benchmark: train accuracy, test accuracy and seconds of `hwflow train` for the 1- and 2-bit
zoo variants on digits and Fashion-MNIST.  Numbers, not asserts; takes several minutes.

    python benchmarks/train_zoo.py [--models tfc-w1a1,tfc-w1a2,tfc-w2a2] [--data-dir DIR]
                                   [--settings digits,fashion-8k,fashion] [--seeds 0,1,2]
                                   [--no-conv] [--no-reference] [--dropout-off]

Settings (each at `hwflow train`'s defaults unless stated):
  digits           sklearn's 8x8 digits at 28x28, 1,437 train / 360 test, 40 epochs; the
                   cnv-small variants and resnet-small-w1a1 too unless --no-conv
  fashion-8k       the first 8,000 train / 2,000 test Fashion-MNIST images, 10 epochs (the
                   small split where TFC-W1A1 used to overfit)
  fashion          all 60,000 / 10,000 Fashion-MNIST images, 20 epochs
With --dropout-off every hwflow row is repeated without dropout (the recipe before BNN-PYNQ's
dropout); the reference rows train Brevitas's own BNN-PYNQ FC (brevitas_examples: dropout 0.2,
TensorNorm, U(-1, 1) init) with BNN-PYNQ's trainer settings (Adam lr 0.02, no weight decay,
squared hinge loss, batch 100, weight clipping, lr halved every 40 epochs) on the same split.
Fashion-MNIST is read from --data-dir (default ../shared/datasets/fashion-mnist); without it
those rows are skipped.  Each run uses one thread, like `hwflow train` on small models.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _reference_name(model: str) -> str | None:
    """brevitas_examples' config name for a zoo model (tfc-w1a2 -> tfc_1w2a), None if it has none."""
    import brevitas_examples.bnn_pynq.cfg as cfg
    topology, prec = model.rsplit("-", 1)
    name = f"{topology}_{prec[1]}w{prec[3]}a"
    return name if (Path(cfg.__file__).parent / f"{name}.ini").is_file() else None


def reference_run(model: str, dataset: str, data_dir, epochs: int, seed: int, n_train, n_test) -> dict:
    """Brevitas's BNN-PYNQ FC trained as brevitas_examples/bnn_pynq/trainer.py does."""
    import torch
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    from hwflow import zoo
    from hwflow.data import load_dataset

    t0 = time.time()
    shape = zoo.input_shape(model)
    ds = load_dataset(dataset, data_dir=data_dir, image_size=shape[1], seed=seed)
    xtr, ytr = torch.from_numpy(ds.x_train[:n_train]), torch.from_numpy(ds.y_train[:n_train])
    xte, yte = torch.from_numpy(ds.x_test[:n_test]), torch.from_numpy(ds.y_test[:n_test])
    torch.manual_seed(seed)
    net, _ = model_with_cfg(_reference_name(model), pretrained=False)
    opt = torch.optim.Adam(net.parameters(), lr=0.02, weight_decay=0)
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(1, epochs + 1):
        net.train()
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(0, len(xtr), 100):
            idx = perm[i:i + 100]
            if len(idx) < 2:
                continue
            target = -torch.ones(len(idx), 10)
            target.scatter_(1, ytr[idx, None], 1.0)
            loss = torch.clamp(1 - net(xtr[idx]) * target, min=0).pow(2).mean()  # SqrHingeLoss
            opt.zero_grad()
            loss.backward()
            opt.step()
            net.clip_weights(-1, 1)
        if epoch % 40 == 0:
            opt.param_groups[0]["lr"] *= 0.5

    def acc(x, y):
        net.eval()
        with torch.no_grad():
            return float((torch.cat([net(x[i:i + 2048]).argmax(1) for i in range(0, len(x), 2048)]) == y)
                         .float().mean())

    return {"train_accuracy": acc(xtr, ytr), "test_accuracy": acc(xte, yte), "seconds": time.time() - t0,
            "epochs": epochs, "dropout": 0.2}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="tfc-w1a1,tfc-w1a2,tfc-w2a2")
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets" / "fashion-mnist"))
    ap.add_argument("--seeds", default="0", help="comma-separated; the table shows means over them")
    ap.add_argument("--no-conv", action="store_true", help="skip cnv-small-{w1a1,w1a2,w2a2} and resnet-small-w1a1 "
                    "on digits")
    ap.add_argument("--settings", default="digits,fashion-8k,fashion")
    ap.add_argument("--no-reference", action="store_true", help="skip the plain Brevitas BNN-PYNQ rows")
    ap.add_argument("--dropout-off", action="store_true", help="also train every hwflow row without dropout")
    a = ap.parse_args()

    import torch

    from hwflow import zoo
    from hwflow.train import train
    torch.set_num_threads(1)
    models = a.models.split(",")
    seeds = [int(s) for s in a.seeds.split(",")]
    fashion = Path(a.data_dir).is_dir()
    if not fashion:
        print(f"note: {a.data_dir} not found, Fashion-MNIST rows skipped")
    # (label, dataset, train/test samples, epochs or None = default, models)
    conv = [] if a.no_conv else ["cnv-small-w1a1", "cnv-small-w1a2", "cnv-small-w2a2", "resnet-small-w1a1"]
    known = {"digits": ("digits", None, None, None, models + conv),
             "fashion-8k": ("fashion-mnist", 8000, 2000, 10, models),
             "fashion": ("fashion-mnist", None, None, 20, models)}
    settings = []
    for label in a.settings.split(","):
        if label not in known:
            ap.error(f"unknown setting {label!r}: choose from {', '.join(known)}")
        if known[label][0] == "fashion-mnist" and not fashion:
            continue
        settings.append((label, *known[label]))

    print(f"{'model':16} {'setting':14} {'recipe':18} {'epochs':>6} {'dropout':>7} {'train %':>8} {'test %':>7} "
          f"{'gap':>6} {'seconds':>7}  test % per seed", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for label, dataset, n_train, n_test, epochs, names in settings:
            data_dir = a.data_dir if dataset != "digits" else None
            for name in names:
                # the BNN-PYNQ recipe's dropout explicitly: `hwflow train` leaves it off for Fashion-MNIST
                recipes = [("hwflow", zoo.default_dropout(name))]
                if a.dropout_off and zoo.default_dropout(name) > 0:
                    recipes.append(("hwflow, no dropout", 0.0))
                if not a.no_reference and _reference_name(name):
                    recipes.append(("Brevitas BNN-PYNQ", "reference"))
                for recipe, dropout in recipes:
                    runs = []
                    for seed in seeds:
                        if dropout == "reference":
                            ep = epochs or (40 if dataset == "digits" else 20)
                            runs.append(reference_run(name, dataset, data_dir, ep, seed, n_train, n_test))
                        else:
                            runs.append(train(name, dataset, Path(tmp) / "run", data_dir=data_dir, epochs=epochs,
                                              seed=seed, progress=False, dropout=dropout, train_samples=n_train,
                                              test_samples=n_test))
                    tr = statistics.mean(r["train_accuracy"] for r in runs) * 100
                    te = statistics.mean(r["test_accuracy"] for r in runs) * 100
                    sec = statistics.mean(r["seconds"] for r in runs)
                    per_seed = " ".join(f"{r['test_accuracy'] * 100:.1f}" for r in runs)
                    print(f"{name:16} {label:14} {recipe:18} {runs[0]['epochs']:>6} {runs[0]['dropout']:>7g} "
                          f"{tr:>8.1f} {te:>7.1f} {tr - te:>6.1f} {sec:>7.1f}  {per_seed}", flush=True)
    print(f"means over seeds {a.seeds}; seconds are wall time per run (load, train, export, QONNX check "
          f"for hwflow rows), on {torch.get_num_threads()} thread(s) and whatever else runs on the machine")


if __name__ == "__main__":
    main()
