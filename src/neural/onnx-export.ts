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

/** One head of the embedding bag: sum_j weights[:, j] * W[ids[:, j]] + b. */
function bagHead(prefix: string, out: string): Array<InstanceType<typeof onnx.NodeProto>> {
  return [
    node('Gather', [`${prefix}_W`, 'ids'], [`${prefix}_rows`], [{ name: 'axis', i: 0 }]),
    node('Mul', [`${prefix}_rows`, 'weights_3d'], [`${prefix}_weighted`]),
    node('ReduceSum', [`${prefix}_weighted`, 'axis1'], [`${prefix}_sum`], [{ name: 'keepdims', i: 0 }]),
    node('Add', [`${prefix}_sum`, `${prefix}_b`], [out]),
  ];
}

export function textClassifierOnnx(w: ClassifierWeights, meta: ModelMeta): Uint8Array {
  const C = w.bc.length;
  const P = w.bp.length;
  const graph = onnx.GraphProto.create({
    name: meta.name,
    node: [
      node('Unsqueeze', ['weights', 'axis2'], ['weights_3d']),
      ...bagHead('cap', 'cap_logits'),
      node('Sigmoid', ['cap_logits'], ['capabilities']),
      ...bagHead('pri', 'pri_logits'),
      node('Softmax', ['pri_logits'], ['priority'], [{ name: 'axis', i: 1 }]),
    ],
    initializer: [
      floats('cap_W', [w.buckets, C], w.wc),
      floats('cap_b', [C], w.bc),
      floats('pri_W', [w.buckets, P], w.wp),
      floats('pri_b', [P], w.bp),
      int64s('axis1', [1]),
      int64s('axis2', [2]),
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

/** The weights of one of our own agent-fit models (to warm start retraining from a file). */
export function readLogisticWeights(bytes: Uint8Array): LogisticWeights | undefined {
  const m = onnx.ModelProto.decode(bytes);
  const tensor = (name: string): Float32Array | undefined => {
    const t = (m.graph?.initializer ?? []).find((i) => i.name === name);
    if (t?.rawData == null || t.rawData.length === 0) return undefined;
    const copy = new Uint8Array(t.rawData);
    return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
  };
  const w = tensor('W');
  const b = tensor('b');
  return w === undefined || b === undefined ? undefined : { w, b: b[0] ?? 0 };
}
