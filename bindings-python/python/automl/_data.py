"""Inputs to the engine: pandas, polars, numpy and dicts become one polars DataFrame,
which crosses into Rust through the Arrow C stream interface without a copy."""

from __future__ import annotations

import os
from typing import Any, Tuple

import numpy as np
import polars as pl


def input_kind(x: Any) -> str:
    """'polars', 'pandas', 'numpy', 'path' or 'other'."""
    if isinstance(x, (str, os.PathLike)):
        return "path"
    if isinstance(x, (pl.DataFrame, pl.LazyFrame, pl.Series)):
        return "polars"
    module = type(x).__module__
    if module.startswith("pandas"):
        return "pandas"
    if isinstance(x, np.ndarray):
        return "numpy"
    return "other"


def to_frame(x: Any, what: str = "X") -> pl.DataFrame:
    """A polars DataFrame with string column names and types the engine reads."""
    kind = input_kind(x)
    if kind == "polars":
        if isinstance(x, pl.LazyFrame):
            x = x.collect()
        if isinstance(x, pl.Series):
            x = x.to_frame()
        df = x
    elif kind == "pandas":
        import pandas as pd

        if isinstance(x, pd.Series):
            x = x.to_frame()
        if not isinstance(x, pd.DataFrame):
            raise TypeError(f"{what}: expected a DataFrame, got {type(x).__name__}")
        names = [str(c) for c in x.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"{what}: duplicate column names {sorted({n for n in names if names.count(n) > 1})}")
        x = x.set_axis(names, axis=1)
        try:
            df = pl.from_pandas(x, include_index=False)
        except Exception as e:  # pyarrow missing, or a column polars cannot read
            raise TypeError(f"{what}: cannot convert the pandas DataFrame ({e}); install pyarrow (pip install 'automl[pandas]') or cast object columns to str") from e
    elif kind == "numpy" or isinstance(x, (list, tuple)):
        arr = np.asarray(x)
        if arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        if arr.ndim != 2:
            raise ValueError(f"{what}: expected a 2-D array, got {arr.ndim} dimensions")
        if arr.dtype.kind not in "biufcUSOMm":
            raise TypeError(f"{what}: unsupported array dtype {arr.dtype}")
        df = pl.from_numpy(arr, schema=[f"x{i}" for i in range(arr.shape[1])], orient="row")
    elif isinstance(x, dict):
        df = pl.DataFrame(x)
    else:
        raise TypeError(f"{what}: expected a pandas or polars DataFrame, a numpy array, a dict of columns or a CSV path, got {type(x).__name__}")
    return _engine_types(df, what)


def _engine_types(df: pl.DataFrame, what: str) -> pl.DataFrame:
    casts = {}
    for name, dtype in df.schema.items():
        if dtype in (pl.Categorical, pl.Object) or isinstance(dtype, (pl.Enum, pl.Categorical)):
            casts[name] = pl.String
        elif isinstance(dtype, pl.Decimal):
            casts[name] = pl.Float64
        elif isinstance(dtype, (pl.List, pl.Array, pl.Struct)) or dtype == pl.Binary:
            raise TypeError(f"{what}: column '{name}' has type {dtype}; the engine reads numbers, booleans, dates and text: flatten or drop it")
    if casts:
        try:
            df = df.with_columns([pl.col(n).cast(t) for n, t in casts.items()])
        except Exception as e:
            raise TypeError(f"{what}: cannot read columns {sorted(casts)} as text ({e}); cast them to str") from e
    return df


def to_series(y: Any) -> Tuple[pl.Series, np.dtype]:
    """The target as a polars Series, and the numpy dtype to give predicted labels."""
    kind = input_kind(y)
    if kind == "pandas":
        import pandas as pd

        if isinstance(y, pd.DataFrame):
            if y.shape[1] != 1:
                raise ValueError(f"y: expected one column, got {y.shape[1]}")
            y = y.iloc[:, 0]
        dtype = np.asarray(y.head(0)).dtype
        s = pl.from_pandas(y)
    elif isinstance(y, pl.DataFrame):
        if y.width != 1:
            raise ValueError(f"y: expected one column, got {y.width}")
        s = y.to_series()
        dtype = s.head(0).to_numpy().dtype
    elif isinstance(y, pl.Series):
        s = y
        dtype = s.head(0).to_numpy().dtype
    else:
        arr = np.asarray(y)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise ValueError(f"y: expected a 1-D array, got shape {arr.shape}")
        dtype = arr.dtype
        s = pl.Series("y", arr.tolist() if arr.dtype.kind == "O" else arr)
    if s.dtype in (pl.Categorical, pl.Object) or isinstance(s.dtype, (pl.Enum, pl.Categorical)):
        s = s.cast(pl.String)
    return s, dtype


def labels_to_array(labels: list, dtype: Any = None) -> np.ndarray:
    """Class labels (text, exactly as trained) as an array of the training target's kind."""
    kind = np.dtype(dtype).kind if dtype is not None else None
    if kind == "b":
        return np.array([lab.strip().lower() in ("1", "1.0", "true") for lab in labels])
    if kind in (None, "i", "u", "f"):
        try:
            as_float = [float(lab) for lab in labels]
            if all(v.is_integer() for v in as_float) and kind != "f":
                return np.array([int(v) for v in as_float], dtype=np.int64 if kind is None else dtype)
            return np.array(as_float, dtype=np.float64)
        except ValueError:
            pass
    return np.array(labels, dtype=object)
