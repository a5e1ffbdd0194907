"""Grid registry (town, villages, micro-grids, cadres, 包村 assignments), roles and scope.
The lowest layer: may import no other app of the project (see apps.py and pyproject.toml)."""
