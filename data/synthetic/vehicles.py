"""Vehicles of the synthetic world: cars, buses, trucks, motorcycles and bicycles.

Every builder draws into a `Shape` in the vehicle's own frame (origin on the ground under its
centre, z forward) and marks the silhouette with part 1; a rider is part 2.
"""
from __future__ import annotations

import math

import numpy as np

from data.synthetic.figures import draw_person, ride_joints, sample_person
from data.synthetic.painter import Shape, ring

CAR_COLOURS = (
    (235, 235, 235), (28, 28, 30), (190, 190, 186), (118, 118, 120), (70, 70, 76), (40, 40, 190),
    (34, 30, 120), (150, 80, 30), (90, 50, 22), (60, 110, 40), (150, 185, 200), (20, 190, 240),
    (20, 110, 230), (40, 70, 100), (120, 120, 20), (210, 160, 110),
)
BUS_COLOURS = ((20, 200, 250), (40, 40, 200), (235, 235, 235), (160, 90, 30), (60, 140, 60))
CARGO_COLOURS = ((240, 240, 240), (200, 200, 200), (150, 150, 150), (60, 120, 200), (180, 110, 40))
CAB_COLOURS = ((40, 40, 190), (150, 80, 30), (235, 235, 235), (60, 110, 40), (20, 110, 230), (30, 30, 30))
TYRE, GLASS, SHADOW, CHROME = (24, 24, 26), (70, 58, 50), (22, 24, 26), (170, 170, 170)
TAIL, TAIL_BRAKE, HEAD, HEAD_ON = (30, 30, 140), (60, 60, 255), (200, 225, 235), (235, 250, 255)


def _pick(rng: np.random.Generator, options: tuple) -> tuple[int, int, int]:
    return tuple(int(v) for v in options[int(rng.integers(len(options)))])


def sample_vehicle(kind: str, rng: np.random.Generator) -> dict:
    """Random dimensions and colours for one vehicle of `kind`."""
    if kind == "car":
        body = str(rng.choice(["sedan", "sedan", "hatch", "suv", "suv", "van"]))
        length = {"sedan": 4.7, "hatch": 4.0, "suv": 4.8, "van": 5.0}[body] * rng.uniform(0.94, 1.06)
        belt = {"sedan": 0.92, "hatch": 0.95, "suv": 1.08, "van": 1.05}[body]
        roof = {"sedan": 1.45, "hatch": 1.5, "suv": 1.75, "van": 1.98}[body] * rng.uniform(0.97, 1.03)
        return {"kind": kind, "body": body, "length": length, "width": rng.uniform(1.75, 1.95), "belt": belt,
                "roof": roof, "colour": _pick(rng, CAR_COLOURS)}
    if kind == "bus":
        return {"kind": kind, "length": rng.uniform(10.5, 12.5), "width": 2.55, "height": rng.uniform(3.0, 3.3),
                "colour": _pick(rng, BUS_COLOURS), "stripe": _pick(rng, CAR_COLOURS)}
    if kind == "truck":
        semi = bool(rng.random() < 0.3)
        return {"kind": kind, "length": rng.uniform(13.0, 16.0) if semi else rng.uniform(7.0, 9.5),
                "width": 2.5, "height": rng.uniform(3.4, 4.0), "cab": rng.uniform(2.0, 2.6),
                "colour": _pick(rng, CARGO_COLOURS), "cab_colour": _pick(rng, CAB_COLOURS)}
    if kind == "motorcycle":
        return {"kind": kind, "colour": _pick(rng, CAR_COLOURS), "rider": sample_person(rng, helmet=True)}
    if kind == "bicycle":
        return {"kind": kind, "colour": _pick(rng, CAR_COLOURS), "rider": sample_person(rng)}
    raise ValueError(f"unknown vehicle kind {kind!r}")


def _wheels_side(faces: dict, axles: list[float], radius: float, y0: float) -> list[tuple]:
    out = []
    for name in ("left", "right"):
        face = faces.get(name)
        if face is not None:
            for a in axles:
                out.append((face, a, radius - y0, radius))
    return out


def _draw_wheels(shape: Shape, wheels: list[tuple]) -> None:
    for face, a, b, r in wheels:
        shape.poly(face.ellipse(a, b, r * 1.12, r * 1.12, 16), (40, 40, 42))
        shape.poly(face.ellipse(a, b, r, r, 16), TYRE, 1)
        shape.poly(face.ellipse(a, b, r * 0.5, r * 0.5, 10), CHROME)


