"""Trained models on disk: one folder per version, with the validation report.

    out/models/<name>/v<N>/
        scorecard.pkl      the scorecard (pickle: load only what this installation wrote)
        challenger.txt     the LightGBM challenger (its own text format)
        metadata.json      data, target, features, split, seed, scaling, metrics, versions
        report.json        the same and the scorecard's bins
        report.html        the same for people (offline: no scripts, no links)

Versions are never overwritten: each training makes the next ``v<N>``. ``registry.json``
names the champion (the version that decides) and an optional challenger with its share of
applications; ``xinbao model promote`` changes it, and every change is kept in its history.
"""

from __future__ import annotations

import hashlib
import html
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xinbao import __version__
from xinbao.risk.model.decision import ScoreResult

if TYPE_CHECKING:  # the scoring stack (scikit-learn, optbinning) loads in seconds: only
    # when a model is trained or loaded, so that every command does not wait for it
    from xinbao.risk.scoring.metrics import Validation
    from xinbao.risk.scoring.scorecard import ScorecardModel, TrainingResult, TrainingSpec


def _validation(v: Validation) -> dict[str, Any]:
    return {"auc": round(v.auc, 4), "ks": round(v.ks, 4), "gini": round(v.gini, 4),
            "calibration": [asdict(d) for d in v.calibration]}


def next_version(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    taken = [int(p.name[1:]) for p in folder.glob("v*") if p.name[1:].isdigit()]
    return folder / f"v{max(taken, default=0) + 1}"


def report(result: TrainingResult, spec: TrainingSpec, data_path: Path) -> dict[str, Any]:
    return {
        "xinbao_version": __version__,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": {"path": str(data_path),
                 "sha256": hashlib.sha256(data_path.read_bytes()).hexdigest(),
                 "rows_train": result.rows[0], "rows_test": result.rows[1],
                 "default_rate": round(result.default_rate, 4)},
        "spec": {"target": spec.target, "features": result.scorecard.features,
                 "categorical": list(spec.categorical), "monotonic": list(spec.monotonic),
                 "test_share": spec.test_share, "seed": spec.seed,
                 "scaling": asdict(spec.scaling)},
        "scorecard": {"train": _validation(result.train), "test": _validation(result.test),
                      "psi_train_test": round(result.psi_train_test, 4),
                      "bins": result.scorecard.bin_rows()},
        "challenger": {"kind": "lightgbm", "test": _validation(result.challenger_test)},
    }


