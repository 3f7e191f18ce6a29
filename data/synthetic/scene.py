"""Per-sequence look (light, weather, camera quality) and the background of every frame: sky,
ground, road surfaces, markings and building fronts. Nothing here is annotated.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from data.synthetic.geometry import Camera, View, clip_near
from data.synthetic.layout import Layout
from data.synthetic.painter import SCALE, SHIFT

Colour = tuple[int, int, int]


@dataclass
class Style:
    time: str  # day, overcast, dusk
    sky_top: Colour
    sky_horizon: Colour
    fog: Colour
    visibility: float  # metres; haze reaches 63 % at this distance
    terrain: Colour
    asphalt: Colour
    sidewalk: Colour
    kerb: Colour
    paint: dict[str, Colour]
    lut: np.ndarray  # (256, 1, 3) per-channel tone curve: exposure, contrast, white balance
    blur: float
    noise: float
    vignette: float
    lights_on: bool

    def haze(self, distance: float) -> float:
        return float(min(0.92, 1.0 - np.exp(-max(distance, 0.0) / self.visibility)))


def _jitter(rng: np.random.Generator, colour: tuple, amount: float) -> Colour:
    return tuple(int(np.clip(c * rng.uniform(1 - amount, 1 + amount), 0, 255)) for c in colour)


def sample_style(rng: np.random.Generator) -> Style:
    time = str(rng.choice(["day", "day", "day", "overcast", "overcast", "dusk"]))
    if time == "day":
        top, horizon, vis, gain = (205, 150, 95), (235, 220, 200), rng.uniform(300, 900), rng.uniform(0.95, 1.1)
    elif time == "overcast":
        top, horizon, vis, gain = (185, 180, 175), (210, 210, 206), rng.uniform(140, 400), rng.uniform(0.85, 1.0)
    else:
        top, horizon, vis, gain = (120, 80, 70), (110, 150, 225), rng.uniform(200, 500), rng.uniform(0.55, 0.75)
    grey = rng.uniform(75, 110)
    x = np.arange(256) / 255.0
    contrast = rng.uniform(0.8, 1.1) * (0.85 if time == "overcast" else 1.0)
    gamma = rng.uniform(0.85, 1.15)
    tint = rng.uniform(0.92, 1.08, 3)
    lut = np.empty((256, 1, 3), np.uint8)
    for c in range(3):
        y = np.clip((x - 0.5) * contrast + 0.5, 0, 1) ** gamma * gain * tint[c]
        lut[:, 0, c] = np.clip(np.round(y * 255), 0, 255).astype(np.uint8)
    horizon = _jitter(rng, horizon, 0.05)
    return Style(
        time=time, sky_top=_jitter(rng, top, 0.08), sky_horizon=horizon, fog=horizon, visibility=float(vis),
        terrain=_jitter(rng, (70, 110, 85) if rng.random() < 0.5 else (95, 115, 125), 0.15),
        asphalt=_jitter(rng, (grey, grey, grey * 0.98), 0.03),
        sidewalk=_jitter(rng, (165, 168, 170), 0.1), kerb=_jitter(rng, (190, 192, 194), 0.05),
        paint={"white": _jitter(rng, (220, 222, 222), 0.06), "yellow": _jitter(rng, (40, 185, 220), 0.08),
               "patch_dark": (int(grey * 0.72),) * 3, "patch_light": (int(grey * 1.15),) * 3,
               "manhole": (int(grey * 0.55),) * 3},
        lut=lut, blur=float(rng.uniform(0.3, 1.4)), noise=float(rng.uniform(1.5, 6.0)),
        vignette=float(rng.uniform(0.0, 0.35)), lights_on=time == "dusk",
    )


class Sky:
    """A wide sky panorama with clouds and a hazy skyline; sliced by the camera's heading."""

    def __init__(self, rng: np.random.Generator, style: Style, camera: Camera, heading_range: tuple[float, float]):
        self.h0, self.h1 = heading_range[0] - 0.15, heading_range[1] + 0.15
        self.focal = camera.focal
        self.margin = int(camera.height * 0.05) + 2
        width = camera.width + int(np.ceil((self.h1 - self.h0) * camera.focal)) + 2
        height = camera.height + 2 * self.margin
        self.horizon = int(round(camera.cy)) + self.margin  # pano row of the horizon
        rows = np.clip(np.arange(height) / max(self.horizon, 1), 0, 1)[:, None] ** 0.6
        top, hor = np.array(style.sky_top, np.float32), np.array(style.sky_horizon, np.float32)
        col = top[None, :] * (1 - rows) + hor[None, :] * rows
        pano = np.repeat(col[:, None, :], width, axis=1)
        small = rng.random((max(2, height // 24), max(2, width // 24))).astype(np.float32)
        clouds = cv2.resize(cv2.GaussianBlur(small, (0, 0), 1.2), (width, height), interpolation=cv2.INTER_CUBIC)
        cover = {"day": 0.55, "overcast": 0.25, "dusk": 0.6}[style.time]
        alpha = np.clip((clouds - cover) * 3.0, 0, 0.8)[..., None] * (1 - rows[..., None] * 0.6)
        cloud_col = np.array((245, 245, 245) if style.time != "dusk" else (150, 170, 210), np.float32)
        pano = pano * (1 - alpha) + cloud_col * alpha
        sky_line = np.array(style.fog, np.float32) * 0.82
        x = 0
        while x < width:  # distant blocks and tree lines, pale with haze
            w = int(rng.integers(camera.width // 60 + 2, camera.width // 12 + 4))
            h = int(rng.uniform(0.0, 0.07) * camera.height) if rng.random() < 0.8 else 0
            shade = sky_line * rng.uniform(0.9, 1.08)
            pano[max(0, self.horizon - h):self.horizon + 1, x:x + w] = shade
            x += w
        self.pano = np.clip(pano, 0, 255).astype(np.uint8)

    def draw(self, image: np.ndarray, camera: Camera, heading: float) -> None:
        col0 = int(round((np.clip(heading, self.h0, self.h1) - self.h0) * self.focal))
        shift = int(round(camera.cy)) + self.margin - self.horizon
        rows = int(np.ceil(camera.cy)) + 2
        r0 = min(max(self.margin - shift, 0), self.pano.shape[0] - rows)
        image[:rows] = self.pano[r0:r0 + rows, col0:col0 + camera.width]


def _fill(image: np.ndarray, cam: Camera, pts: np.ndarray, colour: Colour, zbuf: np.ndarray | None = None) -> None:
    """Fill a camera-frame polygon (N, 3), clipped at the near plane.

    With `zbuf`, the polygon is a vertical wall and its depth goes into the buffer, so that
    things behind buildings can be hidden later (see Painter.draw).
    """
    if (pts[:, 2] < cam.z_near).any():
        pts = clip_near(pts, cam.z_near + 1e-6)
        if len(pts) < 3:
            return
    u, v = cam.project(pts[:, 0], pts[:, 1], pts[:, 2])
    lim = 64.0 * (cam.width + cam.height)
    p = np.round(np.clip(np.stack([u, v], 1), -lim, lim) * SCALE).astype(np.int32)
    cv2.fillPoly(image, [p], colour, cv2.LINE_AA, SHIFT)
    if zbuf is not None:
        _wall_depth(zbuf, cam, pts, p)


def _wall_depth(zbuf: np.ndarray, cam: Camera, pts: np.ndarray, p16: np.ndarray) -> None:
    """Depth of a vertical wall: along image column u it is where that column's ray meets the wall."""
    h, w = zbuf.shape
    x0, y0 = max(0, int(p16[:, 0].min() >> SHIFT)), max(0, int(p16[:, 1].min() >> SHIFT))
    x1, y1 = min(w, int(p16[:, 0].max() >> SHIFT) + 2), min(h, int(p16[:, 1].max() >> SHIFT) + 2)
    if x1 <= x0 or y1 <= y0:
        return
    a, b = pts[int(np.argmin(pts[:, 2]))], pts[int(np.argmax(pts[:, 2]))]
    dx, dz = b[0] - a[0], b[2] - a[2]
    if abs(dx) + abs(dz) < 1e-6:
        return
    r = (np.arange(x0, x1) + 0.5 - cam.cx) / cam.focal
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (r * a[2] - a[0]) / (dx - r * dz)
        depth = np.nan_to_num(a[2] + t * dz, nan=np.inf, posinf=np.inf, neginf=np.inf)
    depth = np.where(depth > cam.z_near, depth, cam.z_near).astype(np.float32)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [p16 - np.array([x0 << SHIFT, y0 << SHIFT], np.int32)], 1, cv2.LINE_8, SHIFT)
    crop = zbuf[y0:y1, x0:x1]
    m = mask.astype(bool)
    crop[m] = np.minimum(crop, depth[None, :])[m]


def _ground(view: View, s: np.ndarray, d: np.ndarray, y: float | np.ndarray = 0.0) -> np.ndarray:
    x, z, _ = view.to_camera(s, d)
    return np.stack([x, np.broadcast_to(y, x.shape), z], 1)


def _strip(image, cam, view, s0: float, s1: float, d0: float, d1: float, colour: Colour, s_ego: float) -> None:
    a, b = max(s0, s_ego - 4.0), min(s1, s_ego + cam.z_far)
    if b <= a:
        return
    offsets = np.array([-4, -1, 1, 3, 6, 10, 15, 22, 32, 45, 62, 85, 115, 155, 210, 300.0])
    ss = np.unique(np.clip(np.concatenate([[a, b], s_ego + offsets]), a, b))
    s = np.concatenate([ss, ss[::-1]])
    d = np.concatenate([np.full(len(ss), d0), np.full(len(ss), d1)])
    _fill(image, cam, _ground(view, s, d), colour)


def draw_background(image: np.ndarray, cam: Camera, view: View, lay: Layout, style: Style, sky: Sky,
                    s_ego: float) -> np.ndarray:
    """Draw the background; return the depth of building walls per pixel (inf elsewhere)."""
    sky.draw(image, cam, view.phi)
    hz = int(np.ceil(cam.cy)) + 1
    image[hz:] = style.terrain
    lo, hi = s_ego - 4.0, s_ego + cam.z_far
    re, le = lay.right_edge, lay.left_edge
    walk_r, walk_l = re + 0.2 + lay.sidewalk_right, le - 0.2 - lay.sidewalk_left
    # Sidewalks and kerbs stop at intersections; the crossing roads get their own.
    cuts = [(ix.s - ix.width / 2, ix.s + ix.width / 2) for ix in lay.intersections if ix.s + ix.width > lo and ix.s - ix.width < hi]
    edges = [lo] + [v for c in cuts for v in c] + [hi]
    for a, b in zip(edges[::2], edges[1::2]):
        _strip(image, cam, view, a, b, re + 0.2, walk_r, style.sidewalk, s_ego)
        _strip(image, cam, view, a, b, walk_l, le - 0.2, style.sidewalk, s_ego)
        _strip(image, cam, view, a, b, re, re + 0.2, style.kerb, s_ego)
        _strip(image, cam, view, a, b, le - 0.2, le, style.kerb, s_ego)
    _strip(image, cam, view, lo, hi, le, re, style.asphalt, s_ego)
    for ix in lay.intersections:
        if lo - 20 < ix.s < hi:
            near, far = ix.s - ix.width / 2, ix.s + ix.width / 2
            for d0, d1 in ((re, 90.0), (-90.0, le)):
                _fill(image, cam, _ground(view, np.array([near - 2.6, far + 2.6, far + 2.6, near - 2.6]),
                                          np.array([d0, d0, d1, d1])), style.sidewalk)
                _fill(image, cam, _ground(view, np.array([near, far, far, near]), np.array([d0, d0, d1, d1])),
                      style.asphalt)
    _draw_paint(image, cam, view, lay, style, lo, min(hi, s_ego + 220.0))
    _fog_band(image, cam, style)
    zbuf = np.full(image.shape[:2], np.inf, np.float32)
    _draw_buildings(image, cam, view, lay, style, s_ego, zbuf)
    return zbuf


def _draw_paint(image, cam, view, lay: Layout, style: Style, lo: float, hi: float) -> None:
    idx = np.flatnonzero((lay.paint_s > lo) & (lay.paint_s < hi))
    if not len(idx):
        return
    polys = [lay.paint[i] for i in idx]
    sizes = [len(p) for p, _ in polys]
    sd = np.concatenate([p for p, _ in polys])
    pts = _ground(view, sd[:, 0], sd[:, 1], 0.0)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    groups: dict[str, list[np.ndarray]] = {}
    u, v = cam.project(pts[:, 0], pts[:, 1], np.maximum(pts[:, 2], cam.z_near))
    uv = np.round(np.stack([u, v], 1) * SCALE).astype(np.int32)
    for k, (_, key) in enumerate(polys):
        a, b = starts[k], starts[k + 1]
        if (pts[a:b, 2] < cam.z_near).any():
            _fill(image, cam, pts[a:b], style.paint[key])
        elif key.startswith("patch"):
            cv2.fillPoly(image, [uv[a:b]], style.paint[key], cv2.LINE_AA, SHIFT)
        else:
            groups.setdefault(key, []).append(uv[a:b])
    for key, group in groups.items():
        cv2.fillPoly(image, group, style.paint[key], cv2.LINE_AA, SHIFT)


def _fog_band(image: np.ndarray, cam: Camera, style: Style) -> None:
    """Haze on the ground by distance, row by row (the ground at row v is f*h/(v - cy) away)."""
    top = int(np.ceil(cam.cy)) + 1
    bottom = min(cam.height, int(cam.cy + cam.focal * cam.mount_height / 12.0) + 1)
    if bottom <= top:
        return
    rows = np.arange(top, bottom, dtype=np.float32)
    dist = cam.focal * cam.mount_height / np.maximum(rows - cam.cy, 0.5)
    a = (1.0 - np.exp(-dist / style.visibility)).clip(0, 0.92)[:, None, None]
    band = image[top:bottom].astype(np.float32)
    image[top:bottom] = (band * (1 - a) + np.array(style.fog, np.float32) * a).astype(np.uint8)


def _draw_buildings(image, cam: Camera, view: View, lay: Layout, style: Style, s_ego: float,
                    zbuf: np.ndarray) -> None:
    visible = [b for b in lay.buildings if b.s1 > s_ego - 2 and b.s0 < s_ego + cam.z_far]
    for b in sorted(visible, key=lambda b: -b.s0):
        dist = max(b.s0 - s_ego, 0.0) + abs(b.d) * 0.3
        fog = style.haze(dist)
        fogc = np.array(style.fog, np.float32)

        def tone(c, k: float = 1.0) -> Colour:
            return tuple(int(v) for v in np.array(c, np.float32) * k * (1 - fog) + fogc * fog)

        back = b.d + b.side * b.depth
        if b.s0 > s_ego:
            end = _ground(view, np.full(4, b.s0), np.array([b.d, back, back, b.d]), np.array([0, 0, b.height, b.height]))
            _fill(image, cam, end, tone(b.colour, 0.75), zbuf)
        n = max(2, int((b.s1 - b.s0) / 8) + 1)
        ss = np.linspace(b.s0, b.s1, n)
        s = np.concatenate([ss, ss[::-1]])
        y = np.concatenate([np.zeros(n), np.full(n, b.height)])
        _fill(image, cam, _ground(view, s, np.full(2 * n, b.d), y), tone(b.colour), zbuf)
        if b.awning is not None:
            a = np.array([b.s0, b.s1, b.s1, b.s0])
            _fill(image, cam, _ground(view, a, np.array([b.d, b.d, b.d - b.side * 1.2, b.d - b.side * 1.2]),
                                      np.array([3.0, 3.0, 2.6, 2.6])), tone(b.awning))
        w = b.windows
        if not len(w) or b.s0 - s_ego > 180:
            continue
        keep = (w[:, 1] > s_ego + 1.0) & (w[:, 0] < s_ego + cam.z_far)
        w, wc = w[keep], b.window_colour[keep]
        if not len(w):
            continue
        s4 = np.stack([w[:, 0], w[:, 1], w[:, 1], w[:, 0]], 1).ravel()
        y4 = np.stack([w[:, 2], w[:, 2], w[:, 3], w[:, 3]], 1).ravel()
        pts = _ground(view, s4, np.full(len(s4), b.d - b.side * 0.02), y4)
        if (pts[:, 2] < cam.z_near).any():
            ok = (pts[:, 2].reshape(-1, 4) >= cam.z_near).all(1)
            pts, wc = pts.reshape(-1, 4, 3)[ok].reshape(-1, 3), wc[ok]
        u, v = cam.project(pts[:, 0], pts[:, 1], pts[:, 2])
        quads = np.round(np.stack([u, v], 1) * SCALE).astype(np.int32).reshape(-1, 4, 2)
        width_px = np.abs(quads[:, 1, 0] - quads[:, 0, 0]) / SCALE
        for k in np.unique(wc):
            sel = (wc == k) & (width_px > 1.5)
            if sel.any():
                colour = lay.window_palette[k] if k != 4 else (120, 210, 250) if style.lights_on else (175, 160, 150)
                cv2.fillPoly(image, list(quads[sel]), tone(colour), cv2.LINE_AA, SHIFT)
