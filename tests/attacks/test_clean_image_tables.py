"""The instance-difference table: the study's counts, rows and Markdown layout."""

import re

import numpy as np
import pandas as pd
import pytest
from shared_data import shared_path

from poison_tf.attacks.class_pairs import make_pair
from poison_tf.poison.relabel_plan import InstanceTable, plan_relabel
from poison_tf.report.clean_image_tables import (
    attack_table,
    comparison_markdown,
    github_table,
    instance_difference_table,
    pair_section,
)

NAMES = ["bridge", "parking sign", "car"]


def test_table_from_a_plan_has_target_then_host():
    rng = np.random.default_rng(0)
    classes = rng.integers(0, 3, size=500)
    table = InstanceTable(
        np.arange(500), classes, [f"{i // 5}" for i in range(500)], np.arange(500) % 5 + 1
    )
    plan = plan_relabel(table, make_pair("bridge", "parking sign", NAMES), 0.5, seed=0)
    frame = instance_difference_table(plan)
    assert list(frame.columns) == ["Name", "Initial Count", "Final Count"]
    assert list(frame["Name"]) == ["parking sign", "bridge"]
    host, target = (classes == 0).sum(), (classes == 1).sum()
    assert list(frame["Initial Count"]) == [target, host]
    assert list(frame["Final Count"]) == [target + plan.count, host - plan.count]
    assert frame["Initial Count"].sum() == frame["Final Count"].sum()
    section = pair_section(plan)
    assert section.startswith("**bridge2parking_sign**\n\n| Name ")


def test_github_layout():
    frame = pd.DataFrame({"Name": ["a", "longer name"], "Count": [5, 12345], "Δ": [0.5, -0.01234]})
    lines = github_table(frame).splitlines()
    assert len({len(line) for line in lines}) == 1  # a rectangle
    assert re.fullmatch(r"\|-+\|-+\|-+\|", lines[1])
    assert lines[2].startswith("| a           |") and lines[3].startswith("| longer name |")
    assert lines[2].split("|")[2].endswith("5 ") and lines[0].split("|")[2].endswith("Count ")
    assert "-0.01234" in lines[3]


def test_comparison_and_attack_markdown():
    comparison = pd.DataFrame(
        {
            "Class": ["all", "bridge"],
            "Role": ["", "host"],
            "ΔBox(P)": [0.0123456, -0.25],
            "ΔMask(P)": [float("nan"), 0.1],
        }
    )
    text = comparison_markdown(comparison)
    assert "0.0123 " in text and "-0.25" in text and "nan" not in text
    frame = attack_table([{"Host": "traffic light", "Target": "car", "box_success": 0.5}])
    assert list(frame.columns) == ["Pair", "Host", "Target", "box_success"]
    assert frame["Pair"][0] == "traffic_light2car"


@pytest.mark.real_data
def test_reproduces_every_table_of_the_study():
    """Real data: every instance-difference table of both write-ups, rebuilt from its counts."""
    texts = [
        shared_path("studies", name).read_text()
        for name in ("000_38a15e9f13d2baa0.txt", "001_8b38e0e6e5e8265f.txt")
    ]
    blocks = re.findall(r"\| Name +\|.*\n\|-+\|.*\n(?:\|.*\n){2}", "\n".join(texts))
    assert len(blocks) >= 8
    for block in blocks:
        rows = [[c.strip() for c in line.strip("|").split("|")] for line in block.splitlines()[2:]]
        counts = {name: (int(initial), int(final)) for name, initial, final in rows}
        assert github_table(instance_difference_table(counts)) == block.strip()
