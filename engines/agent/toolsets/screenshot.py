"""The viewer toolset's ``screenshot`` tool: the picture the user's viewer shows, for the chat and the model.

The picture comes from the page's camera (the browser's own Neuroglancer client draws it); the
chat shows it, the model reads its statistics (``engines.agent.image_stats``), and a model that
reads images gets the picture too (the tool loop sends it). Without a camera (a script, a test,
no browser page) the tool says why instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from engines.agent.image_stats import NEUROGLANCER_BACKGROUNDS, Rgb, measure_image
from engines.agent.results import ImageArtifact, ToolResult
from engines.agent.tools import Toolset
from engines.ngstate import NgState
from engines.ngstate.errors import NgStateError
from engines.ngstate.session import ViewerSession

__all__ = ["add_screenshot_tool"]

Camera = Callable[[], bytes]
"""The picture the session's viewer shows now, as PNG bytes; raises ``NgStateError`` when it
cannot."""

_HEX_COLOUR = re.compile(r"^#([0-9a-fA-F]{2})([0-9a-fA-F]{2})([0-9a-fA-F]{2})$")


def _colour(text: object, default: Rgb) -> Rgb:
    found = _HEX_COLOUR.match(str(text))
    if found is None:
        return default
    red, green, blue = (int(part, 16) for part in found.groups())
    return red, green, blue


def _backgrounds(state: NgState) -> tuple[Rgb, Rgb]:
    """The state's cross-section and 3-D background colours (``#rrggbb``), Neuroglancer's defaults where
    unset: what counts as "nothing drawn" in its picture."""
    raw = state.to_dict()
    section, projection = NEUROGLANCER_BACKGROUNDS
    return (
        _colour(raw.get("crossSectionBackgroundColor"), section),
        _colour(raw.get("projectionBackgroundColor"), projection),
    )


def add_screenshot_tool(tools: Toolset, session: ViewerSession, camera: Camera | None) -> None:
    """Register ``screenshot`` in ``tools`` (the viewer toolset of ``session``)."""

    @tools.tool(
        commands=[
            "[take] [a] screenshot",
            "what do you see",
            "show me [the] view",
            "(look at|check) [the] view",
        ]
    )
    def screenshot() -> ToolResult:
        """A picture of what the viewer shows now, as the user sees it. Call it after changing the view to
        check the result (data loaded, the cell in frame, contrast readable). The result gives the picture's
        size, brightness, non-background share and a 3 x 3 grid of brightness by region."""
        if camera is None:
            raise NgStateError(
                "No viewer is drawn for this chat (it runs without a browser page), so there is nothing to "
                "take a picture of; 'describe the view' says what the state shows."
            )
        data = camera()
        stats = measure_image(data, _backgrounds(session.state))
        return ToolResult(
            stats.describe(),
            artifact=ImageArtifact(data=data, title="screenshot of the viewer"),
            data=stats.to_dict(),
        )
