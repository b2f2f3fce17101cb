"""The Kubernetes executor from Python (mirrors automl/src/kubernetes): the same options as
`automl run --executor kubernetes`, and its errors. Runs against a cluster are tested in
Rust against the in-process API server (automl/tests/it/kubernetes.rs)."""

from __future__ import annotations

import socket

import polars as pl
import pytest

import automl
from conftest import QUICK


def unreachable_kubeconfig(tmp_path) -> str:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
        f"    server: http://127.0.0.1:{port}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n"
        "current-context: c\nusers:\n- name: u\n  user: {}\n"
    )
    return str(path)


def test_an_unreachable_cluster_is_a_cluster_error(tmp_path, monkeypatch, penguins_csv):
    monkeypatch.setenv("KUBECONFIG", unreachable_kubeconfig(tmp_path))
    m = automl.AutoML(**{**QUICK, "max_trials": 1}, executor="kubernetes", kubernetes={"namespace": "automl", "gpus": 1, "tolerations": ["nvidia.com/gpu:NoSchedule"]})
    with pytest.raises(automl.ClusterError, match="Kubernetes"):
        m.fit(penguins_csv, target="species")


def test_trial_pods_need_the_data_as_a_file(penguins_csv):
    m = automl.AutoML(**QUICK, executor="kubernetes")
    with pytest.raises(automl.ConfigError, match="needs the data as a file"):
        m.fit(pl.read_csv(penguins_csv), target="species")


@pytest.mark.parametrize(
    "options, message",
    [
        ({"gpu": 1}, "unknown option 'gpu'"),
        ({"tolerations": ["nvidia.com/gpu:Sometimes"]}, "not one of NoSchedule"),
        ({"data_url": "ftp://example.com/d.csv"}, "must be an http:// or https:// URL"),
        ({"data_pvc": "data", "data_url": "https://example.com/d.csv"}, "not both"),
    ],
)
def test_bad_options_are_value_errors(options, message, penguins_csv):
    with pytest.raises(ValueError, match=message):
        automl.AutoML(**QUICK, executor="kubernetes", kubernetes=options).fit(penguins_csv, target="species")


def test_options_are_sklearn_params():
    m = automl.AutoML(executor="kubernetes", kubernetes={"namespace": "ml"})
    assert m.get_params()["kubernetes"] == {"namespace": "ml"}
    assert m.set_params(executor="local", kubernetes=None).executor == "local"
