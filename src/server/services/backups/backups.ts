/**
 * @module
 * Backups, recovery and account reset (src/server/services/sign-in/devices.graphql; docs/auth.md §12). A backup is
 * two public keys derived from a secret (a recovery phrase or a password) and the KDF
 * parameters: the bundle key is wrapped to its X25519 key, and its Ed25519 key proves the
 * secret. Opening and recovering are sign-ins: login's rate limits, a RECOVER challenge,
 * LOGIN_FAILED alike for an unknown user, a missing backup and a wrong secret, and the
 * challenge consumed only when everything else succeeded (in the same transaction).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { backupMessage, recoverMessage, resetMessage, type BackupKdf, type BackupKind } from '../../../crypto/account-messages.js';
import { AuthPurpose, PUBLIC_KEY_BYTES, SIGNATURE_BYTES, loginMessage } from '../../../crypto/auth-messages.js';
import { base64urlEncode } from '../../../crypto/base64url.js';
import { BACKUP_KDF_MAX, BACKUP_KDF_MIN, BACKUP_SALT_BYTES, PHRASE_KDF } from '../../../crypto/recovery.js';
import { newDeviceId, parseNewDevice, verifyNewDevice, type NewDeviceInput, type ParsedDevice } from '../sign-in/auth/device.js';
import { AuthError } from '../sign-in/auth/errors.js';
import type { Allowance } from '../sign-in/auth/service.js';
import { assertAcceptableIdentityKeys, decodeFixedBase64url, parseUsername } from '../sign-in/auth/validate.js';
import type { BackupsContext } from './store.js';
import { requireViewer } from '../../context.js';
import { gatewayError, unauthenticated } from '../../errors.js';
import { bundleRecipients, storeKeyBundle, type KeyBundleInput } from '../sign-in/key-bundle.js';
import type { BackupRow, DeviceRow, UserRow } from '../../storage/store.js';
import { sessionOut } from '../sign-in/accounts.js';
import { deviceTopic, keyBundleOut } from '../sign-in/devices.js';
import { announceRotation, applyRotation, assertUnusedSigningKey } from '../sign-in/identity.js';
import { withErrorCodes } from '../../resolver-errors.js';

/** A reset code: 32 CSPRNG bytes, base64url (43 characters). */
export const RESET_CODE_BYTES = 32;
/** How long a reset code works. */
export const RESET_CODE_TTL_MS = 24 * 60 * 60_000;

/** The stored form of a reset code. */
export function resetCodeHash(code: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(code).digest());
}

/** The parameters of a PASSWORD backup that does not exist (clients should create theirs with BACKUP_KDF_MIN, which these copy). */
const DECOY_PASSWORD_COSTS = BACKUP_KDF_MIN;

interface BackupInput {
  kind: BackupKind;
  authKey: string;
  encryptionKey: string;
  kdf: BackupKdf;
  signature: string;
}

interface ResetIdentityInput {
  version: number;
  signingKey: string;
  encryptionKey: string;
  signature: string;
}

function parseKind(kind: unknown): BackupKind {
  if (kind !== 'PHRASE' && kind !== 'PASSWORD') throw gatewayError('BAD_USER_INPUT', 'kind must be PHRASE or PASSWORD', { field: 'kind' });
  return kind;
}

function badKdf(why: string): Error {
  return gatewayError('BAD_KDF_PARAMETERS', `kdf: ${why}`, { field: 'backup.kdf' });
}

/**
 * PHRASE: exactly {bip39, "", 0, 0, 0}. PASSWORD: argon2id, a salt of exactly 16 bytes
 * (base64url), and costs within what clients agree to spend (src/crypto/recovery.ts).
 */
