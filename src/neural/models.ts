/**
 * Loading and checking ONNX models. Every model the hub runs has a kind whose
 * contract fixes its inputs and outputs (names, element types, rank, and the
 * width of the last dimension); a file that does not meet it stops the start
 * with a message naming the file, the tensor and what is wrong.
 *
 * text_classifier: inputs ids int32 [batch, width], weights float32 [batch, width];
 *   outputs capabilities float32 [batch, labels], priority float32 [batch, 4].
 * agent_fit: input features float32 [batch, 6]; output p_success float32 [batch, 1].
 *
 * A user model ([neural.models.<name>]) maps its own tensor names onto these
 * (inputs and outputs in contract order) and names the capability of each
 * classifier output column (labels), unless the file carries the hub's metadata.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { HubConfig } from '../config/index.js';
import { HubError, errorMessage } from '../errors/index.js';
import { FIT_WIDTH } from './fit-features.js';
import { PRIORITY_LABELS } from './dataset.js';
import { readModelMeta, type ModelKind } from './onnx-export.js';

export interface LoadedModel {
  kind: ModelKind;
  name: string;
  version: number;
  path: string;
  session: ort.InferenceSession;
  /** Our tensor names → the model's. */
  inputs: string[];
  outputs: string[];
  /** text_classifier: the capability of each output column. */
  labels: string[];
  bytes: Uint8Array;
}

interface TensorContract {
  role: string;
  type: 'float32' | 'int32';
  /** Width of the last dimension, when fixed. */
  width?: number;
}

function contract(kind: ModelKind, labels: number): { inputs: TensorContract[]; outputs: TensorContract[] } {
  return kind === 'text_classifier'
    ? {
        inputs: [
          { role: 'ids', type: 'int32' },
          { role: 'weights', type: 'float32' },
        ],
        outputs: [
          { role: 'capabilities', type: 'float32', width: labels },
          { role: 'priority', type: 'float32', width: PRIORITY_LABELS.length },
        ],
      }
    : {
        inputs: [{ role: 'features', type: 'float32', width: FIT_WIDTH }],
        outputs: [{ role: 'p_success', type: 'float32', width: 1 }],
      };
}

function invalid(file: string, message: string): HubError {
  return new HubError('MODEL_INVALID', `neural model ${file}: ${message}`, { details: { path: file } });
}

function checkTensor(
  file: string,
  side: 'input' | 'output',
  name: string,
  c: TensorContract,
  meta: readonly ort.InferenceSession.ValueMetadata[],
): void {
  const m = meta.find((x) => x.name === name);
  if (m === undefined)
    throw invalid(
      file,
      `has no ${side} "${name}" (for ${c.role}); its ${side}s are ${meta.map((x) => `"${x.name}"`).join(', ') || 'none'}`,
    );
  if (!m.isTensor) throw invalid(file, `${side} "${name}" is not a tensor`);
  if (m.type !== c.type)
    throw invalid(file, `${side} "${name}" (${c.role}) has element type ${m.type}; the contract needs ${c.type}`);
  if (m.shape.length !== 2)
    throw invalid(
      file,
      `${side} "${name}" (${c.role}) has rank ${m.shape.length}; the contract needs [batch, ${c.width ?? 'width'}]`,
    );
  const last = m.shape[1];
  if (c.width !== undefined && typeof last === 'number' && last !== c.width)
    throw invalid(file, `${side} "${name}" (${c.role}) is [batch, ${last}]; the contract needs [batch, ${c.width}]`);
}

export interface ModelSpec {
  kind: ModelKind;
  path: string;
  /** Tensor names in contract order; empty: the contract's own names. */
  inputs?: readonly string[];
  outputs?: readonly string[];
  /** Capability per classifier output column; empty: from the file's metadata. */
  labels?: readonly string[];
}

