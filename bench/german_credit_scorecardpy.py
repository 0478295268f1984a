"""The scorecardpy side of ``bench/german_credit.py``; runs in its own virtualenv
(scorecardpy 0.1.9.7 needs pandas < 2.2 and numpy < 2), never imports Xinbao.

    python bench/german_credit_scorecardpy.py OUT_DIR SEED

Writes OUT_DIR/germancredit.csv (the data set scorecardpy ships, with a ``split`` column:
scorecardpy's own ``split_df`` at 70/30 with SEED, stratified by the target) and
OUT_DIR/scorecardpy.json (AUC and KS on train and test of scorecardpy's standard pipeline:
``var_filter``, ``woebin``, ``woebin_ply``, L1 logistic regression as in its README, with
filter and bins fitted on the training part only).

It has no smoke run of its own: it needs scorecardpy, which only its virtualenv (made from
the package registry) holds, so ``bench/german_credit.py --smoke``, the bench smoke test's
run, leaves it out; the full ``bench/german_credit.py`` runs it.
"""

import json
import sys
from pathlib import Path

import numpy as np
import scorecardpy as sc
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve


def ks(y, p):
    fpr, tpr, _ = roc_curve(y, p)
    return float(np.max(np.abs(tpr - fpr)))


def main():
    out, seed = Path(sys.argv[1]), int(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    data = sc.germancredit()
    data["creditability"] = (data["creditability"] == "bad").astype(int)  # 1 = bad
    data["row"] = range(len(data))
    parts = sc.split_df(data, y="creditability", ratio=0.7, seed=seed)
    train_rows = set(parts["train"]["row"])
    data["split"] = ["train" if r in train_rows else "test" for r in data["row"]]
    data.drop(columns=["row"]).to_csv(out / "germancredit.csv", index=False)

    y_name = "creditability"
    train = data[data["split"] == "train"].drop(columns=["row", "split"])
    test = data[data["split"] == "test"].drop(columns=["row", "split"])
    kept = sc.var_filter(train, y=y_name)
    bins = sc.woebin(kept, y=y_name)
    train_woe = sc.woebin_ply(kept, bins)
    test_woe = sc.woebin_ply(test[kept.columns], bins)
    x_cols = [c for c in train_woe.columns if c != y_name]
    y_train = train_woe[y_name].to_numpy()
    y_test = test_woe[y_name].to_numpy()
    lr = LogisticRegression(penalty="l1", C=0.9, solver="saga", max_iter=5000, n_jobs=1)
    lr.fit(train_woe[x_cols], y_train)
    p_train = lr.predict_proba(train_woe[x_cols])[:, 1]
    p_test = lr.predict_proba(test_woe[x_cols])[:, 1]
    result = {
        "scorecardpy": sc.__version__ if hasattr(sc, "__version__") else "0.1.9.7",
        "features_kept": len(x_cols), "rows_train": int(len(y_train)),
        "rows_test": int(len(y_test)), "bad_rate": float(np.mean(y_train)),
        "train": {"auc": float(roc_auc_score(y_train, p_train)), "ks": ks(y_train, p_train)},
        "test": {"auc": float(roc_auc_score(y_test, p_test)), "ks": ks(y_test, p_test)},
    }
    (out / "scorecardpy.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
