"""IoU association: optimal vs greedy, class gating, thresholds, brute-force optimality."""
import itertools

import numpy as np
import pytest

from trackers.association import associate, candidate_pairs, gated_iou, match_greedy, match_optimal


def _total(iou, matches):
    return float(iou[matches[:, 0], matches[:, 1]].sum()) if len(matches) else 0.0


def test_greedy_is_suboptimal_on_handmade_matrix():
    # Greedy grabs A-X (0.9) and leaves B with nothing feasible; optimal pairs A-Y, B-X (1.5).
    iou = np.array([[0.9, 0.8], [0.7, 0.0]])
    greedy = match_greedy(iou, 0.3)
    optimal = match_optimal(iou, 0.3)
    assert sorted(map(tuple, greedy.tolist())) == [(0, 0)]
    assert sorted(map(tuple, optimal.tolist())) == [(0, 1), (1, 0)]


def test_greedy_vs_optimal_on_boxes():
    # Track A sits between detections X and Y; track B only overlaps X.
    tracks = np.array([[10, 0, 20, 10], [6, 0, 16, 10]], np.float32)
    dets = np.array([[9, 0, 19, 10], [12, 0, 22, 10]], np.float32)
    labels = np.zeros(2, np.int64)
    iou = gated_iou(tracks, labels, dets, labels)
    assert iou[0, 0] > iou[0, 1] > 0.3 and iou[1, 0] > 0.3 and iou[1, 1] < 0.3
    m_g, ut_g, ud_g = associate(tracks, labels, dets, labels, min_iou=0.3, method="greedy")
    m_o, ut_o, ud_o = associate(tracks, labels, dets, labels, min_iou=0.3, method="optimal")
    assert m_g.tolist() == [[0, 0]] and ut_g.tolist() == [1] and ud_g.tolist() == [1]
    assert m_o.tolist() == [[1, 0], [0, 1]] and len(ut_o) == 0 and len(ud_o) == 0


def test_class_gating_prevents_cross_class_matches():
    box = np.array([[0, 0, 10, 10]], np.float32)
    m, ut, ud = associate(box, np.array([1]), box, np.array([2]))
    assert len(m) == 0 and ut.tolist() == [0] and ud.tolist() == [0]
    m, _, _ = associate(box, np.array([1]), box, np.array([2]), class_gating=False)
    assert m.tolist() == [[0, 0]]
    # With gating, the same-class detection wins even when a cross-class one overlaps more.
    dets = np.array([[0, 0, 10, 10], [1, 0, 11, 10]], np.float32)
    m, _, _ = associate(box, np.array([3]), dets, np.array([0, 3]))
    assert m.tolist() == [[0, 1]]


def test_min_iou_threshold():
    tracks = np.array([[0, 0, 10, 10]], np.float32)
    dets = np.array([[5, 0, 15, 10]], np.float32)  # IoU = 1/3
    labels = np.zeros(1, np.int64)
    for method in ("optimal", "greedy"):
        assert len(associate(tracks, labels, dets, labels, min_iou=0.3, method=method)[0]) == 1
        assert len(associate(tracks, labels, dets, labels, min_iou=0.34, method=method)[0]) == 0


def _brute_force_best(iou, min_iou):
    n, m = iou.shape
    value = np.where(iou >= min_iou, iou, 0.0)
    best = 0.0
    if n <= m:
        for perm in itertools.permutations(range(m), n):
            best = max(best, sum(value[i, j] for i, j in enumerate(perm)))
    else:
        for perm in itertools.permutations(range(n), m):
            best = max(best, sum(value[i, j] for j, i in enumerate(perm)))
    return best


@pytest.mark.parametrize("seed", range(12))
def test_optimal_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, m = rng.integers(1, 6, 2)
    iou = rng.uniform(0, 1, (n, m)) * (rng.uniform(size=(n, m)) < 0.5)
    matches = match_optimal(iou, 0.3)
    assert len(set(matches[:, 0])) == len(matches) == len(set(matches[:, 1]))
    assert np.all(iou[matches[:, 0], matches[:, 1]] >= 0.3)
    assert _total(iou, matches) == pytest.approx(_brute_force_best(iou, 0.3))
    assert _total(iou, match_greedy(iou, 0.3)) <= _total(iou, matches) + 1e-12


def test_isolated_pairs_fast_path_mixed_with_solver():
    # Rows 0,1 isolated; rows 2,3 compete for columns 2,3 (optimal is the anti-diagonal).
    iou = np.zeros((4, 4))
    iou[0, 0] = 0.9
    iou[1, 1] = 0.5
    iou[2, 2], iou[2, 3], iou[3, 2] = 0.9, 0.8, 0.7
    got = sorted(map(tuple, match_optimal(iou, 0.3).tolist()))
    assert got == [(0, 0), (1, 1), (2, 3), (3, 2)]


def test_empty_inputs():
    none = np.zeros((0, 4), np.float32)
    some = np.array([[0, 0, 5, 5]], np.float32)
    m, ut, ud = associate(none, np.zeros(0), some, np.zeros(1))
    assert m.shape == (0, 2) and len(ut) == 0 and ud.tolist() == [0]
    m, ut, ud = associate(some, np.zeros(1), none, np.zeros(0))
    assert m.shape == (0, 2) and ut.tolist() == [0] and len(ud) == 0


def test_bad_arguments():
    box = np.zeros((1, 4), np.float32)
    with pytest.raises(ValueError, match="association method"):
        associate(box, np.zeros(1), box, np.zeros(1), method="hungarian")
    with pytest.raises(ValueError, match="min_iou"):
        associate(box, np.zeros(1), box, np.zeros(1), min_iou=0.0)


@pytest.mark.parametrize("class_gating", [True, False])
def test_run_blocking_finds_the_same_pairs_as_dense(class_gating):
    rng = np.random.default_rng(5)

    def boxes(n):
        xy = rng.uniform(0, 1500, (n, 2))
        return np.concatenate([xy, xy + rng.uniform(10, 300, (n, 2))], axis=1)

    tb, db = boxes(300), boxes(250)
    tl, dl = rng.integers(0, 3, 300), rng.integers(0, 3, 250)
    assert 300 * 250 > 4096  # large enough for the blocked path
    rows, cols, vals = candidate_pairs(tb, tl, db, dl, min_iou=0.1, class_gating=class_gating)
    dense = gated_iou(tb, tl, db, dl, class_gating=class_gating)
    r, c = np.nonzero(dense >= 0.1)
    assert len(r) > 50
    assert sorted(zip(rows.tolist(), cols.tolist())) == sorted(zip(r.tolist(), c.tolist()))
    np.testing.assert_array_equal(vals, dense[rows, cols])
    for method in ("optimal", "greedy"):
        m = associate(tb, tl, db, dl, min_iou=0.1, method=method, class_gating=class_gating)[0]
        ref = (match_optimal if method == "optimal" else match_greedy)(dense, 0.1)
        assert _total(dense, m) == pytest.approx(_total(dense, ref))
