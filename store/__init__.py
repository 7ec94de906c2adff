"""The data layer: models, migrations and the queries the handlers need.

Importing any part of it registers the hooks that keep derived rows (`store.traits`) in
step with the rows they come from.
"""

from store import traits as _traits  # noqa: F401  (registers the mapper hooks)
