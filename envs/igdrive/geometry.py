"""Oriented boxes: corners, pairwise overlap (separating axes), and signed distance of
points to directed polylines (road edges).

Boxes are (x, y, yaw, length, width), length along the heading. Arrays carry any
leading shape; nothing loops in Python.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

# Corners in the box frame as multiples of (length / 2, width / 2), anticlockwise
# from front-left.
_CORNER_SIGNS = jnp.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])


def box_corners(
    x: jax.Array, y: jax.Array, yaw: jax.Array, length: jax.Array, width: jax.Array
) -> jax.Array:
    """(..., 4, 2) corners of oriented boxes, anticlockwise from front-left."""
    half = jnp.stack([length, width], axis=-1)[..., None, :] * 0.5 * _CORNER_SIGNS
    cos, sin = jnp.cos(yaw)[..., None], jnp.sin(yaw)[..., None]
    cx = x[..., None] + cos * half[..., 0] - sin * half[..., 1]
    cy = y[..., None] + sin * half[..., 0] + cos * half[..., 1]
    return jnp.stack([cx, cy], axis=-1)


def _box_axes(yaw: jax.Array) -> jax.Array:
    """(..., 2, 2): each box's heading and its normal, as unit vectors."""
    cos, sin = jnp.cos(yaw), jnp.sin(yaw)
    return jnp.stack([jnp.stack([cos, sin], -1), jnp.stack([-sin, cos], -1)], axis=-2)


def boxes_overlap(corners_a: jax.Array, corners_b: jax.Array, yaw_a, yaw_b) -> jax.Array:
    """Whether two sets of boxes intersect (separating axis theorem), shape (...).

    Args:
        corners_a, corners_b: (..., 4, 2) from `box_corners` (broadcastable).
        yaw_a, yaw_b: (...) their headings (the candidate separating axes).

    Touching boxes (a shared edge or corner, zero-area intersection) do not overlap.
    """
    axes_a, axes_b = jnp.broadcast_arrays(_box_axes(yaw_a), _box_axes(yaw_b))
    axes = jnp.concatenate([axes_a, axes_b], axis=-2)  # (..., 4, 2)
    proj_a = jnp.einsum("...cd,...kd->...kc", corners_a, axes)  # (..., 4 axes, 4 corners)
    proj_b = jnp.einsum("...cd,...kd->...kc", corners_b, axes)
    gap = jnp.maximum(proj_a.min(-1) - proj_b.max(-1), proj_b.min(-1) - proj_a.max(-1))
    return jnp.all(gap < -1e-6, axis=-1)


def pairwise_overlap(
    x: jax.Array, y: jax.Array, yaw: jax.Array, length: jax.Array, width: jax.Array
) -> jax.Array:
    """(..., N, N) whether box i and box j intersect (False on the diagonal)."""
    corners = box_corners(x, y, yaw, length, width)  # (..., N, 4, 2)
    rows, cols = corners[..., :, None, :, :], corners[..., None, :, :, :]
    overlap = boxes_overlap(rows, cols, yaw[..., :, None], yaw[..., None, :])
    n = x.shape[-1]
    return overlap & ~jnp.eye(n, dtype=bool)


def signed_distance_to_polylines(
    points: jax.Array, line_xy: jax.Array, line_dir: jax.Array, valid: jax.Array
) -> jax.Array:
    """Signed distance (...,) from each point to the nearest valid polyline point.

    The sign says on which side of the nearest point's direction the query lies:
    positive on its right, negative on its left. Road edges in IGDrivSim are
    directed with the road on their left, so a positive distance is off the road.

    Args:
        points: (..., P, 2) query points.
        line_xy: (..., M, 2) polyline points; line_dir: (..., M, 2) unit directions.
        valid: (..., M) which polyline points count.
    """
    gap = points[..., :, None, :] - line_xy[..., None, :, :]  # (..., P, M, 2)
    squared = jnp.where(valid[..., None, :], jnp.sum(gap * gap, axis=-1), jnp.inf)
    nearest = jnp.argmin(squared, axis=-1)[..., None]  # (..., P, 1)
    delta = points - jnp.take_along_axis(line_xy, nearest, axis=-2)
    direction = jnp.take_along_axis(line_dir, nearest, axis=-2)
    distance = jnp.linalg.norm(delta, axis=-1)
    cross = direction[..., 0] * delta[..., 1] - direction[..., 1] * delta[..., 0]
    return jnp.where(cross > 0, -distance, distance)
