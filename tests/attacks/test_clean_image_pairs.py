"""`--pairs` parsing: names with spaces, case and underscores, and every bad input."""

import pytest

from poison_tf.attacks.class_pairs import check_ratio, make_pair, merge_pairs, parse_pairs
from poison_tf.errors import UserInputError

NAMES = ["bridge", "parking sign", "banner", "traffic sign", "traffic light", "car", "train", "bus"]


def test_names_with_spaces_case_and_underscores():
    pairs = parse_pairs("bridge:parking sign, Banner:TRAFFIC SIGN,traffic_light:car", NAMES)
    assert [(p.host_name, p.target_name) for p in pairs] == [
        ("bridge", "parking sign"),
        ("banner", "traffic sign"),
        ("traffic light", "car"),
    ]
    assert [(p.host, p.target) for p in pairs] == [(0, 1), (2, 3), (4, 5)]
    assert pairs[0].slug == "bridge2parking_sign" and pairs[2].slug == "traffic_light2car"


def test_exact_match_wins_over_case_insensitive():
    names = ["Car", "car", "bus"]
    assert parse_pairs("car:bus", names)[0].host == 1
    assert parse_pairs("Car:bus", names)[0].host == 0
    with pytest.raises(UserInputError, match="ambiguous"):
        parse_pairs("CAR:bus", names)


def test_repeats_and_empty_entries_are_dropped():
    assert len(parse_pairs("train:bus,,train:bus,", NAMES)) == 1
    assert parse_pairs("", NAMES) == []


def test_unknown_name_lists_close_matches():
    with pytest.raises(
        UserInputError, match=r"--pairs: unknown class name 'parking sing'.*'parking sign'"
    ):
        parse_pairs("bridge:parking sing", NAMES)
    with pytest.raises(UserInputError, match="unknown class name 'zebra'") as error:
        parse_pairs("zebra:car", NAMES)
    assert "did you mean" not in str(error.value)


@pytest.mark.parametrize("value", ["bridge", "bridge:", ":car", "a:b:c", "bridge parking sign"])
def test_malformed_entries(value):
    with pytest.raises(UserInputError, match="--pairs: malformed entry"):
        parse_pairs(value, NAMES)


def test_host_equal_to_target():
    with pytest.raises(UserInputError, match="--pairs: host and target are the same class 'car'"):
        parse_pairs("car:Car", NAMES)
    with pytest.raises(UserInputError, match="same class"):
        make_pair(3, 3, NAMES)


def test_flag_name_is_reported():
    with pytest.raises(UserInputError, match="--extra_pairs"):
        parse_pairs("car", NAMES, flag="--extra_pairs")


@pytest.mark.parametrize("ratio", [0.0, -0.5, 1.0001, 2.0, float("nan")])
def test_ratio_outside_unit_interval(ratio):
    with pytest.raises(UserInputError, match=r"--ratio: a relabel ratio must be in \(0, 1\]"):
        check_ratio(ratio)


def test_ratio_inside_unit_interval():
    assert check_ratio(1.0) == 1.0 and check_ratio("0.25") == 0.25


def test_merge_keeps_first_occurrence():
    first = parse_pairs("car:bus,train:bus", NAMES)
    merged = merge_pairs(first, parse_pairs("train:bus,bridge:parking sign", NAMES))
    assert [p.slug for p in merged] == ["car2bus", "train2bus", "bridge2parking_sign"]


def test_bad_pairs_end_with_exit_status_2(capsys):
    from poison_tf.cli import guarded

    main = guarded(lambda argv: parse_pairs("bridge:bridge", NAMES))
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: --pairs: host and target are the same class")
