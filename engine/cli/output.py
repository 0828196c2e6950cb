"""What the commands print on the terminal (stderr; ``--json`` lines go to stdout).

User text (paths, camera names, messages that quote them) is printed as plain text: no rich
markup, emoji codes or highlighting is read in it, so ``take[red]1`` or ``0:100:20`` print as
they are. Only the prefixes are coloured.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

# soft_wrap: a long message stays one line (a log or a test reads it whole)
console = Console(stderr=True, markup=False, emoji=False, highlight=False, soft_wrap=True)


def error(message: str) -> None:
    console.print(Text("error: ", style="red") + Text(str(message)))


def note(message: str) -> None:
    console.print(Text("note: ", style="yellow") + Text(str(message)))


def warn(message: str, prefix: str = "failed: ") -> None:
    console.print(Text(prefix, style="yellow") + Text(str(message)))


def say(message: str) -> None:
    console.print(Text(str(message)))


def styled(text: str, style: str) -> Text:
    """``text`` (user text included) in ``style``, for a table cell."""
    return Text(str(text), style=style)
