"""A module a crafted run folder names in its env id (``tests.reliability.evil_env_module:Evil-v0``).

Importing it creates the file named by ``$SPHGYM_TEST_MARKER``: the tests check that loading a run folder
never imports it unless the user allowed it.
"""

import os
from pathlib import Path

if os.environ.get("SPHGYM_TEST_MARKER"):
    Path(os.environ["SPHGYM_TEST_MARKER"]).write_text("imported")
