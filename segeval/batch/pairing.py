"""Which files make a case: two folders paired by case id, or a ``case,pred,gt`` CSV.

:func:`pair_cases` (two folders) and :func:`read_pairs_csv` (a ``--pairs``
CSV) give a :class:`Pairing`: the matched cases, the GT cases without a
prediction and the predictions without a GT case, before anything is read.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from segeval.errors import InputError, OptionError
from segeval.io import case_id, volume_suffix
from segeval.labels import find_dataset_json
from segeval.records import CaseTask

__all__ = ["MISSING_POLICIES", "CaseTask", "Pairing", "argument_order_warnings", "check_missing",
           "find_dataset_json", "pair_cases", "read_pairs_csv"]

#: What ``--missing`` may say a GT case without a prediction becomes.
MISSING_POLICIES: tuple[str, ...] = ("error", "zero", "skip")

# Files of these suffixes lose to an image file with the same case id in the same
# folder: nnU-Net's --save_probabilities writes case.npz beside case.nii.gz.
_ARRAY_SUFFIXES = (".npy", ".npz")


@dataclass(frozen=True)
class Pairing:
    """Which files make a case.

    Attributes
    ----------
    matched : tuple of CaseTask
        Cases with a prediction and a GT file, sorted by case id.
    missing_pred : tuple of CaseTask
        GT cases without a prediction (``pred`` is None), sorted by case id.
    extra_pred : tuple of str
        Prediction files whose case id has no GT file.
    shadowed : tuple of str
        Files left out because an image file in the same folder has the same
        case id (``case.npz`` probabilities beside ``case.nii.gz``).
    """

    matched: tuple[CaseTask, ...]
    missing_pred: tuple[CaseTask, ...] = ()
    extra_pred: tuple[str, ...] = ()
    shadowed: tuple[str, ...] = ()

    def tasks(self, missing: str = "error") -> list[CaseTask]:
        """The cases to run, sorted by case id: every matched case, plus the GT cases
        without a prediction unless ``missing`` is ``"skip"``."""
        check_missing(missing)
        chosen = list(self.matched)
        if missing != "skip":
            chosen += self.missing_pred
        return sorted(chosen, key=lambda t: t.case)


def check_missing(missing: str) -> None:
    """OptionError unless ``missing`` is one of :data:`MISSING_POLICIES`."""
    if missing not in MISSING_POLICIES:
        raise OptionError(f"--missing: expected one of {', '.join(MISSING_POLICIES)}; got {missing!r}")


def _volumes(folder: Path, pattern: str | None, role: str) -> tuple[dict[str, Path], list[Path]]:
    """Case id -> file of every volume in ``folder`` (matching ``pattern``), and the shadowed files."""
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "no such folder"
        raise InputError(f"{role} {folder}: {what}; give the folder that holds the label volumes")
    try:
        candidates = sorted(folder.glob(pattern or "*"))
    except (ValueError, NotImplementedError) as exc:
        raise OptionError(f"--pattern {pattern!r}: {exc}; give a glob relative to the folder, e.g. '*.nii.gz'") from None
    by_case: dict[str, list[Path]] = {}
    for path in candidates:
        # Dot files are never cases (macOS writes ._case.nii.gz copies on foreign disks).
        if path.name.startswith(".") or volume_suffix(path) is None or not path.is_file():
            continue
        by_case.setdefault(case_id(path), []).append(path)
    chosen: dict[str, Path] = {}
    shadowed: list[Path] = []
    for cid, paths in by_case.items():
        images = [p for p in paths if volume_suffix(p) not in _ARRAY_SUFFIXES] or paths
        if len(images) > 1:
            names = ", ".join(p.name for p in images)
            raise InputError(
                f"{role} {folder}: {len(images)} files have case id {cid!r} ({names}); "
                "keep one, or choose which with --pattern"
            )
        chosen[cid] = images[0]
        shadowed += [p for p in paths if p is not images[0]]
    return chosen, shadowed


def pair_cases(
    pred_dir: str | os.PathLike[str], gt_dir: str | os.PathLike[str], *, pattern: str | None = None
) -> Pairing:
    """Pair the volumes of two folders by case id.

    Parameters
    ----------
    pred_dir, gt_dir : path
        Folders of predicted and ground-truth label volumes (any formats
        segeval reads; a ``.nii.gz`` prediction pairs with an ``.nrrd`` GT).
    pattern : str, optional
        Glob (relative to each folder, e.g. ``"*.nii.gz"`` or ``"**/*.nrrd"``)
        choosing which files are cases; default every readable volume.

    Returns
    -------
    Pairing

    Raises
    ------
    InputError
        A folder is missing, the GT folder has no volume, or two files in one
        folder have the same case id (an ``.npy``/``.npz`` beside an image of the
        same case loses to the image instead, and is listed as shadowed).

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from segeval.io import write_volume
    >>> top = tempfile.mkdtemp(); p, g = os.path.join(top, "pred"), os.path.join(top, "gt")
    >>> os.mkdir(p); os.mkdir(g)
    >>> for name in ("a_0000.nii.gz", "b.nii.gz"):
    ...     _ = write_volume(os.path.join(p, name), np.zeros((2, 2, 2), np.uint8))
    >>> for name in ("a.nrrd", "c.nii.gz"):
    ...     _ = write_volume(os.path.join(g, name), np.zeros((2, 2, 2), np.uint8))
    >>> pairing = pair_cases(p, g)
    >>> [t.case for t in pairing.matched], [t.case for t in pairing.missing_pred], len(pairing.extra_pred)
    (['a'], ['c'], 1)
    """
    gts, gt_shadowed = _volumes(Path(gt_dir), pattern, "GT folder")
    preds, pred_shadowed = _volumes(Path(pred_dir), pattern, "prediction folder")
    if not gts:
        which = f" matching --pattern {pattern!r}" if pattern else ""
        raise InputError(
            f"GT folder {gt_dir}: no volume files{which} (segeval reads .nii.gz, .nii, .nrrd, .nhdr, "
            ".mha, .mhd, .npy, .npz)"
        )
    return Pairing(
        matched=tuple(CaseTask(c, str(preds[c]), str(gts[c])) for c in sorted(gts) if c in preds),
        missing_pred=tuple(CaseTask(c, None, str(gts[c])) for c in sorted(gts) if c not in preds),
        extra_pred=tuple(str(preds[c]) for c in sorted(preds) if c not in gts),
        shadowed=tuple(str(p) for p in sorted(gt_shadowed + pred_shadowed)),
    )


def read_pairs_csv(path: str | os.PathLike[str]) -> Pairing:
    """Read a ``--pairs`` CSV with columns ``case,pred,gt``.

    Relative paths are taken from the CSV's folder. An empty ``case`` cell
    takes the GT file's case id; an empty ``pred`` cell, or a prediction file
    that does not exist, makes a GT case without a prediction (``--missing``).

    Raises
    ------
    InputError
        Naming the file and line: missing columns, an empty ``gt`` cell, a case
        id listed twice.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"--pairs {p}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InputError(f"--pairs {p}: not UTF-8 text; save it as a UTF-8 CSV with columns case,pred,gt") from None
    try:
        return _pairs(p, text)
    except csv.Error as exc:
        raise InputError(f"--pairs {p}: not a CSV segeval reads ({' '.join(str(exc).split())})") from None


