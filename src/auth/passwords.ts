/**
 * Password hashing with scrypt (node:crypto) and a per-user random salt.
 * Stored as `scrypt$N$r$p$salt$hash` (base64url), so the cost can grow later
 * without breaking stored hashes. Verification is constant-time.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const N = 16384;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;

function scrypt(password: string, salt: Buffer, o: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, KEY_LENGTH, o, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, { N, r: R, p: P, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = stored.split('$');
  if (kind !== 'scrypt' || salt === undefined || hash === undefined) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await scrypt(password, Buffer.from(salt, 'base64url'), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 64 * 1024 * 1024,
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A dummy hash to verify against when a user does not exist, so that timing does not tell which usernames exist. */
export const DUMMY_HASH = `scrypt$${N}$${R}$${P}$${Buffer.alloc(16).toString('base64url')}$${Buffer.alloc(KEY_LENGTH).toString('base64url')}`;

export const MIN_PASSWORD_LENGTH = 12;

/** Why a first start with security on and no users cannot create its admin; undefined when it can. */
export function adminPasswordProblem(adminPassword: string): string | undefined {
  if (adminPassword === '') {
    return 'security is enabled and there are no users: set HIVE_SECURITY_ADMIN_PASSWORD (at least 12 characters) for the first start, or add one with `ai-orchestrator-hub users add admin --role admin`';
  }
  if (adminPassword.length < MIN_PASSWORD_LENGTH)
    return `HIVE_SECURITY_ADMIN_PASSWORD must be at least ${MIN_PASSWORD_LENGTH} characters`;
  return undefined;
}
