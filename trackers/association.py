"""Matching tracks to detections by IoU, with class gating.

A pair is *feasible* when its IoU is >= ``min_iou`` (and > 0) and, with class gating, both
carry the same class. Two matchers over the feasible pairs:

- ``optimal``: maximum total IoU (scipy's ``linear_sum_assignment``). Pairs that form their own
  connected component (the track's only candidate is a detection whose only candidate is that
  track, the usual case for well-separated objects) are taken directly; only the ambiguous
  rest goes to the solver.
- ``greedy``: repeatedly take the highest-IoU feasible pair whose track and detection are both
  free (ties broken by track, then detection index), as the sAP toolkit's baseline does.

Speed: IoU (data.boxes.iou_matrix) is only computed where it can be non-zero. Small problems
take one dense call; larger ones are cut into runs of tracks ordered by (class, x centre), each
paired with the detections overlapping the run's bounding box (and of a class in the run).
Matching then works on the short list of feasible pairs.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from data.boxes import iou_matrix

ASSOCIATION_METHODS = ("optimal", "greedy")
# Above this many track x detection pairs the tracks are cut into runs of _RUN.
_DENSE_PAIRS = 4096
_RUN = 48


def gated_iou(
    track_boxes: np.ndarray,
    track_labels: np.ndarray,
    det_boxes: np.ndarray,
    det_labels: np.ndarray,
    *,
    class_gating: bool = True,
) -> np.ndarray:
    """Dense (T, D) IoU of xyxy boxes, 0 where the classes differ (if gating)."""
    iou = iou_matrix(track_boxes, det_boxes)
    if class_gating and iou.size:
        iou[np.asarray(track_labels)[:, None] != np.asarray(det_labels)[None, :]] = 0.0
    return iou


def candidate_pairs(
    track_boxes: np.ndarray,
    track_labels: np.ndarray,
    det_boxes: np.ndarray,
    det_labels: np.ndarray,
    *,
    min_iou: float,
    class_gating: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feasible pairs as (track indices, detection indices, IoU), each (K,)."""
    tb = np.asarray(track_boxes, np.float64).reshape(-1, 4)
    db = np.asarray(det_boxes, np.float64).reshape(-1, 4)
    tl = np.asarray(track_labels, np.int64).reshape(-1)
    dl = np.asarray(det_labels, np.int64).reshape(-1)
    if class_gating and ((len(tl) and tl.min() < 0) or (len(dl) and dl.min() < 0)):
        raise ValueError("association: class labels must be >= 0")
    if len(tb) * len(db) <= _DENSE_PAIRS:
        return _pairs_of(gated_iou(tb, tl, db, dl, class_gating=class_gating), min_iou)
    # Runs of tracks ordered by (class, x) see only the detections that can overlap them. With
    # gating, each class is moved to its own stretch of the x axis (for this selection only), so
    # one bounding-box test per run checks class and position together.
    x_shift = np.zeros(len(tb)), np.zeros(len(db))
    if class_gating:
        stride = 2.0 * (max(tb[:, 2].max(), db[:, 2].max()) - min(tb[:, 0].min(), db[:, 0].min())) + 1.0
        x_shift = tl * stride, dl * stride
    t_x1, t_x2 = tb[:, 0] + x_shift[0], tb[:, 2] + x_shift[0]
    d_x1, d_x2 = db[:, 0] + x_shift[1], db[:, 2] + x_shift[1]
    order = np.argsort(t_x1 + t_x2, kind="stable")
    rows, cols, vals = [], [], []
    for start in range(0, len(order), _RUN):
        run = order[start:start + _RUN]
        lo_y, hi_y = tb[run, 1].min(), tb[run, 3].max()
        near = (d_x1 < t_x2[run].max()) & (d_x2 > t_x1[run].min()) & (db[:, 1] < hi_y) & (db[:, 3] > lo_y)
        dets = np.nonzero(near)[0]
        if len(dets) == 0:
            continue
        r, c, v = _pairs_of(gated_iou(tb[run], tl[run], db[dets], dl[dets], class_gating=class_gating), min_iou)
        rows.append(run[r])
        cols.append(dets[c])
        vals.append(v)
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
    # The runs split the tracks, so no pair is seen twice.
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


