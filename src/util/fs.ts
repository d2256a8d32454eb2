/**
 * Small file-system helpers shared by components that keep state on disk.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export interface WriteFileAtomicOptions {
  /** Permission bits of the new file (subject to the umask). Default 0o644. */
  mode?: number;
  /** fsync the file before the rename, so a crash leaves the old or the new content. Default true. */
  fsync?: boolean;
}

/**
 * Replaces `file` with `data` atomically: writes a temporary file beside it, then renames it
 * over the target. Readers see the old or the new content, never a partial file. The new file
 * always gets `mode`, whatever the old one had. The temporary file is removed on failure.
 * Concurrent writers to the same path do not corrupt it: the last rename wins.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: WriteFileAtomicOptions = {}): Promise<void> {
  const mode = opts.mode ?? 0o644;
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(tmp, 'wx', mode);
    await fh.writeFile(data);
    if (opts.fsync ?? true) await fh.sync();
    await fh.close();
    fh = undefined;
    await fs.rename(tmp, file);
  } catch (err) {
    await fh?.close().catch(() => {});
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
}

/** Reads a UTF-8 file, answering undefined when it does not exist (other errors are thrown). */
export async function readFileIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
