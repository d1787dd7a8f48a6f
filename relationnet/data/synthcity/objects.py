"""SynthCity's objects, each painted with its label and instance ids: vehicles, people, riders, bicycles, poles
with signs and lights, trees (u, v: image column of the centre and row of the ground point; z: depth in metres)."""
from __future__ import annotations


import numpy as np

from .paint import (BICYCLE, BUS, CAR, CAR_COLOURS, CLOTHES, LIGHT, MOTORCYCLE, PERSON, POLE, RIDER, SIGN, TRAIN, TRUCK,
                    VEGETATION, jitter)



def _box(cv, u, v, z, f, x0, x1, h0, h1):
    """Grid of a box spanning x0..x1 metres across and h0..h1 metres above the ground."""
    return cv.grid(u + f * x0 / z, v - f * h1 / z, u + f * x1 / z, v - f * h0 / z)


def _metric(xx, yy, u, v, z, f):
    return (xx - u) * z / f, (v - yy) * z / f      # metres across, metres up


def _vehicle(cv, rng, u, v, z, f, label, width, height, colour, windows):
    inst = cv.new_instance(label)
    g = _box(cv, u, v, z, f, -width / 2, width / 2, 0, height)
    if g is None:
        return
    sl, xx, yy = g
    a, b = _metric(xx, yy, u, v, z, f)
    body = (np.abs(a) <= width / 2) & (b >= 0.25) & (b <= height * 0.55)
    cabin_w = width / 2 * (1 - 0.25 * (b - height * 0.55) / (height * 0.45))
    cabin = (np.abs(a) <= cabin_w) & (b > height * 0.55) & (b <= height)
    wheels = (b < 0.45) & (np.abs(np.abs(a) - width * 0.33) < width * 0.14)
    tex = np.broadcast_to(colour, xx.shape + (3,)).copy()
    tex *= (1 + 0.15 * (b / height - 0.5))[..., None]
    glass = cabin & (b > height * 0.62) & (b < height * 0.93) & (np.abs(a) < cabin_w - 0.1)
    tex[glass] = windows
    tex[wheels] = (25, 25, 25)
    lamps = body & (b > height * 0.38) & (b < height * 0.5) & (np.abs(a) > width / 2 - 0.35)
    tex[lamps] = (200, 40, 30) if rng.random() < 0.6 else (230, 220, 180)
    cv.paint(sl, body | cabin | wheels, label, tex, np.float32(z), inst)


def car(cv, rng, u, v, z, f):
    _vehicle(cv, rng, u, v, z, f, CAR, rng.uniform(1.6, 2.0), rng.uniform(1.35, 1.7),
             jitter(rng, CAR_COLOURS[rng.integers(len(CAR_COLOURS))], 12), jitter(rng, (45, 55, 70), 15))


def truck(cv, rng, u, v, z, f):
    _vehicle(cv, rng, u, v, z, f, TRUCK, rng.uniform(2.2, 2.6), rng.uniform(2.8, 3.6),
             jitter(rng, CAR_COLOURS[rng.integers(len(CAR_COLOURS))], 20), jitter(rng, (50, 55, 60), 15))


def _long_vehicle(cv, rng, u, v, z, f, label, colour, height):
    inst = cv.new_instance(label)
    width = rng.uniform(2.4, 2.6)
    g = _box(cv, u, v, z, f, -width / 2, width / 2, 0, height + 0.6)
    if g is None:
        return
    sl, xx, yy = g
    a, b = _metric(xx, yy, u, v, z, f)
    body = (np.abs(a) <= width / 2) & (b >= 0.3) & (b <= height)
    wheels = (b < 0.5) & (np.abs(np.abs(a) - width * 0.33) < width * 0.12)
    tex = np.broadcast_to(colour, xx.shape + (3,)).copy()
    band = body & (b > height * 0.5) & (b < height * 0.85) & (np.abs(a) < width / 2 - 0.15)
    tex[band] = jitter(rng, (40, 50, 60), 10)
    tex[wheels] = (25, 25, 25)
    mask = body | wheels
    if label == TRAIN:                              # the pantograph: thin lines above the roof
        panto = (b > height) & (b < height + 0.6) & (np.abs(np.abs(a) - (b - height) * 0.6) < 0.05)
        tex[panto] = (40, 40, 40)
        mask |= panto
    cv.paint(sl, mask, label, tex, np.float32(z), inst)


