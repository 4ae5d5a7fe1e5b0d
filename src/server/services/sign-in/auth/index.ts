/**
 * @module
 * Authentication core: Ed25519 challenge-response login and short-lived access tokens.
 * Protocol: docs/auth.md.
 */
export { AuthError, isAuthError, type AuthErrorCode } from './errors.js';
export {
  AuthPurpose,
  CHALLENGE_BYTES,
  DEFAULT_REALM,
  LOGIN_LABEL,
  PUBLIC_KEY_BYTES,
  REGISTER_LABEL,
  SIGNATURE_BYTES,
  isAuthPurpose,
  lengthPrefixed,
  loginMessage,
  registrationMessage,
  type LoginMessageInput,
  type RegistrationMessageInput,
} from '../../../../crypto/auth-messages.js';
export {
  CHALLENGE_TEXT_LENGTH,
  CHALLENGE_TTL_MS,
  decodeChallenge,
  issueChallenge,
  verifyChallenge,
  type ChallengeBinding,
  type ChallengeKeying,
  type IssuedChallenge,
  type VerifiedChallenge,
} from './challenge.js';
export {
  DEFAULT_TOKEN_TTL_SECONDS,
  TOKEN_ALGORITHM,
  TOKEN_ISSUER,
  TOKEN_TYPE,
  createTokenService,
  type IssuedToken,
  type TokenClaims,
  type TokenConfig,
  type TokenService,
} from './jwt.js';
export { RATE_LIMIT_TABLE, RateLimits, type RateLimitDecision, type RateLimitRule, type RateLimitStore } from '../../../rate-limit.js';
export { USERNAME_PATTERN, parseUsername } from './validate.js';
export {
  DEFAULT_AUTH_LIMITS,
  authLimitRules,
  createAuthService,
  type Allowance,
  type AuthLimitName,
  type AuthLimits,
  type AuthService,
  type AuthServiceOptions,
  type ChallengeResult,
  type LoginResult,
  type RegisterInput,
} from './service.js';
