"""The reporter that times the compression core leaves its own reporting time out."""

import time

from gansearch.search.trial import TimedReporter


def test_core_seconds_leave_out_the_time_spent_reporting():
    seen = []

    def slow_report(metrics, progress_file):
        time.sleep(0.2)  # an MLflow write, a checkpoint upload
        seen.append(metrics)

    started = time.perf_counter() - 1.0  # the trial's set-up took a second before the core began
    report = TimedReporter(slow_report, started)
    for step in (1, 2):
        time.sleep(0.05)  # compressing
        report({"recipe_step": step, "final": 0}, None)
    time.sleep(0.05)
    report({"recipe_step": 2, "final": 1}, None)

    assert all("core_seconds" not in m for m in seen[:2])
    final = seen[-1]
    assert 0.15 <= final["core_seconds"] < 0.3  # three 0.05 s spells, not the 0.4 s of reporting
    assert final["trial_seconds"] >= 1.0 + 0.15 + 0.4  # set-up, core and the reports before the last
    assert final["torch_threads"] >= 1
