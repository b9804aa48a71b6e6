"""Tool definitions: schemas from typed signatures and docstrings, validation before running, result
wrapping."""

from __future__ import annotations

from typing import Annotated, Literal

import pandas as pd
import polars as pl
import pytest
from pydantic import Field

from engines.agent import (
    InvalidToolArguments,
    TableArtifact,
    ToolDefinitionError,
    ToolFailed,
    ToolRegistry,
    Toolset,
    UnknownTool,
    tool,
)


def test_schema_comes_from_signature_and_docstring(tools: Toolset):
    schema = tools.tools["set_position"].schema
    function = schema["function"]
    assert function["name"] == "set_position"
    assert function["description"] == "Centre the view on a point."
    parameters = function["parameters"]
    assert parameters["required"] == ["x", "y"]
    assert parameters["properties"]["x"] == {"type": "number", "description": "position along x, in voxels"}
    assert parameters["additionalProperties"] is False
    assert "title" not in parameters and "title" not in parameters["properties"]["x"]


def test_annotated_constraints_and_literals_reach_the_schema(tools: Toolset):
    top = tools.tools["top_cells"].schema["function"]["parameters"]["properties"]
    assert top["n"]["minimum"] == 1 and top["n"]["maximum"] == 1000
    assert top["order"]["enum"] == ["descending", "ascending"]
    zoom = tools.tools["zoom"].schema["function"]["parameters"]["properties"]["factor"]
    assert zoom["exclusiveMinimum"] == 0 and "2 zooms in" in zoom["description"]


def test_a_property_named_title_is_kept():
    toolset = Toolset("notes")

    @toolset.tool
    def add_note(title: str, body: str = "") -> str:
        """Add a note."""
        return title

    assert set(toolset.tools["add_note"].schema["function"]["parameters"]["properties"]) == {"title", "body"}


def test_every_tool_says_whether_it_mutates_state(tools: Toolset):
    assert tools.tools["set_position"].mutates and not tools.tools["top_cells"].mutates


def test_invalid_arguments_raise_before_the_tool_runs(tools: Toolset, viewer):
    registry = ToolRegistry([tools])
    with pytest.raises(InvalidToolArguments, match=r"factor: Input should be greater than 0 \(got -2\)"):
        registry.prepare("zoom", {"factor": -2})
    with pytest.raises(InvalidToolArguments, match="not valid JSON"):
        registry.prepare("zoom", '{"factor": 2')
    with pytest.raises(InvalidToolArguments, match="Extra inputs are not permitted"):
        registry.prepare("zoom", {"factor": 2, "speed": 1})
    with pytest.raises(InvalidToolArguments, match="x: Field required"):
        registry.prepare("set_position", {"y": 1})
    assert viewer.zoom == 1.0 and viewer.position["x"] == 0.0


def test_unknown_tool_names_the_available_ones(tools: Toolset):
    with pytest.raises(UnknownTool, match="no tool named 'fly'.*set_position, zoom"):
        ToolRegistry([tools]).prepare("fly", {})


def test_json_text_arguments_are_validated_and_coerced(tools: Toolset):
    prepared = ToolRegistry([tools]).prepare("set_contrast", '{"layer": "em", "limits": [10, 90]}')
    assert prepared.arguments == {"layer": "em", "limits": [10.0, 90.0]}
    assert prepared.validated.limits == (10.0, 90.0)


def test_a_tool_that_raises_becomes_tool_failed_and_changes_nothing(tools: Toolset, viewer):
    registry = ToolRegistry([tools])
    with pytest.raises(ToolFailed, match="set_contrast failed.*no layer 'nope'.*em, segmentation"):
        registry.run(registry.prepare("set_contrast", {"layer": "nope", "limits": [1, 2]}))
    with pytest.raises(
        ToolFailed, match="failed unexpectedly \\(ValueError: the lower limit 9 must be below"
    ):
        registry.run(registry.prepare("set_contrast", {"layer": "em", "limits": [9, 2]}))
    assert viewer.layers["em"]["range"] == [0.0, 255.0]


@pytest.mark.parametrize(
    "frame",
    [
        pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}),
        pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}),
    ],
)
def test_a_returned_dataframe_becomes_a_table_artifact_with_its_head_as_summary(frame):
    toolset = Toolset("t", tools=[lambda_tool(frame)])
    registry = ToolRegistry([toolset])
    result = registry.run(registry.prepare("table", {}))
    assert isinstance(result.artifact, TableArtifact) and result.artifact.frame is frame
    assert result.summary.startswith("Table: 3 rows x 2 columns") and "2,y" in result.summary
    assert result.artifact.describe() == {"kind": "table", "title": "", "rows": 3, "columns": ["a", "b"]}


def lambda_tool(frame):
    def table() -> object:
        """Return a table."""
        return frame

    return table


class Microscope:
    def __init__(self) -> None:
        self.objective = 10

    @tool(mutates=True, commands=["use [the] {power}x objective"])
    def set_objective(self, power: Literal[4, 10, 40]) -> str:
        """Switch the objective."""
        self.objective = power
        return f"Objective {power}x."

    def not_a_tool(self) -> None:
        """Plain methods are not tools."""


def test_toolset_from_object_binds_marked_methods():
    scope = Microscope()
    toolset = Toolset.from_object("microscope", scope)
    assert list(toolset.tools) == ["set_objective"]
    registry = ToolRegistry([toolset])
    assert registry.run(registry.prepare("set_objective", {"power": 40})).summary == "Objective 40x."
    assert scope.objective == 40
    plan = registry.planner.plan("use the 4x objective")
    assert [(c.tool, c.arguments) for c in plan.calls] == [("set_objective", {"power": 4})]


def test_bad_definitions_fail_when_defined():
    toolset = Toolset("bad")
    with pytest.raises(ToolDefinitionError, match="parameter depth needs a type hint"):
        toolset.add(lambda depth: depth, name="dive")
    with pytest.raises(ToolDefinitionError, match=r"\*args/\*\*kwargs"):

        def anything(*values: int) -> None:
            """Varargs."""

        toolset.add(anything)

    def ping() -> str:
        """Ping."""
        return "pong"

    toolset.add(ping)
    with pytest.raises(ToolDefinitionError, match="already has a tool named ping"):
        toolset.add(ping)
    with pytest.raises(ToolDefinitionError, match="two toolsets define a tool named ping"):
        ToolRegistry([toolset, Toolset("other", tools=[ping])])


def test_annotated_field_descriptions_are_used():
    toolset = Toolset("t")

    @toolset.tool
    def wait(seconds: Annotated[float, Field(ge=0, le=10, description="how long")]) -> str:
        """Wait a while."""
        return "ok"

    assert toolset.tools["wait"].schema["function"]["parameters"]["properties"]["seconds"] == {
        "type": "number",
        "minimum": 0,
        "maximum": 10,
        "description": "how long",
    }
