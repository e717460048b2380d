"""What the firewall does about each category it detects, per user role, and from which score on.

Categories: `injection` (prompt injection and jailbreaks), `toxicity`, `pii` (personal data) and
`secrets` (API keys, private keys, JWTs, passwords). Actions: `block` refuses the prompt, `redact`
replaces personal data and secrets by placeholders (for `injection` and `toxicity`, which have nothing
to cut out, `redact` means the same as `block`), `allow` lets it through while the verdict still names
the category for the audit record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Action = Literal["allow", "block", "redact"]
ACTIONS: tuple[Action, ...] = ("allow", "redact", "block")  # in order of severity
CATEGORIES = ("injection", "toxicity", "pii", "secrets")
ROLES = ("user", "admin")

DEFAULT_ACTIONS: dict[str, dict[str, Action]] = {
    "user": {"injection": "block", "toxicity": "block", "pii": "redact", "secrets": "redact"},
    # Administrators test the gateway with hostile text; injections stay blocked, abuse is only recorded.
    "admin": {"injection": "block", "toxicity": "allow", "pii": "redact", "secrets": "redact"},
}


class PolicyError(ValueError):
    """A policy names an unknown role, category or action, or a threshold outside (0, 1)."""


@dataclass(frozen=True)
class Policy:
    """Actions per role and category, and the score from which `injection` and `toxicity` count.

    Thresholds left as None use the operating points stored with the learned model. A role the policy
    does not name is treated as `user`, the least trusted.
    """

    actions: Mapping[str, Mapping[str, Action]] = field(default_factory=lambda: DEFAULT_ACTIONS)
    injection_threshold: float | None = None
    toxicity_threshold: float | None = None

    def __post_init__(self) -> None:
        for role, actions in self.actions.items():
            for category, action in actions.items():
                if category not in CATEGORIES:
                    raise PolicyError(f"unknown firewall category {category!r} for role {role!r}")
                if action not in ACTIONS:
                    raise PolicyError(f"unknown firewall action {action!r} (allow, redact or block)")
        for name in ("injection_threshold", "toxicity_threshold"):
            value = getattr(self, name)
            if value is not None and not 0.0 < value < 1.0:
                raise PolicyError(f"{name} must be between 0 and 1, not {value}")

    @classmethod
    def with_overrides(
        cls,
        overrides: Mapping[str, Mapping[str, str]] | None = None,
        *,
        injection_threshold: float | None = None,
        toxicity_threshold: float | None = None,
    ) -> Policy:
        """The default actions with `overrides` ({role: {category: action}}) laid over them."""
        merged: dict[str, dict[str, Action]] = {role: dict(acts) for role, acts in DEFAULT_ACTIONS.items()}
        for role, actions in (overrides or {}).items():
            target = merged.setdefault(role, dict(DEFAULT_ACTIONS["user"]))
            for category, action in actions.items():
                if action not in ACTIONS:
                    raise PolicyError(f"unknown firewall action {action!r} (allow, redact or block)")
                target[category] = action
        return cls(merged, injection_threshold, toxicity_threshold)

    def action(self, role: str, category: str) -> Action:
        """What to do with a prompt of `role` in which `category` was detected."""
        actions = self.actions.get(role) or self.actions.get("user") or DEFAULT_ACTIONS["user"]
        return actions.get(category, DEFAULT_ACTIONS["user"][category])


def most_severe(actions: list[Action]) -> Action:
    """`block` over `redact` over `allow`."""
    return max(actions, key=ACTIONS.index, default="allow")
