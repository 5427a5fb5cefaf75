/** Second names for local files: the engine's scratch and the local lake share them instead of copying bytes. */
import { constants } from 'node:fs';
import { copyFile, link } from 'node:fs/promises';

/** link(2) is not supported where the file system has no hard links (exFAT, some SMB and FUSE mounts). */
export const isNoHardLinks = (e: unknown): boolean =>
  ['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes(String((e as NodeJS.ErrnoException).code));

/**
 * Gives `from` the second name `to` (which must not exist); false where no link can be made (another disk, a
 * file system without hard links, a file with too many links already).
 */
export async function linkedFile(from: string, to: string): Promise<boolean> {
  try {
    await link(from, to);
    return true;
  } catch (e) {
    if (isNoHardLinks(e) || ['EXDEV', 'EMLINK'].includes(String((e as NodeJS.ErrnoException).code))) return false;
    throw e;
  }
}

/** `from` at `to` too: a hard link, or a copy where no link can be made. */
export async function linkOrCopy(from: string, to: string): Promise<void> {
  if (!(await linkedFile(from, to))) await copyFile(from, to, constants.COPYFILE_EXCL);
}
