"""The exception tree every layer raises, so callers can branch on what went wrong."""


class StartpointsError(Exception):
    """Base of every error this package raises on purpose; its message names the thing concerned."""


class BadReference(StartpointsError):
    """An image reference does not follow Docker's grammar or the `oci:PATH[:NAME]` form."""


class InvalidStartPoint(StartpointsError):
    """A start point (or a set of them) breaks the manifest rules; `problems` lists each one."""

    def __init__(self, message: str, problems: list[object]) -> None:
        super().__init__(message)
        self.problems = problems


class CheckerFaults(InvalidStartPoint):
    """Faults as cyber-dojo's create-script checkers report them (core/script_checks.py):
    their lines, and the exit code they give."""

    def __init__(self, lines: list[str], code: int) -> None:
        super().__init__(f"cyber-dojo's checks fail with exit code {code}", [])
        self.lines = lines
        self.code = code


class NotFound(StartpointsError):
    """An image, manifest or blob is absent from its store."""


class TagConflict(StartpointsError):
    """A tag already names other content: tags are never overwritten."""


class StoreError(StartpointsError):
    """A registry or layout failed to answer properly (unreachable, 5xx, bad digest, refused)."""


class Unreachable(StoreError):
    """A registry could not be reached at all (refused, unresolvable, timed out, TLS)."""

    def __init__(self, host: str, cause: str) -> None:
        super().__init__(f"{host}: unreachable ({cause})")
        self.host = host
        self.cause = cause


class GitError(StartpointsError):
    """A git repository could not be read (not a repo, unknown commit, git failed); `output`
    is what git itself said, where it said something (credentials in URLs redacted)."""

    def __init__(self, message: str, output: str | None = None, *, checkout: bool = False) -> None:
        super().__init__(message)
        self.output = output
        self.checkout = checkout  # cloned, but the commit is not there: `git checkout` failed


class UnsafeContent(StartpointsError):
    """A tree or archive holds something that must not be packed or unpacked (links leaving it, devices)."""


class InUse(StoreError):
    """An image a container uses: a runtime refused to remove it."""


class Denied(StoreError):
    """A registry refused a pull for want of credentials, or refused the ones sent: a matter
    for the whole registry, not one image."""

    def __init__(self, registry: str, credentials: bool, detail: str) -> None:
        self.registry = registry
        self.reason = (
            f"denied (the credentials for {registry} were refused)"
            if credentials
            else f"denied (no credentials for {registry})"
        )
        super().__init__(f"{registry}: {self.reason}: {detail}")
