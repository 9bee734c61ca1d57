// Public surface of the policy engine: parse -> compile (per connection) -> evaluate (per request).
export { arnFor, arnPrefix, IotAction, type ArnScope, type IotActionName, type IotResourceType } from './arn.js';
export {
  parseConditionOperator,
  type ConditionFamily,
  type ConditionOperator,
  type SetQualifier,
} from './conditions.js';
export {
  checkPolicyDocumentSize,
  parsePolicyDocument,
  parsePolicyDocuments,
  policyDocumentSize,
  POLICY_DOCUMENT_MAX_SIZE,
  type Effect,
  type ParseOptions,
  type PolicyCondition,
  type PolicyDocument,
  type PolicyStatement,
  type PolicyVersion,
} from './document.js';
export { POLICY_ERROR_SUMMARIES, type PolicyError, type PolicyErrorCode, type PolicyResult } from './errors.js';
export {
  compilePolicies,
  CompiledPolicy,
  describeVerdict,
  IMPLICIT_DENY,
  type StatementRef,
  type Verdict,
} from './evaluate.js';
export { GlobPattern, type PatternPiece } from './pattern.js';
export { type PolicyContext } from './variables.js';
export { DEFAULT_VERDICT_CACHE_SIZE, VerdictCache } from './verdict-cache.js';
