import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FunctionDirectory, FunctionNameError, functionNameProblem } from '../../src/functions/function-directory.js';
import { FunctionPool } from '../../src/functions/function-pool.js';
import { AuthorizerInvokeError } from '../../src/auth/authorizer.js';

describe('function names', () => {
  for (const name of ['users', 'users-v2', 'Users_2026.01', 'a', '9lives']) {
    test(`${name} is a name`, () => assert.equal(functionNameProblem(name), null));
  }
  for (const value of ['/tmp/evil.js', '../x', 'a/b', 'a\\b', 'users.js', 'x.mjs', '.hidden', '-x', '_x', 'a..b', '..', '', 'a'.repeat(129), 'sp ace', 'nul\0', 'é', 42, null]) {
    test(`${JSON.stringify(value)} is not`, () => assert.notEqual(functionNameProblem(value), null));
  }
});

describe('FunctionDirectory', () => {
  let root: string;
  let dir: FunctionDirectory;

  before(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'sb-fdir-')));
    mkdirSync(join(root, 'functions'));
    mkdirSync(join(root, 'elsewhere'));
    writeFileSync(join(root, 'functions', 'plain.js'), '');
    writeFileSync(join(root, 'functions', 'both.mjs'), '');
    writeFileSync(join(root, 'functions', 'both.cjs'), '');
    writeFileSync(join(root, 'functions', 'common.cjs'), '');
    mkdirSync(join(root, 'functions', 'folder.js'));
    writeFileSync(join(root, 'functions', 'target.js'), '');
    symlinkSync(join(root, 'functions', 'target.js'), join(root, 'functions', 'inside.js'));
    writeFileSync(join(root, 'elsewhere', 'evil.js'), '');
    symlinkSync(join(root, 'elsewhere', 'evil.js'), join(root, 'functions', 'escape.js'));
    // Relative to the config's directory.
    dir = new FunctionDirectory('./functions', root);
  });

  after(() => rmSync(root, { recursive: true, force: true }));

  test('a name resolves to <dir>/<name>.js, then .mjs, then .cjs', () => {
    assert.equal(dir.resolve('plain'), join(root, 'functions', 'plain.js'));
    assert.equal(dir.resolve('both'), join(root, 'functions', 'both.mjs'));
    assert.equal(dir.resolve('common'), join(root, 'functions', 'common.cjs'));
  });

  test('a link that stays inside the directory is followed', () => {
    assert.equal(dir.resolve('inside'), join(root, 'functions', 'target.js'));
  });

  test('a link leading out of the directory is refused', () => {
    assert.throws(() => dir.resolve('escape'), (err: unknown) => err instanceof FunctionNameError && /outside the functions directory/.test(err.message));
  });

  test('paths, missing functions and directories are refused', () => {
    for (const value of ['../elsewhere/evil', '/etc/passwd', 'missing', 'folder', 'plain.js']) {
      assert.throws(() => dir.resolve(value), FunctionNameError, value);
    }
  });

  test('a missing functions directory is a clear error', () => {
    assert.throws(() => new FunctionDirectory('nope', root).resolve('plain'), /functions directory .* does not exist/);
  });
});

describe('FunctionPool runs names from functions.dir and only the paths the config names', () => {
  let root: string;
  let pool: FunctionPool;
  const event = { token: 't', signatureVerified: false, protocols: ['mqtt'], protocolData: {}, connectionMetadata: { id: 'c' } } as never;

  before(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'sb-fpool-')));
    mkdirSync(join(root, 'functions'));
    const body = (who: string) => `exports.handler = async () => ({ who: ${JSON.stringify(who)} });`;
    writeFileSync(join(root, 'functions', 'named.js'), body('named'));
    writeFileSync(join(root, 'configured.js'), body('configured'));
    writeFileSync(join(root, 'stray.js'), body('stray'));
    pool = new FunctionPool({ size: 1, functions: new FunctionDirectory('functions', root), allowedPaths: new Set([join(root, 'configured.js')]) });
  });

  after(async () => {
    await pool.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('a name runs the module in functions.dir', async () => {
    assert.deepEqual(await pool.invoke('named', event, 5000), { who: 'named' });
  });

  test('a path the config names runs', async () => {
    assert.deepEqual(await pool.invoke(join(root, 'configured.js'), event, 5000), { who: 'configured' });
  });

  test('any other path (a record an older version stored from the API) is refused, not run', async () => {
    await assert.rejects(pool.invoke(join(root, 'stray.js'), event, 5000), (err: unknown) => err instanceof AuthorizerInvokeError && err.code === 'LOAD_ERROR' && /not named by the config file/.test(err.message));
  });
});
