"""The deputies' part of the pages (DESIGN §8): a demand a deputy logs on "log a case" with source ``deputy``
is raised through :func:`reps.services.raise_demand` (linked to the deputy and station). The deputies' own
pages (stations, receptions, their demands) belong in this module."""
from reps.services import deputy_of, raise_demand


def create_deputy_demand(*, actor, now, source, **case_fields):
    """The creator of source ``deputy`` on "log a case" (registered in :mod:`reps.apps` with
    :func:`cases.pages.register_case_creator`): the case as a demand of the active deputy whose login is
    ``actor``, or None when ``actor`` is no deputy (then it is an ordinary case). ``case_fields`` as for
    ``cases.services.create_case``. Raises what ``raise_demand`` raises."""
    deputy = deputy_of(actor)
    if deputy is None:
        return None
    return raise_demand(actor=actor, deputy=deputy, now=now, **case_fields)
