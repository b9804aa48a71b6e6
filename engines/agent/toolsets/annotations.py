"""The viewer toolset's annotation tools: points, boxes and lines added to an annotation layer of the view.

Kept apart from ``viewer.py`` so each module stays short enough to read; they edit the same
``ViewerSession`` and are registered in the same toolset, in the same place.
"""

from __future__ import annotations

from engines.agent.tools import Toolset
from engines.ngstate import add_box, add_line, add_point
from engines.ngstate.errors import NgStateError
from engines.ngstate.session import ViewerSession

__all__ = ["add_annotation_tools"]


def add_annotation_tools(tools: Toolset, session: ViewerSession) -> None:
    """Register ``annotate_point`` and ``annotate_box_or_line`` on ``tools``, editing ``session``."""

    @tools.tool(mutates=True, commands=["add [a] point [at] {point:numbers}", "mark {point:numbers}"])
    def annotate_point(point: list[float], description: str | None = None, layer: str = "annotations") -> str:
        """Add a point annotation (in the state's dimension order) to an annotation layer (created if needed).

        Args:
            point: coordinates in the order of the state's dimensions
            description: a note shown with the annotation
            layer: the annotation layer's name
        """
        session.update(lambda s: add_point(s, list(point), layer=layer, description=description), "point")
        return f"Added a point at {point} to '{layer}'."

    @tools.tool(
        mutates=True,
        commands=[
            "add [a] box from {corner_a:numbers} to {corner_b:numbers}",
            "add [a] line from {start:numbers} to {end:numbers}",
        ],
    )
    def annotate_box_or_line(
        corner_a: list[float] | None = None,
        corner_b: list[float] | None = None,
        start: list[float] | None = None,
        end: list[float] | None = None,
        description: str | None = None,
        layer: str = "annotations",
    ) -> str:
        """Add a box (two opposite corners) or a line (start and end) annotation.

        Args:
            corner_a: one corner of a box
            corner_b: the opposite corner
            start: start of a line
            end: end of a line
            description: a note shown with the annotation
            layer: the annotation layer's name
        """
        if corner_a and corner_b:
            session.update(
                lambda s: add_box(s, corner_a, corner_b, layer=layer, description=description), "box"
            )
            return f"Added a box from {corner_a} to {corner_b} to '{layer}'."
        if start and end:
            session.update(lambda s: add_line(s, start, end, layer=layer, description=description), "line")
            return f"Added a line from {start} to {end} to '{layer}'."
        raise NgStateError("A box needs corner_a and corner_b; a line needs start and end.")
