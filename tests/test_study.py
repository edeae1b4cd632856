"""Studies (`ferjax.study`, `ferjax.study.ledger`, `ferjax.study.tables`,
`ferjax.study.statistics`): the statistics against scipy, the ledger's merge and its corrupt lines,
the budget's projection, and a tiny CK+ study on real data that is stopped mid-job, resumes from its
checkpoint, skips what the ledger holds and renders its table."""

import dataclasses
import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import scipy.stats
from conftest import DATA_DIR, REPO

from ferjax.study.studies import STUDIES
from ferjax.study import jobs, ledger, plan, statistics, tables
from ferjax.train import stopping


@pytest.mark.parametrize("df", [1.0, 2.5, 9.0, 37.0, 400.0])
def test_t_distribution_matches_scipy(df):
  for t in (0.0, 0.3, 1.0, 2.26, 6.0, 40.0):
    assert statistics.t_two_sided_p(t, df) == pytest.approx(2 * scipy.stats.t.sf(t, df),
                                                            rel=1e-9,
                                                            abs=1e-15)
  for q in (0.6, 0.9, 0.975, 0.995):
    assert statistics.t_quantile(q, df) == pytest.approx(scipy.stats.t.ppf(q, df), rel=1e-9)
  for a, b, x in ((0.5, 0.5, 0.3), (df / 2, 0.5, 0.9), (3.0, 7.0, 0.01)):
    assert statistics.incomplete_beta(a, b, x) == pytest.approx(scipy.special.betainc(a, b, x),
                                                                rel=1e-10)


def test_tests_and_intervals_match_scipy():
  rng = np.random.default_rng(0)
  a, b = rng.normal(0.70, 0.01, 10), rng.normal(0.71, 0.03, 6)
  welch, reference = statistics.welch(a, b), scipy.stats.ttest_ind(a, b, equal_var=False)
  assert (welch.t, welch.p) == pytest.approx((reference.statistic, reference.pvalue), rel=1e-9)
  assert welch.df == pytest.approx(reference.df, rel=1e-9)
  pairs, reference = statistics.paired(a[:6], b), scipy.stats.ttest_rel(a[:6], b)
  assert (pairs.t, pairs.p) == pytest.approx((reference.statistic, reference.pvalue), rel=1e-9)
  summary = statistics.summarize(a)
  low, high = scipy.stats.t.interval(0.95, 9, loc=a.mean(), scale=scipy.stats.sem(a))
  assert summary.interval == pytest.approx((low, high), rel=1e-9)
  assert (summary.acc, summary.sta, summary.n) == pytest.approx((a.mean(), a.std(ddof=0), 10))
  assert statistics.welch(a[:1], b) is None and statistics.summarize(a[:1]).interval is None
  assert statistics.welch([0.5, 0.5], [0.5, 0.5]).p == 1.0 and statistics.welch([0.5, 0.5],
                                                                                [0.6, 0.6]).p == 0.0


def test_stop_projects_the_finish_after_the_timed_steps(monkeypatch):
  clock = [1000.0]
  monkeypatch.setattr(stopping.time, "monotonic", lambda: clock[0])
  stop = stopping.Stop(deadline=1100.0, reserve_s=10.0)
  stop.compiled(step=1)
  clock[0] += 5.0  # 9 steps in 5 s: not yet timed.
  stop.project(10, total_steps=500)
  assert not stop.check() and stop.step_seconds is None
  clock[0] += 0.5  # 10 steps in 5.5 s: 490 more need ~270 s, 94.5 s are left.
  stop.project(11, total_steps=500)
  assert stop.check() and stop.reason.startswith(
      "it cannot finish within the budget: 489 more steps")
  fits = stopping.Stop(deadline=1100.0)
  fits.compiled(step=0)
  fits.project(10, total_steps=20)
  assert not fits.check() and fits.step_seconds == pytest.approx(0.0)
  fits.compiled(step=0)  # The next job of a study is timed afresh.
  assert fits.step_seconds is None
  clock[0] = 1100.0
  assert fits.check() and fits.reason == "the budget ran out"


