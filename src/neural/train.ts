/**
 * Training of the project's own small models, deterministic for a seed:
 * - the text classifier: one-vs-rest logistic regression (capabilities, several
 *   may hold) and a softmax head (priority) over sparse hashed features, by SGD;
 * - the agent-fit model: logistic regression over dense pair features, by
 *   full-batch gradient descent (a few thousand rows of six features), warm
 *   started from the current weights when it is retrained in process.
 */

export interface SparseRow {
  ids: Int32Array;
  weights: Float32Array;
}

/** A small seeded PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

export interface ClassifierWeights {
  buckets: number;
  /** [buckets, labels] and [labels]: capability logits. */
  wc: Float32Array;
  bc: Float32Array;
  /** [buckets, priorities] and [priorities]: priority logits. */
  wp: Float32Array;
  bp: Float32Array;
}

export interface ClassifierData {
  rows: SparseRow[];
  /** Per row, the indices of the labels that hold. */
  labels: number[][];
  /** Per row, the index of its priority. */
  priority: number[];
}

// size: one SGD loop over both heads (capability sigmoids, priority softmax) sharing each row's features.
export function trainClassifier(
  data: ClassifierData,
  o: { buckets: number; labels: number; priorities: number; epochs?: number; lr?: number; l2?: number; seed?: number },
): ClassifierWeights {
  const C = o.labels;
  const P = o.priorities;
  const w: ClassifierWeights = {
    buckets: o.buckets,
    wc: new Float32Array(o.buckets * C),
    bc: new Float32Array(C),
    wp: new Float32Array(o.buckets * P),
    bp: new Float32Array(P),
  };
  const epochs = o.epochs ?? 60;
  const l2 = o.l2 ?? 1e-5;
  const random = rng(o.seed ?? 1);
  // Rare priorities (critical) weigh more, so that the head does not answer "medium" to everything.
  const counts = new Array<number>(P).fill(0);
  for (const p of data.priority) counts[p]!++;
  const classWeight = counts.map((n) => (n === 0 ? 0 : Math.sqrt(data.rows.length / (P * n))));
  const order = data.rows.map((_, i) => i);
  const z = new Float64Array(Math.max(C, P));
  for (let epoch = 0; epoch < epochs; epoch++) {
    const lr = (o.lr ?? 0.8) / (1 + epoch * 0.05);
    for (const i of shuffle(order, random)) {
      const row = data.rows[i]!;
      const yes = new Set(data.labels[i]);
      // Capabilities: independent sigmoids.
      for (let c = 0; c < C; c++) {
        let s = w.bc[c]!;
        for (let j = 0; j < row.ids.length; j++) s += row.weights[j]! * w.wc[row.ids[j]! * C + c]!;
        const g = sigmoid(s) - (yes.has(c) ? 1 : 0);
        w.bc[c]! -= lr * g * 0.1;
        for (let j = 0; j < row.ids.length; j++) {
          const k = row.ids[j]! * C + c;
          w.wc[k]! -= lr * (g * row.weights[j]! + l2 * w.wc[k]!);
        }
      }
      // Priority: softmax.
      let max = -Infinity;
      for (let p = 0; p < P; p++) {
        let s = w.bp[p]!;
        for (let j = 0; j < row.ids.length; j++) s += row.weights[j]! * w.wp[row.ids[j]! * P + p]!;
        z[p] = s;
        max = Math.max(max, s);
      }
      let sum = 0;
      for (let p = 0; p < P; p++) sum += z[p] = Math.exp(z[p]! - max);
      const cw = classWeight[data.priority[i]!]!;
      for (let p = 0; p < P; p++) {
        const g = cw * (z[p]! / sum - (p === data.priority[i] ? 1 : 0));
        w.bp[p]! -= lr * g * 0.1;
        for (let j = 0; j < row.ids.length; j++) {
          const k = row.ids[j]! * P + p;
          w.wp[k]! -= lr * (g * row.weights[j]! + l2 * w.wp[k]!);
        }
      }
    }
  }
  return w;
}

export interface LogisticWeights {
  w: Float32Array;
  b: number;
}

/** Logistic regression on dense rows (x: rows × width, row-major); warm starts from `init`. */
export function trainLogistic(
  x: Float32Array,
  y: Uint8Array,
  width: number,
  o: { iterations?: number; lr?: number; l2?: number; init?: LogisticWeights } = {},
): LogisticWeights {
  const n = y.length;
  const w = new Float64Array(width);
  let b = o.init?.b ?? 0;
  if (o.init !== undefined) for (let k = 0; k < width; k++) w[k] = o.init.w[k] ?? 0;
  if (n === 0) return { w: Float32Array.from(w), b };
  const lr = o.lr ?? 1;
  const l2 = o.l2 ?? 1e-3;
  const grad = new Float64Array(width);
  for (let it = 0; it < (o.iterations ?? 300); it++) {
    grad.fill(0);
    let gb = 0;
    for (let i = 0; i < n; i++) {
      let s = b;
      for (let k = 0; k < width; k++) s += w[k]! * x[i * width + k]!;
      const g = sigmoid(s) - y[i]!;
      gb += g;
      for (let k = 0; k < width; k++) grad[k]! += g * x[i * width + k]!;
    }
    for (let k = 0; k < width; k++) w[k]! -= lr * (grad[k]! / n + l2 * w[k]!);
    b -= lr * (gb / n);
  }
  return { w: Float32Array.from(w), b };
}
