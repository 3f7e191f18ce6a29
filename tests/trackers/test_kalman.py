"""BoxKalmanFilter: vectorised maths against explicit per-track matrices, scaling, two-point start."""
import numpy as np
import pytest

from trackers.kalman import BoxKalmanFilter


def _random_state(rng, n):
    kf = BoxKalmanFilter()
    z = np.column_stack([rng.uniform(0, 1000, n), rng.uniform(0, 600, n),
                         rng.uniform(5, 300, n), rng.uniform(5, 300, n)])
    mean, cov = kf.initiate(z)
    mean[:, 4:] = rng.normal(0, 50, (n, 4))
    a = rng.normal(0, 1, (n, 8, 8))
    cov = cov + a @ a.transpose(0, 2, 1)  # generic SPD covariance with cross terms
    return mean, cov


def _reference_predict(kf, mean, cov, dt):
    """One track at a time with explicit F and Q."""
    out_m, out_p = [], []
    for m, p, d in zip(mean, cov, dt):
        f = np.eye(8)
        f[:4, 4:] = d * np.eye(4)
        scale = np.maximum(np.array([m[2], m[3], m[2], m[3]]), kf.min_scale_px)
        accel = np.array([kf.accel_std, kf.accel_std, kf.size_accel_std, kf.size_accel_std])
        q = np.zeros((8, 8))
        for k in range(4):
            s = (accel[k] * scale[k]) ** 2
            q[np.ix_([k, k + 4], [k, k + 4])] = s * np.array([[d**3 / 3, d**2 / 2], [d**2 / 2, d]])
        out_m.append(f @ m)
        out_p.append(f @ p @ f.T + q)
    return np.array(out_m), np.array(out_p)


def _reference_update(kf, mean, cov, z):
    h = np.hstack([np.eye(4), np.zeros((4, 4))])
    out_m, out_p = [], []
    for m, p, zz in zip(mean, cov, z):
        r = np.diag((kf.measurement_std * np.maximum([zz[2], zz[3], zz[2], zz[3]], kf.min_scale_px)) ** 2)
        s = h @ p @ h.T + r
        k = p @ h.T @ np.linalg.inv(s)
        out_m.append(m + k @ (zz - h @ m))
        out_p.append((np.eye(8) - k @ h) @ p)
    return np.array(out_m), np.array(out_p)


