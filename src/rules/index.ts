// Public surface of the rules engine: compile SQL and templates at rule creation, evaluate per message.
export { type RuleInput, type RuleMqttProperties, type SqlVersion } from './context.js';
export { SQL_ERROR_SUMMARIES, SqlError, type SqlErrorCode } from './errors.js';
export {
  compileRule,
  MAX_SET_VARIABLES,
  MAX_VARIABLE_NAME_LENGTH,
  type CompiledRule,
  type CompileRuleOptions,
  type RuleOutput,
} from './rule.js';
export { compileTemplate, type CompiledTemplate, type CompileTemplateOptions } from './template.js';
