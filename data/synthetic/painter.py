"""Drawing 3D shapes with OpenCV, and the id buffer that makes visible-extent boxes exact.

A `Shape` is a list of drawing operations in an object's own frame (x right, y up, z forward).
The `Painter` places it in the camera frame, projects it and draws it into the image (anti-aliased,
sub-pixel) and, for operations that belong to the silhouette, into an id buffer: 0 for things
nobody annotates (poles, trees), otherwise the id of an annotated part. Objects are drawn far to
near, so after the frame the id buffer holds, per pixel, the part that is actually visible.

Boxes are sub-pixel, in annotation coordinates (pixel i covers [i, i + 1), so an OpenCV
coordinate u, whose pixel centres are integers, is u + 0.5). Each edge comes from the projected
geometry (vertex extents; line half-widths and disc radii as the unrounded projected sizes),
clipped to the image, so it moves smoothly with the object and the camera. The id buffer only
decides which edges are seen: an edge whose last visible pixel lies more than `EDGE_TOLERANCE`
px inside the geometric edge is covered by something nearer, and the box stops at the occluder
(the id buffer's pixel edge) instead. Rounding every box to whole pixels, as the id buffer alone
would, makes a 13 px box jitter by a pixel a frame, more than it moves.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from data.synthetic.geometry import Camera, clip_near

SHIFT = 4  # sub-pixel bits for OpenCV drawing: slow motion of distant objects stays smooth
SCALE = 1 << SHIFT
POLY, LINE, DISC, TEXT = 0, 1, 2, 3
DETAIL = None  # draws into the image only; does not change the silhouette
# px; the id buffer fills pixels whose centre is inside, so a seen edge lies within ~1 px of it.
EDGE_TOLERANCE = 1.5

Colour = tuple[int, int, int]


class Face:
    """One face of a box: points at (a, b) metres along its two edge directions."""

    def __init__(self, origin: np.ndarray, a_dir: np.ndarray, b_dir: np.ndarray, normal: np.ndarray,
                 width: float, height: float) -> None:
        self.origin, self.a, self.b, self.normal = origin, a_dir, b_dir, normal
        self.width, self.height = width, height
        self._lift = normal * 0.012  # keep decorations just in front of the face

    def rect(self, a0: float, a1: float, b0: float, b1: float) -> np.ndarray:
        return (self.origin + self._lift) + np.multiply.outer((a0, a1, a1, a0), self.a) \
            + np.multiply.outer((b0, b0, b1, b1), self.b)

    def ellipse(self, a: float, b: float, ra: float, rb: float, n: int = 12) -> np.ndarray:
        cos, sin = _unit_circle(n)
        o = self.origin + self._lift
        return o + np.multiply.outer(a + ra * cos, self.a) + np.multiply.outer(b + rb * sin, self.b)


# Constant table of unit circles (cos, sin) for polygons of 3..32 corners.
_CIRCLES = {n: (np.cos(np.arange(n) * 2 * np.pi / n), np.sin(np.arange(n) * 2 * np.pi / n)) for n in range(3, 33)}


def _unit_circle(n: int) -> tuple[np.ndarray, np.ndarray]:
    return _CIRCLES[n]


_X, _Y, _Z = np.eye(3)


class Shape:
    """Drawing operations of one object in its own frame; `cam` is the camera in that frame."""

    def __init__(self, cam: np.ndarray) -> None:
        self.cam = cam
        self.points: list[np.ndarray] = []
        self.ops: list[tuple] = []
        self._n = 0

    def _add(self, pts: np.ndarray) -> tuple[int, int]:
        pts = np.asarray(pts, dtype=np.float64).reshape(-1, 3)
        i0 = self._n
        self.points.append(pts)
        self._n += len(pts)
        return i0, self._n

    def poly(self, pts: np.ndarray, colour: Colour, part: int | None = DETAIL) -> None:
        self.ops.append((POLY, *self._add(pts), colour, part, 0.0))

    def line(self, p: np.ndarray, q: np.ndarray, width: float, colour: Colour, part: int | None = DETAIL) -> None:
        self.ops.append((LINE, *self._add(np.array((p, q))), colour, part, width))

    def polyline(self, pts: np.ndarray, width: float, colour: Colour, part: int | None = DETAIL) -> None:
        for p, q in zip(pts[:-1], pts[1:]):
            self.line(p, q, width, colour, part)

    def disc(self, centre: np.ndarray, radius: float, colour: Colour, part: int | None = DETAIL) -> None:
        self.ops.append((DISC, *self._add(centre), colour, part, radius))

    def text(self, centre: np.ndarray, height: float, label: str, colour: Colour) -> None:
        self.ops.append((TEXT, *self._add(centre), colour, DETAIL, (height, label)))

    def visible(self, point: np.ndarray, normal: np.ndarray) -> bool:
        return float(np.dot(self.cam - point, normal)) > 0.0

    def box(self, x0: float, x1: float, y0: float, y1: float, z0: float, z1: float, colour: Colour,
            part: int | None, shade: bool = True) -> dict[str, Face]:
        """Draw the faces of an axis-aligned box that face the camera; return them by name.

        Names: rear (z0), front (z1), left (x0), right (x1), top (y1). Face coordinates: `a` runs
        along +x on rear/front/top and along +z on the sides; `b` runs up (+z on the top face).
        """
        w, h, l = x1 - x0, y1 - y0, z1 - z0
        faces = {
            "rear": Face(np.array([x0, y0, z0]), _X, _Y, -_Z, w, h),
            "front": Face(np.array([x0, y0, z1]), _X, _Y, _Z, w, h),
            "left": Face(np.array([x0, y0, z0]), _Z, _Y, -_X, l, h),
            "right": Face(np.array([x1, y0, z0]), _Z, _Y, _X, l, h),
            "top": Face(np.array([x0, y1, z0]), _X, _Z, _Y, w, l),
        }
        shading = {"rear": 1.0, "front": 1.0, "left": 0.8, "right": 0.8, "top": 1.12}
        shown = {}
        for name, face in faces.items():
            centre = face.origin + face.a * face.width / 2 + face.b * face.height / 2
            if not self.visible(centre, face.normal):
                continue
            f = shading[name] if shade else 1.0
            c = tuple(min(255, int(v * f)) for v in colour)
            self.poly(face.rect(0, face.width, 0, face.height) - face._lift, c, part)
            shown[name] = face
        return shown


def ring(centre: np.ndarray, radius: float, axis_u: np.ndarray, axis_v: np.ndarray, n: int = 12) -> np.ndarray:
    cos, sin = _unit_circle(n)
    return centre + radius * (np.multiply.outer(cos, axis_u) + np.multiply.outer(sin, axis_v))


class Painter:
    """Draws shapes into one frame and keeps track of every annotated part's pixels."""

    def __init__(self, image: np.ndarray, camera: Camera, walls: np.ndarray | None = None) -> None:
        self.image = image
        self.camera = camera
        self.ids = np.zeros(image.shape[:2], np.uint16)
        # Building walls are background, drawn first; whatever stands behind one is hidden again
        # by copying the wall's pixels back where the wall is nearer than the shape.
        self.walls = walls
        self.background = image.copy() if walls is not None else None
        self.parts: list[dict] = []  # per global id - 1: label, track, bbox bounds, full pixel count

    def draw(self, shape: Shape, x: float, z: float, psi: float, parts: list[tuple[int, int]],
             fog: float = 0.0, fog_colour: Colour = (200, 200, 200)) -> None:
        """Place `shape` at camera-frame ground point (x, z) with heading psi and draw it.

        `parts[k - 1] = (label, track)` for the shape's local part k >= 1.
        """
        if not shape.ops:
            return
        cam = self.camera
        base = len(self.parts)
        for label, track in parts:
            self.parts.append({"label": label, "track": track, "full": 0})
        pts = np.concatenate(shape.points)
        c, s = math.cos(psi), math.sin(psi)
        world = np.empty_like(pts)
        world[:, 0] = x + pts[:, 0] * c + pts[:, 2] * s
        world[:, 1] = pts[:, 1]
        world[:, 2] = z - pts[:, 0] * s + pts[:, 2] * c
        zs = world[:, 2]
        front = zs >= cam.z_near
        with np.errstate(divide="ignore", invalid="ignore"):
            u, v = cam.project(world[:, 0], world[:, 1], np.where(front, zs, 1.0))
        uv = np.stack([u, v], 1)
        limit = 64.0 * (cam.width + cam.height)  # keeps int32 coordinates sane for huge near faces
        uv16 = np.round(np.clip(uv, -limit, limit) * SCALE).astype(np.int32)
        # Per-operation extents in one go; operations own consecutive runs of points.
        ops = shape.ops
        starts = np.fromiter((op[1] for op in ops), np.int64, len(ops))
        all_front = np.logical_and.reduceat(front, starts).tolist()
        lo = np.minimum.reduceat(uv, starts, axis=0)
        hi = np.maximum.reduceat(uv, starts, axis=0)
        pad = np.zeros(len(ops))  # crop margin around each operation's vertices
        reach = np.zeros(len(ops))  # true extent beyond the vertices: half line width, disc radius
        drawn = np.zeros(len(ops), bool)
        points16 = uv16.tolist()
        depth = zs.tolist()
        fogged: dict[Colour, Colour] = {}
        img, ids = self.image, self.ids
        for k, (kind, i0, i1, colour, part, size) in enumerate(ops):
            col = fogged.get(colour)
            if col is None:
                col = tuple(int(a + (b - a) * fog) for a, b in zip(colour, fog_colour))
                fogged[colour] = col
            if kind == POLY:
                if all_front[k]:
                    p16 = uv16[i0:i1]
                else:
                    clipped = clip_near(world[i0:i1], cam.z_near + 1e-6)
                    if len(clipped) < 3:
                        continue
                    pu, pv = cam.project(clipped[:, 0], clipped[:, 1], clipped[:, 2])
                    pp = np.clip(np.stack([pu, pv], 1), -limit, limit)
                    p16 = np.round(pp * SCALE).astype(np.int32)
                    lo[k], hi[k] = pp.min(axis=0), pp.max(axis=0)
                cv2.fillPoly(img, [p16], col, cv2.LINE_AA, SHIFT)
                if part is not None:
                    cv2.fillPoly(ids, [p16], base + part if part else 0, cv2.LINE_8, SHIFT)
            elif kind == LINE:
                if not all_front[k]:
                    continue  # thin things crossing the near plane are about to leave the view anyway
                thick = max(1, int(round(cam.focal * size * 2.0 / (depth[i0] + depth[i0 + 1]))))
                p, q = points16[i0], points16[i0 + 1]
                cv2.line(img, p, q, col, thick, cv2.LINE_AA, SHIFT)
                if part is not None:
                    cv2.line(ids, p, q, base + part if part else 0, thick, cv2.LINE_8, SHIFT)
                pad[k] = thick / 2 + 1
                reach[k] = cam.focal * size / (depth[i0] + depth[i0 + 1])
            elif kind == DISC:
                if not all_front[k]:
                    continue
                r = cam.focal * size / depth[i0]
                radius16 = max(1, int(round(r * SCALE)))
                cv2.circle(img, points16[i0], radius16, col, -1, cv2.LINE_AA, SHIFT)
                if part is not None:
                    cv2.circle(ids, points16[i0], radius16, base + part if part else 0, -1, cv2.LINE_8, SHIFT)
                pad[k] = r + 1
                reach[k] = r
            else:  # TEXT, image only, only when big enough to read
                if all_front[k]:
                    height_px = cam.focal * size[0] / depth[i0]
                    if height_px >= 7:
                        _text(img, uv[i0], height_px, size[1], col)
                continue
            drawn[k] = True
        part_of = np.fromiter((op[4] or 0 for op in ops), np.int64, len(ops))

        def union(sel: np.ndarray, margin: np.ndarray) -> list[float]:
            if not sel.any():
                return [math.inf, math.inf, -math.inf, -math.inf]
            m = margin[sel]
            return [(lo[sel, 0] - m).min(), (lo[sel, 1] - m).min(), (hi[sel, 0] + m).max(), (hi[sel, 1] + m).max()]

        bounds = [union(drawn & (part_of == k + 1), pad) for k in range(len(parts))]
        extent = union(drawn, pad) if self.walls is not None else None
        for k, b in enumerate(bounds):
            entry = self.parts[base + k]
            entry["geometry"] = union(drawn & (part_of == k + 1), reach)
            crop = self._crop(b)
            entry["bounds"] = crop
            if crop is not None:
                x0, y0, x1, y1 = crop
                entry["full"] = int(np.count_nonzero(self.ids[y0:y1, x0:x1] == base + k + 1))
        crop = self._crop(extent) if extent is not None else None
        if crop is not None:
            x0, y0, x1, y1 = crop
            hidden = self.walls[y0:y1, x0:x1] < z
            if hidden.any():
                self.image[y0:y1, x0:x1][hidden] = self.background[y0:y1, x0:x1][hidden]
                self.ids[y0:y1, x0:x1][hidden] = 0

    def _crop(self, b: list[float]) -> tuple[int, int, int, int] | None:
        if not math.isfinite(b[0]):
            return None  # nothing of the part was drawn (e.g. all behind the near plane)
        h, w = self.ids.shape
        x0, y0 = max(0, int(math.floor(b[0])) - 1), max(0, int(math.floor(b[1])) - 1)
        x1, y1 = min(w, int(math.ceil(b[2])) + 2), min(h, int(math.ceil(b[3])) + 2)
        return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None

    def visible_boxes(self, *, min_side: float, min_visible: float) -> list[tuple[int, int, tuple[float, ...], float]]:
        """(label, track, (x0, y0, x1, y1), visible) of every part still mostly visible at the end.

        Boxes are floats in annotation coordinates (module docstring); ``visible`` is the part's
        fraction of its own in-image pixels that nothing nearer covers (1.0 = unoccluded).
        """
        out = []
        h, w = self.ids.shape
        for k, entry in enumerate(self.parts):
            crop = entry.get("bounds")
            if crop is None or entry["full"] == 0:
                continue
            x0, y0, x1, y1 = crop
            mask = self.ids[y0:y1, x0:x1] == k + 1
            count = int(np.count_nonzero(mask))
            if count == 0 or count < min_visible * entry["full"]:
                continue
            rows = np.flatnonzero(mask.any(axis=1))
            cols = np.flatnonzero(mask.any(axis=0))
            seen = (x0 + cols[0], y0 + rows[0], x0 + cols[-1] + 1, y0 + rows[-1] + 1)
            g = entry["geometry"]
            geometric = (max(g[0] + 0.5, 0.0), max(g[1] + 0.5, 0.0), min(g[2] + 0.5, w), min(g[3] + 0.5, h))
            # Lower edges may only move outwards of the seen pixels by the tolerance, upper ones
            # likewise; an edge further out is hidden, and the occluder's pixel edge is used.
            box = tuple(
                float(gv) if abs(gv - sv) <= EDGE_TOLERANCE else float(sv) for gv, sv in zip(geometric, seen)
            )
            if box[2] - box[0] < min_side or box[3] - box[1] < min_side:
                continue
            out.append((entry["label"], entry["track"], box, count / entry["full"]))
        return out


def _text(img: np.ndarray, centre: np.ndarray, height_px: float, label: str, colour: Colour) -> None:
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), _ = cv2.getTextSize(label, font, 1.0, 2)
    scale = height_px / th
    thick = max(1, int(round(scale * 1.6)))
    (tw, th), _ = cv2.getTextSize(label, font, scale, thick)
    org = (int(round(centre[0] - tw / 2)), int(round(centre[1] + th / 2)))
    cv2.putText(img, label, org, font, scale, colour, thick, cv2.LINE_AA)
