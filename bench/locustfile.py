"""Locust users for ``bench/load_test.py``: grid leaders and dispatchers working a realistic mix (issue 18.6).

Grid leaders (weight 3) list their dispatched cases, open one, accept it and contact the complainant;
dispatchers (weight 1) log a hotline case, dispatch it, read the intake queue and the village rates.
Each user logs in once with ``POST /api/v1/auth/token/`` (the demo password) and works with its token.
"""
import itertools
import random

from locust import HttpUser, between, task

PASSWORD = "xiji-demo-2025"
LEADERS = itertools.cycle([f"gl222-{n}" for n in range(1, 6)])
GRID_CODES = [f"110112110222-0{n}" for n in range(1, 6)]


class Worker(HttpUser):
    abstract = True
    wait_time = between(0.5, 2.0)
    username = "dispatcher"

    def on_start(self):
        response = self.client.post("/api/v1/auth/token/", json={"username": self.login(), "password": PASSWORD},
                                    name="auth/token")
        self.client.headers["Authorization"] = f"Token {response.json()['token']}"

    def login(self) -> str:
        return self.username


class GridLeader(Worker):
    weight = 3

    def login(self) -> str:
        return next(LEADERS)

    @task(4)
    def my_cases(self):
        page = self.client.get("/api/v1/cases/?status=dispatched&status=accepted", name="cases?status").json()
        self.cases = [c["id"] for c in page.get("results", [])]

    @task(3)
    def open_case(self):
        if getattr(self, "cases", None):
            self.client.get(f"/api/v1/cases/{random.choice(self.cases)}/", name="cases/{id}")

    @task(2)
    def accept_and_respond(self):
        page = self.client.get("/api/v1/cases/?status=dispatched", name="cases?status").json()
        mine = [c["id"] for c in page.get("results", [])]
        if mine:
            case = random.choice(mine)
            with self.client.post(f"/api/v1/cases/{case}/accept/", name="cases/{id}/accept",
                                  catch_response=True) as r:
                if r.status_code == 409:  # another leader of the grid was first: a normal race
                    r.success()
            with self.client.post(f"/api/v1/cases/{case}/respond/", json={"note": "已电话联系"},
                                  name="cases/{id}/respond", catch_response=True) as r:
                if r.status_code == 409:
                    r.success()

    @task(1)
    def notifications(self):
        self.client.get("/api/v1/notifications/?unread=true", name="notifications")


class Dispatcher(Worker):
    weight = 1

    def on_start(self):
        super().on_start()
        self.grids = []
        for code in GRID_CODES:
            found = self.client.get(f"/api/v1/grids/?q={code}", name="grids?q").json()["results"]
            self.grids += [g["id"] for g in found]

    @task(3)
    def log_and_dispatch(self):
        grid = random.choice(self.grids)
        created = self.client.post("/api/v1/cases/", json={
            "kind": "complaint", "source": "hotline", "title": "路灯不亮", "description": "村口路灯连续三晚不亮",
            "grid": grid}, name="cases (create)")
        if created.status_code == 201:
            case = created.json()
            if case["status"] == "received":
                self.client.post(f"/api/v1/cases/{case['id']}/dispatch/", json={"grid": grid},
                                 name="cases/{id}/dispatch")

    @task(2)
    def intake_queue(self):
        self.client.get("/api/v1/queues/intake/", name="queues/intake")

    @task(1)
    def rates(self):
        self.client.get("/api/v1/stats/rates/?group_by=village", name="stats/rates")
