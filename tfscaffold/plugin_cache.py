"""One Terraform provider plugin cache that every init of a batch run shares.

Without it, each project's `terraform init` installs its own copy of the AWS
provider, about 170 MB unpacked. With it, the first init installs the provider
into the cache and later inits link to that copy.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)

CACHE_DIR_VARIABLE = "TF_PLUGIN_CACHE_DIR"

# Terraform 1.4 and later use a cached provider only when the dependency lock
# file already records its checksum, and otherwise install it again from the
# source (https://github.com/hashicorp/terraform/pull/32494). Validation runs
# in scratch copies without a lock file, so without this variable every init
# installs the provider again, and parallel inits rewrite the same cache entry
# at once. The lock file that init writes with it set stays in the scratch
# copy and is deleted with it, so no project's lock file changes.
MAY_BREAK_LOCK_FILE_VARIABLE = "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE"


@dataclass(frozen=True)
class PluginCache:
    """A provider plugin cache folder; temporary ones are removed at the end of the run."""

    path: Path
    temporary: bool

    def env(self) -> dict[str, str]:
        """Return the environment variables that make Terraform use this cache."""
        return {CACHE_DIR_VARIABLE: str(self.path), MAY_BREAK_LOCK_FILE_VARIABLE: "1"}

    def describe(self) -> str:
        """Return the folder and where it came from, for the run's output."""
        if self.temporary:
            return f"{self.path} (temporary; set {CACHE_DIR_VARIABLE} to keep a cache between runs)"
        return f"{self.path} (from {CACHE_DIR_VARIABLE})"


@contextlib.contextmanager
def shared_plugin_cache() -> Iterator[PluginCache]:
    """Yield the plugin cache for one run: TF_PLUGIN_CACHE_DIR when set, else a temporary folder.

    Terraform requires the folder to exist, so a configured one is created
    when missing. A temporary folder is deleted when the context exits.
    """
    configured = os.environ.get(CACHE_DIR_VARIABLE)
    if configured:
        path = Path(configured).expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        yield PluginCache(path, temporary=False)
        return
    with tempfile.TemporaryDirectory(prefix="tfscaffold-plugins-") as folder:
        log.debug("created the temporary plugin cache %s", folder)
        yield PluginCache(Path(folder), temporary=True)
