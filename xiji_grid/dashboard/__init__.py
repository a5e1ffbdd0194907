"""The supervisor dashboard (督办看板): figures composed from several apps (cases' rates and overdue cases,
the weekly visits' coverage, the liaison stations), so it stands above them. May import every app."""
