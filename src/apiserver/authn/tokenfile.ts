/**
 * Static bearer tokens from `--token-auth-file`, as upstream's tokenfile authenticator
 * (apiserver authentication/token/tokenfile) behind its bearer-token request authenticator:
 *
 * - The file is CSV read as Go's encoding/csv reads it by default: comma-separated, RFC 4180
 *   quoting (`""` inside quotes is a quote; a quoted field may hold commas and newlines), \r\n
 *   read as \n, blank lines skipped, no comment lines (a `#` line is a record like any other),
 *   white space kept, a stray quote an error (`parse error on line L, column C: bare " in
 *   non-quoted-field` / `extraneous or missing " in quoted-field`; columns are 1-based bytes).
 * - Each record is `token,user name,user uid[,"group1,group2"]`, further columns ignored. Fewer
 *   than three columns is an error (upstream's message, naming the file); a record with an empty
 *   token is skipped with a warning; a repeated token warns and the later record wins. The
 *   fourth column is split on commas as is (an empty one gives the group "").
 * - The user gets system:authenticated appended, as upstream's AuthenticatedGroupAdder does for
 *   every authenticated user: not when the name is system:anonymous or the groups already hold
 *   system:authenticated or system:unauthenticated.
 * - The token comes from `Authorization: Bearer <token>` parsed as upstream's bearertoken
 *   authenticator (see parseBearerToken). An unknown token is "no opinion" here; the rule that a
 *   presented token nobody accepts is 401, never anonymous, is anonymous.ts's presentedCredentials.
 *
 * The file is read once, at construction (upstream does not reload it either). Errors are
 * BosunError ERR_INVALID_CONFIG: the integrator turns them into a start-up error.
 */
import fs from 'node:fs';
import type { UserInfo } from '../../api/types.ts';
import { BosunError } from '../../util/errors.ts';
import type { Authenticator } from './index.ts';

export interface TokenFileOptions {
  /** The file's name, for messages. */
  path?: string;
  /** Where warnings go (empty and duplicate tokens). Default: stderr. */
  warn?: (message: string) => void;
}

const defaultWarn = (m: string) => void process.stderr.write(`bosun: warning: ${m}\n`);

/**
 * The tokens of a token file and the users they authenticate as (fresh objects, groups already
 * including system:authenticated where upstream adds it). Throws ERR_INVALID_CONFIG at the
 * first malformed record, as upstream stops at it.
 */
export function parseTokenFile(text: string, opts: TokenFileOptions = {}): Map<string, UserInfo> {
  const path = opts.path ?? '';
  const warn = opts.warn ?? defaultWarn;
  const tokens = new Map<string, UserInfo>();
  let recordNum = 0;
  for (const record of csvRecords(text)) {
    if (record.length < 3) {
      throw new BosunError('ERR_INVALID_CONFIG', `token file '${path}' must have at least 3 columns (token, user name, user uid), found ${record.length}`);
    }
    recordNum++;
    const [token, username, uid] = record as [string, string, string];
    if (token === '') {
      warn(`empty token has been found in token file '${path}', record number '${recordNum}'`);
      continue;
    }
    if (tokens.has(token)) warn(`duplicate token has been found in token file '${path}', record number '${recordNum}'`);
    const user: UserInfo = { username, groups: withAuthenticatedGroup(username, record.length >= 4 ? record[3]!.split(',') : []) };
    if (uid) user.uid = uid;
    tokens.set(token, user);
  }
  return tokens;
}

/** Upstream's AuthenticatedGroupAdder: system:authenticated appended unless anonymous or already (un)authenticated. */
function withAuthenticatedGroup(username: string, groups: string[]): string[] {
  if (username === 'system:anonymous') return groups;
  if (groups.includes('system:authenticated') || groups.includes('system:unauthenticated')) return groups;
  return [...groups, 'system:authenticated'];
}

/** The authenticator over a parsed token map: a copy of the token's user, or null (no opinion). */
export function tokenMapAuthenticator(tokens: ReadonlyMap<string, UserInfo>): Authenticator {
  return {
    name: 'token-file',
    authenticate(req) {
      const token = parseBearerToken(req.headers['authorization']);
      const u = token === undefined ? undefined : tokens.get(token);
      return u ? structuredClone(u) : null;
    },
  };
}

/**
 * `--token-auth-file PATH`: reads and parses the file now (synchronously, at start-up). Throws
 * ERR_INVALID_CONFIG when the file cannot be read or a record is malformed.
 */
