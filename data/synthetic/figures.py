"""People, traffic lights, stop signs and roadside clutter of the synthetic world.

People are skeletons (joints in metres, own frame: x right, y up, z forward) drawn as limbs,
a torso and a head, so they look right from any side and can walk, stand or ride.
"""
from __future__ import annotations

import math

import numpy as np

from data.synthetic.painter import Shape

SKIN = ((150, 180, 225), (120, 150, 200), (90, 120, 170), (60, 85, 130), (45, 60, 95))
HAIR = ((20, 20, 25), (30, 45, 70), (40, 80, 130), (140, 150, 160), (60, 60, 60))
CLOTHES = (
    (40, 40, 40), (220, 220, 220), (150, 80, 30), (40, 40, 170), (60, 120, 60), (120, 120, 120),
    (30, 30, 90), (200, 150, 90), (80, 60, 50), (30, 150, 210), (150, 60, 150), (90, 90, 160),
)
PANTS = ((40, 40, 45), (110, 70, 40), (70, 70, 75), (150, 160, 170), (60, 50, 40), (30, 30, 80))
POLE = (110, 112, 115)


def _c(rng: np.random.Generator, options: tuple) -> tuple[int, int, int]:
    return tuple(int(v) for v in options[int(rng.integers(len(options)))])


def sample_person(rng: np.random.Generator, helmet: bool = False) -> dict:
    child = rng.random() < 0.07 and not helmet
    return {
        "height": rng.uniform(1.1, 1.4) if child else rng.uniform(1.55, 1.92),
        "bulk": rng.uniform(0.9, 1.2),
        "skin": _c(rng, SKIN),
        "hair": _c(rng, CLOTHES) if helmet else _c(rng, HAIR),
        "shirt": _c(rng, CLOTHES),
        "pants": _c(rng, PANTS),
        "long_sleeves": bool(rng.random() < 0.6),
        "coat": bool(rng.random() < 0.15) and not helmet,
        "backpack": _c(rng, CLOTHES) if rng.random() < 0.25 else None,
        "helmet": helmet,
    }


def walk_joints(p: dict, phase: float, amp: float) -> dict[str, np.ndarray]:
    """Joints of a person walking (amp 1) or standing (amp 0) in their own frame."""
    s = p["height"] / 1.75
    swing = amp * math.sin(phase)
    j = {}
    for side, sign in (("l", -1.0), ("r", 1.0)):
        leg = swing * sign
        lift = 0.07 * s * amp * max(0.0, math.cos(phase + (0 if sign > 0 else math.pi)))
        foot = np.array([0.1 * s * sign, 0.05 * s + lift, 0.3 * s * leg])
        j["foot_" + side] = foot
        j["knee_" + side] = np.array([0.09 * s * sign, 0.5 * s + lift * 0.5, 0.15 * s * leg + 0.04 * s * amp])
        j["hip_" + side] = np.array([0.08 * s * sign, 0.93 * s, 0.0])
        j["sh_" + side] = np.array([0.13 * s * sign * p["bulk"], 1.43 * s, 0.0])
        j["elbow_" + side] = np.array([0.2 * s * sign, 1.15 * s, -0.12 * s * leg])
        j["hand_" + side] = np.array([0.21 * s * sign, 0.87 * s, -0.24 * s * leg + 0.03 * s])
    j["neck"] = np.array([0.0, 1.5 * s, 0.0])
    j["head"] = np.array([0.0, 1.63 * s, 0.01 * s])
    return j


def _knee(hip: np.ndarray, foot: np.ndarray, l1: float, l2: float) -> np.ndarray:
    """Two-link leg with the knee bending forward (+z)."""
    d = foot - hip
    dist = float(np.linalg.norm(d))
    if dist >= l1 + l2 - 1e-6:
        return hip + d * (l1 / (l1 + l2))
    a = (l1 * l1 - l2 * l2 + dist * dist) / (2 * dist)
    h = math.sqrt(max(l1 * l1 - a * a, 0.0))
    u = d / dist
    perp = np.array([0.0, u[2], -u[1]])
    n = float(np.linalg.norm(perp))
    perp = perp / n if n > 1e-9 else np.array([0.0, 0.0, 1.0])
    return hip + a * u + h * perp


