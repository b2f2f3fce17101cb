#!/usr/bin/env bash
# Validates every manifest we ship or generate against the Kubernetes 1.33 schemas, offline,
# with kubernetes-validate --strict (unknown fields are errors):
#   the namespace, RBAC, PVC and operator Deployment in examples/kubernetes/, and the Jobs `automl run --dry-run` prints for built-in
#   trials (with every scheduling and resource flag) and for the custom-trial spec, and the
#   Experiment CustomResourceDefinition.
# Usage: AUTOML_BIN=target/debug/automl bash examples/kubernetes/validate.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${AUTOML_BIN:-target/debug/automl}"
validate="${KUBERNETES_VALIDATE:-kubernetes-validate}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$bin" run examples/data/penguins.csv -t species --executor kubernetes --dry-run --concurrency 2 \
  --gpus 1 --cpu 2 --memory 4Gi --node-selector nvidia.com/gpu.present=true \
  --toleration nvidia.com/gpu:NoSchedule --toleration dedicated=ml:NoExecute \
  --priority-class high --service-account trials --data-pvc automl-data --namespace automl > "$tmp/builtin-pvc.yaml"
"$bin" run examples/data/titanic.csv -t survived --executor kubernetes --dry-run --concurrency 1 \
  --data-url https://example.com/titanic.csv --image-pull-policy IfNotPresent > "$tmp/builtin-url.yaml"
"$bin" run --spec examples/kubernetes/gpu-experiment.yaml --dry-run --gpus 1 --namespace automl > "$tmp/custom.yaml"
# The same with 4-pod trials gang-scheduled by Kueue (Indexed Jobs, created suspended).
sed 's/^  # pods: 4/  pods: 4/; s/^  # gang:/  gang:/' examples/kubernetes/gpu-experiment.yaml > "$tmp/gang.spec"
"$bin" run --spec "$tmp/gang.spec" --dry-run --gpus 1 --namespace automl > "$tmp/gang.yaml"
grep -q "completionMode: Indexed" "$tmp/gang.yaml" && grep -q "kueue.x-k8s.io/queue-name: gpu-queue" "$tmp/gang.yaml"
# The Experiment CustomResourceDefinition `automl operator crd` prints (the Experiments in
# experiment.yaml are checked against its schema by the crate's tests).
"$bin" operator crd > "$tmp/crd.yaml"
# (gpu-experiment.yaml is an automl spec, not a Kubernetes object: it is checked by the dry run above.)
"$validate" -k 1.33.0 --strict examples/kubernetes/namespace.yaml examples/kubernetes/rbac.yaml examples/kubernetes/data-pvc.yaml examples/kubernetes/operator.yaml "$tmp"/*.yaml
echo "validate: all manifests passed"
