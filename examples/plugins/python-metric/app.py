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
        if not p.weights and p.rows > 0:
            counts = error_counts(p.y_true, p.y_pred, p.rows)
            if counts is not None:
                false_negatives, false_positives = counts
                return (false_negatives * FALSE_NEGATIVE_COST + false_positives * FALSE_POSITIVE_COST) / p.rows
        # With weights (or values other than 0.0 and 1.0): one row at a time, about 0.2 µs
        # per row in a component.
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


# Whole-buffer counting. A Python loop costs about 0.2 µs per row inside a component; these
# builtins run in C over the bytes instead (a few ns per row). Class indices arrive as the
# f64s 0.0 (eight zero bytes) and 1.0 (bytes 00 00 00 00 00 00 f0 3f, little-endian).


def zeros_and_ones(data: bytes) -> bool:
    """Whether every 8-byte value in `data` is exactly 0.0 or 1.0."""
    nonzero = data.translate(None, b"\x00")
    sixth, seventh = data[6::8], data[7::8]
    ones = seventh.count(0x3F)
    # The non-zero bytes are `ones` pairs f0 3f; all of the 3f bytes are last in their
    # value and all of the f0 bytes next to last, and in the same values.
    return nonzero == b"\xf0\x3f" * ones and sixth.count(0xF0) == ones and sixth.replace(b"\xf0", b"\x3f") == seventh


def error_counts(y_true: bytes, y_pred: bytes, rows: int):
    """(false negatives, false positives) when every value is 0.0 or 1.0, else None."""
    if not (zeros_and_ones(y_true) and zeros_and_ones(y_pred)):
        return None
    # The last byte of each value: 0x3f for 1.0, 0 for 0.0. As one big integer per buffer,
    # a false negative is a 0x3f byte in `truth` over a 0 in `predicted`; bit_count counts
    # the 6 set bits of each such byte.
    truth = int.from_bytes(y_true[7::8], "little")
    predicted = int.from_bytes(y_pred[7::8], "little")
    return (truth & ~predicted).bit_count() // 6, (predicted & ~truth).bit_count() // 6
