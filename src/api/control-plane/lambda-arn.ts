// A Lambda function ARN, as the AWS IoT control plane names functions (an authorizer's
// authorizerFunctionArn, a rule's lambda action), names a function in Switchboard's functions
// directory by its function name:
//   arn:aws:lambda:us-east-1:123456789012:function:MyAuthorizer        -> MyAuthorizer
//   arn:aws:lambda:eu-west-1:210987654321:function:MyAuthorizer:prod   -> MyAuthorizer (qualifier ignored)
//   MyAuthorizer, arn:aws:lambda:us-east-1:1:function:x, arn:aws:iot:...  -> refused
// Region, account and qualifier select nothing here (there is one copy of each function); the
// ARN Switchboard reports back is built from auth.region and auth.accountId.
import { basename } from 'node:path';
import { FunctionNameError, isFunctionName, type FunctionDirectory } from '../../functions/function-directory.js';
import type { ArnScope } from '../../policy/index.js';
import { badRequest } from '../errors.js';

// AWS: function names are 1-64 letters, digits, '-' and '_'; a qualifier is a version or alias.
const LAMBDA_ARN = /^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):lambda:([a-z0-9-]+):(\d{12}):function:([A-Za-z0-9_-]{1,64})(?::([A-Za-z0-9$_-]{1,128}))?$/;

/**
 * The function an ARN names, checked to exist in functions.dir; a 400 naming `field`, the ARN
 * and the function otherwise.
 */
export function functionNameOf(arn: unknown, field: string, functions: FunctionDirectory): string {
  if (typeof arn !== 'string') throw badRequest(`${field} is required: a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)`);
  const m = LAMBDA_ARN.exec(arn);
  if (m === null) throw badRequest(`${field} must be a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME), not ${JSON.stringify(arn.slice(0, 200))}`);
  const name = m[4]!;
  try {
    functions.resolve(name);
  } catch (err) {
    if (err instanceof FunctionNameError) throw badRequest(`${field} ${arn} names function ${name}, which Switchboard cannot run: ${err.message}`);
    throw err;
  }
  return name;
}

/**
 * The ARN Switchboard reports for a handler: a function name as is; a module path from the
 * config file by its file name without extension.
 */
export function functionArnOf(handler: string, scope: ArnScope): string {
  const name = isFunctionName(handler) ? handler : basename(handler).replace(/\.(?:js|mjs|cjs)$/i, '');
  return `arn:${scope.partition ?? 'aws'}:lambda:${scope.region}:${scope.accountId}:function:${name}`;
}
