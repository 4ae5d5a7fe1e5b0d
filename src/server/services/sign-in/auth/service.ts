/**
 * @module
 * The authentication service (docs/auth.md): registration with proof of possession of the
 * signing key, stateless login challenges, Ed25519 challenge-response login, short-lived
 * access tokens, and rate limits per client address and per account. Transport-agnostic: the
 * GraphQL layer maps AuthError codes to `extensions.code` and passes the requester's address
 * (./client-address.ts, trusted proxies applied) as `clientKey`.
 */
import type { CryptoBackend } from '../../../../crypto/backend.js';
import { base64urlEncode } from '../../../../crypto/base64url.js';
import { concatBytes, equalBytes, utf8Encode, wipe } from '../../../../crypto/bytes.js';
import { keyIdOf } from '../../../../crypto/keys.js';
import type { DeviceRow, LayerStore, UserRow } from '../../../storage/store.js';
import type { SignInStore } from '../store.js';
import { CHALLENGE_TTL_MS, MIN_CHALLENGE_KEY_BYTES, issueChallenge, verifyChallenge, type ChallengeKeying, type VerifiedChallenge } from './challenge.js';
import { DEVICE_ID_PATTERN, newDeviceId, parseNewDevice, verifyNewDevice, type NewDeviceInput } from './device.js';
import { AuthError, loginFailed, rateLimited } from './errors.js';
import { createTokenService, type IssuedToken, type TokenClaims } from './jwt.js';
import {
  AuthPurpose,
  DEFAULT_REALM,
  PUBLIC_KEY_BYTES,
  SIGNATURE_BYTES,
  isAuthPurpose,
  loginMessage,
  registrationMessage,
} from '../../../../crypto/auth-messages.js';
import { RateLimits, type RateLimitRule } from '../../../rate-limit.js';
import { assertAcceptableIdentityKeys, decodeFixedBase64url, parseUsername } from './validate.js';

/**
 * The rate-limit rules (docs/auth.md §7): at most `points` requests per `durationSeconds`
 * for each key. Per client address: `challenge`, `login`, `loginPerUser`, `register`,
 * `deviceLink`. Per account, whatever the address: `loginPerAccount`, `loginPerDevice`,
 * `recoverPassword`, `recoverPhrase`; per signed-in user: `emailLookup`. A new rule is one line here plus an
 * `auth.limit(name, key)` where it applies.
 */
export const DEFAULT_AUTH_LIMITS = {
  /** Key: client. challenge, deviceLinkStatus, backupParameters. */
  challenge: { points: 20, durationSeconds: 60 },
  /** Key: client. Sign-in attempts of any kind (login, openBackup, recoverAccount, resetAccount), any username. */
  login: { points: 20, durationSeconds: 60 },
  /** Key: client + username. The same, for one username. */
  loginPerUser: { points: 5, durationSeconds: 60 },
  /** Key: client. Registrations (and USERNAME_TAKEN probes). */
  register: { points: 5, durationSeconds: 300 },
  /** Key: client. requestDeviceLink. */
  deviceLink: { points: 5, durationSeconds: 300 },
  /** Key: username. Logins that are not by one of the account's ACTIVE devices (identity key, unknown or PENDING device). */
  loginPerAccount: { points: 30, durationSeconds: 60 },
  /** Key: device id. Logins by one ACTIVE device of the account: strangers, who do not know its id, cannot use this up. */
  loginPerDevice: { points: 30, durationSeconds: 60 },
  /** Key: username. openBackup and recoverAccount with the PASSWORD backup: online password guesses. */
  recoverPassword: { points: 10, durationSeconds: 3600 },
  /** Key: username. openBackup and recoverAccount with the PHRASE backup (256-bit secret: a bound on work only). */
  recoverPhrase: { points: 30, durationSeconds: 60 },
  /** Key: user id (the token's). profileByEmail lookups, found or not: a guessing budget that follows the account wherever it signs in from. */
  emailLookup: { points: 10, durationSeconds: 60 },
} as const satisfies Record<string, RateLimitRule>;

export type AuthLimitName = keyof typeof DEFAULT_AUTH_LIMITS;
export type AuthLimits = { readonly [K in AuthLimitName]: RateLimitRule };