def _end_details(shape: Shape, face, which: str, y0: float, lamp_y: float, braking: bool, lights: bool,
                 colour: tuple) -> None:
    """Lights, plate, bumper and the tyres showing under the body at the rear or front."""
    w = face.width
    dark = tuple(int(c * 0.55) for c in colour)
    for a0, a1 in ((0.1, 0.36), (w - 0.36, w - 0.1)):
        shape.poly(face.rect(a0, a1, -y0, 0.02), TYRE, 1)
    shape.poly(face.rect(0, w, 0, 0.13), dark)
    shape.poly(face.rect(w / 2 - 0.26, w / 2 + 0.26, 0.17, 0.31), (225, 225, 220))
    if which == "rear":
        lamp = TAIL_BRAKE if braking or lights else TAIL
        for a0, a1 in ((0.05, 0.33), (w - 0.33, w - 0.05)):
            shape.poly(face.rect(a0, a1, lamp_y - 0.2, lamp_y), lamp)
    else:
        lamp = HEAD_ON if lights else HEAD
        for a0, a1 in ((0.08, 0.36), (w - 0.36, w - 0.08)):
            shape.poly(face.rect(a0, a1, lamp_y - 0.16, lamp_y), lamp)
        shape.poly(face.rect(w / 2 - 0.42, w / 2 + 0.42, 0.2, lamp_y - 0.05), (35, 35, 38))


def draw_car(shape: Shape, p: dict, braking: bool = False, lights: bool = False) -> None:
    hl, hw, clear = p["length"] / 2, p["width"] / 2, 0.24
    col = p["colour"]
    shape.poly(np.array([[-hw - 0.1, 0.01, -hl - 0.15], [hw + 0.1, 0.01, -hl - 0.15],
                         [hw + 0.1, 0.01, hl + 0.15], [-hw - 0.1, 0.01, hl + 0.15]]), SHADOW)
    top = p["roof"] if p["body"] == "van" else p["belt"]
    faces = shape.box(-hw, hw, clear, top, -hl, hl, col, 1)
    dark = tuple(int(c * 0.6) for c in col)
    for side in ("left", "right"):
        if side in faces:
            f = faces[side]
            shape.poly(f.rect(0.35, f.width - 0.35, 0.0, 0.1), dark)
            for a in (f.width * 0.5, f.width * 0.72):
                shape.poly(f.rect(a - 0.015, a + 0.015, 0.12, top - clear - 0.05), dark)
    _draw_wheels(shape, _wheels_side(faces, [0.82, 2 * hl - 0.9], 0.33, clear))
    for name in ("rear", "front"):
        if name in faces:
            _end_details(shape, faces[name], name, clear, p["belt"] - clear - 0.1, braking, lights, col)
    if p["body"] == "van":
        h = top - clear
        if "rear" in faces:
            shape.poly(faces["rear"].rect(0.15, 2 * hw - 0.15, h - 0.6, h - 0.12), GLASS)
        if "front" in faces:
            shape.poly(faces["front"].rect(0.1, 2 * hw - 0.1, h - 0.75, h - 0.1), GLASS)
        for side in ("left", "right"):
            if side in faces:
                shape.poly(faces[side].rect(2 * hl - 2.0, 2 * hl - 0.9, h - 0.7, h - 0.15), GLASS)
                shape.poly(faces[side].rect(0.5, 2 * hl - 2.2, h - 0.7, h - 0.15), GLASS)
        return
    rear_deck = {"sedan": 0.9, "hatch": 0.25, "suv": 0.3}[p["body"]]
    hood = {"sedan": 1.25, "hatch": 1.0, "suv": 1.1}[p["body"]]
    z0, z1, inset = -hl + rear_deck, hl - hood, 0.12
    cabin = shape.box(-hw + inset, hw - inset, top, p["roof"], z0, z1, col, 1)
    cw, ch, cl = 2 * (hw - inset), p["roof"] - top, z1 - z0
    if "rear" in cabin:
        shape.poly(cabin["rear"].rect(0.1, cw - 0.1, 0.05, ch - 0.06), GLASS)
    if "front" in cabin:
        shape.poly(cabin["front"].rect(0.07, cw - 0.07, 0.04, ch - 0.05), GLASS)
    for side in ("left", "right"):
        if side in cabin:
            shape.poly(cabin[side].rect(0.18, cl * 0.47, 0.05, ch - 0.07), GLASS)
            shape.poly(cabin[side].rect(cl * 0.53, cl - 0.12, 0.05, ch - 0.07), GLASS)


