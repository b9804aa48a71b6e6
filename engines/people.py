"""Who is acting: the signed-in person, and the errors for what they may not do or have used up.

Every action that belongs to someone (a chat, a saved view, a verdict, a training run, a job)
records ``Person.name`` as its owner; stopping, deleting or cancelling checks
``Person.may_manage(owner)``. The app builds a ``Person`` per browser session from the
signed-in user (never from the address the server is bound to); engines only receive it.
"""

from __future__ import annotations

from dataclasses import dataclass

from engines.errors import NeurodeckError

__all__ = ["Person", "LOCAL_USER", "ANONYMOUS", "NotAllowed", "LimitReached"]

LOCAL_USER = "local"
"""The one user of token sign-in: whoever holds the server's token (the operator)."""

ANONYMOUS = "anonymous"
"""The user of a server started with ``--auth none``: nobody in particular, so never an admin."""


class NotAllowed(NeurodeckError, PermissionError):
    """The signed-in person may not do this (someone else's run, job or chat; code not allowed)."""


class LimitReached(NeurodeckError, RuntimeError):
    """A per-user or per-server limit the operator set was reached; the message says which and when it
    frees."""


@dataclass(frozen=True)
class Person:
    """The signed-in user of one browser session (or of one command-line call)."""

    name: str
    is_admin: bool = False

    def may_manage(self, owner: str | None) -> bool:
        """Whether this person may stop, delete or cancel something ``owner`` started.

        Things recorded before owners existed (owner '' or None) belong to the admins alone."""
        return self.is_admin or (bool(owner) and owner == self.name)

    def require_manage(self, owner: str | None, what: str) -> None:
        """Raise ``NotAllowed`` naming ``what`` unless ``may_manage(owner)``."""
        if not self.may_manage(owner):
            raise NotAllowed(
                f"{what} belongs to {owner or 'nobody in particular'}; only its owner or an admin "
                "can change it."
            )
