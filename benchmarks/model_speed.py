"""Training step and inference speed, peak memory and achieved FLOP/s of RelationNet vs torchvision's
DeepLabV3 / FCN (ResNet101, random init), side by side in one process.

    python benchmarks/model_speed.py                     # 512×1024, batch 1 on CPU (8 on a GPU), 3 repeats
    python benchmarks/model_speed.py --input-size 256x512 --repeats 3 --models r38w0.125,deeplabv3

Rows: ``train img/s`` (forward + OHEM + SCL + backward + SGD step), ``infer img/s`` (forward, no grad,
no similarity subnet) — medians, all models in this one process — and peak memory of each, measured in a
fresh process per model (CPU: growth of the peak resident set over the built model; GPU: allocator peak) (DeepLabV3's image-pooling BN is kept in eval mode at batch 1,
where it cannot train), GFLOP of the forward (FlopCounterMode) and its achieved
share of the measured large-matmul FLOP/s, and ratios to ``deeplabv3_resnet101``.  Then the share of a
training step spent in the SCL branch (shift op + similarity subnet + loss), measured twice: as the
difference of steps with and without it (timed in alternating pairs), and as the branch timed alone
(subnet forward + loss + backward to the features) over a full step,
and the share of inference spent in the relation module (forward with it − without).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import torch  # noqa: E402
from _common import PeakMemory, matmul_flops, median_time, report  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
from torchvision.models.segmentation import deeplabv3_resnet101, fcn_resnet101  # noqa: E402
from torchvision.models.segmentation.deeplabv3 import ASPPPooling  # noqa: E402

import relationnet as rn  # noqa: E402

K = 19


class TorchvisionSeg(torch.nn.Module):
    """Adapts torchvision's segmentation models to the ``{"logits"}`` interface (their output is at input size)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, return_similarity=False):
        return {"logits": self.net(x)["out"]}


def build(name: str) -> torch.nn.Module:
    if name == "deeplabv3":
        return TorchvisionSeg(deeplabv3_resnet101(weights=None, weights_backbone=None, num_classes=K, aux_loss=False))
    if name == "fcn":
        return TorchvisionSeg(fcn_resnet101(weights=None, weights_backbone=None, num_classes=K, aux_loss=False))
    if name == "r101":
        return rn.models.RelationNet(K, "resnet101", dcn=False)
    if name.startswith("r38w"):
        return rn.models.RelationNet(K, "resnet38", width=float(name[4:]), dcn=True)
    raise ValueError(name)


LABELS = {"deeplabv3": "deeplabv3_resnet101", "fcn": "fcn_resnet101", "r101": "RelationNet-R101 (rel+SCL)",
          "r38w1.0": "RelationNet-R38 w1.0 (DCN+rel+SCL)", "r38w0.125": "RelationNet-R38 w0.125 (DCN+rel+SCL)"}


