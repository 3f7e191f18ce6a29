"""Things that stand still along the street: signals, stop signs, parked vehicles, waiting people,
parked bicycles, and the unannotated clutter (trees, lamps, signs, bins, billboards ...)."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from data.synthetic.agents import Agent
from data.synthetic.figures import CLOTHES, sample_person
from data.synthetic.layout import Layout
from data.synthetic.vehicles import sample_vehicle, vehicle_extent

NewParts = Callable[[list[str]], list[tuple[int, int]]]
GREENS = ((40, 90, 50), (50, 110, 60), (35, 75, 45), (60, 120, 80), (45, 100, 85))


def _colour(rng: np.random.Generator, options: tuple) -> tuple[int, int, int]:
    return tuple(int(v) for v in options[int(rng.integers(len(options)))])


def sample_clutter(kind: str, rng: np.random.Generator) -> dict:
    p: dict = {"kind": kind}
    if kind in ("tree", "bush"):
        n = int(rng.integers(4, 8))
        size = rng.uniform(1.2, 2.6) if kind == "tree" else rng.uniform(0.5, 0.9)
        p["trunk"] = rng.uniform(2.2, 4.0)
        p["blobs"] = [(rng.normal(0, size * 0.5), rng.uniform(0, size * 1.2) + (0 if kind == "tree" else size * 0.6),
                       rng.normal(0, size * 0.4), size * rng.uniform(0.55, 0.95), _colour(rng, GREENS)) for _ in range(n)]
    elif kind == "lamp":
        p.update(h=rng.uniform(6.0, 8.5), arm=rng.uniform(1.2, 2.2))
    elif kind == "sign":
        shape = str(rng.choice(["rect", "wide", "diamond", "circle", "triangle", "speed"]))
        h = rng.uniform(2.0, 2.7)
        if shape == "rect":
            plate = [[-0.3, h, 0], [0.3, h, 0], [0.3, h + 0.6, 0], [-0.3, h + 0.6, 0]]
        elif shape == "wide":
            plate = [[-0.6, h, 0], [0.6, h, 0], [0.6, h + 0.25, 0], [-0.6, h + 0.25, 0]]
        elif shape == "speed":
            plate = [[-0.3, h, 0], [0.3, h, 0], [0.3, h + 0.75, 0], [-0.3, h + 0.75, 0]]
        elif shape == "diamond":
            plate = [[0, h, 0], [0.38, h + 0.38, 0], [0, h + 0.76, 0], [-0.38, h + 0.38, 0]]
        elif shape == "triangle":
            plate = [[0, h, 0], [0.45, h + 0.78, 0], [-0.45, h + 0.78, 0]]
        else:
            ang = np.linspace(0, 2 * np.pi, 14, endpoint=False)
            plate = np.stack([0.33 * np.cos(ang), h + 0.33 + 0.33 * np.sin(ang), np.zeros(14)], 1).tolist()
        colours = {"rect": ((150, 80, 20), (240, 240, 240)), "wide": ((60, 120, 30), (240, 240, 240)),
                   "diamond": ((30, 200, 240), (20, 20, 20)), "circle": ((40, 40, 200), (240, 240, 240)),
                   "triangle": ((240, 240, 240), (40, 40, 200)), "speed": ((240, 240, 240), (20, 20, 20))}
        fill, border = colours[shape]
        p.update(h=h, plate=plate, colour=fill, border=border, bar=shape == "circle",
                 text=str(int(rng.choice([25, 30, 35, 40]))) if shape == "speed" else None)
    elif kind == "billboard":
        p.update(w=rng.uniform(4, 8), y0=rng.uniform(3, 5), colour=_colour(rng, CLOTHES))
        p["y1"] = p["y0"] + p["w"] * rng.uniform(0.4, 0.55)
        p["blocks"] = [((a, a + rng.uniform(0.1, 0.4), b, b + rng.uniform(0.1, 0.5)), _colour(rng, CLOTHES))
                       for a, b in rng.uniform(0.05, 0.55, (int(rng.integers(2, 5)), 2))]
    elif kind == "hydrant":
        p.update(size=(0.26, 0.6, 0.26), colour=_colour(rng, ((30, 30, 200), (30, 200, 230), (200, 200, 200))))
    elif kind == "bin":
        p.update(size=(0.6, 1.0, 0.55), colour=_colour(rng, ((50, 90, 40), (80, 80, 80), (120, 60, 30))))
    elif kind == "mailbox":
        p.update(size=(0.5, 1.15, 0.5), colour=(140, 60, 20))
    elif kind == "box":
        p.update(size=(rng.uniform(0.5, 1.4), rng.uniform(0.8, 1.6), rng.uniform(0.4, 0.9)),
                 colour=_colour(rng, ((90, 100, 100), (60, 140, 70), (160, 160, 160))))
    elif kind == "bollard":
        p.update(h=rng.uniform(0.8, 1.05), colour=_colour(rng, ((90, 90, 90), (30, 190, 230), (50, 50, 50))))
    elif kind == "utility":
        p["h"] = rng.uniform(8, 11)
    elif kind == "figure":
        p.update(h=rng.uniform(1.5, 2.2), colour=_colour(rng, CLOTHES))
    return p


class Furnisher:
    """Places the static agents of a layout between s_min and s_max."""

    def __init__(self, rng: np.random.Generator, lay: Layout, new_parts: NewParts) -> None:
        self.rng, self.lay, self.new_parts = rng, lay, new_parts
        self.agents: list[Agent] = []

    def add(self, kind: str, s: float, d: float, heading: float, params: dict, labels: list[str],
            radius: float, billboard: bool = False, **extra) -> Agent:
        agent = Agent(kind=kind, s=float(s), d=float(d), params=params, parts=self.new_parts(labels),
                      heading=float(heading), radius=radius, billboard=billboard, **extra)
        self.agents.append(agent)
        return agent

    def place(self, s_min: float, s_max: float) -> list[Agent]:
        rng, lay = self.rng, self.lay
        re, le = lay.right_edge, lay.left_edge
        walk_r, walk_l = re + 0.2 + lay.sidewalk_right, le - 0.2 - lay.sidewalk_left
        for k, ix in enumerate(lay.intersections):
            if s_min - 30 < ix.s < s_max + 30:
                self._intersection(k, ix)
        tree_gap = rng.uniform(7, 16) if rng.random() < 0.75 else 1e9
        lamp_gap = rng.uniform(22, 40)
        for side, kerb, outer in ((1, re + 0.2, walk_r), (-1, le - 0.2, walk_l)):
            parked = lay.parking_right if side > 0 else lay.parking_left
            s = s_min
            while s < s_max and parked:
                s += rng.uniform(5.2, 7.5) if rng.random() < 0.75 else rng.uniform(8, 20)
                if lay.in_intersection(s, margin=9) is None:
                    kind = "car" if rng.random() < 0.9 else str(rng.choice(["truck", "bus"]))
                    p = sample_vehicle(kind, rng)
                    if kind != "car":
                        p["length"] = min(p["length"], 7.5)
                    heading = 0.0 if side > 0 or lay.lanes_opp == 0 else math.pi
                    self.add(kind, s, kerb - side * (1.2 + 0.05 * rng.random()), heading + rng.normal(0, 0.02), p,
                             [kind], vehicle_extent(p))
            for gap, kind, offset in ((tree_gap, "tree", 0.9), (lamp_gap, "lamp", 0.5)):
                s = s_min + rng.uniform(0, min(gap, 40))
                while s < s_max:
                    if lay.in_intersection(s, margin=4) is None:
                        p = sample_clutter(kind, rng)
                        heading = -math.pi / 2 if side > 0 else math.pi / 2  # lamp arms reach over the road
                        self.add(kind, s + rng.normal(0, 0.3), kerb + side * offset, heading, p, [], 3.0,
                                 billboard=kind == "tree")
                    s += gap * rng.uniform(0.85, 1.15)
            s = s_min
            while s < s_max:
                s += rng.exponential(9.0)
                if lay.in_intersection(s, margin=3) is not None:
                    continue
                self._sidewalk_item(side, s, kerb, outer)
        return self.agents

    def _sidewalk_item(self, side: int, s: float, kerb: float, outer: float) -> None:
        rng = self.rng
        r = rng.random()
        d_near, d_far = kerb + side * 0.6, outer - side * 0.4
        if r < 0.5:
            kind = str(rng.choice(["sign", "sign", "hydrant", "bin", "bollard", "mailbox", "box", "utility", "bush"]))
            d = d_near if kind in ("sign", "hydrant", "bollard", "utility") else float(rng.uniform(min(d_near, d_far), max(d_near, d_far)))
            self.add(kind, s, d, math.pi + rng.normal(0, 0.15), sample_clutter(kind, rng), [], 1.0,
                     billboard=kind in ("bush", "bollard"))
        elif r < 0.58:
            p = sample_clutter("billboard", rng)
            self.add("billboard", s, outer - side * 0.6, math.pi - side * 0.5, p, [], p["w"] / 2 + 0.5)
        elif r < 0.66:
            self.add("figure", s, outer - side * 0.3, math.pi - side * math.pi / 2, sample_clutter("figure", rng), [], 0.5)
        elif r < 0.72:
            self.add("cone", s, kerb - side * rng.uniform(0.3, 1.5), 0.0, {"kind": "cone"}, [], 0.4, billboard=True)
        elif r < 0.86:
            kind = "bicycle" if rng.random() < 0.75 else "motorcycle"
            for k in range(int(rng.integers(1, 4)) if kind == "bicycle" else 1):
                p = sample_vehicle(kind, rng)
                self.add(kind, s + k * 0.8, d_far, side * math.pi / 2 + rng.normal(0, 0.1), p, [kind], 1.0,
                         motion="parked")
        else:
            for k in range(int(rng.integers(1, 3))):
                self.add("person", s + k * 0.7, float(rng.uniform(min(d_near, d_far), max(d_near, d_far))),
                         float(rng.uniform(-math.pi, math.pi)), sample_person(rng), ["person"], 0.5,
                         phase=float(rng.uniform(0, 6.3)))

    def _intersection(self, k: int, ix) -> None:
        rng, lay = self.rng, self.lay
        re, le = lay.right_edge, lay.left_edge
        near, far = ix.s - ix.width / 2, ix.s + ix.width / 2
        if ix.control == "lights":
            housing = _colour(rng, ((25, 25, 25), (20, 150, 190), (40, 60, 40)))
            plate = (40, 200, 230) if rng.random() < 0.4 else None

            def light(s: float, d: float, heading: float, group: str, mount: str = "pole", y: float = 0.0,
                      arm: float = 0.0) -> None:
                p = {"kind": "traffic_light", "mount": mount, "y": y or float(rng.uniform(2.4, 3.0)), "arm": arm,
                     "colour": housing, "backplate": plate, "group": group, "ix": k}
                self.add("traffic_light", s, d, heading, p, ["traffic_light"], 1.0 + abs(arm))

            light(far + 2.0, re + 0.8, math.pi, "main")
            if lay.lanes_opp:
                light(far + 2.0, le - 0.8, math.pi, "main")
            light(near - 2.0, re + 0.8, 0.0, "main")
            pole_d, mast_y = re + 0.5, float(rng.uniform(5.0, 5.6))
            for lane in range(lay.lanes_same):
                d = lay.lane_centre(lane)
                # Heading pi turns local +x towards -d, so the pole sits at local x = -(pole_d - d).
                light(far + 1.0, d, math.pi, "main", "mast" if lane == 0 else "hang", mast_y,
                      -(pole_d - d) if lane == 0 else 0.0)
            light(near - 2.5, re + 1.2, -math.pi / 2, "cross")
            light(far + 2.5, le - 1.2, math.pi / 2, "cross")
        else:
            def sign(s: float, d: float, heading: float, annotated: bool) -> None:
                p = {"kind": "stop_sign", "y": float(rng.uniform(2.0, 2.4)), "r": float(rng.uniform(0.33, 0.45)),
                     "part": 1 if annotated else 0}
                self.add("stop_sign", s, d, heading, p, ["stop_sign"] if annotated else [], 0.6)

            sign(near - 1.5, re + 0.7, math.pi + rng.normal(0, 0.12), True)
            if lay.lanes_opp == 0 or rng.random() < 0.4:
                sign(near - 1.5, le - 0.7, math.pi + rng.normal(0, 0.12), True)
            if rng.random() < 0.5:  # all-way stop: the others' signs show us their backs or edges
                sign(far + 1.5, le - 0.7, rng.normal(0, 0.12), False)
                sign(near - 1.5, le - 2.0, -math.pi / 2, False)
                sign(far + 1.5, re + 2.0, math.pi / 2, False)
        for corner_d in (re + 1.2, le - 1.2):
            for _ in range(int(rng.integers(0, 3))):
                side = 1 if corner_d > 0 else -1
                self.add("person", near - rng.uniform(0.5, 2.5), corner_d + side * rng.uniform(0, 1.5),
                         -side * math.pi / 2 + rng.normal(0, 0.3), sample_person(rng), ["person"], 0.5,
                         motion="waiting", lane=("xwalk", k))