def ride_joints(p: dict, *, hip: np.ndarray, hands_y: float, hands_z: float, hand_spread: float,
                feet: tuple[np.ndarray, np.ndarray], lean: float) -> dict[str, np.ndarray]:
    """Joints of a seated rider: hips on the seat, hands on the bar, feet on pedals or pegs."""
    s = p["height"] / 1.75
    torso = 0.52 * s
    sh = hip + np.array([0.0, torso * math.cos(lean), torso * math.sin(lean)])
    j = {"neck": sh + np.array([0.0, 0.06 * s, 0.03 * s])}
    j["head"] = sh + np.array([0.0, 0.19 * s * math.cos(lean * 0.5), 0.19 * s * math.sin(lean * 0.5)])
    for side, sign, foot in (("l", -1.0, feet[0]), ("r", 1.0, feet[1])):
        h = hip + np.array([0.09 * s * sign, 0.0, 0.0])
        j["hip_" + side] = h
        j["foot_" + side] = foot
        j["knee_" + side] = _knee(h, foot, 0.45 * s, 0.45 * s) + np.array([0.04 * sign, 0, 0])
        j["sh_" + side] = sh + np.array([0.13 * s * sign * p["bulk"], 0.0, 0.0])
        hand = np.array([hand_spread * sign, hands_y, hands_z])
        j["hand_" + side] = hand
        j["elbow_" + side] = (j["sh_" + side] + hand) / 2 + np.array([0.05 * sign, -0.06, 0.0])
    return j


def draw_person(shape: Shape, p: dict, j: dict[str, np.ndarray], part: int) -> None:
    s = p["height"] / 1.75
    cam = shape.cam
    near = "r" if cam[0] > 0 else "l"
    far = "l" if near == "r" else "r"
    behind = cam[2] < 0
    sleeve = p["shirt"] if p["long_sleeves"] else p["skin"]

    def leg(side: str) -> None:
        shape.polyline(np.stack([j["hip_" + side], j["knee_" + side], j["foot_" + side]]), 0.14 * s, p["pants"], part)
        shape.line(j["foot_" + side], j["foot_" + side] + np.array([0, -0.02, 0.12 * s]), 0.1 * s, (25, 25, 25), part)

    def arm(side: str) -> None:
        shape.line(j["sh_" + side], j["elbow_" + side], 0.095 * s, p["shirt"], part)
        shape.line(j["elbow_" + side], j["hand_" + side], 0.08 * s, sleeve, part)
        shape.disc(j["hand_" + side], 0.045 * s, p["skin"], part)

    def backpack() -> None:
        if p["backpack"] is not None:
            mid = (j["sh_l"] + j["sh_r"] + j["hip_l"] + j["hip_r"]) / 4 + np.array([0, 0.05 * s, -0.17 * s])
            shape.disc(mid, 0.17 * s, p["backpack"], part)

    arm(far)
    leg(far)
    if not behind:
        backpack()
    torso = np.stack([j["sh_l"], j["sh_r"], j["hip_r"] * [1.1, 1, 1], j["hip_l"] * [1.1, 1, 1]])
    shape.poly(torso, p["shirt"], part)
    side_on = abs(cam[0]) / max(math.hypot(cam[0], cam[2]), 1e-6)
    shape.polyline(np.vstack([torso, torso[:1]]), (0.07 + 0.15 * side_on) * s, p["shirt"], part)
    leg(near)
    if p["coat"]:
        lo = (j["knee_l"] + j["knee_r"]) / 2 + np.array([0, 0.1 * s, 0])
        coat = np.stack([j["hip_l"] * [1.6, 1, 1], j["hip_r"] * [1.6, 1, 1], lo + [0.16 * s, 0, 0], lo - [0.16 * s, 0, 0]])
        shape.poly(coat, p["shirt"], part)
    if behind:
        backpack()
    arm(near)
    shape.line(j["neck"], j["head"], 0.09 * s, p["skin"], part)
    head_r = 0.105 * s
    hair_at = j["head"] + np.array([0, 0.025 * s, -0.02 * s])
    if p["helmet"]:
        shape.disc(j["head"] + np.array([0, 0.01, 0]), head_r * 1.2, p["hair"], part)
        if not behind:
            shape.disc(j["head"] + np.array([0, 0.0, 0.05]), head_r * 0.6, (20, 20, 20))
    elif behind:
        shape.disc(j["head"], head_r, p["skin"], part)
        shape.disc(hair_at, head_r * 1.02, p["hair"], part)
    else:
        shape.disc(hair_at, head_r * 1.02, p["hair"], part)
        shape.disc(j["head"] + np.array([0, -0.012 * s, 0.02 * s]), head_r * 0.93, p["skin"], part)


