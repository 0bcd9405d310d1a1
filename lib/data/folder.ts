/**
 * Image folders in ImageNet's layout: `ROOT/<class>/*.JPEG` (classes sorted by name, code-point
 * order, so labels are the same on every machine), or a flat folder of images with a labels file
 * (`<image file> <class name or index>` per line; ImageNet's `LOC_val_solution.csv` also works).
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { DataError } from '../errors.js';

/** File extensions read as images (case-insensitive). */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'];

/** Files and labels of a folder data set split. */
export interface FileList {
  files: string[];
  labels: Int32Array;
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isImage(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(name).toLowerCase());
}

async function requireFolder(dir: string, expected: string): Promise<void> {
  const s = await stat(dir).catch(() => undefined);
  if (s === undefined) throw new DataError(`${dir}: folder not found; expected ${expected}`);
  if (!s.isDirectory()) throw new DataError(`${dir}: not a folder; expected ${expected}`);
}

/** Sub-folders of `dir`, sorted by code point. */
export async function subfolders(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort(byCodePoint);
}

/** Image files directly in `dir`, sorted by code point. */
export async function imageFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => !e.isDirectory() && isImage(e.name))
    .map((e) => e.name)
    .sort(byCodePoint);
}

/**
 * Scan `ROOT/<class>/*` into files and labels.
 *
 * @param root - the folder of class folders.
 * @param classNames - the classes, in label order; default: the sub-folders of `root`, sorted.
 *   When given (a validation folder), every sub-folder must be one of them.
 * @throws DataError naming the folder when it is missing, has no class folders, has a class
 *   folder with no images, or a class not in `classNames`.
 * @example
 * const { classNames, files, labels } = await scanClassFolders('/data/imagenet/train');
 */
export async function scanClassFolders(root: string, classNames?: string[]): Promise<FileList & { classNames: string[] }> {
  await requireFolder(root, 'class folders (ROOT/<class>/*.jpg|png)');
  const folders = await subfolders(root);
  if (folders.length === 0) throw new DataError(`${root}: no class folders; expected ROOT/<class>/*.jpg|png`);
  const names = classNames ?? folders;
  const index = new Map(names.map((n, i) => [n, i]));
  const files: string[] = [];
  const labels: number[] = [];
  for (const cls of folders) {
    const label = index.get(cls);
    if (label === undefined) {
      throw new DataError(`${join(root, cls)}: class '${cls}' is not among the ${names.length} training classes`);
    }
    const imgs = await imageFiles(join(root, cls));
    if (imgs.length === 0) {
      throw new DataError(`${join(root, cls)}: class folder holds no images; expected files ending in ${IMAGE_EXTENSIONS.join(', ')}`);
    }
    for (const f of imgs) {
      files.push(join(root, cls, f));
      labels.push(label);
    }
  }
  return { classNames: names, files, labels: Int32Array.from(labels) };
}

/**
 * Read a labels file for a flat folder of images.
 * Each line: `<image file> <label>` separated by whitespace or a comma; the label is a class name
 * or an index, and for CSVs only its first word counts (ImageNet's `LOC_val_solution.csv`, whose
 * header line is skipped). A file name without extension gets `.JPEG` appended.
 *
 * @param labelsFile - the labels file.
 * @param imageDir - folder holding the images.
 * @param classNames - training classes, in label order.
 * @throws DataError naming the file and line of a malformed line or unknown class.
 * @example
 * const { files, labels } = await readLabelsFile('/data/imagenet/val/labels.txt', '/data/imagenet/val', classNames);
 */
export async function readLabelsFile(labelsFile: string, imageDir: string, classNames: string[]): Promise<FileList> {
  let text: string;
  try {
    text = await readFile(labelsFile, 'utf8');
  } catch (err) {
    throw new DataError(`${labelsFile}: cannot read labels file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const index = new Map(classNames.map((n, i) => [n, i]));
  const files: string[] = [];
  const labels: number[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || (i === 0 && /^imageid,/i.test(trimmed))) return;
    const fields = trimmed.split(/[\s,]+/);
    if (fields.length < 2) {
      throw new DataError(`${labelsFile}:${i + 1}: expected "<image file> <class name or index>" but read "${trimmed}"`);
    }
    const [file, cls] = fields;
    let label = index.get(cls);
    if (label === undefined && /^\d+$/.test(cls) && Number(cls) < classNames.length) label = Number(cls);
    if (label === undefined) {
      throw new DataError(`${labelsFile}:${i + 1}: unknown class '${cls}'; expected one of the ${classNames.length} training class names or an index below ${classNames.length}`);
    }
    files.push(join(imageDir, extname(file) === '' ? `${file}.JPEG` : file));
    labels.push(label);
  });
  if (files.length === 0) throw new DataError(`${labelsFile}: labels file lists no images`);
  return { files, labels: Int32Array.from(labels) };
}

/**
 * A split's files from either layout: `dir/<class>/*`, or the flat `dir` with a labels file
 * (`labelsFile`, else `dir/labels.txt`, else `dir/../<basename>_labels.txt`).
 *
 * @param dir - the validation or test folder.
 * @param classNames - training classes.
 * @param labelsFile - explicit labels file, optional.
 * @example
 * const val = await scanSplitFolder('/data/imagenet/val', classNames);
 */
export async function scanSplitFolder(dir: string, classNames: string[], labelsFile?: string): Promise<FileList> {
  await requireFolder(dir, 'class folders or images with a labels file');
  const candidates = labelsFile ? [labelsFile] : [join(dir, 'labels.txt'), `${dir.replace(/[/\\]+$/, '')}_labels.txt`];
  const folders = await subfolders(dir);
  if (folders.length > 0 && labelsFile === undefined) return scanClassFolders(dir, classNames);
  const found = candidates.find((c) => existsSync(c));
  if (found === undefined) {
    throw new DataError(
      `${dir}: no class folders and no labels file (looked for ${candidates.join(', ')}); expected DIR/<class>/*.jpg or a labels file`,
    );
  }
  return readLabelsFile(found, dir, classNames);
}
