"""Which files make a case: two folders paired by case id, or a ``case,pred,gt`` CSV.

:func:`pair_cases` (two folders) and :func:`read_pairs_csv` (a ``--pairs``
CSV) give a :class:`Pairing`: the matched cases, the GT cases without a
prediction and the predictions without a GT case, before anything is read.

A case id is the file name minus its volume suffix and a trailing nnU-Net
channel tag (:func:`segeval.io.case_id`). When no prediction pairs that way,
:func:`pair_cases` tries, in order, the prediction suffixes other tools add
(:data:`PRED_SUFFIXES`) and MONAI SaveImage's one folder per case
(``out/<case>/<case>_trans.nii.gz``); ``pred_suffix``, ``case_regex`` and
``recursive`` say it explicitly. :attr:`Pairing.rule` says which rule paired
the files.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from segeval.errors import InputError, OptionError
from segeval.io import VOLUME_SUFFIXES, case_id, volume_suffix
from segeval.labels import find_dataset_json
from segeval.records import CaseTask

__all__ = ["MISSING_POLICIES", "PRED_SUFFIXES", "CaseTask", "Pairing", "argument_order_warnings", "check_missing",
           "find_dataset_json", "pair_cases", "read_pairs_csv"]

#: What ``--missing`` may say a GT case without a prediction becomes.
MISSING_POLICIES: tuple[str, ...] = ("error", "zero", "skip")

#: Suffixes tools put on a prediction's name (``case_001_seg.nii.gz``), tried in
#: this order when no prediction pairs by its plain case id; ``_trans`` is the
#: default ``output_postfix`` of MONAI's SaveImage.
PRED_SUFFIXES: tuple[str, ...] = ("_seg", "_pred", "_trans", "_prediction")

# Files of these suffixes lose to an image file with the same case id in the same
# folder: nnU-Net's --save_probabilities writes case.npz beside case.nii.gz.
_ARRAY_SUFFIXES = (".npy", ".npz")

_MONAI_RULE = "MONAI layout: one folder per case"


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
    rule : str
        How the case ids were found, for the pairing report: empty for the
        plain rule (file name minus volume suffix and ``_0000``), else e.g.
        ``"predictions' suffix _seg removed"``, ``"MONAI layout: one folder
        per case"``, ``"--case-regex '(case_\\d+)'"``, ``"sub-folders
        included"`` (several joined by ``"; "``). The same options on the same
        files give the same text, so a run can record it for ``--resume``.
    """

    matched: tuple[CaseTask, ...]
    missing_pred: tuple[CaseTask, ...] = ()
    extra_pred: tuple[str, ...] = ()
    shadowed: tuple[str, ...] = ()
    rule: str = ""

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


# A case id with the file it came from.
_Ids = list[tuple[str, Path]]


def _volume_files(folder: Path, pattern: str | None, role: str, *, recursive: bool = False) -> list[Path]:
    """Every volume file in ``folder`` (its sub-folders too when ``recursive``) matching ``pattern``."""
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "no such folder"
        raise InputError(f"{role} {folder}: {what}; give the folder that holds the label volumes")
    try:
        found = folder.rglob(pattern or "*") if recursive else folder.glob(pattern or "*")
        candidates = sorted(found)
    except (ValueError, NotImplementedError) as exc:
        raise OptionError(f"--pattern {pattern!r}: {exc}; give a glob relative to the folder, e.g. '*.nii.gz'") from None
    files = []
    for path in candidates:
        # Dot files are never cases (macOS writes ._case.nii.gz copies on foreign disks).
        if path.name.startswith(".") or volume_suffix(path) is None or not path.is_file():
            continue
        # Nor is what hides in dot folders (.git, .ipynb_checkpoints) when searching below.
        if recursive and any(part.startswith(".") for part in path.relative_to(folder).parts[:-1]):
            continue
        files.append(path)
    return files


def _stem_and_suffix(path: Path) -> tuple[str, str]:
    name = path.name
    suffix = volume_suffix(name) or ""
    return name[: len(name) - len(suffix)], suffix


def _without_suffix(path: Path, suffix: str) -> str:
    """The case id of ``path`` once ``suffix`` is removed from the end of its stem.

    The channel tag goes after the suffix: MONAI names ``case_0000.nii.gz``'s
    output ``case_0000_seg.nii.gz``.
    """
    stem, vol = _stem_and_suffix(path)
    if len(stem) > len(suffix) and stem.endswith(suffix):
        stem = stem[: -len(suffix)]
    return case_id(stem + vol)


def _monai_case(root: Path, path: Path) -> str | None:
    """The case id of ``root/<name>/<name>[_postfix].ext`` (MONAI SaveImage, ``separate_folder=True``),
    else None."""
    if path.parent.parent != root:
        return None
    folder = path.parent.name
    stem, vol = _stem_and_suffix(path)
    if stem != folder and not stem.startswith(folder + "_"):
        return None
    return case_id(folder + vol)


