"""A realistic demo data set: `kflow demo` (and `make run`) load it (load_demo).

It adds regional groups and local units in four regions (units), a demo user for every role
(people: all under @demo.kflow.se, all with one password) and 30 knowledge supports owned by
real NPOs and an NSG (stories, in the shape story describes). Every case is driven through
``create_knowledge_support`` and ``fire`` as the user whose role allows the move (or as
``system`` for automatic triggers) by the builder, along the national path (national), each
region's adaptation (regional), each local implementation (local) and the detours from the
straight path (detours), so the history is real and every fan-out and cascade happened the way
it does in use; indicators and measurements go through ``kflow.followup.indicators`` the same
way. The stories are dated over the past two years, counted back from the day the demo is
loaded, so some cases are overdue and some are due in the coming days. Nothing is random: the
same day always gives the same data.
"""

from kflow.tools.demo.load import DemoResult, load_demo, logins
from kflow.tools.demo.people import DEFAULT_PASSWORD, DOMAIN, USERS

__all__ = ["DEFAULT_PASSWORD", "DOMAIN", "USERS", "DemoResult", "load_demo", "logins"]