def bus(cv, rng, u, v, z, f):
    colour = jitter(rng, [(200, 40, 40), (230, 200, 40), (240, 240, 240), (40, 90, 170)][rng.integers(4)], 15)
    _long_vehicle(cv, rng, u, v, z, f, BUS, colour, rng.uniform(2.9, 3.3))


def tram(cv, rng, u, v, z, f):
    colour = jitter(rng, [(220, 220, 210), (200, 40, 40), (60, 120, 70)][rng.integers(3)], 15)
    _long_vehicle(cv, rng, u, v, z, f, TRAIN, colour, rng.uniform(3.2, 3.6))


def _person_shape(cv, rng, u, v, z, f, label, base=0.0, legs=True):
    """Head, torso, arms and (optionally) legs; ``base`` lifts the figure (a rider on a saddle)."""
    inst = cv.new_instance(label)
    tall = rng.uniform(1.55, 1.9)
    g = _box(cv, u, v, z, f, -0.35, 0.35, base, base + tall)
    if g is None:
        return
    sl, xx, yy = g
    a, b = _metric(xx, yy, u, v, z, f)
    b = b - base
    head = (a / 0.11) ** 2 + ((b - tall + 0.12) / 0.13) ** 2 <= 1
    torso = (np.abs(a) < 0.2) & (b > tall * 0.5) & (b <= tall - 0.22)
    arms = (np.abs(np.abs(a) - 0.24) < 0.05) & (b > tall * 0.45) & (b <= tall - 0.28)
    stride = rng.uniform(0.0, 0.15)
    leg = legs & (b >= 0) & (b <= tall * 0.5) & (np.abs(np.abs(a) - 0.08 - stride * (1 - b / (tall * 0.5))) < 0.07)
    tex = np.broadcast_to(jitter(rng, CLOTHES[rng.integers(len(CLOTHES))], 20), xx.shape + (3,)).copy()
    tex[leg] = jitter(rng, CLOTHES[rng.integers(len(CLOTHES))], 20)
    tex[head] = jitter(rng, [(220, 180, 150), (150, 100, 70), (90, 60, 40)][rng.integers(3)], 10)
    cv.paint(sl, head | torso | arms | leg, label, tex, np.float32(z), inst)


def person(cv, rng, u, v, z, f):
    _person_shape(cv, rng, u, v, z, f, PERSON)


def _two_wheeler(cv, rng, u, v, z, f, label):
    inst = cv.new_instance(label)
    length = 1.7 if label == BICYCLE else 2.0
    r = 0.34 if label == BICYCLE else 0.32
    g = _box(cv, u, v, z, f, -length / 2, length / 2, 0, 1.1)
    if g is None:
        return
    sl, xx, yy = g
    a, b = _metric(xx, yy, u, v, z, f)
    thick = max(0.045, 0.6 * z / f)                 # at least about half a pixel wide
    mask = np.zeros_like(a, bool)
    for c in (-length / 2 + r, length / 2 - r):
        d = np.hypot(a - c, b - r)
        mask |= np.abs(d - r) < thick
    frame = [(-length / 2 + r, r, 0.0, 0.9), (0.0, 0.9, length / 2 - r, r), (-0.1, r, 0.0, 0.9),
             (0.05, 0.95, length / 2 - r - 0.1, 1.0)]
    for x0, y0, x1, y1 in frame:
        mask |= _segment_distance(a, b, x0, y0, x1, y1) < thick
    colour = jitter(rng, [(30, 30, 30), (160, 30, 30), (40, 60, 140), (200, 200, 200)][rng.integers(4)], 15)
    if label == MOTORCYCLE:
        mask |= ((a / 0.5) ** 2 + ((b - 0.65) / 0.22) ** 2) <= 1
    cv.paint(sl, mask, label, colour, np.float32(z), inst)


def _segment_distance(a, b, x0, y0, x1, y1):
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((a - x0) * dx + (b - y0) * dy) / max(dx * dx + dy * dy, 1e-9), 0, 1)
    return np.hypot(a - x0 - t * dx, b - y0 - t * dy)


def cyclist(cv, rng, u, v, z, f):
    _two_wheeler(cv, rng, u, v, z, f, MOTORCYCLE if rng.random() < 0.35 else BICYCLE)
    _person_shape(cv, rng, u, v, z - 0.05, f, RIDER, base=0.55, legs=True)


def bicycle_alone(cv, rng, u, v, z, f):
    _two_wheeler(cv, rng, u, v, z, f, BICYCLE)


