/**
 * @module
 * The data directory and the files in it are the operator's alone: directory 0700, files
 * 0600, whatever the process umask. What they hold: usernames, the contact graph, blind
 * indexes, wrapped keys and message timing (the database, with its `-wal` and `-shm`),
 * the key ring of SERVER fields and the token and challenge secrets.
 *
 * Modes are set only on what this process creates; an existing directory or file keeps its
 * mode (an operator may have chosen it), and `widePermissions` names the ones that let the
 * group or others in, for the gateway's start-up warning (docs/storage.md).
 *
 * SQLite creates `-wal` and `-shm` later, with the mode of the database file (its unix VFS
 * copies the main file's permission bits and sets them explicitly, so the umask does not
 * matter): creating the database file 0600 before SQLite opens it makes all three 0600.
 */
import { chmodSync, closeSync, constants, fchmodSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;
/** Group and other permission bits: none may be set on a private path. */
const GROUP_OTHER = 0o077;

/** Creates `dir` and any missing parents 0700 (umask-independent); an existing directory is left as it is. */
export function ensurePrivateDir(dir: string): void {
  const target = resolve(dir);
  const first = mkdirSync(target, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (first === undefined) return;
  // mkdir applies the umask; chmod every directory this call created, from the first down.
  for (let d = target; ; d = dirname(d)) {
    chmodSync(d, PRIVATE_DIR_MODE);
    if (d === first || dirname(d) === d) break;
  }
}

/**
 * Creates `file` empty with mode 0600 (umask-independent) unless it exists; returns whether
 * it did. Exclusive create: an existing file (or a link planted in its place) is never
 * opened for writing or re-moded here.
 */
export function createPrivateFile(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, PRIVATE_FILE_MODE);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE);
  } finally {
    closeSync(fd);
  }
  return true;
}

export interface WidePath {
  readonly path: string;
  /** Permission bits as octal text, e.g. "0644". */
  readonly mode: string;
  /** The command that makes it private. */
  readonly fix: string;
}

/** Of `paths`, the existing ones that grant the group or others any permission. */
export function widePermissions(paths: readonly string[]): WidePath[] {
  const out: WidePath[] = [];
  for (const path of paths) {
    let mode: number;
    let isDir: boolean;
    try {
      const st = statSync(path);
      mode = st.mode & 0o777;
      isDir = st.isDirectory();
    } catch {
      continue; // absent: nothing to warn about
    }
    if ((mode & GROUP_OTHER) === 0) continue;
    out.push({ path, mode: `0${mode.toString(8)}`, fix: `chmod ${isDir ? '700' : '600'} ${JSON.stringify(path)}` });
  }
  return out;
}
