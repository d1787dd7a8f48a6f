import math

import pytest
import torch

import relationnet as rn


def naive_ohem(logits, target, thresh, min_kept=0, ignore=255):
    b, k, h, w = logits.shape
    probs = torch.softmax(logits.double(), 1)
    pix = []
    for i in range(b):
        for y in range(h):
            for x in range(w):
                t = int(target[i, y, x])
                if t == ignore:
                    continue
                pix.append(float(probs[i, t, y, x]))
    if thresh is None:
        kept = list(range(len(pix)))
    else:
        kept = {j for j, p in enumerate(pix) if p < thresh}
        if min_kept:
            kept |= set(sorted(range(len(pix)), key=lambda j: pix[j])[:min_kept])
    if not kept:
        return 0.0
    return sum(-math.log(pix[j]) for j in kept) / len(kept)


@pytest.mark.parametrize("thresh", [0.3, 0.6, 0.9, None])
@pytest.mark.parametrize("min_kept", [0, 50])
def test_ohem_matches_naive_loop(thresh, min_kept):
    logits = torch.randn(2, 5, 6, 7) * 2
    target = torch.randint(0, 5, (2, 6, 7))
    target[0, :2] = 255
    target[1, 3, 3:] = 255
    got = rn.losses.ohem_cross_entropy(logits, target, thresh=thresh, min_kept=min_kept)
    assert got.item() == pytest.approx(naive_ohem(logits, target, thresh, min_kept), abs=1e-5)


def test_ohem_nothing_kept_is_zero_with_grad():
    logits = torch.zeros(1, 3, 2, 2)
    logits[:, 1] = 20.0                      # p_true ≈ 1 for class 1
    logits.requires_grad_(True)
    target = torch.ones(1, 2, 2, dtype=torch.long)
    loss = rn.losses.ohem_cross_entropy(logits, target, thresh=0.6)
    assert loss.item() == 0.0
    loss.backward()
    assert logits.grad is not None and torch.all(logits.grad == 0)
    all_ignored = rn.losses.ohem_cross_entropy(torch.randn(1, 3, 2, 2, requires_grad=True),
                                               torch.full((1, 2, 2), 255))
    assert all_ignored.item() == 0.0 and all_ignored.requires_grad


def centred_upsample_loop(x, H, W, s):
    h, w = x.shape[-2:]
    out = torch.zeros(*x.shape[:2], H, W, dtype=torch.float64)
    for y in range(H):
        for xx in range(W):
            fy, fx = min(y / s, h - 1), min(xx / s, w - 1)
            y0, x0 = int(fy), int(fx)
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            ay, ax = fy - y0, fx - x0
            out[..., y, xx] = ((1 - ay) * (1 - ax) * x[..., y0, x0] + (1 - ay) * ax * x[..., y0, x1]
                               + ay * (1 - ax) * x[..., y1, x0] + ay * ax * x[..., y1, x1])
    return out


def test_centred_upsampling_matches_loop():
    from relationnet.ops.upsample import upsample_centered
    x = torch.randn(1, 2, 3, 4, dtype=torch.float64)
    for H, W in [(17, 25), (24, 32), (20, 27)]:
        assert torch.allclose(upsample_centered(x, (H, W), 8), centred_upsample_loop(x, H, W, 8), atol=1e-9)
    assert torch.allclose(upsample_centered(x, (12, 16), 4), centred_upsample_loop(x, 12, 16, 4), atol=1e-9)


def test_ohem_upsamples_logits_to_target():
    logits = torch.randn(1, 4, 3, 4)
    target = torch.randint(0, 4, (1, 24, 32))
    up = centred_upsample_loop(logits.double(), 24, 32, 8)
    assert rn.losses.ohem_cross_entropy(logits, target).item() == pytest.approx(
        naive_ohem(up, target, 0.6), abs=1e-5)


def naive_scl(sim, target, ignore=255):
    b, _, h, w = sim.shape
    pairs = []
    for i in range(b):
        for y in range(h):
            for x in range(w):
                for k, (dy, dx) in enumerate(rn.ops.OFFSETS):
                    yy, xx = y + dy, x + dx
                    if not (0 <= yy < h and 0 <= xx < w):
                        continue
                    a, n = int(target[i, y, x]), int(target[i, yy, xx])
                    if a == ignore or n == ignore:
                        continue
                    pairs.append((a == n, float(sim[i, k, y, x])))
    n_pos = sum(1 for p, _ in pairs if p)
    n_neg = len(pairs) - n_pos
    if not pairs:
        return 0.0
    alpha, beta = n_pos / len(pairs), n_neg / len(pairs)
    sig = lambda s: 1 / (1 + math.exp(-s))
    total = sum(beta * math.log(sig(s)) if p else alpha * math.log(1 - sig(s)) for p, s in pairs)
    return -total / len(pairs)


