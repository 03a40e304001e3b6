"""The report's conventions: ddof = 1 with n, paired intervals behind every "beats" sentence,
mask-seed averaging only for random conditions, restricted subset columns, the length-1
warning, the all-empty end point outside the AUC, regression / multi-target tables,
``missing_input`` never averaged across, loss balance, coverage, CSV / LaTeX / PDF files."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from report_fakes import fake_records

from robustmsa.data.schema import DatasetInfo
from robustmsa.errors import DataError
from robustmsa.evaluation.protocols import incomplete_subsets
from robustmsa.evaluation.report import (
    balance_entries,
    collect,
    majority_scores,
    paired_interval,
    summarize,
    write_report,
)
from robustmsa.evaluation.report.collect import Row
from robustmsa.metrics import area_under_curve
from robustmsa.missing import parse_condition
from robustmsa.tasks import Task

FULL = DatasetInfo("tiny", {"text": 4, "audio": 2, "vision": 2}, {"text": 8, "audio": 8, "vision": 8})
SEED_F1 = {0: 0.70, 1: 0.72, 2: 0.75}


def by_seed(table: dict[str, dict[int, float]]):
    """value(name, seed, ...) = table[name][seed] for every condition, metric, mask seed."""
    return lambda n, s, c, m, ms: table[n][s]


def section(md: str, head: str) -> str:
    start = md.index(head)
    nxt = md.find("\n#", start + len(head))
    return md[start: nxt if nxt >= 0 else None]


def test_summarize_is_sample_sd():
    s = summarize([0.1, 0.2, 0.3])
    assert s.n == 3 and s.mean == pytest.approx(0.2)
    assert s.sd == pytest.approx(0.1)  # ddof = 1 (ddof = 0 would give 0.0816)
    assert math.isnan(summarize([0.5]).sd)


def test_table_prints_sample_sd_and_n(tmp_path):
    recs = fake_records(["teacher"], value=by_seed({"teacher": {0: 0.1, 1: 0.2, 2: 0.3}}),
                        protocols=("subsets",))
    md = write_report(recs, tmp_path, data=FULL).read_text()
    assert "| Method | n | t | a | v | ta | tv | av | Avg. | tav (complete) |" in md
    assert "| teacher | 3 | 20.00 ± 10.00 |" in md
    assert "ddof = 1" in md


def test_paired_t_interval_matches_hand_computation():
    a = {0: 0.70, 1: 0.72, 2: 0.75}
    b = {0: 0.68, 1: 0.69, 2: 0.71, 3: 0.99}  # seed 3 has no partner: not used
    pr = paired_interval(a, b)
    d = np.array([0.02, 0.03, 0.04])
    t975_2df = 4.302652729911275  # Student t, 97.5 % quantile, 2 degrees of freedom
    half = t975_2df * d.std(ddof=1) / math.sqrt(3)
    assert pr.n == 3 and pr.mean == pytest.approx(0.03)
    assert (pr.lo, pr.hi) == pytest.approx((0.03 - half, 0.03 + half))
    assert pr.detectable
    bs = paired_interval(a, b, method="bootstrap", seed=3)
    assert bs == paired_interval(a, b, method="bootstrap", seed=3)  # seeded
    assert 0.02 - 1e-12 <= bs.lo <= bs.hi <= 0.04 + 1e-12
    one = paired_interval({0: 0.5}, {0: 0.4})
    assert one.n == 1 and not one.detectable and math.isnan(one.lo)


def test_beats_sentence_only_when_interval_excludes_zero(tmp_path):
    table = {"teacher": SEED_F1,
             "good": {s: v + 0.05 + 0.001 * s for s, v in SEED_F1.items()},  # always +5
             "noisy": {0: 0.74, 1: 0.69, 2: 0.76}}  # -0.01..+0.04 around the teacher
    recs = fake_records(list(table), value=by_seed(table), protocols=("subsets",))
    md = write_report(recs, tmp_path, data=FULL).read_text()
    paired = section(md, "### Paired comparisons")
    assert "**good** beats **teacher** on Avg. F1: 5.10 points higher" in paired
    claims = [line for line in paired.splitlines() if " beats " in line]
    assert len(claims) == 2 and all("**good** beats **teacher**" in c for c in claims)  # Avg., tav
    assert "no difference detectable with n = 3 seeds" in paired
    rows = [r for r in csv.DictReader(open(tmp_path / "tables/paired_F1.csv"))]
    noisy = next(r for r in rows if r["A"] == "noisy" and r["B"] == "teacher")
    assert "*" not in noisy["Δ Avg."]


def test_parent_by_method_then_prefix_and_compare_to(tmp_path):
    names = ["teacher", "corrkd", "corrkd_wo_scd", "mine_v2", "mine"]
    table = {n: SEED_F1 for n in names}
    recs = fake_records(names, value=by_seed(table), protocols=("subsets",),
                        method={"corrkd_wo_scd": "corrkd", "mine_v2": "other"})
    md = write_report(recs, tmp_path, data=FULL).read_text()
    assert "| corrkd_wo_scd | corrkd | parent |" in md
    assert "| mine_v2 | mine | parent |" in md
    md = write_report(recs, tmp_path, data=FULL, compare_to={"mine_v2": "corrkd"}).read_text()
    assert "| mine_v2 | corrkd | compare_to |" in md


def test_mask_seeds_averaged_only_for_random_conditions():
    assert not parse_condition("ta").is_random and not parse_condition("complete").is_random
    assert parse_condition("frame:0.3").is_random and not parse_condition("frame:0.0").is_random
    assert parse_condition("frame:1.0").empties_all and not parse_condition("frame:0.9").empties_all
    assert parse_condition("block:1.0").empties_all and parse_condition("eta:0.3").is_random

    def val(n, s, c, m, ms):
        return 0.5 + 0.1 * ms  # mask seed 0 -> 0.5, mask seed 1 -> 0.6
    col = collect(fake_records(["x"], seeds=(0,), value=val), {"tiny": FULL.modalities})
    row = Row("tiny", "x", "zeros")
    assert col.units(row, "subsets", "ta", "F1") == {(0, None): 0.5}  # one mask, not averaged
    assert col.units(row, "frame_drop", "frame:0.3", "F1")[(0, None)] == pytest.approx(0.55)
    assert any("different values across mask seeds" in n for n in col.notes)


@pytest.mark.parametrize("info,cols,avg", [
    (DatasetInfo("tiny", {"text": 4}, {"text": 8}), ["t (complete)"], False),
    (DatasetInfo("tiny", {"audio": 2, "vision": 2}, {"audio": 8, "vision": 8}),
     ["a", "v", "Avg.", "av (complete)"], True),
])
def test_subset_columns_restricted_to_the_datasets_modalities(tmp_path, info, cols, avg):
    def val(n, s, c, m, ms):
        return {"a": 0.6, "v": 0.8}.get(c, 0.5)
    md = write_report(fake_records(["teacher"], seeds=(0,), value=val, protocols=("subsets",)),
                      tmp_path, data=info).read_text()
    assert "| Method | n | " + " | ".join(cols) + " |" in md
    assert "| ta |" not in md and "has the modalities" in md
    if avg:  # Avg. over the dataset's own incomplete subsets (a, v), not the stored 6
        assert "| teacher | 1 | 60.00 | 80.00 | 70.00 | 50.00 |" in md
    assert incomplete_subsets(info.modalities) == (("a", "v") if avg else ())


def test_length_one_sequences_warn(tmp_path):
    info = DatasetInfo("tiny", {"text": 4, "audio": 2, "vision": 2},
                       {"text": 1, "audio": 1, "vision": 1})
    recs = fake_records(["teacher"], value=by_seed({"teacher": SEED_F1}), protocols=("subsets",))
    md = write_report(recs, tmp_path, data=info).read_text()
    assert "has length 1" in md and "frame drop = modality drop" in md
    md = write_report(recs, tmp_path, data=FULL).read_text()
    assert "has length 1" not in md


def test_all_empty_end_point_outside_auc_and_next_to_majority(tmp_path):
    def val(n, s, c, m, ms):
        p = float(c.split(":")[1])
        return 0.99 if p == 1.0 else 0.8 - 0.3 * p + 0.01 * s
    recs = fake_records(["teacher"], value=val, protocols=("frame_drop",))
    recs.append({**recs[0], "condition": "auc", "value": 0.123})  # stale stored AUC: ignored
    md = write_report(recs, tmp_path, data=FULL, chance={"tiny": {"F1": 0.42}}).read_text()
    rates = [i / 10 for i in range(10)]
    want = np.mean([area_under_curve(rates, [0.8 - 0.3 * p + 0.01 * s for p in rates])
                    for s in range(3)])
    curve = section(md, "### Protocol `frame_drop`")
    assert "AUC [0, 0.9]" in curve and "| 1.0 |" not in curve
    assert f"{want * 100:.2f} ± 1.00" in curve
    end = section(md, "### All-empty end point")
    assert "| teacher | 3 | 99.00 ± 0.00 |" in end and "| majority class |  | 42.00 |" in end


def test_regression_and_multi_target_tables(tmp_path):
    metrics = ["MAE", "Corr", "Mult_acc_7", "Acc2", "F1", "Mult_acc_5"]

    def val(n, s, c, m, ms):
        return {"MAE": 0.8123, "Corr": 0.65}.get(m, 0.5) + 0.001 * s
    recs = fake_records(["teacher"], value=val, metrics=metrics, protocols=("subsets",))
    md = write_report(recs, tmp_path, data=FULL).read_text()
    sub = section(md, "### Inter-modality missingness")
    assert sub.index("| teacher | 3 | 0.813 ± 0.001") < sub.index("**Corr**") < \
        sub.index("**Acc-7**") < sub.index("**Acc-2**") < sub.index("**F1**")
    assert "MAE ↓" in md and "| teacher | 3 | 0.651 ± 0.001" in md
    assert "Acc-5" in section(md, "### Appendix: every metric (complete input)")
    # POM-like: audio + vision, 17 per-target metrics and no averaged MAE / Corr
    pom = DatasetInfo("pom", {"audio": 2, "vision": 2}, {"audio": 8, "vision": 8})
    targets = [f"{b}/t{i}" for b in ("MAE", "Corr") for i in range(17)]

    def tval(n, s, c, m, ms):
        return (1.0 if m.startswith("MAE") else 0.5) + 0.01 * int(m.split("/t")[1])
    recs = fake_records(["teacher"], value=tval, metrics=targets, protocols=("subsets",),
                        dataset="pom")
    md = write_report(recs, tmp_path / "pom", data=pom).read_text()
    assert "| Method | n | a | v | Avg. | av (complete) |" in md
    assert "| teacher | 3 | 1.080 ± 0.000 | 1.080 ± 0.000 | 1.080 ± 0.000 | 1.080 ± 0.000 |" in md  # mean over the 17 targets
    app = section(md, "### Appendix: MAE ↓ per target")
    assert "| Method | n | t0 | t1 | t2 |" in app and "t16 |" in app


def test_missing_input_never_averaged_across(tmp_path):
    recs = fake_records(["corrkd"], value=lambda *a: 0.6, missing_input="zeros",
                        protocols=("subsets",))
    recs += fake_records(["corrkd"], value=lambda n, s, c, m, ms: 0.7 + 0.01 * s,
                         missing_input="mask", protocols=("subsets",))
    md = write_report(recs, tmp_path, data=FULL).read_text()
    assert "| corrkd [zeros] | 3 | 60.00 ± 0.00 |" in md
    assert "| corrkd [mask] | 3 | 71.00 ± 1.00 |" in md
    assert "| corrkd [zeros] | corrkd [mask] | missing input |" in md
    assert "never averaged" in md and "`zeros` =" in md and "`mask` =" in md


def test_folds_times_seeds_are_units(tmp_path):
    recs = fake_records(["teacher"], value=lambda n, s, c, m, ms: 0.5, folds=(0, 1),
                        protocols=("subsets",))
    md = write_report(recs, tmp_path, data=FULL).read_text()
    assert "| teacher | 6 |" in md and "(seed, fold)" in md


def test_two_checkpoints_with_one_name_and_seed_are_refused(tmp_path):
    recs = fake_records(["teacher"], seeds=(0,), value=lambda *a: 0.5, protocols=("subsets",))
    other = [{**r, "checkpoint": "elsewhere/best.pt", "value": 0.6} for r in recs]
    with pytest.raises(DataError, match="teacher seed 0 .* differ"):
        write_report(recs + other, tmp_path)


def test_files_balance_coverage_costs(tmp_path):
    table = {"teacher": SEED_F1, "corrkd": SEED_F1}
    recs = fake_records(list(table), value=by_seed(table))
    recs += fake_records(list(table), value=lambda *a: 0.9, metrics=("coverage",))
    summary = {"loss_balance": {p: {"task": {"value": 0.2, "grad_norm": 0.8, "share": 0.25},
                                    "scd": {"value": 60.0, "grad_norm": 2.4, "share": 0.75}}
                                for p in ("start", "best")}}
    bal = [e for s in range(3) for e in balance_entries(summary, "corrkd", s)]
    costs = [{"method": "teacher", "params": 87242, "FLOPs": 1.5e6, "inference ms": 0.42}]
    path = write_report(recs, tmp_path, data=FULL, balance=bal, costs=costs)
    md = path.read_text()
    assert "| corrkd | 3 | task | 25.0 ± 0.0 | 25.0 ± 0.0 | 0.800 ± 0.000 | 0.800 ± 0.000 |" in md
    assert "| corrkd | 3 | scd | 75.0 ± 0.0 | 75.0 ± 0.0 | 2.400 ± 0.000 | 2.400 ± 0.000 |" in md
    assert ("| Method | n | Term | share start (%) | share best (%) | grad norm start "
            "| grad norm best |") in md
    cov = section(md, "### Coverage / natural missingness")
    assert "| ta | subsets | 90.00 |" in cov
    assert "coverage" not in section(md, "### Paired comparisons")
    assert "| method | params | FLOPs | inference ms |" in md and "1.5e+06" in md
    for stem in ("subsets_F1", "frame_drop_F1", "paired_F1", "loss_balance", "costs"):
        assert (tmp_path / "tables" / f"{stem}.csv").exists()
        tex = (tmp_path / "tables" / f"{stem}.tex").read_text()
        assert r"\toprule" in tex and r"\bottomrule" in tex and "±" not in tex
    rows = list(csv.DictReader(open(tmp_path / "tables/subsets_F1.csv")))
    assert float(rows[0]["t"]) == pytest.approx(np.mean(list(SEED_F1.values())) * 100)
    assert float(rows[0]["t sd"]) == pytest.approx(np.std(list(SEED_F1.values()), ddof=1) * 100)
    for fig in ("subsets", "frame_drop"):
        assert (tmp_path / f"{fig}.png").stat().st_size > 1000
        assert (tmp_path / f"{fig}.pdf").read_bytes()[:4] == b"%PDF"


def test_majority_scores(tiny_data):
    task = Task.build("polarity2", tiny_data.info)
    got = majority_scores(tiny_data, task)
    train_pos = (tiny_data["train"].labels >= 0).mean() >= 0.5
    test_pos = tiny_data["test"].labels >= 0
    assert got["Acc2"] == pytest.approx(test_pos.mean() if train_pos else 1 - test_pos.mean())
    reg = majority_scores(tiny_data, Task.build("regression", tiny_data.info))
    med = np.median(tiny_data["train"].labels)
    assert reg["MAE"] == pytest.approx(np.abs(tiny_data["test"].labels - med).mean(), rel=1e-6)


def test_stored_summaries_follow_the_conventions():
    from robustmsa.evaluation.api import _summaries
    from robustmsa.evaluation.protocols import PROTOCOLS

    fd = PROTOCOLS["frame_drop"]
    recs = [{"condition": c, "mask_seed": 0, "metric": "F1", "value": 1.0 - fd.rate(c) ** 2}
            for c in fd.conditions]
    recs[-1]["value"] = 0.99  # frame:1.0 (every clip empty) must not enter the AUC
    recs.append({"condition": "frame:0.5", "mask_seed": 0, "metric": "coverage", "value": 1.0})
    (auc,) = _summaries(fd, recs, ("text", "audio", "vision"))
    rates = [i / 10 for i in range(10)]
    assert auc["value"] == pytest.approx(area_under_curve(rates, [1 - r ** 2 for r in rates]))
    sub = PROTOCOLS["subsets"]
    recs = [{"condition": c, "mask_seed": 0, "metric": "F1", "value": {"a": 0.6, "v": 0.8}.get(c, 0)}
            for c in sub.conditions]
    (avg,) = _summaries(sub, recs, ("audio", "vision"))
    assert avg["value"] == pytest.approx(0.7)
    assert _summaries(sub, recs, ("text",)) == []


def test_only_extra_conditions_and_undefined_values(tmp_path):
    def val(n, s, c, m, ms):
        return math.nan if m == "Corr" else 0.5 + 0.01 * s
    recs = fake_records(["teacher", "student"], value=val, metrics=("MAE", "Corr"), protocols=(),
                        conditions=("eta:0.5", "frame:1.0"))
    md = write_report(recs, tmp_path, data=FULL).read_text()
    assert "### Other conditions (`custom`)" in md and "| eta:0.5 | frame:1.0 |" in md
    assert "### All-empty end point" in md and "nan" not in md.lower().replace("mean", "")
