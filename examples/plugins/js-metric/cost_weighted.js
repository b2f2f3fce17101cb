// Metric plugin `cost_weighted_js`: the cost-weighted metric of ../cost-weighted in
// JavaScript. Mean misclassification cost of a binary classifier: a false negative costs 5,
// a false positive 1 (lower is better); the positive class is class index 1.

const FALSE_NEGATIVE_COST = 5.0;
const FALSE_POSITIVE_COST = 1.0;

// The f64 values of a byte buffer (little-endian, as WebAssembly), checked against `rows`.
function f64s(name, bytes, rows) {
  if (bytes.byteLength % 8 !== 0) {
    throw `${name}: ${bytes.byteLength} bytes is not a whole number of 8-byte values`;
  }
  // A view when the buffer is 8-byte aligned, else one copy.
  const values = bytes.byteOffset % 8 === 0
    ? new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8)
    : new Float64Array(bytes.slice().buffer);
  if (values.length !== rows) {
    throw `${name}: holds ${values.length} values, expected ${rows}`;
  }
  return values;
}

export const metric = {
  describe() {
    return {
      name: "cost_weighted_js",
      kind: "metric",
      version: "0.1.0",
      description: "Mean binary misclassification cost (JavaScript): false negative 5, false positive 1",
    };
  },
  getDirection() {
    return "minimize";
  },
  supports(task) {
    return task === "binary";
  },
  score(p) {
    if (p.task !== "binary") {
      throw `cost_weighted_js scores binary classification, not ${p.task}`;
    }
    const rows = Number(p.rows);
    const yTrue = f64s("y-true", p.yTrue, rows);
    const yPred = f64s("y-pred", p.yPred, rows);
    const weights = p.weights.byteLength > 0 ? f64s("weights", p.weights, rows) : null;
    let cost = 0.0;
    let totalWeight = 0.0;
    for (let i = 0; i < rows; i++) {
      const w = weights === null ? 1.0 : weights[i];
      const truth = yTrue[i] === 1.0;
      const predicted = yPred[i] === 1.0;
      if (truth && !predicted) cost += w * FALSE_NEGATIVE_COST;
      else if (predicted && !truth) cost += w * FALSE_POSITIVE_COST;
      totalWeight += w;
    }
    if (!(totalWeight > 0.0)) {
      throw `total row weight is ${totalWeight}; nothing to average over`;
    }
    return cost / totalWeight;
  },
};