def test_predict_matches_explicit_matrices_with_per_track_dt():
    rng = np.random.default_rng(0)
    kf = BoxKalmanFilter(accel_std=1.3, size_accel_std=0.4)
    mean, cov = _random_state(rng, 7)
    dt = np.array([0.0, 1 / 30, 0.1, 0.37, 1.0, 2.5, 0.05])
    got_m, got_p = kf.predict(mean, cov, dt)
    ref_m, ref_p = _reference_predict(kf, mean, cov, dt)
    np.testing.assert_allclose(got_m, ref_m, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(got_p, ref_p, rtol=1e-10, atol=1e-7)


def test_update_matches_explicit_kalman_gain():
    rng = np.random.default_rng(1)
    kf = BoxKalmanFilter()
    mean, cov = _random_state(rng, 6)
    z = mean[:, :4] + rng.normal(0, 3, (6, 4))
    got_m, got_p = kf.update(mean, cov, z)
    ref_m, ref_p = _reference_update(kf, mean, cov, z)
    np.testing.assert_allclose(got_m, ref_m, rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(got_p, 0.5 * (ref_p + ref_p.transpose(0, 2, 1)), rtol=1e-8, atol=1e-6)


def test_inputs_are_not_modified():
    rng = np.random.default_rng(2)
    kf = BoxKalmanFilter()
    mean, cov = _random_state(rng, 4)
    m0, c0 = mean.copy(), cov.copy()
    kf.predict(mean, cov, 0.2)
    kf.update(mean, cov, mean[:, :4] + 1)
    kf.predict_mean(mean, 0.5)
    np.testing.assert_array_equal(mean, m0)
    np.testing.assert_array_equal(cov, c0)


def test_noise_scales_with_box_size():
    """The same scene scaled by k gives means scaled by k and covariances by k^2."""
    kf = BoxKalmanFilter()
    rng = np.random.default_rng(3)
    z_seq = np.cumsum(rng.normal(0, 2, (6, 2, 4)), axis=0) + np.array([300, 200, 40, 80])

    def run(k):
        mean, cov = kf.initiate_two_point(k * z_seq[0], k * z_seq[1], 0.1)
        for z in z_seq[2:]:
            mean, cov = kf.predict(mean, cov, 0.1)
            mean, cov = kf.update(mean, cov, k * z)
        return mean, cov

    m1, c1 = run(1.0)
    m7, c7 = run(7.0)
    np.testing.assert_allclose(m7, 7 * m1, rtol=1e-9)
    np.testing.assert_allclose(c7, 49 * c1, rtol=1e-9)


def test_two_point_start_is_exact_velocity():
    kf = BoxKalmanFilter()
    z1 = np.array([[100.0, 50.0, 30.0, 60.0]])
    v = np.array([[120.0, -40.0, 3.0, 6.0]])
    mean, cov = kf.initiate_two_point(z1, z1 + 0.37 * v, 0.37)
    np.testing.assert_allclose(mean[0, 4:], v[0])
    np.testing.assert_allclose(mean[0, :4], (z1 + 0.37 * v)[0])
    assert np.all(np.linalg.eigvalsh(cov) > 0)


def test_covariance_stays_symmetric_positive_definite():
    kf = BoxKalmanFilter()
    rng = np.random.default_rng(4)
    mean, cov = kf.initiate(np.array([[500.0, 300.0, 50.0, 100.0]] * 5))
    for _ in range(300):
        mean, cov = kf.predict(mean, cov, rng.uniform(0, 0.5, 5))
        mean, cov = kf.update(mean, cov, mean[:, :4] + rng.normal(0, 2, (5, 4)))
    np.testing.assert_allclose(cov, cov.transpose(0, 2, 1))
    assert np.all(np.linalg.eigvalsh(cov) > 0)


def test_bad_arguments_are_rejected():
    kf = BoxKalmanFilter()
    mean, cov = kf.initiate(np.array([[1.0, 2.0, 3.0, 4.0]]))
    with pytest.raises(ValueError, match="dt must be >= 0"):
        kf.predict(mean, cov, -0.1)
    with pytest.raises(ValueError, match="dt must be > 0"):
        kf.initiate_two_point(mean[:, :4], mean[:, :4], 0.0)
    with pytest.raises(ValueError, match="measurement_std"):
        BoxKalmanFilter(measurement_std=0.0)
    with pytest.raises(ValueError, match="tracks but"):
        kf.update(mean, cov, np.zeros((2, 4)))


def test_filter_generated_covariances_match_reference():
    """The per-axis (diagonal S) fast path agrees with the explicit matrices."""
    kf = BoxKalmanFilter()
    rng = np.random.default_rng(5)
    z0 = np.column_stack([rng.uniform(0, 900, 5), rng.uniform(0, 500, 5), rng.uniform(5, 200, (5, 2))])
    mean, cov = kf.initiate_two_point(z0, z0 + rng.normal(0, 5, (5, 4)), 0.1)
    for _ in range(5):
        dt = rng.uniform(0, 0.3, 5)
        ref_m, ref_p = _reference_predict(kf, mean, cov, dt)
        mean, cov = kf.predict(mean, cov, dt)
        np.testing.assert_allclose(cov, ref_p, rtol=1e-10, atol=1e-8)
        z = mean[:, :4] + rng.normal(0, 2, (5, 4))
        ref_m, ref_p = _reference_update(kf, mean, cov, z)
        mean, cov = kf.update(mean, cov, z)
        np.testing.assert_allclose(mean, ref_m, rtol=1e-9, atol=1e-8)
        np.testing.assert_allclose(cov, 0.5 * (ref_p + ref_p.transpose(0, 2, 1)), rtol=1e-8, atol=1e-6)