def _html(doc: dict[str, Any], title: str) -> str:
    e = html.escape
    sc, ch = doc["scorecard"], doc["challenger"]

    def row(cells: list[Any], tag: str = "td") -> str:
        return "<tr>" + "".join(f"<{tag}>{e(str(c))}</{tag}>" for c in cells) + "</tr>"

    metrics = "".join(row([name, v["auc"], v["ks"], v["gini"]]) for name, v in (
        ("scorecard, train", sc["train"]), ("scorecard, test", sc["test"]),
        ("challenger (LightGBM), test", ch["test"])))
    deciles = "".join(row([d["decile"], d["count"], f"{d['mean_pd']:.4f}",
                           f"{d['observed_rate']:.4f}"]) for d in sc["test"]["calibration"])
    bins = "".join(row([b["Variable"], b["Bin"], b["Count"], f"{b['Event rate']:.4f}",
                        f"{b['WoE']:.4f}" if isinstance(b["WoE"], float) else b["WoE"],
                        f"{b['Points']:.1f}"]) for b in sc["bins"])
    data = doc["data"]
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{e(title)}</title><style>
body{{font-family:"Noto Sans CJK SC","Noto Sans",sans-serif;margin:2rem;color:#1d2430}}
table{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #c8d0d8;padding:.3rem .6rem;
text-align:right}}th{{background:#eef2f6}}td:first-child,td:nth-child(2){{text-align:left}}
</style></head><body><h1>{e(title)}</h1>
<p>Data {e(data["path"])} (sha256 {e(data["sha256"][:16])}…): {data["rows_train"]:,} rows to
train, {data["rows_test"]:,} to test, default rate {data["default_rate"]:.2%}. Target
<code>{e(doc["spec"]["target"])}</code>; split seed {doc["spec"]["seed"]}. PSI of scores,
train against test: {sc["psi_train_test"]}.</p>
<h2>Discrimination</h2><table>{row(["model", "AUC", "KS", "Gini"], "th")}{metrics}</table>
<h2>Calibration by decile (test, riskiest first)</h2>
<table>{row(["decile", "count", "mean PD", "observed"], "th")}{deciles}</table>
<h2>Scorecard</h2>
<table>{row(["feature", "bin", "count", "event rate", "WoE", "points"], "th")}{bins}</table>
</body></html>"""


def save(result: TrainingResult, spec: TrainingSpec, data_path: Path, root: Path,
         name: str) -> tuple[Path, dict[str, Any]]:
    folder = next_version(root, name)
    folder.mkdir()
    doc = report(result, spec, data_path)
    result.scorecard.save(folder / "scorecard.pkl")
    result.challenger.booster_.save_model(str(folder / "challenger.txt"))
    text = json.dumps(doc, ensure_ascii=False, indent=2, default=float)
    (folder / "report.json").write_text(text, encoding="utf-8")
    meta = {**doc, "scorecard": {k: v for k, v in doc["scorecard"].items() if k != "bins"}}
    (folder / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2,
                                                     default=float), encoding="utf-8")
    (folder / "report.html").write_text(_html(doc, f"Model {name} {folder.name}"),
                                        encoding="utf-8")
    return folder, doc


# The registry: which trained version decides.

REGISTRY_FILE = "registry.json"


@dataclass(frozen=True, slots=True)
class Assignment:
    """The champion decides; the challenger, when set, scores ``challenger_share`` per cent of
    applications (chosen by a hash of the application id, so a retry lands on the same one)."""

    champion: str | None = None  # "<name>/v<N>"
    challenger: str | None = None
    challenger_share: int = 0
    history: tuple[dict[str, Any], ...] = ()


class RegistryError(ValueError):
    """A model reference that does not exist or cannot be used."""


class ModelRegistry:
    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self) -> Assignment:
        path = self.root / REGISTRY_FILE
        if not path.exists():
            return Assignment()
        doc = json.loads(path.read_text(encoding="utf-8"))
        return Assignment(doc.get("champion"), doc.get("challenger"),
                          int(doc.get("challenger_share", 0)), tuple(doc.get("history", ())))

    def folder(self, ref: str) -> Path:
        name, _, version = ref.partition("/")
        folder = self.root / name / version
        if not name or not version.startswith("v") or not (folder / "scorecard.pkl").exists():
            raise RegistryError(f"no trained model {ref!r} under {self.root} "
                                "(see `xinbao model list`)")
        return folder

    def versions(self) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for meta in sorted(self.root.glob("*/v*/metadata.json")):
            doc = json.loads(meta.read_text(encoding="utf-8"))
            out.append((f"{meta.parent.parent.name}/{meta.parent.name}", doc))
        return sorted(out, key=lambda item: (item[0].split("/")[0],
                                             int(item[0].split("/v")[-1])))

    def promote(self, ref: str | None, *, role: str, share: int | None = None,
                by: str = "") -> Assignment:
        """Make ``ref`` the champion or the challenger (None removes the challenger)."""
        if ref is not None:
            self.folder(ref)
        current = self.read()
        if role == "champion":
            if ref is None:
                raise RegistryError("a champion is a trained model")
            new = Assignment(ref, current.challenger if current.challenger != ref else None,
                             current.challenger_share if current.challenger != ref else 0,
                             current.history)
        elif role == "challenger":
            pct = current.challenger_share if share is None else share
            if ref is not None and not 0 < pct < 100:
                raise RegistryError("the challenger's share is a whole percentage 1-99")
            new = Assignment(current.champion, ref, pct if ref else 0, current.history)
        else:
            raise RegistryError("role is champion or challenger")
        entry = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "by": by,
                 "role": role, "model": ref, "share": new.challenger_share}
        new = Assignment(new.champion, new.challenger, new.challenger_share,
                         (*new.history, entry))
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / REGISTRY_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"champion": new.champion, "challenger": new.challenger,
                                   "challenger_share": new.challenger_share,
                                   "history": list(new.history)}, ensure_ascii=False,
                                  indent=2), encoding="utf-8")
        tmp.replace(path)
        return new

    def scorer(self, fallback: Any) -> Any:
        """The scorer the registry names; ``fallback`` while no champion is promoted."""
        assignment = self.read()
        if assignment.champion is None:
            return fallback
        from xinbao.risk.scoring.scorecard import ScorecardModel

        champion = (assignment.champion,
                    ScorecardModel.load(self.folder(assignment.champion) / "scorecard.pkl"))
        challenger = None
        if assignment.challenger:
            challenger = (assignment.challenger, ScorecardModel.load(
                self.folder(assignment.challenger) / "scorecard.pkl"))
        return RegistryScorer(champion, challenger, assignment.challenger_share)


_PD_STEP = Decimal("0.000001")


class RegistryScorer:
    """Scores with the champion, and a share of applications with the challenger."""

    def __init__(self, champion: tuple[str, ScorecardModel],
                 challenger: tuple[str, ScorecardModel] | None = None, share: int = 0) -> None:
        self.champion, self.challenger, self.share = champion, challenger, share

    def _arm(self, key: int) -> int:
        if self.challenger is None or self.share <= 0:
            return 0
        return 1 if zlib.crc32(str(key).encode()) % 100 < self.share else 0

    def score(self, rows: Sequence[Mapping[str, Any]],
              keys: Sequence[int]) -> list[ScoreResult]:
        out: list[ScoreResult | None] = [None] * len(rows)
        arms = [self._arm(k) for k in keys]
        for arm, entry in enumerate((self.champion, self.challenger)):
            if entry is None:
                continue
            ref, model = entry
            idx = [i for i, a in enumerate(arms) if a == arm]
            if not idx:
                continue
            for i, s in zip(idx, model.explain_rows([rows[i] for i in idx]), strict=True):
                out[i] = ScoreResult(max(Decimal(f"{s.pd:.6f}"), _PD_STEP),
                                     round(s.score), s.reasons, ref)
        return [r for r in out if r is not None]



class ReloadingScorer:
    """The registry's scorer, re-read when ``registry.json`` changes, so a promotion takes
    effect on the next decision without a restart."""

    def __init__(self, registry: ModelRegistry, fallback: Any) -> None:
        self._registry, self._fallback = registry, fallback
        self._stamp: float | None = -1.0
        self._scorer: Any = fallback

    def current(self) -> Any:
        path = self._registry.root / REGISTRY_FILE
        stamp = path.stat().st_mtime if path.exists() else None
        if stamp != self._stamp:
            self._scorer = self._registry.scorer(self._fallback)
            self._stamp = stamp
        return self._scorer

    def ready(self) -> None:
        """Load the registry's scorer now rather than on the first decision (a server does
        this before it serves, so the model and the scoring stack it imports are part of
        the heap the server then freezes: ``entrypoints/api/app.settle``)."""
        self.current()

    def score(self, rows: Sequence[Mapping[str, Any]],
              keys: Sequence[int]) -> list[ScoreResult]:
        return self.current().score(rows, keys)