def _images(paths: Sequence[Path]) -> list[Path]:
    return [p for p in paths if volume_suffix(p) not in _ARRAY_SUFFIXES] or list(paths)


def _group(ids: _Ids) -> dict[str, list[Path]]:
    by_case: dict[str, list[Path]] = {}
    for cid, path in ids:
        by_case.setdefault(cid, []).append(path)
    return by_case


def _clashes(ids: _Ids) -> bool:
    """Whether two image files get one case id."""
    return any(len(_images(paths)) > 1 for paths in _group(ids).values())


def _choose(ids: _Ids, folder: Path, role: str) -> tuple[dict[str, Path], list[Path]]:
    """Case id -> file, and the files shadowed by an image of the same case id."""
    chosen: dict[str, Path] = {}
    shadowed: list[Path] = []
    for cid, paths in _group(ids).items():
        images = _images(paths)
        if len(images) > 1:
            names = ", ".join(p.relative_to(folder).as_posix() for p in images)
            raise InputError(
                f"{role} {folder}: {len(images)} files have case id {cid!r} ({names}); "
                "keep one, or choose which with --pattern"
            )
        chosen[cid] = images[0]
        shadowed += [p for p in paths if p is not images[0]]
    return chosen, shadowed


def _shown(text: str) -> str:
    """An option value quoted for a message: as typed, unless it would break the line."""
    return f"'{text}'" if text.isprintable() and "'" not in text else repr(text)


def _case_pattern(regex: str) -> re.Pattern[str]:
    """``--case-regex`` compiled, or an OptionError saying what is wrong with it."""
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        raise OptionError(f"--case-regex {_shown(regex)}: not a Python regex ({exc})") from None
    if "case" not in compiled.groupindex and compiled.groups != 1:
        what = "has no group" if compiled.groups == 0 else f"has {compiled.groups} groups"
        raise OptionError(
            f"--case-regex {_shown(regex)}: {what}; put the case id in one group, e.g. '(case_\\d+)', "
            "or name it (?P<case>...)"
        )
    return compiled


def _regex_case(pattern: re.Pattern[str], path: Path) -> str | None:
    match = pattern.search(path.name)
    if match is None:
        return None
    return match.group("case" if "case" in pattern.groupindex else 1) or None


def _pred_suffix(suffix: str) -> str:
    """``--pred-suffix`` without a volume suffix typed after it (``_seg.nii.gz`` is ``_seg``)."""
    vol = next((v for v in VOLUME_SUFFIXES if suffix.lower().endswith(v)), "")
    bare = suffix[: len(suffix) - len(vol)]
    if not bare.strip():
        raise OptionError(f"--pred-suffix {_shown(suffix)}: give the end of the prediction's name before its "
                          "volume suffix, e.g. _seg for case_001_seg.nii.gz")
    return bare