def _pairs(p: Path, text: str) -> Pairing:
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "pred" not in fields or "gt" not in fields:
        raise InputError(f"--pairs {p}: needs a header with columns case,pred,gt (found {', '.join(fields) or 'none'})")
    reader.fieldnames = fields
    base = p.parent
    matched: list[CaseTask] = []
    missing: list[CaseTask] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        gt = (row.get("gt") or "").strip()
        pred = (row.get("pred") or "").strip()
        if not gt and not pred and not (row.get("case") or "").strip():
            continue
        if not gt:
            raise InputError(f"--pairs {p} line {line}: the gt cell is empty; every case needs a GT file")
        gt_path = str(base / gt)
        case = (row.get("case") or "").strip() or case_id(gt)
        if case in seen:
            raise InputError(f"--pairs {p} line {line}: case {case!r} is already on line {seen[case]}")
        seen[case] = line
        pred_path = str(base / pred) if pred else None
        if pred_path is None or not Path(pred_path).exists():
            missing.append(CaseTask(case, None, gt_path))
        else:
            matched.append(CaseTask(case, pred_path, gt_path))
    if not matched and not missing:
        raise InputError(f"--pairs {p}: no cases listed")
    return Pairing(
        matched=tuple(sorted(matched, key=lambda t: t.case)),
        missing_pred=tuple(sorted(missing, key=lambda t: t.case)),
    )


#: Files nnU-Net writes into a folder of predictions.
_NNUNET_PREDICTION_FILES = ("plans.json", "predict_from_raw_data_args.json")
_LABEL_FOLDER = re.compile(r"^(labelsT[rs]|gt.*|ground.?truth.*|labels?)$", re.IGNORECASE)


def argument_order_warnings(pred_dir: str | os.PathLike[str] | None,
                            gt_dir: str | os.PathLike[str] | None) -> list[str]:
    """A line each when the two folders look swapped (nnU-Net's tools take the GT folder first).

    The folder given as GT holds nnU-Net's prediction files (``plans.json``,
    ``predict_from_raw_data_args.json``), or the folder given as predictions
    is named like labels (``labelsTs``, ``labelsTr``, ``gt*``).
    """
    if pred_dir is None or gt_dir is None:
        return []
    out = []
    held = [f for f in _NNUNET_PREDICTION_FILES if (Path(gt_dir) / f).is_file()]
    if held:
        out.append(f"GT folder {gt_dir} holds nnU-Net's prediction files ({', '.join(held)}): are the folders "
                   "swapped? segeval takes PRED_DIR first, then GT_DIR")
    name = Path(pred_dir).resolve().name
    if _LABEL_FOLDER.match(name):
        out.append(f"prediction folder {pred_dir} is named like ground truth ({name}): are the folders swapped? "
                   "segeval takes PRED_DIR first, then GT_DIR")
    return out