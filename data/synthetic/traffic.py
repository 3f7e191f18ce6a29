"""Traffic of one sequence: the ego car and everything that moves around it.

Vehicles follow their lane with the Intelligent Driver Model (Treiber et al.): they keep their
distance, brake for red and yellow lights, stop at stop signs, wait for people on crosswalks,
sometimes change lanes; traffic overtakes us, comes towards us and crosses at intersections;
people walk, wait at corners and cross on red. All randomness comes from one seeded Generator.
"""
from __future__ import annotations

import math

import numpy as np

from data.classes import ARGOVERSE_HD_CLASSES
from data.synthetic.agents import Agent
from data.synthetic.figures import sample_person
from data.synthetic.furniture import Furnisher
from data.synthetic.layout import Layout
from data.synthetic.vehicles import sample_vehicle, vehicle_extent

LABELS = {name: i for i, name in enumerate(ARGOVERSE_HD_CLASSES)}
LANE_CHANGE_TIME = 3.0
SPAWN_AHEAD = 250.0


def idm(v: float, v0: float, gap: float, dv: float, a: float = 1.4, b: float = 2.0, headway: float = 1.3,
        s0: float = 2.5) -> float:
    """Intelligent Driver Model acceleration."""
    s_star = s0 + max(0.0, v * headway + v * dv / (2.0 * math.sqrt(a * b)))
    return max(-9.0, a * (1.0 - (v / max(v0, 0.1)) ** 4 - (s_star / max(gap, 0.1)) ** 2))


