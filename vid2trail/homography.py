"""Homographies of the turning sky: robust fits, powers, the pole and the turn, and the rotation
model of a camera on a tripod fitted to tracked stars (:mod:`vid2trail.sky` uses them)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np


def fit_homography(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """A robust homography from ``src`` to ``dst`` points (RANSAC, 1.5 px), refined by least
    squares on its inliers: ``(H, inlier mask)``, or None with fewer than 8 inliers."""
    if len(src) < 8:
        return None
    h, mask = cv2.findHomography(src.astype(np.float64), dst.astype(np.float64), cv2.RANSAC, 1.5)
    if h is None:
        return None
    inliers = mask.ravel().astype(bool)
    if inliers.sum() < 8:
        return None
    refined, _ = cv2.findHomography(src[inliers], dst[inliers], 0)
    best = refined if refined is not None else h
    return best / best[2, 2], inliers


def apply(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``points`` (``N x 2``) moved by the homography ``h``.

    Examples
    --------
    >>> apply(np.array([[1, 0, 5], [0, 1, -2], [0, 0, 1.0]]), np.array([[1.0, 1.0]])).tolist()
    [[6.0, -1.0]]
    """
    if len(points) == 0:
        return points.reshape(0, 2)
    moved = cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float64), h)
    return moved.reshape(-1, 2)


def power(h: np.ndarray, s: float) -> np.ndarray:
    """``h`` to the real power ``s`` (the sky at a fraction of a step), scaled to determinant 1:
    ``exp(s log h)``, through the principal matrix logarithm.

    Unlike an eigendecomposition this holds for motions that are nearly translations (a camera
    aimed at the celestial equator, whose homography is nearly defective). The logarithm is
    taken in coordinates scaled to the size of the points ``h`` moves (``scale`` pixels), where
    ``h`` is near the identity.

    Examples
    --------
    >>> turn = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])  # 90 degrees about the origin
    >>> np.round(power(turn, 0.5) @ power(turn, 0.5), 9).tolist() == turn.tolist()
    True
    >>> np.round(power(np.array([[1.0, 0, 4], [0, 1, 0], [0, 0, 1]]), 0.25), 9)[0].tolist()
    [1.0, 0.0, 1.0]
    """
    return Powers(h)(s)


class Powers:
    """The real powers of one homography ``h`` (see :func:`power`), its logarithm taken once.

    Examples
    --------
    >>> third = Powers(np.array([[1.0, 0, 3], [0, 1, 0], [0, 0, 1]]))(1 / 3)
    >>> np.round(third, 9)[0].tolist()
    [1.0, 0.0, 1.0]
    """

    def __init__(self, h: np.ndarray) -> None:
        moves = float(np.abs(h[:2, 2]).max())
        tilt = float(np.abs(h[2, :2]).max())
        scale = min(1e4, max(1.0, moves, 1.0 / max(1e-12, tilt)))
        self._shrink = np.diag([1.0 / scale, 1.0 / scale, 1.0])
        self._grow = np.diag([scale, scale, 1.0])
        m = self._shrink @ h @ self._grow
        self._log = _logm(m / np.cbrt(np.linalg.det(m)))

    def __call__(self, s: float) -> np.ndarray:
        """``h`` to the power ``s``."""
        if s == 0:
            return np.eye(3)
        return self._grow @ _expm(s * self._log) @ self._shrink


def _logm(a: np.ndarray) -> np.ndarray:
    """The principal logarithm of a 3x3 matrix near enough the identity: inverse scaling and
    squaring (square roots by Denman-Beavers, then the series of log(I + X))."""
    eye = np.eye(3)
    roots = 0
    while np.linalg.norm(a - eye, 2) > 0.2 and roots < 50:
        y, z = a, eye
        for _ in range(60):
            y, z = 0.5 * (y + np.linalg.inv(z)), 0.5 * (z + np.linalg.inv(y))
            if np.linalg.norm(y @ y - a, 1) <= 1e-14 * np.linalg.norm(a, 1):
                break
        a, roots = y, roots + 1
    x = a - eye
    term, log = eye, np.zeros((3, 3))
    for k in range(1, 40):
        term = term @ x
        log += ((-1) ** (k + 1) / k) * term
    return log * 2.0**roots


