"""Search sweeps replayed on an exhaustive table (``benchmarks.search_table``), report by report:
a sweep's search in well under a minute instead of hours, so sampler changes can be judged
quickly and over many seeds.

Each replay is an Optuna study with the sampler a sweep makes (``algorithms.sampler``; the
cost-aware one asks the table for costs and fingerprints where a sweep plans them), run as Ray
Tune runs a sweep: ``concurrency`` trials at once, taking turns to make one report (one
trial-epoch) each. A trial's reports are its student's values at each stage, from the table.
As in a sweep, a trial whose student finished before reports its values at once (one
trial-epoch); one whose student is running waits for it; with early stopping, MO-ASHA's rungs
(``gansearch.search.schedulers.Rungs``: a stage's quality and the trial's known final costs)
stop trials, told to the study as PRUNED.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from benchmarks.search_table import Lookup, Scale, Table


@dataclass
class Replay:
    algorithm: str
    early: bool  # MO-ASHA early stopping
    seed: int
    hv: np.ndarray  # share of the exhaustive front's hypervolume after 1, 2, ... trial-epochs
    trials: np.ndarray  # trials begun by then
    distinct: int  # students trained to the end
    seconds: float  # the replay's own time (the sampler's, mostly)

    @property
    def label(self) -> str:
        return self.algorithm + (" + MO-ASHA" if self.early else "")


def replay(table: Table, scale: Scale, algorithm: str, seed: int, *, early: bool, budget: int,
           num_samples: int, concurrency: int = 2) -> Replay:
    """One sweep of ``algorithm`` replayed for ``budget`` trial-epochs (less if it runs out of
    students, or once it holds the whole front)."""
    import optuna

    from gansearch.search.algorithms import sampler
    from gansearch.search.schedulers import Rungs
    from gansearch.search.spec import SearchConfig

    started = time.perf_counter()
    lookup = Lookup(table)
    search = SearchConfig(algorithm=algorithm, num_samples=num_samples, seed=seed,
                          max_concurrent=concurrency)
    directions = ["minimize" if d == "min" else "maximize" for d in table.objectives.values()]
    study = optuna.create_study(directions=directions,
                                sampler=sampler(search, num_samples, table.distributions, lookup))
    metrics = list(table.objectives)
    quality, signs = metrics[0], np.array([1.0 if d == "min" else -1.0 for d in table.objectives.values()])
    rungs = Rungs(grace_period=1, reduction_factor=2, max_t=table.stages) if early else None
    students = table.students
    running: deque = deque()  # [trial, fingerprint, stages reported], in turn
    waiting: dict[str, list] = {}  # fingerprint -> trials waiting for the running one
    finished: dict[str, list[float]] = {}
    hv: list[float] = []
    begun: list[int] = []
    points: list[np.ndarray] = []
    current, trials = 0.0, 0

    def report() -> None:
        hv.append(current)
        begun.append(trials)

    while len(hv) < budget and current < 1 - 1e-12:
        # A trial waiting for its student's first trial holds its slot, as on the sweep's lock.
        while len(running) + sum(map(len, waiting.values())) < concurrency and len(hv) < budget:
            trial = study.ask(table.distributions)
            trials += 1
            fp = lookup.fingerprint(trial.params)
            if fp in finished:  # the sweep reports the earlier trial's result
                study.tell(trial, finished[fp])
                report()
            elif any(r[1] == fp for r in running):
                waiting.setdefault(fp, []).append(trial)
            else:
                running.append([trial, fp, 0])
        if not running:
            break
        entry = running.popleft()
        trial, fp, stage = entry
        entry[2] = stage = stage + 1
        row = students.loc[fp]
        if stage == table.stages:
            values = [float(row[m]) for m in metrics]
            study.tell(trial, values)
            finished[fp] = values
            points.append(np.asarray(values) * signs)
            current = scale.volume(np.array(points))
            report()
            for other in waiting.pop(fp, []):
                study.tell(other, values)
                if len(hv) < budget:
                    report()
            continue
        if rungs is not None:
            point = np.r_[signs[0] * float(row[f"{quality}@{stage}"]),
                          [s * float(row[m]) for s, m in zip(signs[1:], metrics[1:], strict=True)]]
            if not rungs.record(stage, str(trial.number), point):
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                for other in waiting.pop(fp, []):  # its waiters train it themselves
                    running.append([other, fp, 0])
                report()
                continue
        running.append(entry)
        report()
    pad = budget - len(hv)  # a replay that stopped early keeps its last value
    return Replay(algorithm, early, seed, np.array(hv + [current] * pad)[:budget],
                  np.array(begun + [trials] * pad)[:budget], len(finished), time.perf_counter() - started)
