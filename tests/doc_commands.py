"""The project's commands, read out of its Markdown files (for test_documented_commands.py).

Read: the top-level `*.md` files and the READMEs of the top-level folders; in them fenced shell
blocks (```` ``` ```` or ```` ```bash ````), indented code blocks, and inline code spans that
start with a command. Backslash continuations are joined, shell comments dropped, `VAR=value`,
`nice -n N` and `time` prefixes skipped, and `;`, `|`, `&&` split commands. A span of flags
alone (`--repeats=4`, a table row's flags under a header naming the command) continues the
command of its paragraph or table; one outside any command (`--nocache` recomputes ...) is kept
as a "prose" command, whose flags must be some program's. The commands kept are the console scripts of `setup.py`
(`poison-tf-*`, with or without a `.venv/bin/` prefix), `python benchmarks/X.py` /
`python experiments/X.py` (also written without `python`), and `make <target>`.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re

from shared_data import REPO_ROOT

SHELL_LANGUAGES = {"", "bash", "sh", "shell", "console", "zsh"}
SCRIPT_DIRS = ("benchmarks", "experiments")
PLACEHOLDER = re.compile(r"[<>$*{}|…]|\.\.\.")  # a value written as a placeholder, not checked
NEW_PARAGRAPH = re.compile(r"\s*(?:[-*+]|\d+[.)])\s|#")  # a list item or a heading
SELECTORS = {"pipeline", "preset", "component"}  # flags that choose what the other flags mean
CONSOLE = re.compile(r"poison-tf-[a-z0-9]+(?:-[a-z0-9]+)*")
ABSL_FLAG = re.compile(r"--\w+(?:=|$)")  # absl names have no '-': `--no-deps` is pip's
PYTHON = re.compile(r"python(?:3(?:\.\d+)?)?")


@dataclasses.dataclass
class Command:
    """One documented command: where it is, which program, and its words after the program."""

    doc: str
    line: int
    kind: str  # "console", "script", "make", or "prose" (flags named outside a command)
    program: str  # the console script's name, the script's repo-relative path, "make" or ""
    args: list[tuple[str, int]]  # (word, line of the word)

    def where(self, line: int | None = None) -> str:
        return f"{self.doc}:{line or self.line}"


def documents() -> list[pathlib.Path]:
    """The top-level Markdown files and the top-level folders' READMEs."""
    found = sorted(REPO_ROOT.glob("*.md")) + sorted(REPO_ROOT.glob("*/README.md"))
    return [p for p in found if not p.relative_to(REPO_ROOT).parts[0].startswith(".")]