def _expm(a: np.ndarray) -> np.ndarray:
    """The matrix exponential of a 3x3 matrix: scaling and squaring of its Taylor series."""
    norm = float(np.linalg.norm(a, 1))
    halvings = max(0, math.ceil(math.log2(norm)) + 1) if norm > 0.5 else 0
    small = a / 2.0**halvings
    term, out = np.eye(3), np.eye(3)
    for k in range(1, 20):
        term = term @ small / k
        out += term
    for _ in range(halvings):
        out = out @ out
    return out


def normalized(h: np.ndarray) -> np.ndarray:
    """``h`` divided by its real eigenvalue (the one nearest the real axis), so a pure turn has
    eigenvalues ``1, e^{+-i theta}``."""
    values = np.linalg.eigvals(h)
    real = values[np.argmin(np.abs(values.imag))].real
    return h / real


def turn_and_pole(h: np.ndarray) -> tuple[float, tuple[float, float] | None]:
    """The turn per step in degrees (the complex eigenvalues' angle) and the pole in image
    coordinates (the real eigenvalue's eigenvector; None at infinity).

    Examples
    --------
    >>> c, s = math.cos(0.01), math.sin(0.01)
    >>> about = np.array([[c, -s, 50 * (1 - c) + 40 * s], [s, c, 40 * (1 - c) - 50 * s], [0, 0, 1]])
    >>> degrees, pole = turn_and_pole(about)
    >>> round(degrees, 4), [round(v, 6) for v in pole]
    (0.573, [50.0, 40.0])
    """
    values, vectors = np.linalg.eig(normalized(h))
    real = int(np.argmin(np.abs(values.imag)))
    others = [v for i, v in enumerate(values) if i != real]
    degrees = float(np.degrees(np.max(np.abs(np.angle(others)))))
    axis = np.real(vectors[:, real])
    if abs(axis[2]) < 1e-12 * max(1.0, float(np.abs(axis[:2]).max())):
        return degrees, None
    return degrees, (float(axis[0] / axis[2]), float(axis[1] / axis[2]))


def step_error(a: np.ndarray, b: np.ndarray, width: int, height: int) -> float:
    """How far two homographies move the points of a grid over the frame apart (pixels, RMS)."""
    xs, ys = np.meshgrid(np.linspace(0, width - 1, 9), np.linspace(0, height - 1, 9))
    grid = np.column_stack([xs.ravel(), ys.ravel()])
    return float(np.sqrt(np.mean(np.sum((apply(a, grid) - apply(b, grid)) ** 2, axis=1))))


def rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """The rotation by ``angle`` radians about the unit vector ``axis`` (Rodrigues).

    Examples
    --------
    >>> np.round(rotation(np.array([0.0, 0, 1]), math.pi / 2), 9).tolist()
    [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    x, y, z = axis
    c, s, t = math.cos(angle), math.sin(angle), 1 - math.cos(angle)
    return np.array([[t * x * x + c, t * x * y - s * z, t * x * z + s * y],
                     [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
                     [t * x * z - s * y, t * y * z + s * x, t * z * z + c]])  # fmt: skip


@dataclass(frozen=True)
class Turn:
    """The sky's turn as a camera on a tripod sees it: ``H_k = K R(axis, k * angle) K^-1``,
    with the focal length ``focal`` (pixels), the principal point at the frame's centre, and the
    axis through the pole ``(u, v)`` of the image."""

    focal: float
    pole: tuple[float, float]
    angle: float
    centre: tuple[float, float]

    def camera(self) -> np.ndarray:
        return np.array([[self.focal, 0, self.centre[0]], [0, self.focal, self.centre[1]],
                         [0, 0, 1]])  # fmt: skip

    def homography(self, steps: float) -> np.ndarray:
        k = self.camera()
        axis = np.linalg.solve(k, np.array([*self.pole, 1.0]))
        h = k @ rotation(axis / np.linalg.norm(axis), self.angle * steps) @ np.linalg.inv(k)
        return h / h[2, 2]


def refine_turn(
    unit: np.ndarray, tracks: Sequence[tuple[int, np.ndarray, np.ndarray]], width: int, height: int
) -> Turn | None:
    """The rotation model fitted to every tracked star at once (Gauss-Newton on the focal
    length, the pole and the turn per step), starting from the homography ``unit``; None where
    the pole is at infinity or the model does not fit (a moving platform).

    The tracks are ``(k, positions in frame 0, positions in frame k)``. Four parameters instead of
    a homography's eight, fitted over every baseline, put the pole within a pixel where a
    homography's eigenvector wanders by several.
    """
    degrees, pole = turn_and_pole(unit)
    if pole is None or degrees <= 0 or not tracks:
        return None
    try:
        return _best_turn(unit, tracks, width, height, degrees, pole)
    except (np.linalg.LinAlgError, ValueError, OverflowError):  # a degenerate fit: keep H
        return None


def _best_turn(
    unit: np.ndarray,
    tracks: Sequence[tuple[int, np.ndarray, np.ndarray]],
    width: int,
    height: int,
    degrees: float,
    pole: tuple[float, float],
) -> Turn | None:
    centre = (width / 2, height / 2)
    # The focal length that makes K^-1 H K most nearly a rotation.
    normal = normalized(unit)
    focal = min(np.geomspace(0.2 * width, 50 * width, 240),
                key=lambda f: _non_rotation(normal, f, centre))  # fmt: skip
    best: Turn | None = None
    best_cost = math.inf
    for sign in (1, -1):
        guess = Turn(float(focal), pole, sign * math.radians(degrees), centre)
        fitted = _gauss_newton(guess, tracks)
        if fitted is not None and fitted[1] < best_cost:
            best, best_cost = fitted
    return best


def _non_rotation(h: np.ndarray, focal: float, centre: tuple[float, float]) -> float:
    k = np.array([[focal, 0, centre[0]], [0, focal, centre[1]], [0, 0, 1]])
    m = np.linalg.inv(k) @ h @ k
    m = m / np.cbrt(np.linalg.det(m))
    return float(np.linalg.norm(m @ m.T - np.eye(3)))


def _residuals(turn: Turn, tracks: Sequence[tuple[int, np.ndarray, np.ndarray]]) -> np.ndarray:
    return np.concatenate([(apply(turn.homography(k), a) - b).ravel() for k, a, b in tracks])


def _gauss_newton(
    turn: Turn, tracks: Sequence[tuple[int, np.ndarray, np.ndarray]]
) -> tuple[Turn, float] | None:
    """Minimise the tracks' squared errors over (log focal, u, v, angle)."""

    width = 2 * turn.centre[0]
    low, high = math.log(0.05 * width), math.log(1000 * width)  # from a fisheye to a telescope

    def make(p: np.ndarray) -> Turn:
        focal = math.exp(min(max(p[0], low), high))
        return Turn(focal, (float(p[1]), float(p[2])), float(p[3]), turn.centre)

    p = np.array([math.log(turn.focal), *turn.pole, turn.angle])
    cost = float(np.sum(_residuals(turn, tracks) ** 2))
    damping = 1e-3
    for _ in range(30):
        r = _residuals(make(p), tracks)
        steps = np.array([1e-6, 1e-3, 1e-3, 1e-8]) * np.maximum(1.0, np.abs(p))
        jacobian = np.column_stack([(_residuals(make(p + np.eye(4)[i] * steps[i]), tracks) - r)
                                    / steps[i] for i in range(4)])  # fmt: skip
        normal = jacobian.T @ jacobian
        move = np.linalg.solve(normal + damping * np.diag(np.diag(normal)), -jacobian.T @ r)
        trial = p + move
        trial_cost = float(np.sum(_residuals(make(trial), tracks) ** 2))
        if trial_cost < cost:
            p, cost, damping = trial, trial_cost, damping / 3
            if np.all(np.abs(move) < 1e-9 * np.maximum(1.0, np.abs(p))):
                break
        else:
            damping *= 10
            if damping > 1e6:
                break
    if not np.isfinite(cost):
        return None
    return make(p), cost
