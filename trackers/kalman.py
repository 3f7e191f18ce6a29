"""Constant-velocity Kalman filter for boxes, vectorised over all tracks.

State per track (8,): ``[cx, cy, w, h, vcx, vcy, vw, vh]`` in pixels and pixels per SECOND;
covariance (8, 8). All functions take stacks ``mean (T, 8)``, ``cov (T, 8, 8)`` and return new
arrays (inputs are never modified), so a caller can forecast from a copy without side effects.

Why centre/size rather than xyxy: the centre moves with the object while the size changes only
with distance, so the two get separate, physically meaningful noise levels (``accel_std`` and
``size_accel_std``), and a box can never turn inside out through opposite corner velocities.
Width and height (rather than DeepSORT's aspect ratio) keep every axis linear, in pixels.

Noise is relative to box size, so a 20 px pedestrian and a 600 px bus behave the same once the
scene is scaled: x-axis quantities (cx, w) scale with the box width, y-axis ones (cy, h) with
its height (never below ``min_scale_px``, so a 0-size box cannot make the covariance singular).

- Measurement noise: std ``measurement_std * size`` px on each of cx, cy, w, h, using the size
  of the measured box.
- Process noise: continuous white-noise acceleration. An axis with spectral density
  ``q = (a * size)^2`` (``a`` = ``accel_std`` for the centre's x, ``vertical_accel_std`` for
  its y, ``size_accel_std`` for w, h, in
  box sizes per s^2 per sqrt(Hz); size from the predicted state) adds over ``dt`` seconds
  ``q * [[dt^3/3, dt^2/2], [dt^2/2, dt]]`` to its (position, velocity) block. Loosely: after
  1 s without measurements the velocity std has grown by ``a`` box sizes per second.
- Track start: one box gives position only (velocity 0 with a wide prior); a second box
  ``dt`` seconds later gives the two-point (diffuse prior) estimate: position = latest box,
  velocity = difference / dt. That is the limit of the filter with an infinitely wide velocity
  prior, so a constant-velocity object is forecast exactly after two boxes, at any frame rate.
"""
from __future__ import annotations

import numpy as np

_AXES = np.arange(4)
# Process-noise entries: (pos, pos), (pos, vel), (vel, pos), (vel, vel) of each of the 4 axes.
_Q_ROWS = np.concatenate([_AXES, _AXES, _AXES + 4, _AXES + 4])
_Q_COLS = np.concatenate([_AXES, _AXES + 4, _AXES, _AXES + 4])