export function tokenFileAuthenticator(path: string, opts: Omit<TokenFileOptions, 'path'> = {}): Authenticator {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    throw new BosunError('ERR_INVALID_CONFIG', `cannot read token file '${path}': ${(err as Error).message}`, { cause: err });
  }
  return tokenMapAuthenticator(parseTokenFile(text, { ...opts, path }));
}

/**
 * The bearer token of an Authorization header as upstream's bearertoken authenticator reads it:
 * the header trimmed, split on single spaces into at most three parts, the first `bearer` in any
 * case, the token the second part; undefined when there is none or it is empty (`Bearer  x`,
 * two spaces, is no token). The first value counts when the header is repeated.
 */
export function parseBearerToken(header: string | string[] | undefined): string | undefined {
  const h = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!h) return undefined;
  const parts = splitN(h, ' ', 3);
  if (parts.length < 2 || parts[0]!.toLowerCase() !== 'bearer') return undefined;
  return parts[1] || undefined;
}

function splitN(s: string, sep: string, n: number): string[] {
  const out: string[] = [];
  let rest = s;
  while (out.length < n - 1) {
    const i = rest.indexOf(sep);
    if (i < 0) break;
    out.push(rest.slice(0, i));
    rest = rest.slice(i + sep.length);
  }
  out.push(rest);
  return out;
}

// ---- Go encoding/csv (default settings: comma, no comment character, strict quotes) ----

/**
 * The input's lines as Go's csv reader sees them: each with its \n (\r\n read as \n), the last
 * without one when the input does not end in a newline (a trailing \r dropped).
 */
function csvLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) {
      const last = text.slice(start);
      lines.push(last.endsWith('\r') ? last.slice(0, -1) : last);
      break;
    }
    let line = text.slice(start, nl + 1);
    if (line.endsWith('\r\n')) line = `${line.slice(0, -2)}\n`;
    lines.push(line);
    start = nl + 1;
  }
  return lines;
}

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
const nlLength = (s: string) => (s.endsWith('\n') ? 1 : 0);

function csvError(startLine: number, line: number, column: number, what: string): BosunError {
  const where = startLine !== line ? `record on line ${startLine}; parse error on line ${line}, column ${column}` : `parse error on line ${line}, column ${column}`;
  return new BosunError('ERR_INVALID_CONFIG', `${where}: ${what}`);
}

const bareQuote = 'bare " in non-quoted-field';
const badQuote = 'extraneous or missing " in quoted-field';

/** The records of a CSV text, one at a time (so that errors come in file order), as Go's csv.Reader. */
export function* csvRecords(text: string): Generator<string[]> {
  const lines = csvLines(text);
  let next = 0;
  let numLine = 0;
  while (next < lines.length) {
    let line = lines[next++]!;
    numLine++;
    if (line.length === nlLength(line)) continue; // blank line
    const recLine = numLine;
    let posLine = numLine;
    let col = 1;
    const fields: string[] = [];
    for (;;) {
      if (line.length === 0 || line[0] !== '"') {
        const i = line.indexOf(',');
        const field = i >= 0 ? line.slice(0, i) : line.slice(0, line.length - nlLength(line));
        const j = field.indexOf('"');
        if (j >= 0) throw csvError(recLine, numLine, col + bytes(field.slice(0, j)), bareQuote);
        fields.push(field);
        if (i < 0) break;
        col += bytes(line.slice(0, i + 1));
        line = line.slice(i + 1);
        continue;
      }
      // A quoted field, possibly over several lines.
      line = line.slice(1);
      col += 1;
      let value = '';
      let endOfRecord = false;
      for (;;) {
        const i = line.indexOf('"');
        if (i >= 0) {
          value += line.slice(0, i);
          col += bytes(line.slice(0, i)) + 1;
          line = line.slice(i + 1);
          if (line[0] === '"') {
            value += '"';
            line = line.slice(1);
            col += 1;
          } else if (line[0] === ',') {
            line = line.slice(1);
            col += 1;
            break;
          } else if (line.length === nlLength(line)) {
            endOfRecord = true;
            break;
          } else {
            throw csvError(recLine, numLine, col - 1, badQuote);
          }
        } else if (line.length > 0) {
          value += line;
          col += bytes(line);
          line = next < lines.length ? lines[next++]! : '';
          numLine++;
          if (line.length > 0) {
            posLine++;
            col = 1;
          }
        } else {
          throw csvError(recLine, posLine, col, badQuote);
        }
      }
      fields.push(value);
      if (endOfRecord) break;
    }
    yield fields;
  }
}