export function checkKdf(kind: BackupKind, kdf: BackupKdf): BackupKdf {
  if (typeof kdf !== 'object' || kdf === null) throw badKdf('missing');
  const { algorithm, salt, memoryKiB, iterations, parallelism } = kdf;
  if (kind === 'PHRASE') {
    const p = PHRASE_KDF;
    if (algorithm !== p.algorithm || salt !== p.salt || memoryKiB !== p.memoryKiB || iterations !== p.iterations || parallelism !== p.parallelism) {
      throw badKdf('a PHRASE backup takes {algorithm: "bip39", salt: "", memoryKiB: 0, iterations: 0, parallelism: 0}');
    }
    return PHRASE_KDF;
  }
  if (algorithm !== 'argon2id') throw badKdf('a PASSWORD backup takes algorithm "argon2id"');
  try {
    decodeFixedBase64url(salt, BACKUP_SALT_BYTES, 'salt');
  } catch {
    throw badKdf(`salt must be ${BACKUP_SALT_BYTES} bytes of unpadded base64url`);
  }
  const within = (n: number, k: 'memoryKiB' | 'iterations' | 'parallelism'): boolean => Number.isInteger(n) && n >= BACKUP_KDF_MIN[k] && n <= BACKUP_KDF_MAX[k];
  if (!within(memoryKiB, 'memoryKiB') || !within(iterations, 'iterations') || !within(parallelism, 'parallelism')) {
    const range = (k: 'memoryKiB' | 'iterations' | 'parallelism'): string => `${k} ${BACKUP_KDF_MIN[k]}–${BACKUP_KDF_MAX[k]}`;
    throw badKdf(`argon2id costs must be ${range('memoryKiB')}, ${range('iterations')}, ${range('parallelism')}`);
  }
  return { algorithm, salt, memoryKiB, iterations, parallelism };
}

function kdfOut(b: BackupKdf): BackupKdf {
  return { algorithm: b.algorithm, salt: b.salt, memoryKiB: b.memoryKiB, iterations: b.iterations, parallelism: b.parallelism };
}

function backupOut(b: BackupRow) {
  return { kind: b.kind, kdf: kdfOut(b as unknown as BackupKdf), createdAt: b.createdAt.toISOString() };
}

/** The bundle recipients after a change of backups (`backups` as they will be) with the current devices. */
async function recipientsWithBackups(tx: BackupsContext['store'], userId: string, backups: (current: BackupRow[]) => BackupRow[]): Promise<Uint8Array[]> {
  return bundleRecipients(await tx.devicesOf(userId), backups(await tx.backupsOf(userId)));
}

/** Backup lookup for a sign-in with it: done whether or not the user exists (the same work). */
async function backupFor(store: BackupsContext['store'], user: UserRow | null, kind: BackupKind): Promise<BackupRow | null> {
  return store.findBackup(user?.id ?? '', kind);
}

/**
 * Recovery attempts per account, whatever the address (docs/auth.md §7): a password is worth
 * guessing online, so its allowance is small; a phrase (256 bits) is not, so its own larger
 * one only bounds work, and guessing at the password never locks the phrase out.
 */
function recoveryAllowance(kind: BackupKind, username: string): Allowance {
  return { rule: kind === 'PASSWORD' ? 'recoverPassword' : 'recoverPhrase', key: username };
}

/** Adds a new ACTIVE device (the one a recovery or reset signs in with). */
function activeDevice(ctx: BackupsContext, userId: string, device: ParsedDevice, now: Date) {
  return { id: newDeviceId(ctx.backend), userId, name: device.name, status: 'ACTIVE' as const, signingKey: device.signingKey, encryptionKey: device.encryptionKey, approvedAt: now, expiresAt: null };
}

/** The session of a device just added: a token with its `did`. */
async function deviceSession(ctx: BackupsContext, user: UserRow, device: DeviceRow) {
  const issued = await ctx.auth.issueToken(user.id, device.id);
  return sessionOut({ ...issued, user, device });
}

