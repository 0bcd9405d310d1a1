/** Channel and size adaptation of a data set's fed shape, so any network runs on any data set. */
import { ValidationError } from '../errors.js';
import { checkChoice, checkInteger } from '../util/check.js';
import type { DatasetInfo } from './types.js';

/** ITU-R BT.601 luminance weights, used for 3 → 1 channel adaptation. */
export const LUMA = [0.299, 0.587, 0.114];

/**
 * The info of a data set fed with `channels` channels at `size × size`.
 * 1 → 3 repeats the gray channel (and its mean/std); 3 → 1 takes the luminance (mean and std
 * weighted by {@link LUMA}, an approximation for std).
 *
 * @param info - the data set's info.
 * @param channels - 1 or 3; default unchanged.
 * @param size - square side; default unchanged.
 * @example
 * adaptInfo(fashionInfo, 3, 32); // { channels: 3, height: 32, width: 32, mean: [m, m, m], ... }
 */
export function adaptInfo(info: DatasetInfo, channels?: number, size?: number): DatasetInfo {
  if (size !== undefined) checkInteger(size, 'outputSize');
  if (channels !== undefined) checkChoice(channels, 'outputChannels', [1, 3]);
  const out: DatasetInfo = { ...info, mean: [...info.mean], std: [...info.std] };
  if (size !== undefined) {
    out.height = size;
    out.width = size;
  }
  if (channels !== undefined && channels !== info.channels) {
    if (info.channels === 1 && channels === 3) {
      out.mean = [info.mean[0], info.mean[0], info.mean[0]];
      out.std = [info.std[0], info.std[0], info.std[0]];
    } else if (info.channels === 3 && channels === 1) {
      out.mean = [LUMA.reduce((a, w, c) => a + w * info.mean[c], 0)];
      out.std = [LUMA.reduce((a, w, c) => a + w * info.std[c], 0)];
    } else {
      throw new ValidationError(`Cannot adapt ${info.channels}-channel ${info.name} to ${channels} channels`);
    }
    out.channels = channels;
  }
  return out;
}
