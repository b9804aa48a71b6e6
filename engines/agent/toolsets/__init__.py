"""Toolsets the pages give their chats: each builds tools over one session's own state."""

from engines.agent.toolsets.nwb import CodeProposal, NwbAssistantTools, NwbViewArtifact, build_nwb_tools
from engines.agent.toolsets.table_layer import TableLayerArtifact
from engines.agent.toolsets.tables import MultiViewArtifact, build_table_tools
from engines.agent.toolsets.viewer import ViewerTools, build_viewer_tools

__all__ = [
    "CodeProposal",
    "MultiViewArtifact",
    "NwbAssistantTools",
    "NwbViewArtifact",
    "TableLayerArtifact",
    "ViewerTools",
    "build_nwb_tools",
    "build_table_tools",
    "build_viewer_tools",
]