def line(cell="m1", run=0, fold=None, accuracy=0.5, study_="table1_fer2013", digest="h1", **extra):
  return {"study": study_, "cell": cell, "run": run, "fold": fold, "config_hash": digest,
          "accuracy": accuracy, **extra}


def test_ledger_merges_by_concatenation_and_reports_corrupt_lines(tmp_path, capsys):
  first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
  ledger.append(first, [line(run=0), line(run=1)])
  ledger.append(second, [line(run=1, accuracy=0.9), line(run=2)])
  with open(second, "a") as broken:  # A copy cut short mid-line, then another machine's line.
    broken.write('{"study": "table1_fer2013", "cell": "m1", "ru')
  ledger.append(second, [line(run=3)])  # Starts on a line of its own after the cut-off one.
  second.open("a").write('[1, 2]\n{"study": "x"}\n')
  contents = ledger.read([first, second])
  assert [(l["run"], l["accuracy"]) for l in contents.lines] == [(0, 0.5), (1, 0.5), (2, 0.5),
                                                                 (3, 0.5)]
  assert contents.duplicates == 1
  assert contents.problems == [
      f"{second}:3: not valid JSON (Invalid control character at: line 1 column 46 (char 45); "
      "cut short?), "
      "skipped", f"{second}:5: a JSON list, not an object, skipped",
      f"{second}:6: lacks cell, run, fold, config_hash, accuracy, skipped"
  ]
  ledger.report_problems(contents)
  assert f"ledger: {second}:3:" in capsys.readouterr().err
  merged = ledger.merge([first, second], tmp_path / "merged.jsonl")
  assert ledger.read(tmp_path / "merged.jsonl").lines == contents.lines == merged.lines
  with pytest.raises(ledger.LedgerError, match="no such ledger"):
    ledger.read(tmp_path / "absent.jsonl")
  assert ledger.read(tmp_path / "absent.jsonl", missing_ok=True).lines == []


def test_config_hash_ignores_where_and_how_many_but_not_what():
  config = plan.config_record(
      plan.cell_config(STUDIES["table1_ckplus"].cell("m6"), plan.Scale(), fold=0))
  moved = json.loads(json.dumps(config))
  moved.update(data_dir="/elsewhere", num_runs=10, first_run=3)
  moved["folds"]["fold"], moved["data"]["source"] = 7, "grain"
  assert ledger.config_hash(moved) == ledger.config_hash(config)
  moved["loss"]["lambda1"] = 6.0
  assert ledger.config_hash(moved) != ledger.config_hash(config)


def test_plan_skips_held_runs_and_keeps_row_order():
  table = STUDIES["table1_ckplus"]
  scale = plan.Scale(width=0.25, runs=3, folds=(0, 1))
  planned = plan.jobs(table, scale, set())
  pending, total = planned.pending, planned.total
  assert total == 12 and [j.label for j in pending[:3]] == [
      "m1 fold 0 (runs 0-2)", "m1 fold 1 (runs 0-2)", "m2 fold 0 (runs 0-2)"
  ]
  digest = pending[0].config_hash
  done = {("table1_ckplus", "m1", 0, 0, digest), ("table1_ckplus", "m1", 1, 0, digest),
          ("table1_ckplus", "m1", 2, 1, digest)}
  pending = plan.jobs(table, scale, done).pending
  assert (pending[0].runs, pending[0].config.first_run, pending[0].config.num_runs) == ((2,), 2, 1)
  assert pending[1].runs == (0, 1) and pending[0].config.model.options.width == 0.25
  fer = plan.jobs(STUDIES["table1_fer2013"], scale, set()).pending
  assert {j.fold for j in fer} == {None} and len(fer) == 6  # FER2013 has no folds.
  sweep = plan.jobs(STUDIES["fig6_lambda1"], plan.Scale(runs=1), set()).pending
  assert [j.config.loss.lambda1 for j in sweep] == [float(v) for v in range(1, 11)]
  assert {j.config.loss.lam for j in sweep} == {0.01} and len({j.config_hash for j in sweep}) == 10
  table_2 = STUDIES["table2_ckplus"]
  assert [c.name for c in table_2.cells] == ["m6", "paper 002 MCSA + DDA"] and len(
      table_2.reference_rows) == 5
  assert table_2.cells[0].published == (98.66, 0.11)


