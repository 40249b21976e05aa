"""Every table of kflow: importing this module registers them all on ``kflow.db.Base.metadata``
(for Alembic, the backup tool and the tests). Each domain package owns its own tables."""

import kflow.accounts.models
import kflow.cases.events
import kflow.cases.models
import kflow.documents.models
import kflow.followup.lists
import kflow.followup.models
import kflow.mailing.models
import kflow.org.models  # noqa: F401
