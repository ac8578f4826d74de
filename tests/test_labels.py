"""--labels, --region, --label-names parsing and LabelSpec.resolve."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from segeval.errors import LabelSpecError, SegevalError
from segeval.labels import LabelSpec, ScoredClass, parse_labels, parse_region, read_label_names


def assert_one_line(exc: BaseException) -> None:
    assert isinstance(exc, SegevalError)
    assert "\n" not in str(exc) and str(exc)


# --------------------------------------------------------------------------- --labels


@pytest.mark.parametrize(
    "text, labels, names",
    [
        pytest.param("1,2,3", (1, 2, 3), {}, id="numbers"),
        pytest.param("liver=1,spleen=2", (1, 2), {1: "liver", 2: "spleen"}, id="named"),
        pytest.param("liver=1,2", (1, 2), {1: "liver"}, id="mixed"),
        pytest.param(" 3 , left kidney = 7 ", (3, 7), {7: "left kidney"}, id="spaces"),
        pytest.param("-1,0", (-1, 0), {}, id="negative-and-zero"),
        pytest.param("1,", (1,), {}, id="trailing-comma"),
    ],
)
def test_parse_labels(text: str, labels: tuple, names: dict) -> None:
    assert parse_labels(text) == (labels, names)


@pytest.mark.parametrize(
    "text, match",
    [
        pytest.param("1,x", r"'x' is not a whole number", id="not-a-number"),
        pytest.param("1.5", r"'1.5' is not a whole number", id="fraction"),
        pytest.param("=3", "empty name", id="empty-name"),
        pytest.param("1,2,1", "label 1 is listed twice", id="duplicate"),
        pytest.param("liver=1,spleen=1", "label 1 is listed twice", id="duplicate-named"),
        pytest.param("", "empty", id="empty"),
        pytest.param(" , ", "empty", id="only-commas"),
        pytest.param("liver=", "not a whole number", id="name-without-number"),
        pytest.param("1=liver", "'liver' is not a whole number", id="reversed"),
        pytest.param("2=3", "must not be a number", id="numeric-name"),
    ],
)
def test_bad_labels(text: str, match: str) -> None:
    with pytest.raises(LabelSpecError, match=match) as info:
        parse_labels(text)
    assert_one_line(info.value)
    assert str(info.value).startswith("--labels")


# --------------------------------------------------------------------------- --region


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("WT=1,2,3", ("WT", (1, 2, 3)), id="brats-wt"),
        pytest.param(" tumor core = 2, 3 ", ("tumor core", (2, 3)), id="spaces"),
        pytest.param("ET=3", ("ET", (3,)), id="single"),
    ],
)
def test_parse_region(text: str, expected: tuple) -> None:
    assert parse_region(text) == expected


@pytest.mark.parametrize(
    "text, match",
    [
        pytest.param("WT", "is not NAME=LABEL", id="no-equals"),
        pytest.param("=1,2", "is not NAME=LABEL", id="no-name"),
        pytest.param("WT=", "is not NAME=LABEL", id="no-members"),
        pytest.param("WT=,", "lists no labels", id="only-commas"),
        pytest.param("WT=1,x", "'x' is not a whole number", id="not-a-number"),
        pytest.param("12=1,2", "must not be a number", id="numeric-name"),
    ],
)
def test_bad_region(text: str, match: str) -> None:
    with pytest.raises(LabelSpecError, match=match) as info:
        parse_region(text)
    assert_one_line(info.value)
    assert str(info.value).startswith("--region")


# --------------------------------------------------------------------------- --label-names


def _write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "name, content, names, regions",
    [
        pytest.param("names.json", json.dumps({"1": "liver", "2": "spleen"}), {1: "liver", 2: "spleen"}, (),
                     id="json-number-to-name"),
        pytest.param("names.json", json.dumps({"liver": 1, "spleen": 2}), {1: "liver", 2: "spleen"}, (),
                     id="json-name-to-number"),
        pytest.param(
            "dataset.json",
            json.dumps({"channel_names": {"0": "T1"}, "labels": {"background": 0, "whole_tumor": [1, 2, 3],
                                                                 "tumor_core": [2, 3], "enhancing_tumor": 3},
                        "regions_class_order": [1, 2, 3], "file_ending": ".nii.gz"}),
            {0: "background", 3: "enhancing_tumor"},
            (("whole_tumor", (1, 2, 3)), ("tumor_core", (2, 3))),
            id="nnunet-dataset-json-regions",
        ),
        pytest.param("dataset.json", json.dumps({"labels": {"background": 0, "liver": [1]}}),
                     {0: "background", 1: "liver"}, (), id="nnunet-one-element-list"),
        pytest.param("names.csv", "label,name\n1,liver\n2, spleen \n\n", {1: "liver", 2: "spleen"}, (),
                     id="csv-with-header"),
        pytest.param("names.csv", "1,liver\n2,spleen\n", {1: "liver", 2: "spleen"}, (), id="csv-without-header"),
        pytest.param("names.csv", "1,liver\n1,liver\n", {1: "liver"}, (), id="csv-same-name-twice"),
    ],
)
def test_read_label_names(tmp_path: Path, name: str, content: str, names: dict, regions: tuple) -> None:
    assert read_label_names(_write(tmp_path, name, content)) == (names, regions)


@pytest.mark.parametrize(
    "name, content, match",
    [
        pytest.param("names.json", '{"1": "liver",', "not valid JSON", id="invalid-json"),
        pytest.param("names.json", '["liver", "spleen"]', "expected a JSON object", id="json-list"),
        pytest.param("names.json", '{"liver": true}', "boolean", id="json-bool"),
        pytest.param("names.json", '{"liver": "one"}', "cannot read entry 'liver'", id="json-name-to-text"),
        pytest.param("names.json", '{"liver": []}', "cannot read entry 'liver'", id="json-empty-list"),
        pytest.param("names.json", '{"wt": [1, "x"]}', "cannot read entry 'wt'", id="json-list-with-text"),
        pytest.param("names.json", '{"liver": 1.5}', "cannot read entry 'liver'", id="json-fraction"),
        pytest.param("dataset.json", '{"labels": {"background": 0, "tumor": {"a": 1}}}', "cannot read entry 'tumor'",
                     id="nnunet-nested-object"),
        pytest.param("names.csv", "1\n", "needs label,name", id="csv-short-row"),
        pytest.param("names.csv", "one,liver\n", "'one' is not a whole number", id="csv-not-a-number"),
        pytest.param("names.csv", "1,liver\n1,spleen\n", r"label 1 is named twice \('liver' and 'spleen'\)",
                     id="csv-two-names"),
        pytest.param("names.json", '{"liver": 1, "spleen": 1}', r"label 1 is named twice \('liver' and 'spleen'\)",
                     id="json-two-names"),
        pytest.param("dataset.json", '{"labels": {"background": 0, "liver": [1], "tumor": 1}}',
                     "label 1 is named twice", id="nnunet-two-names"),
    ],
)
def test_bad_label_names_files(tmp_path: Path, name: str, content: str, match: str) -> None:
    path = _write(tmp_path, name, content)
    with pytest.raises(LabelSpecError, match=match) as info:
        read_label_names(path)
    assert_one_line(info.value)
    assert str(path) in str(info.value)


def test_missing_label_names_file(tmp_path: Path) -> None:
    with pytest.raises(LabelSpecError, match="cannot read") as info:
        read_label_names(tmp_path / "nope.json")
    assert_one_line(info.value)


# --------------------------------------------------------------------------- LabelSpec


@pytest.mark.parametrize(
    "spec, present, expected",
    [
        pytest.param(LabelSpec(), [0, 1, 3], [1, 3], id="default-foreground-present"),
        pytest.param(LabelSpec(include_background=True), [0, 1, 3], [0, 1, 3], id="with-background"),
        pytest.param(LabelSpec(include_background=True), [2], [0, 2], id="background-absent-still-scored"),
        pytest.param(LabelSpec(labels=(3, 9)), [0, 1, 3], [3, 9], id="explicit-with-absent"),
        pytest.param(LabelSpec(labels=(3,), include_background=True), [0, 3], [0, 3], id="explicit-plus-background"),
        pytest.param(LabelSpec(ignore_label=255), [0, 1, 255], [1], id="ignore-label-not-a-class"),
        pytest.param(LabelSpec(), [-2, 0, 4], [4], id="negative-not-default"),
    ],
)
def test_resolve_plain_labels(spec: LabelSpec, present: list, expected: list) -> None:
    assert [c.key for c in spec.resolve(present)] == expected
    assert all(c.members == (c.key,) and not c.is_region for c in spec.resolve(present))


def test_resolve_names_and_regions() -> None:
    spec = LabelSpec(labels=(1, 2), names={1: "liver"}, regions=(("WT", (1, 2, 3)),))
    assert spec.resolve([0, 1]) == [
        ScoredClass(1, "liver", (1,)),
        ScoredClass(2, None, (2,)),
        ScoredClass("WT", "WT", (1, 2, 3)),
    ]
    assert spec.resolve([0])[-1].is_region
    assert spec.to_dict() == {
        "labels": [1, 2], "label_names": {"1": "liver"}, "regions": {"WT": [1, 2, 3]},
        "ignore_label": None, "include_background": False, "label_map": None,
    }
