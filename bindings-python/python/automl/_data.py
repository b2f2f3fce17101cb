"""Inputs to the engine: pandas, polars, numpy and dicts become one polars DataFrame,
which crosses into Rust through the Arrow C stream interface without a copy.

pandas frames are converted column by column without pyarrow (which stays optional):
numpy-backed columns through polars' own numpy path, text / object / categorical and
nullable columns through their values. Columns pyarrow already backs (``ArrowDtype``,
``string[pyarrow]``) go through pyarrow, which is then installed by definition."""

from __future__ import annotations

import math
import os
import warnings
from typing import Any, List, Tuple

import numpy as np
import polars as pl

try:  # scikit-learn's warning for a column-vector y, when it is installed
    from sklearn.exceptions import DataConversionWarning as _ColumnVectorWarning
except ImportError:  # pragma: no cover - exercised only without scikit-learn
    _ColumnVectorWarning = UserWarning  # type: ignore[misc,assignment]


def _column_vector(shape: Tuple[int, ...]) -> None:
    warnings.warn(
        f"A column-vector y was passed when a 1d array was expected (shape {shape}); it is read as its one column. "
        "Please change the shape of y to (n_samples,), for example using ravel().",
        _ColumnVectorWarning,
        stacklevel=4,
    )


def input_kind(x: Any) -> str:
    """'polars', 'pandas', 'arrow' (another table with ``__arrow_c_stream__``, such as a
    pyarrow Table), 'numpy' (arrays, nested lists and other array-likes), 'sparse', 'path'
    or 'other'."""
    if isinstance(x, (str, os.PathLike)):
        return "path"
    if isinstance(x, (pl.DataFrame, pl.LazyFrame, pl.Series)):
        return "polars"
    module = type(x).__module__
    if module.startswith("pandas"):
        return "pandas"
    if hasattr(x, "__arrow_c_stream__"):
        return "arrow"
    if module.startswith("scipy.sparse") or (hasattr(x, "tocsr") and hasattr(x, "nnz")):
        return "sparse"
    if isinstance(x, (np.ndarray, list, tuple)) or hasattr(x, "__array__"):
        return "numpy"
    return "other"


def _array(x: Any, what: str) -> np.ndarray:
    """``x`` as a 2-D array of a dtype the engine reads, or the error scikit-learn's
    conventions give (1-D input, complex values, no column)."""
    arr = np.asarray(x)
    if arr.ndim < 2:
        raise ValueError(
            f"{what}: expected a 2-D array, got a {arr.ndim}-D array of shape {arr.shape}. Reshape your data either "
            "using array.reshape(-1, 1) if it has a single feature or array.reshape(1, -1) if it holds a single sample"
        )
    if arr.ndim != 2:
        raise ValueError(f"{what}: expected a 2-D array, got {arr.ndim} dimensions")
    if arr.dtype.kind == "c":
        raise ValueError(f"{what}: Complex data not supported (dtype {arr.dtype}); give the real and imaginary parts as two columns")
    if arr.dtype.kind not in "biufUSOMm":
        raise TypeError(f"{what}: unsupported array dtype {arr.dtype}")
    if arr.shape[1] == 0:
        raise ValueError(f"{what}: 0 feature(s) (shape={arr.shape}) while a minimum of 1 is required.")
    return arr


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
        df = pl.DataFrame([_pandas_column(name, x.iloc[:, i], what) for i, name in enumerate(names)])
    elif kind == "arrow":
        df = pl.DataFrame(x)
    elif kind == "sparse":
        raise TypeError(f"{what}: sparse input ({type(x).__name__}) is not supported; pass a dense array (X.toarray()) or a DataFrame")
    elif kind == "numpy":
        arr = _array(x, what)
        names = [f"x{i}" for i in range(arr.shape[1])]
        if arr.dtype.kind == "O":
            df = pl.DataFrame([_object_column(name, arr[:, i]) for i, name in enumerate(names)])
        else:
            df = pl.from_numpy(arr, schema=names, orient="row")
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
            _column_vector(y.shape)
            y = y.iloc[:, 0]
        dtype = np.asarray(y.head(0)).dtype
        s = _pandas_column("" if y.name is None else str(y.name), y, "y")
    elif isinstance(y, pl.DataFrame):
        if y.width != 1:
            raise ValueError(f"y: expected one column, got {y.width}")
        _column_vector(y.shape)
        s = y.to_series()
        dtype = s.head(0).to_numpy().dtype
    elif isinstance(y, pl.Series):
        s = y
        dtype = s.head(0).to_numpy().dtype
    else:
        arr = np.asarray(y)
        if arr.ndim == 2 and arr.shape[1] == 1:
            _column_vector(arr.shape)
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise ValueError(f"y: expected a 1-D array, got shape {arr.shape}")
        if arr.dtype.kind == "c":
            raise ValueError(f"y: Complex data not supported (dtype {arr.dtype})")
        dtype = arr.dtype
        s = _object_column("y", arr) if arr.dtype.kind == "O" else pl.Series("y", arr)
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


