"""Listeners of the case lifecycle: a small registry that other parts of ``cases`` hook into instead of
editing every service (issue 13: the upstream feedback).

Every event a service of :mod:`cases.services` writes is announced with :func:`event_recorded`, inside the
service's transaction, after the case row is saved. A listener receives ``(case, event)``; whatever it
writes commits or rolls back with the transition, and whatever it sends must wait for the commit
(``transaction.on_commit``) — the upstream feedback writes its delivery row at once and enqueues the task
that posts it after commit. Listeners must be cheap and must not raise for cases they do not care about.
Register one with :func:`on_event` (usually from an ``AppConfig.ready``).
"""
from collections.abc import Callable

_listeners: list[Callable] = []


def on_event(listener: Callable) -> Callable:
    """Register ``listener(case, event)`` (once; usable as a decorator). Returns the listener."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def event_recorded(case, event) -> None:
    """Announce ``event`` (a saved CaseEvent of ``case``) to every listener, in registration order."""
    for listener in _listeners:
        listener(case, event)


__all__ = ["event_recorded", "on_event"]