@pytest.mark.parametrize(("text", "seconds"), [("90", 90.0), ("90s", 90.0), ("9m", 540.0),
                                               ("1h30m", 5400.0)])
def test_durations(text, seconds):
  assert jobs.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5x", "0m"])
def test_bad_durations_say_what_is_expected(text):
  with pytest.raises(ValueError, match="expected a"):
    jobs.parse_duration(text)


def test_folds_and_cells_are_checked():
  assert plan.parse_folds("0-2,7") == (0, 1, 2, 7) and plan.parse_folds("all") == tuple(range(10))
  with pytest.raises(ValueError, match="folds are 0-9"):
    plan.parse_folds("3,12")
  with pytest.raises(KeyError, match="has no cell 'm7'"):
    jobs.selected(STUDIES["table1_ckplus"], ["m1", "m7"])


def synthetic_table_lines(accuracies: dict[str, list[list[float]]]) -> list[dict]:
  """CK+ lines: accuracies[cell][run][fold]."""
  environment = {"device_kind": "cpu", "device_count": 1, "git": {"commit": "abc", "dirty": False}}
  return [
      line(cell,
           run, fold, value, "table1_ckplus",
           scale={
               "runs": 2,
               "folds": [0, 1, 2]
           }, environment=environment, wall_time_s=60.0,
           finished_at=f"2026-12-02T00:0{run}:{fold}0+00:00")
      for cell, runs in accuracies.items()
      for run, folds in enumerate(runs)
      for fold, value in enumerate(folds)
  ]


def test_table_gives_acc_sta_intervals_and_tests_between_rows(tmp_path):
  m1 = [[0.80, 0.70, 0.75], [0.78, 0.74, 0.70]]
  m6 = [[0.90, 0.80, 0.86], [0.91, 0.82, 0.84]]
  lines = synthetic_table_lines({"m1": m1, "m6": m6, "m2": [[0.8, 0.8]]})  # m2: run 0 lacks fold 2.
  [table] = tables.tables(lines, STUDIES)
  assert [row.cell.name for row in table.rows] == ["m1", "m2", "m6"
                                                  ] and table.not_run == ["m3", "m4", "m5"]
  m1_runs, m6_runs = np.mean(m1, axis=1), np.mean(m6, axis=1)
  summary = table.row("m1").summary()
  assert (summary.acc, summary.sta, summary.n) == pytest.approx((m1_runs.mean(), m1_runs.std(), 2))
  assert table.row("m2").completeness() == "incomplete: 0 of 2 runs; run 0: 2/3 folds, mean 80.00%"
  # Each row against the one before where both are in, and the baseline against the full network.
  m1_vs_m2, m1_vs_m6 = table.tests()
  assert m1_vs_m2["rows"] == ["m1", "m2"] and m1_vs_m2["welch"] is None
  assert m1_vs_m6["rows"] == ["m1", "m6"]
  assert m1_vs_m6["welch"]["p"] == pytest.approx(
      scipy.stats.ttest_ind(m1_runs, m6_runs, equal_var=False).pvalue)
  paired = scipy.stats.ttest_rel(np.mean(m6, axis=0), np.mean(m1, axis=0))
  assert m1_vs_m6["paired_over_folds"]["p"] == pytest.approx(paired.pvalue)
  assert table.provenance()["wall_time_s"] == 14 * 60.0  # m1 and m6: 6 lines each; m2: 2.
  text = tables.write([table], tmp_path)
  assert f"| m1 | {100 * m1_runs.mean():.2f} | {100 * m1_runs.std():.2f} | 2 |" in text
  assert "| 92.14 | 0.31 |" in text and f"{paired.pvalue:.3g} (3 folds" in text
  assert (tmp_path / f"{tables.file_stem(table)}.png").stat().st_size > 5000
  assert json.loads(
      (tmp_path / "tables.json").read_text())[0]["rows"][0]["completeness"] == "complete"


