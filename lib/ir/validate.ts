/**
 * TypeScript-side checks of an IR graph before it goes native: version, known ops, unique names,
 * declared parameters, outputs and loss, then full shape inference ({@link inferShapes}).
 */
import { ValidationError } from '../errors.js';
import { inferShapes, type ShapeMap } from './shapes.js';
import { IR_OPS, IR_VERSION, type IrGraph } from './types.js';

/**
 * Validates `graph` and returns its shapes for `batch`.
 * @param graph an IR graph
 * @param batch batch size for shape inference (default 1)
 * @throws ValidationError naming the node, parameter or field at fault
 * @example validateGraph(buildNetwork(NASNET_A).graph)
 */
export function validateGraph(graph: IrGraph, batch = 1): ShapeMap {
  if (graph.version !== IR_VERSION) {
    throw new ValidationError(`IR graph: version ${String(graph.version)} but this package reads version ${IR_VERSION}`);
  }
  const paramNames = new Set<string>();
  for (const p of graph.params) {
    if (paramNames.has(p.name)) throw new ValidationError(`IR param '${p.name}': declared twice`);
    if (!p.shape.every((d) => Number.isInteger(d) && d >= 1)) {
      throw new ValidationError(`IR param '${p.name}': shape [${p.shape.join(', ')}] must be positive integers`);
    }
    paramNames.add(p.name);
  }
  const inputNames = new Set(graph.inputs.map((i) => i.name));
  const read = new Set<string>();
  for (const n of graph.nodes) {
    if (!(IR_OPS as readonly string[]).includes(n.op)) {
      throw new ValidationError(`IR node '${n.id}': op '${n.op}' is not one of ${IR_OPS.join(', ')}`);
    }
    if (paramNames.has(n.id) || inputNames.has(n.id)) {
      throw new ValidationError(`IR node '${n.id}': id collides with a parameter or graph input name`);
    }
    for (const p of n.params ?? []) read.add(p);
  }
  for (const p of graph.params) {
    if (!read.has(p.name)) throw new ValidationError(`IR param '${p.name}': not read by any node`);
  }
  const shapes = inferShapes(graph, batch);
  if (graph.outputs.length === 0) throw new ValidationError('IR graph: outputs is empty (outputs[0] must be the logits)');
  for (const o of graph.outputs) {
    if (!shapes.has(o)) throw new ValidationError(`IR graph: output '${o}' is not a node`);
  }
  if (graph.loss !== undefined) {
    const s = shapes.get(graph.loss);
    if (!s) throw new ValidationError(`IR graph: loss '${graph.loss}' is not a node`);
    if (s.length !== 0) throw new ValidationError(`IR graph: loss '${graph.loss}' must be a scalar but has shape [${s.join(', ')}]`);
  }
  return shapes;
}