/** The default rules with `overrides` over them. */
export function authLimitRules(overrides: Partial<AuthLimits> = {}): AuthLimits {
  return { ...DEFAULT_AUTH_LIMITS, ...overrides };
}

/** The per-account allowance an attempt takes from (`ProofRequest.allowance`). */
export interface Allowance {
  readonly rule: AuthLimitName;
  readonly key: string;
}

export interface AuthServiceOptions {
  readonly store: LayerStore & SignInStore;
  readonly backend: CryptoBackend;
  /** Deployment name bound into every signed message, challenge MAC and token `aud` (default "veilgraph"). */
  readonly realm?: string;
  /** HMAC key for challenges: ≥ 32 random bytes, the same on every instance, independent of `jwtSecret`. */
  readonly challengeKey: Uint8Array;
  /** HS256 secret for access tokens: ≥ 32 random bytes, the same on every instance. */
  readonly jwtSecret: Uint8Array;
  /** Access token lifetime (default 900 s). */
  readonly tokenTtlSeconds?: number;
  /** Challenge lifetime (default 300 s). */
  readonly challengeTtlSeconds?: number;
  /** Clock in Unix milliseconds for challenges and tokens (tests inject one; rate limits use the system clock). */
  readonly now?: () => number;
  /** Overrides of the rules, counted in this process's memory. Ignored when `rateLimits` is given. */
  readonly limits?: Partial<AuthLimits>;
  /** The limiters, built by the caller over a shared store (the gateway on PostgreSQL: `RateLimits.create`). */
  readonly rateLimits?: RateLimits<AuthLimitName>;
}

export interface RegisterInput {
  readonly username: string;
  /** Ed25519 public key, base64url (32 bytes). */
  readonly signingKey: string;
  /** X25519 public key, base64url (32 bytes). */
  readonly encryptionKey: string;
  /** Ed25519 signature over the registration message by `signingKey`, base64url (64 bytes). */
  readonly signature: string;
  /** The registering device, created ACTIVE with the user (docs/auth.md §12). */
  readonly device?: NewDeviceInput | null;
}

export interface ChallengeResult {
  /** base64url, 76 characters; the client decodes it and signs the login message over the bytes. */
  readonly challenge: string;
  readonly expiresAt: Date;
}

export interface LoginResult {
  readonly token: string;
  readonly expiresAt: Date;
  /** The store's row (keys as bytes); the GraphQL `User` resolvers encode them. */
  readonly user: UserRow;
  /** The device the session signed in with; null for the identity key. */
  readonly device: DeviceRow | null;
}

/** A challenge-response proof (login, openBackup, recoverAccount): see `AuthService.prove`. */
export interface ProofRequest {
  /** Already checked by `limitLogin`. */
  readonly username: string;
  readonly purpose: AuthPurpose;
  /** The challenge text as issued. */
  readonly challenge: string;
  /** base64url, 64 bytes. */
  readonly signature: string;
  /** The public key that must have signed, for this user (null: the user does not exist). Null: nothing verifies. */
  signer(user: UserRow | null): Promise<Uint8Array | null>;
  /** The signed bytes, given the decoded challenge. */
  message(challenge: Uint8Array): Uint8Array;
  /**
   * The per-account allowance this attempt takes from (docs/auth.md §7), asked once the
   * challenge proved genuine and after `signer` (so a login can name its device's own).
   */
  allowance(): Allowance;
}

export interface Proof {
  readonly user: UserRow;
  /** Not consumed yet: call `consumeChallenge` once everything else succeeded. */
  readonly challenge: VerifiedChallenge;
}