def _as_matches(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return np.stack([rows, cols], axis=1).astype(np.int64).reshape(-1, 2)


def greedy_from_pairs(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """Greedy matching over candidate pairs; returns (K, 2) [track, det]."""
    order = np.lexsort((cols, rows, -vals))  # highest IoU first, ties by (track, det)
    row_used: set[int] = set()
    col_used: set[int] = set()
    pairs = []
    for r, c in zip(rows[order].tolist(), cols[order].tolist()):
        if r not in row_used and c not in col_used:
            row_used.add(r)
            col_used.add(c)
            pairs.append((r, c))
    return np.asarray(pairs, np.int64).reshape(-1, 2)


def optimal_from_pairs(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """Maximum-total-IoU matching over candidate pairs; returns (K, 2) [track, det]."""
    if len(rows) == 0:
        return _as_matches(rows, cols)
    isolated = (np.bincount(rows)[rows] == 1) & (np.bincount(cols)[cols] == 1)
    direct = _as_matches(rows[isolated], cols[isolated])
    rest = ~isolated
    if not rest.any():
        return direct
    sub_rows, r_idx = np.unique(rows[rest], return_inverse=True)
    sub_cols, c_idx = np.unique(cols[rest], return_inverse=True)
    sub = np.zeros((len(sub_rows), len(sub_cols)))
    sub[r_idx, c_idx] = vals[rest]
    # Missing pairs are worth 0, candidates > 0: maximising the total over a full assignment and
    # dropping the zero pairs gives the maximum over matchings of candidates.
    r, c = linear_sum_assignment(sub, maximize=True)
    keep = sub[r, c] > 0
    return np.concatenate([direct, _as_matches(sub_rows[r[keep]], sub_cols[c[keep]])])


def _pairs_of(iou: np.ndarray, min_iou: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r, c = np.nonzero((iou >= min_iou) & (iou > 0))
    return r, c, iou[r, c]


def match_greedy(iou: np.ndarray, min_iou: float) -> np.ndarray:
    """Greedy matching on a dense (T, D) IoU matrix; returns (K, 2) [track, det]."""
    return greedy_from_pairs(*_pairs_of(iou, min_iou))


def match_optimal(iou: np.ndarray, min_iou: float) -> np.ndarray:
    """Optimal matching on a dense (T, D) IoU matrix; returns (K, 2) [track, det]."""
    return optimal_from_pairs(*_pairs_of(iou, min_iou))


def associate(
    track_boxes: np.ndarray,
    track_labels: np.ndarray,
    det_boxes: np.ndarray,
    det_labels: np.ndarray,
    *,
    min_iou: float = 0.3,
    method: str = "optimal",
    class_gating: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match xyxy track boxes to detections.

    Returns ``(matches (K, 2) [track, det], unmatched_tracks (U,), unmatched_dets (V,))``,
    all int64 indices into the given arrays, matches sorted by detection index.
    """
    if method not in ASSOCIATION_METHODS:
        raise ValueError(f"association method must be one of {ASSOCIATION_METHODS}, got {method!r}")
    if not 0 < min_iou <= 1:
        raise ValueError(f"association min_iou must be in (0, 1], got {min_iou}")
    n_tracks, n_dets = len(track_boxes), len(det_boxes)
    matches = np.zeros((0, 2), np.int64)
    if n_tracks and n_dets:
        pairs = candidate_pairs(
            track_boxes, track_labels, det_boxes, det_labels, min_iou=min_iou, class_gating=class_gating
        )
        matcher = optimal_from_pairs if method == "optimal" else greedy_from_pairs
        matches = matcher(*pairs)
        matches = matches[np.argsort(matches[:, 1], kind="stable")]
    track_free = np.ones(n_tracks, bool)
    det_free = np.ones(n_dets, bool)
    track_free[matches[:, 0]] = False
    det_free[matches[:, 1]] = False
    return matches, np.nonzero(track_free)[0], np.nonzero(det_free)[0]
