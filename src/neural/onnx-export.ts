/**
 * The project's models as ONNX graphs (built with onnx-proto, opset 13), and
 * the metadata each file carries (kind, name, version, labels), so that a model
 * file describes itself.
 *
 * Text classifier ("text_classifier"): inputs ids int32 [batch, width] (hashed
 * feature buckets, 0 = padding) and weights float [batch, width]; outputs
 * capabilities float [batch, labels] (independent probabilities) and priority
 * float [batch, priorities] (a distribution). The graph is a weighted sum of
 * the rows of a weight matrix gathered by id (an embedding bag), plus a bias.
 *
 * Agent fit ("agent_fit"): input features float [batch, 6]; output p_success
 * float [batch, 1] (logistic regression).
 */
import onnxProto from 'onnx-proto';
import type { ClassifierWeights, LogisticWeights } from './train.js';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT32 = onnx.TensorProto.DataType.INT32;
const INT64 = onnx.TensorProto.DataType.INT64;

export type ModelKind = 'text_classifier' | 'agent_fit';

export interface ModelMeta {
  kind: ModelKind;
  name: string;
  version: number;
  /** text_classifier: the capability of each output column, and the priority of each. */
  labels?: string[];
  priorities?: string[];
  /** Free-form facts (training size, held-out accuracy). */
  info?: Record<string, unknown>;
}

function floats(name: string, dims: number[], data: Float32Array): InstanceType<typeof onnx.TensorProto> {
  return onnx.TensorProto.create({
    name,
    dims,
    dataType: FLOAT,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  });
}

function int64s(name: string, values: number[]): InstanceType<typeof onnx.TensorProto> {
  return onnx.TensorProto.create({ name, dims: [values.length], dataType: INT64, int64Data: values });
}

function valueInfo(
  name: string,
  elemType: number,
  dims: Array<number | string>,
): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

function node(
  opType: string,
  input: string[],
  output: string[],
  attrs: Array<{ name: string; i: number }> = [],
): InstanceType<typeof onnx.NodeProto> {
  return onnx.NodeProto.create({
    opType,
    input,
    output,
    attribute: attrs.map((a) => ({ name: a.name, i: a.i, type: onnx.AttributeProto.AttributeType.INT })),
  });
}

function model(graph: InstanceType<typeof onnx.GraphProto>, meta: ModelMeta): Uint8Array {
  const m = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'ai-orchestrator-hub',
    modelVersion: meta.version,
    graph,
    metadataProps: [{ key: 'hub_meta', value: JSON.stringify(meta) }],
  });
  return onnx.ModelProto.encode(m).finish();
}

/**
 * The classifier as one embedding bag over both heads: the rows of W = [cap | pri]
 * for the text's bucket ids are gathered once ([n, width, C+P]) and summed with the
 * weights by one batched MatMul ([n, 1, width] x [n, width, C+P]); the logits are
 * then split into the heads. (Two gathers with a Mul and a ReduceSum each cost
 * twice the memory traffic and two temporaries of [n, width, *].)
 */