# ---------------------------------------------------------------- pandas without pyarrow


def _missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float):
        return math.isnan(v)
    return type(v).__name__ in ("NAType", "NaTType")


def _object_column(name: str, values: Any) -> pl.Series:
    """A column of Python objects (an object array, or pandas text): missing values
    (None, NaN, pd.NA, NaT) become nulls; values of one kind keep it (text, numbers,
    booleans, dates); a mix of kinds is read as text, each value as ``str`` gives it."""
    cleaned: List[Any] = []
    for v in values.tolist() if hasattr(values, "tolist") else list(values):
        if isinstance(v, np.generic):
            v = v.item()
        cleaned.append(None if _missing(v) else v)
    if all(v is None or isinstance(v, str) for v in cleaned):
        return pl.Series(name, cleaned, dtype=pl.String)
    if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in cleaned):
        # Numbers (ints and floats mixed are floats, as in numpy).
        whole = all(v is None or isinstance(v, int) for v in cleaned)
        try:
            return pl.Series(name, cleaned, dtype=pl.Int64 if whole else pl.Float64)
        except Exception:  # an int beyond 64 bits
            return pl.Series(name, [None if v is None else float(v) for v in cleaned], dtype=pl.Float64)
    try:
        s = pl.Series(name, cleaned, strict=True)
    except Exception:  # values of several kinds
        s = None
    if s is None or s.dtype == pl.Object:
        s = pl.Series(name, [None if v is None else str(v) for v in cleaned], dtype=pl.String)
    return s


def _pandas_column(name: str, col: Any, what: str) -> pl.Series:
    """One pandas column as a polars Series, without pyarrow unless the column is
    already backed by it."""
    import pandas as pd

    dtype = col.dtype
    if isinstance(dtype, pd.SparseDtype):
        col = col.sparse.to_dense()
        dtype = col.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind == "c":
            raise ValueError(f"{what}: column '{name}': Complex data not supported (dtype {dtype})")
        if dtype.kind == "O":
            return _object_column(name, col.to_numpy())
        # Numbers, booleans, datetimes, durations: polars reads the numpy buffer.
        return pl.Series(name, col.to_numpy(), nan_to_null=True)
    if isinstance(dtype, getattr(pd, "ArrowDtype", ())) or getattr(dtype, "storage", None) in ("pyarrow", "pyarrow_numpy"):
        return pl.from_pandas(col.rename(name))
    if isinstance(dtype, pd.CategoricalDtype):
        # The categories as a column of their own type (text for text), taken by code.
        categories = _pandas_column(name, pd.Series(dtype.categories), what)
        codes = col.cat.codes.to_numpy()
        index = pl.Series(name, codes, dtype=pl.Int64)
        if (codes < 0).any():
            index = index.scatter(np.flatnonzero(codes < 0), None)
        return categories.gather(index)
    if isinstance(dtype, pd.DatetimeTZDtype):
        utc = pl.Series(name, col.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy())
        try:
            return utc.dt.replace_time_zone("UTC").dt.convert_time_zone(str(dtype.tz))
        except Exception:  # a zone polars does not know: keep the instants, in UTC
            return utc.dt.replace_time_zone("UTC")
    kind = getattr(dtype, "kind", None)
    numpy_dtype = getattr(dtype, "numpy_dtype", None)
    if kind in ("i", "u", "f", "b") and numpy_dtype is not None:
        # Nullable numbers and booleans: the values, then the mask as nulls.
        mask = col.isna().to_numpy(dtype=bool)
        fill = False if kind == "b" else 0
        s = pl.Series(name, col.to_numpy(dtype=numpy_dtype, na_value=fill))
        return s.scatter(np.flatnonzero(mask), None) if mask.any() else s
    # Text with python storage, periods, intervals, other extension types: their values.
    return _object_column(name, col.astype(object).to_numpy())


def to_pandas(df: pl.DataFrame) -> Any:
    """A polars frame of plain columns (numbers, text) as pandas, without pyarrow."""
    import pandas as pd

    return pd.DataFrame({c: df[c].to_numpy() for c in df.columns}, columns=list(df.columns))
