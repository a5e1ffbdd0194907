"""The command centre's desk (issue 16): what dispatchers and supervisors work with all day.

Pure rules and selectors shared by the API and the pages, and the services they add on top of
``cases.services``: caller history (:mod:`.history`), intake and callback queues with keyset paging and
bulk actions (:mod:`.queues`), correcting a case at intake (:mod:`.editing`), revealing a complainant's
phone to the handler (:mod:`.phone`), and the rule that a session is recorded only once it has begun
(:mod:`.sessions`). Every state change still goes through ``cases.services``.
"""
