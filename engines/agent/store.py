"""Saved conversations in ``<workspace>/agent/conversations.sqlite``: turns, tool steps, artifact
descriptions.

A turn is written when it starts (the user's text) and completed when it ends, each in one
transaction, so a crash or a failed endpoint loses nothing the user typed. The database is a
``WorkspaceDb``: every call opens its own connection and writes take the write lock up front, so
one store is shared by the sessions' worker threads and by every server process on the
workspace (WAL on a local disk, the rollback journal on NFS). Artifacts are saved as
descriptions (kind, title, table shape, link URL), not their data.

Each conversation records its owner (the signed-in user who started it). Chats are private:
``load`` with a ``person`` answers another user's id exactly as an unknown id, so a link never
reveals that someone else's chat exists; admins may open any. Conversations saved before owners
were recorded get owner '' (the column is added in place) and belong to the admins.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engines._owners import add_owner_column
from engines.agent.errors import ConversationNotFound
from engines.agent.trace import ToolStep
from engines.people import Person
from engines.workspace_db import WorkspaceDb

__all__ = ["Conversation", "ConversationInfo", "ConversationStore", "SavedTurn"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, page TEXT NOT NULL, title TEXT NOT NULL, model TEXT,
    created REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_by_page ON conversations (page, updated);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE, turn INTEGER NOT NULL,
    user_text TEXT NOT NULL, answer TEXT, stopped TEXT, usage TEXT, created REAL NOT NULL, finished REAL,
    PRIMARY KEY (conversation_id, turn));
CREATE TABLE IF NOT EXISTS steps (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE, turn INTEGER NOT NULL,
    seq INTEGER NOT NULL, step TEXT NOT NULL, PRIMARY KEY (conversation_id, turn, seq));
"""
MAX_STEP_CHARS = 200_000
"""A saved step's JSON beyond this keeps its summary's head and drops its data (the live trace has it
whole)."""


@dataclass(frozen=True)
class ConversationInfo:
    id: str
    page: str
    title: str
    model: str | None
    created: float
    updated: float
    turns: int
    owner: str = ""


@dataclass(frozen=True)
class SavedTurn:
    turn: int
    user: str
    answer: str | None
    """None when the turn never finished (the server stopped mid-reply)."""
    stopped: str | None
    steps: tuple[ToolStep, ...]
    usage: dict[str, int]


@dataclass(frozen=True)
class Conversation:
    info: ConversationInfo
    turns: tuple[SavedTurn, ...]


