"""The offline planner: every command of the example toolset, multi-command inputs, and what it cannot do."""

from __future__ import annotations

import pytest

from engines.agent import (
    AgentError,
    ChatSession,
    Command,
    FinalAnswer,
    TableArtifact,
    TextDelta,
    ToolError,
    ToolFinished,
    ToolRegistry,
    Toolset,
    ToolStarted,
    ViewerLinkArtifact,
)

EVERY_COMMAND = [
    ("go to 1200 900 40", "set_position", {"x": 1200.0, "y": 900.0, "z": 40.0}),
    ("Go to 1200, 900, 40.", "set_position", {"x": 1200.0, "y": 900.0, "z": 40.0}),
    ("go to -5.5 1e3", "set_position", {"x": -5.5, "y": 1000.0}),
    ("jump to 1 2 3", "set_position", {"x": 1.0, "y": 2.0, "z": 3.0}),
    ("move to 1 2 3", "set_position", {"x": 1.0, "y": 2.0, "z": 3.0}),
    ("zoom in", "zoom", {"factor": 2.0}),
    ("zoom out", "zoom", {"factor": 0.5}),
    ("zoom by 4", "zoom", {"factor": 4.0}),
    ("zoom 1.5", "zoom", {"factor": 1.5}),
    ("set the contrast of em to 20-180", "set_contrast", {"layer": "em", "limits": (20.0, 180.0)}),
    ("set contrast of em to 20 to 180", "set_contrast", {"layer": "em", "limits": (20.0, 180.0)}),
    ("contrast em 0..99.5", "set_contrast", {"layer": "em", "limits": (0.0, 99.5)}),
    ("hide the segmentation", "set_visibility", {"layer": "segmentation", "visible": False}),
    ("hide segmentation layer", "set_visibility", {"layer": "segmentation", "visible": False}),
    ('show the "segmentation" layer', "set_visibility", {"layer": "segmentation", "visible": True}),
    ("add a point at 10 20 30", "add_point", {"x": 10.0, "y": 20.0, "z": 30.0}),
    ("top 20 cells by volume", "top_cells", {"n": 20, "column": "volume"}),
    ("show the top 5 by cell_type", "top_cells", {"n": 5, "column": "cell_type"}),
    ("describe the table", "describe_table", {}),
    ("describe cells", "describe_table", {}),
    ("list the cells", "list_cells", {}),
    ("plot volume against z", "plot_columns", {"y": "volume", "x": "z"}),
    ("plot y vs x", "plot_columns", {"y": "y", "x": "x"}),
    ("share the view", "share_view", {}),
    ("link to this view", "share_view", {}),
    ("please zoom in", "zoom", {"factor": 2.0}),
]


@pytest.mark.parametrize("text, tool, arguments", EVERY_COMMAND)
def test_every_command_plans_its_tool_call(tools: Toolset, text: str, tool: str, arguments: dict):
    plan = ToolRegistry([tools]).planner.plan(text)
    assert plan.not_understood == ()
    assert [(c.tool, c.arguments) for c in plan.calls] == [(tool, arguments)]


def test_every_command_of_the_example_toolset_is_covered(tools: Toolset):
    covered = {tool for _, tool, _ in EVERY_COMMAND}
    assert covered == {t.name for t in tools if t.commands}


def test_every_command_runs_offline_through_the_same_events(tools: Toolset, viewer):
    session = ChatSession(tools)
    for text, tool, _ in EVERY_COMMAND:
        events = list(session.send(text))
        started = [e for e in events if isinstance(e, ToolStarted)]
        finished = [e for e in events if isinstance(e, ToolFinished)]
        assert [e.tool for e in started] == [tool] and [e.tool for e in finished] == [tool], text
        assert isinstance(events[-1], FinalAnswer) and events[-1].stopped == "offline"
    assert viewer.points == [[10.0, 20.0, 30.0]]
    assert viewer.layers["segmentation"]["visible"] is True  # hidden, then shown again
    assert len(session.trace) == len(EVERY_COMMAND)


def test_a_multi_command_input_runs_each_in_order(tools: Toolset, viewer):
    text = "go to 1200 900 40 and zoom in, then hide the segmentation; add a point at 1 2 3"
    events = list(ChatSession(tools).send(text))
    assert [e.tool for e in events if isinstance(e, ToolFinished)] == [
        "set_position",
        "zoom",
        "set_visibility",
        "add_point",
    ]
    assert viewer.position == {"x": 1200.0, "y": 900.0, "z": 40.0} and viewer.zoom == 2.0
    final = events[-1]
    assert final.text == "".join(e.text for e in events if isinstance(e, TextDelta))
    assert "Moved to (1200, 900, 40)." in final.text and "segmentation is now hidden." in final.text


