"""What the documented programs define: flags, presets, Makefile targets (test_documented_commands).

The console scripts' flags come from one fresh interpreter (`python tests/program_flags.py`)
that imports every entry module of `setup.py` (nothing is trained or run) and reads absl's
registry: the flags absl and TensorFlow define are every program's; a stage program
(`poison-tf-<stage>`) defines its flags when it starts (`poison_tf.dag.stage_cli`), so each
stage's are defined there, read and deleted again (stages share names); `pipelines.main`
defines every study's flags, and a study's own are the fields of its config dataclass
(`pipelines.config_flags`), beside the run flags. Scripts under `benchmarks/` and
`experiments/` define their flags at module level and are read with `ast` without running them
(a `DEFINE_*` whose name is not a literal is reported rather than guessed).
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

from shared_data import REPO_ROOT

STAGE_MODULE = "poison_tf.components.stages"  # poison-tf-<stage>: flags defined at start
PIPELINE_MODULE = "pipelines.main"  # poison-tf-pipeline: flags depend on --pipeline
DEMO_MODULE = "pipelines.demo"  # poison-tf-demo: pipelines.main's flags, each study's demo preset
CONFIG_FLAGS_MODULE = "pipelines.config_flags"  # defines the studies' config-field flags


def console_scripts() -> dict[str, tuple[str, str]]:
    """setup.py's console scripts: name → (module, function)."""
    tree = ast.parse((REPO_ROOT / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "CONSOLE_SCRIPTS"
            for target in node.targets
        ):
            entries = ast.literal_eval(node.value)
            break
    else:
        raise AssertionError("setup.py: no CONSOLE_SCRIPTS list (this test reads it)")
    scripts = {}
    for entry in entries:
        name, target = (part.strip() for part in entry.split("="))
        module, function = target.split(":")
        scripts[name] = (module, function)
    return scripts


def make_targets() -> set[str]:
    """The Makefile's literal targets."""
    targets = set()
    for line in (REPO_ROOT / "Makefile").read_text().splitlines():
        rule = re.match(r"([^\s:=#][^:=]*?)\s*::?(?!=)", line)
        if rule:
            targets.update(t for t in rule[1].split() if "$" not in t and "%" not in t)
    return targets


def _helper_flags(path: pathlib.Path, tree: ast.Module) -> dict[str, dict[str, dict]]:
    """Function name → the flags it defines, for the functions a script imports from a module
    beside it (`from benchmark_flags import define_repeats`): flags defined by a shared helper
    are the script's flags too."""
    found: dict[str, dict[str, dict]] = {}
    for node in ast.walk(tree):
        sibling = path.parent / f"{getattr(node, 'module', '')}.py"
        if not isinstance(node, ast.ImportFrom) or node.level or not sibling.is_file():
            continue
        imported = {alias.asname or alias.name: alias.name for alias in node.names}
        for function in ast.parse(sibling.read_text()).body:
            if isinstance(function, ast.FunctionDef) and function.name in imported.values():
                module = ast.Module(body=function.body, type_ignores=[])
                flags_of, _ = _defined_flags(sibling, module, {})
                found.update(
                    (alias, flags_of) for alias, name in imported.items() if name == function.name
                )
    return found


def script_flags(path: pathlib.Path) -> tuple[dict[str, dict], list[str]]:
    """The flags a script defines with `flags.DEFINE_*` (read with ast, not run), and problems."""
    tree = ast.parse(path.read_text())
    return _defined_flags(path, tree, _helper_flags(path, tree))


def _defined_flags(
    path: pathlib.Path, tree: ast.Module, helpers: dict[str, dict[str, dict]]
) -> tuple[dict[str, dict], list[str]]:
    """The `flags.DEFINE_*` calls in `tree`, and the flags of the `helpers` it calls."""
    defined: dict[str, dict] = {}
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        called = getattr(function, "attr", None) or getattr(function, "id", None) or ""
        if called in helpers:
            defined.update(helpers[called])
            continue
        if not re.fullmatch(r"DEFINE(_\w+)?", called):
            continue
        keywords = {keyword.arg: keyword.value for keyword in node.keywords}
        position = 1 if called == "DEFINE" else 0
        name = keywords.get("name", node.args[position] if len(node.args) > position else None)
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            problems.append(
                f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {called} with a name that is not a "
                "literal: this test reads script flags without running the script"
            )
            continue
        choices = None
        if called == "DEFINE_enum":
            values = keywords.get("enum_values", node.args[2] if len(node.args) > 2 else None)
            try:
                choices = list(ast.literal_eval(values))
            except (ValueError, TypeError, SyntaxError):
                choices = None
        boolean = called in ("DEFINE_bool", "DEFINE_boolean")
        if (
            called == "DEFINE_alias"
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
        ):
            boolean = defined.get(node.args[1].value, {}).get("boolean", False)
        defined[name.value] = {"boolean": boolean, "enum": choices}
    return defined, problems


def probe(scripts: dict[str, tuple[str, str]]) -> dict:
    """Runs in a fresh interpreter: imports each console script's module, reads its flags."""
    import importlib
    import traceback

    import absl.logging  # noqa: F401 (its flags are every program's)
    import tensorflow  # noqa: F401 (so are the flags TensorFlow defines when imported)
    from absl import app, flags

    registry = flags.FLAGS
    app.define_help_flags()  # app.run defines these in every program

    def snapshot() -> dict:
        return {name: registry[name] for name in list(registry)}

    def defined_since(before: dict) -> dict:
        return {name: flag for name, flag in snapshot().items() if before.get(name) is not flag}

    def describe(flag) -> dict:
        choices = getattr(flag.parser, "enum_values", None)
        return {"boolean": bool(flag.boolean), "enum": list(choices) if choices else None}

    def described(found: dict) -> dict:
        return {name: describe(flag) for name, flag in found.items()}

    builtins = described(snapshot())
    for special in ("flagfile", "undefok"):  # parsed by FlagValues itself
        builtins.setdefault(special, {"boolean": False, "enum": None})
    programs: dict[str, dict] = {}
    by_module: dict[str, list[tuple[str, str]]] = {}
    for name, (module, function) in scripts.items():
        by_module.setdefault(module, []).append((name, function))

    def load(module: str, function: str):
        loaded = importlib.import_module(module)
        source = pathlib.Path(loaded.__file__).resolve()
        if REPO_ROOT not in source.parents:
            raise AssertionError(f"{module} imported from {source}, not from this checkout")
        if not callable(getattr(loaded, function, None)):
            raise AssertionError(f"{module} has no function {function!r}")
        return loaded

    def guarded(name: str, work) -> None:
        try:
            programs[name] = work()
        except Exception:  # noqa: BLE001 (reported as the program's problem)
            programs[name] = {"error": traceback.format_exc(limit=3).strip().splitlines()[-1]}

    # Stages first: a stage program defines its flags when it starts (stage_cli), with names that
    # other stages and the pipelines share, so each stage's are defined here, read and deleted.
    stage_entries = by_module.pop(STAGE_MODULE, [])
    before = snapshot()
    try:
        stages, stages_error = importlib.import_module(STAGE_MODULE), ""
    except Exception:  # noqa: BLE001 (each stage program reports it)
        stages, stages_error = None, traceback.format_exc(limit=3).strip().splitlines()[-1]
    at_import = defined_since(before)  # flags that importing the stages defines (none today)
    for name, function in stage_entries:

        def stage_flags(function=function) -> dict:
            if stages is None:
                raise AssertionError(stages_error)
            from poison_tf.dag.stage_cli import define_stage_flags

            load(STAGE_MODULE, function)
            components = stages.STAGES[function]
            ready = snapshot()
            define_stage_flags(function, components, stages.ALIASES.get(function))
            new = defined_since(ready)
            for flag_name in new:
                delattr(registry, flag_name)
                if flag_name in ready:
                    registry[flag_name] = ready[flag_name]
            specs = {
                key: set(cls.SPEC_CLASS.INPUTS) | set(cls.SPEC_CLASS.PARAMETERS)
                for key, cls in components.items()
            }
            every_spec = set().union(*specs.values())
            stage_wide = {n: f for n, f in new.items() if n not in every_spec} | at_import
            return {
                "kind": "stage",
                "default": next(iter(components)),
                "aliases": dict(stages.ALIASES.get(function, {})),
                "components": {
                    key: described(stage_wide | {n: new[n] for n in names if n in new})
                    for key, names in specs.items()
                },
            }

        guarded(name, stage_flags)

    # The studies: every pipeline's flags are defined when pipelines.main is imported; a study
    # uses the run flags (those not made from a config field) and its own config's fields.
    studies: dict = {}
    for name, function in by_module.pop(PIPELINE_MODULE, []):

        def pipeline_flags(function=function) -> dict:
            before = snapshot()
            main = load(PIPELINE_MODULE, function)
            new = defined_since(before)
            run_flags = {
                n: f
                for n, f in new.items()
                if registry.find_module_defining_flag(n) != CONFIG_FLAGS_MODULE
            }
            pipelines = {}
            for study, study_module in main.PIPELINES.items():
                loaded = importlib.import_module(study_module)
                config = type(next(iter(loaded.PRESETS.values())))
                fields = [f.name for f in dataclasses.fields(config) if f.metadata.get("flag")]
                pipelines[study] = {
                    "flags": described({n: registry[n] for n in fields}),
                    "presets": list(loaded.PRESETS),
                }
            studies.update(run_flags=described(run_flags), pipelines=pipelines)
            return {"kind": "pipeline", **studies}

        guarded(name, pipeline_flags)
    for name, function in by_module.pop(DEMO_MODULE, []):

        def demo_flags(function=function) -> dict:
            demo = load(DEMO_MODULE, function)
            if not studies:
                raise AssertionError(f"{DEMO_MODULE} runs {PIPELINE_MODULE}'s studies: load it")
            return {"kind": "demo", "studies": list(demo.STUDIES), **studies}

        guarded(name, demo_flags)

    # The other programs define their flags when imported (shared names: allow_override).
    for module, entries in by_module.items():
        for name, function in entries:

            def module_flags(module=module, function=function) -> dict:
                before = snapshot()
                load(module, function)
                return {"kind": "flags", "flags": described(defined_since(before))}

            guarded(name, module_flags)
    return {"builtins": builtins, "programs": programs}


def read_program_flags() -> dict:
    """{"builtins": flags, "programs": {console script: its flags}}, from a fresh interpreter."""
    with tempfile.TemporaryDirectory() as folder:
        out = pathlib.Path(folder) / "flags.json"
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        done = subprocess.run(
            [sys.executable, __file__, json.dumps(console_scripts()), str(out)],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            raise AssertionError(f"reading the programs' flags failed:\n{done.stderr[-4000:]}")
        return json.loads(out.read_text())


if __name__ == "__main__":  # the fresh interpreter of read_program_flags
    pathlib.Path(sys.argv[2]).write_text(json.dumps(probe(json.loads(sys.argv[1]))))
