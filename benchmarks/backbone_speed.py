"""EfficientNet-Lite0 at output stride 8: training step and inference with the phase-split dilated
depthwise convolutions (now: forward and input gradient phase-split, the weight gradient on the dilated map
where the phases are smaller than the kernel), with autograd through the phases (the first phase-split form)
and with PyTorch's dilated kernels (before), against the same network at output stride 16 and the
from-scratch ResNet38 width 0.125 of the earlier demo — side by side in one process, medians over repeats,
as ratios to ResNet38 w0.125.

    python benchmarks/backbone_speed.py                          # 128×256, batch 8
    python benchmarks/backbone_speed.py --input-size 96x192            # the demo's training crop
    python benchmarks/backbone_speed.py --input-size 128x256 --batch 8 --repeats 5
    python benchmarks/backbone_speed.py --input-size 96x192 --layers  # one dilated depthwise layer, three ways
    python benchmarks/backbone_speed.py --input-size 96x192 --profile # where a Lite0 stride-8 step spends its time
    python benchmarks/backbone_speed.py --roofline              # + achieved FLOP/s against this machine's peak

With ``--roofline`` each row also gets its FLOPs (FlopCounterMode: matmuls and convolutions) and the achieved FLOP/s
as a share of this machine's measured float32 matmul peak; ``--profile`` adds, for the memory-bound parts (depthwise
convolutions, batch norm, copies), the bytes they move (from their tensor shapes: inputs read, output written) against
the measured copy bandwidth.

Every row is the whole RelationNet of the demo (head, relation module, classifier; the training step
adds the similarity subnet, OHEM + λ·SCL, backward and an AdamW step); only the backbone differs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import torch  # noqa: E402
from _common import copy_bandwidth, count_flops, matmul_flops, median_time, report  # noqa: E402

import relationnet as rn  # noqa: E402
from relationnet.models.efficientnet_lite import EfficientNetLite  # noqa: E402
from relationnet.ops import atrous  # noqa: E402

K = 19
ROWS = {
    "r38w0.125": "ResNet38 w0.125, scratch (earlier demo)",
    "lite0_os8": "Lite0, stride 8, phase-split dw conv, weight gradient on the dilated map (now)",
    "lite0_os8_autograd": "Lite0, stride 8, phase-split dw conv, all gradients through the phases (2026-11-28)",
    "lite0_os8_dilated": "Lite0, stride 8, PyTorch dilated dw conv (before)",
    "lite0_os16": "Lite0, stride 16 (for scale; breaks the stride-8 geometry)",
}


def build(name: str, head_width: float) -> torch.nn.Module:
    if name == "r38w0.125":
        return rn.models.RelationNet(K, "resnet38", width=0.125, dcn=False)
    model = rn.models.RelationNet(K, "efficientnet_lite0", width=head_width, dcn=False)
    if name == "lite0_os8_dilated":
        model.backbone = EfficientNetLite("efficientnet_lite0", output_stride=8, phase_split=False)
    elif name == "lite0_os8_autograd":           # the earlier form: the weight gradient on the tiny phase maps
        for m in model.backbone.modules():
            if isinstance(m, atrous.DepthwiseConv2d):
                m.weight_grad = "phases"
    elif name == "lite0_os16":
        model.backbone = EfficientNetLite("efficientnet_lite0", output_stride=16)
    return model


#: The dilated depthwise layers of Lite0 at stride 8 (channels, kernel, dilation), for ``--layers``.
LAYERS = [(1152, 5, 4), (1152, 3, 4), (672, 5, 2), (480, 3, 2)]


def layer_rows(batch: int, h: int, w: int, repeats: int) -> list[dict]:
    """Forward + backward of one dilated depthwise layer on the 1/8 map, three ways, in ms."""
    import torch.nn.functional as F
    rows = []
    for c, k, d in LAYERS:
        x0, g = torch.randn(batch, c, h // 8, w // 8), torch.randn(batch, c, h // 8, w // 8)
        wt = torch.randn(c, 1, k, k, requires_grad=True)
        ways = {"now": lambda x: atrous.phase_split_depthwise_conv2d(x, wt, None, d),
                "through the phases": lambda x: atrous.phase_split_depthwise_conv2d(x, wt, None, d, "phases"),
                "PyTorch dilated": lambda x: F.conv2d(x, wt, padding=d * (k // 2), dilation=d, groups=c)}
        row = {"layer": f"{k}×{k}, dilation {d}, C = {c}, phases {-(-h // 8 // d)}×{-(-w // 8 // d)}"}
        for name, fn in ways.items():
            def run(fn=fn):
                wt.grad = None
                fn(x0.clone().requires_grad_()).backward(g)
            row[f"{name} ms"] = round(1000 * median_time(run, repeats), 1)
        rows.append(row)
    return rows


def _kind(name: str, shapes: list, h8: int) -> str:
    """An operator read as which part of the network it is: convolutions by kind, direction and whether they run on
    the 1/8 map (``h8`` rows; the phase maps of the dilated layers count as 1/8 too), batch norms, copies."""
    s = shapes[0] if shapes and shapes[0] else []
    if name in ("aten::convolution_backward", "aten::mkldnn_convolution"):
        w = shapes[2] if name == "aten::convolution_backward" and len(shapes) > 2 else shapes[1] if len(shapes) > 1 else []
        if len(w) != 4 or len(s) != 4:
            return "other convolution"
        kind = "depthwise" if w[1] == 1 and w[2] > 1 else f"{w[2]}×{w[3]}"
        where = "1/8 map" if s[2] <= h8 else "finer maps"
        return f"{kind} conv {'backward' if 'backward' in name else 'forward'}, {where}"
    if name.startswith("aten::native_batch_norm"):
        return "batch norm " + ("backward" if "backward" in name else "forward")
    if name == "aten::copy_":
        return "copies (phase split / merge, layout changes)"
    return name.replace("aten::", "")


def _bytes(name: str, shapes: list) -> float:
    """Bytes an operator moves, from its input shapes: every tensor input read once and an output the size of the
    first written once (a convolution's backward also writes its input's and weight's gradients). An estimate:
    caches can save some of it, layout copies add some."""
    import math
    tensors = [s for s in shapes if isinstance(s, (list, tuple)) and s and all(isinstance(d, int) for d in s)]
    read = sum(math.prod(s) for s in tensors)
    written = math.prod(tensors[0]) if tensors else 0
    if name == "aten::convolution_backward" and len(tensors) >= 3:
        written = math.prod(tensors[1]) + math.prod(tensors[2])
    return 4.0 * (read + written)


def profile_rows(step, h8: int, steps: int = 3, top: int = 14, bandwidth: float | None = None) -> list[dict]:
    """torch.profiler over ``steps`` training steps: self CPU time per step grouped by :func:`_kind`; with
    ``bandwidth`` (bytes/s), the memory-bound groups' bytes per step and achieved bandwidth."""
    from torch.profiler import ProfilerActivity, profile
    step()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(steps):
            step()
    groups: dict[str, float] = {}
    moved: dict[str, float] = {}
    for ev in prof.key_averages(group_by_input_shape=True):
        key = _kind(ev.key, ev.input_shapes, h8)
        groups[key] = groups.get(key, 0.0) + ev.self_cpu_time_total / 1e3 / steps
        moved[key] = moved.get(key, 0.0) + _bytes(ev.key, ev.input_shapes) * ev.count / steps
    total = sum(groups.values())
    rows = []
    for k, v in sorted(groups.items(), key=lambda kv: -kv[1])[:top]:
        row = {"part": k, "ms per step": round(v, 1), "share %": round(100 * v / total, 1)}
        if bandwidth:
            bound = k.startswith(("depthwise", "batch norm", "copies"))
            gbs = moved[k] / (v / 1e3) / 1e9 if v > 0 else float("nan")
            row.update({"MB moved": round(moved[k] / 1e6, 1) if bound else "—",
                        "GB/s": round(gbs, 2) if bound else "—",
                        "% of bandwidth": round(100 * gbs * 1e9 / bandwidth, 1) if bound else "—"})
        rows.append(row)
    last = {"part": "all (profiled)", "ms per step": round(total, 1), "share %": 100.0}
    if bandwidth:
        last.update({"MB moved": "—", "GB/s": "—", "% of bandwidth": "—"})
    return rows + [last]


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--input-size", default="128x256", help="HEIGHTxWIDTH of the training crop")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--head-width", type=float, default=0.25, help="RelationNet width for the Lite0 head")
    p.add_argument("--models", default=",".join(ROWS))
    p.add_argument("--json", default=None)
    p.add_argument("--layers", action="store_true", help="time the dilated depthwise layers alone instead")
    p.add_argument("--roofline", action="store_true",
                   help="add FLOPs and achieved FLOP/s against this machine's measured matmul peak (and, with "
                        "--profile, bytes moved against its copy bandwidth)")
    p.add_argument("--profile", action="store_true",
                   help="profile the first model's training step (default: Lite0 at stride 8, now) instead")
    a = p.parse_args(argv)
    h, w = (int(v) for v in a.input_size.lower().split("x"))
    if a.layers:
        report(f"One dilated depthwise layer, forward + backward, batch {a.batch}, {h}×{w} input (medians of "
               f"{a.repeats})", layer_rows(a.batch, h, w, a.repeats), a.json)
        return
    torch.manual_seed(0)
    x = torch.randn(a.batch, 3, h, w)
    y = torch.randint(0, K, (a.batch, h, w))
    rows, base = [], None
    peak = matmul_flops("cpu", n=2048) if a.roofline else None
    bandwidth = copy_bandwidth("cpu") if a.roofline else None
    if a.roofline:
        print(f"this machine ({torch.get_num_threads()} threads): float32 matmul {peak / 1e9:.1f} GFLOP/s, copy "
              f"{bandwidth / 1e9:.1f} GB/s (read + write)")
    names = a.models.split(",")
    if a.profile and a.models == p.get_default("models"):
        names = ["lite0_os8"]
    for name in names:
        model = build(name, a.head_width)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        target = y[:, ::2, ::2] if name == "lite0_os16" else y     # the loss reads labels at stride 8 of this size

        def step():
            model.train()
            loss, _ = rn.losses.relationnet_loss(model(x, return_similarity=True), target, lam=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        def infer():
            model.eval()
            with torch.no_grad():
                model(x)

        if a.profile:
            report(f"Where a training step goes: {ROWS[name]}, batch {a.batch}, {h}×{w} (torch.profiler, self CPU "
                   f"time, mean of {a.repeats} steps; the profiler itself adds a little)",
                   profile_rows(step, h // 8, a.repeats, bandwidth=bandwidth), a.json)
            return
        t_step = median_time(step, a.repeats)
        t_inf = median_time(infer, a.repeats)
        if name == "r38w0.125" or base is None:
            base = base or (t_step, t_inf)
        rows.append({"model": ROWS[name], "params M": round(sum(q.numel() for q in model.parameters()) / 1e6, 2),
                     "train step s": round(t_step, 3), "infer s": round(t_inf, 3),
                     "train × R38w0.125": round(t_step / base[0], 2), "infer × R38w0.125": round(t_inf / base[1], 2)})
        if a.roofline:
            def train_forward():
                model.train()
                with torch.no_grad():
                    model(x, return_similarity=True)
            f_step, f_inf = 3 * count_flops(train_forward), count_flops(infer)
            rows[-1].update({"train GFLOP": round(f_step / 1e9, 2), "train % of peak": round(100 * f_step / t_step / peak, 1),
                             "infer GFLOP": round(f_inf / 1e9, 2), "infer % of peak": round(100 * f_inf / t_inf / peak, 1)})
    report(f"RelationNet training step / inference, batch {a.batch}, {h}×{w} (medians of {a.repeats})", rows, a.json)


if __name__ == "__main__":
    main()