class BoxKalmanFilter:
    """Vectorised constant-velocity Kalman filter on ``[cx, cy, w, h]`` with velocities.

    measurement_std: measurement noise std as a fraction of box size (0.05 = 5 % of w or h).
    accel_std: horizontal centre acceleration noise, box sizes / s^2 / sqrt(Hz) (module docstring).
    vertical_accel_std: the same for the vertical centre; None = ``accel_std``. A car camera's
        pitch shakes every box up and down by a few pixels at a few Hz, faster than latency lets
        us follow; a small value makes the filter keep the long-run vertical velocity (the
        object's own motion) instead of chasing the latest bounce.
    size_accel_std: the same for width and height.
    init_velocity_std: velocity prior std (box sizes per s) of a track seen once; it only sets
        the covariance of such tracks, their velocity is replaced by the two-point estimate.
    min_scale_px: floor on the box size used to scale noise, in pixels.
    """

    def __init__(
        self,
        *,
        measurement_std: float = 0.05,
        accel_std: float = 1.0,
        size_accel_std: float = 0.5,
        vertical_accel_std: float | None = None,
        init_velocity_std: float = 10.0,
        min_scale_px: float = 1.0,
    ) -> None:
        for name, value in (("measurement_std", measurement_std), ("min_scale_px", min_scale_px),
                            ("init_velocity_std", init_velocity_std)):
            if not value > 0:
                raise ValueError(f"BoxKalmanFilter: {name} must be > 0, got {value}")
        vertical_accel_std = accel_std if vertical_accel_std is None else vertical_accel_std
        for name, value in (("accel_std", accel_std), ("size_accel_std", size_accel_std),
                            ("vertical_accel_std", vertical_accel_std)):
            if not value >= 0:
                raise ValueError(f"BoxKalmanFilter: {name} must be >= 0, got {value}")
        self.measurement_std = float(measurement_std)
        self.accel_std = float(accel_std)
        self.size_accel_std = float(size_accel_std)
        self.vertical_accel_std = float(vertical_accel_std)
        self.init_velocity_std = float(init_velocity_std)
        self.min_scale_px = float(min_scale_px)
        self._accel = np.array([accel_std, vertical_accel_std, size_accel_std, size_accel_std], np.float64)

    # -- helpers -----------------------------------------------------------------------------
    def _scale(self, cxcywh: np.ndarray) -> np.ndarray:
        """(T, 4) per-axis noise scale in px: [w, h, w, h] of the given boxes, floored."""
        wh = np.maximum(cxcywh[:, 2:4], self.min_scale_px)
        return np.concatenate([wh, wh], axis=1)

    def measurement_var(self, z: np.ndarray) -> np.ndarray:
        """(T, 4) measurement variances of boxes ``z`` (T, 4) cxcywh."""
        return (self.measurement_std * self._scale(z)) ** 2

    # -- track start -------------------------------------------------------------------------
    def initiate(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tracks from one measurement each: ``z`` (T, 4) cxcywh -> mean (T, 8), cov (T, 8, 8)."""
        z = np.asarray(z, np.float64).reshape(-1, 4)
        mean = np.zeros((len(z), 8), np.float64)
        mean[:, :4] = z
        cov = np.zeros((len(z), 8, 8), np.float64)
        cov[:, _AXES, _AXES] = self.measurement_var(z)
        cov[:, _AXES + 4, _AXES + 4] = (self.init_velocity_std * self._scale(z)) ** 2
        return mean, cov

    def initiate_two_point(
        self, z_first: np.ndarray, z_second: np.ndarray, dt: np.ndarray | float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Tracks from two measurements ``dt`` seconds apart (dt > 0), state at the second."""
        z1 = np.asarray(z_first, np.float64).reshape(-1, 4)
        z2 = np.asarray(z_second, np.float64).reshape(-1, 4)
        dt = np.broadcast_to(np.asarray(dt, np.float64), (len(z2),))
        if not (dt > 0).all():
            raise ValueError("BoxKalmanFilter.initiate_two_point: dt must be > 0 seconds")
        d = dt[:, None]
        mean = np.concatenate([z2, (z2 - z1) / d], axis=1)
        r1, r2 = self.measurement_var(z1), self.measurement_var(z2)
        q = (self._accel * self._scale(z2)) ** 2
        cov = np.zeros((len(z2), 8, 8), np.float64)
        cov[:, _AXES, _AXES] = r2
        cov[:, _AXES, _AXES + 4] = r2 / d
        cov[:, _AXES + 4, _AXES] = r2 / d
        # Difference of two noisy positions, plus the velocity drift accrued between them.
        cov[:, _AXES + 4, _AXES + 4] = (r1 + r2) / d**2 + q * d / 3
        return mean, cov

    # -- predict / update --------------------------------------------------------------------
    @staticmethod
    def predict_mean(mean: np.ndarray, dt: np.ndarray | float) -> np.ndarray:
        """Mean only, ``dt`` seconds ahead (may be negative); a new (T, 8) array."""
        mean = np.asarray(mean, np.float64).reshape(-1, 8)
        dt = np.broadcast_to(np.asarray(dt, np.float64), (len(mean),))
        out = mean.copy()
        out[:, :4] += dt[:, None] * mean[:, 4:]
        return out

    def predict(
        self, mean: np.ndarray, cov: np.ndarray, dt: np.ndarray | float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Advance every track by ``dt`` seconds (scalar or (T,), >= 0); returns new arrays."""
        mean = np.asarray(mean, np.float64).reshape(-1, 8)
        cov = np.asarray(cov, np.float64).reshape(-1, 8, 8)
        dt_in = np.asarray(dt, np.float64)
        dt = np.broadcast_to(dt_in, (len(mean),))
        if not (dt >= 0).all():
            raise ValueError("BoxKalmanFilter.predict: dt must be >= 0 seconds")
        # F = [[I, dt I], [0, I]]; one shared F when all tracks advance alike (the usual case).
        if dt_in.ndim == 0:
            f = np.eye(8)
            f[_AXES, _AXES + 4] = float(dt_in)
            new_cov = f @ cov @ f.T
        else:
            f = np.tile(np.eye(8), (len(mean), 1, 1))
            f[:, _AXES, _AXES + 4] = dt[:, None]
            new_cov = f @ cov @ f.transpose(0, 2, 1)
        # Q: per axis q * [[dt^3/3, dt^2/2], [dt^2/2, dt]], written into all 16 places at once.
        q = np.tile((self._accel * self._scale(mean[:, :4])) ** 2, 4)  # (T, 16)
        t = dt[:, None]
        q *= np.repeat(np.concatenate([t**3 / 3, t**2 / 2, t**2 / 2, t], axis=1), 4, axis=1)
        new_cov[:, _Q_ROWS, _Q_COLS] += q
        return self.predict_mean(mean, dt), new_cov

    def update(
        self, mean: np.ndarray, cov: np.ndarray, z: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Correct each track with its measurement ``z`` (T, 4) cxcywh; returns new arrays."""
        mean = np.asarray(mean, np.float64).reshape(-1, 8)
        cov = np.asarray(cov, np.float64).reshape(-1, 8, 8)
        z = np.asarray(z, np.float64).reshape(-1, 4)
        if len(z) != len(mean):
            raise ValueError(f"BoxKalmanFilter.update: {len(mean)} tracks but {len(z)} measurements")
        if len(z) == 0:
            return mean.copy(), cov.copy()
        # H = [I 0]: P H^T is the first four columns, S the top-left block plus R.
        pht = cov[:, :, :4]
        s = cov[:, :4, :4].copy()
        s[:, _AXES, _AXES] += self.measurement_var(z)
        # This filter never couples axes (F, Q, R, H and the track starts are all per axis), so S
        # is diagonal and inverts elementwise; a covariance from elsewhere takes the general path.
        s_diag = s[:, _AXES, _AXES]
        if np.count_nonzero(s) == np.count_nonzero(s_diag):
            gain = pht / s_diag[:, None, :]  # (T, 8, 4)
        else:
            gain = pht @ np.linalg.inv(s)
        innovation = z - mean[:, :4]
        new_mean = mean + (gain @ innovation[:, :, None])[:, :, 0]
        new_cov = cov - gain @ pht.transpose(0, 2, 1)
        new_cov = 0.5 * (new_cov + new_cov.transpose(0, 2, 1))
        return new_mean, new_cov