export interface AuthService {
  readonly realm: string;
  /** `clientKey` (the requester's address) enables the `register` rate limit; the gateway should always pass it. */
  register(input: RegisterInput, clientKey?: string): Promise<UserRow>;
  challenge(username: string, purpose: string, clientKey: string): Promise<ChallengeResult>;
  /** With `deviceId`, the signature is by that device's key and the token carries `did`. */
  login(username: string, challenge: string, signatureB64: string, clientKey: string, deviceId?: string | null): Promise<LoginResult>;
  /** Stateless: signature, claims and expiry only (the gateway checks a `did`'s device). */
  verifyToken(token: string): Promise<TokenClaims>;
  /** The per-address sign-in limits (`login`, then `loginPerUser`); returns the checked username. */
  limitLogin(clientKey: string, username: unknown): Promise<string>;
  /** The `challenge` limit (also for deviceLinkStatus and backupParameters). */
  limitChallenge(clientKey: string): Promise<void>;
  /** The `deviceLink` limit (requestDeviceLink). */
  limitDeviceLink(clientKey: string): Promise<void>;
  /** Counts one request of `key` against rule `name`: RATE_LIMITED (with retryAfterSeconds) when over. */
  limit(name: AuthLimitName, key: string): Promise<void>;
  /**
   * Verifies a challenge-response as login does, after `limitLogin`: signature shape
   * (BAD_USER_INPUT), the challenge for (realm, username, purpose) (CHALLENGE_INVALID,
   * CHALLENGE_EXPIRED), the user and `signer(user)` looked up, the request's `allowance()`
   * (RATE_LIMITED), then the signature against the signer's key, or a dummy key when the
   * user or key does not exist (the same work): LOGIN_FAILED. Consumes nothing.
   */
  prove(request: ProofRequest): Promise<Proof>;
  /** Records the challenge as used (in `store`, which may be a transaction): CHALLENGE_REPLAYED when it was. */
  consumeChallenge(store: LayerStore & SignInStore, challenge: VerifiedChallenge): Promise<void>;
  issueToken(userId: string, deviceId?: string): Promise<IssuedToken>;
  /**
   * 16 bytes that stand in for the salt of a PASSWORD backup that does not exist: stable per
   * username, unpredictable without the server's challenge key (backupParameters).
   */
  decoySalt(username: string): Uint8Array;
  /** Deletes used-challenge records that can no longer matter; run periodically. */
  purgeExpiredChallenges(): Promise<number>;
}

export const USER_ID_BYTES = 16;
/**
 * A used challenge is remembered this long past its own expiry, so that an instance whose
 * clock lags the one that purges still finds it (and refuses the replay).
 */
export const CONSUMED_CHALLENGE_GRACE_MS = 10 * 60_000;
/** A realm: 1–128 printable ASCII characters without spaces (checked again by createVeilgraph before it creates anything). */
export const REALM_PATTERN = /^[\x21-\x7e]{1,128}$/;
/** Client keys are canonical addresses (./client-address.ts), far shorter; the shared store's key column is 255. */
const MAX_CLIENT_KEY_LENGTH = 128;

function isConflict(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'CONFLICT';
}

function assertSecret(b: unknown, what: string): asserts b is Uint8Array {
  if (!(b instanceof Uint8Array) || b.length < MIN_CHALLENGE_KEY_BYTES) {
    throw new TypeError(`${what} must be a Uint8Array of at least ${MIN_CHALLENGE_KEY_BYTES} bytes`);
  }
}

function assertClientKey(k: unknown): asserts k is string {
  if (typeof k !== 'string' || k.length === 0 || k.length > MAX_CLIENT_KEY_LENGTH) {
    throw new TypeError('clientKey must be a non-empty string (the requester address)');
  }
}

