// Types of inception.mjs (TF-slim's Inception preprocessing on raw pixels), for the tests.
export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}
export interface DistortedBoxOptions {
  area: readonly [number, number];
  aspect: readonly [number, number];
  minObjectCovered: number;
}
export interface ColorOptions {
  fast: boolean;
  brightness: number;
  saturation: readonly [number, number];
  hue: number;
  contrast: readonly [number, number];
}
export function lrint(x: number): number;
export function sampleDistortedBox(W: number, H: number, o: DistortedBoxOptions, u: ArrayLike<number>): Box;
export function centralCropBox(W: number, H: number, fraction: number): Box;
export function resizeBilinear(src: Uint8Array, srcW: number, C: number, box: Box, outW: number, outH: number, flip?: boolean): Float32Array;
export function rgbToHsv(r: number, g: number, b: number): [number, number, number];
export function hsvToRgb(h: number, s: number, v: number): [number, number, number];
export function adjustBrightness(img: Float32Array, delta: number): void;
export function adjustSaturation(img: Float32Array, factor: number): void;
export function adjustHue(img: Float32Array, delta: number): void;
export function adjustContrast(img: Float32Array, C: number, factor: number): void;
export function distortColor(img: Float32Array, o: ColorOptions, u: ArrayLike<number>): number;
