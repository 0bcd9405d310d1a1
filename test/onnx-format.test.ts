import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { IrGraph } from '../lib/ir/types.js';
import { exportOnnx } from '../lib/onnx/export.js';

// A graph whose numbers we can compute by hand, checked in ONNX Runtime: it proves the serializer
// (protobuf wire format, attributes, int64 initializers, Pad/Slice inputs) independently of the engine.
function tinyGraph(): IrGraph {
  return {
    version: 1,
    inputs: [
      { name: 'images', dtype: 'float32', shape: ['N', 1, 2, 2] },
      { name: 'labels', dtype: 'int32', shape: ['N'] },
    ],
    outputs: ['fc'],
    loss: 'loss',
    nodes: [
      { id: 'conv', op: 'Conv', inputs: ['images'], params: ['conv/W', 'conv/B'], attrs: { kernel_shape: [1, 1] } },
      { id: 'relu', op: 'Relu', inputs: ['conv'] },
      { id: 'pad', op: 'Pad', inputs: ['relu'], attrs: { pads: [0, 0, 0, 0, 0, 0, 1, 1] } },
      { id: 'slice', op: 'Slice', inputs: ['pad'], attrs: { starts: [1, 1], ends: [3, 3], axes: [2, 3] } },
      { id: 'drop', op: 'DropPath', inputs: ['slice'], attrs: { layer_ratio: 1 } },
      { id: 'add', op: 'Add', inputs: ['drop', 'relu'] },
      { id: 'gap', op: 'GlobalAveragePool', inputs: ['add'] },
      { id: 'flat', op: 'Flatten', inputs: ['gap'], attrs: { axis: 1 } },
      { id: 'fc', op: 'Gemm', inputs: ['flat'], params: ['fc/W', 'fc/B'], attrs: { transB: 1 } },
      { id: 'loss', op: 'SoftmaxCrossEntropy', inputs: ['fc', 'labels'] },
    ],
    params: [],
  };
}

describe('ONNX serialization', () => {
  it('runs in ONNX Runtime and gives the hand-computed logits', async () => {
    const weights = new Map([
      ['conv/W', { shape: [2, 1, 1, 1], data: new Float32Array([2, -1]) }],
      ['conv/B', { shape: [2], data: new Float32Array([0, 0.5]) }],
      ['fc/W', { shape: [3, 2], data: new Float32Array([1, 0, 0, 1, 1, 1]) }],
      ['fc/B', { shape: [3], data: new Float32Array([0, 0, 10]) }],
    ]);
    const bytes = exportOnnx(tinyGraph(), weights);
    const session = await ort.InferenceSession.create(bytes);
    expect(session.inputNames).toEqual(['images']);
    const x = new Float32Array([1, 2, 3, 4]);
    const out = await session.run({ images: new ort.Tensor('float32', x, [1, 1, 2, 2]) });
    // channel 0: relu(2x) = [2,4,6,8]; shifted by (1,1) with zero pad: [8,0,0,0]; sum = [10,4,6,8] → mean 7
    // channel 1: relu(-x + .5) = [0,0,0,0]; → mean 0
    expect(Array.from(out.fc.data as Float32Array)).toEqual([7, 0, 17]);
  });

  it('names a parameter missing from the weights', () => {
    expect(() => exportOnnx(tinyGraph(), new Map())).toThrow(/parameter 'conv\/B' is not in the weights/);
  });
});