export function createAuthService(options: AuthServiceOptions): AuthService {
  const { store, backend } = options;
  const realm = options.realm ?? DEFAULT_REALM;
  if (!REALM_PATTERN.test(realm)) throw new TypeError('realm must be 1–128 printable ASCII characters without spaces');
  assertSecret(options.challengeKey, 'challengeKey');
  assertSecret(options.jwtSecret, 'jwtSecret');
  if (equalBytes(options.challengeKey, options.jwtSecret)) throw new TypeError('challengeKey and jwtSecret must be different keys');
  const now = options.now ?? Date.now;
  const challengeTtlMs = options.challengeTtlSeconds === undefined ? CHALLENGE_TTL_MS : options.challengeTtlSeconds * 1000;
  if (!Number.isSafeInteger(challengeTtlMs) || challengeTtlMs < 1000 || challengeTtlMs > 3_600_000) {
    throw new RangeError('challenge lifetime must be a whole number of seconds between 1 and 3600');
  }
  const keying: ChallengeKeying = { backend, key: options.challengeKey.slice() };
  const tokens = createTokenService({ secret: options.jwtSecret, audience: realm, ttlSeconds: options.tokenTtlSeconds, now });

  const rateLimits = options.rateLimits ?? RateLimits.memory(authLimitRules(options.limits));
  const limit = async (name: AuthLimitName, key: string): Promise<void> => {
    const d = await rateLimits.take(name, key);
    if (!d.allowed) throw rateLimited(d.retryAfterSeconds);
  };

  // Unknown users are "verified" against this key so that their login costs what a real
  // one costs. Its seed is random and dropped at once: no signature can ever verify.
  let dummyKey: Promise<Uint8Array> | undefined;
  const dummySigningKey = (): Promise<Uint8Array> =>
    (dummyKey ??= (async () => {
      const seed = backend.randomBytes(32);
      try {
        return await backend.ed25519PublicKey(seed);
      } finally {
        wipe(seed);
      }
    })());

  // The decoy salt key: derived from the challenge key, so no new secret to configure.
  const decoySaltKey = backend.hkdfSha256(options.challengeKey, new Uint8Array(0), utf8Encode('veilgraph/v1/decoy-backup-salt-key'), 32);
  const limitLogin = async (clientKey: string, username: unknown): Promise<string> => {
    assertClientKey(clientKey);
    await limit('login', clientKey);
    const name = parseUsername(username);
    await limit('loginPerUser', `${clientKey}:${name}`);
    return name;
  };

  const prove = async (r: ProofRequest): Promise<Proof> => {
    const signature = decodeFixedBase64url(r.signature, SIGNATURE_BYTES, 'signature');
    const verified = verifyChallenge(keying, { realm, username: r.username, purpose: r.purpose }, r.challenge, now());
    const user = await store.findUserByUsername(r.username);
    const signer = await r.signer(user);
    // Per account, whatever the address: after the lookups (a login's device decides which
    // allowance), keyed by the username given, so unknown users are limited alike.
    const allowance = r.allowance();
    await limit(allowance.rule, allowance.key);
    const key = signer ?? (await dummySigningKey());
    const ok = await backend.ed25519Verify(key, r.message(verified.bytes), signature);
    if (!user || !ok) throw loginFailed();
    return { user, challenge: verified };
  };

  const consumeChallenge = async (db: LayerStore & SignInStore, verified: VerifiedChallenge): Promise<void> => {
    // The store's insert is atomic: of two concurrent uses of one challenge exactly one wins.
    const expiresAt = new Date(verified.expiresAt.getTime() + CONSUMED_CHALLENGE_GRACE_MS);
    if (!(await db.consumeChallenge(verified.id, expiresAt))) throw new AuthError('CHALLENGE_REPLAYED', 'challenge already used');
  };

  return {
    realm,
    limitLogin,
    limit,
    prove,
    consumeChallenge,

    async limitChallenge(clientKey) {
      assertClientKey(clientKey);
      await limit('challenge', clientKey);
    },

    async limitDeviceLink(clientKey) {
      assertClientKey(clientKey);
      await limit('deviceLink', clientKey);
    },

    issueToken(userId, deviceId) {
      return tokens.issue(userId, deviceId);
    },

    decoySalt(username) {
      return backend.hmacSha256(decoySaltKey, concatBytes(utf8Encode('backup-salt'), utf8Encode(username))).slice(0, 16);
    },

    async register(input, clientKey) {
      if (clientKey !== undefined) {
        assertClientKey(clientKey);
        await limit('register', clientKey);
      }
      if (typeof input !== 'object' || input === null) throw new AuthError('BAD_USER_INPUT', 'registration input missing');
      const username = parseUsername(input.username);
      const signingKey = decodeFixedBase64url(input.signingKey, PUBLIC_KEY_BYTES, 'signingKey');
      const encryptionKey = decodeFixedBase64url(input.encryptionKey, PUBLIC_KEY_BYTES, 'encryptionKey');
      const signature = decodeFixedBase64url(input.signature, SIGNATURE_BYTES, 'signature');
      const device = input.device === undefined || input.device === null ? null : parseNewDevice(input.device);
      await assertAcceptableIdentityKeys(backend, signingKey, encryptionKey);
      const message = registrationMessage({ realm, username, signingKey, encryptionKey });
      if (!(await backend.ed25519Verify(signingKey, message, signature))) {
        throw new AuthError('BAD_REGISTRATION_SIGNATURE', 'registration signature does not verify');
      }
      if (device) await verifyNewDevice(backend, realm, username, device, { signingKey, encryptionKey });
      if (await store.findUserByUsername(username)) throw new AuthError('USERNAME_TAKEN', 'username is taken');
      try {
        // The registration signature is also the signature of version 1 in the key directory.
        const firstKey = { signingKeyId: base64urlEncode(keyIdOf(backend, 'ed25519', signingKey)), signature };
        const user = { id: base64urlEncode(backend.randomBytes(USER_ID_BYTES)), username, signingKey, encryptionKey };
        if (!device) return await store.createUser(user, firstKey);
        // The user and their first device exist together or not at all.
        return await store.transaction(async (tx) => {
          const created = await tx.createUser(user, firstKey);
          const { name, signingKey: deviceSigningKey, encryptionKey: deviceEncryptionKey } = device;
          const approvedAt = new Date(now());
          await tx.createDevice({ id: newDeviceId(backend), userId: created.id, name, status: 'ACTIVE', signingKey: deviceSigningKey, encryptionKey: deviceEncryptionKey, approvedAt, expiresAt: null });
          return created;
        });
      } catch (e) {
        // Lost a race with a concurrent registration of the same name (unique index).
        if (isConflict(e)) throw new AuthError('USERNAME_TAKEN', 'username is taken');
        throw e;
      }
    },

    async challenge(username, purpose, clientKey) {
      assertClientKey(clientKey);
      // Per address only: a limit per username here would let anyone stop the user's own
      // devices from signing in, and a challenge costs one HMAC and no database access. The
      // attempts that use challenges are limited per account (docs/auth.md §7).
      await limit('challenge', clientKey);
      const name = parseUsername(username);
      if (!isAuthPurpose(purpose)) throw new AuthError('BAD_USER_INPUT', 'unknown challenge purpose');
      // No database access: known and unknown usernames get the same kind of challenge.
      const issued = issueChallenge(keying, { realm, username: name, purpose }, now(), challengeTtlMs);
      return { challenge: issued.text, expiresAt: issued.expiresAt };
    },

    async login(username, challenge, signatureB64, clientKey, deviceId) {
      const name = await limitLogin(clientKey, username);
      const withDevice = deviceId !== undefined && deviceId !== null;
      let device: DeviceRow | null = null;
      const { user, challenge: verified } = await prove({
        username: name,
        purpose: AuthPurpose.LOGIN,
        challenge,
        signature: signatureB64,
        async signer(u) {
          if (!withDevice) return u?.signingKey ?? null;
          // Looked up whether or not the user exists (the same work); a device of another
          // user, or an id that cannot be one, is unknown.
          const d = typeof deviceId === 'string' && DEVICE_ID_PATTERN.test(deviceId) ? await store.findDevice(deviceId) : null;
          device = d && u && d.userId === u.id ? d : null;
          return device?.signingKey ?? null;
        },
        message: (bytes) => loginMessage({ realm, username: name, purpose: AuthPurpose.LOGIN, challenge: bytes }),
        // An ACTIVE device of the account signs in on its own allowance, which strangers
        // (who do not know its id) cannot use up; everything else shares the account's.
        allowance: () => {
          const d = device as DeviceRow | null;
          return d && d.status === 'ACTIVE' ? { rule: 'loginPerDevice', key: d.id } : { rule: 'loginPerAccount', key: name };
        },
      });
      // Only the device's key holder gets this far: the status is theirs to know.
      const d = device as DeviceRow | null;
      if (d && d.status === 'PENDING') {
        if (d.expiresAt !== null && d.expiresAt.getTime() <= now()) throw new AuthError('DEVICE_LINK_EXPIRED', 'the link request of this device expired');
        throw new AuthError('DEVICE_PENDING', 'this device is waiting for approval');
      }
      if (d && d.status === 'REVOKED') throw new AuthError('DEVICE_REVOKED', 'this device was revoked');

      // Consumed only now, after the signature verified: a request with a bad signature
      // (or for an unknown user) never burns a challenge.
      await consumeChallenge(store, verified);
      if (d) await store.touchDevice(d.id, new Date(now()));
      const issued = await tokens.issue(user.id, d?.id);
      return { token: issued.token, expiresAt: issued.expiresAt, user, device: d && { ...d, lastSeenAt: new Date(now()) } };
    },

    verifyToken(token) {
      return tokens.verify(token);
    },

    purgeExpiredChallenges() {
      return store.purgeExpiredChallenges(new Date(now()));
    },
  };
}