LAMP_ON = {"red": (60, 60, 255), "yellow": (40, 200, 255), "green": (140, 255, 90)}
LAMP_OFF = {"red": (30, 30, 80), "yellow": (25, 70, 85), "green": (40, 70, 35)}


def draw_traffic_light(shape: Shape, p: dict, state: str) -> None:
    """Housing with red/yellow/green lamps facing +z; on a pole or hanging from a mast arm."""
    y0 = p["y"]
    y1 = y0 + 0.95
    if p["mount"] == "pole":
        shape.line(np.array([0, 0, -0.12]), np.array([0, y0 + 0.2, -0.12]), 0.13, POLE, 0)
    else:  # hanging from a mast arm; the "mast" light also carries the pole and the arm
        top = y1 + 0.35
        if p["mount"] == "mast":
            shape.line(np.array([p["arm"], 0, 0]), np.array([p["arm"], top + 0.3, 0]), 0.22, POLE, 0)
            shape.line(np.array([p["arm"], top, 0]), np.array([0, top, 0]), 0.12, POLE, 0)
        shape.line(np.array([0, top, 0]), np.array([0, y1, 0]), 0.05, POLE, 0)
    if p["backplate"] and shape.cam[2] > 0:
        shape.poly(np.array([[-0.3, y0 - 0.1, 0.0], [0.3, y0 - 0.1, 0.0], [0.3, y1 + 0.1, 0.0],
                             [-0.3, y1 + 0.1, 0.0]]), p["backplate"], 1)
        shape.poly(np.array([[-0.25, y0 - 0.05, 0.01], [0.25, y0 - 0.05, 0.01], [0.25, y1 + 0.05, 0.01],
                             [-0.25, y1 + 0.05, 0.01]]), (20, 20, 20), 1)
    faces = shape.box(-0.17, 0.17, y0, y1, -0.13, 0.13, p["colour"], 1)
    front = faces.get("front")
    if front is not None:
        for k, name in enumerate(("green", "yellow", "red")):
            b = 0.17 + 0.305 * k
            shape.poly(front.ellipse(0.17, b + 0.01, 0.13, 0.13, 10), (18, 18, 18))
            lit = name == state
            shape.poly(front.ellipse(0.17, b, 0.1, 0.1, 10), LAMP_ON[name] if lit else LAMP_OFF[name])


def draw_stop_sign(shape: Shape, p: dict) -> None:
    cy, r = p["y"], p["r"]
    shape.line(np.array([0, 0, -0.04]), np.array([0, cy - 0.2, -0.04]), 0.06, POLE, 0)
    ang = np.pi / 8 + np.arange(8) * np.pi / 4

    def octagon(radius: float, z: float) -> np.ndarray:
        return np.stack([radius * np.cos(ang), cy + radius * np.sin(ang), np.full(8, z)], 1)

    part = p.get("part", 1)  # 0 for signs that face away: a grey octagon nobody labels
    if shape.cam[2] > 0:
        shape.poly(octagon(r, 0.0), (235, 235, 235), part)
        shape.poly(octagon(r * 0.88, 0.005), (30, 30, 200))
        shape.text(np.array([0.0, cy, 0.01]), r * 0.36, "STOP", (240, 240, 240))
    else:
        shape.poly(octagon(r, 0.0), (150, 150, 150), part)


