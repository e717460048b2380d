"""The LLM firewall: decides, before anything is queued, whether a prompt may reach a model.

`Firewall.scan(text, role=...)` returns a `FirewallResult`: the action (`allow`, `block` or `redact`),
the categories that fired (`injection`, `toxicity`, `pii`, `secrets`), a score per category, the typed
spans of personal data and secrets found (never their values), the redacted prompt when the action is
`redact`, and the operator's rule a user turn asks to break (`signals`; `scan(..., operator=...)` gives
a chat message the system messages it is read beside). It is pure CPU: no network, no Redis; the
learned model ships in the package.
"""

from shared.firewall.engine import Detection, Firewall, FirewallResult
from shared.firewall.model import ModelError
from shared.firewall.pii import Finding
from shared.firewall.policy import Action, Policy, PolicyError

__all__ = [
    "Action",
    "Detection",
    "Finding",
    "Firewall",
    "FirewallResult",
    "ModelError",
    "Policy",
    "PolicyError",
]