def test_study_stops_mid_job_resumes_and_skips_what_the_ledger_holds(ckplus_data, tfds_dir,
                                                                     tmp_path, monkeypatch, capsys):
  monkeypatch.setenv("FERJAX_DATA_DIR", str(tfds_dir))
  monkeypatch.setenv("FERJAX_MANUAL_DIR", str(DATA_DIR))
  tiny = jobs.selected(STUDIES["table1_ckplus"], ["m1"])
  # 32 training images x 15 views: 15 steps per epoch; folds 0 and 1.
  scale = plan.Scale(width=0.0625, epochs=1, subset=32, runs=1, folds=(0, 1))
  path, workdir = tmp_path / "ledger.jsonl", tmp_path / "work"
  original = stopping.Stop.check

  def stop_at_step_5(self):  # As the budget's projection does when a job cannot finish in time.
    self.calls = getattr(self, "calls", 0) + 1
    if self.calls == 5:
      self.reason = "it cannot finish within the budget (test)"
    return original(self)

  monkeypatch.setattr(stopping.Stop, "check", stop_at_step_5)
  tally = jobs.run_study(tiny, scale, path, workdir, budget_s=600)
  out = capsys.readouterr().out
  assert tally.done == 0 and not path.exists()
  assert "stopped m1 fold 0 (run 0) at step" in out and "it is not in the ledger" in out

  monkeypatch.setattr(stopping.Stop, "check", original)
  tally = jobs.run_study(tiny, scale, path, workdir, budget_s=600)
  out = capsys.readouterr().out
  assert ("resuming" in out and "from step" in out and "2/2 jobs done" in out and
          "the study is complete" in out)
  lines = ledger.read(path).lines
  assert [(l["cell"], l["fold"], l["run"]) for l in lines] == [("m1", 0, 0), ("m1", 1, 0)]
  first = lines[0]
  assert first["split_sizes"] == {"train": 32, "test": 93} and first["steps"] == 15
  assert first["source"]["name"] == "CK+48.zip" and len(first["source"]["sha256"]) == 64
  assert first["environment"]["versions"]["jax"] and first["scale"]["width"] == 0.0625
  assert np.sum(first["confusion"]) == 93 and math.isclose(
      first["accuracy"], np.trace(first["confusion"]) / 93, rel_tol=1e-6)
  assert first["config"]["model"]["options"]["width"] == 0.0625 and first["best_epoch"] == 1

  tally = jobs.run_study(tiny, scale, path, workdir, budget_s=600)
  assert tally.done == 2 and "2/2 jobs already in" in capsys.readouterr().out
  assert len(path.read_text().splitlines()) == 2
  [table] = tables.tables(lines, STUDIES)
  assert table.row("m1").summary().n == 1
  commands = {
      "study": [
          "-m", "ferjax.study", "--study=table1_ckplus", "--cells=m1", f"--ledger={path}",
          "--width=0.0625", "--epochs=1", "--subset=32", "--runs=1", "--folds=0-1", "--budget=1m"
      ],
      "report": ["-m", "ferjax.report", f"--ledger={path}", f"--output={tmp_path / 'tables'}"]
  }
  environment = dict(os.environ, PYTHONPATH=str(REPO))
  done = subprocess.run([sys.executable, *commands["study"]],
                        capture_output=True, text=True, env=environment, cwd=REPO, check=True)
  assert "2/2 jobs already in" in done.stdout and "the study is complete" in done.stdout
  done = subprocess.run([sys.executable, *commands["report"]],
                        capture_output=True, text=True, env=environment, cwd=REPO, check=True)
  assert "| m1 |" in done.stdout and (tmp_path / "tables" / "tables.json").is_file()
  merged = tmp_path / "merged.jsonl"
  done = subprocess.run(
      [sys.executable, "-m", "ferjax.ledger", f"--into={merged}", str(path), str(path)],
      capture_output=True, text=True, env=environment, cwd=REPO, check=True)
  assert "2 lines into" in done.stderr and "(2 duplicates dropped)" in done.stderr
  assert ledger.read(merged).lines == ledger.read(path).lines
  done = subprocess.run([sys.executable, *commands["study"][:-1], "--budget=soon"],
                        capture_output=True, text=True, env=environment, cwd=REPO)
  assert done.returncode == 1 and "error: --budget='soon': expected a duration" in done.stderr