def test_separator_words_inside_a_command_do_not_split_it():
    toolset = Toolset("words")

    @toolset.tool(commands=["say {phrase:text}"])
    def say(phrase: str) -> str:
        """Repeat a phrase."""
        return phrase

    @toolset.tool(commands=["sql {query:text}"])
    def run_sql(query: str) -> str:
        """Run a query."""
        return query

    planner = ToolRegistry([toolset]).planner
    plan = planner.plan("say salt and pepper")
    assert [(c.tool, c.arguments) for c in plan.calls] == [("say", {"phrase": "salt and pepper"})]
    query = "select cell_id, x, y, volume from cells where volume > 10 and z < 5 and x > 1, limit 3"
    plan = planner.plan(f"sql {query}; say done")
    assert [(c.tool, c.arguments) for c in plan.calls] == [
        ("run_sql", {"query": query}),
        ("say", {"phrase": "done"}),
    ]


def test_artifacts_are_shown_offline_too(tools: Toolset):
    events = list(ChatSession(tools).send("top 3 cells by volume and share the view"))
    artifacts = [e.artifact for e in events if isinstance(e, ToolFinished)]
    assert isinstance(artifacts[0], TableArtifact) and artifacts[0].frame.height == 3
    assert isinstance(artifacts[1], ViewerLinkArtifact) and "#!" in artifacts[1].url
    assert "[Neuroglancer view (neuroglancer-demo.appspot.com)](" in events[-1].text


def test_what_it_cannot_do_is_said_with_the_commands_it_knows(tools: Toolset, viewer):
    events = list(ChatSession(tools).send("make me a coffee"))
    final = events[-1]
    assert final.stopped == "not_understood"
    assert final.text.startswith(
        "I can't do that offline: I did not understand 'make me a coffee'; here is what I understand:"
    )
    assert (
        "- go to <x> <y> <z> or go to <x> <y> or move/jump to <x> <y> <z>: Centre the view on a point."
        in final.text
    )
    assert "set contrast of <layer> to <limits: low-high>" in final.text
    assert "OPENAI_BASE_URL" in final.text
    assert not any(isinstance(e, ToolStarted) for e in events)


def test_a_partly_understood_input_runs_nothing(tools: Toolset, viewer):
    final = list(ChatSession(tools).send("zoom in and make coffee"))[-1]
    assert "I understood 'zoom in' but not 'make coffee', so I did nothing" in final.text
    assert viewer.zoom == 1.0


def test_help_lists_the_commands(tools: Toolset):
    session = ChatSession(tools)
    final = list(session.send("help"))[-1]
    assert final.text.startswith("Offline, I understand these commands:")
    assert all(line in final.text for line in session.commands())
    assert len(session.commands()) == len({t.name for t in tools if t.commands})


def test_a_failing_command_stops_the_rest_and_says_so(tools: Toolset, viewer):
    events = list(ChatSession(tools).send("hide the cortex and zoom in"))
    error = next(e for e in events if isinstance(e, ToolError))
    assert error.tool == "set_visibility" and "no layer 'cortex'" in error.message
    assert "I did not go on with: 'zoom in'." in events[-1].text
    assert viewer.zoom == 1.0


def test_planned_arguments_are_validated_like_a_models(tools: Toolset, viewer):
    events = list(ChatSession(tools).send("zoom -2"))
    error = next(e for e in events if isinstance(e, ToolError))
    assert error.error_type == "InvalidToolArguments" and "greater than 0" in error.message
    assert viewer.zoom == 1.0


@pytest.mark.parametrize(
    "template, message",
    [
        ("go to {w}", r"names \{w\}, which is not a parameter of tool set_position"),
        ("go to {x:complex} {y}", "unknown placeholder type 'complex'"),
        ("go to {x} {x}", r"uses \{x\} twice"),
    ],
)
def test_bad_templates_fail_when_registered(tools: Toolset, template: str, message: str):
    with pytest.raises(AgentError, match=message):
        tools.command(template, "set_position")


def test_fixed_arguments_must_be_parameters(tools: Toolset):
    with pytest.raises(AgentError, match=r"passes \['speed'\]"):
        tools.command("zoom fast", "zoom", {"speed": 3})


def test_commands_added_later_are_planned(tools: Toolset):
    tools.command("closer", "zoom", {"factor": 3.0}, example="closer")
    plan = ToolRegistry([tools]).planner.plan("closer and closer")
    assert [c.arguments for c in plan.calls] == [{"factor": 3.0}, {"factor": 3.0}]


