"""Trained models on disk: one folder per version, with the validation report.

    out/models/<name>/v<N>/
        scorecard.pkl      the scorecard (pickle: load only what this installation wrote)
        challenger.txt     the LightGBM challenger (its own text format)
        metadata.json      data, target, features, split, seed, scaling, metrics, versions
        report.json        the same and the scorecard's bins
        report.html        the same for people (offline: no scripts, no links)

Versions are never overwritten: each training makes the next ``v<N>``.
"""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from xinbao import __version__
from xinbao.scoring.metrics import Validation
from xinbao.scoring.scorecard import TrainingResult, TrainingSpec


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
