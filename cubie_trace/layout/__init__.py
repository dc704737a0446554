"""The layout pass: liveness, locations, storage sharing, offsets, verification, plots."""

from cubie_trace.layout.layout import Layout, LayoutError, Placement
from cubie_trace.layout.plan import plan

__all__ = ["Layout", "LayoutError", "Placement", "plan"]
