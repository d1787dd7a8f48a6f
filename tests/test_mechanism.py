"""The mechanism measures of study 2 (relationnet.engine.mechanism) against naive loops and hand-built subnets."""
import torch
from torch import nn

from relationnet.engine import mechanism
from relationnet.losses import ohem_cross_entropy, spatial_correlation_loss
from relationnet.models.similarity import SimilaritySubnet
from relationnet.ops import OFFSETS


def naive_counts(sim, lab):
    b, _, h, w = sim.shape
    c = [0.0] * 6
    for n in range(b):
        for y in range(h):
            for x in range(w):
                for k, (dy, dx) in enumerate(OFFSETS):
                    yy, xx = y + dy, x + dx
                    if not (0 <= yy < h and 0 <= xx < w) or lab[n, y, x] == 255 or lab[n, yy, xx] == 255:
                        continue
                    same = bool(lab[n, y, x] == lab[n, yy, xx])
                    said = bool(sim[n, k, y, x] > 0)
                    if same:
                        c[0] += said
                        c[1] += 1
                    else:
                        c[2] += not said
                        c[3] += 1
                    if (dy, dx) == (0, 0):
                        c[4] += torch.sigmoid(sim[n, k, y, x]).item()
                        c[5] += 1
    return c


def test_pair_counts_match_a_naive_loop():
    g = torch.Generator().manual_seed(0)
    sim = torch.randn(2, 9, 5, 6, generator=g)
    lab = torch.randint(0, 3, (2, 5, 6), generator=g)
    lab[0, 1, 2] = 255
    got = mechanism.pair_counts(sim, lab).tolist()
    want = naive_counts(sim, lab)
    assert got[:4] == want[:4] and got[5] == want[5] and abs(got[4] - want[4]) < 1e-5


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Conv2d(3, 4, 1)
        self.cls = nn.Conv2d(4, 3, 1)
        self.sim = SimilaritySubnet(4, embed=4)

    def forward(self, x):
        f = self.f(x)
        return {"features": f, "logits": self.cls(f), "similarity": self.sim(f)}


def test_gradient_split_is_the_two_parts_and_leaves_the_step_alone():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 5)
    lab = torch.randint(0, 3, (2, 4, 5))
    m = Tiny()
    out = m(x)
    split = mechanism.gradient_split(out, lab, lam=0.1, thresh=0.6)
    loss = ohem_cross_entropy(out["logits"], lab, thresh=0.6) + 0.1 * spatial_correlation_loss(out["similarity"], lab)
    loss.backward()
    grads = [p.grad.clone() for p in m.parameters()]
    # the reference: each part on a fresh forward pass, its gradient at the features by hand
    m2 = Tiny()
    m2.load_state_dict(m.state_dict())
    o2 = m2(x)
    g1, = torch.autograd.grad(ohem_cross_entropy(o2["logits"], lab, thresh=0.6), o2["features"], retain_graph=True)
    g2, = torch.autograd.grad(0.1 * spatial_correlation_loss(o2["similarity"], lab), o2["features"], retain_graph=True)
    assert abs(split["mech_grad_ohem"] - g1.norm().item()) < 1e-6
    assert abs(split["mech_grad_ratio"] - g2.norm().item() / g1.norm().item()) < 1e-6
    cos = (g1 * g2).sum() / g1.norm() / g2.norm()
    assert abs(split["mech_grad_cos"] - cos.item()) < 1e-5
    # the training step's gradients are those of a step without the split
    loss2 = (ohem_cross_entropy(o2["logits"], lab, thresh=0.6)
             + 0.1 * spatial_correlation_loss(o2["similarity"], lab))
    loss2.backward()
    for a, b in zip(grads, [p.grad for p in m2.parameters()]):
        assert torch.equal(a, b)


class Probe(nn.Module):
    """Features are the one-hot label of each cell; the subnet's classifier is set by hand."""
    def __init__(self, compare: bool):
        super().__init__()
        c = 3
        self.similarity = SimilaritySubnet(c, embed=c)
        conv, bn, _ = self.similarity.embed
        with torch.no_grad():
            conv.weight.copy_(torch.eye(c).view(c, c, 1, 1))
            bn.reset_running_stats()                       # eval BN: identity (mean 0, var 1, eps aside)
            first, last = self.similarity.classify[0], self.similarity.classify[2]
            first.weight.zero_()
            first.bias.zero_()
            if compare:    # hidden = relu(a − n) + relu(n − a) summed = |a − n|; "same" when it is 0
                first.weight.copy_(torch.cat([torch.eye(c), -torch.eye(c)], 1).view(c, 2 * c, 1, 1))
                last.weight.copy_(-torch.ones(1, c, 1, 1))
                last.bias.fill_(0.5)
            else:          # reads only the anchor: "same" unless the anchor is class 2 ("near a contour")
                first.weight[0, 2] = 1.0
                last.weight.zero_()
                last.weight[0, 0] = -1.0
                last.bias.fill_(0.5)

    def forward(self, images):
        lab = images[:, 0, ::8, ::8].long()
        return {"features": nn.functional.one_hot(lab, 3).permute(0, 3, 1, 2).float()}


class LabelSet(torch.utils.data.Dataset):
    def __init__(self):
        g = torch.Generator().manual_seed(1)
        small = torch.randint(0, 3, (4, 2, 3), generator=g).repeat_interleave(3, 1).repeat_interleave(3, 2)  # 3×3 blocks
        self.labels = small.repeat_interleave(8, 1).repeat_interleave(8, 2)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        lab = self.labels[i]
        return {"image": lab.float().expand(3, *lab.shape).clone(), "label": lab}


def test_the_probe_tells_a_comparing_subnet_from_one_that_reads_the_anchor():
    ds = LabelSet()
    cmp_ = mechanism.similarity_probe(Probe(compare=True), ds, limit=4)
    assert cmp_["acc_same_real"] == 1.0 and cmp_["acc_diff_real"] == 1.0
    assert cmp_["acc_diff_anchor"] == 0.0 and cmp_["acc_same_anchor"] == 1.0    # "same" for every pair
    assert cmp_["balanced_random"] < 0.9
    assert cmp_["self_p_interior"] > 0.6 and cmp_["self_p_contour"] > 0.6
    anchor = mechanism.similarity_probe(Probe(compare=False), ds, limit=4)
    for k in ("acc_same", "acc_diff", "balanced"):                              # the neighbour changes nothing
        assert anchor[f"{k}_real"] == anchor[f"{k}_anchor"] == anchor[f"{k}_random"]