def draw_clutter(shape: Shape, p: dict) -> None:
    """Unannotated roadside things; several look a little like the annotated classes on purpose."""
    kind = p["kind"]
    if kind == "tree":
        shape.line(np.zeros(3), np.array([0, p["trunk"], 0]), 0.28, (40, 60, 80), 0)
        for dx, dy, dz, r, col in p["blobs"]:
            shape.disc(np.array([dx, p["trunk"] + dy, dz]), r, col, 0)
    elif kind == "lamp":
        h, arm = p["h"], p["arm"]
        shape.line(np.zeros(3), np.array([0, h, 0]), 0.17, POLE, 0)
        shape.line(np.array([0, h, 0]), np.array([arm, h + 0.3, 0]), 0.09, POLE, 0)
        shape.box(arm - 0.05, arm + 0.55, h + 0.1, h + 0.3, -0.16, 0.16, (80, 80, 85), 0)
    elif kind == "sign":
        shape.line(np.zeros(3), np.array([0, p["h"], -0.03]), 0.07, POLE, 0)
        pts = np.asarray(p["plate"], float)
        if shape.cam[2] > 0:
            shape.poly(pts, p["border"], 0)
            centre = pts.mean(axis=0)
            shape.poly(centre + (pts - centre) * 0.84 + [0, 0, 0.01], p["colour"])
            if p.get("bar"):
                shape.poly(np.array([[-0.2, centre[1] - 0.05, 0.02], [0.2, centre[1] - 0.05, 0.02],
                                     [0.2, centre[1] + 0.05, 0.02], [-0.2, centre[1] + 0.05, 0.02]]), (240, 240, 240))
            if p.get("text"):
                shape.text(centre + [0, 0, 0.02], 0.14, p["text"], (20, 20, 20))
        else:
            shape.poly(pts, (140, 140, 140), 0)
    elif kind == "billboard":
        w, y0, y1 = p["w"], p["y0"], p["y1"]
        for x in (-w / 3, w / 3):
            shape.line(np.array([x, 0, -0.1]), np.array([x, y0, -0.1]), 0.3, POLE, 0)
        shape.poly(np.array([[-w / 2, y0, 0], [w / 2, y0, 0], [w / 2, y1, 0], [-w / 2, y1, 0]]), p["colour"], 0)
        if shape.cam[2] > 0:
            for (a0, a1, b0, b1), col in p["blocks"]:
                x0, x1 = -w / 2 + a0 * w, -w / 2 + a1 * w
                yb0, yb1 = y0 + b0 * (y1 - y0), y0 + b1 * (y1 - y0)
                shape.poly(np.array([[x0, yb0, 0.02], [x1, yb0, 0.02], [x1, yb1, 0.02], [x0, yb1, 0.02]]), col)
    elif kind in ("hydrant", "bin", "mailbox", "box"):
        w, h, dpt = p["size"]
        faces = shape.box(-w / 2, w / 2, 0, h, -dpt / 2, dpt / 2, p["colour"], 0)
        if kind == "hydrant":
            shape.disc(np.array([0, h + 0.04, 0]), w * 0.55, p["colour"], 0)
        elif "top" in faces or kind == "bin":
            shape.poly(np.array([[-w / 2 - 0.03, h, -dpt / 2 - 0.03], [w / 2 + 0.03, h, -dpt / 2 - 0.03],
                                 [w / 2 + 0.03, h + 0.06, dpt / 2 + 0.03], [-w / 2 - 0.03, h + 0.06, dpt / 2 + 0.03]]),
                       tuple(int(c * 0.7) for c in p["colour"]), 0)
    elif kind == "bollard":
        shape.line(np.zeros(3), np.array([0, p["h"], 0]), 0.2, p["colour"], 0)
        shape.disc(np.array([0, p["h"], 0]), 0.1, p["colour"], 0)
        shape.line(np.array([0, p["h"] * 0.75, 0.0]), np.array([0, p["h"] * 0.82, 0.0]), 0.21, (230, 230, 230))
    elif kind == "cone":
        shape.poly(np.array([[-0.2, 0, 0], [0.2, 0, 0], [0.03, 0.7, 0], [-0.03, 0.7, 0]]), (20, 110, 245), 0)
        shape.poly(np.array([[-0.12, 0.3, 0.01], [0.12, 0.3, 0.01], [0.08, 0.45, 0.01], [-0.08, 0.45, 0.01]]),
                   (235, 235, 235))
    elif kind == "utility":
        shape.line(np.zeros(3), np.array([0, p["h"], 0]), 0.26, (50, 75, 95), 0)
        shape.line(np.array([-1.0, p["h"] - 0.6, 0]), np.array([1.0, p["h"] - 0.6, 0]), 0.12, (50, 75, 95), 0)
    elif kind == "bush":
        for dx, dy, dz, r, col in p["blobs"]:
            shape.disc(np.array([dx, dy, dz]), r, col, 0)
    elif kind == "figure":  # a flat cut-out person on a shop front: not a person
        s = p["h"] / 1.75
        col = p["colour"]
        shape.disc(np.array([0, 1.63 * s, 0]), 0.11 * s, col)
        shape.poly(np.array([[-0.2 * s, 1.45 * s, 0], [0.2 * s, 1.45 * s, 0], [0.12 * s, 0.9 * s, 0],
                             [-0.12 * s, 0.9 * s, 0]]), col)
        shape.line(np.array([-0.08 * s, 0.9 * s, 0]), np.array([-0.1 * s, 0, 0]), 0.12 * s, col)
        shape.line(np.array([0.08 * s, 0.9 * s, 0]), np.array([0.1 * s, 0, 0]), 0.12 * s, col)
