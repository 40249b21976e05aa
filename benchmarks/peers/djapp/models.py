"""A regional adaptation as a django-fsm-2 model over kflow's own ``cases`` table.

The state change is guarded by the state (django-fsm's ConcurrentTransitionMixin filters the
UPDATE on the state it loaded) and by ``lock_version`` (the same optimistic lock kflow uses,
added here the Django way, by narrowing ``_do_update``). django-fsm-log writes the history row
(``StateLog``, with the user and the comment) from django-fsm's transition signal.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description


class RegionalAdaptation(ConcurrentTransitionMixin, models.Model):
    id = models.AutoField(primary_key=True)
    type = models.CharField(max_length=32)
    state = FSMField(max_length=32, default="received")
    lock_version = models.IntegerField(default=1)
    updated_at = models.DateTimeField()

    class Meta:
        app_label = "djapp"
        db_table = "cases"
        managed = False  # kflow's migrations own the table

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source="assessing", target="on_hold")
    def put_on_hold(self, by: Any = None, description: str | None = None) -> None:
        """Lägg vilande (a comment is required, as in kflow)."""
        if not description:
            raise ValueError("put_on_hold requires a comment")

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source="on_hold", target="assessing")
    def resume(self, by: Any = None, description: str | None = None) -> None:
        """Återuppta."""

    def save(self, *args: Any, **kwargs: Any) -> None:
        self._expected_version = self.lock_version
        self.lock_version += 1
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)

    def _do_update(
        self,
        base_qs: Any,
        using: Any,
        pk_val: Any,
        values: Any,
        update_fields: Any,
        forced_update: Any,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        expected = getattr(self, "_expected_version", None)
        if expected is not None:
            base_qs = base_qs.filter(lock_version=expected)
        return bool(
            super()._do_update(
                base_qs, using, pk_val, values, update_fields, forced_update, *args, **kwargs
            )
        )