/** The tensor names a model is run with: the configured ones, else the contract's; as many as the contract has. */
function tensorNames(spec: ModelSpec, c: ReturnType<typeof contract>): { inputs: string[]; outputs: string[] } {
  const names = (
    given: readonly string[] | undefined,
    tensors: ReadonlyArray<{ role: string }>,
    what: string,
  ): string[] => {
    const list = given !== undefined && given.length > 0 ? [...given] : tensors.map((t) => t.role);
    if (list.length !== tensors.length)
      throw invalid(
        spec.path,
        `${what}: expected ${tensors.length} names (${tensors.map((t) => t.role).join(', ')}), got ${list.length}`,
      );
    return list;
  };
  return { inputs: names(spec.inputs, c.inputs, 'inputs'), outputs: names(spec.outputs, c.outputs, 'outputs') };
}

async function openSession(
  file: string,
  bytes: Uint8Array,
  providers: readonly ort.InferenceSession.ExecutionProviderConfig[],
): Promise<ort.InferenceSession> {
  try {
    // One thread per session: these models are small, and a thread pool would spin on the cores the event loop and the database need.
    return await ort.InferenceSession.create(bytes, {
      executionProviders: [...providers],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
    });
  } catch (err) {
    throw invalid(file, `ONNX Runtime refused it (${errorMessage(err)})`);
  }
}

/** Opens and checks one model; `providers` are the execution providers to try, in order. */
export async function loadModel(
  spec: ModelSpec,
  providers: readonly ort.InferenceSession.ExecutionProviderConfig[],
): Promise<LoadedModel> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(spec.path);
  } catch (err) {
    throw invalid(spec.path, `cannot be read (${errorMessage(err)})`);
  }
  let meta;
  try {
    meta = readModelMeta(bytes);
  } catch (err) {
    throw invalid(spec.path, `is not an ONNX model (${errorMessage(err)})`);
  }
  if (meta !== undefined && meta.kind !== spec.kind)
    throw invalid(spec.path, `is a ${meta.kind} model, configured as ${spec.kind}`);
  const labels = spec.labels !== undefined && spec.labels.length > 0 ? [...spec.labels] : (meta?.labels ?? []);
  if (spec.kind === 'text_classifier' && labels.length === 0)
    throw invalid(spec.path, 'names no capability for its output columns: set labels in [neural.models.<name>]');
  const c = contract(spec.kind, labels.length);
  const { inputs, outputs } = tensorNames(spec, c);
  const session = await openSession(spec.path, bytes, providers);
  try {
    c.inputs.forEach((t, i) => checkTensor(spec.path, 'input', inputs[i]!, t, session.inputMetadata));
    c.outputs.forEach((t, i) => checkTensor(spec.path, 'output', outputs[i]!, t, session.outputMetadata));
  } catch (err) {
    await session.release();
    throw err;
  }
  return {
    kind: spec.kind,
    name: meta?.name ?? path.basename(spec.path, '.onnx'),
    version: meta?.version ?? 1,
    path: spec.path,
    session,
    inputs,
    outputs,
    labels,
    bytes,
  };
}

export const BUILT_IN: Record<ModelKind, string> = {
  text_classifier: 'text-classifier.onnx',
  agent_fit: 'agent-fit.onnx',
};

/** The model of each kind: a user model from [neural.models] if one is configured for it, else the built-in file. */
export function modelSpecs(
  config: HubConfig,
  modelsDir: string,
  baseDir = process.cwd(),
): Record<ModelKind, ModelSpec> {
  const specs: Record<ModelKind, ModelSpec> = {
    text_classifier: { kind: 'text_classifier', path: path.join(modelsDir, BUILT_IN.text_classifier) },
    agent_fit: { kind: 'agent_fit', path: path.join(modelsDir, BUILT_IN.agent_fit) },
  };
  for (const [, m] of Object.entries(config.neural.models)) {
    specs[m.kind] = {
      kind: m.kind,
      path: path.resolve(baseDir, m.path),
      inputs: m.inputs,
      outputs: m.outputs,
      labels: m.labels,
    };
  }
  return specs;
}
