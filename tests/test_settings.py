"""segeval.settings: the one label set of a run (precedence, label maps read as nnU-Net reads them) and the builder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from segeval.errors import LabelSpecError, OptionError
from segeval.labels import find_dataset_json, read_label_map
from segeval.settings import ScoreSettings, build_settings, label_set

LABELS = {"background": 0, "liver": 1, "spleen": 2, "pancreas": 3, "ignore": 4}
BRATS = {"background": 0, "whole tumor": [1, 2, 3], "tumor core": [2, 3], "enhancing tumor": [3]}


def _dataset(tmp_path: Path, labels: dict[str, object], name: str = "dataset.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"labels": labels, "file_ending": ".nii.gz"}))
    return path


def test_a_label_map_declares_exactly_its_foreground_labels_and_its_ignore_label(tmp_path: Path) -> None:
    spec = label_set(label_names=_dataset(tmp_path, LABELS))
    assert spec.labels == (1, 2, 3) and spec.regions == () and spec.ignore_label == 4
    assert spec.names == {0: "background", 1: "liver", 2: "spleen", 3: "pancreas"}
    assert spec.label_map == str(tmp_path / "dataset.json") and not spec.asked


def test_a_region_map_scores_exactly_its_regions_keyed_as_nnunet_keys_them(tmp_path: Path) -> None:
    spec = label_set(label_names=_dataset(tmp_path, BRATS))
    # [3] is a region (3,), not a name for label 3: nnU-Net keys it "(3,)".
    assert spec.labels == () and spec.regions == (("whole tumor", (1, 2, 3)), ("tumor core", (2, 3)),
                                                  ("enhancing tumor", (3,)))
    classes = spec.resolve([0, 1, 2, 3])
    assert [c.key for c in classes] == ["whole tumor", "tumor core", "enhancing tumor"]


def test_a_one_label_list_in_a_label_map_names_its_label(tmp_path: Path) -> None:
    m = read_label_map(_dataset(tmp_path, {"background": 0, "liver": [1], "spleen": 2}))
    assert not m.has_regions and m.labels == (1, 2) and m.names[1] == "liver"


@pytest.mark.parametrize(
    ("kwargs", "labels", "regions", "ignore"),
    [
        pytest.param({"labels": "liver,3"}, (1, 3), (), 4, id="labels-by-name-through-the-map"),
        pytest.param({"labels": "2", "regions": ["both=1,2"]}, (2,), (("both", (1, 2)),), 4,
                     id="labels-plus-regions-not-the-maps"),
        pytest.param({"labels": "none", "regions": ["both=1,2"]}, (), (("both", (1, 2)),), 4,
                     id="labels-none-regions-only"),
        pytest.param({"ignore_label": 9}, (1, 2, 3), (), 9, id="ignore-label-option-wins"),
        pytest.param({"regions": ["both=1,2"]}, (1, 2, 3), (("both", (1, 2)),), 4, id="map-plus-regions"),
    ],
)
def test_precedence(tmp_path: Path, kwargs: dict[str, object], labels: tuple[int, ...],
                    regions: tuple[object, ...], ignore: int) -> None:
    spec = label_set(label_names=_dataset(tmp_path, LABELS), **kwargs)  # type: ignore[arg-type]
    assert (spec.labels, spec.regions, spec.ignore_label) == (labels, regions, ignore)


def test_without_labels_or_a_map_every_label_found_is_scored() -> None:
    spec = label_set()
    assert spec.labels is None and spec.label_map is None
    assert [c.key for c in spec.resolve([0, 2, 5])] == [2, 5]


def test_label_names_given_win_over_a_found_dataset_json(tmp_path: Path) -> None:
    found = _dataset(tmp_path, LABELS)
    given = _dataset(tmp_path, {"background": 0, "kidney": 7}, name="names.json")
    spec = label_set(label_names=given, dataset_json=found)
    assert spec.labels == (7,) and spec.ignore_label is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"labels": "kidney"}, r"no label is named 'kidney' in the label map \(it has", id="unknown-name"),
        pytest.param({"labels": "liver,1"}, "label 1 is listed twice", id="name-and-number-twice"),
        pytest.param({"regions": ["WT=1,2", "WT=2"]}, "the region 'WT' is given twice", id="region-twice"),
        pytest.param({"regions": ["liver=1,2"]}, "the name 'liver' is given to label 1 and to region 'liver'",
                     id="region-named-like-a-label"),
        pytest.param({"labels": "none"}, "scores the regions only, and there is none", id="none-without-regions"),
        pytest.param({"labels": "a=1,a=2"}, "the name 'a' is given to two labels", id="two-labels-one-name"),
    ],
)
def test_label_set_errors(tmp_path: Path, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(LabelSpecError, match=match):
        label_set(label_names=_dataset(tmp_path, LABELS), **kwargs)  # type: ignore[arg-type]


def test_find_dataset_json_beside_or_above(tmp_path: Path) -> None:
    (tmp_path / "labelsTs").mkdir()
    case = tmp_path / "labelsTs" / "case.nii.gz"
    case.write_bytes(b"")
    assert find_dataset_json(case) is None and find_dataset_json(tmp_path / "labelsTs") is None
    _dataset(tmp_path, LABELS)
    assert find_dataset_json(case) == find_dataset_json(tmp_path / "labelsTs") == tmp_path / "dataset.json"
    _dataset(tmp_path / "labelsTs", {"background": 0, "a": 1})
    assert find_dataset_json(case) == tmp_path / "labelsTs" / "dataset.json"


def test_the_label_set_is_recorded_and_read_back(tmp_path: Path) -> None:
    s = build_settings(label_names=_dataset(tmp_path, BRATS), metrics="dice")
    back = ScoreSettings.from_dict(json.loads(json.dumps(s.to_dict())))
    assert back == s


def test_a_mapping_is_a_label_map_too() -> None:
    spec = label_set(label_names={1: "liver", 2: "spleen"})
    assert spec.labels == (1, 2) and spec.label_map == "label_names"


def test_build_settings_checks_every_option_once() -> None:
    with pytest.raises(OptionError, match="--tolerance"):
        build_settings(tolerance_mm=-1)
    with pytest.raises(OptionError, match="--alpha: expected a number"):
        build_settings(alpha="x")  # type: ignore[arg-type]