export function textClassifierOnnx(w: ClassifierWeights, meta: ModelMeta): Uint8Array {
  const C = w.bc.length;
  const P = w.bp.length;
  const W = new Float32Array(w.buckets * (C + P));
  for (let r = 0; r < w.buckets; r++) {
    W.set(w.wc.subarray(r * C, (r + 1) * C), r * (C + P));
    W.set(w.wp.subarray(r * P, (r + 1) * P), r * (C + P) + C);
  }
  const graph = onnx.GraphProto.create({
    name: meta.name,
    node: [
      node('Unsqueeze', ['weights', 'axis1'], ['weights_row']),
      node('Gather', ['W', 'ids'], ['rows'], [{ name: 'axis', i: 0 }]),
      node('MatMul', ['weights_row', 'rows'], ['sum_3d']),
      node('Squeeze', ['sum_3d', 'axis1'], ['sum']),
      node('Add', ['sum', 'b'], ['logits']),
      node('Split', ['logits', 'heads'], ['cap_logits', 'pri_logits'], [{ name: 'axis', i: 1 }]),
      node('Sigmoid', ['cap_logits'], ['capabilities']),
      node('Softmax', ['pri_logits'], ['priority'], [{ name: 'axis', i: 1 }]),
    ],
    initializer: [
      floats('W', [w.buckets, C + P], W),
      floats('b', [C + P], Float32Array.from([...w.bc, ...w.bp])),
      int64s('axis1', [1]),
      int64s('heads', [C, P]),
    ],
    input: [valueInfo('ids', INT32, ['batch', 'width']), valueInfo('weights', FLOAT, ['batch', 'width'])],
    output: [valueInfo('capabilities', FLOAT, ['batch', C]), valueInfo('priority', FLOAT, ['batch', P])],
  });
  return model(graph, meta);
}

export function agentFitOnnx(w: LogisticWeights, meta: ModelMeta): Uint8Array {
  const width = w.w.length;
  const graph = onnx.GraphProto.create({
    name: meta.name,
    node: [
      node('MatMul', ['features', 'W'], ['xw']),
      node('Add', ['xw', 'b'], ['logit']),
      node('Sigmoid', ['logit'], ['p_success']),
    ],
    initializer: [floats('W', [width, 1], w.w), floats('b', [1], new Float32Array([w.b]))],
    input: [valueInfo('features', FLOAT, ['batch', width])],
    output: [valueInfo('p_success', FLOAT, ['batch', 1])],
  });
  return model(graph, meta);
}

/** The hub metadata of a model file, if it has some (user models may not). */
export function readModelMeta(bytes: Uint8Array): ModelMeta | undefined {
  const m = onnx.ModelProto.decode(bytes);
  const entry = m.metadataProps.find((p) => p.key === 'hub_meta');
  if (entry?.value == null) return undefined;
  return JSON.parse(entry.value) as ModelMeta;
}

/** A float initializer of a model by name (a copy), or undefined. */
function floatTensor(m: InstanceType<typeof onnx.ModelProto>, name: string): Float32Array | undefined {
  const t = (m.graph?.initializer ?? []).find((i) => i.name === name);
  if (t?.rawData == null || t.rawData.length === 0) return undefined;
  const copy = new Uint8Array(t.rawData);
  return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
}

/** The weights of one of our own agent-fit models (to warm start retraining from a file). */
export function readLogisticWeights(bytes: Uint8Array): LogisticWeights | undefined {
  const m = onnx.ModelProto.decode(bytes);
  const w = floatTensor(m, 'W');
  const b = floatTensor(m, 'b');
  return w === undefined || b === undefined ? undefined : { w, b: b[0] ?? 0 };
}

/** The weights of a text classifier exported by textClassifierOnnx (W = [cap | pri], heads [C, P]). */
export function readClassifierWeights(bytes: Uint8Array): ClassifierWeights | undefined {
  const m = onnx.ModelProto.decode(bytes);
  const W = floatTensor(m, 'W');
  const b = floatTensor(m, 'b');
  const heads = (m.graph?.initializer ?? []).find((i) => i.name === 'heads')?.int64Data?.map(Number);
  const [C, P] = heads ?? [];
  if (W === undefined || b === undefined || C === undefined || P === undefined) return undefined;
  const buckets = W.length / (C + P);
  const wc = new Float32Array(buckets * C);
  const wp = new Float32Array(buckets * P);
  for (let r = 0; r < buckets; r++) {
    wc.set(W.subarray(r * (C + P), r * (C + P) + C), r * C);
    wp.set(W.subarray(r * (C + P) + C, (r + 1) * (C + P)), r * P);
  }
  return { buckets, wc, bc: b.subarray(0, C), wp, bp: b.subarray(C) };
}
