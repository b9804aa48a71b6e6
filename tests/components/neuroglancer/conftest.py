"""Fixtures of the viewer component's tests: one real neuroglancer viewer, closed afterwards."""

from __future__ import annotations

import pytest

from components.neuroglancer.viewer import NeuroglancerViewer


@pytest.fixture
def viewer():
    viewer = NeuroglancerViewer({"position": [1, 2, 3]}, debounce_s=0.1)
    yield viewer
    viewer.close()
