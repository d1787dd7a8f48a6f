"""What SCL does to a model, measured (study 2's mechanism records).

During training (every epoch with λ > 0, logged to ``metrics.jsonl`` by :mod:`relationnet.engine.train`):

* :func:`pair_counts` — how often the similarity subnet is right about same-label and different-label
  pairs of the training batches (logit > 0 means "same"), and its mean probability for the self-pair
  (offset (0, 0): always "same");
* :func:`gradient_split` — on the epoch's last batch, the gradient of each part of Eq. 2 at the features
  the classifier and the subnet share: ‖∇ λ·L_scl‖ / ‖∇ L_ohem‖ and the cosine between the two.

After training (:func:`similarity_probe`, on validation images): does the subnet *compare* the pair,
or read the anchor alone ("am I near a contour?")?  The same classifier is run with the neighbour's
feature replaced by the anchor's own, or by a random cell's of the same image; a subnet that
compares answers "same" for the anchor-replaced pair and loses its accuracy on different-label
pairs, one that reads the anchor keeps it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..losses import labels_at_output, ohem_cross_entropy, pair_labels, spatial_correlation_loss
from ..ops.shift import CENTER, shift_features


def pair_counts(similarity: torch.Tensor, target: torch.Tensor, ignore_index: int = 255) -> torch.Tensor:
    """``[same right, same pairs, different right, different pairs, Σ self-pair P, self pairs]`` of (B, 9, h, w)
    logits against (B, H, W) labels (taken at the output cells as SCL takes them)."""
    small = target if target.shape[-2:] == similarity.shape[-2:] else labels_at_output(target)
    pos, neg = pair_labels(small, ignore_index)
    same = similarity > 0
    p_self = torch.sigmoid(similarity[:, CENTER])[pos[:, CENTER]]
    return torch.stack([(same & pos).sum(), pos.sum(), (~same & neg).sum(), neg.sum(),
                        p_self.sum(), torch.tensor(p_self.numel())]).double().cpu()


def summarise_counts(c: torch.Tensor) -> dict:
    c = c.tolist()
    div = lambda a, b: a / b if b else float("nan")     # noqa: E731
    return {"mech_acc_same": div(c[0], c[1]), "mech_acc_diff": div(c[2], c[3]), "mech_self_p": div(c[4], c[5])}


def gradient_split(out: dict, target: torch.Tensor, lam: float, thresh: float | None, min_kept: int = 0,
                   ignore_index: int = 255) -> dict:
    """The two parts of Eq. 2 differentiated separately at ``out["features"]`` (the graph is kept for the
    training step's own backward, whose result this does not change)."""
    feats = out["features"]
    logits = out["logits"].float()
    cls = ohem_cross_entropy(logits, target, thresh=thresh, min_kept=min_kept, ignore_index=ignore_index)
    sim = out["similarity"].float()
    small = target if target.shape[-2:] == sim.shape[-2:] else labels_at_output(target)
    scl = spatial_correlation_loss(sim, small, ignore_index)
    g_cls, = torch.autograd.grad(cls, feats, retain_graph=True)
    g_scl, = torch.autograd.grad(lam * scl, feats, retain_graph=True)
    a, b = g_cls.flatten().double(), g_scl.flatten().double()
    na, nb = a.norm().item(), b.norm().item()
    return {"mech_grad_ohem": na, "mech_grad_scl": nb, "mech_grad_ratio": nb / na if na else float("nan"),
            "mech_grad_cos": float(F.cosine_similarity(a, b, dim=0)) if na and nb else float("nan")}


@torch.no_grad()
def _classify(subnet, e: torch.Tensor, neighbour: torch.Tensor) -> torch.Tensor:
    """The subnet's classifier on (anchor, neighbour) embeddings, both (B, 9, C, h, w) -> (B, 9, h, w) logits."""
    b, k, c, h, w = neighbour.shape
    corr = torch.cat([e.unsqueeze(1).expand_as(neighbour), neighbour], dim=2)
    return subnet.classify(corr.reshape(b * k, 2 * c, h, w)).view(b, k, h, w)


@torch.no_grad()
def similarity_probe(model, dataset, device="cpu", limit: int = 40, batch: int = 8, seed: int = 0) -> dict:
    """Accuracy of the similarity subnet on the val pairs of ``limit`` images, with the real neighbour, the anchor's
    own feature in its place, and a random cell's of the same image; and the self-pair probability on interior
    cells and on cells next to a contour.  Fractions in [0, 1]."""
    if getattr(model, "similarity", None) is None:
        raise ValueError("similarity_probe needs a model with the similarity subnet (similarity=True)")
    model.eval()
    subnet = model.similarity
    g = torch.Generator().manual_seed(seed)
    acc = {k: torch.zeros(4, dtype=torch.float64) for k in ("real", "anchor", "random")}
    self_p = torch.zeros(4, dtype=torch.float64)   # Σ P interior, n interior, Σ P at contours, n at contours
    n = min(limit, len(dataset))
    for i in range(0, n, batch):
        items = [dataset[j] for j in range(i, min(n, i + batch))]
        images = torch.stack([s["image"] for s in items]).to(device)
        small = labels_at_output(torch.stack([s["label"] for s in items]))
        feats = model(images)["features"]
        e = subnet.embed(feats)
        b, c, h, w = e.shape
        perm = torch.stack([torch.randperm(h * w, generator=g) for _ in range(b)]).to(e.device)
        shuffled = torch.gather(e.flatten(2), 2, perm[:, None].expand(b, c, h * w)).view(b, c, h, w)
        real = _classify(subnet, e, shift_features(e)).cpu()
        variants = {"real": real, "anchor": _classify(subnet, e, e.unsqueeze(1).expand(b, 9, c, h, w)).cpu(),
                    "random": _classify(subnet, e, shift_features(shuffled)).cpu()}
        pos, neg = pair_labels(small)
        for k, logits in variants.items():
            same = logits > 0
            acc[k] += torch.stack([(same & pos).sum(), pos.sum(), (~same & neg).sum(), neg.sum()]).double()
        valid = pos[:, CENTER]
        contour = neg.any(dim=1) & valid
        interior = valid & ~contour
        p = torch.sigmoid(real[:, CENTER])
        self_p += torch.tensor([p[interior].sum(), interior.sum(), p[contour].sum(), contour.sum()], dtype=torch.float64)
    div = lambda a, b: float(a / b) if b else float("nan")     # noqa: E731
    res = {}
    for k, v in acc.items():
        res[f"acc_same_{k}"], res[f"acc_diff_{k}"] = div(v[0], v[1]), div(v[2], v[3])
        res[f"balanced_{k}"] = (res[f"acc_same_{k}"] + res[f"acc_diff_{k}"]) / 2
    res.update({"self_p_interior": div(self_p[0], self_p[1]), "self_p_contour": div(self_p[2], self_p[3]),
                "images": n})
    return res