def test_the_most_specific_command_wins():
    toolset = Toolset("t")

    @toolset.tool(commands=["open {what:text}"])
    def open_anything(what: str) -> str:
        """Open anything."""
        return what

    @toolset.tool(commands=[Command("open [the] settings")])
    def open_settings() -> str:
        """Open the settings."""
        return "settings"

    plan = ToolRegistry([toolset]).planner.plan("open the settings")
    assert [c.tool for c in plan.calls] == ["open_settings"]


def test_number_lists_and_word_choices_are_typed():
    toolset = Toolset("t")

    @toolset.tool(commands=["layout {mode:xy|3d|4panel}", "path through {points:numbers}"])
    def arrange(mode: str = "xy", points: list[float] | None = None) -> str:
        """Arrange the view."""
        return mode

    planner = ToolRegistry([toolset]).planner
    assert planner.plan("layout 3D").calls[0].arguments == {"mode": "3d"}
    assert planner.plan("path through 1, 2.5, -3 4").calls[0].arguments == {"points": [1.0, 2.5, -3.0, 4.0]}
    assert planner.plan("layout 5d").not_understood == ("layout 5d",)


def test_optional_parts_with_a_placeholder_pass_it_only_when_given():
    toolset = Toolset("t")

    @toolset.tool(commands=["auto contrast [of] [{layer:name}]", "count {column:name} [in {table:name}]"])
    def adjust(layer: str = "first", column: str = "", table: str = "newest") -> str:
        """Adjust something."""
        return layer

    planner = ToolRegistry([toolset]).planner
    assert planner.plan("auto contrast").calls[0].arguments == {}
    assert planner.plan("auto contrast of em").calls[0].arguments == {"layer": "em"}
    assert planner.plan("count size in cells").calls[0].arguments == {"column": "size", "table": "cells"}
    assert planner.plan("count size").calls[0].arguments == {"column": "size"}
    assert planner.plan("count size in").not_understood == ("count size in",)


NEUROGLANCER_PHRASINGS = [
    ("centre the view on 30 30 10", "go_to", {"coordinates": [30.0, 30.0, 10.0]}),
    ("center on 1 2 3", "go_to", {"coordinates": [1.0, 2.0, 3.0]}),
    ("turn off the segmentation", "set_layer_visibility", {"layer": "segmentation", "visible": False}),
    ("turn on the image layer", "set_layer_visibility", {"layer": "image", "visible": True}),
    ("auto contrast of image", "auto_contrast", {"layer": "image"}),
    ("set the layout to 4panel", "set_orientation_or_layout", {"layout": "4panel"}),
    ("switch to the 3d layout", "set_orientation_or_layout", {"layout": "3d"}),
    ("add segment 4", "select_segment_ids", {"segment": 4, "mode": "add"}),
    ("add segments 4 5 to the selection", "select_segment_ids", {"segments": [4.0, 5.0], "mode": "add"}),
    ("deselect segment 4", "select_segment_ids", {"segment": 4, "mode": "remove"}),
    ("deselect all segments", "select_segment_ids", {"segments": [], "mode": "replace"}),
    ("undo the last change", "undo", {}),
    ("undo that", "undo", {}),
    ("bottom 3 cells by sphericity", "top_views", {"n": 3, "metric": "sphericity", "descending": False}),
    ("top 3 cells by sphericity", "top_views", {"n": 3, "metric": "sphericity"}),
    ("describe the table rois", "describe_table", {"table": "rois"}),
    ("sample 5 rows of rois", "sample_rows", {"n": 5, "table": "rois"}),
]


@pytest.fixture
def neuroglancer_planner(tmp_path):
    """The planner over the Neuroglancer page's own toolsets (viewer and tables)."""
    from engines.agent.toolsets import ViewerTools, build_table_tools, build_viewer_tools
    from engines.io.policy import SourcePolicy
    from engines.ngstate import StateStore, build_demo_state
    from engines.ngstate.session import ViewerSession
    from engines.tables import TableWorkspace

    policy = SourcePolicy(workspace=tmp_path, allowed_roots=(tmp_path,))
    session = ViewerSession(build_demo_state("http://app.example/ngdemo"))
    toolsets = [
        build_viewer_tools(ViewerTools(session, StateStore(tmp_path), policy)),
        build_table_tools(TableWorkspace(policy), lambda: session.state),
    ]
    return ToolRegistry(toolsets).planner


@pytest.mark.parametrize("text, tool, arguments", NEUROGLANCER_PHRASINGS)
def test_common_phrasings_of_the_neuroglancer_commands_plan_their_call(
    neuroglancer_planner, text: str, tool: str, arguments: dict
):
    plan = neuroglancer_planner.plan(text)
    assert plan.not_understood == ()
    assert [(c.tool, c.arguments) for c in plan.calls] == [(tool, arguments)]
