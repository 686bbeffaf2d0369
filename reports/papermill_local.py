"""papermill with local files only.

papermill registers http(s), s3, gs, adl, abs, hdfs and GitHub handlers at import (its
``HttpHandler.write`` PUTs the notebook to a URL): in the enclave a report reads and writes
local paths and nothing else. Import papermill from here so the registry is always trimmed.
"""

import papermill
from papermill.iorw import LocalHandler, papermill_io

papermill_io.reset()
papermill_io.register("local", LocalHandler())

__all__ = ["papermill"]