export function createBackupResolvers() {
  return {
    Query: withErrorCodes({
      myBackups: async (_: unknown, __: unknown, ctx: BackupsContext) => (await ctx.store.backupsOf(requireViewer(ctx).id)).map(backupOut),

      backupParameters: async (_: unknown, args: { username: string; kind: BackupKind }, ctx: BackupsContext) => {
        await ctx.auth.limitChallenge(ctx.clientKey);
        const username = parseUsername(args.username);
        const kind = parseKind(args.kind);
        if (kind === 'PHRASE') return PHRASE_KDF;
        const user = await ctx.store.findUserByUsername(username);
        const backup = await backupFor(ctx.store, user, kind);
        if (backup) return kdfOut(backup as unknown as BackupKdf);
        // No such user or backup: a salt that looks like one and stays the same.
        return { algorithm: 'argon2id', salt: base64urlEncode(ctx.auth.decoySalt(username)), ...DECOY_PASSWORD_COSTS };
      },
    }),

    Mutation: withErrorCodes({
      putBackup: async (_: unknown, args: { backup: BackupInput; keyBundle: KeyBundleInput }, ctx: BackupsContext) => {
        const viewer = requireViewer(ctx);
        const input = args.backup;
        if (typeof input !== 'object' || input === null) throw gatewayError('BAD_USER_INPUT', 'backup input missing');
        const kind = parseKind(input.kind);
        const authKey = decodeFixedBase64url(input.authKey, PUBLIC_KEY_BYTES, 'backup.authKey');
        const encryptionKey = decodeFixedBase64url(input.encryptionKey, PUBLIC_KEY_BYTES, 'backup.encryptionKey');
        const signature = decodeFixedBase64url(input.signature, SIGNATURE_BYTES, 'backup.signature');
        const kdf = checkKdf(kind, input.kdf);
        await assertAcceptableIdentityKeys(ctx.backend, authKey, encryptionKey);
        const user = await ctx.store.findUserById(viewer.id);
        if (!user) throw unauthenticated();
        const message = backupMessage({ realm: ctx.auth.realm, username: user.username, kind, authKey, encryptionKey, kdf });
        if (!(await ctx.backend.ed25519Verify(authKey, message, signature))) {
          throw gatewayError('BAD_BACKUP_SIGNATURE', 'the backup signature does not verify with the backup auth key');
        }
        const row = { userId: viewer.id, kind, authKey, encryptionKey, ...kdf };
        const stored = await ctx.store.transaction(async (tx) => {
          const recipients = await recipientsWithBackups(tx, viewer.id, (all) => [...all.filter((b) => b.kind !== kind), { ...row, createdAt: new Date() }]);
          await storeKeyBundle(ctx.backend, tx, viewer.id, args.keyBundle, recipients);
          return tx.putBackup(row);
        });
        ctx.log.info('backup.stored', { userId: viewer.id, kind });
        return backupOut(stored);
      },

      deleteBackup: async (_: unknown, args: { kind: BackupKind; keyBundle: KeyBundleInput }, ctx: BackupsContext) => {
        const viewer = requireViewer(ctx);
        const kind = parseKind(args.kind);
        await ctx.store.transaction(async (tx) => {
          if (!(await tx.findBackup(viewer.id, kind))) throw gatewayError('NOT_FOUND', `no ${kind} backup`, { field: 'kind' });
          await storeKeyBundle(ctx.backend, tx, viewer.id, args.keyBundle, await recipientsWithBackups(tx, viewer.id, (all) => all.filter((b) => b.kind !== kind)));
          await tx.deleteBackup(viewer.id, kind);
        });
        ctx.log.info('backup.deleted', { userId: viewer.id, kind });
        return true;
      },

      openBackup: async (_: unknown, args: { username: string; kind: BackupKind; challenge: string; signature: string }, ctx: BackupsContext) => {
        const username = await ctx.auth.limitLogin(ctx.clientKey, args.username);
        const kind = parseKind(args.kind);
        let backup: BackupRow | null = null;
        const proof = await ctx.auth.prove({
          username,
          purpose: AuthPurpose.RECOVER,
          challenge: args.challenge,
          signature: args.signature,
          signer: async (user) => (backup = await backupFor(ctx.store, user, kind))?.authKey ?? null,
          message: (challenge) => loginMessage({ realm: ctx.auth.realm, username, purpose: AuthPurpose.RECOVER, challenge }),
          allowance: () => recoveryAllowance(kind, username),
        });
        const bundle = await ctx.store.transaction(async (tx) => {
          await ctx.auth.consumeChallenge(tx, proof.challenge);
          return tx.keyBundle(proof.user.id);
        });
        // A backup is always stored with a bundle that it is a recipient of.
        if (!bundle || !backup) throw gatewayError('NOT_FOUND', 'the account has no key bundle');
        ctx.log.info('backup.opened', { userId: proof.user.id, kind });
        return { userId: proof.user.id, keyBundle: keyBundleOut(bundle) };
      },

      recoverAccount: async (
        _: unknown,
        args: { username: string; kind: BackupKind; challenge: string; signature: string; device: NewDeviceInput; keyBundle: KeyBundleInput },
        ctx: BackupsContext,
      ) => {
        const username = await ctx.auth.limitLogin(ctx.clientKey, args.username);
        const kind = parseKind(args.kind);
        const device = parseNewDevice(args.device);
        await verifyNewDevice(ctx.backend, ctx.auth.realm, username, device);
        const proof = await ctx.auth.prove({
          username,
          purpose: AuthPurpose.RECOVER,
          challenge: args.challenge,
          signature: args.signature,
          signer: async (user) => (await backupFor(ctx.store, user, kind))?.authKey ?? null,
          message: (challenge) =>
            recoverMessage({ realm: ctx.auth.realm, username, kind, challenge, deviceSigningKey: device.signingKey, deviceEncryptionKey: device.encryptionKey }),
          allowance: () => recoveryAllowance(kind, username),
        });
        const user = proof.user;
        await verifyNewDevice(ctx.backend, ctx.auth.realm, username, device, user);
        const created = await ctx.store.transaction(async (tx) => {
          await ctx.auth.consumeChallenge(tx, proof.challenge);
          const row = activeDevice(ctx, user.id, device, new Date());
          const recipients = bundleRecipients([...(await tx.devicesOf(user.id)), { ...row, createdAt: row.approvedAt, revokedAt: null, lastSeenAt: null }], await tx.backupsOf(user.id));
          await storeKeyBundle(ctx.backend, tx, user.id, args.keyBundle, recipients);
          return tx.createDevice(row);
        });
        ctx.log.info('account.recovered', { userId: user.id, kind, deviceId: created.id });
        return deviceSession(ctx, user, created);
      },

      resetAccount: async (
        _: unknown,
        args: { username: string; resetCode: string; identity: ResetIdentityInput; device: NewDeviceInput; keyBundle: KeyBundleInput },
        ctx: BackupsContext,
      ) => {
        const username = await ctx.auth.limitLogin(ctx.clientKey, args.username);
        const code = decodeFixedBase64url(args.resetCode, RESET_CODE_BYTES, 'resetCode');
        const identity = args.identity;
        if (typeof identity !== 'object' || identity === null) throw gatewayError('BAD_USER_INPUT', 'identity input missing');
        const signingKey = decodeFixedBase64url(identity.signingKey, PUBLIC_KEY_BYTES, 'identity.signingKey');
        const encryptionKey = decodeFixedBase64url(identity.encryptionKey, PUBLIC_KEY_BYTES, 'identity.encryptionKey');
        const signature = decodeFixedBase64url(identity.signature, SIGNATURE_BYTES, 'identity.signature');
        const device = parseNewDevice(args.device);
        await verifyNewDevice(ctx.backend, ctx.auth.realm, username, device, { signingKey, encryptionKey });

        // The code: the same comparison whether or not the user, or a code, exists.
        const user = await ctx.store.findUserByUsername(username);
        const reset = await ctx.store.findAccountReset(user?.id ?? '');
        const hash = resetCodeHash(code);
        const storedHash = reset && reset.codeHash.length === hash.length ? reset.codeHash : new Uint8Array(hash.length);
        const matches = timingSafeEqual(hash, storedHash);
        if (!user || !reset || !matches || reset.expiresAt.getTime() <= Date.now()) throw new AuthError('RESET_CODE_INVALID', 'the reset code is not valid for this account');

        const history = await ctx.store.userKeys(user.id);
        const current = history.at(-1)?.version ?? 0;
        if (!Number.isInteger(identity.version) || identity.version !== current + 1) {
          throw gatewayError('BAD_USER_INPUT', `identity.version must be the current version + 1 (${current + 1})`, { field: 'identity.version' });
        }
        await assertAcceptableIdentityKeys(ctx.backend, signingKey, encryptionKey);
        const message = resetMessage({ realm: ctx.auth.realm, username, version: identity.version, signingKey, encryptionKey });
        if (!(await ctx.backend.ed25519Verify(signingKey, message, signature))) {
          throw gatewayError('BAD_KEY_SIGNATURE', 'the reset signature does not verify with the new signing key');
        }
        const signingKeyId = await assertUnusedSigningKey(ctx, signingKey);

        const { version, created, revokedIds } = await ctx.store.transaction(async (tx) => {
          // Single use, and only the code checked above: a concurrent reset or a new code makes this one fail.
          if (!(await tx.consumeAccountReset(user.id, reset.codeHash))) throw new AuthError('RESET_CODE_INVALID', 'the reset code is not valid for this account');
          const now = new Date();
          const stored = await applyRotation(tx, { userId: user.id, version: identity.version, signingKey, signingKeyId, encryptionKey, signature, reset: true });
          // The devices this revokes: their open sockets close after the commit (below).
          const revokedIds = (await tx.devicesOf(user.id)).filter((d) => d.status !== 'REVOKED').map((d) => d.id);
          await tx.revokeAllDevices(user.id, now);
          await tx.deleteBackups(user.id);
          // A new bundle history (revision 1): the client cannot know the old revision, and
          // every device that held the old bundle is revoked above.
          await tx.deleteKeyBundle(user.id);
          const row = activeDevice(ctx, user.id, device, now);
          await storeKeyBundle(ctx.backend, tx, user.id, args.keyBundle, [row.encryptionKey]);
          return { version: stored, created: await tx.createDevice(row), revokedIds };
        });
        // After the commit, as revokeDevice does: the revoked devices' open sockets close (4403).
        for (const id of revokedIds) ctx.pubsub.publish(deviceTopic(id), { deviceId: id });
        ctx.log.info('account.reset', { userId: user.id, version: version.version, deviceId: created.id });
        await announceRotation(ctx, version);
        return deviceSession(ctx, { ...user, signingKey, encryptionKey }, created);
      },
    }),
  };
}

/** For the CLI: a new reset code for `username`, stored as its hash for 24 hours; null when there is no such user. */
export async function issueResetCode(store: Pick<BackupsContext['store'], 'findUserByUsername' | 'putAccountReset'>, randomBytes: (n: number) => Uint8Array, username: string, now = Date.now()): Promise<{ code: string; expiresAt: Date } | null> {
  const user = await store.findUserByUsername(username);
  if (!user) return null;
  const code = randomBytes(RESET_CODE_BYTES);
  const expiresAt = new Date(now + RESET_CODE_TTL_MS);
  await store.putAccountReset({ userId: user.id, codeHash: resetCodeHash(code), expiresAt });
  return { code: base64urlEncode(code), expiresAt };
}
