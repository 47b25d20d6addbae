"""Running `poison-tf-pipeline` in the test process, shared by the pipeline tests."""

from __future__ import annotations

import json
import pathlib

from cli_runner import run_program

from pipelines import main as pipeline_main


def run_cli(argv: list[str]) -> int:
    """Runs `poison-tf-pipeline *argv` with the CLI's exit contract; returns the exit status."""
    return run_program(pipeline_main.main, "poison-tf-pipeline", argv)


def run_into(tmp_path: pathlib.Path, argv: list[str]) -> pathlib.Path:
    """Runs the pipeline with `argv` into `tmp_path/run`; asserts exit status 0; returns the folder."""
    out = tmp_path / "run"
    assert run_cli([*argv, f"--output_dir={out}"]) == 0
    return out


def rerun_is_fully_cached(argv: list[str], out: pathlib.Path) -> bool:
    """Runs the same command again; True when every component came from the cache."""
    log = out / ".pipeline" / "executions.jsonl"
    first = len(log.read_text().splitlines())
    assert run_cli(argv) == 0
    second = [json.loads(line) for line in log.read_text().splitlines()[first:]]
    return bool(second) and all(entry["cached"] for entry in second)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def exits_2_with_one_error(argv: list[str], capture, message: str) -> bool:
    """Runs the pipeline; True when it exits 2 with exactly one `error:` line holding `message`."""
    status = run_cli(argv)
    errors = error_lines(capture.readouterr().err)
    return status == 2 and len(errors) == 1 and message in errors[0]
