"""The figure scripts under ``experiments/`` read back what the commands log to MLflow: here from a
store written with the package's own record of a run (``spikernn.results.tracking_record``), so a
change of what goes to MLflow that a script does not follow shows up as a wrong table."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from mlflow.tracking import MlflowClient

from spikernn.results import RateModelResult, RunResult, TrainResult, tracking_record

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    """An empty MLflow store the scripts read, and their results folder, both under tmp_path."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.syspath_prepend(str(EXPERIMENTS))
    import common

    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")
    return MlflowClient(uri)


def _log_run(client: MlflowClient, experiment: str, params: dict, trained: bool, lif_accuracy: float) -> None:
    """A FINISHED ``spikernn-run`` whose training metrics and tags are those the runner logs."""
    model = RateModelResult("mante", 250, 200, 50, 0.98, 5.0, 0, 35.0, 9.0, 200)
    record = tracking_record(RunResult(TrainResult(model, seed=int(params["seed"]), trained=trained,
                                                   trials_to_criterion=4000 if trained else None,
                                                   training_seconds=1.0, population_size=1)))  # fmt: skip
    found = client.get_experiment_by_name(experiment)
    eid = found.experiment_id if found else client.create_experiment(experiment)
    run = client.create_run(eid, tags={**record.tags, "command": "spikernn-run"})
    for key, value in params.items():
        client.log_param(run.info.run_id, key, value)
    for key, value in {**record.metrics, "lif_accuracy": lif_accuracy}.items():
        client.log_metric(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id, "FINISHED")


def test_fig6c_counts_the_networks_that_trained(store: MlflowClient, tmp_path: Path) -> None:
    """Fig. 6C's "trained" column: one of two networks per gain met the criterion."""
    for gain in ("0.5", "3.0"):
        for seed, trained in ((0, True), (1, False)):
            _log_run(store, "fig6c", {"seed": seed, "model.gain": gain}, trained, 0.97)
    store.create_experiment("figS7")
    import fig6c_S7

    fig6c_S7.main()
    table = (tmp_path / "results" / "fig6c.md").read_text()
    assert "| 0.5 | 1/2 |" in table and "| 3 | 1/2 |" in table, table


