"""One sequence of the synthetic world: sets up the street, the camera and the look, then renders
frame after frame with the tight visible-extent box of every annotated object."""
from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np

from data.synthetic.agents import Agent
from data.synthetic.figures import draw_clutter, draw_person, draw_stop_sign, draw_traffic_light, walk_joints
from data.synthetic.geometry import Camera, Road, View, curvature_profile
from data.synthetic.layout import make_layout
from data.synthetic.painter import Painter, Shape
from data.synthetic.scene import Sky, draw_background, sample_style
from data.synthetic.traffic import Traffic
from data.synthetic.vehicles import draw_bus, draw_car, draw_truck, draw_two_wheeler

FPS = 30.0
WARMUP_SECONDS = 1.0
MIN_BOX_SIDE = 2.0  # pixels; fainter specks are not annotated at all (world.py marks small boxes crowd)
MIN_VISIBLE = 0.3  # fraction of an object's in-image pixels that must stay unoccluded
_NOISE_BANK = 4
_BODIES = {"car": draw_car, "bus": draw_bus, "truck": draw_truck}


class SequenceRenderer:
    """Call `render()` for the current frame, then `advance()` to move the world on by 1/fps."""

    def __init__(self, rng: np.random.Generator, size: tuple[int, int], duration: float, track_base: int,
                 fps: float = FPS) -> None:
        width, height = size
        self.rng, self.fps, self.dt = rng, fps, 1.0 / fps
        self.camera = Camera(width=width, height=height, focal=width * rng.uniform(0.68, 0.8),
                             cx=width / 2 + rng.normal(0, width * 0.004), cy=height * rng.uniform(0.44, 0.52),
                             mount_height=rng.uniform(1.45, 1.75))
        cruise = float(rng.uniform(7.0, 16.0))
        s_end = cruise * (duration + WARMUP_SECONDS + 2.0) + 20.0
        s_min, s_max = -160.0, s_end + 500.0
        self.layout = make_layout(rng, s_min + 40, s_max - 40, first_intersection=float(rng.uniform(20.0, 110.0)))
        grid = np.arange(s_min, s_max + 1.0, 1.0)
        bend = 0.45 if duration > 3 else 0.25
        curvature = curvature_profile(rng, grid, [ix.s for ix in self.layout.intersections], bend_prob=bend)
        self.road = Road(s_min, s_max, curvature)
        self.style = sample_style(rng)
        span = self.road.theta[(self.road.s > -20) & (self.road.s < s_end + 40)]
        self.sky = Sky(rng, self.style, self.camera, (float(span.min()) - 0.3, float(span.max()) + 0.3))
        self.traffic = Traffic(rng, self.layout, s_start=-cruise * WARMUP_SECONDS, s_end=s_end, cruise=cruise,
                               duration=duration, track_base=track_base)
        self.traffic.t = -WARMUP_SECONDS  # so that signal cycles and plans line up with frame times
        for _ in range(int(round(WARMUP_SECONDS * fps))):
            self.traffic.step(self.dt)
        self._shake = (rng.uniform(0, 6.3), rng.uniform(0, 6.3), rng.uniform(0.4, 1.2))
        self._noise = []
        for _ in range(_NOISE_BANK):
            n = rng.normal(0.0, self.style.noise, (height, width, 3)).astype(np.float32)
            n += rng.normal(0.0, self.style.noise * 0.5, (height, width, 1)).astype(np.float32)  # luminance grain
            self._noise.append((np.clip(n, 0, 255).astype(np.uint8), np.clip(-n, 0, 255).astype(np.uint8)))
        self._vignette = None
        if self.style.vignette > 0.02:
            yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
            r2 = ((xx - width / 2) / (width / 2)) ** 2 + ((yy - height / 2) / (height / 2)) ** 2
            v = np.clip(1.0 - self.style.vignette * 0.5 * r2, 0, 1) * 255
            self._vignette = cv2.merge([v.astype(np.uint8)] * 3)

    def advance(self) -> None:
        self.traffic.step(self.dt)

    def render(self) -> tuple[np.ndarray, list[tuple[int, int, tuple[float, ...], float]]]:
        """(BGR image, [(label, track, (x0, y0, x1, y1), visible), ...]) for the current time.

        Boxes are sub-pixel floats; visible is the unoccluded fraction (painter.visible_boxes)."""
        t = self.traffic.t
        base = self.camera
        p1, p2, amp = self._shake
        speed = self.traffic.ego.speed
        bump = base.height * 0.0025 * amp * (0.3 + speed / 15.0)
        cam = replace(base, cy=base.cy + bump * (math.sin(2 * math.pi * 1.3 * t + p1) + 0.6 * math.sin(2 * math.pi * 3.1 * t + p2)))
        s_e, d_e, yaw = self.traffic.ego_pose()
        view = View(self.road, s_e, d_e, yaw + 0.004 * math.sin(2 * math.pi * 0.25 * t + p2))
        image = np.empty((cam.height, cam.width, 3), np.uint8)
        walls = draw_background(image, cam, view, self.layout, self.style, self.sky, s_e)
        painter = Painter(image, cam, walls if np.isfinite(walls).any() else None)
        agents = self.traffic.visible_agents()
        if agents:
            x, z, dpsi = view.to_camera(np.array([a.s for a in agents]), np.array([a.d for a in agents]))
            order = sorted(
                (-math.hypot(x[i], z[i]), i) for i, a in enumerate(agents) if cam.in_view(x[i], z[i], a.radius)
            )
            for neg_dist, i in order:
                self._draw(painter, cam, agents[i], float(x[i]), float(z[i]), float(dpsi[i]), -neg_dist, t)
        boxes = painter.visible_boxes(min_side=MIN_BOX_SIDE, min_visible=MIN_VISIBLE)
        return self._finish(image), boxes

    def _draw(self, painter: Painter, cam: Camera, a: Agent, x: float, z: float, dpsi: float, dist: float,
              t: float) -> None:
        psi = math.atan2(-x, -z) if a.billboard else a.heading + dpsi
        c, s = math.cos(psi), math.sin(psi)
        shape = Shape(np.array([-x * c + z * s, cam.mount_height, -x * s - z * c]))
        p, kind = a.params, a.kind
        if kind in _BODIES:
            _BODIES[kind](shape, p, a.braking, self.style.lights_on)
        elif kind in ("bicycle", "motorcycle"):
            draw_two_wheeler(shape, p, a.phase, riding=a.motion in ("lane", "cross"))
        elif kind == "person":
            amp = 1.0 if a.motion in ("walk", "xwalk") else 0.0
            draw_person(shape, p, walk_joints(p, a.phase, amp), 1)
        elif kind == "traffic_light":
            ix = self.layout.intersections[p["ix"]]
            draw_traffic_light(shape, p, ix.main_state(t) if p["group"] == "main" else ix.cross_state(t))
        elif kind == "stop_sign":
            draw_stop_sign(shape, p)
        else:
            draw_clutter(shape, p)
        painter.draw(shape, x, z, psi, a.parts, fog=self.style.haze(dist), fog_colour=self.style.fog)

    def _finish(self, image: np.ndarray) -> np.ndarray:
        """Camera effects: focus blur, tone curve, vignetting, sensor noise."""
        if self.style.blur >= 0.4:
            image = cv2.GaussianBlur(image, (0, 0), self.style.blur)
        image = cv2.LUT(image, self.style.lut)
        if self._vignette is not None:
            image = cv2.multiply(image, self._vignette, scale=1.0 / 255.0)
        pos, neg = self._noise[int(self.rng.integers(len(self._noise)))]
        return cv2.subtract(cv2.add(image, pos), neg)
