"""Cases: lifecycle, deadlines, statistics, imports, notifications and the command centre's pages.
May import grids only; the apps above extend it through registries (see apps.py)."""
