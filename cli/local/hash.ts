import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** MD5 of a file, hex: what S3 reports as the ETag of a single-part upload, and the local source version. */
export async function md5File(path: string, onBytes?: (n: number) => void): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
    onBytes?.((chunk as Buffer).length);
  }
  return hash.digest('hex');
}
