"""Every command the Markdown files show still runs with the flags it names (issue 17).

For each documented command (`doc_commands.py` says which are read): the console script is in
`setup.py` and its module imports, a script file exists, a `make` target is in the Makefile,
every `--flag` (and `--noflag`, for a boolean) is one that program defines
(`program_flags.py` says how that is read), an enum flag's literal value is one of its
choices, and for `poison-tf-pipeline` (and `poison-tf-demo`) `--pipeline` names a pipeline and
`--preset` one of its presets. A study's flags are the run flags (`pipelines/common.py`) and
the fields of *that* study's config: another study's field is a flag absl accepts but this
study ignores. A stage program's flags are `--component`, `--output_dir` and the inputs and
parameters of the component `--component` picks (the first by default), the ones
`poison_tf.dag.stage_cli.run_stage` reads. A flag named in prose, outside any command
(`--nocache` recomputes ...), must be a flag of some program. Every failure names the file, the
line and the flag.
"""

from __future__ import annotations

import collections

import pytest
from doc_commands import (
    SCRIPT_DIRS,
    SELECTORS,
    Command,
    commands_in,
    documented_commands,
    flag_words,
    is_literal,
    selector,
)
from program_flags import make_targets, read_program_flags, script_flags
from shared_data import REPO_ROOT


def allowed_flags(command: Command, info: dict, builtins: dict) -> tuple[dict, str, list[str]]:
    """The flags `command` may use, its program as messages name it, and problems of its
    `--pipeline`, `--preset` or `--component`."""
    problems = []
    if info["kind"] == "flags":
        return builtins | info["flags"], command.program, problems
    if info["kind"] == "stage":
        chosen = info["default"]
        component, line = selector(command.args, "component")
        if is_literal(component):
            chosen = info["aliases"].get(component, component)
            if chosen not in info["components"]:
                names = ", ".join([*info["components"], *info["aliases"]])
                problems.append(
                    f"{command.where(line)}: --component={component}: not a component of "
                    f"{command.program} (components: {names})"
                )
                chosen = info["default"]
        return (
            builtins | info["components"][chosen],
            f"{command.program} --component={chosen}",
            problems,
        )
    pipelines = info["pipelines"]
    chosen = info["studies"] if info["kind"] == "demo" else list(pipelines)
    description = f"{command.program} (pipelines {', '.join(chosen)})"
    pipeline, line = selector(command.args, "pipeline")
    if is_literal(pipeline):
        if pipeline in pipelines:
            chosen, description = [pipeline], f"{command.program} --pipeline={pipeline}"
        else:
            problems.append(
                f"{command.where(line)}: --pipeline={pipeline}: not a pipeline of "
                f"{command.program} (pipelines: {', '.join(pipelines)})"
            )
    allowed = builtins | info["run_flags"]
    for name in chosen:
        allowed |= pipelines[name]["flags"]
    preset, line = selector(command.args, "preset")
    if info["kind"] == "demo":
        allowed.pop("preset", None)  # the demo runs each study's `demo` preset
    elif is_literal(preset):
        presets = sorted({p for name in chosen for p in pipelines[name]["presets"]})
        if preset not in presets:
            problems.append(
                f"{command.where(line)}: --preset={preset}: not a preset of {description} "
                f"(presets: {', '.join(presets)})"
            )
    return allowed, description, problems


def check_flags(command: Command, allowed: dict, description: str) -> list[str]:
    """Problems of the `--flag` words of `command`, given the flags it may use."""
    problems = []
    for name, value, line in flag_words(command.args):
        where = command.where(line)
        flag = allowed.get(name)
        if flag is None and name.startswith("no") and name[2:] in allowed:
            if not allowed[name[2:]]["boolean"]:
                problems.append(f"{where}: --{name}: --{name[2:]} of {description} is not boolean")
            continue
        if flag is None:
            problems.append(f"{where}: --{name}: not a flag of {description}")
            continue
        choices = flag["enum"]
        if choices and name not in SELECTORS and is_literal(value) and value not in choices:
            problems.append(
                f"{where}: --{name}={value}: not one of {', '.join(choices)} ({description})"
            )
    return problems


def any_program_flags(programs: dict, builtins: dict) -> dict:
    """Every flag of every console script (each pipeline, each component) and script; boolean
    if it is anywhere (`--nosteps`)."""
    if id(programs) in _ANY_PROGRAM:
        return _ANY_PROGRAM[id(programs)]
    sets = [builtins]
    for info in programs.values():
        if info.get("kind") == "flags":
            sets.append(info["flags"])
        elif info.get("kind") == "stage":
            sets += info["components"].values()
        elif "pipelines" in info:
            sets += [info["run_flags"], *(study["flags"] for study in info["pipelines"].values())]
    for folder in SCRIPT_DIRS:
        sets += [script_flags(path)[0] for path in sorted((REPO_ROOT / folder).glob("*.py"))]
    every: dict[str, dict] = {}
    for flags in sets:
        for name, flag in flags.items():
            boolean = flag["boolean"] or every.get(name, {}).get("boolean", False)
            every[name] = {"boolean": boolean, "enum": None}
    return _ANY_PROGRAM.setdefault(id(programs), every)


