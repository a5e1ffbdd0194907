"""Settings modules, one per use: ``base`` (shared), ``dev`` (embedded default), ``test``, ``production``."""
