"""Reps: the people who go out to residents — weekly village visits, liaison stations and deputies.
May import cases and grids; registers its pages, scope and statistics into them (see apps.py)."""