def test_adaptive_vs_grid_report_pairs_the_networks_of_its_csv(
    store: MlflowClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """experiments/adaptive_vs_grid.py --report reads only its per-network CSV (the study resumes
    from it): converted counts, the discordant networks, the trials, and an untrained network left out."""
    import adaptive_vs_grid
    import common

    monkey_results = common.RESULTS
    monkey_results.mkdir(parents=True)
    rows = [
        (0, True, 30.0, 0.99, 40.0, 0.97, 480),
        (1, True, 20.0, 0.96, 20.0, 0.96, 464),  # the same factor: the same fresh trials, the same number
        (2, True, 50.0, 0.95, 45.0, 0.90, 480),  # converted by the grid's choice only
        (3, False, None, None, None, None, None),
    ]
    for seed, trained, gf, ga, af, aa, at in rows:
        row = {"seed": seed, "trained": trained}
        if trained:
            row |= {"grid_factor": gf, "grid_trials": 1600, "grid_best_grid_accuracy": 1.0, "grid_lif_accuracy": ga,
                    "grid_seconds": 30.0, "adaptive_factor": af, "adaptive_trials": at, "adaptive_lif_accuracy": aa,
                    "adaptive_seconds": 9.0}  # fmt: skip
        common.NetworkTable("study", adaptive_vs_grid.FIELDS).append(row)
    assert common.NetworkTable("study", adaptive_vs_grid.FIELDS).done_seeds() == {0, 1, 2, 3}
    adaptive_vs_grid.report("study")
    table = (monkey_results / "study.md").read_text()
    assert "same 3 trained networks" in table and "(4 networks, 3 met the training criterion" in table
    assert "| 3/3 = 100 % [44, 100] | 2/3 = 67 % [21, 94] | discordant: 1 only grid, 0 only adaptive" in table
    assert "| 1600.0 ± 0.0 | 474.7 ± 9.2 | 3.37× fewer |" in table
    assert "| same factor chosen | 1/3 |" in table
    assert (monkey_results / "study.png").is_file()
    assert (monkey_results / "study_networks.csv").is_file()


def test_paper_scale_report_reads_each_conditions_csv(store: MlflowClient) -> None:
    """experiments/paper_scale.py --report: per condition, from its per-network CSV alone, the
    converted fraction on fresh trials, the best-grid number, the grid-edge count and the paper's."""
    import common
    import paper_scale

    common.RESULTS.mkdir(parents=True)
    table = common.NetworkTable("paper_scale_fig7_softplus", paper_scale.FIELDS)
    for seed, trained, factor, edge, best, lif, seconds in (
        (0, True, 14.0, False, 0.99, 0.98, 1800),
        (1, True, 4.0, True, 0.97, 0.90, 5400),
        (2, True, 10.0, False, 0.90, 0.96, None),  # a row imported from an earlier script: untimed
        (3, False, None, None, None, None, None),
    ):
        row = {"seed": seed, "trained": trained, "trials_to_criterion": 1600 if trained else None}
        if trained:
            row |= {"scaling_factor": factor, "at_grid_edge": edge, "search_accuracy": best, "lif_accuracy": lif}
            row["seconds"] = seconds
            row["rate_accuracy"] = 1.0 if seed else 0.51  # seed 0: met the criterion, then lost it
        table.append(row)
    assert table.done_seeds() == {0, 1, 2, 3}
    tuned = paper_scale.table_of("robust_finetuned_sigmoid")  # the reliable path: misses are fine-tuned
    for seed, lif, after in ((5000, 0.99, None), (5001, 0.80, 0.975), (5002, 0.90, 0.93)):
        row = {"seed": seed, "trained": True, "rate_accuracy": 1.0, "scaling_factor": 40.0, "at_grid_edge": False}
        row |= {"search_accuracy": 0.99, "seconds": 100, "finetune_seconds": 3500 if after else None}
        tuned.append(row | {"lif_accuracy": lif, "finetuned_lif_accuracy": after})
    paper_scale.report()
    text = (common.RESULTS / "paper_scale.md").read_text()
    assert (
        "| Fig. 7 softplus | 4 (seeds 0–3) | 3/4 | 1 | 2/3 = 67 % [21, 94] | 94.7 ± 4.2 % | 2/3 = 67 % [21, 94] "
        "| 1 | – | 3600 s (2.0 h; 1 untimed) | 55/100, 88.3 ± 15.8 % |"
    ) in text, text
    assert (
        "| Robust training + fine-tuning, sigmoid | 3 (seeds 5000–5002) | 3/3 | 0 | 1/3 = 33 % [6, 79] | 89.7 ± 9.5 % "
        "| 3/3 = 100 % [44, 100] | 0 | 2/3 = 67 % [21, 94]; 2 fine-tuned; 96.5 ± 3.1 % | 3600 s (2.0 h) "
        "| – (goal ≥ 98/100 working) |"
    ) in text, text
    assert "Fig. 7 sigmoid" not in text  # a condition without a CSV is left out
    assert (common.RESULTS / "paper_scale.png").is_file() and (common.RESULTS / "paper_scale.svg").is_file()


def test_paper_scale_fig6c_compares_the_gains_with_the_fig6b_networks(store: MlflowClient) -> None:
    """Fig. 6C at scale: each gain's CSV, with the Fig. 6B networks as g = 1.5, gives a row per gain,
    a Kruskal–Wallis test across them and the figure; a gain without networks is left out."""
    import common
    import paper_scale
    from scipy import stats

    common.RESULTS.mkdir(parents=True)
    accuracies = {"fig6c_mante_g0.5": (0.90, 0.93, 0.97), "fig6b_mante": (0.99, 0.98, 0.96), "fig6c_mante_g3": (0.97,)}
    for name, values in accuracies.items():
        table = paper_scale.table_of(name)
        for seed, lif in enumerate(values):
            table.append({"seed": seed, "trained": True, "rate_accuracy": 1.0, "lif_accuracy": lif})
        table.append({"seed": len(values), "trained": False})  # missed the criterion: not in the test
    paper_scale.report_supplementary()
    text = (common.RESULTS / "paper_scale_supplementary.md").read_text()
    assert "| Fig. 6C: g = 0.5 |  | 3/4 trained; 1/3 = 33 % [6, 79], 93.3 ± 3.5 % (n = 3) |" in text, text
    reference = "| Fig. 6C: g = 1.5 (the Fig. 6B networks) |  | 3/4 trained; "
    reference += "3/3 = 100 % [44, 100], 97.7 ± 1.5 % (n = 3) |"
    assert reference in text, text
    assert "g = 1 |" not in text and "g = 3 |" in text
    p = stats.kruskal(accuracies["fig6c_mante_g0.5"], accuracies["fig6b_mante"], accuracies["fig6c_mante_g3"]).pvalue
    assert f"| Fig. 6C: across g | no significant difference | Kruskal–Wallis p = {p:.2g} |" in text
    assert (common.RESULTS / "paper_scale_fig6c.png").is_file()


def test_paper_scale_training_reports_each_size_and_draws_figs_1c_and_3(store: MlflowClient) -> None:
    """The training figures at scale: per size, the trained fraction (Wilson), the trained networks'
    trials and fresh-trial accuracy, from the CSVs alone; the figure draws both tasks by N, and a
    low-grid rerun of a Go-NoGo size is not another size."""
    import common
    import paper_scale

    common.RESULTS.mkdir(parents=True)
    for name, outcomes in (
        ("fig3_n100", ((True, 4800, 0.98), (True, 5200, 1.0), (False, None, None))),
        ("fig3_n500", ((True, 3800, 0.99),)),
        ("fig2c_n50", ((True, 2000, 1.0),)),
        ("fig2c_n400_low_grid", ((True, 1600, 1.0),)),
    ):
        table = paper_scale.table_of(name)
        for seed, (trained, trials, accuracy) in enumerate(outcomes):
            table.append({"seed": seed, "trained": trained, "trials_to_criterion": trials, "rate_accuracy": accuracy})
    assert set(paper_scale.networks_by_size("fig2c_n")) == {50}
    paper_scale.report_training()
    text = (common.RESULTS / "paper_scale_training.md").read_text()
    row = "| Fig. 3 Mante N = 100 (training only) | 3 | 2/3 = 67 % [21, 94] | 5000.0 ± 282.8 trials (n = 2) "
    assert row + "| 99.0 ± 1.4 % (n = 2) |" in text, text
    assert "| Fig. 3 Mante N = 500 (training only) | 1 | 1/1 = 100 % [21, 100] |" in text, text
    assert "N = 250" not in text  # a size without a CSV is left out
    assert (common.RESULTS / "paper_scale_training.png").is_file()


def test_a_grid_below_the_references_records_the_reference_grids_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    """A search on the low grid (6–75) also records the factor the reference grid (20–75) would have
    chosen from the same accuracies (first on ties), scored on the run's evaluation trials: the
    chosen network's score where that is the chosen factor, a fresh evaluation at it otherwise."""
    monkeypatch.syspath_prepend(str(EXPERIMENTS))
    import common
    import paper_scale

    from spikernn.rate import RateRNN
    from spikernn.tasks import get_task

    cfg = common.run_config(["experiment=fig2de", "model.n_units=20", "eval_trials=3", "spiking.dt_ms=0.25"])
    task = get_task(cfg.task)
    scored = []
    monkeypatch.setattr(
        paper_scale,
        "evaluate_spiking",
        lambda net, task, s, trials, gen: scored.append(s) or SimpleNamespace(lif_accuracy=0.5),
    )

    def searched(best: float, accuracies: dict[str, float]) -> SimpleNamespace:
        evaluation = SimpleNamespace(score=SimpleNamespace(lif_accuracy=0.97))
        return SimpleNamespace(scaling_factor=best, lif_accuracy_by_scaling_factor=accuracies, evaluation=evaluation)

    model = RateRNN(cfg.model)
    low = {"8": 1.0, "20": 0.9, "25": 0.95, "30": 0.95, "75": 0.2}
    assert paper_scale.at_reference_grid(model, task, cfg, searched(8.0, low)) == {
        "reference_grid_factor": 25.0,
        "reference_grid_lif_accuracy": 0.5,
    }
    assert scored == [25.0]
    within = {"8": 0.8, "20": 0.9, "25": 0.95}
    assert paper_scale.at_reference_grid(model, task, cfg, searched(25.0, within)) == {
        "reference_grid_factor": 25.0,
        "reference_grid_lif_accuracy": 0.97,
    }
    assert scored == [25.0]  # nothing more simulated
    assert "transfer.scaling_factors=[6,8,10,12,14,16,18,20,25," in " ".join(
        paper_scale.CONDITIONS["fig2de_tau_max_100_low_grid"].overrides
    )


def test_paper_scale_mante_measures_and_their_report(store: MlflowClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Figs. 4 and 6A at paper scale: a network's accuracy at s = 60 and τ_d, and its accuracy per
    refractory period (the same trials for each: a t_ref that changes nothing gives the same number);
    ``--report`` turns the rows into the Mante table."""
    import common
    import paper_scale
    import torch

    from spikernn.rate import RateRNN
    from spikernn.tasks import get_task

    monkeypatch.setattr(paper_scale, "T_REFS_FIG6A", (0, 2, 2))
    monkeypatch.setattr(paper_scale, "T_REF_TRIALS", 3)
    cfg = common.run_config(["experiment=fig6", "model.n_units=20", "eval_trials=3", "spiking.dt_ms=0.25"])
    task = get_task(cfg.task)
    torch.manual_seed(0)
    model = RateRNN(cfg.model)
    searched = SimpleNamespace(scaling_factor=30.0)  # what the measures read of a conversion's result
    fig4 = paper_scale.at_paper_factor(model, task, cfg, searched)
    assert 0 <= fig4["lif_accuracy_at_s60"] <= 1 and 20 <= fig4["tau_d_ms_mean"] <= 100 and fig4["tau_d_ms_sd"] > 0
    by_t_ref = paper_scale.by_refractory_period(model, task, cfg, searched)["lif_accuracy_by_t_ref"].split(";")
    assert [p.split("=")[0] for p in by_t_ref] == ["0", "2", "2"] and by_t_ref[1] == by_t_ref[2]

    common.RESULTS.mkdir(parents=True)
    tables = {name: paper_scale.table_of(name) for name in ("fig4_mante", "fig6a_mante")}
    base = {"trained": True, "rate_accuracy": 1.0, "scaling_factor": 40.0, "at_grid_edge": False}
    for seed, at_60, lif in ((0, 0.98, 0.99), (1, 0.90, 0.97)):
        row = base | {"seed": seed, "lif_accuracy": lif, "search_accuracy": lif, "lif_accuracy_at_s60": at_60}
        tables["fig4_mante"].append(row | {"tau_d_ms_mean": 38.0 + seed, "tau_d_ms_sd": 9.0})
        accuracies = f"0=0.9{seed};2=0.97;50=0.1{seed}"
        tables["fig6a_mante"].append(base | {"seed": seed, "lif_accuracy": lif, "lif_accuracy_by_t_ref": accuracies})
    paper_scale.report_measures()
    text = (common.RESULTS / "paper_scale_mante.md").read_text()
    fig4_at_60 = "| Fig. 4: LIF accuracy at s = 60 (200 fresh trials) | 98 % (one network) | 94.0 ± 5.7 % (n = 2) |"
    assert fig4_at_60 in text, text
    assert "| Fig. 4: converted at s = 60 | – | 1/2 = 50 % [9, 91] |" in text, text
    assert "| Fig. 4: τ_d mean over units | 38.9 ms | 38.5 ± 0.7 ms (n = 2) |" in text, text
    fig6a_at_0 = "| Fig. 6A: t_ref 0 ms (100 fresh trials, the 2-ms factor) | 92.8 ± 14.3 % | 90.5 ± 0.7 % (n = 2) |"
    assert fig6a_at_0 in text, text
    assert "| Fig. 6A: t_ref 50 ms (100 fresh trials, the 2-ms factor) |  | 10.5 ± 0.7 % (n = 2) |" in text, text


def test_a_condition_is_written_by_one_process_at_a_time(store: MlflowClient) -> None:
    """Two paper-scale commands on one condition: the second stops at once naming the first's pid
    (nothing simulated twice, no seed appended twice); the lock dies with its holder, SIGKILL included."""
    import os
    import signal
    import subprocess
    import sys

    import common
    import paper_scale

    table = paper_scale.table_of("fig2c_n10")
    with table.exclusive():
        with pytest.raises(SystemExit, match=rf"being written by another process \(pid {os.getpid()}\)"):
            paper_scale.run("fig2c_n10", [0], 1)
    assert not table.path.exists()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time, common; common.RESULTS = __import__('pathlib').Path(sys.argv[1]); "
         "t = common.NetworkTable('paper_scale_fig2c_n10', ['seed']); c = t.exclusive(); c.__enter__(); "
         "print('held', flush=True); time.sleep(60)", str(common.RESULTS)],
        cwd=EXPERIMENTS, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(SystemExit, match=rf"pid {holder.pid}"), table.exclusive():
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with table.exclusive():  # free again
        pass