def pair_cases(
    pred_dir: str | os.PathLike[str],
    gt_dir: str | os.PathLike[str],
    *,
    pattern: str | None = None,
    pred_suffix: str | None = None,
    recursive: bool = False,
    case_regex: str | None = None,
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
    pred_suffix : str, optional
        Removed from the end of prediction names (before the volume suffix)
        before pairing: ``"_seg"`` pairs ``case_001_seg.nii.gz`` with
        ``case_001.nii.gz``.
    recursive : bool
        Also take the files in sub-folders of both folders (dot folders
        excepted); a case id still comes from the file name alone.
    case_regex : str, optional
        Python regex searched in each file name (both folders); its one
        group, or its group named ``case``, is the case id. Files it does not
        match keep their plain case id. Not with ``pred_suffix``.

    Returns
    -------
    Pairing
        ``rule`` says how the ids were found.

    Raises
    ------
    InputError
        A folder is missing, the GT folder has no volume, or two files in one
        folder have the same case id (an ``.npy``/``.npz`` beside an image of the
        same case loses to the image instead, and is listed as shadowed).
    OptionError
        ``case_regex`` is not a regex, has no group (or several, none named
        ``case``) or matches no file name; ``pred_suffix`` is empty or ends no
        prediction name; both are given.

    Notes
    -----
    Without ``pred_suffix`` and ``case_regex``, files pair by their plain case
    id (:func:`segeval.io.case_id`). Only when that pairs no prediction at
    all, the first rule that pairs some, without giving two predictions one
    id, is used instead:

    1. one of :data:`PRED_SUFFIXES` removed from prediction names (the one
       that pairs the most);
    2. MONAI SaveImage's layout, ``pred_dir/<name>/<name>[_postfix].ext``:
       the folder's name is the case id (minus ``_0000``).

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
    >>> pairing.rule
    ''
    """
    regex = _case_pattern(case_regex) if case_regex is not None else None
    suffix = _pred_suffix(pred_suffix) if pred_suffix is not None else None
    if regex is not None and suffix is not None:
        raise OptionError("--pred-suffix with --case-regex: the regex gives the case id; leave the suffix "
                          "outside its group and drop --pred-suffix")
    gt_root, pred_root = Path(gt_dir), Path(pred_dir)
    gt_files = _volume_files(gt_root, pattern, "GT folder", recursive=recursive)
    pred_files = _volume_files(pred_root, pattern, "prediction folder", recursive=recursive)
    if not gt_files:
        which = f" matching --pattern {pattern!r}" if pattern else ""
        raise InputError(
            f"GT folder {gt_dir}: no volume files{which} (segeval reads .nii.gz, .nii, .nrrd, .nhdr, "
            ".mha, .mhd, .npy, .npz)"
        )
    rules = ["sub-folders included"] if recursive else []

    if regex is not None:
        gt_hits = [(_regex_case(regex, p), p) for p in gt_files]
        pred_hits = [(_regex_case(regex, p), p) for p in pred_files]
        n_hit = sum(cid is not None for cid, _ in gt_hits + pred_hits)
        if not n_hit:
            raise OptionError(
                f"--case-regex {_shown(regex.pattern)}: matches no file name in {pred_dir} or {gt_dir} "
                f"(e.g. {gt_files[0].name}); it is searched in the file name, without the folder"
            )
        rules.append(f"--case-regex {_shown(regex.pattern)}")
        return _pairing(
            [(cid or case_id(p), p) for cid, p in gt_hits], gt_root,
            [(cid or case_id(p), p) for cid, p in pred_hits], pred_root, rules,
        )

    gt_ids = [(case_id(p), p) for p in gt_files]
    if suffix is not None:
        if not any(_stem_and_suffix(p)[0].endswith(suffix) for p in pred_files):
            raise OptionError(
                f"--pred-suffix {_shown(suffix)}: no prediction file name in {pred_dir} ends with it (before the "
                "volume suffix); check the suffix" + ("" if recursive else ", or add --recursive for sub-folders")
            )
        rules.append(f"--pred-suffix {suffix}")
        return _pairing(gt_ids, gt_root, [(_without_suffix(p, suffix), p) for p in pred_files], pred_root, rules)

    plain = _pairing(gt_ids, gt_root, [(case_id(p), p) for p in pred_files], pred_root, rules)
    if plain.matched:
        return plain  # never second-guess a pairing that works
    gt_cases = {cid for cid, _ in gt_ids}
    best: tuple[int, str, _Ids] | None = None
    for known in PRED_SUFFIXES:
        ids = [(_without_suffix(p, known), p) for p in pred_files]
        hits = len(gt_cases & {cid for cid, _ in ids})
        if hits and not _clashes(ids) and (best is None or hits > best[0]):
            best = (hits, known, ids)
    if best is not None:
        return _pairing(gt_ids, gt_root, best[2], pred_root, [*rules, f"predictions' suffix {best[1]} removed"])
    monai = _monai_ids(pred_root, pred_files, pattern, recursive=recursive)
    if monai is not None and not _clashes(monai) and gt_cases & {cid for cid, _ in monai}:
        return _pairing(gt_ids, gt_root, monai, pred_root, [*rules, _MONAI_RULE])
    return plain


def _monai_ids(root: Path, files: list[Path], pattern: str | None, *, recursive: bool) -> _Ids | None:
    """The prediction ids by MONAI's one folder per case, or None when no file is laid out so.

    Without ``recursive`` the files of ``root``'s sub-folders are looked at
    only here, and only those MONAI names after their folder take part.
    """
    if not recursive:
        files = files + [
            p for sub in sorted(root.iterdir()) if sub.is_dir() and not sub.name.startswith(".")
            for p in _volume_files(sub, pattern, "prediction folder") if _monai_case(root, p) is not None
        ]
    ids = [(_monai_case(root, p), p) for p in files]
    if all(cid is None for cid, _ in ids):
        return None
    return [(cid or case_id(p), p) for cid, p in ids]


def _pairing(gt_ids: _Ids, gt_root: Path, pred_ids: _Ids, pred_root: Path, rules: list[str]) -> Pairing:
    gts, gt_shadowed = _choose(gt_ids, gt_root, "GT folder")
    preds, pred_shadowed = _choose(pred_ids, pred_root, "prediction folder")
    return Pairing(
        matched=tuple(CaseTask(c, str(preds[c]), str(gts[c])) for c in sorted(gts) if c in preds),
        missing_pred=tuple(CaseTask(c, None, str(gts[c])) for c in sorted(gts) if c not in preds),
        extra_pred=tuple(str(preds[c]) for c in sorted(preds) if c not in gts),
        shadowed=tuple(str(p) for p in sorted(gt_shadowed + pred_shadowed)),
        rule="; ".join(rules),
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