// (node) Development secrets kept under the data dir (./.switchyard) when the environment
// does not provide them: the admin token and the master key, generated once.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** The content of `dir/name`, or the first time `generate()` written there with mode 0600. */
export async function loadOrCreateSecretFile(dir: string, name: string, generate: () => string): Promise<string> {
  const file = path.join(dir, name);
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dir, { recursive: true });
  const value = generate();
  await writeFile(file, `${value}\n`, { mode: 0o600, flag: 'wx' }).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
  return (await readFile(file, 'utf8')).trim();
}
