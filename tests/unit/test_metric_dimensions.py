"""The dashboard's SEARCH schemas name exactly the dimension sets the runtime emits: a SEARCH
matches a metric's whole dimension set, so one extra dimension (Powertools adds `service` when
POWERTOOLS_SERVICE_NAME is set) would leave every per-app widget empty, in any environment."""

from __future__ import annotations

import json

import pytest

from chalicelib.observability import DENIALS, QUARANTINES, REQUESTS_METRIC, THROTTLES, count
from integreat.infra.monitoring import NAMESPACE, schema_of


def _emitted(capsys: pytest.CaptureFixture[str], metric: str, **dimensions: str) -> set[str]:
    count(metric, "church", 1, **dimensions)
    document = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (entry,) = document["_aws"]["CloudWatchMetrics"]
    assert entry["Namespace"] == NAMESPACE
    (dimension_set,) = entry["Dimensions"]
    return set(dimension_set)


def _schema(*dimensions: str) -> set[str]:
    return set(schema_of(*dimensions).strip("{}").split(",")[1:])


@pytest.mark.parametrize("service_env", [None, "something-else"])
@pytest.mark.parametrize(
    ("metric", "extra"),
    [(REQUESTS_METRIC, {"class": "2xx"}), (THROTTLES, {"limit": "requests"}),
     (DENIALS, {"reason": "forbidden"}), (QUARANTINES, {})],
)  # fmt: skip
def test_each_metric_carries_exactly_the_dimensions_its_widget_searches(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, metric: str, extra: dict[str, str],
    service_env: str | None,
) -> None:  # fmt: skip
    if service_env is None:
        monkeypatch.delenv("POWERTOOLS_SERVICE_NAME", raising=False)
    else:
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", service_env)

    assert _emitted(capsys, metric, **extra) == _schema(*extra)