_ANY_PROGRAM: dict[int, dict] = {}  # id(programs) → any_program_flags(programs)


def check_command(command: Command, programs: dict, builtins: dict) -> list[str]:
    """Every problem of one documented command, each starting with its file:line."""
    if command.kind == "prose":
        return check_flags(command, any_program_flags(programs, builtins), "any program")
    if command.kind == "make":
        targets = make_targets()
        return [
            f"{command.where(line)}: make {word}: no such target in the Makefile"
            for word, line in command.args
            if not word.startswith("-") and "=" not in word and word not in targets
        ]
    if command.kind == "script":
        path = REPO_ROOT / command.program
        if not path.is_file():
            return [f"{command.where()}: {command.program}: no such script"]
        defined, problems = script_flags(path)
        return problems + check_flags(command, builtins | defined, command.program)
    info = programs.get(command.program)
    if info is None:
        return [f"{command.where()}: {command.program}: not a console script of setup.py"]
    if "error" in info:
        return [f"{command.where()}: {command.program}: its module does not load: {info['error']}"]
    allowed, description, problems = allowed_flags(command, info, builtins)
    return problems + check_flags(command, allowed, description)


def problems_of(commands: list[Command], flags: dict) -> list[str]:
    """Every problem of `commands`, once each (a span of flags repeats its command's selectors)."""
    found = [p for c in commands for p in check_command(c, flags["programs"], flags["builtins"])]
    return list(dict.fromkeys(found))


COMMANDS = documented_commands()


@pytest.fixture(scope="module")
def program_flags() -> dict:
    """Every console script's flags, read once in a fresh interpreter."""
    return read_program_flags()


def test_the_documents_show_commands() -> None:
    """The reader finds the commands, so that the checks below cannot pass on nothing."""
    counts = collections.Counter(command.doc for command in COMMANDS)
    for doc in ("README.md", "BUILD.md", "RESULTS.md", "BENCHMARKS.md"):
        assert counts[doc] >= 3, f"{doc}: {counts[doc]} commands found"
    programs = {command.program for command in COMMANDS}
    for program in ("poison-tf-pipeline", "poison-tf-demo", "poison-tf-import", "poison-tf-export"):
        assert program in programs
    assert {command.kind for command in COMMANDS} == {"console", "script", "make", "prose"}


@pytest.mark.parametrize(
    "program", sorted({command.program for command in COMMANDS}), ids=lambda p: p or "prose"
)
def test_documented_commands_use_its_flags(program: str, program_flags: dict) -> None:
    """Each program's documented commands: the program exists, and so do its flags and presets
    (for "prose": each flag named outside a command is some program's)."""
    problems = problems_of([c for c in COMMANDS if c.program == program], program_flags)
    assert not problems, "documented commands that no longer work:\n" + "\n".join(problems)


def test_a_bad_flag_preset_or_script_is_named_with_its_line(program_flags: dict) -> None:
    """The checks can fail, and say where: made-up flags, preset, pipeline, script, target."""
    text = "\n".join(
        [
            "```bash",
            ".venv/bin/poison-tf-pipeline --pipeline=badnets_regression --preset=demo \\",
            "    --no_such_flag=1 --strategy=no_such_strategy   # --in_a_comment=1 is not read",
            "PYTHONPATH=$PWD .venv/bin/poison-tf-pipeline --pipeline=badnets_regression "
            "--preset=no_such_preset",
            "```",
            "Inline: `poison-tf-pipeline --pipeline=no_such_pipeline`, `benchmarks/no_such.py`,",
            "`make no_such`, `poison-tf-train --output_dir=x",
            "--nowidth`; e.g. `--no_such_either`.",
            "",
            "Alone: `--nocache` and `--no_such_anywhere`.",
        ]
    )
    problems = problems_of(commands_in(text, REPO_ROOT / "README.md"), program_flags)
    pipelines = program_flags["programs"]["poison-tf-pipeline"]["pipelines"]
    presets = ", ".join(sorted(pipelines["badnets_regression"]["presets"]))
    assert problems == [
        "README.md:3: --no_such_flag: not a flag of poison-tf-pipeline --pipeline=badnets_regression",
        "README.md:3: --strategy=no_such_strategy: not one of default, mirrored, multi_worker, tpu "
        "(poison-tf-pipeline --pipeline=badnets_regression)",
        "README.md:4: --preset=no_such_preset: not a preset of poison-tf-pipeline "
        f"--pipeline=badnets_regression (presets: {presets})",
        "README.md:6: --pipeline=no_such_pipeline: not a pipeline of poison-tf-pipeline "
        f"(pipelines: {', '.join(pipelines)})",
        "README.md:6: benchmarks/no_such.py: no such script",
        "README.md:7: make no_such: no such target in the Makefile",
        "README.md:8: --nowidth: --width of poison-tf-train --component=headpose is not boolean",
        "README.md:8: --no_such_either: not a flag of poison-tf-train --component=headpose",
        "README.md:10: --no_such_anywhere: not a flag of any program",
    ], problems
