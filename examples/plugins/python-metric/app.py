"""Metric plugin `cost_weighted_py`: the `cost_weighted` metric of ../cost-weighted in pure
Python. Mean misclassification cost of a binary classifier, where a false negative costs 5
and a false positive 1 (lower is better); the positive class is class index 1.

componentize-py (0.25) wants the exported interface `metric` implemented by a class named
`Metric` in the app module; its methods follow wit_world.exports.Metric. Bulk data arrives
as `bytes` of little-endian f64 and is read with memoryview(...).cast('d') (wasm32 is
little-endian, so the cast is exact and copies nothing).

Build: ../build-python.sh (writes ../dist/cost_weighted_py.wasm).
"""

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.metric import Direction, Predictions, Task
from wit_world.imports.types import PluginInfo, PluginKind

FALSE_NEGATIVE_COST = 5.0
FALSE_POSITIVE_COST = 1.0


def f64s(name: str, data: bytes, rows: int) -> memoryview:
    """The f64 values of a byte field, checked against the row count."""
    if len(data) % 8 != 0:
        raise Err(f"{name}: {len(data)} bytes is not a whole number of 8-byte values")
    values = memoryview(data).cast("d")
    if len(values) != rows:
        raise Err(f"{name}: holds {len(values)} values, expected {rows}")
    return values


class Metric(exports.Metric):
    def describe(self) -> PluginInfo:
        return PluginInfo(
            name="cost_weighted_py",
            kind=PluginKind.METRIC,
            version="0.1.0",
            description="Mean binary misclassification cost (Python): false negative 5, false positive 1",
        )

    def get_direction(self) -> Direction:
        return Direction.MINIMIZE

    def supports(self, task: Task) -> bool:
        return task == Task.BINARY

    def score(self, predictions: Predictions) -> float:
        p = predictions
        if p.task != Task.BINARY:
            raise Err(f"cost_weighted_py scores binary classification, not {p.task.name.lower()}")
        y_true = f64s("y-true", p.y_true, p.rows)
        y_pred = f64s("y-pred", p.y_pred, p.rows)
        weights = f64s("weights", p.weights, p.rows) if p.weights else None
        cost = 0.0
        total_weight = 0.0
        for i in range(p.rows):
            w = weights[i] if weights is not None else 1.0
            truth, predicted = y_true[i] == 1.0, y_pred[i] == 1.0
            if truth and not predicted:
                cost += w * FALSE_NEGATIVE_COST
            elif predicted and not truth:
                cost += w * FALSE_POSITIVE_COST
            total_weight += w
        if not total_weight > 0.0:
            raise Err(f"total row weight is {total_weight}; nothing to average over")
        return cost / total_weight