def code_regions(text: str) -> list[tuple[str, int, bool, tuple[int, int] | None]]:
    """(text, first line, is a block, context) of every shell block and inline code span.

    The context, (paragraph, table header row) of an inline span, tells which spans go
    together: a span of flags alone (`--repeats=4`) continues the last command of its paragraph
    (a table row), or else the command of its table's header row. Blocks and headings have
    none: a heading's spans name things (`benchmarks/ray_sweep.py`: `--runner=local` vs ...).
    """
    regions: list[tuple[str, int, bool, tuple[int, int] | None]] = []
    prose: list[str] = []  # the text outside blocks, blocks blanked (line numbers kept)
    lines = text.split("\n")
    fence, language, block, block_start = "", "", [], 0
    indented: list[str] = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if fence:
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                if language in SHELL_LANGUAGES:
                    regions.append(("\n".join(block), block_start, True, None))
                fence = ""
            else:
                block.append(line)
            prose.append("")
            continue
        opening = re.match(r"\s*(`{3,}|~{3,})\s*([\w+-]*)", line)
        if opening:
            fence, language, block, block_start = opening[1], opening[2].lower(), [], number + 1
            prose.append("")
            continue
        previous_blank = number == 1 or not lines[number - 2].strip() or indented
        if line.startswith("    ") and stripped and previous_blank:
            if not indented:
                block_start = number
            indented.append(line[4:])
            prose.append("")
            continue
        if indented:
            regions.append(("\n".join(indented), block_start, True, None))
            indented = []
        prose.append(line)
    if indented:
        regions.append(("\n".join(indented), block_start, True, None))
    # Per line: (its paragraph, the header row of its table, else the paragraph). Blank lines,
    # blocks, list items and headings start a paragraph; each table row is one.
    contexts, number = [(0, 0)], 0
    for index, line in enumerate(prose):
        row = line.lstrip().startswith("|")
        if not line.strip() or NEW_PARAGRAPH.match(line) or row:
            number += 1
        in_table = row and index > 0 and prose[index - 1].lstrip().startswith("|")
        contexts.append((number, contexts[-1][1] if in_table else number))
    joined = "\n".join(prose)
    for span in re.finditer(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", joined, re.DOTALL):
        if "\n\n" not in span[2]:
            line = joined.count("\n", 0, span.start(2)) + 1
            heading = prose[line - 1].lstrip().startswith("#")  # names things, e.g. `A` vs `--b`
            regions.append((span[2], line, False, None if heading else contexts[line]))
    return regions


def split_commands(text: str, first_line: int, block: bool) -> list[list[tuple[str, int]]]:
    """Shell words with their line numbers, one list per command.

    Quotes and backslashes as in a shell; a backslash-newline joins lines; `#` at the start of a
    word starts a comment; `;`, `|` and `&` end a command, and so does a newline in a block (in
    an inline span a newline is a space).
    """
    commands: list[list[tuple[str, int]]] = [[]]
    word: list[str] | None = None
    start = line = first_line
    quote = ""

    def end_word() -> None:
        nonlocal word
        if word is not None:
            commands[-1].append(("".join(word), start))
            word = None

    index = 0
    while index < len(text):
        char = text[index]
        index += 1
        if quote:
            if char == quote:
                quote = ""
            else:
                word.append(char)
                line += char == "\n"
            continue
        if char == "\\" and index < len(text):
            escaped = text[index]
            index += 1
            if escaped == "\n":
                line += 1
                continue
            if word is None:
                word, start = [], line
            word.append(escaped)
            continue
        if char in " \t\n":
            end_word()
            if char == "\n":
                line += 1
                if block:
                    commands.append([])
            continue
        if char == "#" and word is None:
            newline = text.find("\n", index)
            index = len(text) if newline < 0 else newline
            continue
        if char in ";|&":
            end_word()
            commands.append([])
            continue
        if word is None:
            word, start = [], line
        if char in "'\"":
            quote = char
        else:
            word.append(char)
    end_word()
    return [command for command in commands if command]


def classify(words: list[tuple[str, int]], doc: pathlib.Path) -> Command | None:
    """The command `words` runs, if it is one of the project's; None for anything else."""
    index = 0
    while index < len(words):  # VAR=value, nice -n 10, time, env ...
        word = words[index][0]
        if re.fullmatch(r"[A-Za-z_]\w*=.*", word) or word in ("time", "env", "exec"):
            index += 1
        elif word == "nice":
            index += 1
            if index < len(words) and words[index][0] == "-n":
                index += 2
            elif index < len(words) and re.fullmatch(r"-\d+", words[index][0]):
                index += 1
        else:
            break
    if index >= len(words):
        return None
    word, line = words[index]
    name = word.rsplit("/", 1)[-1]
    rest = words[index + 1 :]
    relative = str(doc.relative_to(REPO_ROOT))
    if CONSOLE.fullmatch(name):
        return Command(relative, line, "console", name, rest)
    if name == "make":
        return Command(relative, line, "make", "make", rest)
    if PYTHON.fullmatch(name):
        for position, (argument, _) in enumerate(rest):
            if argument in ("-m", "-c"):
                return None
            if not argument.startswith("-"):
                if not argument.endswith(".py") or PLACEHOLDER.search(argument):
                    return None
                path = pathlib.Path(argument.removeprefix("./"))
                if len(path.parts) == 1 and doc.parent != REPO_ROOT:
                    path = doc.parent.relative_to(REPO_ROOT) / path
                return Command(relative, line, "script", str(path), rest[position + 1 :])
        return None
    if re.fullmatch(rf"(?:\./)?(?:{'|'.join(SCRIPT_DIRS)})/[\w/.-]+\.py", word):
        return Command(relative, line, "script", word.removeprefix("./"), rest)
    return None


def commands_in(text: str, doc: pathlib.Path) -> list[Command]:
    """The project's commands in the Markdown `text` of `doc`, in order."""
    found = []
    last: dict[int, Command] = {}  # paragraph → its last inline command
    for region, first_line, block, context in code_regions(text):
        paragraph, header = context or (None, None)
        for words in split_commands(region, first_line, block):
            command = classify(words, doc)
            previous = last.get(paragraph) or last.get(header)
            flags_alone = not block and all(w.startswith("--") for w, _ in words)
            if command is None and flags_alone and previous and previous.kind != "make":
                selectors = [(w, n) for w, n in previous.args if w.split("=")[0][2:] in SELECTORS]
                command = dataclasses.replace(previous, line=words[0][1], args=selectors + words)
            elif command is None and flags_alone and all(ABSL_FLAG.match(w) for w, _ in words):
                # `--nocache` recomputes everything; `--no-deps` (pip's spelling) is not absl's
                found.append(
                    Command(str(doc.relative_to(REPO_ROOT)), words[0][1], "prose", "", words)
                )
            if command is not None:
                found.append(command)
                if not block and context:
                    last[paragraph] = command
    return found


def documented_commands() -> list[Command]:
    """Every project command of every document, in document order."""
    return [command for doc in documents() for command in commands_in(doc.read_text(), doc)]


def flag_words(args: list[tuple[str, int]]) -> list[tuple[str, str | None, int]]:
    """(name, value or None, line) of every `--flag` word (`[--flag]`, optional, counts too)."""
    found = []
    for word, line in args:
        if word.startswith("[--"):
            word = word[1:].rstrip("]")
        if word == "--":
            break
        if word.startswith("--") and len(word) > 2:
            name, equals, value = word[2:].partition("=")
            found.append((name, value if equals else None, line))
    return found


def selector(args: list[tuple[str, int]], name: str) -> tuple[str | None, int | None]:
    """(value, line) of `--name=value` or `--name value` among `args`; (None, None) if absent."""
    for position, (word, line) in enumerate(args):
        if word.startswith(f"--{name}="):
            return word.split("=", 1)[1], line
        if word == f"--{name}" and position + 1 < len(args):
            return args[position + 1][0], line
    return None, None


def is_literal(value: str | None) -> bool:
    """Whether a flag value is written out (not empty, not a placeholder such as `<dir>`)."""
    return bool(value) and not PLACEHOLDER.search(value)
