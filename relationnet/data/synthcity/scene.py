"""One SynthCity scene: the camera, the road, the street sides and the objects placed in depth (:func:`render`)."""
from __future__ import annotations


import numpy as np

from .objects import bicycle_alone, bus, car, cyclist, person, pole, tram, tree, truck
from .paint import BUILDING, EGO, FACADES, FENCE, ROAD, SIDEWALK, SKY, TERRAIN, WALL, Canvas, jitter, smooth_noise



def render(width: int = 256, height: int = 128, rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    """One scene: ``{"image": (H, W, 3) uint8, "label": (H, W) label ids, "instance": (H, W) instance ids}``."""
    rng = rng if rng is not None else np.random.default_rng()
    h, w = height, width
    cv = Canvas(h, w)
    f = w * rng.uniform(0.8, 1.05)                  # focal length in pixels
    hc = rng.uniform(1.3, 1.7)                      # camera height (m)
    yh = h * rng.uniform(0.36, 0.48)                # horizon row
    vx = w * rng.uniform(0.38, 0.62)                # vanishing point column
    road = rng.uniform(3.5, 7.5)                    # half width of the road (m)
    walk = rng.uniform(2.0, 4.5)                    # sidewalk width (m)
    side = road + walk
    zfar = rng.uniform(45, 90) if rng.random() < 0.5 else 400.0
    light = rng.uniform(0.65, 1.25)
    tint = rng.uniform(0.9, 1.1, 3).astype(np.float32)

    def ground_row(z):
        return yh + f * hc / z

    def column(x_m, z):
        return vx + f * x_m / z

    # sky: clear (blue), overcast (grey) or evening (orange), with clouds
    weather = rng.choice(3, p=[0.5, 0.35, 0.15])
    top, bottom = [((70, 130, 210), (170, 200, 235)), ((150, 155, 160), (200, 200, 205)),
                   ((90, 90, 140), (235, 170, 110))][weather]
    sl, xx, yy = cv.grid(0, 0, w - 1, h - 1)
    t = np.clip(yy / max(yh, 1), 0, 1)[..., None]
    sky = jitter(rng, top, 15) * (1 - t) + jitter(rng, bottom, 15) * t
    sky = sky + 35 * np.clip(smooth_noise(rng, h, w, max(4, w // 16)), 0, None)[..., None]
    cv.paint(sl, yy < h + 1, SKY, sky, np.float32(1e9))

    # ground: road, sidewalks, terrain beyond them
    below = yy > yh
    zg = np.where(below, f * hc / np.maximum(yy - yh, 1e-3), 1e6).astype(np.float32)
    xm = (xx - vx) * zg / f
    asphalt = jitter(rng, (95, 95, 100), 18)
    rtex = asphalt * (1 + 0.06 * rng.standard_normal((h, w, 1)).astype(np.float32))
    dash = (np.abs(xm) < 0.12) & ((zg / 6.0) % 1.0 < 0.45)
    if rng.random() < 0.4:                          # a zebra crossing
        zc = rng.uniform(8, 25)
        dash |= (np.abs(zg - zc) < 2.0) & ((xm / 0.9) % 1.0 < 0.5)
    rtex = np.where(dash[..., None], jitter(rng, (225, 225, 215), 10), rtex)
    cv.paint(sl, below & (np.abs(xm) < road), ROAD, rtex, zg)
    pave = jitter(rng, [(150, 145, 140), (170, 120, 110), (120, 120, 125), (185, 175, 150)][rng.integers(4)], 15)
    tiles = (((xm / 0.6) % 1.0 < 0.07) | ((zg / 0.6) % 1.0 < 0.07))[..., None]
    ptex = pave * np.where(tiles, 0.8, 1.0) * (1 + 0.05 * rng.standard_normal((h, w, 1)).astype(np.float32))
    cv.paint(sl, below & (np.abs(xm) >= road) & (np.abs(xm) < side), SIDEWALK, ptex, zg)
    grass = jitter(rng, [(90, 130, 60), (120, 130, 70), (110, 100, 70)][rng.integers(3)], 15)
    gtex = grass * (1 + 0.15 * rng.standard_normal((h, w, 1)).astype(np.float32))
    cv.paint(sl, below & (np.abs(xm) >= side), TERRAIN, gtex, zg)

    # a facade across the far end of the street
    if zfar < 200:
        hb = rng.uniform(8, 25)
        x0, x1 = column(-3 * side, zfar), column(3 * side, zfar)
        _facade(cv, rng, x0, ground_row(zfar) - f * hb / zfar, x1, ground_row(zfar), zfar, f, hc, yh)

    # the two sides of the street: rows of buildings or parks, with walls/fences in front
    for sgn in (-1, 1):
        z = rng.uniform(1.0, 6.0)
        while z < min(zfar, 150):
            length = rng.uniform(8, 30)
            kind = rng.choice(3, p=[0.65, 0.2, 0.15])      # building, park, fenced/walled building
            if kind in (0, 2):
                _side_building(cv, rng, sgn, side + (0.0 if kind == 0 else 1.5), z, min(z + length, zfar),
                               f, hc, yh, vx)
            if kind == 2 or (kind == 1 and rng.random() < 0.5):
                label = WALL if rng.random() < 0.5 else FENCE
                _side_plane(cv, rng, sgn, side + 0.3, z, min(z + length, zfar), rng.uniform(1.0, 2.2), label,
                            f, hc, yh, vx)
            if kind == 1:
                for _ in range(rng.integers(1, 4)):
                    zt = rng.uniform(z, z + length)
                    tree(cv, rng, column(sgn * (side + rng.uniform(1, 6)), zt), ground_row(zt), zt, f)
            z += length + (rng.uniform(2, 10) if rng.random() < 0.3 else 0.0)

    # objects placed in depth (the depth buffer sorts out occlusion)
    zmin = f * hc / (h - yh) + 1.0
    zmax = min(zfar - 1, 70.0)
    things = []
    for _ in range(rng.integers(2, 6)):
        things.append(("car", rng.uniform(zmin, zmax) if things else rng.uniform(zmin, zmin + 12),
                       rng.choice([-1, 1]) * rng.uniform(0.8, road - 1.0)))
    for _ in range(rng.poisson(0.6)):
        things.append((rng.choice(["truck", "bus", "tram"], p=[0.45, 0.4, 0.15]), rng.uniform(zmin + 4, zmax),
                       rng.choice([-1, 1]) * rng.uniform(1.5, max(1.6, road - 1.4))))
    for k in range(rng.integers(1, 6)):
        things.append(("person", rng.uniform(zmin, zmin + 10) if k == 0 else rng.uniform(zmin, zmax),
                       rng.choice([-1, 1]) * rng.uniform(road + 0.3, side - 0.3)))
    for _ in range(rng.poisson(0.8)):
        things.append(("cyclist", rng.uniform(zmin, zmax), rng.choice([-1, 1]) * rng.uniform(road - 1.5, road - 0.5)))
    for _ in range(rng.poisson(0.4)):
        things.append(("bicycle", rng.uniform(zmin, zmax), rng.choice([-1, 1]) * rng.uniform(road + 0.3, side - 0.3)))
    for k in range(rng.integers(2, 6)):
        things.append(("pole", rng.uniform(zmin, zmin + 8) if k == 0 else rng.uniform(zmin, zmax),
                       rng.choice([-1, 1]) * (road + rng.uniform(0.2, 0.6))))
    for _ in range(rng.integers(0, 4)):
        things.append(("tree", rng.uniform(zmin, zmax), rng.choice([-1, 1]) * (side - rng.uniform(0.3, 1.0))))
    for name, z, x in things:
        u, v = column(x, z), ground_row(z)
        {"car": car, "truck": truck, "bus": bus, "tram": tram, "person": person, "cyclist": cyclist,
         "bicycle": bicycle_alone, "pole": pole, "tree": tree}[name](cv, rng, u, v, z, f)

    if rng.random() < 0.3:                          # the ego vehicle's bonnet (void, as in Cityscapes)
        g = cv.grid(0, h * 0.9, w - 1, h - 1)
        if g is not None:
            sl, xx, yy = g
            bonnet = yy > h * rng.uniform(0.9, 0.95) + 0.002 * (xx - w / 2) ** 2 / max(w / 256, 1)
            cv.paint(sl, bonnet, EGO, jitter(rng, (40, 40, 45), 10), np.float32(0.1))

    # illumination: a global level and tint, soft cast shadows, sensor noise, slight blur
    img = cv.img * light * tint
    shadow = (smooth_noise(rng, h, w, max(4, w // 12)) > 0.5) & (cv.lab != SKY)
    img *= (1 - 0.3 * shadow)[..., None]
    img = 0.6 * img + 0.1 * (np.roll(img, 1, 0) + np.roll(img, -1, 0) + np.roll(img, 1, 1) + np.roll(img, -1, 1))
    img += rng.normal(0, rng.uniform(2, 7), img.shape).astype(np.float32)
    return {"image": np.clip(img, 0, 255).astype(np.uint8), "label": cv.lab, "instance": cv.inst}


# ---- the street sides

def _side_grid(cv, sgn, dist, z0, z1, top, f, hc, yh, vx):
    """Pixels of the vertical plane x = sgn·dist between depths z0 and z1, up to ``top`` metres:
    ``(slices, depth, metres above the ground, inside mask)``, or None when it is off-image."""
    xa, xb = vx + f * sgn * dist / z0, vx + f * sgn * dist / z1
    g = cv.grid(min(xa, xb), yh - f * (top - hc) / z0, max(xa, xb), yh + f * hc / z0)
    if g is None:
        return None
    sl, xx, yy = g
    with np.errstate(divide="ignore", invalid="ignore"):
        zw = (f * dist / np.abs(xx - vx)).astype(np.float32)
    zw = np.where(np.sign(xx - vx) == sgn, zw, np.inf)
    height = hc - (yy - yh) * zw / f                # metres above the ground at this pixel
    inside = (zw >= z0) & (zw <= z1) & (height >= 0) & (height <= top)
    return sl, zw, height, inside


def _side_building(cv, rng, sgn, dist, z0, z1, f, hc, yh, vx):
    """A facade in the plane x = sgn·dist between depths z0 and z1 (perspective, windows per floor)."""
    hb = rng.uniform(6, 30)
    g = _side_grid(cv, sgn, dist, z0, z1, hb, f, hc, yh, vx)
    if g is None:
        return
    sl, zw, height, inside = g
    cv.paint(sl, inside, BUILDING, _facade_texture(rng, zw, height, hb), zw)


def _facade(cv, rng, x0, y0, x1, y1, z, f, hc, yh):
    """A facade facing the camera at depth ``z`` (the far end of the street)."""
    g = cv.grid(x0, y0, x1, y1)
    if g is None:
        return
    sl, xx, yy = g
    height = hc - (yy - yh) * z / f
    along = xx * z / f
    tex = _facade_texture(rng, along, height, (y1 - y0) * z / f)
    cv.paint(sl, np.ones_like(xx, bool), BUILDING, tex, np.float32(z))


def _facade_texture(rng, along, height, hb):
    base = jitter(rng, FACADES[rng.integers(len(FACADES))], 20)
    floor = rng.uniform(2.8, 3.6)
    spacing = rng.uniform(2.0, 4.0)
    wfrac, hfrac = rng.uniform(0.35, 0.7), rng.uniform(0.4, 0.65)
    glass = jitter(rng, [(40, 50, 70), (90, 110, 140), (25, 25, 30), (150, 170, 190)][rng.integers(4)], 15)
    u = (along / spacing) % 1.0
    v = (height / floor) % 1.0
    win = (u < wfrac) & (v > 0.3) & (v < 0.3 + hfrac) & (height > floor) & (height < hb - 0.5)
    shop = (height < floor * 0.8) & (height > 0.3) & (u < 0.8) & (rng.random() < 0.6)
    stripes = 1 + 0.05 * np.sin(height * rng.uniform(3, 9))
    tex = base * stripes[..., None]
    tex = np.where((win | shop)[..., None], glass, tex)
    return tex.astype(np.float32)


def _side_plane(cv, rng, sgn, dist, z0, z1, hp, label, f, hc, yh, vx):
    """A low wall or fence along the street (x = sgn·dist), ``hp`` metres high."""
    g = _side_grid(cv, sgn, dist, z0, z1, hp, f, hc, yh, vx)
    if g is None:
        return
    sl, zw, height, inside = g
    if label == WALL:
        tex = jitter(rng, [(160, 155, 145), (120, 110, 100), (180, 170, 150)][rng.integers(3)], 20)
        tex = tex * (1 - 0.12 * (((height / 0.4) % 1.0) < 0.1))[..., None]
    else:                                           # bars with the darker gaps between them
        bars = ((zw / rng.uniform(0.15, 0.4)) % 1.0 < 0.4) | (np.abs(height - hp * 0.9) < 0.08)
        tex = np.where(bars[..., None], jitter(rng, (110, 105, 95), 25), jitter(rng, (70, 75, 60), 20))
    cv.paint(sl, inside, label, tex.astype(np.float32), zw - 0.5)
