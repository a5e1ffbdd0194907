"""Factories and named personas on the seeded town, for API and page tests.

The town is Xiji as ``seed_xiji`` loads it (59 villages, 180 grids, fictional cadres, no logins). Village
``a`` is the first unit in code order, ``b`` the second. Personas, one per role (DESIGN §1), each linked
to a seeded cadre where the role reaches through one:

========  =================  =====================================================================
persona   role               reach
========  =================  =====================================================================
ada       admin              whole town
dora      dispatcher         whole town
sam       supervisor         whole town
vera      village_leader     village a (its seeded chief grid leader)
gus       grid_leader        grid a-1 (its seeded leader)
cai       cadre              village a (town cadre 01, assigned a, the 21st and the 41st unit)
dev       deputy             cases dev raised
========  =================  =====================================================================
"""
import contextlib
import dataclasses
import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from factory.django import DjangoModelFactory, Password
from rest_framework.authtoken.models import Token

from cases import services
from cases.choices import CaseKind, Satisfaction, Source, Status
from cases.models import Case, Category
from cases.seeding import seed_sla_policies
from grids.choices import Role
from grids.models import Cadre, Grid, Village, VillageAssignment
from grids.services import grid_code, seed_xiji

PASSWORD = "persona-pass-2025"
PERSONAS = {
    Role.ADMIN: "ada",
    Role.DISPATCHER: "dora",
    Role.SUPERVISOR: "sam",
    Role.VILLAGE_LEADER: "vera",
    Role.GRID_LEADER: "gus",
    Role.CADRE: "cai",
    Role.DEPUTY: "dev",
}


class UserFactory(DjangoModelFactory):
    """A login; ``roles=[...]`` puts it in the groups of those roles."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = Password(PASSWORD)
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.cn")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for role in extracted or ():
            self.groups.add(Group.objects.get_or_create(name=role)[0])


class CategoryFactory(DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("parent", "name")

    parent = None
    name = factory.Sequence(lambda n: f"分类{n}")
    level = factory.LazyAttribute(lambda c: 1 if c.parent is None else c.parent.level + 1)


@dataclasses.dataclass
class Town:
    """The seeded town with personas: ``users[role]``, ``tokens[role]``, villages ``a``/``b``, grids
    ``a1``/``a2``/``b1``, a category tree ``cat_top`` → ``cat_mid`` → ``cat_leaf`` and ``cat_other``."""

    users: dict
    tokens: dict
    a: Village
    b: Village
    a1: Grid
    a2: Grid
    b1: Grid
    cat_top: Category
    cat_mid: Category
    cat_leaf: Category
    cat_other: Category

    def user(self, role: str):
        return self.users[role]

    def auth(self, role: str) -> dict:
        """Extra request headers (Django test client) that authenticate as the persona of ``role``."""
        return {"HTTP_AUTHORIZATION": f"Token {self.tokens[role]}"}


def build_town() -> Town:
    """Seed Xiji and the SLA policies, add the personas and a small category tree. Returns a Town."""
    seed_sla_policies()
    seed_xiji()
    villages = list(Village.objects.order_by("code")[:2])
    a, b = villages
    a1 = Grid.objects.get(code=grid_code(a.code, 1))
    a2 = Grid.objects.get(code=grid_code(a.code, 2))
    b1 = Grid.objects.get(code=grid_code(b.code, 1))
    users = {role: UserFactory(username=name, roles=[role]) for role, name in PERSONAS.items()}
    _link(users[Role.VILLAGE_LEADER], a.chief_grid_leader)
    _link(users[Role.GRID_LEADER], a1.leader)
    town_cadre = VillageAssignment.objects.get(village=a).cadre
    _link(users[Role.CADRE], town_cadre)
    top = CategoryFactory(name="城乡建设")
    mid = CategoryFactory(name="市容环境", parent=top)
    leaf = CategoryFactory(name="垃圾清运", parent=mid)
    other = CategoryFactory(name="社会保障")
    tokens = {role: Token.objects.get_or_create(user=user)[0].key for role, user in users.items()}
    return Town(users=users, tokens=tokens, a=a, b=b, a1=a1, a2=a2, b1=b1, cat_top=top, cat_mid=mid,
                cat_leaf=leaf, cat_other=other)


def _link(user, cadre: Cadre) -> None:
    cadre.user = user
    cadre.save(update_fields=["user"])


@contextlib.contextmanager
def seeded_town(django_db_blocker):
    """Build the town once inside a transaction that is rolled back at the end (for module fixtures;
    each test's own ``db`` transaction nests inside it as a savepoint)."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_town()
        transaction.set_rollback(True)


# --- Cases in a given state, through the services ----------------------------------------------------

#: The path from ``received`` to each state, as (service name, kwargs) steps; ``reopened`` and the
#: extension are expressed as extra steps by :func:`make_case`.
PATHS = {
    Status.RECEIVED: [],
    Status.DISPATCHED: ["dispatch"],
    Status.ACCEPTED: ["dispatch", "accept"],
    Status.RESPONDED: ["dispatch", "accept", "respond"],
    Status.RESOLVED: ["dispatch", "accept", "respond", "resolve"],
    Status.CLOSED: ["dispatch", "accept", "respond", "resolve", "callback", "close"],
    Status.RETURNED: ["dispatch", "return"],
    Status.CANCELLED: ["cancel"],
}


def make_case(*, grid: Grid, actor, state: str = Status.RECEIVED, now: dt.datetime | None = None,
              source: str = Source.HOTLINE, satisfaction: str = Satisfaction.SATISFIED,
              extension_pending: bool = False, **fields) -> Case:
    """A case at ``grid`` logged by ``actor`` and walked through the services to ``state`` (all at
    ``now``). ``satisfaction`` is the callback's answer when the path has one; ``extension_pending``
    also files an extension request 8 days after receipt. Returns the fresh Case."""
    fields.setdefault("kind", CaseKind.COMPLAINT)
    fields.setdefault("title", "路灯不亮")
    fields.setdefault("complainant_phone", "13812345678")
    case = services.create_case(actor=actor, source=source, grid=grid, now=now, **fields)
    for step in PATHS[state]:
        if step == "dispatch":
            case = services.dispatch(case, actor=actor, grid=grid, now=now)
        elif step == "accept":
            case = services.accept(case, actor=actor, now=now)
        elif step == "respond":
            case = services.respond(case, actor=actor, note="已电话联系", now=now)
        elif step == "resolve":
            case = services.resolve(case, actor=actor, solved=True, result="已修复", now=now)
        elif step == "callback":
            case = services.callback(case, actor=actor, contacted=True, solved=True, satisfaction=satisfaction,
                                     now=now)
        elif step == "close":
            case = services.close(case, actor=actor, now=now)
        elif step == "return":
            case = services.return_case(case, actor=actor, reason="非本网格事项", now=now)
        elif step == "cancel":
            case = services.cancel(case, actor=actor, reason="重复来电", now=now)
    if extension_pending:
        case = services.request_extension(case, actor=actor, until=case.resolve_due_at + dt.timedelta(days=1),
                                          reason="需协调多部门", now=now)
    return Case.objects.get(pk=case.pk)
