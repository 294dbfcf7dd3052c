"""A road's reference line: straight and constant-curvature segments, closed form.

A road is a chain of K segments (length, curvature); lanes run parallel to the
reference line at a lateral offset (left positive). `pose_at(s, d)` gives the
position, heading and curvature at arc length `s` of the reference line and
offset `d`, for any shape of `s`, so that sampling map points and moving cars
along lanes are one vectorised call each.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

_STRAIGHT = 1e-6  # |curvature| below which a segment is treated as straight


@struct.dataclass
class ReferenceLine:
    """Fields (K,) for K segments, plus the start pose (scalars); stack and vmap for batches.

    Attributes:
        lengths: segment lengths (m).
        curvatures: segment curvatures (1/m, left turns positive).
        x0, y0, heading0: start pose of the first segment.
    """

    lengths: jax.Array
    curvatures: jax.Array
    x0: jax.Array
    y0: jax.Array
    heading0: jax.Array

    @property
    def total_length(self) -> jax.Array:
        return jnp.sum(self.lengths, axis=-1)

    def _segment_starts(self) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """(K,) arc length, x, y and heading where each segment starts."""
        s_start = jnp.cumsum(self.lengths, axis=-1) - self.lengths
        turn = self.curvatures * self.lengths
        heading = self.heading0 + jnp.cumsum(turn, axis=-1) - turn
        dx, dy = _arc_offset(self.lengths, self.curvatures, heading)
        x = self.x0 + jnp.cumsum(dx, axis=-1) - dx
        y = self.y0 + jnp.cumsum(dy, axis=-1) - dy
        return s_start, x, y, heading

    def pose_at(self, s: jax.Array, d: jax.Array | float = 0.0) -> dict[str, jax.Array]:
        """Pose at arc length `s` (any shape S, clipped to the line) and offset `d`
        (broadcastable to S), for one line (vmap for batches of lines).

        Returns arrays of shape S: x, y, heading, curvature (of the offset curve) and
        speed_factor (length of the offset curve per unit of reference length).
        """
        s_start, x_start, y_start, h_start = self._segment_starts()
        s = jnp.clip(jnp.asarray(s, jnp.float32), 0.0, self.total_length)
        last = self.curvatures.shape[-1] - 1
        index = jnp.clip(jnp.searchsorted(s_start, s, side="right") - 1, 0, last)
        ds = s - s_start[index]
        kappa = self.curvatures[index]
        dx, dy = _arc_offset(ds, kappa, h_start[index])
        h = h_start[index] + kappa * ds
        d = jnp.asarray(d, jnp.float32)
        return {
            "x": x_start[index] + dx - d * jnp.sin(h),
            "y": y_start[index] + dy + d * jnp.cos(h),
            "heading": h,
            "curvature": kappa / (1.0 - kappa * d),
            "speed_factor": 1.0 - kappa * d,
        }


def _arc_offset(
    length: jax.Array, curvature: jax.Array, heading: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Displacement after travelling `length` on an arc of `curvature` from `heading`."""
    straight = jnp.abs(curvature) < _STRAIGHT
    safe = jnp.where(straight, 1.0, curvature)
    end = heading + curvature * length
    arc_dx = (jnp.sin(end) - jnp.sin(heading)) / safe
    arc_dy = (jnp.cos(heading) - jnp.cos(end)) / safe
    return (
        jnp.where(straight, length * jnp.cos(heading), arc_dx),
        jnp.where(straight, length * jnp.sin(heading), arc_dy),
    )
