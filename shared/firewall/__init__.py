"""The LLM firewall: decides, before anything is queued, whether a prompt may reach a model.

`Firewall.scan(text)` returns a `FirewallResult` with the action (`allow`, `block` or `redact`), the
categories that fired and a score per category. It is pure CPU and needs no network or Redis.
"""

from shared.firewall.engine import Firewall, FirewallResult

__all__ = ["Firewall", "FirewallResult"]