def train_step(model, opt, x, y, lam=0.1):
    out = model(x, return_similarity=lam > 0)
    loss, _ = rn.losses.relationnet_loss(out, y, lam=lam)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def _vm(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return float(line.split()[1]) / 1024
    return float("nan")


def memory_of(name: str, h: int, w: int, b: int, train: bool) -> float:
    """Peak memory (MiB) of one training step or forward of ``name``, measured in a fresh process so that
    models measured earlier do not hide it: on the CPU the peak resident set growth over the built model."""
    import subprocess
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import model_speed as m; "
            f"print(m._memory_child({name!r}, {h}, {w}, {b}, {train}))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    try:
        return float(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return float("nan")


def _memory_child(name, h, w, b, train) -> float:
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    model = build(name).to(dev)
    x = torch.randn(b, 3, h, w, device=dev)
    y = torch.randint(0, K, (b, h, w), device=dev)
    if train:
        model.train()
        if b == 1:
            for m in model.modules():
                if isinstance(m, ASPPPooling):
                    m.eval()
        opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
        fn = lambda: train_step(model, opt, x, y)  # noqa: E731
    else:
        model.eval()
        def fn():
            with torch.no_grad():
                model(x)
    if dev == "cuda":
        with PeakMemory(dev) as pm:
            fn()
        return pm.mib
    base = _vm("VmRSS:")
    fn()
    return _vm("VmHWM:") - base


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--input-size", default="512x1024", help="HEIGHTxWIDTH of the input")
    p.add_argument("--batch", type=int, default=None, help="default: 1 on CPU, 8 on a GPU")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--models", default="r101,r38w1.0,r38w0.125,deeplabv3,fcn")
    p.add_argument("--json", default="benchmarks/results/model_speed.json")
    a = p.parse_args(argv)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    h, w = (int(v) for v in a.input_size.lower().split("x"))
    b = a.batch or (8 if dev == "cuda" else 1)
    torch.manual_seed(0)
    x = torch.randn(b, 3, h, w, device=dev)
    y = torch.randint(0, K, (b, h, w), device=dev)
    peak = matmul_flops(dev)
    rows = []
    for name in a.models.split(","):
        model = build(name).to(dev).train()
        if b == 1:   # DeepLabV3's image-pooling branch has BN on a 1×1 map: it cannot train on one image
            for m in model.modules():
                if isinstance(m, ASPPPooling):
                    m.eval()
        opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
        t_train = median_time(lambda: train_step(model, opt, x, y), a.repeats)
        model.eval()
        with torch.no_grad():
            t_inf = median_time(lambda: model(x), a.repeats)
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            model(x)
        flops = fc.get_total_flops()
        rows.append({"model": LABELS.get(name, name), "train img/s": b / t_train, "infer img/s": b / t_inf,
                     "train peak MiB": memory_of(name, h, w, b, True), "infer peak MiB": memory_of(name, h, w, b, False),
                     "forward GFLOP": flops / 1e9 / b,
                     "forward % of matmul FLOP/s": 100 * flops / t_inf / peak})
        model = opt = None                                  # free them before the next model
    ref = next((r for r in rows if r["model"] == "deeplabv3_resnet101"), None)
    for r in rows:
        r["train time / deeplabv3"] = ref["train img/s"] / r["train img/s"] if ref else float("nan")
        r["infer time / deeplabv3"] = ref["infer img/s"] / r["infer img/s"] if ref else float("nan")
    report(f"Model speed ({h}×{w}, batch {b}, {dev}; matmul peak {peak / 1e9:.1f} GFLOP/s)", rows, a.json)

    # component shares on the RelationNet variants asked for: the same model with and without the
    # component, timed alternately (pairs) so that drift cancels; share = median(with − without) / median(with)
    shares = []
    for name in [n for n in a.models.split(",") if n.startswith("r")]:
        torch.manual_seed(0)
        model = build(name).to(dev).train()
        opt = torch.optim.SGD(model.parameters(), lr=0.0)     # lr 0: the weights stay as they are
        scl, t_step = paired_share(lambda: train_step(model, opt, x, y, 0.1),
                                   lambda: train_step(model, opt, x, y, 0.0), a.repeats)
        # the same branch timed on its own (subnet forward + SCL + backward to the features), over a full step:
        # a direct measurement, free of the noise of a difference between two long steps
        with torch.no_grad():
            feats = model(x)["features"]
        y_out = rn.losses.labels_at_output(y)

        def scl_branch():
            f = feats.detach().requires_grad_(True)
            rn.losses.spatial_correlation_loss(model.similarity(f), y_out).backward()
        scl_alone = 100 * median_time(scl_branch, max(3, a.repeats)) / t_step
        model.eval()
        relation = model.relation

        def without_relation():
            model.relation = None
            try:
                model(x)
            finally:
                model.relation = relation
        with torch.no_grad():
            rel, _ = paired_share(lambda: model(x), without_relation, a.repeats)
        shares.append({"model": LABELS.get(name, name), "SCL branch % of train step (paired difference)": scl,
                       "SCL branch % of train step (timed alone)": scl_alone,
                       "relation module % of inference": rel})
        model = opt = None                                  # free them before the next model
    report("Component shares (targets: SCL ≤ 5 % of a training step, relation ≤ 15 % of inference)", shares,
           a.json.replace(".json", "_shares.json"))


def paired_share(with_fn, without_fn, repeats: int) -> tuple[float, float]:
    """``(100 · median(with − without) / median(with), median(with) in s)`` over alternating pairs."""
    import statistics
    import time
    with_fn()
    without_fn()
    diffs, totals = [], []
    for _ in range(max(3, repeats)):
        t = time.perf_counter()
        with_fn()
        t1 = time.perf_counter() - t
        t = time.perf_counter()
        without_fn()
        t0 = time.perf_counter() - t
        diffs.append(t1 - t0)
        totals.append(t1)
    return 100 * statistics.median(diffs) / statistics.median(totals), statistics.median(totals)


if __name__ == "__main__":
    main()