@pytest.mark.parametrize("case", ["random", "borders_and_ignore", "one_class", "all_ignored"])
def test_scl_matches_naive_loop(case):
    sim = torch.randn(2, 9, 5, 6) * 3
    if case == "random":
        target = torch.randint(0, 4, (2, 5, 6))
    elif case == "borders_and_ignore":
        target = torch.randint(0, 3, (2, 5, 6))
        target[0, 0, :] = 255
        target[1, :, -1] = 255
        target[1, 2, 2] = 255
    elif case == "one_class":
        target = torch.full((2, 5, 6), 7)
        target[0, 1, 1] = 255
    else:
        target = torch.full((2, 5, 6), 255)
    sim.requires_grad_(True)
    got = rn.losses.spatial_correlation_loss(sim, target)
    assert got.item() == pytest.approx(naive_scl(sim.detach(), target), abs=1e-5)
    got.backward()
    assert sim.grad is not None
    if case == "all_ignored":
        assert got.item() == 0.0 and torch.all(sim.grad == 0)


def test_scl_hand_3x3():
    # Left column class 0, the rest class 1; all logits 0 => log σ = log(1-σ) = -log 2.
    target = torch.tensor([[[0, 1, 1], [0, 1, 1], [0, 1, 1]]])
    pos, neg = rn.losses.pair_labels(target)
    # in-image ordered pairs (itself included) on a 3×3 grid: 4 corners·4 + 4 edges·6 + 1 centre·9 = 49
    assert int(pos.sum() + neg.sum()) == 49
    # pairs across the 0|1 boundary: each left pixel sees 2,3,2 right-neighbours (top/mid/bottom), and vice versa
    assert int(neg.sum()) == 2 * (2 + 3 + 2)
    n_pos, n_neg = 49 - 14, 14
    expected = (n_neg / 49 * n_pos + n_pos / 49 * n_neg) * math.log(2) / 49
    got = rn.losses.spatial_correlation_loss(torch.zeros(1, 9, 3, 3), target)
    assert got.item() == pytest.approx(expected, abs=1e-6)


def test_labels_at_output_takes_centre_pixels():
    t = torch.arange(17 * 20).view(1, 17, 20)
    small = rn.losses.labels_at_output(t)
    assert small.shape == (1, 3, 3)
    assert small[0, 2, 1] == t[0, 16, 8]


def test_total_loss_parts():
    out = {"logits": torch.randn(2, 4, 3, 4, requires_grad=True), "similarity": torch.randn(2, 9, 3, 4, requires_grad=True)}
    target = torch.randint(0, 4, (2, 24, 32))
    total, parts = rn.losses.relationnet_loss(out, target, lam=0.5)
    ohem = rn.losses.ohem_cross_entropy(out["logits"], target)
    scl = rn.losses.spatial_correlation_loss(out["similarity"], target[:, ::8, ::8])
    assert parts["ohem"] == pytest.approx(ohem.item()) and parts["scl"] == pytest.approx(scl.item())
    assert total.item() == pytest.approx(ohem.item() + 0.5 * scl.item(), rel=1e-6)
    _, no_scl = rn.losses.relationnet_loss(out, target, lam=0.0)
    assert no_scl["scl"] == 0.0


def test_bad_targets_give_clear_errors():
    logits = torch.randn(1, 4, 3, 3)
    with pytest.raises(ValueError, match="outside 0..3"):
        rn.losses.ohem_cross_entropy(logits, torch.tensor([[[0, 1, 4], [0, 0, 0], [255, 0, 0]]]))
    with pytest.raises(ValueError, match="target must be"):
        rn.losses.ohem_cross_entropy(logits, torch.zeros(3, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="integer"):
        rn.losses.ohem_cross_entropy(logits, torch.zeros(1, 3, 3))
    with pytest.raises(ValueError, match="does not match"):
        rn.losses.spatial_correlation_loss(torch.randn(1, 9, 3, 3), torch.zeros(1, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(B, 9, h, w\)"):
        rn.losses.spatial_correlation_loss(torch.randn(1, 8, 3, 3), torch.zeros(1, 3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="outside 0..3"):
        rn.losses.relationnet_loss({"logits": logits, "similarity": torch.randn(1, 9, 3, 3)},
                                   torch.full((1, 3, 3), 9), lam=0.1, thresh=None)
