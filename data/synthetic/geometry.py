"""Geometry of the synthetic world: a curved road described by arc length, and a pinhole camera.

Road coordinates: `s` metres along the centre line, `d` metres to its right. Camera coordinates:
x right, y up from the ground, z forward; the camera sits `mount_height` above the ground.
Headings are angles from the forward axis towards +x (a car driving along the road has heading 0
relative to the road; one crossing it from left to right has heading +pi/2).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Camera:
    width: int
    height: int
    focal: float
    cx: float
    cy: float  # image row of the horizon (pitch folded into it)
    mount_height: float = 1.6
    z_near: float = 0.6
    z_far: float = 300.0

    def project(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        inv = 1.0 / z
        return self.cx + self.focal * x * inv, self.cy - self.focal * (y - self.mount_height) * inv

    def in_view(self, x: float, z: float, radius: float) -> bool:
        """Could something of horizontal `radius` at (x, z) show up in the image?"""
        if z + radius < self.z_near or z - radius > self.z_far:
            return False
        half = (self.width / 2 + 4) / self.focal
        zz = max(z, self.z_near)
        return abs(x) - radius <= half * zz + radius


def clip_near(pts: np.ndarray, z_near: float) -> np.ndarray:
    """Clip a planar polygon (N, 3) to z >= z_near (Sutherland-Hodgman against one plane)."""
    out = []
    n = len(pts)
    for i in range(n):
        a, b = pts[i], pts[(i + 1) % n]
        a_in, b_in = a[2] >= z_near, b[2] >= z_near
        if a_in:
            out.append(a)
        if a_in != b_in:
            t = (z_near - a[2]) / (b[2] - a[2])
            out.append(a + t * (b - a))
    return np.asarray(out, dtype=np.float64).reshape(-1, 3)


def curvature_profile(rng: np.random.Generator, s: np.ndarray, calm: list[float], *, bend_prob: float) -> np.ndarray:
    """Gentle meanders plus, sometimes, a sharp bend; flat near the `calm` points (intersections)."""
    k = np.zeros_like(s)
    for _ in range(2):
        wavelength = rng.uniform(180.0, 700.0)
        k += rng.uniform(-1.0, 1.0) / 900.0 * np.sin(2 * np.pi * s / wavelength + rng.uniform(0, 2 * np.pi))
    if rng.random() < bend_prob:
        centre = rng.uniform(20.0, 160.0)
        length = rng.uniform(25.0, 60.0)
        k += rng.choice([-1.0, 1.0]) / rng.uniform(45.0, 110.0) * np.exp(-0.5 * ((s - centre) / (length / 2.5)) ** 2)
    window = np.ones_like(s)
    for c in calm:
        window *= 1.0 - np.exp(-0.5 * ((s - c) / 18.0) ** 2)
    return k * window


class Road:
    """Centre line sampled every metre; `(s, d)` -> world plane (x, z) with heading theta(s)."""

    def __init__(self, s_min: float, s_max: float, curvature: np.ndarray | None = None, step: float = 1.0):
        self.s = np.arange(s_min, s_max + step, step)
        k = np.zeros_like(self.s) if curvature is None else curvature
        theta = np.concatenate([[0.0], np.cumsum((k[1:] + k[:-1]) * 0.5 * step)])
        theta -= np.interp(0.0, self.s, theta)
        self.theta = theta
        x = np.concatenate([[0.0], np.cumsum((np.sin(theta[1:]) + np.sin(theta[:-1])) * 0.5 * step)])
        z = np.concatenate([[0.0], np.cumsum((np.cos(theta[1:]) + np.cos(theta[:-1])) * 0.5 * step)])
        self.x = x - np.interp(0.0, self.s, x)
        self.z = z - np.interp(0.0, self.s, z)

    def world(self, s: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        th = np.interp(s, self.s, self.theta)
        px = np.interp(s, self.s, self.x)
        pz = np.interp(s, self.s, self.z)
        # Right-hand normal of heading th is (cos th, -sin th) in (x, z).
        return px + d * np.cos(th), pz - d * np.sin(th), th


class View:
    """The camera pose on the road for one frame: maps road coordinates to camera coordinates."""

    def __init__(self, road: Road, s: float, d: float, yaw: float) -> None:
        ex, ez, th = road.world(np.asarray(s, float), np.asarray(d, float))
        self.road = road
        self.ex, self.ez = float(ex), float(ez)
        self.phi = float(th) + yaw
        self.cos, self.sin = np.cos(self.phi), np.sin(self.phi)

    def to_camera(self, s, d) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x, z, heading offset): camera-frame position and road heading relative to the camera."""
        wx, wz, th = self.road.world(np.asarray(s, float), np.asarray(d, float))
        rx, rz = wx - self.ex, wz - self.ez
        return rx * self.cos - rz * self.sin, rx * self.sin + rz * self.cos, th - self.phi

    def world_to_camera(self, wx, wz) -> tuple[np.ndarray, np.ndarray]:
        rx, rz = np.asarray(wx) - self.ex, np.asarray(wz) - self.ez
        return rx * self.cos - rz * self.sin, rx * self.sin + rz * self.cos