def test_runs_per_job_cuts_a_row_into_programs_a_lease_can_finish():
  scale = plan.Scale(runs=10, runs_per_job=4)
  planned = plan.jobs(STUDIES["table1_fer2013"], scale, set())
  pending, total = planned.pending, planned.total
  assert total == 18 and [j.runs for j in pending[:3]] == [(0, 1, 2, 3), (4, 5, 6, 7), (8, 9)]
  assert [(j.config.first_run, j.config.num_runs) for j in pending[:3]] == [(0, 4), (4, 4), (8, 2)]
  digest = pending[0].config_hash
  done = {("table1_fer2013", "m1", run, None, digest) for run in range(6)}
  left = plan.jobs(STUDIES["table1_fer2013"], scale, done).pending
  assert [(j.cell, j.runs) for j in left[:2]] == [("m1", (6, 7, 8, 9)), ("m2", (0, 1, 2, 3))]
  # Each program of a row keeps its own workdir: run 4's job must never resume run 0's finished
  # checkpoint (it once did, and the ledger got run 0's numbers under run 1).
  folders = {jobs.job_workdir(pathlib.Path("w"), job) for job in pending[:3]}
  assert len(folders) == 3 and pathlib.Path("w/table1_fer2013") in next(iter(folders)).parents


def test_tta_report_puts_the_test_time_augmented_accuracy_beside_the_plain_one(
    ckplus_data, tfds_dir):
  from ferjax.configs import cka
  from ferjax import mesh as mesh_lib
  from ferjax.data import job
  from ferjax.train import hyper, loop, steps
  from ferjax.train import state as state_lib
  config = cka.get_config("m1,width=0.0625,tta_report")
  config.data_dir, config.manual_dir = str(tfds_dir), str(DATA_DIR)
  assert loop.tta_eval_step(None, cka.get_config("m1"), None, 6) is None
  mesh = mesh_lib.make_mesh()
  runs = hyper.resolve(config)
  data = job.load(config, mesh, 0, runs.data_seeds)
  initial = state_lib.initial_state(config, mesh, 6, runs)
  carry = loop.Carry(initial.state, initial.state.runs, {"best_epoch": [0]})
  eval_step = steps.make_eval_step(initial.model, config, mesh, 6)
  results = loop.final_results(config, data, carry, eval_step, 0, 0.0,
                               loop.tta_eval_step(initial.model, config, mesh, 6))
  assert len(results.tta_accuracy) == 1
  assert loop.final_results(config, data, carry, eval_step, 0, 0.0).tta_accuracy is None
  assert 0.0 <= results.tta_acc <= 1.0
  results = dataclasses.replace(results, steps=0, split_sizes={}, source={})
  [line_] = ledger.run_lines("beyond_ckplus", "m6", plan.config_record(config), results,
                             {"run": [0], "data": [1]}, {}, {})
  assert (line_["tta_accuracy"] == results.tta_accuracy[0] and
          line_["accuracy"] == results.accuracy[0])


def test_lines_that_differ_only_in_how_many_runs_were_asked_share_a_table():
  """`--runs=1`, then `--runs=3 --runs_per_job=1`: the lines measured the same thing, so one table
  holds them, counting the 3 runs the larger command asked for."""
  lines = synthetic_table_lines({"m1": [[0.8, 0.7, 0.75]], "m6": [[0.9, 0.8, 0.85]]})
  later = synthetic_table_lines({"m1": [[0.0] * 3, [0.78, 0.72, 0.7]]})[3:]
  for line in later:
    line["scale"] = dict(line["scale"], runs=3, runs_per_job=1)
  [table] = tables.tables(lines + later, STUDIES)
  assert table.scale["runs"] == 3 and "runs_per_job" not in table.scale
  assert table.row("m1").summary().n == 2
