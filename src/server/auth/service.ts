/**
 * @module
 * The authentication service (docs/auth.md): registration with proof of possession of the
 * signing key, stateless login challenges, Ed25519 challenge-response login, short-lived
 * access tokens, and per-client rate limits. Transport-agnostic: the GraphQL layer maps
 * AuthError codes to `extensions.code` and passes the requester's address as `clientKey`.
 */
import type { CryptoBackend } from '../../crypto/backend.js';
import { base64urlEncode } from '../../crypto/base64url.js';
import { concatBytes, equalBytes, utf8Encode, wipe } from '../../crypto/bytes.js';
import { keyIdOf } from '../../crypto/keys.js';
import type { DeviceRow, Store, UserRow } from '../storage/store.js';
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
} from '../../crypto/auth-messages.js';
import { TokenBucketLimiter, type RateLimitRule } from './rate-limit.js';
import { assertAcceptableIdentityKeys, decodeFixedBase64url, parseUsername } from './validate.js';

/** Per-client limits (docs/auth.md §6). Rates are per gateway instance. */
export interface AuthLimits {
  /** `challenge:<client>`: challenges per client address. */
  readonly challenge: RateLimitRule;
  /** `login:<client>`: login attempts per client address, any username. */
  readonly login: RateLimitRule;
  /** `login:<client>:<username>`: login attempts per client address and username. */
  readonly loginPerUser: RateLimitRule;
  /** `register:<client>`: registrations (and USERNAME_TAKEN probes) per client address. */
  readonly register: RateLimitRule;
  /** `device-link:<client>`: device link requests (requestDeviceLink) per client address. */
  readonly deviceLink: RateLimitRule;
  /** `email-lookup:<user>`: `profileByEmail` lookups per signed-in user, found or not. */
  readonly emailLookup: RateLimitRule;
  /** Most buckets each limiter holds (default 10,000). */
  readonly maxKeys?: number;
}

export const DEFAULT_AUTH_LIMITS: AuthLimits = {
  challenge: { capacity: 20, refillPerSecond: 1 / 3 }, // burst 20, then 20 per minute
  login: { capacity: 20, refillPerSecond: 1 / 3 }, // burst 20, then 20 per minute
  loginPerUser: { capacity: 5, refillPerSecond: 1 / 12 }, // burst 5, then 5 per minute
  register: { capacity: 5, refillPerSecond: 1 / 60 }, // burst 5, then 1 per minute
  deviceLink: { capacity: 5, refillPerSecond: 1 / 60 }, // burst 5, then 1 per minute
  emailLookup: { capacity: 10, refillPerSecond: 1 / 6 }, // burst 10, then 10 per minute
};

export interface AuthServiceOptions {
  readonly store: Store;
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
  /** Clock in Unix milliseconds (tests inject one). */
  readonly now?: () => number;
  readonly limits?: Partial<AuthLimits>;
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
  /** The login rate limits (`login:<client>`, then `login:<client>:<username>`); returns the checked username. */
  limitLogin(clientKey: string, username: unknown): string;
  /** The `challenge:<client>` limit (also for deviceLinkStatus and backupParameters). */
  limitChallenge(clientKey: string): void;
  /** The `device-link:<client>` limit (requestDeviceLink). */
  limitDeviceLink(clientKey: string): void;
  /** The `email-lookup:<user>` limit (profileByEmail), keyed by the token's user. */
  limitEmailLookup(userId: string): void;
  /**
   * Verifies a challenge-response as login does, after `limitLogin`: signature shape
   * (BAD_USER_INPUT), the challenge for (realm, username, purpose) (CHALLENGE_INVALID,
   * CHALLENGE_EXPIRED), then the signature against `signer(user)`, or a dummy key when the
   * user or key does not exist (the same work): LOGIN_FAILED. Consumes nothing.
   */
  prove(request: ProofRequest): Promise<Proof>;
  /** Records the challenge as used (in `store`, which may be a transaction): CHALLENGE_REPLAYED when it was. */
  consumeChallenge(store: Store, challenge: VerifiedChallenge): Promise<void>;
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
const REALM_PATTERN = /^[\x21-\x7e]{1,128}$/;
const MAX_CLIENT_KEY_LENGTH = 512;

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

  const limits: AuthLimits = { ...DEFAULT_AUTH_LIMITS, ...options.limits };
  const limiter = (rule: RateLimitRule): TokenBucketLimiter => new TokenBucketLimiter({ ...rule, maxKeys: limits.maxKeys, now });
  const challengeLimiter = limiter(limits.challenge);
  const loginLimiter = limiter(limits.login);
  const loginUserLimiter = limiter(limits.loginPerUser);
  const registerLimiter = limiter(limits.register);
  const deviceLinkLimiter = limiter(limits.deviceLink);
  const emailLookupLimiter = limiter(limits.emailLookup);
  const enforce = (l: TokenBucketLimiter, key: string): void => {
    const d = l.take(key);
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
  const limitLogin = (clientKey: string, username: unknown): string => {
    assertClientKey(clientKey);
    enforce(loginLimiter, `login:${clientKey}`);
    const name = parseUsername(username);
    enforce(loginUserLimiter, `login:${clientKey}:${name}`);
    return name;
  };

  const prove = async (r: ProofRequest): Promise<Proof> => {
    const signature = decodeFixedBase64url(r.signature, SIGNATURE_BYTES, 'signature');
    const verified = verifyChallenge(keying, { realm, username: r.username, purpose: r.purpose }, r.challenge, now());
    const user = await store.findUserByUsername(r.username);
    const key = (await r.signer(user)) ?? (await dummySigningKey());
    const ok = await backend.ed25519Verify(key, r.message(verified.bytes), signature);
    if (!user || !ok) throw loginFailed();
    return { user, challenge: verified };
  };

  const consumeChallenge = async (db: Store, verified: VerifiedChallenge): Promise<void> => {
    // The store's insert is atomic: of two concurrent uses of one challenge exactly one wins.
    const expiresAt = new Date(verified.expiresAt.getTime() + CONSUMED_CHALLENGE_GRACE_MS);
    if (!(await db.consumeChallenge(verified.id, expiresAt))) throw new AuthError('CHALLENGE_REPLAYED', 'challenge already used');
  };

  return {
    realm,
    limitLogin,
    prove,
    consumeChallenge,

    limitChallenge(clientKey) {
      assertClientKey(clientKey);
      enforce(challengeLimiter, `challenge:${clientKey}`);
    },

    limitDeviceLink(clientKey) {
      assertClientKey(clientKey);
      enforce(deviceLinkLimiter, `device-link:${clientKey}`);
    },

    limitEmailLookup(userId) {
      // Per user, not per address: a guessing budget that follows the account wherever it
      // signs in from (and that no other user's lookups can use up).
      enforce(emailLookupLimiter, `email-lookup:${userId}`);
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
        enforce(registerLimiter, `register:${clientKey}`);
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
      enforce(challengeLimiter, `challenge:${clientKey}`);
      const name = parseUsername(username);
      if (!isAuthPurpose(purpose)) throw new AuthError('BAD_USER_INPUT', 'unknown challenge purpose');
      // No database access: known and unknown usernames get the same kind of challenge.
      const issued = issueChallenge(keying, { realm, username: name, purpose }, now(), challengeTtlMs);
      return { challenge: issued.text, expiresAt: issued.expiresAt };
    },

    async login(username, challenge, signatureB64, clientKey, deviceId) {
      const name = limitLogin(clientKey, username);
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