class ConversationStore:
    """See the module docstring. Creating one creates ``<workspace>/agent/`` and the schema."""

    def __init__(self, workspace: Path) -> None:
        self.folder = Path(workspace) / "agent"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / "conversations.sqlite"
        self._db = WorkspaceDb(self.path, _SCHEMA, foreign_keys=True)
        with self._db.write() as db:
            add_owner_column(db, "conversations")

    def create(self, page: str, title: str = "", model: str | None = None, owner: str = "") -> str:
        """A new empty conversation of ``owner`` (a ``Person.name``); returns its id."""
        conversation_id = uuid.uuid4().hex
        now = time.time()
        with self._db.write() as db:
            db.execute(
                "INSERT INTO conversations (id, page, title, model, created, updated, owner) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, page, title[:120], model, now, now, owner),
            )
        return conversation_id

    def begin_turn(self, conversation_id: str, turn: int, user_text: str) -> int:
        """Save the user's text as turn ``turn``, or as the next free turn when another tab or server has
        taken
        that number since this chat loaded (neither text replaces the other); returns the number used."""
        now = time.time()
        with self._db.write() as db:
            latest = db.execute(
                "SELECT MAX(turn) FROM turns WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()[0]
            turn = max(turn, (latest or 0) + 1)
            db.execute(
                "INSERT INTO turns (conversation_id, turn, user_text, created) VALUES (?, ?, ?, ?)",
                (conversation_id, turn, user_text, now),
            )
            db.execute(
                "UPDATE conversations SET updated = ?, title = CASE WHEN title = '' THEN ? ELSE title END "
                "WHERE id = ?",
                (now, _title(user_text), conversation_id),
            )
        return turn

    def finish_turn(
        self,
        conversation_id: str,
        turn: int,
        answer: str,
        stopped: str,
        steps: Sequence[ToolStep],
        usage: dict[str, int],
    ) -> None:
        now = time.time()
        with self._db.write() as db:
            db.execute(
                "UPDATE turns SET answer = ?, stopped = ?, usage = ?, finished = ? "
                "WHERE conversation_id = ? AND turn = ?",
                (answer, stopped, json.dumps(usage), now, conversation_id, turn),
            )
            db.execute("DELETE FROM steps WHERE conversation_id = ? AND turn = ?", (conversation_id, turn))
            db.executemany(
                "INSERT INTO steps VALUES (?, ?, ?, ?)",
                [(conversation_id, turn, seq, _step_json(step)) for seq, step in enumerate(steps)],
            )
            db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation_id))

    def list_conversations(
        self, page: str | None = None, limit: int = 100, owner: str | None = None
    ) -> list[ConversationInfo]:
        """Conversations, most recently used first (of one page when ``page`` is given, of one owner when
        ``owner`` is: a chat lists only its own person's)."""
        clauses, args = [], []
        for column, value in (("page", page), ("owner", owner)):
            if value is not None:
                clauses.append(f"c.{column} = ?")
                args.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._db.read() as db:
            rows = db.execute(
                f"SELECT c.id, c.page, c.title, c.model, c.created, c.updated, COUNT(t.turn), c.owner "
                f"FROM conversations c LEFT JOIN turns t ON t.conversation_id = c.id {where} GROUP BY c.id "
                f"ORDER BY c.updated DESC LIMIT ?",
                (*args, int(limit)),
            ).fetchall()
        return [ConversationInfo(*row) for row in rows]

    def load(self, conversation_id: str, person: Person | None = None) -> Conversation:
        """A conversation with its turns and steps; raises ``ConversationNotFound``, also when ``person`` is
        given and may not see it (another user's chat reads exactly as one that does not exist)."""
        with self._db.read() as db:
            info = db.execute(
                "SELECT c.id, c.page, c.title, c.model, c.created, c.updated, "
                "(SELECT COUNT(*) FROM turns t WHERE t.conversation_id = c.id), c.owner "
                "FROM conversations c WHERE c.id = ?",
                (conversation_id,),
            ).fetchone()
            if info is None or (person is not None and not person.may_manage(info[-1])):
                raise ConversationNotFound(
                    f"No saved conversation {conversation_id!r}: there is no such chat among "
                    "yours. Pick one from the list of your saved chats."
                )
            turns = db.execute(
                "SELECT turn, user_text, answer, stopped, usage FROM turns WHERE conversation_id = ? "
                "ORDER BY turn",
                (conversation_id,),
            ).fetchall()
            steps = db.execute(
                "SELECT turn, step FROM steps WHERE conversation_id = ? ORDER BY turn, seq",
                (conversation_id,),
            ).fetchall()
        by_turn: dict[int, list[ToolStep]] = {}
        for turn, text in steps:
            by_turn.setdefault(turn, []).append(ToolStep.from_dict(json.loads(text)))
        return Conversation(
            ConversationInfo(*info),
            tuple(
                SavedTurn(
                    turn, user, answer, stopped, tuple(by_turn.get(turn, ())), json.loads(usage or "{}")
                )
                for turn, user, answer, stopped, usage in turns
            ),
        )

    def rename(self, conversation_id: str, title: str) -> None:
        with self._db.write() as db:
            updated = db.execute(
                "UPDATE conversations SET title = ? WHERE id = ?", (title[:120], conversation_id)
            )
            if updated.rowcount == 0:
                raise ConversationNotFound(f"No saved conversation {conversation_id!r} to rename.")

    def delete(self, conversation_id: str) -> None:
        with self._db.write() as db:
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))


def _title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 80 else line[:77] + "..."


def _step_json(step: ToolStep) -> str:
    values: dict[str, Any] = step.to_dict()
    text = json.dumps(values, default=str)
    if len(text) <= MAX_STEP_CHARS:
        return text
    values["data"] = (
        f"(not saved: {len(text):,} characters; download the trace during the session for all of it)"
    )
    values["summary"] = values["summary"][: MAX_STEP_CHARS // 2]
    return json.dumps(values, default=str)