def _smooth(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * x * (10 + x * (-15 + 6 * x))


class Traffic:
    def __init__(self, rng: np.random.Generator, lay: Layout, *, s_start: float, s_end: float, cruise: float,
                 duration: float, track_base: int) -> None:
        self.rng, self.lay, self.t = rng, lay, 0.0
        self._track = track_base
        self.density = float(rng.uniform(18.0, 55.0))  # mean gap between vehicles in a lane, metres
        self.walkers = int(rng.integers(2, 9))  # people walking per sidewalk in view
        self.cross_rate = float(rng.uniform(0.1, 0.35))  # vehicles per second per crossing lane
        self.static = Furnisher(rng, lay, self.new_parts).place(s_start - 60.0, s_end + SPAWN_AHEAD + 60.0)
        start_speed = 0.0 if rng.random() < 0.15 else cruise * rng.uniform(0.6, 1.0)
        self.ego = Agent("ego", s_start, lay.lane_centre(lay.ego_lane), {"length": 4.6}, [], motion="lane",
                         speed=start_speed, v0=cruise, lane=("lane", lay.ego_lane))
        self.dynamic: list[Agent] = []
        if lay.lanes_same > 1 and rng.random() < 0.4:
            target = lay.ego_lane + (1 if lay.ego_lane == 0 else -1 if lay.ego_lane == lay.lanes_same - 1
                                     else int(rng.choice([-1, 1])))
            self.ego.state["planned_change"] = (float(rng.uniform(0.5, max(duration - 3.0, 0.6))), target)
        self._populate(s_start)

    def new_parts(self, labels: list[str]) -> list[tuple[int, int]]:
        out = []
        for name in labels:
            out.append((LABELS[name], self._track))
            self._track += 1
        return out

    # ---- lanes -------------------------------------------------------------------------------
    def _lanes(self) -> list[tuple[tuple, float, int]]:
        """(key, d, direction) of every lane along our road."""
        lay = self.lay
        out = [(("lane", i), lay.lane_centre(i), 1) for i in range(lay.lanes_same)]
        out += [(("lane", -j - 1), lay.lane_centre(-j - 1), -1) for j in range(lay.lanes_opp)]
        if lay.bike_lane:
            out.append((("bike",), lay.lanes_same * lay.lane_width + 0.8, 1))
        return out

    def _cross_lanes(self, k: int) -> list[tuple[tuple, float, int]]:
        ix = self.lay.intersections[k]
        width = ix.width / (2 * ix.cross_lanes) * 0.92
        out = []
        for direction in (1, -1):
            for j in range(ix.cross_lanes):
                # Traffic keeps right: heading +d, its right-hand side is towards -s.
                out.append((("cross", k, j, direction), ix.s - direction * (j + 0.5) * width, direction))
        return out

    def _vehicle(self, key: tuple, s: float, d: float, direction: int, speed_scale: float, kind: str | None = None,
                 motion: str = "lane") -> Agent:
        rng = self.rng
        if kind is None:
            kind = "bicycle" if key[0] == "bike" else str(rng.choice(
                ["car"] * 15 + ["truck"] * 2 + ["bus"] * (2 if self.lay.urban else 1) + ["motorcycle"] * 2))
        p = sample_vehicle(kind, rng)
        labels = [kind] + (["person"] if kind in ("bicycle", "motorcycle") else [])
        v0 = rng.uniform(3.0, 6.5) if kind == "bicycle" else self.ego.v0 * speed_scale
        heading = (0.0 if direction > 0 else math.pi) if motion == "lane" else direction * math.pi / 2
        agent = Agent(kind, float(s), float(d), p, self.new_parts(labels), heading=heading, motion=motion,
                      direction=direction, speed=float(v0 * rng.uniform(0.8, 1.0)), v0=float(v0), lane=key,
                      radius=vehicle_extent(p), phase=float(rng.uniform(0, 6.3)))
        self.dynamic.append(agent)
        return agent

    def _walker(self, side: int, s: float) -> Agent:
        rng, lay = self.rng, self.lay
        lo = lay.right_edge + 0.7 if side > 0 else lay.left_edge - 0.2 - lay.sidewalk_left + 0.5
        hi = lay.right_edge + lay.sidewalk_right - 0.3 if side > 0 else lay.left_edge - 0.7
        direction = int(rng.choice([-1, 1]))
        agent = Agent("person", float(s), float(rng.uniform(lo, max(lo, hi))), sample_person(rng),
                      self.new_parts(["person"]), heading=0.0 if direction > 0 else math.pi, motion="walk",
                      direction=direction, speed=float(rng.uniform(1.0, 1.7)), lane=("walk", side),
                      radius=0.5, phase=float(rng.uniform(0, 6.3)))
        self.dynamic.append(agent)
        return agent

    def _populate(self, s0: float) -> None:
        rng = self.rng
        for key, d, direction in self._lanes():
            gap = self.density * (3.0 if key[0] == "bike" else 1.0)
            s = s0 + 12.0 if key == self.ego.lane else s0 - 40.0
            while True:
                s += rng.exponential(gap) + 9.0
                if s > s0 + SPAWN_AHEAD:
                    break
                self._vehicle(key, s, d, direction, float(rng.uniform(0.7, 1.15)))
        for side in (1, -1):
            for _ in range(self.walkers):
                self._walker(side, s0 + rng.uniform(-20, 160))
        for k, ix in enumerate(self.lay.intersections):
            if s0 - 10 < ix.s < s0 + SPAWN_AHEAD:
                for key, s, direction in self._cross_lanes(k):
                    for d in np.arange(-85.0, 85.0, 30.0) + rng.uniform(0, 30.0):
                        if (d < self.lay.left_edge - 4 or d > self.lay.right_edge + 4) and rng.random() < 0.5:
                            self._vehicle(key, s, d, direction, 1.0, motion="cross")

    # ---- one time step ---------------------------------------------------------------------
    def step(self, dt: float) -> None:
        t, lay, rng = self.t, self.lay, self.rng
        crossing_peds: dict[int, bool] = {}
        for a in self.dynamic:
            if a.motion == "xwalk" and lay.left_edge - 1.0 < a.d < lay.right_edge + 1.0:
                crossing_peds[a.lane[1]] = True
        groups: dict[tuple, list[Agent]] = {}
        for a in [self.ego] + self.dynamic:
            if a.motion in ("lane", "cross"):
                groups.setdefault(a.lane, []).append(a)
        accel: dict[int, float] = {}
        for key, members in groups.items():
            members.sort(key=lambda a: a.progress)
            for i, a in enumerate(members):
                acc = idm(a.speed, a.v0, 1e9, 0.0)
                if i + 1 < len(members):
                    lead = members[i + 1]
                    gap = lead.progress - a.progress - (lead.length + a.length) / 2
                    acc = min(acc, idm(a.speed, a.v0, gap, a.speed - lead.speed))
                stop = self._stop_line(a, t, dt, crossing_peds)
                if stop is not None:
                    acc = min(acc, idm(a.speed, a.v0, stop - a.progress - a.length / 2, a.speed, s0=1.0))
                accel[id(a)] = acc
        for a in [self.ego] + self.dynamic:
            if a.motion in ("lane", "cross"):
                acc = accel[id(a)]
                a.braking = acc < -0.6
                a.speed = max(0.0, a.speed + acc * dt)
                if a.motion == "lane":
                    a.s += a.direction * a.speed * dt
                else:
                    a.d += a.direction * a.speed * dt
                a.phase += a.speed * dt * 1.6
                self._lane_change(a, dt, groups)
            elif a.motion == "walk":
                a.s += a.direction * a.speed * dt
                a.phase += a.speed * dt * 4.0
            elif a.motion == "xwalk":
                a.d += a.direction * a.speed * dt
                a.phase += a.speed * dt * 4.0
                if a.direction * a.d > a.state["end"]:
                    a.motion, a.lane = "walk", ("walk", 1 if a.d > 0 else -1)
                    a.direction = int(rng.choice([-1, 1]))
                    a.heading = 0.0 if a.direction > 0 else math.pi
        self._crosswalk_starts(t)
        self._spawn_and_despawn(dt)
        self.t += dt

    def _stop_line(self, a: Agent, t: float, dt: float, crossing_peds: dict[int, bool]) -> float | None:
        """Progress coordinate of the line `a` must stop at, or None."""
        lay = self.lay
        if a.motion == "cross":
            k = a.lane[1]
            ix = lay.intersections[k]
            edge = lay.left_edge if a.direction > 0 else lay.right_edge
            line = a.direction * (edge - a.direction * 3.0)
            if a.progress + a.length / 2 > line + 0.5:
                return None
            state = ix.cross_state(t)
            if state == "red" or (state == "yellow" and line - a.progress > a.speed ** 2 / 6.0 + 3):
                return line
            return None
        if a.lane[0] == "bike":
            return None
        for k, ix in enumerate(lay.intersections):
            s_line = ix.s - a.direction * (ix.width / 2 + 4.0)
            line = a.direction * s_line
            ahead = line - (a.progress + a.length / 2)
            if ahead < -0.5 or ahead > 120.0:
                continue
            if crossing_peds.get(k):
                return line
            if ix.control == "lights":
                state = ix.main_state(t)
                if state == "red" or (state == "yellow" and ahead > a.speed ** 2 / 6.0 + 2.0):
                    return line
                return None
            if a.state.get("cleared") == k:
                return None
            if a.speed < 0.3 and ahead < 4.0:
                a.state["waited"] = a.state.get("waited", 0.0) + dt
                if a.state["waited"] > 1.2 and not self._cross_traffic_near(k):
                    a.state["cleared"], a.state["waited"] = k, 0.0
                    return None
            return line
        return None

    def _cross_traffic_near(self, k: int) -> bool:
        lay = self.lay
        return any(a.motion == "cross" and a.lane[1] == k and lay.left_edge - 12 < a.d < lay.right_edge + 12
                   for a in self.dynamic)

    def _lane_change(self, a: Agent, dt: float, groups: dict[tuple, list[Agent]]) -> None:
        lay, rng = self.lay, self.rng
        if a.motion != "lane" or a.lane[0] != "lane":
            return
        lc = a.state.get("lc")
        if lc is not None:
            t0, d0, d1 = lc
            x = (self.t - t0) / LANE_CHANGE_TIME
            a.d = d0 + (d1 - d0) * _smooth(x)
            rate = (d1 - d0) * 30 * x * x * (1 - x) ** 2 / LANE_CHANGE_TIME if x < 1 else 0.0
            a.heading = math.atan2(rate, a.direction * max(a.speed, 1.0))
            if x >= 1:
                del a.state["lc"]
            return
        plan = a.state.get("planned_change")
        lanes = range(lay.lanes_same) if a.direction > 0 else range(-lay.lanes_opp, 0)
        if plan is not None and self.t >= plan[0]:
            target = plan[1]
            if any(abs(b.s - a.s) < 12.0 for b in groups.get(("lane", target), [])):
                a.state["planned_change"] = (self.t + 1.0, target)  # blocked: look again in a second
                return
            del a.state["planned_change"]
        elif a is not self.ego and len(lanes) > 1 and rng.random() < 0.03 * dt:
            target = a.lane[1] + int(rng.choice([-1, 1]))
            if any(abs(b.s - a.s) < 15.0 for b in groups.get(("lane", target), [])):
                return
        else:
            return
        if target not in lanes:
            return
        a.state["lc"] = (self.t, a.d, lay.lane_centre(target))
        a.lane = ("lane", target)

    def _crosswalk_starts(self, t: float) -> None:
        lay, rng = self.lay, self.rng
        for a in self.static:
            if a.motion != "waiting":
                continue
            ix = lay.intersections[a.lane[1]]
            if (ix.control == "lights" and ix.main_state(t) == "red") or (ix.control == "stop" and rng.random() < 0.003):
                a.motion = "xwalk"
                a.direction = 1 if a.d < 0 else -1
                a.heading = a.direction * math.pi / 2
                a.speed = float(rng.uniform(1.1, 1.6))
                a.s = ix.s - ix.width / 2 - rng.uniform(1.0, 2.6)
                a.state["end"] = a.direction * (lay.right_edge + 1.0 if a.direction > 0 else lay.left_edge - 1.0)
                self.dynamic.append(a)
        self.static = [a for a in self.static if a.motion != "xwalk"]

    def _spawn_and_despawn(self, dt: float) -> None:
        rng, ego, lay = self.rng, self.ego, self.lay
        lo, hi = ego.s - 60.0, ego.s + SPAWN_AHEAD + 80.0
        self.dynamic = [a for a in self.dynamic if lo < a.s < hi and abs(a.d) < 95.0]
        by_lane: dict[tuple, list[Agent]] = {}
        for a in self.dynamic + [ego]:
            by_lane.setdefault(a.lane, []).append(a)
        for key, d, direction in self._lanes():
            members = by_lane.get(key, [])
            far = max((a.s for a in members), default=ego.s)
            gap = self.density * (3.0 if key[0] == "bike" else 1.0)
            if far < ego.s + SPAWN_AHEAD - gap * rng.uniform(0.5, 1.5) and rng.random() < 0.2:
                self._vehicle(key, ego.s + SPAWN_AHEAD + rng.uniform(0, 20), d, direction, float(rng.uniform(0.7, 1.15)))
            if direction > 0 and key != ego.lane and key[0] == "lane" and rng.random() < 0.06 * dt:
                if not any(ego.s - 50 < a.s < ego.s - 15 for a in members):
                    car = self._vehicle(key, ego.s - 35.0, d, direction, 1.0)
                    car.v0 = car.speed = ego.speed + float(rng.uniform(3.0, 7.0))
        for side in (1, -1):
            count = sum(1 for a in by_lane.get(("walk", side), []) if ego.s - 10 < a.s < ego.s + 160)
            if count < self.walkers and rng.random() < 0.05:
                self._walker(side, ego.s + rng.uniform(110, 170))
        for k, ix in enumerate(lay.intersections):
            if not ego.s - 10 < ix.s < ego.s + SPAWN_AHEAD:
                continue
            for key, s, direction in self._cross_lanes(k):
                if rng.random() < self.cross_rate * dt:
                    start = -direction * 90.0
                    if all(abs(a.d - start) > 14 for a in by_lane.get(key, [])):
                        self._vehicle(key, s, start, direction, float(rng.uniform(0.8, 1.2)), motion="cross")

    def visible_agents(self) -> list[Agent]:
        lo, hi = self.ego.s - 30.0, self.ego.s + SPAWN_AHEAD + 60.0
        return [a for a in self.static if lo < a.s < hi] + self.dynamic

    def ego_pose(self) -> tuple[float, float, float]:
        """(s, d, yaw relative to the road) of the camera car."""
        return self.ego.s, self.ego.d, self.ego.heading
