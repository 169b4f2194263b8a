"""Every module that declares tables on ``smart_app.db.Base``, imported so ``create_all`` sees them all."""

import smart_app.point_of_care.context
import smart_app.point_of_care.drafts  # noqa: F401
from smart_app import store  # noqa: F401
from smart_app.cds_hooks import tables as cds_hooks_tables  # noqa: F401
from smart_app.writeback import tables as writeback_tables  # noqa: F401
