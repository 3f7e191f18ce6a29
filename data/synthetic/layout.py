"""The static street of one sequence: lanes, intersections with their signal cycles, buildings,
and everything painted on the ground. Positions are road coordinates (s along, d to the right).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

YELLOW_TIME, ALL_RED = 3.0, 1.5
FACADES = ((70, 85, 150), (60, 70, 120), (150, 170, 185), (180, 190, 195), (120, 120, 120), (95, 100, 105),
           (200, 205, 210), (130, 110, 90), (90, 120, 160), (110, 140, 150), (60, 60, 70))


@dataclass
class Intersection:
    s: float
    width: float  # of the crossing road, along s
    control: str  # "lights" or "stop"
    cross_lanes: int  # per direction
    period: float = 40.0
    green: float = 15.0
    offset: float = 0.0

    def main_state(self, t: float) -> str:
        """Signal for traffic on our road (both directions)."""
        if self.control != "lights":
            return "green"
        x = (t + self.offset) % self.period
        return "green" if x < self.green else "yellow" if x < self.green + YELLOW_TIME else "red"

    def cross_state(self, t: float) -> str:
        if self.control != "lights":
            return "green"
        x = (t + self.offset) % self.period
        start = self.green + YELLOW_TIME + ALL_RED
        end = self.period - ALL_RED
        if start <= x < end - YELLOW_TIME:
            return "green"
        return "yellow" if end - YELLOW_TIME <= x < end else "red"


@dataclass
class Building:
    side: int  # +1 right of the road, -1 left
    s0: float
    s1: float
    d: float  # lateral position of the facade that faces the road
    depth: float
    height: float
    colour: tuple[int, int, int]
    windows: np.ndarray  # (n, 4): s0, s1, y0, y1 of each window
    window_colour: np.ndarray  # (n,) index into Layout.window_palette
    awning: tuple[int, int, int] | None = None


@dataclass
class Layout:
    lane_width: float
    lanes_same: int
    lanes_opp: int
    ego_lane: int
    bike_lane: bool
    parking_right: bool
    parking_left: bool
    sidewalk_right: float
    sidewalk_left: float
    urban: bool
    intersections: list[Intersection] = field(default_factory=list)
    buildings: list[Building] = field(default_factory=list)
    paint: list[tuple[np.ndarray, str]] = field(default_factory=list)  # (sd points (n,2), colour key)
    paint_s: np.ndarray = field(default_factory=lambda: np.zeros(0))  # centre s of each paint polygon
    window_palette: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def right_edge(self) -> float:
        """d of the right kerb."""
        return self.lanes_same * self.lane_width + 1.6 * self.bike_lane + 2.4 * self.parking_right

    @property
    def left_edge(self) -> float:
        return -self.lanes_opp * self.lane_width - 2.4 * self.parking_left

    def lane_centre(self, lane: int) -> float:
        """Lanes >= 0 run with us (0 next to the centre line); lanes < 0 come towards us."""
        return (lane + 0.5) * self.lane_width if lane >= 0 else (lane + 0.5) * self.lane_width

    def in_intersection(self, s: float, margin: float = 0.0) -> Intersection | None:
        for ix in self.intersections:
            if abs(s - ix.s) <= ix.width / 2 + margin:
                return ix
        return None


def _segment(s0: float, d0: float, s1: float, d1: float, width: float) -> np.ndarray:
    """Quad of a painted stripe from (s0, d0) to (s1, d1)."""
    ds, dd = s1 - s0, d1 - d0
    n = np.hypot(ds, dd) or 1.0
    ps, pd = -dd / n * width / 2, ds / n * width / 2
    return np.array([[s0 + ps, d0 + pd], [s1 + ps, d1 + pd], [s1 - ps, d1 - pd], [s0 - ps, d0 - pd]])


def _rect(s0: float, s1: float, d0: float, d1: float) -> np.ndarray:
    return np.array([[s0, d0], [s1, d0], [s1, d1], [s0, d1]])


def make_layout(rng: np.random.Generator, s_min: float, s_max: float, first_intersection: float) -> Layout:
    urban = bool(rng.random() < 0.6)
    lanes_same = int(rng.choice([1, 2, 2, 3]))
    lay = Layout(
        lane_width=float(rng.uniform(3.2, 3.7)), lanes_same=lanes_same, lanes_opp=int(rng.choice([0, 1, 2, 2])),
        ego_lane=int(rng.integers(lanes_same)), bike_lane=bool(rng.random() < 0.45),
        parking_right=bool(rng.random() < 0.5), parking_left=bool(rng.random() < 0.35),
        sidewalk_right=float(rng.uniform(2.2, 4.5)), sidewalk_left=float(rng.uniform(2.2, 4.5)), urban=urban,
    )
    s = first_intersection
    while s < s_max:
        lights = rng.random() < 0.7
        period = float(rng.uniform(30, 55))
        lay.intersections.append(Intersection(
            s=float(s), width=float(rng.uniform(9.0, 15.0)), control="lights" if lights else "stop",
            cross_lanes=int(rng.choice([1, 2])), period=period, green=float(period * rng.uniform(0.35, 0.55)),
            offset=float(rng.uniform(0, period))))
        s += rng.uniform(90.0, 220.0)
    lay.window_palette = [(70, 55, 45), (110, 90, 70), (150, 130, 110), (60, 60, 60), (90, 190, 230)]
    for side in (1, -1):
        _buildings(rng, lay, side, s_min, s_max)
    _paint(rng, lay, s_min, s_max)
    lay.paint_s = np.array([pts[:, 0].mean() for pts, _ in lay.paint])
    return lay


def _buildings(rng: np.random.Generator, lay: Layout, side: int, s_min: float, s_max: float) -> None:
    kerb = lay.right_edge + 0.2 + lay.sidewalk_right if side > 0 else lay.left_edge - 0.2 - lay.sidewalk_left
    s = s_min
    while s < s_max:
        ix = next((ix for ix in lay.intersections if ix.s - ix.width / 2 - 6 < s + 8 and s < ix.s + ix.width / 2 + 6), None)
        if ix is not None:
            s = ix.s + ix.width / 2 + 6 + rng.uniform(0, 4)
            continue
        if rng.random() < (0.12 if lay.urban else 0.3):
            s += rng.uniform(4, 20)
            continue
        length = rng.uniform(8, 35)
        nxt = next((ix.s - ix.width / 2 - 6 for ix in lay.intersections if ix.s > s), None)
        if nxt is not None:
            length = min(length, nxt - s)
        if length < 5:
            s += length + 1
            continue
        height = rng.uniform(7, 38) if lay.urban else rng.uniform(4, 10)
        setback = rng.uniform(0, 2) if lay.urban else rng.uniform(3, 12)
        floor, col_w = rng.uniform(3.0, 3.6), rng.uniform(2.2, 4.0)
        win_w, win_h = col_w * rng.uniform(0.4, 0.7), rng.uniform(1.1, 1.9)
        cs = np.arange(s + col_w / 2, s + length - col_w / 2, col_w)
        ys = np.arange(floor + 0.8, height - 1.0, floor)
        if len(cs) and len(ys):
            S, Y = np.meshgrid(cs, ys)
            wins = np.stack([S.ravel() - win_w / 2, S.ravel() + win_w / 2, Y.ravel(), Y.ravel() + win_h], 1)
        else:
            wins = np.zeros((0, 4))
        if lay.urban and rng.random() < 0.6 and length > 6:
            shop = np.array([[s + 1.0, s + length - 1.0, 0.3, 2.6]])
            wins = np.vstack([shop, wins])
        base_glass = int(rng.integers(4))
        colours = np.where(rng.random(len(wins)) < 0.15, int(rng.integers(4)), base_glass)
        colours = np.where(rng.random(len(wins)) < 0.2, 4, colours)  # lit at dusk, glare by day
        lay.buildings.append(Building(
            side=side, s0=float(s), s1=float(s + length), d=float(kerb + side * setback), depth=float(rng.uniform(8, 20)),
            height=float(height), colour=tuple(int(v) for v in FACADES[int(rng.integers(len(FACADES)))]),
            windows=wins, window_colour=colours,
            awning=tuple(int(v) for v in rng.integers(30, 220, 3)) if rng.random() < 0.3 else None))
        s += length + (0.0 if rng.random() < 0.6 else rng.uniform(1, 6))


def _paint(rng: np.random.Generator, lay: Layout, s_min: float, s_max: float) -> None:
    lw, paint = lay.lane_width, lay.paint
    inner = lay.lanes_same * lw

    def clear(s: float) -> bool:
        return lay.in_intersection(s, margin=6.0) is None

    # Asphalt repairs and manholes first, so that markings are drawn over them.
    for s in np.arange(s_min, s_max, 9.0):
        if rng.random() < 0.35 and clear(s):
            d = rng.uniform(lay.left_edge, lay.right_edge)
            a, b = rng.uniform(1, 6), rng.uniform(0.8, 3)
            paint.append((_rect(s, s + a, d, d + b), "patch_dark" if rng.random() < 0.6 else "patch_light"))
        if rng.random() < 0.12:
            ang = np.linspace(0, 2 * np.pi, 10, endpoint=False)
            d = rng.uniform(lay.left_edge + 1, lay.right_edge - 1)
            paint.append((np.stack([s + 0.35 * np.cos(ang), d + 0.35 * np.sin(ang)], 1), "manhole"))
    for s in np.arange(s_min, s_max, 12.0):
        if not clear(s):
            continue
        for i in range(1, lay.lanes_same):
            paint.append((_segment(s, i * lw, s + 3.0, i * lw, 0.14), "white"))
        for j in range(1, lay.lanes_opp):
            paint.append((_segment(s, -j * lw, s + 3.0, -j * lw, 0.14), "white"))
    for s in np.arange(s_min, s_max, 6.0):
        if not clear(s) or not clear(s + 6.0):
            continue
        if lay.lanes_opp:
            for d in (-0.12, 0.12):
                paint.append((_segment(s, d, s + 6.02, d, 0.12), "yellow"))
            paint.append((_segment(s, -lay.lanes_opp * lw - 0.1, s + 6.02, -lay.lanes_opp * lw - 0.1, 0.14), "white"))
        else:
            paint.append((_segment(s, -0.1, s + 6.02, -0.1, 0.14), "yellow"))
        paint.append((_segment(s, inner + 0.1, s + 6.02, inner + 0.1, 0.14), "white"))
        if lay.bike_lane:
            paint.append((_segment(s, inner + 1.6, s + 6.02, inner + 1.6, 0.12), "white"))
    if lay.bike_lane:
        for s in np.arange(s_min + 20, s_max, 55.0):
            if clear(s):
                _bike_symbol(paint, s, inner + 0.8)
    for ix in lay.intersections:
        near, far = ix.s - ix.width / 2, ix.s + ix.width / 2
        zebra = ix.control == "lights" or rng.random() < 0.5
        if zebra:
            for s_c in (near - 1.8, far + 1.8):
                for d in np.arange(lay.left_edge + 0.5, lay.right_edge - 0.3, 1.1):
                    paint.append((_segment(s_c - 1.5, d, s_c + 1.5, d, 0.55), "white"))
        paint.append((_segment(near - 4.0, 0.2, near - 4.0, inner, 0.45), "white"))
        if lay.lanes_opp:
            paint.append((_segment(far + 4.0, -0.2, far + 4.0, -lay.lanes_opp * lw, 0.45), "white"))
        for lane in range(lay.lanes_same):
            _arrow(paint, near - 16.0, (lane + 0.5) * lw)
        for sign, edge in ((1, lay.right_edge), (-1, lay.left_edge)):
            for d in np.arange(edge + sign * 4.0, sign * 90.0, sign * 12.0):
                paint.append((_segment(ix.s, d, ix.s, d + sign * 3.0, 0.12), "yellow"))


def _arrow(paint: list, s: float, d: float) -> None:
    pts = np.array([[0, -0.12], [3.2, -0.12], [3.2, -0.38], [4.6, 0.0], [3.2, 0.38], [3.2, 0.12], [0, 0.12]])
    paint.append((pts + [s, d], "white"))


def _bike_symbol(paint: list, s: float, d: float) -> None:
    ang = np.linspace(0, 2 * np.pi, 11)
    for centre in (s - 0.55, s + 0.55):
        for a0, a1 in zip(ang[:-1], ang[1:]):
            paint.append((_segment(centre + 0.35 * np.cos(a0), d + 0.18 * np.sin(a0),
                                   centre + 0.35 * np.cos(a1), d + 0.18 * np.sin(a1), 0.06), "white"))
    for (s0, d0), (s1, d1) in (((-0.55, 0), (0, 0)), ((0, 0), (0.4, 0)), ((0.4, 0), (0.55, 0)), ((0, 0), (-0.2, 0))):
        paint.append((_segment(s + s0, d + d0, s + s1, d + d1, 0.07), "white"))
    paint.append((_segment(s - 0.15, d, s + 0.15, d, 0.2), "white"))