def draw_bus(shape: Shape, p: dict, braking: bool = False, lights: bool = False) -> None:
    hl, hw, clear, h = p["length"] / 2, p["width"] / 2, 0.3, p["height"]
    L, W = p["length"], p["width"]
    shape.poly(np.array([[-hw - 0.1, 0.01, -hl - 0.2], [hw + 0.1, 0.01, -hl - 0.2],
                         [hw + 0.1, 0.01, hl + 0.2], [-hw - 0.1, 0.01, hl + 0.2]]), SHADOW)
    faces = shape.box(-hw, hw, clear, h, -hl, hl, p["colour"], 1)
    _draw_wheels(shape, _wheels_side(faces, [3.0, L - 2.6], 0.5, clear))
    for name in ("rear", "front"):
        if name in faces:
            _end_details(shape, faces[name], name, clear, 0.9, braking, lights, p["colour"])
    fh = h - clear
    if "front" in faces:
        f = faces["front"]
        shape.poly(f.rect(0.08, W - 0.08, 0.95, fh - 0.45), GLASS)
        shape.poly(f.rect(0.3, W - 0.3, fh - 0.38, fh - 0.1), (20, 20, 20))
        shape.poly(f.rect(0.5, W - 0.9, fh - 0.32, fh - 0.16), (0, 170, 255))
    if "rear" in faces:
        shape.poly(faces["rear"].rect(0.25, W - 0.25, fh - 1.0, fh - 0.3), GLASS)
        shape.poly(faces["rear"].rect(0.5, W - 0.5, 0.35, 0.85), (50, 50, 52))
    for side in ("left", "right"):
        if side not in faces:
            continue
        f = faces[side]
        shape.poly(f.rect(0.2, L - 0.2, 0.62, 0.8), p["stripe"])
        a = 0.6
        while a + 1.3 < L - 2.6:
            shape.poly(f.rect(a, a + 1.25, 1.0, fh - 0.45), GLASS)
            a += 1.4
        door = (L - 2.5, L - 1.4) if side == "right" else (L - 1.0, L - 0.3)
        shape.poly(f.rect(door[0], door[1], 0.1, fh - 0.35), (60, 62, 64))


def draw_truck(shape: Shape, p: dict, braking: bool = False, lights: bool = False) -> None:
    hl, L, W, cab = p["length"] / 2, p["length"], p["width"], p["cab"]
    hw = W / 2
    shape.poly(np.array([[-hw - 0.1, 0.01, -hl - 0.2], [hw + 0.1, 0.01, -hl - 0.2],
                         [hw + 0.1, 0.01, hl + 0.2], [-hw - 0.1, 0.01, hl + 0.2]]), SHADOW)
    cab_z = (hl - cab, hl)
    box_z = (-hl, hl - cab - 0.3)
    cam_z = shape.cam[2]
    # Draw the sub-box farther from the camera first.
    order = ("cab", "cargo") if abs(cam_z - sum(cab_z) / 2) > abs(cam_z - sum(box_z) / 2) else ("cargo", "cab")
    for part in order:
        if part == "cab":
            y0, y1 = 0.45, min(3.0, p["height"] - 0.4)
            faces = shape.box(-hw + 0.1, hw - 0.1, y0, y1, *cab_z, p["cab_colour"], 1)
            _draw_wheels(shape, _wheels_side(faces, [cab * 0.5], 0.5, y0))
            if "front" in faces:
                f = faces["front"]
                _end_details(shape, f, "front", y0, 0.75, braking, lights, p["cab_colour"])
                shape.poly(f.rect(0.12, f.width - 0.12, (y1 - y0) * 0.5, y1 - y0 - 0.15), GLASS)
            for side in ("left", "right"):
                if side in faces:
                    shape.poly(faces[side].rect(cab * 0.35, cab - 0.15, (y1 - y0) * 0.5, y1 - y0 - 0.2), GLASS)
        else:
            y0 = 1.0
            faces = shape.box(-hw, hw, y0, p["height"], *box_z, p["colour"], 1)
            blen = box_z[1] - box_z[0]
            _draw_wheels(shape, _wheels_side(faces, [1.2, 2.3], 0.5, y0))
            if "rear" in faces:
                f = faces["rear"]
                shape.poly(f.rect(0.1, W - 0.1, -0.55, -0.3), (40, 40, 40), 1)
                for a0, a1 in ((0.15, 0.5), (W - 0.5, W - 0.15)):
                    shape.poly(f.rect(a0, a1, -y0, -0.3), TYRE, 1)
                    shape.poly(f.rect(a0, a1 - 0.1, -0.3, -0.12), TAIL_BRAKE if braking else TAIL)
                shape.line(f.origin + f.a * W / 2, f.origin + f.a * W / 2 + f.b * f.height, 0.04, (90, 90, 90))
            for side in ("left", "right"):
                if side in faces and blen > 3:
                    shape.poly(faces[side].rect(0.6, blen - 0.6, 0.9, 1.3), p["cab_colour"])


