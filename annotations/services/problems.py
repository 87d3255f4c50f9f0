"""Import problems: one line each, naming file, line and field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, printable as `file:line: field "f": message`."""

    file: str
    line: int
    message: str
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        if self.field:
            return f'{where}: field "{self.field}": {self.message}'
        return f"{where}: {self.message}"


class ImportFailed(Exception):
    """Raised when an import has problems; nothing was written."""

    def __init__(self, problems: list[Problem], omitted: int = 0) -> None:
        self.problems = problems
        self.omitted = omitted
        super().__init__(str(problems[0]) if problems else "import failed")

    @property
    def lines(self) -> list[str]:
        """One line per problem, then how many more there were past the cap."""
        lines = [str(p) for p in self.problems]
        if self.omitted:
            lines.append(f"… and {self.omitted} more problems (the first {len(self.problems)} "
                         "are shown); nothing was imported")
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines)


class RowError(Exception):
    """A problem with one field of the row being read; the reader adds file and line."""

    def __init__(self, field: str | None, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(message)


MAX_PROBLEMS = 20


class ProblemList:
    """Collects problems up to a cap, so a broken file reports its first errors, not a flood."""

    def __init__(self, cap: int = MAX_PROBLEMS) -> None:
        self.items: list[Problem] = []
        self.cap = cap
        self.omitted = 0

    def add(self, problem: Problem) -> None:
        if len(self.items) < self.cap:
            self.items.append(problem)
        else:
            self.omitted += 1

    @property
    def full(self) -> bool:
        return len(self.items) >= self.cap

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise ImportFailed(list(self.items), self.omitted)