def pole(cv, rng, u, v, z, f):
    tall = rng.uniform(3.5, 7.0)
    width = max(rng.uniform(0.1, 0.2), 0.9 * z / f)     # never thinner than about one pixel
    g = _box(cv, u, v, z, f, -width / 2, width / 2, 0, tall)
    if g is not None:
        sl, xx, yy = g
        a, b = _metric(xx, yy, u, v, z, f)
        tex = jitter(rng, [(120, 120, 120), (70, 75, 70), (160, 160, 150)][rng.integers(3)], 20)
        cv.paint(sl, (np.abs(a) <= width / 2) & (b >= 0) & (b <= tall), POLE, tex, np.float32(z))
    kind = rng.choice(3, p=[0.45, 0.35, 0.2])       # sign, traffic light, bare pole
    if kind == 0:
        s = rng.uniform(0.6, 0.9)
        g = _box(cv, u, v, z, f, -s, s, tall - 2 * s, tall + 0.05)
        if g is None:
            return
        sl, xx, yy = g
        a, b = _metric(xx, yy, u, v, z, f)
        shape = rng.integers(3)
        c = tall - s
        if shape == 0:
            mask = (a / (s / 2)) ** 2 + ((b - c) / (s / 2)) ** 2 <= 1
        elif shape == 1:
            mask = (np.abs(a) <= s / 2) & (np.abs(b - c) <= s / 2)
        else:                                       # a triangle
            mask = (b <= c + s / 2) & (b >= c - s / 2) & (np.abs(a) <= (c + s / 2 - b) * 0.58)
        face = jitter(rng, [(200, 30, 30), (30, 70, 170), (230, 200, 30), (230, 230, 230)][rng.integers(4)], 15)
        rim = jitter(rng, (230, 230, 230), 10)
        tex = np.where(((a / (s / 3)) ** 2 + ((b - c) / (s / 3)) ** 2 <= 1)[..., None], face, rim)
        cv.paint(sl, mask, SIGN, tex.astype(np.float32), np.float32(z - 0.05))
    elif kind == 1:
        bw, bh = rng.uniform(0.3, 0.4), rng.uniform(0.9, 1.1)
        g = _box(cv, u, v, z, f, -bw / 2, bw / 2, tall - bh, tall)
        if g is None:
            return
        sl, xx, yy = g
        a, b = _metric(xx, yy, u, v, z, f)
        box = (np.abs(a) <= bw / 2) & (b >= tall - bh) & (b <= tall)
        tex = np.broadcast_to(jitter(rng, (35, 35, 35), 10), xx.shape + (3,)).copy()
        lit = rng.integers(3)
        for k, col in enumerate([(230, 40, 30), (240, 180, 30), (40, 220, 90)]):
            c = tall - bh / 6 - k * bh / 3
            lamp = (a / (bw / 3)) ** 2 + ((b - c) / (bw / 3)) ** 2 <= 1
            tex[lamp] = col if k == lit else (60, 60, 55)
        cv.paint(sl, box, LIGHT, tex, np.float32(z - 0.05))


def tree(cv, rng, u, v, z, f):
    tall = rng.uniform(4, 9)
    crown = rng.uniform(1.5, 3.0)
    g = _box(cv, u, v, z, f, -crown * 1.2, crown * 1.2, 0, tall + crown)
    if g is None:
        return
    sl, xx, yy = g
    a, b = _metric(xx, yy, u, v, z, f)
    trunk = (np.abs(a) < max(0.15, 0.6 * z / f)) & (b >= 0) & (b <= tall)
    blob = np.zeros_like(a, bool)
    for _ in range(rng.integers(3, 7)):
        cx, cy, r = rng.normal(0, crown * 0.4), tall + rng.normal(0, crown * 0.3), crown * rng.uniform(0.5, 0.9)
        blob |= (a - cx) ** 2 + (b - cy) ** 2 <= r * r
    leaves = jitter(rng, [(50, 100, 40), (80, 120, 50), (120, 110, 40), (40, 70, 40)][rng.integers(4)], 15)
    tex = np.broadcast_to(leaves, xx.shape + (3,)) * (0.7 + 0.5 * rng.random(xx.shape + (1,)).astype(np.float32))
    tex = np.where(trunk[..., None] & ~blob[..., None], jitter(rng, (80, 60, 40), 10), tex)
    cv.paint(sl, blob | trunk, VEGETATION, tex.astype(np.float32), np.float32(z))