def draw_two_wheeler(shape: Shape, p: dict, phase: float, riding: bool, lean: float = 0.0) -> None:
    """Bicycle or motorcycle (part 1) with its rider (part 2) when `riding`."""
    moto = p["kind"] == "motorcycle"
    r = 0.31 if moto else 0.34
    base = 0.72 if moto else 0.53
    rear, front = np.array([0.0, r, -base]), np.array([0.0, r, base])
    col = p["colour"]
    ex, ey = np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0])
    tyre_w = 0.13 if moto else 0.045
    shape.poly(np.array([[-0.25, 0.01, -base - 0.3], [0.25, 0.01, -base - 0.3],
                         [0.25, 0.01, base + 0.3], [-0.25, 0.01, base + 0.3]]), SHADOW)
    # A flat side profile reads well from the side; seen end-on it collapses, so it is also
    # stroked with a width that grows as the view turns towards the front or back.
    cam = shape.cam
    end_on = abs(cam[2]) / max(math.hypot(cam[0], cam[2]), 1e-6)
    for wheel in (rear, front):
        pts = ring(wheel, r, ex, ey, 14)
        shape.polyline(np.vstack([pts, pts[:1]]), tyre_w, TYRE, 1)
        if moto:
            shape.poly(ring(wheel, 0.11, ex, ey, 10), CHROME)
    if moto:
        engine = np.array([[0, 0.3, -0.25], [0, 0.3, 0.2], [0, 0.62, 0.3], [0, 0.66, -0.3]])
        shape.poly(engine, (55, 55, 60), 1)
        shape.polyline(np.vstack([engine, engine[:1]]), 0.1 + 0.2 * end_on, (55, 55, 60), 1)
        shape.line(np.array([0, 0.45, -0.25]), rear, 0.07, (40, 40, 40), 1)
        shape.line(np.array([0.14, 0.38, -0.1]), np.array([0.16, 0.5, -0.95]), 0.08, CHROME)
        shape.line(front, np.array([0, 1.0, 0.45]), 0.06, CHROME, 1)
        tank = np.array([[0, 0.66, -0.1], [0, 0.96, 0.05], [0, 0.98, 0.35], [0, 0.72, 0.42]])
        shape.poly(tank, col, 1)
        shape.polyline(np.vstack([tank, tank[:1]]), 0.08 + 0.24 * end_on, col, 1)
        seat = np.array([[0, 0.8, -0.85], [0, 0.9, -0.6], [0, 0.88, -0.1], [0, 0.72, -0.1], [0, 0.7, -0.75]])
        shape.poly(seat, (30, 30, 30), 1)
        shape.polyline(np.vstack([seat, seat[:1]]), 0.06 + 0.2 * end_on, (30, 30, 30), 1)
        bar_y, bar_z, hip = 1.05, 0.42, np.array([0.0, 0.9, -0.35])
        shape.disc(np.array([0, 0.92, 0.5]), 0.08, HEAD)
        shape.disc(np.array([0, 0.86, -0.86]), 0.05, TAIL)
    else:
        bb, seat, head = np.array([0, 0.3, -0.05]), np.array([0, 0.86, -0.22]), np.array([0, 0.92, 0.36])
        for a, b in ((rear, bb), (rear, seat), (seat, bb), (bb, head), (seat, head), (head, front)):
            shape.line(a, b, 0.035, col, 1)
        shape.line(seat + np.array([0, 0.04, -0.08]), seat + np.array([0, 0.04, 0.08]), 0.07, (30, 30, 30), 1)
        bar_y, bar_z, hip = 1.0, 0.4, seat + np.array([0, 0.08, 0.0])
    shape.line(np.array([-0.3 if moto else -0.25, bar_y, bar_z]), np.array([0.3 if moto else 0.25, bar_y, bar_z]),
               0.035, (40, 40, 40), 1)
    if not riding:
        return
    if moto:
        feet = (np.array([-0.22, 0.38, 0.05]), np.array([0.22, 0.38, 0.05]))
    else:
        crank = np.array([0, 0.3, -0.05])
        feet = tuple(crank + np.array([side * 0.12, 0.17 * math.sin(phase + k * math.pi), 0.17 * math.cos(phase + k * math.pi)])
                     for k, side in enumerate((-1, 1)))
    joints = ride_joints(p["rider"], hip=hip, hands_y=bar_y, hands_z=bar_z - 0.02,
                         hand_spread=0.3 if moto else 0.23, feet=feet, lean=0.55 if moto else lean + 0.35)
    draw_person(shape, p["rider"], joints, 2)


def vehicle_extent(p: dict) -> float:
    """Half the largest horizontal dimension, for culling."""
    return {"motorcycle": 1.2, "bicycle": 1.0}.get(p["kind"], p.get("length", 5.0) / 2 + 0.5)
