import type { Command } from 'commander';
import { parseGenotype } from '../cells/genotype.js';
import { buildNetwork, type NetworkOptions } from '../cells/network.js';
import { ValidationError } from '../errors.js';
import { checkOpset, ONNX_OPSET_MAX, ONNX_OPSET_MIN, writeOnnx } from '../onnx/export.js';
import { readCheckpoint } from '../train/checkpoint.js';
import { intArg } from '../util/check.js';
import { checkWritableFile } from '../util/writable.js';

/** Registers `nasnet export`. */
export function registerExport(program: Command): void {
  program
    .command('export')
    .description('export a trained checkpoint (safetensors) as an ONNX model (inference graph)')
    .requiredOption('--checkpoint <file>', 'a checkpoint written by nasnet train')
    .requiredOption('--out <file>', 'the .onnx file to write')
    .option('--opset <n>', `ONNX opset, ${ONNX_OPSET_MIN} to ${ONNX_OPSET_MAX}`, intArg('--opset'), 13)
    .option('--raw-weights', 'export the raw parameters even when the checkpoint holds their averages (EMA)')
    .action((o: { checkpoint: string; out: string; opset: number; rawWeights?: boolean }) => {
      checkOpset(o.opset, '--opset');
      checkWritableFile(o.out, '--out');
      const { tensors, meta } = readCheckpoint(o.checkpoint);
      if (!meta.genotype || !meta.network) {
        throw new ValidationError(`checkpoint ${o.checkpoint}: metadata lacks genotype or network options`);
      }
      const genotype = parseGenotype(meta.genotype);
      const net = buildNetwork(genotype, meta.network as NetworkOptions);
      const useEma = typeof meta.ema === 'number' && meta.ema > 0 && !o.rawWeights;
      writeOnnx(o.out, net.inference, tensors, { opset: o.opset, docString: JSON.stringify({ genotype }), useEma });
      process.stdout.write(`wrote ${o.out} (${net.meta.name}, ${useEma ? `parameter averages, EMA ${meta.ema}` : 'raw parameters'}, ${tensors.size} tensors in the checkpoint)\n`);
    });
}
