"""The scaler loops' bookkeeping with real threads and a stand-in reconcile pass: a stalled
pass fails /healthz, a changed spec or pause applies at once (not after the polling
interval), and conflicts name the scaler or HPA that already owns the target."""

from __future__ import annotations

import threading
import time

from gas.operator.supervisor import HpaRef, Supervisor, gas_release


class RecordingPass:
    def __init__(self):
        self.passes: list[tuple[float, int]] = []
        self.block = threading.Event()
        self.block.set()

    def run_once(self, body, state, conflict=None, now=None):
        self.passes.append((time.monotonic(), body["metadata"]["generation"]))
        self.block.wait()
        return None


def _body(name, target, generation=1, interval=3600, created="2026-01-01T00:00:00Z", uid=None):
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": uid or f"uid-{name}",
            "generation": generation,
            "creationTimestamp": created,
            "annotations": {},
        },
        "spec": {"scaleTargetRef": {"name": target}, "pollingIntervalSeconds": interval},
    }


def _wait(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_a_changed_spec_or_pause_applies_at_once_not_after_the_interval():
    passes = RecordingPass()
    sup = Supervisor(passes, pass_budget_seconds=5, is_leader=lambda: True)
    sup.mark_synced()
    sup.scaler_seen(_body("a", "w"))
    sup.set_leader(True)
    _wait(lambda: len(passes.passes) == 1)
    sup.scaler_seen(_body("a", "w"))  # a status-only change: no extra pass
    time.sleep(0.3)
    assert len(passes.passes) == 1
    sup.scaler_seen(_body("a", "w", generation=2, interval=5))  # interval 3600 -> 5
    _wait(lambda: len(passes.passes) == 2, timeout=2)
    paused = _body("a", "w", generation=2, interval=5)
    paused["metadata"]["annotations"] = {"gas.dev/paused": "true"}
    sup.scaler_seen(paused)
    _wait(lambda: len(passes.passes) == 3, timeout=2)
    sup.stop()


def test_a_stalled_pass_fails_liveness_and_a_finished_one_recovers():
    passes = RecordingPass()
    passes.block.clear()
    sup = Supervisor(passes, pass_budget_seconds=0.5, is_leader=lambda: True)
    sup.mark_synced()
    sup.scaler_seen(_body("a", "w"))
    sup.set_leader(True)
    _wait(lambda: passes.passes)
    assert sup.alive()
    time.sleep(0.7)
    assert not sup.alive()
    passes.block.set()
    _wait(sup.alive)
    sup.stop()


def test_loops_run_only_while_leading_once_every_object_is_listed_and_stop_with_their_scaler():
    passes = RecordingPass()
    sup = Supervisor(passes, pass_budget_seconds=5, is_leader=lambda: True)
    sup.scaler_seen(_body("a", "w"))
    time.sleep(0.2)
    assert passes.passes == []  # standby: watches, does not act
    sup.set_leader(True)
    time.sleep(0.2)
    assert passes.passes == []  # leading, but kopf has not finished its first listings
    sup.mark_synced()
    _wait(lambda: len(passes.passes) == 1)
    sup.scaler_gone("uid-a")
    assert sup.body("uid-a") is None and sup._loops == {}
    sup.set_leader(False)


def test_conflicts_the_earlier_scaler_wins_and_any_hpa_wins():
    sup = Supervisor(RecordingPass(), pass_budget_seconds=5, is_leader=lambda: False)
    sup.scaler_seen(_body("second", "w", created="2026-01-02T00:00:00Z"))
    sup.scaler_seen(_body("first", "w", created="2026-01-01T00:00:00Z"))
    sup.scaler_seen(_body("other", "x"))
    assert sup.conflict("uid-first") is None and sup.conflict("uid-other") is None
    assert "QueueScaler first already scales Deployment w" in sup.conflict("uid-second").message
    sup.hpa_seen("hpa-uid", HpaRef("ns", "web-hpa", "x"))
    assert "HorizontalPodAutoscaler web-hpa" in sup.conflict("uid-other").message
    sup.hpa_seen("hpa-uid", None)
    sup.scaler_gone("uid-first")
    assert sup.conflict("uid-other") is None and sup.conflict("uid-second") is None


def test_an_hpa_of_the_scalers_own_release_is_a_planned_stand_down_any_other_a_conflict():
    """KEDA's HPA carries the labels of the ScaledObject GAS rendered (KEDA copies them)."""
    sup = Supervisor(RecordingPass(), pass_budget_seconds=5, is_leader=lambda: False)
    body = _body("notifier", "gas-notifier")
    body["metadata"]["labels"] = {"app.kubernetes.io/part-of": "gas", "app.kubernetes.io/instance": "prod"}
    sup.scaler_seen(body)
    keda = {"app.kubernetes.io/part-of": "gas", "app.kubernetes.io/instance": "prod", "scaledobject.keda.sh/name": "x"}
    sup.hpa_seen("h1", HpaRef("ns", "keda-hpa-gas-notifier", "gas-notifier", gas_release(keda)))
    planned = sup.conflict("uid-notifier")
    assert planned.planned and "release prod's HorizontalPodAutoscaler keda-hpa-gas-notifier" in planned.message
    other_release = {**keda, "app.kubernetes.io/instance": "staging"}
    for labels in (other_release, {"app.kubernetes.io/instance": "prod"}, None):
        sup.hpa_seen("h1", HpaRef("ns", "keda-hpa-gas-notifier", "gas-notifier", gas_release(labels)))
        assert sup.conflict("uid-notifier").planned is False, labels
