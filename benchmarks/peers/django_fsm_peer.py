"""django-fsm-2 with django-fsm-log: Django configured in this process, on the same SQLite file.

Django's own tables (contenttypes, auth, django-fsm-log's StateLog) are created by ``migrate``
before the clock starts; the adaptation model maps kflow's ``cases`` table (see
djapp/models.py). A click is what a Django view would do: ``transaction.atomic()`` (BEGIN
IMMEDIATE, Django's recommended mode for writers on SQLite), load the user (as the auth
middleware does) and the case, check the client's version, call the transition with ``by`` and
``description`` (django-fsm-log writes the StateLog row) and ``save()``. No permission check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.common import SQLITE_MODES
from benchmarks.peers.base import CASE_TYPE, Conflict, move

_configured = False


def configure(path: Path, mode: str) -> None:
    global _configured
    if _configured:
        return
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        USE_TZ=True,
        TIME_ZONE="UTC",
        SECRET_KEY="kflow-benchmark",  # noqa: S106 (no secret: a throwaway in-process config)
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django_fsm_log",
            "benchmarks.peers.djapp",
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(path),
                "OPTIONS": {
                    "timeout": 30,
                    "transaction_mode": "IMMEDIATE",
                    "init_command": (
                        f"PRAGMA journal_mode=WAL; PRAGMA synchronous={SQLITE_MODES[mode]}"
                    ),
                },
            }
        },
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        DJANGO_FSM_LOG_STORAGE_METHOD="django_fsm_log.backends.SimpleBackend",
    )
    django.setup()
    _configured = True


class DjangoFsm:
    def __init__(self, path: Path, mode: str, cases: list[dict[str, Any]]) -> None:
        configure(path, mode)
        from django.contrib.auth.models import User
        from django.core.management import call_command
        from django.db import connection, transaction

        from benchmarks.peers.djapp.models import RegionalAdaptation

        call_command("migrate", run_syncdb=True, verbosity=0)
        # The coordinators as Django users (django-fsm-log's ``by`` is a foreign key to them).
        self.user_ids: dict[int, int] = {}
        with transaction.atomic():
            for case in cases:
                if case["user_id"] in self.user_ids:
                    continue
                user, _ = User.objects.get_or_create(
                    username=case["email"], defaults={"email": case["email"]}
                )
                self.user_ids[case["user_id"]] = user.pk
        self.User, self.Model = User, RegionalAdaptation
        self.transaction, self.connection = transaction, connection

    def click(self, case: dict[str, Any]) -> int:
        trigger, _dest, comment = move(case["state"])
        with self.transaction.atomic():
            user = self.User.objects.get(pk=self.user_ids[case["user_id"]])
            found = self.Model.objects.get(pk=case["id"], type=CASE_TYPE)
            if found.lock_version != case["lock_version"]:
                raise Conflict(case["id"])
            getattr(found, trigger)(by=user, description=comment)
            found.save()
        return int(found.lock_version)

    def pragmas(self) -> dict[str, str]:
        from benchmarks.common import SYNCHRONOUS_NAMES

        with self.connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            journal = cursor.fetchone()[0]
            cursor.execute("PRAGMA synchronous")
            sync = cursor.fetchone()[0]
        return {"journal_mode": str(journal).lower(), "synchronous": SYNCHRONOUS_NAMES[int(sync)]}

    def observed(self, case_ids: list[int]) -> dict[str, Any]:
        from django_fsm_log.models import StateLog

        rows = self.Model.objects.filter(pk__in=case_ids).values_list("id", "state", "lock_version")
        history = StateLog.objects.filter(object_id__in=case_ids).count()
        return {"cases": {str(i): [s, v] for i, s, v in rows}, "history_rows": history}

    def close(self) -> None:
        self.connection.close()
